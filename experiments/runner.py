"""The one function every experiment wraps: `run(params, seed, months) -> RunResult`.

Everything else in `experiments/` (batches, sweeps, the results store, process pools,
Dask, figures) is built around this function and knows nothing about the economics.
It is a plain top-level function of picklable arguments, so process pools and Dask
workers can call it by reference.
"""

from __future__ import annotations

import functools
import hashlib
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

#: The packages whose Python and TOML files can change what a run produces: the model, its
#: agents, the shipped scenarios and the experiment machinery that builds and runs them.
#: Not `viz/` (the browser view stores nothing), not docs or README, and not pyproject.toml:
#: nothing reads it at run time except for the version fallback below, and editing it
#: changes no installed package by itself (the versions that do run are recorded apart, in
#: `package_versions()`), while it is edited for unrelated reasons (pytest or lint options).
RESULT_SOURCES = ("model", "agents", "scenarios", "experiments")
RESULT_SUFFIXES = (".py", ".toml")
_GIT_TIMEOUT_S = 10


@functools.cache
def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def _source_root() -> Path:
    """The directory holding `model/`, `agents/`, ...: a checkout, or site-packages."""
    return Path(__file__).resolve().parent.parent


def _is_result_source(rel: str) -> bool:
    parts = rel.replace("\\", "/").split("/")
    return (len(parts) > 1 and parts[0] in RESULT_SOURCES and "__pycache__" not in parts
            and rel.endswith(RESULT_SUFFIXES))


def _hash_files(root: Path, rels) -> str:
    """8 hex digits of a hash over each file's relative path and content ('deleted' if gone)."""
    h = hashlib.sha256()
    for rel in sorted(set(rels)):
        h.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        try:
            data = (root / rel).read_bytes()
        except OSError:
            h.update(b"-\0")  # deleted (or unreadable): still a change from the commit
        else:
            h.update(b"+" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:8]


def source_hash(root: Path | None = None) -> str:
    """Hash of every result-bearing source file under `root`."""
    root = _source_root() if root is None else Path(root)
    rels = [p.relative_to(root).as_posix() for pkg in RESULT_SOURCES if (root / pkg).is_dir()
            for p in (root / pkg).rglob("*") if p.is_file()]
    return _hash_files(root, [r for r in rels if _is_result_source(r)])


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    # --no-optional-locks: only read, never refresh the index under someone else's feet.
    return subprocess.run(["git", "--no-optional-locks", "-C", str(root), *args],
                          capture_output=True, timeout=_GIT_TIMEOUT_S)


def _git_commit(root: Path) -> str | None:
    try:
        head = _git(root, "rev-parse", "--show-toplevel", "HEAD")
        if head.returncode != 0:
            return None
        toplevel, commit = head.stdout.decode("utf-8", "surrogateescape").splitlines()[:2]
        if Path(toplevel).resolve() != root.resolve():
            return None  # installed inside some other repository (a venv in a checkout)
        # Tracked result-bearing files that differ from HEAD (staged or not), and untracked
        # ones (a new module can change results); ignored files (__pycache__) are not listed.
        diff = _git(root, "diff", "--name-only", "--no-renames", "-z", "HEAD", "--", *RESULT_SOURCES)
        new = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", *RESULT_SOURCES)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if diff.returncode != 0 or new.returncode != 0:
        # Cannot tell what changed: name the code by the content of all its sources.
        return f"{commit}+{source_hash(root)}"
    rels = [r for out in (diff.stdout, new.stdout)
            for r in out.decode("utf-8", "surrogateescape").split("\0") if r and _is_result_source(r)]
    return f"{commit}+{_hash_files(root, rels)}" if rels else commit


@functools.cache
def git_commit() -> str | None:
    """The commit of the source tree this package runs from, or None outside a git checkout:
    provenance, recorded with each invocation (what identifies the code of a run is
    `code_version()`, a hash of the sources' content).

    '<commit>' when the result-bearing sources (`RESULT_SOURCES`, *.py and *.toml) match
    the commit; '<commit>+<8 hex>' when some differ or are untracked, the hex a hash of those
    files, so an invocation on uncommitted edits is recorded as such.
    """
    return _git_commit(_source_root())


@functools.cache
def package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        # Running from a source tree that is not installed: read pyproject.toml.
        import tomllib

        pyproject = _source_root() / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


@functools.cache
def code_version() -> str:
    """What identifies the code a run used; part of every run id, so resume skips a run only
    if it was made by the same code.

    '<package version>+src<8 hex>', the hex a hash of the result-bearing sources' paths and
    contents, in a git checkout or not. It names the content, not the commit: a commit that
    touches only the README, docs, tests or the browser view keeps every stored run, an edit
    to the model (committed or not) re-runs them, and reverting it finds them again. The
    commit itself is provenance, recorded with each invocation (`git_commit()`).
    Computed once per process.
    """
    return f"{package_version()}+src{source_hash()}"
