"""The experiments layer without the model: CI arithmetic, seeds, store, executor, resume.

The run function here is a fast test double (tests/exp_fakes.py); the shipped code calls
the real model, which tests/test_experiments.py exercises.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import analysis
from experiments.execute import RunSpec, execute, pending_specs
from experiments.runner import code_version, replication_seeds
from experiments.stats import mean_ci, paired_ci
from experiments.store import ResultsStore
from exp_fakes import crashing_run, fake_run, flaky_run
from model.params import ModelParams


# -- CI arithmetic ---------------------------------------------------------------------


def test_paired_ci_matches_hand_computation():
    # x - y = [1, 2, 3, 4, 5]: mean 3, sd sqrt(2.5) = 1.58114, se = 0.70711,
    # t(0.975, 4) = 2.776445 -> half width 1.963243 -> [1.036757, 4.963243]
    x = [11.0, 12.0, 13.0, 14.0, 15.0]
    y = [10.0, 10.0, 10.0, 10.0, 10.0]
    ci = paired_ci(x, y)
    assert ci.n == 5
    assert ci.mean == pytest.approx(3.0)
    assert ci.sd == pytest.approx(math.sqrt(2.5))
    assert ci.lo == pytest.approx(3.0 - 2.776445 * math.sqrt(2.5) / math.sqrt(5), abs=1e-6)
    assert ci.lo == pytest.approx(1.036757, abs=1e-6)
    assert ci.hi == pytest.approx(4.963243, abs=1e-6)


def test_paired_ci_is_narrower_than_unpaired_when_noise_is_shared():
    rng = np.random.default_rng(0)
    common = rng.normal(0, 10, 30)
    x = common + 1.0 + rng.normal(0, 0.1, 30)
    y = common + rng.normal(0, 0.1, 30)
    paired = paired_ci(x.tolist(), y.tolist())
    assert paired.lo > 0.5 and paired.hi < 1.5
    assert paired.half_width < mean_ci(x.tolist()).half_width / 10


def test_ci_drops_missing_and_handles_tiny_samples():
    assert paired_ci([1.0, None, 3.0], [0.0, 1.0, None]).n == 1
    one = mean_ci([2.0])
    assert one.mean == 2.0 and math.isnan(one.lo)
    assert mean_ci([]).n == 0 and math.isnan(mean_ci([None]).mean)
    # two values: t(0.975, 1) = 12.7062, sd = 0.7071, se = 0.5
    two = mean_ci([1.0, 2.0])
    assert two.hi - two.mean == pytest.approx(12.7062 * 0.5, abs=1e-3)


# -- seeds -----------------------------------------------------------------------------


def test_replication_seeds_are_stable_and_extend():
    a = replication_seeds(42, 5)
    assert a == replication_seeds(42, 5)
    assert replication_seeds(42, 8)[:5] == a  # raising --reps keeps earlier replications
    assert len(set(a)) == 5 and all(0 <= s < 2**63 for s in a)
    assert replication_seeds(43, 5) != a


# -- code version ----------------------------------------------------------------------
# The code version is part of every run id, so resume skips exactly the runs made by the
# same result-bearing code. These tests copy the shipped experiments/runner.py into a
# scratch git repository (or a plain directory) and load it from there, so they look at the
# copy's tree, never at the state of this checkout, and leave nothing behind.

RUNNER_SRC = Path(__file__).resolve().parent.parent / "experiments" / "runner.py"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable")


@pytest.fixture
def git_env(tmp_path, monkeypatch):
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no user or system git config
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never find a repo above
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "t")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "t@example.invalid")


def _source_tree(root: Path) -> Path:
    """A minimal h2chain-shaped tree: the real runner.py, a model module, docs."""
    (root / "experiments").mkdir(parents=True)
    (root / "model").mkdir()
    shutil.copy(RUNNER_SRC, root / "experiments" / "runner.py")
    (root / "experiments" / "__init__.py").write_text("")
    (root / "model" / "__init__.py").write_text("")
    (root / "model" / "model.py").write_text("RATE = 0.05\n")
    (root / "README.md").write_text("# h2chain\n")
    (root / "pyproject.toml").write_text('[project]\nname = "h2chain"\nversion = "0.1.0"\n')
    return root


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def _commit(root: Path, message: str) -> str:
    """Commit everything in the tree; returns the commit."""
    _git(root, "add", "-A")
    _git(root, "-c", "commit.gpgsign=false", "commit", "-q", "-m", message)
    return _git(root, "rev-parse", "HEAD")


def _commit_all(root: Path) -> str:
    _git(root, "init", "-q")
    return _commit(root, "init")


def _committed_tree(tmp_path: Path, monkeypatch):
    """(a committed h2chain-shaped tree, its code_version()), for the code-version tests."""
    root = _source_tree(tmp_path / "repo")
    _commit_all(root)
    return root, _runner_from(root, monkeypatch)


def _runner_from(root: Path, monkeypatch):
    """Import root/experiments/runner.py as its own module; returns a code_version() that
    recomputes each time (the module caches it per process)."""
    name = f"_runner_copy_{abs(hash(str(root)))}"
    spec = importlib.util.spec_from_file_location(name, root / "experiments" / "runner.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, mod)
    spec.loader.exec_module(mod)

    def version() -> str:
        for obj in vars(mod).values():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()
        return mod.code_version()

    return version


@needs_git
def test_code_version_ignores_edits_that_cannot_change_results(tmp_path, git_env, monkeypatch):
    root, version = _committed_tree(tmp_path, monkeypatch)
    clean = version()
    assert _git(root, "rev-parse", "HEAD") not in clean  # the content names the code, not the commit
    (root / "README.md").write_text("# h2chain\n\nA new paragraph.\n")
    (root / "pyproject.toml").write_text('[project]\nname = "h2chain"\nversion = "0.1.0"\n# lint\n')
    (root / "docs").mkdir()
    (root / "docs" / "notes.py").write_text("x = 1\n")  # outside the result packages
    (root / "model" / "NOTES.md").write_text("not code\n")
    assert version() == clean
    # committing them changes nothing either: a docs commit must not re-run a stored sweep
    _commit(root, "docs")
    assert version() == clean
    # a committed model edit does
    (root / "model" / "model.py").write_text("RATE = 0.06\n")
    _commit(root, "model")
    assert version() != clean


@needs_git
def test_code_version_tells_different_model_edits_apart_and_revert_restores_it(tmp_path, git_env, monkeypatch):
    root, version = _committed_tree(tmp_path, monkeypatch)
    clean = version()
    model = root / "model" / "model.py"
    model.write_text("RATE = 0.06\n")
    first = version()
    model.write_text("RATE = 0.07\n")
    second = version()
    assert len({clean, first, second}) == 3
    _git(root, "add", "model/model.py")  # staging does not change what the code is
    assert version() == second
    model.write_text("RATE = 0.06\n")
    assert version() == first  # the same edit again: its earlier runs are reused
    _git(root, "reset", "-q")
    model.write_text("RATE = 0.05\n")
    assert version() == clean


@needs_git
def test_untracked_module_in_a_result_package_changes_code_version(tmp_path, git_env, monkeypatch):
    root, version = _committed_tree(tmp_path, monkeypatch)
    clean = version()
    extra = root / "model" / "extra.py"
    extra.write_text("BONUS = 1\n")
    with_extra = version()
    assert with_extra != clean
    extra.write_text("BONUS = 2\n")
    assert version() not in (clean, with_extra)
    extra.unlink()
    assert version() == clean


def test_code_version_outside_git_hashes_the_sources(tmp_path, git_env, monkeypatch):
    # Installed from a wheel or sdist: no repository. The version must still tell code apart.
    root = _source_tree(tmp_path / "site")
    version = _runner_from(root, monkeypatch)
    before = version()
    (root / "README.md").write_text("changed\n")
    assert version() == before
    (root / "model" / "model.py").write_text("RATE = 0.06\n")
    assert version() != before
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-bin"))  # git missing: no error either
    assert version() not in ("", before)


@needs_git
def test_code_version_ignores_an_enclosing_repository(tmp_path, git_env, monkeypatch):
    # e.g. a virtualenv inside some other checkout: that checkout's commit says nothing
    # about the installed sources.
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "file.txt").write_text("x\n")
    outer_sha = _commit_all(outer)
    root = _source_tree(outer / "venv" / "site-packages")
    version = _runner_from(root, monkeypatch)
    before = version()
    assert outer_sha not in before
    (root / "model" / "model.py").write_text("RATE = 0.06\n")
    assert version() != before


# -- store and executor ------------------------------------------------------------------


def _specs(reps=6, months=12, labels=("a", "b")):
    base = ModelParams()
    params = {"a": base, "b": base.replace(fund_coverage=0.05, offered_packages=("tech_credit",)),
              "c": base.replace(fund_coverage=0.5)}
    seeds = replication_seeds(7, reps)
    return [RunSpec.make(lb, params[lb], s, k, months, code_version()) for lb in labels for k, s in enumerate(seeds)]


def _dump(store: ResultsStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = store.runs_frame(with_params=True).drop(columns=["wall_s", "finished_at"]).sort_values("run_id").reset_index(drop=True)
    monthly = store.monthly_frame().sort_values(["run_id", "kpi", "month"]).reset_index(drop=True)
    return runs, monthly


def test_a_store_interrupted_while_being_created_leaves_nothing_a_rerun_would_refuse(tmp_path, monkeypatch):
    """Ctrl-C in the first moments of a batch once left an empty results.sqlite (or one
    without tables), which the re-run then refused as 'not an h2chain results store'."""
    real_connect = sqlite3.connect

    class Interrupted:  # a connection whose schema script is cut short, as by Ctrl-C
        def __init__(self, *args, **kwargs):
            self.conn = real_connect(*args, **kwargs)

        def execute(self, *args):
            return self.conn.execute(*args)

        def executescript(self, script):
            raise KeyboardInterrupt

        def close(self):
            self.conn.close()

    monkeypatch.setattr(sqlite3, "connect", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        ResultsStore(tmp_path)
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert not ResultsStore.exists(tmp_path)  # only the .part file was left
    with ResultsStore(tmp_path) as store:  # the re-run creates it
        assert store.runs_frame().empty
    assert not list(tmp_path.glob("*.part*"))
    with ResultsStore(tmp_path, create=False) as store:  # and a resume opens it
        assert store.runs_frame().empty


def test_store_holds_runs_kpis_and_monthly_long_format(tmp_path):
    specs = _specs()
    with ResultsStore(tmp_path) as store:
        out = execute(specs, store, run_fn=fake_run, jobs=1, quiet=True)
        assert (out.ok, out.failed, out.skipped) == (12, 0, 0)
        runs = store.runs_frame()
        assert len(runs) == 12 and set(runs["status"]) == {"ok"}
        for kpi in ("sme_survival_rate", "credit_mobilised_wan", "fiscal_leverage"):
            assert kpi in runs.columns
        # fiscal_leverage is None in scenario b: stored as NULL
        assert runs.loc[runs["label"] == "b", "fiscal_leverage"].isna().all()
        monthly = store.monthly_frame()
        # the package column differs between scenarios: both are kept
        assert {"credit_collateral_wan", "credit_tech_credit_wan"} <= set(monthly["kpi"])
        assert monthly.groupby("run_id").size().eq(13 * 3).all()
        # the SQL view `monthly` is the same long table
        view = pd.read_sql_query("SELECT run_id, month, kpi, value FROM monthly", store.conn)
        mine = monthly[["run_id", "month", "kpi", "value"]]
        key = ["run_id", "kpi", "month"]
        pd.testing.assert_frame_equal(view.sort_values(key).reset_index(drop=True),
                                      mine.sort_values(key).reset_index(drop=True), check_dtype=False)
        # seeds are shared across scenarios (common random numbers)
        by = runs.pivot(index="rep", columns="label", values="seed")
        assert (by["a"] == by["b"]).all()
    con = sqlite3.connect(tmp_path / "results.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_serial_equals_process_pool(tmp_path):
    specs = _specs(reps=4)
    with ResultsStore(tmp_path / "serial") as s1, ResultsStore(tmp_path / "pool") as s2:
        execute(specs, s1, run_fn=fake_run, jobs=1, quiet=True)
        execute(specs, s2, run_fn=fake_run, jobs=2, quiet=True)
        r1, m1 = _dump(s1)
        r2, m2 = _dump(s2)
    pd.testing.assert_frame_equal(r1, r2)
    pd.testing.assert_frame_equal(m1, m2)


def test_failing_run_is_recorded_and_batch_goes_on(tmp_path):
    specs = _specs(reps=6)
    odd = sum(s.seed % 2 for s in specs)
    assert 0 < odd < len(specs)
    with ResultsStore(tmp_path) as store:
        out = execute(specs, store, run_fn=flaky_run, jobs=1, quiet=True)
        assert out.ok + out.failed == len(specs) and out.failed == odd
        runs = store.runs_frame()
        failed = runs[runs["status"] == "failed"]
        assert len(failed) == odd
        assert failed["error"].str.contains("RuntimeError: boom").all()
        assert failed["error"].str.contains("Traceback").all()
        # resume without --retry-failed: nothing re-runs
        again = execute(specs, store, run_fn=fake_run, jobs=1, quiet=True)
        assert (again.ok, again.failed, again.skipped, again.stored_failed) == (0, 0, len(specs), odd)
        # with retry: only the failed ones, replaced in place
        retry = execute(specs, store, run_fn=fake_run, jobs=1, quiet=True, retry_failed=True)
        assert (retry.ok, retry.skipped, retry.stored_failed) == (odd, len(specs) - odd, 0)
        assert store.counts() == {"ok": len(specs)}
        assert len(store.runs_frame()) == len(specs)
        months = store.monthly_frame().groupby("run_id")["month"].count()
        assert len(months) == len(specs) and months.eq(13 * 3).all()


def test_resume_skips_finished_runs(tmp_path):
    specs = _specs(reps=5)
    with ResultsStore(tmp_path) as store:
        execute(specs[:4], store, run_fn=fake_run, jobs=1, quiet=True)
    with ResultsStore(tmp_path) as store:  # a new process opening the same directory
        assert len(pending_specs(specs, store, retry_failed=False)) == len(specs) - 4
        out = execute(specs, store, run_fn=fake_run, jobs=1, quiet=True)
        assert (out.ok, out.skipped) == (len(specs) - 4, 4)
        assert len(store.runs_frame()) == len(specs)


def test_new_kpi_names_add_columns(tmp_path):
    with ResultsStore(tmp_path) as store:
        row = dict(run_id="r1", label="x", point=None, rep=0, seed=1, months=1, params_hash="h", params_json="{}",
                   code_version="v", status="ok", error=None, wall_s=0.1, finished_at="t")
        store.write_run(row, {"a": 1.0}, None)
        store.write_run({**row, "run_id": "r2"}, {"a": 2.0, "b": 3.0, "status": 4.0}, None)
        assert store.kpi_names() == ["a", "b", "kpi_status"]
        runs = store.runs_frame().set_index("run_id")
        assert runs.loc["r2", "b"] == 3.0 and pd.isna(runs.loc["r1", "b"]) and runs.loc["r2", "status"] == "ok"


def test_export_csv_and_parquet(tmp_path):
    with ResultsStore(tmp_path) as store:
        execute(_specs(reps=2), store, run_fn=fake_run, jobs=1, quiet=True)
        paths = store.export("csv")
        assert [p.name for p in paths] == ["runs.csv", "monthly.csv"]
        assert len(pd.read_csv(paths[0])) == 4
        pytest.importorskip("pyarrow")
        ppaths = store.export("parquet")
        assert len(pd.read_parquet(ppaths[1])) == len(pd.read_csv(paths[1]))


def test_compare_tables_pair_by_replication(tmp_path):
    with ResultsStore(tmp_path) as store:
        execute(_specs(reps=6, labels=("a", "c")), store, run_fn=fake_run, jobs=1, quiet=True)
        runs = store.runs_frame()
    summary, diffs = analysis.compare_tables(runs, ["a", "c"], "a")
    row = diffs[diffs["kpi"] == "credit_mobilised_wan"].iloc[0]
    a = runs[runs["label"] == "a"].set_index("rep")["credit_mobilised_wan"]
    c = runs[runs["label"] == "c"].set_index("rep")["credit_mobilised_wan"]
    hand = paired_ci((c - a).tolist(), [0.0] * 6)
    assert row["diff"] == pytest.approx(hand.mean) and row["lo"] == pytest.approx(hand.lo)
    assert row["n"] == 6
    s = summary[(summary["kpi"] == "credit_mobilised_wan") & (summary["label"] == "c")].iloc[0]
    assert s["mean"] == pytest.approx(c.mean())


def test_ratio_of_paired_differences_by_hand():
    from experiments.stats import ratio_of_paired_differences

    # extra cost [10, 20, 30] for extra survivors [1, 2, 3]: 20 / 2 = 10 in every resample
    ci = ratio_of_paired_differences([110, 120, 130], [100, 100, 100], [6, 7, 8], [5, 5, 5])
    assert ci.mean == pytest.approx(10.0) and ci.lo == pytest.approx(10.0) and ci.hi == pytest.approx(10.0)
    # mean gain (1 - 2 + 3) / 3 > 0 but many resamples have none: no interval (n/a)
    wide = ratio_of_paired_differences([10, 20, 30], [0, 0, 0], [1, -2, 3], [0, 0, 0])
    assert wide.mean == pytest.approx(60 / 2) and math.isnan(wide.lo) and math.isnan(wide.hi)
    # a policy that saves money with an uncertain gain: n/a, not [-400, inf] (an unbounded cost)
    saving = ratio_of_paired_differences([-50] * 5, [0] * 5, [1, 1, -1, 2, -1], [0] * 5)
    assert saving.mean < 0 and math.isnan(saving.lo) and math.isnan(saving.hi)
    # a gain in every replication: a finite interval around the estimate
    sure = ratio_of_paired_differences([10, 30, 20, 40], [0] * 4, [1, 2, 1, 3], [0] * 4)
    assert sure.lo <= sure.mean <= sure.hi and math.isfinite(sure.hi)
    # no gain on average: undefined
    assert math.isnan(ratio_of_paired_differences([1, 2], [0, 0], [-1, 0], [0, 0]).mean)


def test_cost_effectiveness_uses_surviving_smes():
    runs = pd.DataFrame({
        "run_id": ["b0", "b1", "p0", "p1"], "label": ["base", "base", "pol", "pol"], "point": [None] * 4,
        "rep": [0, 1, 0, 1], "status": ["ok"] * 4, "finished_at": ["t"] * 4,
        "fiscal_cost_wan": [0.0, 0.0, 100.0, 300.0], "sme_survival_rate": [0.5, 0.6, 0.6, 0.7],
        "rd_successes": [1, 2, 3, 4],
    })
    costs = analysis.cost_effectiveness(runs, ["base", "pol"], "base", {r: 100 for r in runs["run_id"]})
    by = costs.set_index("measure")["estimate"]
    # extra cost 200 on average; extra survivors (10 + 10) / 2 = 10; extra R&D successes 2
    assert by["fiscal_cost_per_extra_surviving_sme_wan"] == pytest.approx(20.0)
    assert by["fiscal_cost_per_extra_rd_success_wan"] == pytest.approx(100.0)


def test_cost_effectiveness_counts_the_runs_own_surviving_smes():
    """With a network_file the model has the file's SMEs, not n_smes: the runs' own count is
    used (survival rate x n_smes once made one extra survivor of 3 SMEs look like 100)."""
    runs = pd.DataFrame({
        "run_id": ["b0", "b1", "p0", "p1"], "label": ["base", "base", "pol", "pol"], "point": [None] * 4,
        "rep": [0, 1, 0, 1], "status": ["ok"] * 4, "finished_at": ["t"] * 4,
        "fiscal_cost_wan": [0.0, 0.0, 100.0, 100.0], "sme_survival_rate": [1 / 3, 1 / 3, 2 / 3, 2 / 3],
        "surviving_smes": [1, 1, 2, 2], "rd_successes": [1, 2, 3, 4],
    })
    costs = analysis.cost_effectiveness(runs, ["base", "pol"], "base", {r: 300 for r in runs["run_id"]})
    assert costs.set_index("measure")["estimate"]["fiscal_cost_per_extra_surviving_sme_wan"] == pytest.approx(100.0)


def test_param_accepts_the_group_dot_name_form_of_set():
    from experiments.design import parse_param, scalar_name

    assert parse_param("fund.fund_coverage=0.1:0.5:3") == parse_param("fund_coverage=0.1:0.5:3")
    assert scalar_name("fund.fund_coverage") == "fund_coverage"
    assert scalar_name("leaders.jinnan.payment_term_months") == "leaders.jinnan.payment_term_months"
    assert scalar_name("bank.fund_coverage") == "bank.fund_coverage"  # not in that group: left for the error


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_morris_effects_of_integer_parameters_are_per_range_like_float_ones(width):
    """y moves by exactly 1 across each parameter's range: mu* is 1 for an integer parameter
    too (SALib divides by the nominal step, 2/3 of the range; a rounded step is not 2/3)."""
    from experiments.design import build_design, parse_param, sensitivity

    ranges = [parse_param(f"order_lead_time_months=1:{1 + width}"), parse_param("fund_coverage=0.1:0.6")]
    points = build_design(ranges, "morris", 30, seed=1)
    y = [(p["order_lead_time_months"] - 1) / width + (p["fund_coverage"] - 0.1) / 0.5 for p in points]
    mu_star = {r["param"]: r["value"] for r in sensitivity("morris", ranges, points, y, seed=1) if r["index"] == "mu_star"}
    assert mu_star == {"order_lead_time_months": pytest.approx(1.0), "fund_coverage": pytest.approx(1.0)}


@pytest.mark.parametrize("design", ["lhs", "sobol"])
def test_sampled_designs_give_every_integer_value_the_same_weight(design):
    from experiments.design import build_design, parse_param

    ranges = [parse_param("order_lead_time_months=1:3"), parse_param("fund_coverage=0.1:0.6")]
    values = [p["order_lead_time_months"] for p in build_design(ranges, design, 1024, seed=3)]
    shares = [values.count(v) / len(values) for v in (1, 2, 3)]
    assert sorted(set(values)) == [1, 2, 3]
    assert shares == pytest.approx([1 / 3] * 3, abs=0.03)  # rounding [1, 3] gave 1/4, 1/2, 1/4


def test_the_two_npl_ratios_have_two_labels():
    """The summary's npl_ratio is cumulative, the monthly series the stock: figures once gave
    both the label 'NPL ratio'."""
    from experiments.figures import kpi_label

    assert "cumulative" in kpi_label("npl_ratio") and "stock" in kpi_label("npl_ratio", monthly=True)
    assert "累计" in kpi_label("npl_ratio", "zh") and "存量" in kpi_label("npl_ratio", "zh", monthly=True)
    assert kpi_label("active_smes", monthly=True) == kpi_label("active_smes")


def test_an_interrupted_write_leaves_the_old_file_and_no_part(tmp_path):
    from experiments.files import replacing, write_frame_csv

    target = tmp_path / "compare_summary.csv"
    write_frame_csv(pd.DataFrame({"kpi": ["a"], "mean": [1.0]}), target)
    before = target.read_bytes()
    with pytest.raises(KeyboardInterrupt), replacing(target) as part:
        part.write_text("kpi,mean\nhalf")  # a writer cut short
        raise KeyboardInterrupt
    assert target.read_bytes() == before and not list(tmp_path.glob("*.part"))


def test_exports_do_not_depend_on_the_order_runs_finished_in(tmp_path):
    """A parallel batch stores runs in the order they finish; its monthly export once
    differed from the serial one byte for byte."""
    specs = _specs(reps=3)
    paths = []
    for name, order in (("serial", specs), ("reversed", specs[::-1])):
        with ResultsStore(tmp_path / name) as store:
            execute(order, store, run_fn=fake_run, jobs=1, quiet=True)
            paths.append(store.export("csv"))
    for serial, reversed_ in zip(*paths):
        assert serial.name == reversed_.name
        if serial.name == "monthly.csv":
            assert serial.read_bytes() == reversed_.read_bytes()


def test_a_run_that_kills_its_worker_is_the_only_one_recorded_as_failed(tmp_path):
    """A dead worker breaks the pool and fails every run in flight alike; once, all of them
    were stored as failed, with the same error, and the culprit could not be told apart."""
    base = ModelParams()
    specs = [RunSpec.make("a", base, seed, k, 3, code_version()) for k, seed in enumerate([11, 12, 15, 16, 17, 18, 19, 21])]
    with ResultsStore(tmp_path) as store:
        out = execute(specs, store, run_fn=crashing_run, jobs=2, force_pool=True, quiet=True)
        runs = store.runs_frame()
    failed = runs[runs["status"] == "failed"]
    assert set(failed["seed"]) == {15} and (out.ok, out.failed) == (7, 1)
    assert failed["error"].iloc[0].startswith("its worker process died (the run was alone in its pool)")


def test_a_pool_found_broken_when_submitting_does_not_abort_the_batch(tmp_path, monkeypatch):
    """A worker can die between the wait for results and the next submit; submit then raises
    BrokenProcessPool. That once ended the whole batch (seen about 1 run in 8 of the test
    above); now the run stays queued, and is submitted again once the broken futures have
    been dealt with (to a fresh pool when the pool really is broken)."""
    import experiments.execute as execute_mod
    from concurrent.futures.process import BrokenProcessPool

    real_make = execute_mod._make_executor
    made = []

    class BreaksOnThirdSubmit:
        def __init__(self, ex):
            self.ex, self.submits = ex, 0

        def submit(self, *args):
            self.submits += 1
            if self.submits == 3:
                raise BrokenProcessPool("a worker died after the last wait")
            return self.ex.submit(*args)

    def make(jobs, executor, scheduler):
        ex, slots, close = real_make(jobs, executor, scheduler)
        made.append(ex)
        return (BreaksOnThirdSubmit(ex) if len(made) == 1 else ex), slots, close

    monkeypatch.setattr(execute_mod, "_make_executor", make)
    specs = _specs(reps=3)
    with ResultsStore(tmp_path) as store:
        out = execute(specs, store, run_fn=fake_run, jobs=2, force_pool=True, quiet=True)
        assert (out.ok, out.failed) == (len(specs), 0)
        assert store.counts() == {"ok": len(specs)}


# -- tests the mutation audit asked for (each fails on the mutant it names) ----------------


def _zero_run(params, seed, months):
    """A run whose KPIs and monthly values are zeros of every kind."""
    frame = pd.DataFrame({"month": np.arange(months + 1), "defaulted_smes": np.zeros(months + 1)})
    summary = {"rd_successes": 0, "fiscal_cost_wan": 0.0, "bank_losses_wan": np.float64(0.0)}
    from experiments.runner import RunResult, provenance

    return RunResult(summary=summary, monthly=frame, provenance=provenance(params, seed, months))


def test_zeros_are_stored_as_zeros_not_as_missing(tmp_path):
    """A KPI of 0 (no R&D success, no fiscal cost) is a value: stored as NULL it would drop
    out of means and CIs (n too small, means biased)."""
    specs = _specs(reps=2, months=3, labels=("a",))
    with ResultsStore(tmp_path) as store:
        execute(specs, store, run_fn=_zero_run, jobs=1, quiet=True)
        runs = store.runs_frame()
        for kpi in ("rd_successes", "fiscal_cost_wan", "bank_losses_wan"):
            assert (runs[kpi] == 0.0).all(), kpi
        monthly = store.monthly_frame()
        assert len(monthly) == 2 * 4 and (monthly["value"] == 0.0).all()
        summary, _ = analysis.compare_tables(runs, ["a"], "a")
        assert (summary.loc[summary["kpi"] == "rd_successes", "n"] == 2).all()


def test_status_of_finds_every_run_past_a_chunk(tmp_path):
    """status_of asks SQLite in chunks; a run at a chunk's edge must not be missed (a resume
    would re-run it and report it as not run yet)."""
    with ResultsStore(tmp_path) as store:
        ids = [f"run{i:05d}" for i in range(1201)]
        for i, rid in enumerate(ids):
            store.write_run({"run_id": rid, "label": "a", "point": None, "rep": i, "seed": i, "months": 1,
                             "params_hash": "h", "params_json": "{}", "code_version": "v", "status": "ok",
                             "error": None, "wall_s": 0.0, "finished_at": "t"}, {"x": 1.0}, None)
        assert len(store.status_of(ids)) == 1201


def test_the_run_id_tells_run_lengths_apart():
    from experiments.store import make_run_id

    assert make_run_id("a", "h", 1, 12, "v") != make_run_id("a", "h", 1, 24, "v")


def test_exported_runs_carry_their_parameters(tmp_path):
    import json

    specs = _specs(reps=1, months=3, labels=("a", "b"))
    with ResultsStore(tmp_path) as store:
        execute(specs, store, run_fn=fake_run, jobs=1, quiet=True)
        runs_csv = next(p for p in store.export("csv") if p.name == "runs.csv")
        exported = pd.read_csv(runs_csv)
        assert list(exported.columns) == list(store.runs_frame(with_params=True).columns)
    by_id = {s.run_id: s for s in specs}
    for row in exported.itertuples():
        assert json.loads(row.params_json) == json.loads(json.dumps(by_id[row.run_id].params.canonical()))


def test_tables_use_the_newest_run_of_a_replication():
    runs = pd.DataFrame({"run_id": ["old", "new"], "label": ["a", "a"], "point": [None, None], "rep": [0, 0],
                         "status": ["ok", "ok"], "finished_at": ["2024-01-01T00:00:00", "2025-01-01T00:00:00"],
                         "x": [1.0, 2.0]})
    assert analysis.latest_per_replication(runs)["x"].tolist() == [2.0]


def test_the_cost_effectiveness_interval_is_the_percentile_interval_at_its_level():
    from experiments.stats import ratio_of_paired_differences

    num, den = [10.0, 30.0, 20.0, 40.0, 25.0], [1.0, 2.0, 1.0, 3.0, 2.0]
    sure = ratio_of_paired_differences(num, [0.0] * 5, den, [0.0] * 5, seed=0)
    idx = np.random.default_rng(0).integers(0, 5, size=(2000, 5))
    boot = np.array(num)[idx].mean(axis=1) / np.array(den)[idx].mean(axis=1)
    assert (sure.lo, sure.hi) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))
    ninety = ratio_of_paired_differences(num, [0.0] * 5, den, [0.0] * 5, level=0.90, seed=0)
    assert sure.lo < ninety.lo < ninety.hi < sure.hi


def test_every_module_a_run_loads_counts_for_the_code_version(tmp_path):
    """The code version hashes the sources of RESULT_SOURCES; a module a run imports from
    elsewhere in the tree (or a package dropped from the list, such as agents/) would let a
    resume keep runs made by other code."""
    from experiments.runner import RESULT_SOURCES

    root = Path(__file__).resolve().parent.parent
    script = ("import sys\nfrom experiments.runner import run\nfrom model.params import ModelParams\n"
              "run(ModelParams(n_smes=20, plan_scale=0.07), 1, 2)\n"
              "print('\\n'.join(sorted(m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None))))")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(root)}, timeout=120).stdout.split()
    ours = [Path(f).resolve().relative_to(root) for f in out if Path(f).resolve().is_relative_to(root)
            and ".venv" not in Path(f).parts]
    assert {p.parts[0] for p in ours} >= {"model", "agents", "experiments"}
    outside = [str(p) for p in ours if p.parts[0] not in RESULT_SOURCES]
    assert outside == [], f"modules a run loads from outside RESULT_SOURCES: {outside}"
    assert set(RESULT_SOURCES) >= {"model", "agents", "scenarios", "experiments"}
