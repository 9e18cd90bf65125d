"""Batches on the real model: serial = process pool = Dask, kill and resume, the CLI end to end.

Small models (few SMEs, few months) keep the whole file quick.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.execute import RunSpec, execute
from experiments.runner import RunResult, code_version, replication_seeds, run
from experiments.store import ResultsStore
from model.params import ModelParams

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"n_smes": 30}


def _specs(reps=2, months=4):
    base = ModelParams(**SMALL)
    variants = {"base": base, "fund": base.replace(fund_coverage=0.5, offered_packages=("collateral", "tech_credit"))}
    seeds = replication_seeds(11, reps)
    return [RunSpec.make(lb, p, s, k, months, code_version()) for lb, p in variants.items() for k, s in enumerate(seeds)]


def _dump(store: ResultsStore):
    runs = store.runs_frame(with_params=True).drop(columns=["wall_s", "finished_at"]).sort_values("run_id").reset_index(drop=True)
    monthly = store.monthly_frame().sort_values(["run_id", "kpi", "month"]).reset_index(drop=True)
    return runs, monthly


def test_run_returns_summary_monthly_and_provenance():
    p = ModelParams(**SMALL)
    r = run(p, 5, 4)
    assert isinstance(r, RunResult)
    assert list(r.monthly["month"]) == [0, 1, 2, 3, 4]
    assert "sme_survival_rate" in r.summary
    prov = r.provenance
    assert prov["params_hash"] == p.stable_hash() and prov["seed"] == 5 and prov["months"] == 4
    assert {"mesa", "numpy", "networkx"} <= set(prov["packages"]) and prov["code_version"]
    again = run(p, 5, 4)
    pd.testing.assert_frame_equal(r.monthly, again.monthly)


def test_serial_equals_process_pool_equals_dask(tmp_path):
    distributed = pytest.importorskip("distributed")
    specs = _specs()
    dumps = []
    with ResultsStore(tmp_path / "serial") as store:
        out = execute(specs, store, jobs=1, quiet=True)
        assert out.ok == len(specs), out.errors
        dumps.append(_dump(store))
    with ResultsStore(tmp_path / "pool") as store:
        out = execute(specs, store, jobs=2, quiet=True)
        assert out.ok == len(specs), out.errors
        dumps.append(_dump(store))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        with ResultsStore(tmp_path / "dask") as store:
            out = execute(specs, store, executor="dask", scheduler=cluster.scheduler_address, quiet=True)
            assert out.ok == len(specs), out.errors
            dumps.append(_dump(store))
    (r0, m0), *others = dumps
    assert len(r0) == len(specs) and len(m0) > 0
    for r, m in others:
        pd.testing.assert_frame_equal(r0, r)
        pd.testing.assert_frame_equal(m0, m)


def _ok_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_sweep_killed_midway_resumes_without_doubles(tmp_path):
    out = tmp_path / "sweep"
    argv = [sys.executable, "-m", "experiments.cli", "sweep", "baseline", "--param", "fund_coverage=0.1:0.5:5",
            "--reps", "2", "--months", "8", "--set", "n_smes=30", "--jobs", "1", "--out", str(out), "--quiet",
            "--no-figures"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = out / "results.sqlite"
    deadline = time.monotonic() + 90
    try:
        while _ok_count(db) < 3:
            assert proc.poll() is None, f"sweep ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no runs stored in time"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    stored = _ok_count(db)
    assert 3 <= stored < 10, "kill came too late to test resuming"
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    with ResultsStore(out) as store:
        runs = store.runs_frame()
        monthly = store.monthly_frame()
        invocations = store.conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0]
    assert len(runs) == 10 and set(runs["status"]) == {"ok"}
    assert not runs.duplicated(["point", "rep"]).any()
    assert sorted(runs["point"].unique()) == [0, 1, 2, 3, 4]
    assert monthly.groupby("run_id")["month"].nunique().eq(9).all()
    assert not monthly.duplicated(["run_id", "kpi", "month"]).any()
    assert invocations == 2


def test_compare_on_the_real_model(tmp_path, capsys):
    from experiments.cli import main

    from experiments import scenario_io

    names = scenario_io.scenario_names()
    labels = ["baseline"] + [n for n in ("tech_credit", "order_credit") if n in names]
    out = tmp_path / "cmp"
    argv = ["compare", *labels, "--reps", "2", "--months", "4", "--set", "n_smes=30", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    summary = pd.read_csv(out / "compare_summary.csv")
    assert set(summary["label"]) == set(labels)
    assert (out / "figures" / "compare_bars.png").stat().st_size > 1000
    assert (out / "figures" / "monthly_fan.svg").stat().st_size > 1000


# -- `h2chain run`: one run on the real model -------------------------------------------


def test_run_command_prints_the_summary_and_writes_the_csv(tmp_path, capsys):
    from experiments.cli import main

    csv = tmp_path / "out" / "monthly.csv"
    assert main(["run", "baseline", "--months", "3", "--set", "n_smes=30", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "scenario baseline  seed 1  months 3" in out and "sme_survival_rate" in out
    monthly = pd.read_csv(csv)
    assert sorted(monthly["month"].unique()) == [0, 1, 2, 3]
    # beside it, what reproduces it: seed, parameters (all of them), code version
    sidecar = csv.with_name("monthly.csv.json")
    assert sorted(csv.parent.iterdir()) == [csv, sidecar]  # and no .part file left behind
    import json

    from model.params import ModelParams

    record = json.loads(sidecar.read_text(encoding="utf-8"))
    assert (record["seed"], record["months"], record["scenario"], record["set"]) == (1, 3, "baseline", {"n_smes": 30})
    assert ModelParams(**record["params"]).stable_hash() == record["params_hash"]  # the run, reproducible
    assert record["code_version"] and record["packages"]["mesa"]


def test_run_command_resolves_stress_and_set_as_the_batch_commands_do(capsys):
    """The stress overlay first, then --set: a --set of a stress parameter wins (it once lost
    to the overlay in `h2chain run` alone, silently)."""
    import json

    from experiments import scenario_io
    from experiments.cli import main

    sets = {"n_smes": 30, "late_payment_months": 3}
    argv = ["run", "baseline", "--months", "2", "--stress", "leader_late_payment", "--json"]
    assert main(argv + [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]) == 0
    shown = json.loads(capsys.readouterr().out)["provenance"]["params_hash"]
    expected = scenario_io.load("baseline", sets, "leader_late_payment")
    assert expected.late_payment_months == 3 and expected.late_payer  # the stress is on, its length is ours
    assert shown == expected.stable_hash()


@pytest.mark.parametrize("argv, message", [
    (["--set", "bogus=1"], "--set: bogus: unknown parameter"),
    (["--set", "n_smes=abc"], "--set: n_smes: expected a whole number"),
    (["--stress", "risk_fund"], "is not a stress scenario"),
    (["--months", "0"], "--months: 0 is not allowed"),
    (["--seed", "-1"], "--seed must be a non-negative integer"),
])
def test_run_command_user_errors_are_one_line_exit_2(argv, message, capsys):
    from experiments.cli import main

    assert main(["run", "baseline", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0 and "Traceback" not in err


def test_stress_is_repeatable_and_means_the_same_in_show_run_and_compare(tmp_path, capsys):
    """Two --stress options overlay both, in order, in every command (run and compare once kept
    only the last one while show applied both, so show displayed parameters run did not use)."""
    import json

    from experiments import scenario_io
    from experiments.cli import main

    stresses = ["--stress", "leader_late_payment", "--stress", "rate_rise"]
    expected = scenario_io.load("baseline", {"n_smes": 30}, ["leader_late_payment", "rate_rise"])
    assert expected.late_payer and expected.rate_rise_pp > 0  # both overlays are on
    assert main(["show", "baseline", *stresses, "--set", "n_smes=30"]) == 0
    assert expected.stable_hash() in capsys.readouterr().out
    assert main(["run", "baseline", "--months", "2", "--json", *stresses, "--set", "n_smes=30"]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"]["params_hash"] == expected.stable_hash()
    out = tmp_path / "cmp"
    assert main(["compare", "baseline", "--reps", "1", "--months", "2", "--jobs", "1", "--quiet", "--no-figures",
                 "--out", str(out), *stresses, "--set", "n_smes=30"]) == 0
    with sqlite3.connect(out / "results.sqlite") as conn:
        hashes = {h for (h,) in conn.execute("SELECT params_hash FROM runs")}
    assert hashes == {expected.stable_hash()}
    # one --stress is recorded as before (a string), so older experiments resume unchanged
    assert (scenario_io.stress_value(None), scenario_io.stress_value(["rate_rise"])) == (None, "rate_rise")


def test_run_command_refuses_an_unwritable_csv_before_running(tmp_path, capsys, monkeypatch):
    import experiments.runner
    from experiments.cli import main

    def no_run(*args):
        raise AssertionError("the run should not start")
    monkeypatch.setattr(experiments.runner, "run", no_run)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for csv in (tmp_path, blocker / "sub" / "m.csv"):
        assert main(["run", "baseline", "--months", "1", "--set", "n_smes=30", "--csv", str(csv)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("h2chain: error: --csv") and err.strip().count("\n") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written
