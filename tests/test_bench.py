"""`h2chain bench` runs and writes the figures it promises. A smoke test, not a timing test:
nothing here asserts how fast anything is."""

from __future__ import annotations

import json
import os

import pytest

from experiments import bench
from experiments.cli import main

TINY = {
    "per_n": ((60, 2, 1), (120, 1, 1)),
    "scaling": ((30, 1), (60, 2), (120, 1)),
    "scaling_reps": 1,
    "run_60": {"n_smes": 20, "reps": 1},
    "batch": {"n_runs": 2, "n_smes": 20, "months": 1},
    "memory": {"n_smes": 50, "months": 1},
}


def check_figures(data: dict) -> None:
    for key in ("machine", "per_n", "ratio_vs_boltzmann", "scaling", "batch", "memory", "run_60_months_1000_smes_s"):
        assert key in data
    assert {"cpu_count", "python", "mesa", "load_average", "cpu_model", "cpu_caches"} <= set(data["machine"])
    for n, ratios in data["ratio_vs_boltzmann"].items():
        assert set(ratios) == set(bench.SCENARIOS)
        assert all(r > 0 for r in ratios.values())
        assert data["per_n"][n]["boltzmann_us_per_agent_step"] > 0
    assert set(data["batch"]["by_workers"]) >= {1, 2} or set(data["batch"]["by_workers"]) >= {"1", "2"}
    assert data["memory"]["peak_mb"] > 0
    assert data["run_60_months_1000_smes_s"] > data["run_60_months_1000_smes"]["run_s"] > 0


def test_bench_writes_the_expected_keys(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "QUICK", TINY)
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    check_figures(data)
    assert set(data["ratio_vs_boltzmann"]) == {"60", "120"}
    assert "cost_10000_vs_1000" not in data["scaling"]  # only when both sizes are on the curve
    printed = capsys.readouterr().out
    assert "µs" in printed
    assert "pool start excluded" in printed  # the steady speed-up next to the wall one


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("H2CHAIN_BENCH"), reason="the real --quick benchmark; set H2CHAIN_BENCH=1")
def test_bench_quick(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    check_figures(data)
    assert set(data["ratio_vs_boltzmann"]) == {"1000", "10000"}
    assert "cost_10000_vs_1000" in data["scaling"]


def test_perf_count_refuses_without_valgrind_or_with_bad_sizes(monkeypatch, capsys):
    from experiments import perf_count

    monkeypatch.setattr(perf_count.shutil, "which", lambda name: None)
    assert perf_count.main([]) == 2
    assert "valgrind is not installed" in capsys.readouterr().err
    monkeypatch.setattr(perf_count.shutil, "which", lambda name: "/usr/bin/valgrind")
    assert perf_count.main(["--months", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_perf_count_by_function_counts_the_months_work_without_valgrind(monkeypatch):
    """The bytecode count needs no valgrind, covers the model's verbs, and is repeatable."""
    from experiments import perf_count

    monkeypatch.setattr(perf_count.shutil, "which", lambda name: None)
    rows = perf_count.bytecodes_by_function(20, 2, None)
    names = [name for name, _ in rows]
    assert any(name.startswith("SME.financing_gap ") for name in names)
    assert any(name.startswith("Ledger.transfer ") for name in names)
    assert not any(name.startswith("HydrogenChainModel.__init__ ") for name in names)  # construction is not counted
    assert [c for _, c in rows] == sorted((c for _, c in rows), reverse=True)
    assert perf_count.bytecodes_by_function(20, 2, None) == rows
    assert perf_count.main(["--smes", "20", "--months", "2", "--by-function", "3"]) == 0


def test_perf_count_vs_boltzmann_counts_both_models_months_and_prints_the_ratio(monkeypatch, capsys):
    """The ratio is (ours with M months - ours with 0) / (Boltzmann with M steps - with 0),
    each per agent-step; the child programs given to valgrind are the real ones."""
    import subprocess
    import sys

    from experiments import perf_count

    seen = []

    def fake_callgrind(code, *args):
        seen.append((code, args))
        # the child program really runs (without valgrind), so a broken one fails here
        subprocess.run([sys.executable, "-c", code, *(["5", "1", ""][:len(args)])], check=True,
                       cwd=perf_count.ROOT, env=perf_count.child_env())
        n, steps = int(args[0]), int(args[1])
        per_step = 100 if code is perf_count._CHILD else 40
        return 1_000 + per_step * n * steps

    monkeypatch.setattr(perf_count.shutil, "which", lambda name: "/usr/bin/valgrind")
    monkeypatch.setattr(perf_count, "_callgrind", fake_callgrind)
    assert perf_count.main(["--smes", "30", "--months", "2", "--vs-boltzmann"]) == 0
    out = capsys.readouterr().out
    assert "100 instructions per SME-month" in out
    assert "40 instructions per agent-step of BoltzmannWealth (30 agents x 2 steps); ratio 2.50" in out
    assert [(code is perf_count._BOLTZMANN_CHILD, args) for code, args in seen] == [
        (False, ("30", "0", "")), (False, ("30", "2", "")), (True, ("30", "2")), (True, ("30", "0"))]


def test_scaling_interleaves_sizes_and_pairs_the_rounds(monkeypatch):
    calls = []
    # µs per SME-month by (N, round): the machine drifts between rounds
    table = {(1_000, 1): 10.0, (10_000, 1): 12.0, (1_000, 2): 20.0, (10_000, 2): 36.0,
             (1_000, 3): 30.0, (10_000, 3): 40.0}

    def fake_time_model(n, months, scenario, seed):
        calls.append((n, seed))
        return table[(n, seed)], 0.0

    monkeypatch.setattr(bench, "time_model", fake_time_model)
    reuse = {"100": {"months": 6, "model_us_per_sme_month": {"default": 7.0}}}
    out = bench.scaling_curve(((100, 6), (1_000, 12), (10_000, 12)), 3, 1, reuse)
    assert calls == [(1_000, 1), (10_000, 1), (1_000, 2), (10_000, 2), (1_000, 3), (10_000, 3)]
    assert out["curve"]["100"] == {"months": 6, "us_per_sme_month": 7.0, "from": "head to head"}
    assert out["curve"]["1000"]["us_per_sme_month"] == 20.0
    assert out["curve"]["10000"]["samples_us"] == [12.0, 36.0, 40.0]
    assert out["cost_10000_vs_1000"] == pytest.approx(36.0 / 20.0)
    assert out["cost_10000_vs_1000_paired_median"] == pytest.approx(40.0 / 30.0)  # of 1.2, 1.8, 1.33


def test_an_unwritable_json_file_is_refused_before_the_benchmark_runs(tmp_path, capsys, monkeypatch):
    import experiments.bench

    def no_bench(**kwargs):
        raise AssertionError("the benchmark should not start")
    monkeypatch.setattr(experiments.bench, "run_bench", no_bench)
    assert main(["bench", "--quick", "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("h2chain: error: --json") and err.strip().count("\n") == 0
