"""The one function every experiment wraps: `run(params, seed, months) -> RunResult`.

Everything else in `experiments/` (batches, sweeps, the results store, process pools,
Dask, figures) is built around this function and knows nothing about the economics.
It is a plain top-level function of picklable arguments, so process pools and Dask
workers can call it by reference.
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PACKAGE = "h2chain"
TRACKED_PACKAGES = ("mesa", "numpy", "networkx", "pandas")


@dataclass
class RunResult:
    """What one model run produced.

    `summary`: end-of-run KPIs (name -> float or None).
    `monthly`: one row per month (month 0 included), a `month` column and one column per KPI.
    `provenance`: parameter hash, seed, months, code version and package versions.
    """

    summary: dict[str, Any]
    monthly: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)


def run(params, seed: int, months: int) -> RunResult:
    """Build the model from `params` with random seed `seed`, run `months` months."""
    from model import HydrogenChainModel  # imported here: workers pay for Mesa only when they run

    model = HydrogenChainModel(scenario=params.replace(), rng=int(seed))
    model.run(int(months))
    frame = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    if "month" not in frame.columns:
        frame.insert(0, "month", np.arange(len(frame), dtype=int))
    summary = dict(model.summary())
    return RunResult(summary=summary, monthly=frame, provenance=provenance(params, seed, months))


def provenance(params, seed: int, months: int) -> dict[str, Any]:
    return {
        "params_hash": params.stable_hash(),
        "seed": int(seed),
        "months": int(months),
        "code_version": code_version(),
        "packages": package_versions(),
    }


# ---------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------


def replication_seeds(master: int, reps: int) -> list[int]:
    """One integer seed per replication, derived from `master` by SeedSequence.spawn.

    Replication k uses the same seed in every scenario of a comparison (common random
    numbers), so differences between scenarios are paired.
    """
    if reps < 1:
        raise ValueError("reps must be at least 1")
    children = np.random.SeedSequence(int(master)).spawn(int(reps))
    # 63 bits: fits an SQLite INTEGER and is a valid seed for numpy and random.Random.
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


# ---------------------------------------------------------------------------------------
# Code and package versions
# ---------------------------------------------------------------------------------------


@functools.cache
def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


@functools.cache
def git_commit() -> str | None:
    """The commit of the source tree this package runs from, '+dirty' if tracked files changed."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--"],
                               capture_output=True, timeout=10).returncode != 0
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


@functools.cache
def package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        # Running from a source tree that is not installed: read pyproject.toml.
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


@functools.cache
def code_version() -> str:
    """'<package version>+g<commit>' (or just the package version outside git)."""
    commit = git_commit()
    return f"{package_version()}+g{commit}" if commit else package_version()
