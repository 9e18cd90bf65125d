"""The batch command line: user errors, compare/sweep/report outputs and figures.

Runs here use the fast test double in place of the model (monkeypatched, in-process with
--jobs 1); tests/test_experiments.py runs the same commands on the real model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import experiments.runner
from experiments import scenario_io
from experiments.cli import main
from exp_fakes import fake_run
from model.params import ModelParams

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_model(monkeypatch):
    """Runs use the test double; scenarios 'a', 'b', 'c' exist besides the library's."""
    monkeypatch.setattr(experiments.runner, "run", fake_run)
    real_load = scenario_io.load
    extra = {"a": {}, "b": {"fund_coverage": 0.5}, "c": {"fund_coverage": 0.05}}

    def load(name, overrides=None, stress=None):
        if name in extra:
            return ModelParams(**{**extra[name], **(overrides or {})})
        return real_load(name, overrides, stress)

    monkeypatch.setattr(scenario_io, "load", load)
    monkeypatch.setattr(scenario_io, "title", lambda name, lang="en": {"a": "基准", "b": "风险补偿"}.get(name, name)
                        if lang == "zh" else name)


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 500


# -- user errors -------------------------------------------------------------------------


BAD = [
    ["compare", "no_such_scenario"],
    ["compare", "baseline", "--baseline", "no_such_scenario"],
    ["compare", "baseline", "--set", "no_such_key=1"],
    ["compare", "baseline", "--set", "fund_coverage=abc"],
    ["compare", "baseline", "--set", "fund_coverage=7"],
    ["compare", "baseline", "--set", "fund_coverage"],
    ["compare", "baseline", "--reps", "0"],
    ["compare", "baseline", "--executor", "dask"],
    ["sweep", "baseline", "--param", "fund_coverage=0.5:0.1:3"],
    ["sweep", "baseline", "--param", "fund_coverage=0.1:0.5:0"],
    ["sweep", "baseline", "--param", "fund_coverage=0.1:9:3"],
    ["sweep", "baseline", "--param", "no_such_key=0:1:3"],
    ["sweep", "baseline", "--param", "fund_coverage=a:b"],
    ["sweep", "no_such_scenario", "--param", "fund_coverage=0.1:0.5:3"],
    ["sweep", "baseline", "--param", "fund_coverage=0.1:0.5:3", "--set", "fund_coverage=0.2"],
    ["sweep", "baseline", "--param", "fund_coverage=0.1:0.5:3", "--set", "fund.fund_coverage=0.2"],
    ["sweep", "baseline", "--param", "fund.fund_coverage=0.1:0.5:3", "--set", "fund_coverage=0.2"],
    ["sweep", "baseline", "--param", "fund_coverage=0.1:0.5", "--design", "sobol", "--n", "0"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[:4]) for a in BAD])
def test_user_errors_exit_2_with_one_line_and_write_nothing(argv, tmp_path, capsys):
    out = tmp_path / "exp"
    code = main([*argv, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("h2chain: error:"), err
    assert not out.exists()


def test_unreachable_dask_scheduler_is_a_user_error_before_anything_is_written(tmp_path, capsys, monkeypatch):
    import experiments.batch_cli

    monkeypatch.setattr(experiments.batch_cli, "SCHEDULER_TIMEOUT_S", 2)  # nothing listens on port 9
    out = tmp_path / "exp"
    code = main(["compare", "baseline", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--out", str(out),
                 "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--scheduler tcp://127.0.0.1:9" in err, err
    assert not out.exists()  # once: a traceback after the wait, and results.sqlite already made


@pytest.mark.parametrize("address", ["garbage", "tcp://host:port"])
def test_a_malformed_dask_address_is_named_as_such_at_once(address, tmp_path, capsys):
    out = tmp_path / "exp"
    code = main(["compare", "baseline", "--executor", "dask", "--scheduler", address, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"--scheduler {address}: not an address" in err and "expected tcp://HOST:PORT" in err, err
    assert not out.exists()


def test_parquet_export_without_pyarrow_is_refused_before_the_batch(fake_model, tmp_path, capsys, monkeypatch):
    stored = tmp_path / "stored"
    assert main(["compare", "a", "--reps", "1", "--months", "2", "--jobs", "1", "--out", str(stored), "--quiet",
                 "--no-figures"]) == 0
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed: importing it fails
    out = tmp_path / "exp"
    for argv in (["compare", "a", "--reps", "1", "--months", "2", "--jobs", "1", "--out", str(out)],
                 ["report", str(stored)]):
        code = main([*argv, "--export", "parquet", "--quiet", "--no-figures"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and "pip install 'h2chain[parquet]'" in err, err
    assert not out.exists()  # once: the whole batch ran, then an ImportError traceback
    assert not (stored / "runs.parquet").exists()


def test_an_out_directory_that_cannot_be_made_is_a_user_error(fake_model, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["compare", "a", "--reps", "1", "--months", "2", "--jobs", "1", "--quiet", "--out", str(blocker / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("h2chain: error: --out"), err


def test_user_error_in_a_real_process(tmp_path):
    out = tmp_path / "exp"
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "sweep", "baseline", "--param",
                           "fund_coverage=0.9:0.1:3", "--out", str(out)], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "lower bound" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["show", "baseline"],
    ["run", "baseline", "--months", "2", "--set", "n_smes=21", "--set", "plan_scale=0.07"],
], ids=["show", "run"])
def test_output_into_a_closed_pipe_ends_quietly(argv, tmp_path):
    """`h2chain show baseline | head -5`: the reader goes away before we are done writing.
    No BrokenPipeError traceback (nor Python's "Exception ignored" at exit), status 141."""
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", *argv], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.close()  # before the command has started writing: its first write fails
    try:
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
    assert err == ""
    assert code == 141
    assert list(tmp_path.iterdir()) == []


def test_a_broken_pipe_that_is_not_stdout_is_not_hidden(monkeypatch):
    """Only a closed standard output ends quietly; a pipe of our own that breaks is a failure."""
    import argparse

    import experiments.cli as cli

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    parser = cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(verbose=False, func=broken))
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    with pytest.raises(BrokenPipeError):
        cli.main(["scenarios"])


def test_report_of_missing_directory_is_a_user_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("content, why", [
    (b"hello, not a database\n", "not an SQLite database"),
    (b"", "an empty file"),
], ids=["not-sqlite", "empty"])
def test_report_of_a_file_that_is_no_store_is_a_user_error_and_leaves_it_alone(content, why, tmp_path, capsys):
    """A results.sqlite that is not SQLite once gave a sqlite3.DatabaseError traceback; an
    empty one had our schema written into it, then "has no experiment manifest"."""
    db = tmp_path / "results.sqlite"
    db.write_bytes(content)
    assert main(["report", str(tmp_path), "--quiet", "--no-figures"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"h2chain: error: {db} is not an h2chain results store ({why})"
    assert db.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]


def test_resuming_into_a_file_that_is_no_store_is_refused(fake_model, tmp_path, capsys):
    (tmp_path / "results.sqlite").write_bytes(b"")
    assert main(["compare", "a", "b", "--reps", "2", "--months", "3", "--jobs", "1", "--out", str(tmp_path),
                 "--quiet", "--no-figures"]) == 2
    assert "is not an h2chain results store (an empty file)" in capsys.readouterr().err
    assert (tmp_path / "results.sqlite").read_bytes() == b""


def test_report_reads_a_store_opened_read_only(fake_model, tmp_path, monkeypatch):
    """`report` works on a store opened with read_only=True (what batch_cli's cmd_report
    should open), and the store file is left as it was."""
    import hashlib
    import sqlite3

    import experiments.store
    from experiments.store import ResultsStore

    out = tmp_path / "cmp"
    assert main(["compare", "a", "b", "--reps", "3", "--months", "6", "--jobs", "1", "--out", str(out),
                 "--quiet", "--no-figures"]) == 0
    db = out / "results.sqlite"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    opened = []

    class ReadOnly(ResultsStore):
        def __init__(self, directory, *, create=True, read_only=False):
            assert read_only, "report must open the store read-only"  # what cmd_report asks for
            super().__init__(directory, read_only=True)
            opened.append(self)

    monkeypatch.setattr(experiments.store, "ResultsStore", ReadOnly)
    (out / "compare_summary.csv").unlink()
    assert main(["report", str(out), "--quiet", "--no-figures", "--export", "csv"]) == 0
    assert opened and (out / "compare_summary.csv").exists() and len(pd.read_csv(out / "runs.csv")) == 6
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    with ResultsStore(out, read_only=True) as store, pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.set_manifest({"x": 1})


def test_read_only_store_needs_the_tables_it_reads(tmp_path):
    import sqlite3

    from experiments.store import NotAStoreError, ResultsStore

    conn = sqlite3.connect(tmp_path / "results.sqlite")
    conn.execute("CREATE TABLE runs (run_id TEXT)")
    conn.execute("CREATE TABLE manifest (key TEXT, value TEXT)")
    conn.close()
    with pytest.raises(NotAStoreError, match="no tables monthly_series, design"):
        ResultsStore(tmp_path, read_only=True)
    with ResultsStore(tmp_path, create=False):  # a writable open adds them
        pass
    with ResultsStore(tmp_path, read_only=True) as store:
        assert store.manifest() == {} and store.design_frame().empty


# -- compare -------------------------------------------------------------------------------


def test_compare_writes_tables_figures_and_resumes(fake_model, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "a", "b", "c", "--baseline", "a", "--reps", "5", "--months", "12", "--jobs", "1",
            "--out", str(out), "--export", "csv"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "credit_mobilised_wan" in printed and "diff to a" in printed
    summary = pd.read_csv(out / "compare_summary.csv")
    paired = pd.read_csv(out / "compare_paired.csv")
    assert set(summary["label"]) == {"a", "b", "c"} and set(paired["label"]) == {"b", "c"}
    assert (summary.loc[summary["kpi"] == "sme_survival_rate", "n"] == 5).all()
    for name in ("compare_bars", "compare_forest", "monthly_fan"):
        for ext in ("png", "svg"):
            assert _nonempty(out / "figures" / f"{name}.{ext}"), name
    assert (out / "runs.csv").exists() and (out / "monthly.csv").exists()
    # the same command again: everything is stored, nothing re-runs
    assert main([*argv, "--quiet", "--no-figures"]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 15
    # more replications extend the experiment; the first five keep their seeds
    more = ["compare", "a", "b", "c", "--baseline", "a", "--reps", "7", "--months", "12", "--jobs", "1",
            "--out", str(out), "--export", "csv", "--quiet", "--no-figures"]
    assert main(more) == 0
    runs2 = pd.read_csv(out / "runs.csv")
    assert len(runs2) == 21
    assert set(runs["run_id"]) <= set(runs2["run_id"])
    # a different experiment in the same directory is refused
    assert main(["compare", "a", "b", "--months", "12", "--out", str(out), "--quiet"]) == 2
    # report rebuilds the tables (and figures: see test_chinese_labels_render)
    (out / "compare_summary.csv").unlink()
    assert main(["report", str(out), "--quiet", "--no-figures"]) == 0
    assert len(pd.read_csv(out / "compare_summary.csv")) == len(summary)


def _n_in_summary(out) -> set:
    summary = pd.read_csv(out / "compare_summary.csv")
    return set(summary.loc[summary["kpi"] == "sme_survival_rate", "n"])


def test_report_rebuilds_the_tables_of_the_last_invocation(fake_model, tmp_path, capsys):
    """After --reps 4 then --reps 2 in the same directory, compare's tables and report's agree
    (report once pooled every run stored: n=4 where compare had printed n=2)."""
    out = tmp_path / "cmp"
    argv = ["compare", "a", "b", "--months", "3", "--jobs", "1", "--out", str(out), "--quiet", "--no-figures"]
    assert main([*argv, "--reps", "4"]) == 0 and _n_in_summary(out) == {4}
    assert main([*argv, "--reps", "2"]) == 0 and _n_in_summary(out) == {2}
    assert main(["report", str(out), "--quiet", "--no-figures"]) == 0 and _n_in_summary(out) == {2}


def test_report_of_an_interrupted_batch_says_what_is_missing(fake_model, monkeypatch, tmp_path, capsys):
    calls = []

    def interrupted(params, seed, months):
        calls.append(seed)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fake_run(params, seed, months)
    monkeypatch.setattr(experiments.runner, "run", interrupted)
    out = tmp_path / "cmp"
    argv = ["compare", "a", "b", "--reps", "4", "--months", "3", "--jobs", "1", "--out", str(out), "--quiet",
            "--no-figures"]
    assert main(argv) == 130
    capsys.readouterr()
    assert main(["report", str(out), "--quiet", "--no-figures"]) == 1
    err = capsys.readouterr().err
    assert "6 missing run(s) of the last invocation" in err and err.strip().count("\n") == 0
    monkeypatch.setattr(experiments.runner, "run", fake_run)
    assert main(argv) == 0  # the same command finishes it
    assert main(["report", str(out), "--quiet", "--no-figures"]) == 0 and _n_in_summary(out) == {4}


def test_chinese_labels_render(fake_model, tmp_path):
    import warnings

    from experiments.fonts import FontMissing, cjk_font

    try:
        cjk_font()
    except FontMissing as exc:
        pytest.skip(str(exc))
    out = tmp_path / "zh"
    assert main(["compare", "a", "b", "--reps", "3", "--months", "6", "--jobs", "1", "--out", str(out), "--quiet",
                 "--no-figures"]) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["report", str(out), "--lang", "zh", "--quiet"]) == 0
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:3]
    for name in ("compare_bars", "compare_forest", "monthly_fan"):
        assert _nonempty(out / "figures" / f"{name}.png")


def test_missing_cjk_font_fails_clearly(monkeypatch):
    from experiments import fonts

    monkeypatch.setattr(fonts, "candidate_files", lambda: [])
    fonts.cjk_font.cache_clear()
    try:
        with pytest.raises(fonts.FontMissing, match="fonts-wqy-microhei"):
            fonts.use_cjk_font()
    finally:
        fonts.cjk_font.cache_clear()


def test_compare_manifest_records_the_experiment(fake_model, tmp_path):
    from experiments.store import ResultsStore

    out = tmp_path / "cmp"
    assert main(["compare", "a", "b", "--reps", "2", "--months", "6", "--seed", "99", "--jobs", "1", "--out", str(out),
                 "--quiet", "--no-figures"]) == 0
    with ResultsStore(out) as store:
        m = store.manifest()
        runs = store.runs_frame()
    assert m["master_seed"] == 99 and m["experiment"]["scenarios"] == ["a", "b"]
    assert m["command_line"].startswith("h2chain") and "mesa" in m["packages"] and m["code_version"]
    assert sorted(runs["seed"].unique().tolist()) == sorted(experiments.runner.replication_seeds(99, 2))


# -- sweep -----------------------------------------------------------------------------------


def test_sweep_grid_one_and_two_parameters(fake_model, tmp_path):
    out = tmp_path / "s1"
    assert main(["sweep", "a", "--param", "fund_coverage=0.1:0.5:3", "--reps", "2", "--months", "6",
                 "--jobs", "1", "--out", str(out), "--quiet"]) == 0
    points = pd.read_csv(out / "sweep_points.csv")
    assert sorted(points["fund_coverage"].unique()) == pytest.approx([0.1, 0.3, 0.5])
    assert _nonempty(out / "figures" / "sweep_lines.png") and _nonempty(out / "figures" / "sweep_lines.svg")

    out2 = tmp_path / "s2"
    assert main(["sweep", "a", "--param", "fund_coverage=0.1:0.5:3", "--param", "fund_per_loan_cap=0.2:0.6:2",
                 "--reps", "1", "--months", "6", "--jobs", "1", "--out", str(out2), "--quiet"]) == 0
    assert _nonempty(out2 / "figures" / "sweep_heatmap_credit_mobilised_wan.png")
    assert pd.read_csv(out2 / "sweep_points.csv")["point"].nunique() == 6


@pytest.mark.parametrize("design,n,expected_points", [("sobol", 8, 8 * (2 + 2)), ("morris", 3, 3 * (2 + 1)),
                                                      ("lhs", 40, 40)])
def test_sweep_sampled_designs_give_sensitivity_indices(fake_model, tmp_path, design, n, expected_points):
    out = tmp_path / design
    assert main(["sweep", "a", "--param", "fund_coverage=0.1:0.9", "--param", "term_loan_months=6:36",
                 "--design", design, "--n", str(n), "--reps", "1", "--months", "4", "--jobs", "1",
                 "--out", str(out), "--quiet", *([] if design == "sobol" else ["--no-figures"])]) == 0
    points = pd.read_csv(out / "sweep_points.csv")
    assert points["point"].nunique() == expected_points
    # an integer parameter stays whole, and is written as one (12, not 12.0)
    assert (points["term_loan_months"] % 1 == 0).all()
    assert points["term_loan_months"].dtype == "int64"
    sens = pd.read_csv(out / "sensitivity.csv")
    assert set(sens["param"]) == {"fund_coverage", "term_loan_months"}
    if design == "sobol":
        assert _nonempty(out / "figures" / "sensitivity.png")
    # the fake's credit_mobilised_wan depends on fund_coverage, not on term_loan_months
    s = sens[(sens["kpi"] == "credit_mobilised_wan")].set_index(["param", "index"])["value"]
    first = s.index.get_level_values("index")[0]
    assert s[("fund_coverage", first)] > s[("term_loan_months", first)]


def test_failing_runs_through_the_cli(fake_model, monkeypatch, tmp_path, capsys):
    from exp_fakes import flaky_run

    monkeypatch.setattr(experiments.runner, "run", flaky_run)
    out = tmp_path / "flaky"
    argv = ["compare", "a", "b", "--reps", "6", "--months", "4", "--jobs", "1", "--out", str(out), "--quiet",
            "--no-figures", "--export", "csv"]
    assert main(argv) == 1  # the batch completes; failures make the exit status 1
    assert "boom at seed" in capsys.readouterr().err
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 12 and 0 < (runs["status"] == "failed").sum() < 12
    assert (out / "compare_summary.csv").exists()
    monkeypatch.setattr(experiments.runner, "run", fake_run)
    # resumed without --retry-failed: nothing re-runs, and the failures still stored are
    # reported with exit status 1 (they were once counted as 'already stored' with exit 0)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "stored as failed from an earlier invocation" in err and "--retry-failed" in err
    assert err.strip().count("\n") == 0
    assert main([*argv, "--retry-failed"]) == 0
    assert (pd.read_csv(out / "runs.csv")["status"] == "ok").all()
    assert main(argv) == 0  # all stored and ok: nothing to report


def test_an_unknown_baseline_names_the_option(tmp_path, capsys):
    assert main(["compare", "baseline", "--baseline", "nosuch", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "--baseline: unknown scenario 'nosuch'" in capsys.readouterr().err
    assert main(["compare", "nosuch", "--out", str(tmp_path / "x"), "--quiet"]) == 2  # a positional name: as before
    assert "scenario: unknown scenario 'nosuch'" in capsys.readouterr().err


def test_a_kpi_without_sensitivity_indices_is_named(fake_model, tmp_path, capsys):
    """The fake's fiscal_leverage is undefined (None) below fund_coverage 0.1: no indices for it,
    and the command says so (it once left it out of sensitivity.csv without a word)."""
    out = tmp_path / "sens"
    assert main(["sweep", "a", "--param", "fund_coverage=0.0:0.3", "--design", "sobol", "--n", "8", "--reps", "1",
                 "--months", "2", "--jobs", "1", "--out", str(out), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "no sensitivity indices for" in err and "fiscal_leverage" in err
    assert "fiscal_leverage" not in set(pd.read_csv(out / "sensitivity.csv")["kpi"])


def test_a_stored_sweep_knows_its_integer_parameters():
    from experiments.design import ParamRange

    assert ParamRange.of("term_loan_months", 6, 36, 5).integer and not ParamRange.of("fund_coverage", 0, 1, 5).integer


def _session_processes(sid: int) -> list[int]:
    """Processes of session `sid` still alive (zombies excluded), read from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state, ppid, pgrp, session, ...
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_batch_killed_by_its_job_manager_leaves_no_worker_behind(sig, tmp_path):
    """`timeout`, a cluster's job manager or the out-of-memory killer signal the batch's own
    process, not its workers. SIGTERM ends it like Ctrl-C (one line, status 143); after either
    signal, no worker, fork server or resource tracker is left (they once idled on for good),
    and the same command resumes."""
    import sqlite3

    out = tmp_path / "exp"
    argv = [sys.executable, "-m", "experiments.cli", "compare", "baseline", "tech_credit", "--reps", "6", "--months",
            "24", "--set", "n_smes=150", "--set", "plan_scale=0.5", "--jobs", "2", "--no-figures", "--quiet",
            "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stderr = tmp_path / "stderr.txt"  # a file, not a pipe: orphans holding it open cannot hang the test
    with open(stderr, "wb") as err_file:
        proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err_file, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:  # until a run is stored
            try:
                with sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True) as db:
                    if db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] > 0:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before it could be signalled"
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
        err = stderr.read_text().strip()
        left = _session_processes(proc.pid)
        deadline = time.monotonic() + 15
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = _session_processes(proc.pid)
        assert left == [], f"processes left after {sig.name}: {left}"
        if sig == signal.SIGTERM:
            assert (code, err) == (143, "h2chain: terminated")
        else:
            assert code == -signal.SIGKILL
    finally:
        for pid in _session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)
    resumed = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr


def test_a_set_spelled_with_its_group_is_the_same_experiment(fake_model, tmp_path, capsys):
    """`--set fund.fund_coverage=0.4` and `--set fund_coverage=0.4` are the same parameter;
    a store made with one once refused the other as 'a different experiment'."""
    out = tmp_path / "exp"
    common = ["compare", "baseline", "--reps", "2", "--months", "3", "--out", str(out), "--quiet", "--no-figures"]
    assert main([*common, "--set", "fund.fund_coverage=0.4"]) == 0
    assert main([*common, "--set", "fund_coverage=0.4"]) == 0
    assert "different experiment" not in capsys.readouterr().err


def test_a_parameter_swept_twice_is_named_once(tmp_path, capsys):
    out = tmp_path / "exp"
    code = main(["sweep", "baseline", "--param", "fund_coverage=0.1:0.5:3", "--param", "fund.fund_coverage=0.2:0.3:2",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "h2chain: error: --param: fund_coverage: given twice; give each parameter one range"
    assert not out.exists()


def test_changing_n_smes_without_plan_scale_gets_a_note(fake_model, tmp_path, capsys):
    """The leaders' plans are written for 300 SMEs and the command line does not scale them:
    --set n_smes=600 alone halves each SME's orders, which the user is told (once)."""
    common = ["--reps", "1", "--months", "2", "--no-figures"]
    assert main(["compare", "baseline", *common, "--out", str(tmp_path / "a"), "--set", "n_smes=600"]) == 0
    err = capsys.readouterr().err
    assert err.count("h2chain: note: n_smes is changed but plan_scale is not") == 1
    assert "add --set plan_scale=2)" in err
    assert main(["compare", "baseline", *common, "--out", str(tmp_path / "b"), "--set", "n_smes=600",
                 "--set", "plan_scale=2"]) == 0
    assert "note:" not in capsys.readouterr().err
    assert main(["sweep", "baseline", "--param", "n_smes=100:300:2", *common, "--out", str(tmp_path / "c")]) == 0
    assert "a sweep cannot tie plan_scale to n_smes" in capsys.readouterr().err
