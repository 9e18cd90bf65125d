"""Golden runs for performance work: an optimisation must not change results.

    python -m experiments.perf_golden record DIR               # before optimising
    python -m experiments.perf_golden compare DIR [--audit]    # after every change: exact equality
    python -m experiments.perf_golden compare DIR --rtol 1e-9  # a change that re-orders sums

Records, for several scenarios (with and without the leader_late_payment stress) and seeds,
the end-of-run summary and the monthly frame of a 200-SME, 36-month run, and compares them
bit for bit (NaN equals NaN), or within a relative tolerance for a change that nets payments
and so rounds differently; it prints the largest relative difference of each case. Not part
of the test suite: it is a tool for refactoring.
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
from pathlib import Path

SCENARIOS = ("baseline", "order_insurance_credit", "north_china_hydrogen_capital")
STRESSES = (None, "leader_late_payment")
SEEDS = (1, 2, 3)
N_SMES = 200
MONTHS = 36


def cases():
    for name in SCENARIOS:
        for stress in STRESSES:
            for seed in SEEDS:
                yield name, stress, seed


def run_case(name: str, stress: str | None, seed: int, audit: bool = False):
    from model import HydrogenChainModel
    from scenarios import apply_stress, load_scenario

    params = load_scenario(name, overrides={"n_smes": N_SMES, "plan_scale": N_SMES / 300})
    if stress:
        params = apply_stress(params, stress)
    m = HydrogenChainModel(scenario=params, rng=seed, audit=audit)
    m.run(MONTHS)
    return m.summary(), m.datacollector.get_model_vars_dataframe()


def _rel_diff(a, b) -> float:
    """0 for equal values (NaN equals NaN); |a - b| / max(|a|, |b|, 1) for two numbers; inf
    for values of different types or unequal non-numbers."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and type(a) is type(b):
        if a == b or (math.isnan(a) and math.isnan(b)):
            return 0.0
        if math.isnan(a) or math.isnan(b):
            return math.inf
        return abs(a - b) / max(abs(a), abs(b), 1.0)  # absolute below 1 (ratios, rounding residues)
    return 0.0 if (a == b and type(a) is type(b)) else math.inf


def record(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for case in cases():
        summary, frame = run_case(*case)
        with open(directory / f"{case[0]}_{case[1]}_{case[2]}.pkl", "wb") as fh:
            pickle.dump((summary, frame), fh)
        print("recorded", case)


def compare(directory: Path, audit: bool = False, rtol: float = 0.0) -> int:
    bad = 0
    for case in cases():
        with open(directory / f"{case[0]}_{case[1]}_{case[2]}.pkl", "rb") as fh:
            summary0, frame0 = pickle.load(fh)
        summary, frame = run_case(*case, audit=audit)
        worst, where = 0.0, ""
        pairs = [(k, summary0.get(k), summary.get(k)) for k in sorted(set(summary0) | set(summary))]
        if list(frame.columns) != list(frame0.columns) or frame.shape != frame0.shape:
            worst, where = math.inf, "frame shape/columns"
        else:
            for col in frame.columns:
                pairs += [(f"{col}[{i}]", x, y) for i, (x, y) in enumerate(zip(frame0[col].tolist(), frame[col].tolist()))]
        for key, x, y in pairs:
            d = _rel_diff(x, y)
            if d > worst:
                worst, where = d, f"{key}: {x!r} != {y!r}"
        verdict = "IDENTICAL" if worst == 0.0 else ("WITHIN" if worst <= rtol else "DIFFERENT")
        print(f"{verdict} {case} largest relative difference {worst:.3g}" + (f" ({where})" if where else ""))
        bad += verdict == "DIFFERENT"
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.perf_golden", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("record", "compare"))
    parser.add_argument("directory", type=Path, help="where the golden runs are (record writes, compare reads)")
    parser.add_argument("--audit", action="store_true", help="compare: rerun with the ledger audit after every phase")
    parser.add_argument("--rtol", type=float, default=0.0, help="compare: largest relative difference accepted (default 0: bit for bit)")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.directory)
        return 0
    return compare(args.directory, audit=args.audit, rtol=args.rtol)


if __name__ == "__main__":
    sys.exit(main())
