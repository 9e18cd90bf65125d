"""`h2chain compare`, `h2chain sweep`, `h2chain report`: batches over the results store.

Every command validates all of its input (scenarios, --set, --param ranges, options)
before it creates or touches the experiment directory, so a user mistake exits with
status 2, one line, and no half-written results. Re-running a command with the same
--out resumes it: finished runs are skipped, failed runs retried with --retry-failed.
Raising --reps later extends an experiment (replication k keeps its seed).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from experiments.errors import UserError
from experiments.files import write_frame_csv

log = logging.getLogger(__name__)

MAIN_JOB = ("baseline", "tech_credit", "insurance_loan", "order_credit", "order_insurance_credit",
            "north_china_hydrogen_capital")
# The README's main job (`h2chain compare` with no scenarios) must finish in about two
# minutes on 2 cores: these are its replications and months.
MAIN_JOB_REPS = 8
MAIN_JOB_MONTHS = 36
DEFAULT_REPS = 30
DEFAULT_MONTHS = 60
DEFAULT_SEED = 20260601
SWEEP_REPS = 3


# ---------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------


def _batch_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("batch")
    g.add_argument("--reps", type=int, default=None,
                   help=f"replications per scenario or design point (compare: {DEFAULT_REPS}, main job "
                        f"{MAIN_JOB_REPS}; sweep: {SWEEP_REPS})")
    g.add_argument("--months", type=int, default=None,
                   help=f"months to simulate ({DEFAULT_MONTHS}; main job {MAIN_JOB_MONTHS})")
    g.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"master seed; replication k gets the k-th SeedSequence child (default {DEFAULT_SEED})")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter in every run (TOML value), repeatable")
    g.add_argument("--stress", action="append", default=None, metavar="NAME",
                   help="apply a stress scenario to every run (repeatable: overlays in order)")
    g.add_argument("--out", default=None, metavar="DIR",
                   help="experiment directory (results.sqlite, tables, figures); the same DIR resumes")
    x = p.add_argument_group("execution")
    x.add_argument("--jobs", type=int, default=None, help="local worker processes (default: all cores)")
    x.add_argument("--executor", choices=("local", "dask"), default="local", help="where runs execute")
    x.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="Dask scheduler address")
    x.add_argument("--retry-failed", action="store_true", help="re-run runs stored as failed")
    x.add_argument("--quiet", action="store_true", help="no progress bar and no printed table")
    o = p.add_argument_group("output")
    o.add_argument("--export", choices=("csv", "parquet"), default=None, help="also export runs and monthly tables")
    o.add_argument("--lang", choices=("en", "zh"), default="en", help="language of figure labels")
    o.add_argument("--no-figures", action="store_true", help="tables only")


def register(subparsers) -> None:
    c = subparsers.add_parser(
        "compare", help="paired batch over scenarios: means, 95%% CIs, differences to a baseline",
        description="Run each scenario --reps times with common random numbers (replication k uses the "
                    "same seed in every scenario) and report each KPI's mean and 95% CI and the paired "
                    "difference to the baseline. With no scenarios: the main job ("
                    + ", ".join(MAIN_JOB) + f") with {MAIN_JOB_REPS} replications of {MAIN_JOB_MONTHS} months "
                    f"(about half a minute on 2 idle cores). Exit status 1 if any run failed.")
    c.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names (default: the main job)")
    c.add_argument("--baseline", default=None, metavar="S", help="the scenario differences are taken to "
                   "(default: 'baseline' if listed, else the first)")
    _batch_options(c)
    c.set_defaults(func=cmd_compare)

    s = subparsers.add_parser(
        "sweep", help="parameter sweep or sensitivity design (grid, lhs, sobol, morris)",
        description="Vary parameters of one scenario over a design and report KPIs per design point; "
                    "lhs/sobol/morris samples and sensitivity indices come from SALib.")
    s.add_argument("scenario", metavar="SCENARIO", help="the scenario whose parameters are varied")
    s.add_argument("--param", action="append", default=[], required=True, metavar="KEY=LO:HI[:N]",
                   help="a swept parameter and its range; N points for the grid design (repeatable)")
    s.add_argument("--design", choices=("grid", "lhs", "sobol", "morris"), default="grid",
                   help="grid: every combination (default); lhs: Latin hypercube + RBD-FAST indices; "
                        "sobol: Saltelli/Sobol sample + Sobol indices; morris: elementary effects")
    s.add_argument("--n", type=int, default=16,
                   help="SALib base sample size (lhs: points; sobol: N(D+2) points; morris: trajectories)")
    _batch_options(s)
    s.set_defaults(func=cmd_sweep)

    r = subparsers.add_parser("report", help="rebuild tables and figures of a stored experiment",
                              description="Read DIR/results.sqlite and rebuild the tables and figures.")
    r.add_argument("dir", metavar="DIR", help="an experiment directory written by compare or sweep")
    r.add_argument("--export", choices=("csv", "parquet"), default=None, help="also export runs and monthly tables")
    r.add_argument("--lang", choices=("en", "zh"), default="en", help="language of figure labels")
    r.add_argument("--quiet", action="store_true", help="print nothing")
    r.add_argument("--no-figures", action="store_true", help="tables only")
    r.set_defaults(func=cmd_report)


# ---------------------------------------------------------------------------------------
# Validation helpers (no side effects)
# ---------------------------------------------------------------------------------------


def _check_execution(args) -> None:
    if args.reps is not None and args.reps < 1:
        raise UserError(f"--reps must be at least 1, got {args.reps}")
    if args.months is not None and args.months < 1:
        raise UserError(f"--months must be at least 1, got {args.months}")
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.executor == "dask" and not args.scheduler:
        raise UserError("--executor dask needs --scheduler tcp://HOST:PORT")
    if args.scheduler and args.executor != "dask":
        raise UserError("--scheduler is only used with --executor dask")
    _check_outputs(args)
    if args.executor == "dask":
        _check_scheduler(args.scheduler)


def _check_outputs(args) -> None:
    """What the outputs need, before anything runs or is written."""
    if args.lang == "zh" and not args.no_figures:
        from experiments.fonts import FontMissing, cjk_font

        try:
            cjk_font()
        except FontMissing as exc:
            raise UserError(str(exc)) from None
    if args.export == "parquet":
        try:
            importlib.import_module("pyarrow")  # what pandas writes parquet with
        except ImportError:
            raise UserError("--export parquet needs pyarrow: pip install 'h2chain[parquet]' (or use --export csv)") from None


SCHEDULER_TIMEOUT_S = 10


def _check_scheduler(address: str) -> None:
    """Reach the Dask scheduler before the experiment directory is made: a wrong address is
    a user mistake, not a traceback after a 30-60 s wait."""
    from distributed import Client
    from distributed.comm import parse_address, parse_host_port

    try:  # a malformed address is told as such, not as a timeout after a wait
        parse_host_port(parse_address(address)[1])
    except ValueError as exc:
        raise UserError(f"--scheduler {address}: not an address ({exc}); expected tcp://HOST:PORT") from None
    try:
        Client(address, timeout=SCHEDULER_TIMEOUT_S, set_as_default=False).close()
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise UserError(f"--scheduler {address}: no Dask scheduler answered within {SCHEDULER_TIMEOUT_S} s "
                        f"({type(exc).__name__}); start one with `dask scheduler` or check the address") from None


def _default_out(kind: str, definition: dict) -> Path:
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return Path("results") / f"{kind}-{digest}"


def _open_store(out: Path, definition: dict[str, Any], master_seed: int, reps: int):
    """Open (or create) the store; refuse a directory holding a different experiment."""
    from experiments import scenario_io
    from experiments.runner import code_version, git_commit, package_versions
    from experiments.store import ResultsStore, now_iso

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the directory ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise UserError(f"--out {out} is not writable")
    if ResultsStore.exists(out):
        store = ResultsStore(out, create=False)
        stored = store.manifest().get("experiment")
        if stored is not None and isinstance(stored.get("set"), dict):  # stored before keys had one spelling
            stored = {**stored, "set": scenario_io.plain_overrides(stored["set"])}
        if stored is not None and stored != definition:
            store.close()
            changed = sorted(k for k in set(stored) | set(definition) if stored.get(k) != definition.get(k))
            raise UserError(f"{out} holds a different experiment (differs in {', '.join(changed)}); "
                            f"use another --out")
    else:
        store = ResultsStore(out)
    command = shlex.join(["h2chain", *sys.argv[1:]])
    store.set_manifest({
        "experiment": definition, "command_line": command, "code_version": code_version(),
        "git_commit": git_commit(), "packages": package_versions(), "started_at": now_iso(),
        "master_seed": master_seed, "python": sys.version.split()[0],
    })
    store.set_manifest({"reps": max(reps, int(store.manifest().get("reps", 0) or 0))}, overwrite=True)
    store.log_invocation(command, code_version(), git_commit(), package_versions())
    return store


def _titles(labels, lang: str) -> dict[str, str]:
    from experiments.scenario_io import title

    return {lb: title(lb, lang) for lb in labels}


# ---------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------


def plan_compare(args) -> dict[str, Any]:
    """Everything `compare` will do, validated; no files touched."""
    from experiments import scenario_io
    from experiments.execute import RunSpec
    from experiments.runner import code_version, replication_seeds
    from model.params import ParameterError

    _check_execution(args)
    main_job = not args.scenarios
    labels = list(MAIN_JOB if main_job else args.scenarios)
    if len(set(labels)) != len(labels):
        raise UserError("a scenario is listed twice")
    baseline = args.baseline or ("baseline" if "baseline" in labels else labels[0])
    if baseline not in labels:
        labels.insert(0, baseline)
    reps = args.reps if args.reps is not None else (MAIN_JOB_REPS if main_job else DEFAULT_REPS)
    months = args.months if args.months is not None else (MAIN_JOB_MONTHS if main_job else DEFAULT_MONTHS)
    overrides = scenario_io.parse_set(args.set)
    stress = scenario_io.stress_value(args.stress)
    params = {}
    for lb in labels:
        try:
            params[lb] = scenario_io.load(lb, overrides, stress)
        except ParameterError as exc:  # a --baseline not among the scenarios: name the option
            if lb == args.baseline and lb not in args.scenarios and exc.key == "scenario":
                raise ParameterError("--baseline", exc.problem, exc.where) from None
            raise
    note = scenario_io.plan_scale_note(overrides, params[baseline])
    if note and not args.quiet:
        print(note, file=sys.stderr)
    seeds = replication_seeds(args.seed, reps)
    cv = code_version()
    specs = [RunSpec.make(lb, params[lb], seed, k, months, cv) for lb in labels for k, seed in enumerate(seeds)]
    definition = {"kind": "compare", "scenarios": labels, "months": months, "stress": stress,
                  "set": scenario_io.plain_overrides(overrides), "master_seed": args.seed}
    out = Path(args.out) if args.out else _default_out("compare", definition)
    return {"labels": labels, "baseline": baseline, "reps": reps, "months": months, "specs": specs,
            "definition": definition, "out": out, "seeds": seeds}


def cmd_compare(args) -> int:
    plan = plan_compare(args)
    return _execute_plan(
        args, plan, "compare",
        record=lambda store: store.set_manifest({"baseline": plan["baseline"]}, overwrite=True),
        build=lambda store, run_ids: build_compare_outputs(store, plan["labels"], plan["baseline"], run_ids,
                                                           lang=args.lang, quiet=args.quiet,
                                                           figures=not args.no_figures))


def _execute_plan(args, plan: dict[str, Any], desc: str, *, record, build) -> int:
    """Open the plan's store, `record` what the batch is, run what is not stored yet,
    `build` the outputs from the plan's runs, export on request; the exit code."""
    from experiments.execute import execute

    store = _open_store(plan["out"], plan["definition"], args.seed, plan["reps"])
    run_ids = [s.run_id for s in plan["specs"]]
    try:
        record(store)
        # before running, so that `report` rebuilds these tables, and knows what an
        # interrupted batch left undone, rather than pooling every run ever stored here
        store.set_manifest({"plan_run_ids": run_ids}, overwrite=True)
        outcome = execute(plan["specs"], store, jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
                          quiet=args.quiet, retry_failed=args.retry_failed, desc=desc)
        build(store, run_ids)
        if args.export:
            store.export(args.export)
        return _finish(outcome, plan["out"], args.quiet)
    finally:
        store.close()


def build_compare_outputs(store, labels, baseline, run_ids=None, *, lang="en", quiet=False, figures=True) -> dict:
    from experiments import analysis

    runs = store.runs_frame(run_ids=run_ids)
    summary, diffs = analysis.compare_tables(runs, labels, baseline)
    costs = analysis.cost_effectiveness(runs, labels, baseline, store.param_values("n_smes", run_ids))
    out = store.directory
    write_frame_csv(summary, out / "compare_summary.csv")
    write_frame_csv(diffs, out / "compare_paired.csv")
    if not costs.empty:
        write_frame_csv(costs, out / "compare_cost_effectiveness.csv")
    kpis = list(dict.fromkeys(summary["kpi"])) if not summary.empty else []
    if not quiet and kpis:
        print(analysis.format_compare(summary, diffs, analysis.headline(kpis), labels, baseline))
        if not costs.empty:
            print(analysis.format_costs(costs))
        print(f"(all {len(kpis)} outputs: {out / 'compare_summary.csv'} and {out / 'compare_paired.csv'})")
    paths = []
    if figures and kpis:
        from experiments import figures as fig

        fig.setup(lang)
        titles = fig.titles_from(_titles(labels, lang))
        head = analysis.headline(kpis)
        paths += fig.comparison_bars(summary, head, labels, out / "figures", lang=lang, title_of=titles)
        if not diffs.empty:
            paths += fig.forest(diffs, head, labels, baseline, out / "figures", lang=lang, title_of=titles)
        ok_ids = runs.loc[runs["status"] == "ok", "run_id"].tolist()
        monthly = store.monthly_frame(kpis=analysis.FAN_KPIS, run_ids=ok_ids)
        if not monthly.empty:
            paths += fig.fan_charts(monthly, analysis.FAN_KPIS, labels, out / "figures", lang=lang, title_of=titles)
    return {"summary": summary, "diffs": diffs, "costs": costs, "figures": paths}


# ---------------------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------------------


def plan_sweep(args) -> dict[str, Any]:
    from experiments import scenario_io
    from experiments.design import build_design, parse_param, scalar_name
    from experiments.execute import RunSpec
    from experiments.runner import code_version, replication_seeds
    from model.params import ParameterError

    _check_execution(args)
    ranges = [parse_param(p) for p in args.param]
    if args.design != "grid" and args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    overrides = scenario_io.parse_set(args.set)
    both = sorted(k for k in overrides if scalar_name(k) in {r.key for r in ranges})
    if both:
        raise UserError(f"{both[0]} is both swept (--param) and fixed (--set)")
    stress = scenario_io.stress_value(args.stress)
    base = scenario_io.load(args.scenario, overrides, stress)
    swept = {r.key for r in ranges}
    note = scenario_io.plan_scale_note([*overrides, *swept], base, swept="n_smes" in swept)
    if note and not args.quiet:
        print(note, file=sys.stderr)
    points = build_design(ranges, args.design, args.n, args.seed)
    params = []
    for point in points:
        try:
            params.append(base.replace(**point))
        except ParameterError as exc:
            raise ParameterError(exc.key, exc.problem, "--param") from None
    reps = args.reps if args.reps is not None else SWEEP_REPS
    months = args.months if args.months is not None else DEFAULT_MONTHS
    seeds = replication_seeds(args.seed, reps)
    cv = code_version()
    specs = [RunSpec.make(args.scenario, p, seed, k, months, cv, point=i)
             for i, p in enumerate(params) for k, seed in enumerate(seeds)]
    definition = {"kind": "sweep", "scenario": args.scenario, "design": args.design,
                  "params": [[r.key, r.lo, r.hi, r.n] for r in ranges],
                  "n": args.n if args.design != "grid" else None, "months": months, "stress": stress,
                  "set": scenario_io.plain_overrides(overrides), "master_seed": args.seed}
    out = Path(args.out) if args.out else _default_out("sweep", definition)
    return {"ranges": ranges, "points": points, "specs": specs, "reps": reps, "months": months,
            "definition": definition, "out": out}


def cmd_sweep(args) -> int:
    plan = plan_sweep(args)
    return _execute_plan(
        args, plan, "sweep",
        record=lambda store: store.set_design(
            (i, k, float(v)) for i, pt in enumerate(plan["points"]) for k, v in pt.items()),
        build=lambda store, run_ids: build_sweep_outputs(store, plan["definition"], run_ids, lang=args.lang,
                                                         quiet=args.quiet, figures=not args.no_figures))


def build_sweep_outputs(store, definition, run_ids=None, *, lang="en", quiet=False, figures=True) -> dict:
    import pandas as pd

    from experiments import analysis
    from experiments.design import ParamRange, sensitivity

    out = store.directory
    runs = store.runs_frame(run_ids=run_ids)
    design = store.design_frame()
    points = analysis.sweep_points(runs, design)
    ranges = [ParamRange.of(k, lo, hi, n) for k, lo, hi, n in definition["params"]]
    for r in ranges:  # the store holds design values as REAL: show integers as integers (91, not 91.0)
        if r.integer and r.key in points:
            points[r.key] = points[r.key].round().astype("Int64")
    write_frame_csv(points, out / "sweep_points.csv")
    kpis = list(dict.fromkeys(points["kpi"])) if not points.empty else []
    keys = [r.key for r in ranges]
    n_points = int(design["point"].max()) + 1 if not design.empty else 0
    pts = [{k: v for k, v in grp[["key", "value"]].itertuples(index=False)}
           for _, grp in design.groupby("point", sort=True)] if not design.empty else []
    sens_rows = []
    for kpi in kpis:
        rows = sensitivity(definition["design"], ranges, pts, analysis.point_means(points, kpi, n_points),
                           seed=definition["master_seed"])
        for r in rows or []:
            sens_rows.append({"kpi": kpi, **r})
    sens = pd.DataFrame(sens_rows)
    if not sens.empty:
        write_frame_csv(sens, out / "sensitivity.csv")
    without = [k for k in kpis if sens.empty or k not in set(sens["kpi"])]
    if without and definition["design"] != "grid" and not quiet:
        # say so rather than leave them out of sensitivity.csv without a word
        print(f"h2chain: no sensitivity indices for {', '.join(without)}: a design point has no value (a failed "
              f"point, or a KPI undefined there, e.g. fiscal_leverage without fiscal money), or an lhs design "
              f"has fewer than 16 points", file=sys.stderr)
    if not quiet and kpis:
        head = analysis.headline(kpis)
        show = points[points["kpi"].isin(head)]
        print(show.pivot_table(index=["point", *keys], columns="kpi", values="mean").to_string(float_format="%.4g"))
        if not sens.empty:
            print()
            print(sens[sens["kpi"].isin(head)].to_string(index=False, float_format="%.3g"))
    paths = []
    if figures and kpis:
        from experiments import figures as fig

        fig.setup(lang)
        head = analysis.headline(kpis)
        if len(keys) == 1:
            paths += fig.sweep_lines(points, keys[0], head, out / "figures", lang=lang)
        elif len(keys) == 2 and definition["design"] == "grid":
            for kpi in head:
                paths += fig.sweep_heatmap(points, keys[0], keys[1], kpi, out / "figures", lang=lang)
        if not sens.empty:
            paths += fig.sensitivity_bars(sens, head, out / "figures", lang=lang)
    return {"points": points, "sensitivity": sens, "figures": paths}


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------


def cmd_report(args) -> int:
    from experiments.store import ResultsStore

    out = Path(args.dir)
    if not ResultsStore.exists(out):
        raise UserError(f"{out} holds no results.sqlite")
    _check_outputs(args)
    store = ResultsStore(out, read_only=True)  # report reads; it never writes into the store
    try:
        manifest = store.manifest()
        definition = manifest.get("experiment")
        if not definition:
            raise UserError(f"{out}/results.sqlite has no experiment manifest")
        # the runs of the last compare/sweep invocation (stores made before this was recorded:
        # every run stored)
        run_ids = manifest.get("plan_run_ids")
        if definition["kind"] == "compare":
            build_compare_outputs(store, definition["scenarios"], manifest.get("baseline", definition["scenarios"][0]),
                                  run_ids, lang=args.lang, quiet=args.quiet, figures=not args.no_figures)
        else:
            build_sweep_outputs(store, definition, run_ids, lang=args.lang, quiet=args.quiet,
                                figures=not args.no_figures)
        if args.export:
            store.export(args.export)
        if run_ids is None:
            status = store.counts()
            ok, failed, missing = status.get("ok", 0), status.get("failed", 0), 0
        else:
            stored = store.status_of(set(run_ids))
            ok = sum(v == "ok" for v in stored.values())
            failed = len(stored) - ok
            missing = len(set(run_ids)) - len(stored)
    finally:
        store.close()
    if not args.quiet:
        print(f"{out}: {ok} ok, {failed} failed" + (f", {missing} not run yet" if missing else "") + " runs")
    if missing or failed:
        print(f"h2chain: the tables leave out {failed} failed and {missing} missing run(s) of the last invocation; "
              f"re-run its command to finish (with --retry-failed for the failed ones)", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------------------


def _finish(outcome, out: Path, quiet: bool) -> int:
    if not quiet:
        print(f"{out}: {outcome.ok} runs done, {outcome.skipped} already stored, {outcome.failed} failed "
              f"({outcome.wall_s:.1f} s)")
    if outcome.failed:
        print(f"h2chain: {outcome.failed} run(s) failed (first: {outcome.errors[0]}); tracebacks are in "
              f"{out}/results.sqlite (runs.error); re-run with --retry-failed", file=sys.stderr)
        return 1
    if outcome.stored_failed:
        # failed in an earlier invocation: the tables above leave them out, so say so
        print(f"h2chain: {outcome.stored_failed} run(s) of this batch are stored as failed from an earlier "
              f"invocation and were not re-run (tracebacks in {out}/results.sqlite, runs.error); "
              f"re-run with --retry-failed", file=sys.stderr)
        return 1
    return 0

