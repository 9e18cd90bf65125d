"""The results store: one SQLite file per experiment directory (stdlib sqlite3, WAL).

Tables
- `runs`: one row per run. Fixed columns (run_id, label, point, rep, seed, months,
  params_hash, params_json, code_version, status 'ok'|'failed', error, wall_s, finished_at)
  and one column per summary KPI, added as new KPI names appear.
- `monthly`: long format (run_id, month, kpi, value), because the monthly columns differ
  between scenarios (one per credit package). It is a view over `monthly_series`, which
  holds one row per run and KPI with the monthly values as a JSON array (`first_month`
  is the month of the first value): a 60-month run with 35 KPIs is 35 rows to write, not
  2,100, which keeps the store's cost per run in the low milliseconds. Any SQLite client
  reads the view (`SELECT * FROM monthly WHERE kpi = 'npl_ratio'`).
- `manifest`: key/value facts about the experiment (what it is, the first command line,
  code version, package versions, start time, master seed).
- `invocations`: one row per command that worked on the store (the first and each resume).
- `design`: for sweeps, the swept value of each parameter at each design point.

Only the parent process writes; each finished run is committed in its own transaction,
so a killed batch loses at most the run being written and a re-run resumes. Commands that
only read a store (`report`) open it with `read_only=True`: nothing is written into it.
Opening an existing store (`create=False` or `read_only=True`) checks first that the file
is one: anything else (not SQLite, an empty file, another program's database) raises
`NotAStoreError`, a user error, before a byte is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from experiments.errors import UserError
from experiments.files import replacing

DB_NAME = "results.sqlite"

FIXED_COLUMNS = (
    "run_id", "label", "point", "rep", "seed", "months", "params_hash", "params_json",
    "code_version", "status", "error", "wall_s", "finished_at",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    point INTEGER,
    rep INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    months INTEGER NOT NULL,
    params_hash TEXT NOT NULL,
    params_json TEXT NOT NULL,
    code_version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    wall_s REAL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS monthly_series (
    run_id TEXT NOT NULL,
    kpi TEXT NOT NULL,
    first_month INTEGER NOT NULL,
    vals TEXT NOT NULL,
    PRIMARY KEY (run_id, kpi)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS monthly AS
    SELECT s.run_id AS run_id, s.first_month + CAST(j.key AS INTEGER) AS month, s.kpi AS kpi, j.value AS value
    FROM monthly_series s, json_each(s.vals) j;
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS invocations (
    started_at TEXT NOT NULL, command_line TEXT, code_version TEXT, git_commit TEXT, packages TEXT
);
CREATE TABLE IF NOT EXISTS design (point INTEGER NOT NULL, key TEXT NOT NULL, value REAL,
    PRIMARY KEY (point, key)) WITHOUT ROWID;
"""

# Tables that make a file an h2chain results store; a writable open adds any other table of
# SCHEMA that is missing (stores written by older versions), a read-only one cannot.
IDENTITY_TABLES = ("runs", "manifest")
READ_TABLES = ("runs", "manifest", "monthly_series", "design")


class NotAStoreError(UserError):
    """`results.sqlite` exists but is not an h2chain results store."""


def make_run_id(label: str, params_hash: str, seed: int, months: int, code_version: str) -> str:
    """Content address of a run: same scenario, parameters, seed, months and code -> same id."""
    blob = f"{label}|{params_hash}|{int(seed)}|{int(months)}|{code_version}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def encode_monthly(frame) -> tuple[tuple[str, int, str], ...]:
    """A monthly frame (a `month` column + one column per KPI) as (kpi, first_month, JSON values).

    Months missing between the first and the last are stored as null; so are NaN values.
    Runs in the worker, so the parent only inserts rows.
    """
    import numpy as np

    months = np.asarray(frame["month"], dtype=int)
    if len(months) == 0:
        return ()
    first = int(months.min())
    pos = months - first
    n = int(months.max()) - first + 1
    out = []
    for name in frame.columns:
        if name == "month":
            continue
        col = frame[name]
        vals: list[Any] = [None] * n
        for i, v in zip(pos, col.tolist()):
            vals[i] = _num(v)
        out.append((str(name), first, json.dumps(vals, separators=(",", ":"))))
    return tuple(out)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _num(value: Any) -> Any:
    """A KPI value as SQLite can hold it (None, int, float or text)."""
    if value is None or isinstance(value, (int, str)):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(f) else f


class ResultsStore:
    """The SQLite store of one experiment directory."""

    def __init__(self, directory: str | Path, *, create: bool = True, read_only: bool = False):
        """Open the store of `directory`, creating it unless `create=False` (then it must exist).

        `read_only=True` (implies `create=False`) opens it with SQLite's `mode=ro`: nothing
        is written into it, and every write raises `sqlite3.OperationalError`.
        """
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        existing = read_only or not create
        if existing and not self.path.exists():
            raise FileNotFoundError(self.path)
        if existing and not self.path.is_file():
            raise NotAStoreError(f"{self.path} is not an h2chain results store (not a file)")
        if read_only:
            self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0,
                                        isolation_level=None)
            self._check_is_store(READ_TABLES)
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not existing and not self.path.exists():
                self._create()
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            if existing:
                self._check_is_store(IDENTITY_TABLES)  # before the schema is written into it
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
        self._kpi_columns = self._load_kpi_columns()

    def _create(self) -> None:
        """Write an empty store beside its place and rename it there: a batch interrupted
        while creating its store leaves no file that a re-run would refuse as not a store."""
        part = self.path.with_name(self.path.name + ".part")
        for leftover in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
            leftover.unlink(missing_ok=True)  # from an earlier interrupted creation
        conn = sqlite3.connect(part, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
        finally:
            conn.close()  # the last connection: SQLite folds the WAL back into the file
        os.replace(part, self.path)

    def _check_is_store(self, required: tuple[str, ...]) -> None:
        """Raise `NotAStoreError` (closing the connection) unless the file is an SQLite
        database holding the `required` tables."""
        try:
            names = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.OperationalError:
            self.conn.close()  # locked, unreadable: a real problem, not a wrong file
            raise
        except sqlite3.DatabaseError:  # "file is not a database", a corrupt file
            self.conn.close()
            raise NotAStoreError(f"{self.path} is not an h2chain results store (not an SQLite database)") from None
        missing = [t for t in required if t not in names]
        if missing:
            self.conn.close()
            why = ("an empty file" if self.path.stat().st_size == 0 else "no tables" if not names
                   else f"no table{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
            raise NotAStoreError(f"{self.path} is not an h2chain results store ({why})")

    @staticmethod
    def exists(directory: str | Path) -> bool:
        return (Path(directory) / DB_NAME).exists()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- manifest -----------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM manifest")}

    def set_manifest(self, values: Mapping[str, Any], *, overwrite: bool = False) -> None:
        verb = "INSERT OR REPLACE" if overwrite else "INSERT OR IGNORE"
        with self._tx():
            self.conn.executemany(f"{verb} INTO manifest (key, value) VALUES (?, ?)",
                                  [(k, json.dumps(v, ensure_ascii=False, sort_keys=True)) for k, v in values.items()])

    def log_invocation(self, command_line: str, code_version: str, git_commit: str | None, packages: Mapping) -> None:
        with self._tx():
            self.conn.execute("INSERT INTO invocations VALUES (?, ?, ?, ?, ?)",
                              (now_iso(), command_line, code_version, git_commit, json.dumps(dict(packages))))

    def set_design(self, rows: Iterable[tuple[int, str, float]]) -> None:
        with self._tx():
            self.conn.executemany("INSERT OR REPLACE INTO design (point, key, value) VALUES (?, ?, ?)", rows)

    # -- runs -----------------------------------------------------------------------------
    def status_of(self, run_ids: Iterable[str]) -> dict[str, str]:
        """run_id -> 'ok' | 'failed' for the ids already stored."""
        ids = list(run_ids)
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = f"SELECT run_id, status FROM runs WHERE run_id IN ({','.join('?' * len(chunk))})"
            out.update(dict(self.conn.execute(q, chunk)))
        return out

    def write_run(self, row: Mapping[str, Any], summary: Mapping[str, Any] | None,
                  monthly: Iterable[tuple[str, int, str]] | None) -> None:
        """Write one finished run (and its monthly series) in one transaction.

        `row` holds the fixed columns; `summary` the KPIs (None for a failed run);
        `monthly` is `encode_monthly(frame)` or None.
        A run that was stored before (a failed run being retried) is replaced.
        """
        summary = dict(summary or {})
        new = [k for k in summary if self._column_for(k) not in self._kpi_columns]
        with self._tx():
            for k in new:
                col = self._column_for(k)
                self.conn.execute(f'ALTER TABLE runs ADD COLUMN "{col}" REAL')
                self._kpi_columns.add(col)
            self.conn.execute("DELETE FROM monthly_series WHERE run_id = ?", (row["run_id"],))
            cols = list(FIXED_COLUMNS) + [self._column_for(k) for k in summary]
            vals = [row.get(c) for c in FIXED_COLUMNS] + [_num(v) for v in summary.values()]
            self.conn.execute(
                f"INSERT OR REPLACE INTO runs ({','.join(f'{chr(34)}{c}{chr(34)}' for c in cols)}) "
                f"VALUES ({','.join('?' * len(cols))})", vals)
            if monthly is not None:
                rid = row["run_id"]
                self.conn.executemany(
                    "INSERT INTO monthly_series (run_id, kpi, first_month, vals) VALUES (?, ?, ?, ?)",
                    ((rid, kpi, first, vals) for kpi, first, vals in monthly))
        if new:
            # another connection (a resumed run) may have added columns too
            self._kpi_columns = self._load_kpi_columns()

    # -- reading --------------------------------------------------------------------------
    def kpi_names(self) -> list[str]:
        """Summary KPI columns in the order they were added."""
        return [c for c in self._columns() if c not in FIXED_COLUMNS]

    def runs_frame(self, status: str | None = None, run_ids: Iterable[str] | None = None, *,
                   with_params: bool = False):
        """The runs table as a frame (params_json, the bulky column, only if asked)."""
        import pandas as pd

        cols = "*" if with_params else ",".join(f'"{c}"' for c in self._columns() if c != "params_json")
        q = f"SELECT {cols} FROM runs"
        args: list[Any] = []
        if status is not None:
            q += " WHERE status = ?"
            args.append(status)
        frame = pd.read_sql_query(q + " ORDER BY label, point, rep", self.conn, params=args)
        if run_ids is not None:
            frame = frame[frame["run_id"].isin(set(run_ids))].reset_index(drop=True)
        return frame

    def param_values(self, name: str, run_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """run_id -> the value of parameter `name` in that run (read from params_json)."""
        rows = self.conn.execute("SELECT run_id, json_extract(params_json, ?) FROM runs", (f"$.{name}",))
        wanted = set(run_ids) if run_ids is not None else None
        return {rid: v for rid, v in rows if wanted is None or rid in wanted}

    def monthly_frame(self, kpis: Iterable[str] | None = None, run_ids: Iterable[str] | None = None):
        """Long monthly rows joined with label, point, rep (for fan charts and exports)."""
        import pandas as pd

        q = ("SELECT s.run_id, r.label, r.point, r.rep, s.kpi, s.first_month, s.vals FROM monthly_series s "
             "JOIN runs r USING (run_id) WHERE r.status = 'ok'")
        args: list[Any] = []
        if kpis is not None:
            kpis = list(kpis)
            q += f" AND s.kpi IN ({','.join('?' * len(kpis))})"
            args += kpis
        # in the order of runs_frame, not of completion: a serial and a parallel batch export
        # the same bytes
        q += " ORDER BY r.label, r.point, r.rep, s.run_id, s.kpi"
        wanted = set(run_ids) if run_ids is not None else None
        cols: dict[str, list] = {k: [] for k in ("run_id", "label", "point", "rep", "month", "kpi", "value")}
        for run_id, label, point, rep, kpi, first, vals in self.conn.execute(q, args):
            if wanted is not None and run_id not in wanted:
                continue
            values = json.loads(vals)
            n = len(values)
            cols["run_id"] += [run_id] * n
            cols["label"] += [label] * n
            cols["point"] += [point] * n
            cols["rep"] += [rep] * n
            cols["month"] += range(first, first + n)
            cols["kpi"] += [kpi] * n
            cols["value"] += values
        frame = pd.DataFrame(cols)
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
        frame["month"] = frame["month"].astype(int)
        return frame

    def design_frame(self):
        import pandas as pd

        return pd.read_sql_query("SELECT point, key, value FROM design ORDER BY point, key", self.conn)

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))

    # -- export ---------------------------------------------------------------------------
    def export(self, fmt: str, directory: str | Path | None = None) -> list[Path]:
        """Write runs and monthly tables as CSV or Parquet files; returns the paths."""
        out_dir = Path(directory) if directory is not None else self.directory
        out_dir.mkdir(parents=True, exist_ok=True)
        runs = self.runs_frame(with_params=True)
        monthly = self.monthly_frame()
        paths = []
        for name, frame in (("runs", runs), ("monthly", monthly)):
            if fmt not in ("csv", "parquet"):
                raise ValueError(f"unknown export format {fmt!r}")
            p = out_dir / f"{name}.{fmt}"
            with replacing(p) as part:
                if fmt == "csv":
                    frame.to_csv(part, index=False)
                else:
                    frame.to_parquet(part, index=False)
            paths.append(p)
        return paths

    # -- internals ------------------------------------------------------------------------
    def _tx(self):
        return _Transaction(self.conn)

    def _columns(self) -> list[str]:
        return [r[1] for r in self.conn.execute("PRAGMA table_info(runs)")]

    def _load_kpi_columns(self) -> set[str]:
        return {c for c in self._columns() if c not in FIXED_COLUMNS}

    @staticmethod
    def _column_for(kpi: str) -> str:
        if kpi in FIXED_COLUMNS:
            return f"kpi_{kpi}"
        return kpi.replace('"', "")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        for attempt in range(50):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return self
            except sqlite3.OperationalError as exc:  # pragma: no cover - only under contention
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        return self

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
