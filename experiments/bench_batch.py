"""Batch throughput benchmark: 1 vs 2 local workers, store overhead, parent memory.

`bench_batch()` returns a dict so the benchmark command (and anything else) can call it:

    from experiments.bench_batch import bench_batch
    bench_batch(n_runs=200, months=12, n_smes=50)

Targets in issue 4: 2 workers give >= 1.8x the throughput of 1 on a 200-run batch; store
overhead < 5 ms per run; the parent's memory stays flat as a batch grows.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any


def _rss_mb() -> float:
    """Current resident memory of this process in MB."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - psutil comes with dask[distributed]
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_batch(n_runs: int = 200, months: int = 12, n_smes: int = 50, workers: Sequence[int] = (1, 2),
                seed: int = 1, run_fn: Callable | None = None, params=None) -> dict[str, Any]:
    """Run the same `n_runs`-run batch with each worker count in a fresh store.

    Returns per worker count: wall time, runs per second (whole batch, pool start
    included) and steady runs per second (between the first and the last result), store
    seconds per run, and the parent's memory at 10% and at 100% of the batch; plus the
    speed-up of the largest worker count over the smallest.
    """
    from experiments.execute import RunSpec, execute
    from experiments.runner import code_version, replication_seeds
    from experiments.store import ResultsStore
    from model.params import ModelParams

    base = params if params is not None else ModelParams(n_smes=n_smes)
    seeds = replication_seeds(seed, n_runs)
    cv = code_version()
    specs = [RunSpec.make("bench", base, s, k, months, cv) for k, s in enumerate(seeds)]
    out: dict[str, Any] = {"n_runs": n_runs, "months": months, "n_smes": getattr(base, "n_smes", None),
                           "cpu_count": os.cpu_count(), "by_workers": {}}
    for w in workers:
        stamps: list[float] = []
        rss: list[float] = []

        def on_result(spec, payload, stamps=stamps, rss=rss):
            stamps.append(time.perf_counter())
            if len(stamps) in (max(1, n_runs // 10), n_runs):
                rss.append(_rss_mb())

        with tempfile.TemporaryDirectory() as d, ResultsStore(d) as store:
            rss_start = _rss_mb()
            outcome = execute(specs, store, run_fn=run_fn, jobs=w, quiet=True, force_pool=True, on_result=on_result)
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else None
        out["by_workers"][w] = {
            "wall_s": outcome.wall_s,
            "runs_per_s": outcome.ok / outcome.wall_s if outcome.wall_s else None,
            "steady_runs_per_s": steady,
            "failed": outcome.failed,
            "store_ms_per_run": 1000.0 * outcome.store_s / max(1, outcome.ok + outcome.failed),
            "rss_start_mb": rss_start,
            "rss_at_10pct_mb": rss[0] if rss else None,
            "rss_end_mb": rss[-1] if rss else None,
            "rss_growth_mb": (rss[-1] - rss[0]) if len(rss) == 2 else None,
        }
    lo, hi = min(workers), max(workers)
    a, b = out["by_workers"][lo], out["by_workers"][hi]
    out["speedup"] = (b["runs_per_s"] / a["runs_per_s"]) if a["runs_per_s"] else None
    out["steady_speedup"] = (b["steady_runs_per_s"] / a["steady_runs_per_s"]
                             if a["steady_runs_per_s"] and b["steady_runs_per_s"] else None)
    out["store_ms_per_run"] = max(v["store_ms_per_run"] for v in out["by_workers"].values())
    out["rss_growth_mb"] = max((v["rss_growth_mb"] or 0.0) for v in out["by_workers"].values())
    return out


def store_overhead_ms(n_runs: int = 200, months: int = 60, n_kpis: int = 35, n_summary: int = 30) -> float:
    """Milliseconds to write one run (summary row + months x KPIs monthly rows) to the store."""
    import numpy as np
    import pandas as pd

    from experiments.store import ResultsStore, encode_monthly

    frame = pd.DataFrame(np.arange((months + 1) * n_kpis, dtype=float).reshape(months + 1, n_kpis),
                         columns=[f"kpi_{i}" for i in range(n_kpis)])
    frame.insert(0, "month", np.arange(months + 1))
    monthly = encode_monthly(frame)  # done by the worker in a batch, so outside the timing
    summary = {f"s_{i}": float(i) for i in range(n_summary)}
    with tempfile.TemporaryDirectory() as d, ResultsStore(d) as store:
        t0 = time.perf_counter()
        for k in range(n_runs):
            row = dict(run_id=f"r{k}", label="x", point=None, rep=k, seed=k, months=months, params_hash="h",
                       params_json="{}", code_version="v", status="ok", error=None, wall_s=0.0, finished_at="t")
            store.write_run(row, summary, monthly)
        return 1000.0 * (time.perf_counter() - t0) / n_runs


if __name__ == "__main__":  # pragma: no cover - manual use
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(json.dumps({"store_ms_per_run_synthetic": store_overhead_ms(), **bench_batch(n_runs=n)}, indent=2,
                     default=str))
