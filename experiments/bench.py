"""`h2chain bench`: how fast the model is, measured against Mesa's own reference model.

Everything is timed in ONE process and alternately (Boltzmann, default scenario, full policy
mix, Boltzmann, ...), several repetitions, medians: on a shared, noisy machine the *ratio*
of our SME-month to Mesa's BoltzmannWealth agent-step is the figure that holds, not the
absolute microseconds.

Figures (all written to `--json FILE`):
- `per_n`: for N = 1,000 and 10,000, µs per agent-step of BoltzmannWealth (N agents on an
  N-cell grid, i.e. Mesa's default density of one agent per cell; its data collection on)
  and µs per SME-month of our model (N SMEs, `plan_scale = N / 300` so orders per SME stay
  as calibrated, data collection on), default scenario and `north_china_hydrogen_capital`;
  `ratio_vs_boltzmann` = ours / Boltzmann, per N (a ratio of medians; `ratio_paired_median`
  is the median of each repetition's own ratio, printed next to it). Boltzmann's steps run
  under the same garbage-collector threshold as our `run` (`model.collector`): the ratio
  compares the models' work, not the collector's settings (at 10,000 agents the default
  threshold made Boltzmann's step 12.9 µs against 8.8, measured).
- `scaling`: µs per SME-month from 100 to 20,000 SMEs (sizes interleaved, medians), and the
  cost at 10,000 over 1,000, also as the median of each round's own ratio.
- `run_60_months_1000_smes_s`: wall time of a 60-month, 1,000-SME run (construction, the
  monthly frame and the summary included; imports not), each in a fresh process, median of 3
  (1 with `--quick`).
- `batch`: runs per second with 1 and 2 worker processes.
- `memory`: peak resident memory (maxrss) of a fresh worker process running 10,000 SMEs.
- `machine`: cpu count, python, mesa version, load average before and after.

Model construction is timed separately and excluded from the per-step figures (Boltzmann's
too). This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

FULL_MIX = "north_china_hydrogen_capital"
SCENARIOS = ("default", FULL_MIX)

# (N, months, repetitions) for the head-to-head timings
FULL = {
    "per_n": ((1_000, 24, 5), (10_000, 12, 3)),
    "scaling": ((100, 12), (300, 12), (1_000, 12), (3_000, 12), (10_000, 12), (20_000, 12)),  # same months for all
    "scaling_reps": 3,
    "run_60": {"n_smes": 1_000, "reps": 3},
    "batch": {"n_runs": 200, "n_smes": 300, "months": 24},
    "memory": {"n_smes": 10_000, "months": 60},
}
QUICK = {
    "per_n": ((1_000, 6, 3), (10_000, 2, 1)),
    "scaling": ((100, 6), (1_000, 6), (10_000, 2)),  # 1,000 and 10,000 reuse the head-to-head figures
    "scaling_reps": 1,
    "run_60": {"n_smes": 1_000, "reps": 1},
    "batch": {"n_runs": 8, "n_smes": 100, "months": 6},
    "memory": {"n_smes": 10_000, "months": 2},
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="time the model against Mesa's BoltzmannWealth (same process)",
                       description="Benchmark: µs per SME-month vs Mesa's BoltzmannWealth agent-step, "
                                   "scaling, a 60-month run, batch throughput and peak memory.")
    p.add_argument("--quick", action="store_true", help="a smaller benchmark that finishes in under a minute")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write all figures to FILE as JSON")
    p.add_argument("--seed", type=int, default=1, help="random seed of every timed run (default 1)")
    p.set_defaults(func=main)


# -- the timed units ------------------------------------------------------------------------
def boltzmann_grid(n: int) -> tuple[int, int]:
    """A grid of about n cells (Mesa's default is 100 agents on 10x10: one agent per cell)."""
    width = max(1, round(math.sqrt(n)))
    height = max(1, round(n / width))
    return width, height


def build_boltzmann(n: int, seed: int):
    """Mesa's BoltzmannWealth with `n` agents on an `n`-cell grid (its data collection on)."""
    from mesa.examples import BoltzmannWealth
    from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario

    width, height = boltzmann_grid(n)
    return BoltzmannWealth(scenario=BoltzmannScenario(n=n, width=width, height=height, rng=seed))


def run_boltzmann(model, steps: int) -> None:
    """`steps` steps of a BoltzmannWealth model, under the collector threshold our model's
    `run` uses (see the module docstring)."""
    from model.collector import rarer_collections

    with rarer_collections():
        for _ in range(steps):
            model.step()


def time_boltzmann(n: int, steps: int, seed: int) -> float:
    """µs per agent-step of Mesa's BoltzmannWealth (with its data collection)."""
    model = build_boltzmann(n, seed)
    t0 = time.perf_counter()
    run_boltzmann(model, steps)
    return (time.perf_counter() - t0) / (n * steps) * 1e6


def build_model(n: int, scenario: str | None, seed: int):
    from model import HydrogenChainModel

    return HydrogenChainModel(scenario=scenario, rng=seed, n_smes=n, plan_scale=n / 300)


def time_model(n: int, months: int, scenario: str | None, seed: int) -> tuple[float, float]:
    """(µs per SME-month, construction seconds) of our model, data collection on."""
    t0 = time.perf_counter()
    model = build_model(n, scenario, seed)
    t1 = time.perf_counter()
    model.run(months)
    t2 = time.perf_counter()
    return (t2 - t1) / (n * months) * 1e6, t1 - t0


def run_60_months(n: int = 1_000, seed: int = 1) -> dict:
    """Wall and CPU time of one whole run (construction, 60 months, the monthly frame and the
    summary) in this process. On a shared machine the CPU time is the steadier of the two."""
    c0, t0 = time.process_time(), time.perf_counter()
    model = build_model(n, None, seed)
    t1 = time.perf_counter()
    model.run(60)
    t2 = time.perf_counter()
    model.datacollector.get_model_vars_dataframe()
    model.summary()
    c3, t3 = time.process_time(), time.perf_counter()
    return {"n_smes": n, "months": 60, "construct_s": t1 - t0, "run_s": t2 - t1, "total_s": t3 - t0, "cpu_s": c3 - c0}


def scaling_curve(points, reps: int, seed: int, reuse: dict) -> dict:
    """µs per SME-month of the default scenario at each (N, months) in `points`, median of
    `reps` rounds. Each round times every size once, smallest first, so that a machine that
    slows down for a minute slows every size alike; the cost at 10,000 over 1,000 is also
    given as the median of each round's own ratio. `reuse`: head-to-head figures (per N) to
    take instead of timing again, where their months match (the quick benchmark)."""
    samples: dict[str, list[float]] = {}
    curve: dict[str, dict] = {}
    for n, months in points:
        same = reuse.get(str(n))
        if same is not None and same["months"] == months:
            curve[str(n)] = {"months": months, "us_per_sme_month": same["model_us_per_sme_month"]["default"],
                             "from": "head to head"}
        else:
            samples[str(n)] = []
            curve[str(n)] = {"months": months}
    for k in range(reps):
        for n, months in points:
            if str(n) in samples:
                samples[str(n)].append(time_model(n, months, None, seed + k)[0])
    for n, runs in samples.items():
        curve[n].update(us_per_sme_month=statistics.median(runs), samples_us=runs)
    out: dict = {"curve": curve}
    if "1000" in curve and "10000" in curve:
        out["cost_10000_vs_1000"] = curve["10000"]["us_per_sme_month"] / curve["1000"]["us_per_sme_month"]
        if "1000" in samples and "10000" in samples:
            out["cost_10000_vs_1000_paired_median"] = statistics.median(
                big / small for big, small in zip(samples["10000"], samples["1000"]))
    return out


# -- batch throughput --------------------------------------------------------------------------
def _batch_one(job: tuple[int, int, int]) -> float:
    n, months, seed = job
    model = build_model(n, None, seed)
    model.run(months)
    model.datacollector.get_model_vars_dataframe()
    return model.summary()["sme_survival_rate"]


def _warm(_: int) -> int:
    import model  # noqa: F401  (imports paid before the clock starts)

    return os.getpid()


def batch_throughput(n_runs: int, n_smes: int, months: int, seed: int) -> dict:
    """Runs per second with 1 and 2 workers. Uses the experiments helper's
    `experiments.bench_batch.bench_batch` when it is available; otherwise a process pool."""
    try:
        from experiments.bench_batch import bench_batch
    except ImportError:
        bench_batch = None
    if bench_batch is not None:
        out = bench_batch(n_runs=n_runs, months=months, n_smes=n_smes, workers=(1, 2), seed=seed)
        out["method"] = "experiments.bench_batch.bench_batch"
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(n_smes, months, seed + k) for k in range(n_runs)]
    out: dict = {"n_runs": n_runs, "n_smes": n_smes, "months": months, "by_workers": {},
                 "method": "concurrent.futures.ProcessPoolExecutor (spawn); pool started and warmed before timing"}
    for workers in (1, 2):
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            list(pool.map(_warm, range(workers)))
            t0 = time.perf_counter()
            list(pool.map(_batch_one, jobs, chunksize=1))
            wall = time.perf_counter() - t0
        out["by_workers"][workers] = {"wall_s": wall, "runs_per_s": n_runs / wall}
    one, two = out["by_workers"][1]["runs_per_s"], out["by_workers"][2]["runs_per_s"]
    out["speedup"] = two / one
    return out


def _steady_note(batch: dict) -> str:
    """The speed-up between the first and the last result, when the batch reports it. In a
    short batch (--quick) starting the pool dominates the wall time, and the first pool of the
    process pays more for it than the second: 8 runs gave 4.5x on the wall against 2.0x steady."""
    steady = batch.get("steady_speedup")
    return f" (steady {steady:.2f}, pool start excluded)" if steady else ""


# -- fresh processes -------------------------------------------------------------------------------
# A run after the benchmark's 20,000-SME models ran slower in the same process (4.4 s against
# 3.0 s, measured): the 60-month run and the memory figure each get a fresh child process,
# as a user's run would.
_RUN_60_CHILD = """
import json
from experiments.bench import run_60_months
from model import HydrogenChainModel  # imports are paid before the clock starts
print(json.dumps(run_60_months({n}, {seed})))
"""


ROOT = Path(__file__).resolve().parent.parent


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh interpreter that imports this checkout."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), **extra)


def _child_json(code: str) -> dict:
    """Run `code` in a fresh interpreter with this checkout importable; its last line of
    output, as JSON."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=child_env(), check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_60_months_fresh(n: int, seed: int, reps: int) -> dict:
    """`run_60_months` in `reps` fresh child processes; the run with the median total time."""
    runs = sorted((_child_json(_RUN_60_CHILD.format(n=n, seed=seed)) for _ in range(reps)), key=lambda r: r["total_s"])
    out = dict(runs[len(runs) // 2])
    out.update({"runs_total_s": [r["total_s"] for r in runs],
                "method": f"median of {reps} fresh child processes; imports before the clock, construction, "
                          "60 months, the monthly frame and the summary timed"})
    return out


# -- memory --------------------------------------------------------------------------------------
_MEMORY_CHILD = """
import json
from experiments.bench import build_model, peak_rss_mb
import model
base = peak_rss_mb()
m = build_model({n}, None, {seed})
built = peak_rss_mb()
m.run({months})
m.datacollector.get_model_vars_dataframe()
peak = peak_rss_mb()
print(json.dumps({{"baseline_mb": base, "after_construct_mb": built, "peak_mb": peak}}))
"""


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM from /proc (reset by exec, unlike
    ru_maxrss, which a child started by a big parent inherits), else ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def peak_memory(n_smes: int, months: int, seed: int) -> dict:
    """Peak RSS of a fresh Python process that imports the model and runs it (Linux maxrss)."""
    out = _child_json(_MEMORY_CHILD.format(n=n_smes, months=months, seed=seed))
    out.update({"n_smes": n_smes, "months": months, "method": "peak RSS (VmHWM) of a fresh child process, interpreter and imports included"})
    return out


# -- the benchmark --------------------------------------------------------------------------------
# Both timings move with the machine, and not by the same factor: on two virtual machines of
# the same kind (22 Nov, hours apart), Boltzmann's 1,000-agent step took 11.4 and 5.3 µs, our
# 1,000-SME month 51 and about 35 µs. The CPU and its caches are recorded so that figures from
# different machines are not compared as if they were one.
def _cpu_model() -> str | None:
    """The CPU's model name (Linux /proc/cpuinfo), or None where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_caches() -> dict[str, str]:
    """Cache sizes of the first CPU by level and type (Linux sysfs), e.g. {"L2": "512K"}."""
    caches = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        caches[f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")] = size
    return caches


def machine() -> dict:
    import mesa

    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "mesa": mesa.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_caches": _cpu_caches(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def head_to_head(n: int, months: int, reps: int, seed: int, say) -> dict:
    """Alternate Boltzmann and our two scenarios `reps` times; medians."""
    samples: dict[str, list[float]] = {"boltzmann": [], **{s: [] for s in SCENARIOS}}
    construct: dict[str, list[float]] = {s: [] for s in SCENARIOS}
    for rep in range(reps):
        samples["boltzmann"].append(time_boltzmann(n, months, seed + rep))
        for sc in SCENARIOS:
            us, built = time_model(n, months, None if sc == "default" else sc, seed + rep)
            samples[sc].append(us)
            construct[sc].append(built)
        say(f"  N={n:>6} rep {rep + 1}/{reps}: boltzmann {samples['boltzmann'][-1]:.2f}, "
            + ", ".join(f"{sc} {samples[sc][-1]:.2f}" for sc in SCENARIOS) + " µs")
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "n": n, "months": months, "repetitions": reps,
        "boltzmann_grid": "x".join(map(str, boltzmann_grid(n))),
        "boltzmann_us_per_agent_step": med["boltzmann"],
        "model_us_per_sme_month": {sc: med[sc] for sc in SCENARIOS},
        "ratio_vs_boltzmann": {sc: med[sc] / med["boltzmann"] for sc in SCENARIOS},
        # the same, paired: the median over repetitions of (ours / Boltzmann timed next to it)
        "ratio_paired_median": {sc: statistics.median(a / b for a, b in zip(samples[sc], samples["boltzmann"]))
                                for sc in SCENARIOS},
        "construct_s": {sc: statistics.median(v) for sc, v in construct.items()},
        "samples_us": samples,
    }


def run_bench(quick: bool = False, seed: int = 1, say=print) -> dict:
    cfg = QUICK if quick else FULL
    t_start = time.perf_counter()
    result: dict = {"quick": quick, "seed": seed, "machine": machine(), "per_n": {}}
    mach = result["machine"]
    caches = ", ".join(f"{k} {v}" for k, v in mach["cpu_caches"].items() if k[:2] in ("L2", "L3"))
    say(f"h2chain bench ({'quick' if quick else 'full'}) on {mach['cpu_count']} CPUs ({mach['cpu_model'] or 'CPU unknown'}"
        f"{'; ' + caches if caches else ''}), load {mach['load_average']}, Python {mach['python']}, Mesa {mach['mesa']}")
    say("head to head (µs per agent-step / SME-month, alternating, medians):")
    for n, months, reps in cfg["per_n"]:
        result["per_n"][str(n)] = head_to_head(n, months, reps, seed, say)
    result["ratio_vs_boltzmann"] = {n: r["ratio_vs_boltzmann"] for n, r in result["per_n"].items()}
    for n, r in result["per_n"].items():
        say(f"N={n}: Boltzmann {r['boltzmann_us_per_agent_step']:.2f} µs/agent-step ({r['boltzmann_grid']} grid); "
            + "; ".join(f"{sc} {r['model_us_per_sme_month'][sc]:.2f} µs/SME-month = {r['ratio_vs_boltzmann'][sc]:.2f}x"
                        f" (paired {r['ratio_paired_median'][sc]:.2f}x)" for sc in SCENARIOS))

    say("scaling (default scenario, µs per SME-month; sizes interleaved, medians):")
    result["scaling"] = scaling = scaling_curve(cfg["scaling"], cfg["scaling_reps"], seed, result["per_n"] if quick else {})
    for n, point in scaling["curve"].items():
        say(f"  {int(n):>6} SMEs x {point['months']} months: {point['us_per_sme_month']:.2f}")
    if "cost_10000_vs_1000" in scaling:
        paired = scaling.get("cost_10000_vs_1000_paired_median")
        say(f"  per-SME cost at 10,000 / at 1,000: {scaling['cost_10000_vs_1000']:.2f}"
            + (f" (median of the rounds' own ratios: {paired:.2f})" if paired is not None else ""))

    run60 = run_60_months_fresh(cfg["run_60"]["n_smes"], seed, cfg["run_60"]["reps"])
    result["run_60_months_1000_smes"] = run60
    result["run_60_months_1000_smes_s"] = run60["total_s"]
    say(f"60 months x {run60['n_smes']:,} SMEs, fresh process: {run60['total_s']:.2f} s wall, {run60['cpu_s']:.2f} s CPU "
        f"(construction {run60['construct_s']:.2f} s included; runs {', '.join(f'{t:.2f}' for t in run60['runs_total_s'])} s)")

    b = cfg["batch"]
    result["batch"] = batch_throughput(b["n_runs"], b["n_smes"], b["months"], seed)
    say(f"batch of {b['n_runs']} runs ({b['n_smes']} SMEs x {b['months']} months): "
        + ", ".join(f"{w} worker(s) {v['runs_per_s']:.2f} runs/s" for w, v in result["batch"]["by_workers"].items())
        + f"; speed-up {result['batch']['speedup']:.2f}" + _steady_note(result["batch"]))

    mem = cfg["memory"]
    result["memory"] = peak_memory(mem["n_smes"], mem["months"], seed)
    say(f"peak memory, {mem['n_smes']:,} SMEs x {mem['months']} months in a fresh process: "
        f"{result['memory']['peak_mb']:.0f} MB (interpreter and imports: {result['memory']['baseline_mb']:.0f} MB)")

    result["machine"]["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["wall_s"] = time.perf_counter() - t_start
    say(f"benchmark took {result['wall_s']:.1f} s; load average now {result['machine']['load_average_after']}")
    return result


def main(args: argparse.Namespace) -> int:
    if args.json is not None:
        from experiments.cli import check_output_file

        check_output_file(args.json, "--json")  # before minutes of timing, not after
    result = run_bench(quick=args.quick, seed=args.seed, say=print)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"figures: {args.json}")
    return 0
