"""`h2chain run SCENARIO`: one run, the end-of-run summary, the monthly CSV."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

DEFAULT_MONTHS = 60


def register(sub) -> None:
    p = sub.add_parser("run", help="run one scenario once and print the end-of-run summary",
                       description="Run one scenario once; print the summary KPIs; write the monthly KPIs as CSV.")
    p.add_argument("scenario", help="a shipped scenario name (see `h2chain scenarios`) or a path to a TOML file")
    p.add_argument("--months", type=int, default=DEFAULT_MONTHS, help=f"months to simulate (default {DEFAULT_MONTHS})")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (TOML value syntax), e.g. --set fund_coverage=0.4; repeatable")
    p.add_argument("--stress", action="append", default=None, metavar="NAME",
                   help="overlay a stress scenario's [stress] table, e.g. leader_late_payment (repeatable)")
    p.add_argument("--csv", type=Path, default=None,
                   help="write the monthly KPIs here, and beside it FILE.json: seed, parameters, code version "
                        "(default: no file)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from experiments import scenario_io
    from experiments.cli import check_output_file
    from experiments.errors import UserError
    from experiments.files import write_together
    from experiments.runner import run
    from model.reporters import describe

    if args.months < 1:
        raise UserError(f"--months: {args.months} is not allowed; use 1 or more")
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.csv is not None:
        check_output_file(args.csv, "--csv", _provenance_path(args.csv))  # before the run, not after it
    # as `show`, `compare` and `sweep` resolve it: the stress overlay first, then --set, so a
    # --set of a stress parameter wins and errors name --set and the command line
    overrides = scenario_io.parse_set(args.sets)
    stress = scenario_io.stress_value(args.stress)
    params = scenario_io.load(args.scenario, overrides, stress)
    note = scenario_io.plan_scale_note(overrides, params)
    if note:
        print(note, file=sys.stderr)
    result = run(params, args.seed, args.months)
    if args.csv is not None:
        provenance = {"scenario": args.scenario, "stress": stress, "set": scenario_io.plain_overrides(overrides),
                      **result.provenance, "params": params.canonical()}
        write_together({args.csv: lambda f: result.monthly.to_csv(f, index=False),
                         _provenance_path(args.csv): lambda f: json.dump(provenance, f, ensure_ascii=False, indent=2)})
    if args.json:
        print(json.dumps({"summary": result.summary, "provenance": result.provenance}, ensure_ascii=False, indent=2))
        return 0
    print(f"scenario {args.scenario}  seed {args.seed}  months {args.months}  params {params.stable_hash()}")
    width = max(len(k) for k in result.summary)
    for key, value in result.summary.items():
        shown = "—" if value is None or (isinstance(value, float) and math.isnan(value)) else (
            f"{value:,.4g}" if isinstance(value, float) else f"{value:,}")
        print(f"  {key:<{width}}  {shown:>14}  {describe(key)}")
    if args.csv is not None:
        print(f"monthly KPIs: {args.csv}")
    return 0


def _provenance_path(csv: Path) -> Path:
    return csv.with_name(csv.name + ".json")
