"""Golden runs for performance work: an optimisation must not change results.

    python -m experiments.perf_golden record DIR   # before optimising
    python -m experiments.perf_golden compare DIR  # after every change: exact equality

Records, for several scenarios (with and without the leader_late_payment stress) and seeds,
the end-of-run summary and the monthly frame of a 200-SME, 36-month run, and compares them
bit for bit (NaN equals NaN). Not part of the test suite: it is a tool for refactoring.
"""

from __future__ import annotations

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


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


def record(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for case in cases():
        summary, frame = run_case(*case)
        with open(directory / f"{case[0]}_{case[1]}_{case[2]}.pkl", "wb") as fh:
            pickle.dump((summary, frame), fh)
        print("recorded", case)


def compare(directory: Path, audit: bool = False) -> int:
    bad = 0
    for case in cases():
        with open(directory / f"{case[0]}_{case[1]}_{case[2]}.pkl", "rb") as fh:
            summary0, frame0 = pickle.load(fh)
        summary, frame = run_case(*case, audit=audit)
        diffs = [k for k in set(summary0) | set(summary) if not _same(summary0.get(k), summary.get(k))]
        if list(frame.columns) != list(frame0.columns) or frame.shape != frame0.shape:
            diffs.append("frame shape/columns")
        else:
            for col in frame.columns:
                for i, (x, y) in enumerate(zip(frame0[col].tolist(), frame[col].tolist())):
                    if not _same(x, y):
                        diffs.append(f"{col}[{i}]: {x!r} != {y!r}")
                        break
        print(("IDENTICAL " if not diffs else "DIFFERENT ") + str(case) + ("" if not diffs else f": {diffs[:6]}"))
        bad += bool(diffs)
    return 1 if bad else 0


if __name__ == "__main__":
    cmd, directory = sys.argv[1], Path(sys.argv[2])
    if cmd == "record":
        record(directory)
    else:
        sys.exit(compare(directory, audit="--audit" in sys.argv))
