"""Run a batch of runs and write each to the store as it finishes.

Three ways to execute, all through the `concurrent.futures` interface:
- `jobs == 1` (local): in this process, one run after another (easy to debug);
- `jobs > 1` (local): a persistent `ProcessPoolExecutor`, created once per batch so
  start-up is paid once. Its start method is set on the pool only ("forkserver" where the
  platform has it, with the model preloaded in the server so each worker starts in
  milliseconds; "spawn" elsewhere). mesa.batch_run is not imported: it changes the
  process-wide start method;
- `executor="dask"`: `distributed.Client(scheduler).get_executor()` on an existing cluster.

The parent keeps at most a small window of runs in flight and drops each result once it
is written, so its memory stays flat however long the batch. A run that raises is stored
as failed with its traceback and the batch goes on.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from experiments.store import ResultsStore, encode_monthly, make_run_id, now_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: which parameters, which seed, where it belongs."""

    label: str  # the scenario name (compare) or the sweep's scenario
    params: Any  # ModelParams (resolved)
    seed: int
    rep: int  # replication index k: the same seed in every scenario of a comparison
    months: int
    code_version: str
    point: int | None = None  # design point of a sweep
    params_hash: str = ""
    run_id: str = ""

    @classmethod
    def make(cls, label, params, seed, rep, months, code_version, point=None) -> RunSpec:
        h = params.stable_hash()
        return cls(label, params, int(seed), int(rep), int(months), code_version, point, h,
                   make_run_id(label if point is None else f"{label}#{point}", h, seed, months, code_version))


@dataclass
class BatchOutcome:
    total: int = 0
    skipped: int = 0
    stored_failed: int = 0  # of the skipped: stored as failed by an earlier invocation, not retried
    ok: int = 0
    failed: int = 0
    wall_s: float = 0.0
    store_s: float = 0.0  # time spent writing to the store
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# What a worker runs
# ---------------------------------------------------------------------------------------


def default_run_fn():
    from experiments.runner import run

    return run


def run_task(run_fn: Callable | None, params, seed: int, months: int) -> dict[str, Any]:
    """Call `run_fn(params, seed, months)` and return a small picklable payload.

    Never raises: an exception becomes status 'failed' with its traceback text. The monthly
    frame is flattened here, in the worker, so the parent only writes rows.
    """
    fn = run_fn if run_fn is not None else default_run_fn()
    t0 = time.perf_counter()
    params_json = json.dumps(params.canonical(), sort_keys=True, ensure_ascii=False)  # here, not in the parent
    try:
        result = fn(params, seed, months)
        monthly = encode_monthly(result.monthly)
        return {"status": "ok", "summary": dict(result.summary), "monthly": monthly, "params_json": params_json,
                "error": None, "wall_s": time.perf_counter() - t0}
    except Exception as exc:  # noqa: BLE001 - a run's failure must not stop the batch
        text = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        return {"status": "failed", "summary": None, "monthly": None, "params_json": params_json, "error": text,
                "wall_s": time.perf_counter() - t0}


# ---------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------


def pending_specs(specs: Sequence[RunSpec], store: ResultsStore, retry_failed: bool) -> list[RunSpec]:
    """The runs still to do: not stored yet, or stored as failed when retrying."""
    return _plan_against_store(specs, store, retry_failed)[0]


def _plan_against_store(specs: Sequence[RunSpec], store: ResultsStore, retry_failed: bool) -> tuple[list[RunSpec], int]:
    """(the runs still to do, how many of the others are stored as failed and left so)."""
    stored = store.status_of(s.run_id for s in specs)
    seen: set[str] = set()
    out = []
    left_failed = 0
    for s in specs:
        if s.run_id in seen:
            continue
        seen.add(s.run_id)
        status = stored.get(s.run_id)
        if status is None or (status == "failed" and retry_failed):
            out.append(s)
        elif status == "failed":
            left_failed += 1
    return out, left_failed


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def execute(specs: Sequence[RunSpec], store: ResultsStore, *, run_fn: Callable | None = None,
            jobs: int | None = None, executor: str = "local", scheduler: str | None = None,
            quiet: bool = False, retry_failed: bool = False, force_pool: bool = False,
            desc: str = "runs", on_result: Callable[[RunSpec, dict], None] | None = None) -> BatchOutcome:
    """Run every spec not yet in `store` and write each result as it arrives.

    `run_fn` defaults to `experiments.runner.run` (the real model); tests inject doubles.
    It must be a picklable top-level function when runs go to other processes.
    """
    t_start = time.perf_counter()
    todo, stored_failed = _plan_against_store(specs, store, retry_failed)
    outcome = BatchOutcome(total=len({s.run_id for s in specs}), stored_failed=stored_failed)
    outcome.skipped = outcome.total - len(todo)
    if outcome.skipped:
        log.info("%d of %d runs already in the store: skipped (%d of them failed)", outcome.skipped, outcome.total,
                 stored_failed)
    if not todo:
        outcome.wall_s = time.perf_counter() - t_start
        return outcome

    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc=desc, unit="run", disable=quiet, dynamic_ncols=True, leave=not quiet)
    bar.set_postfix(failed=0)

    def record(spec: RunSpec, payload: dict) -> None:
        t0 = time.perf_counter()
        row = {
            "run_id": spec.run_id, "label": spec.label, "point": spec.point, "rep": spec.rep,
            "seed": spec.seed, "months": spec.months, "params_hash": spec.params_hash,
            "params_json": payload.get("params_json") or json.dumps(spec.params.canonical(), sort_keys=True,
                                                                    ensure_ascii=False),
            "code_version": spec.code_version, "status": payload["status"], "error": payload["error"],
            "wall_s": payload["wall_s"], "finished_at": now_iso(),
        }
        store.write_run(row, payload["summary"], payload["monthly"])
        outcome.store_s += time.perf_counter() - t0
        if payload["status"] == "ok":
            outcome.ok += 1
        else:
            outcome.failed += 1
            first = (payload["error"] or "").splitlines()[0] if payload["error"] else "failed"
            outcome.errors.append(f"{spec.label} rep {spec.rep}: {first}")
            log.info("run failed (%s, rep %d, seed %d): %s", spec.label, spec.rep, spec.seed, first)
            bar.set_postfix(failed=outcome.failed)
        if on_result is not None:
            on_result(spec, payload)
        bar.update(1)

    try:
        if executor == "local" and (jobs or default_jobs()) == 1 and not force_pool:
            for spec in todo:
                record(spec, run_task(run_fn, spec.params, spec.seed, spec.months))
        else:
            _run_pool(todo, record, run_fn=run_fn, jobs=jobs, executor=executor, scheduler=scheduler)
    finally:
        bar.close()
    outcome.wall_s = time.perf_counter() - t_start
    return outcome


def _make_executor(jobs: int | None, executor: str, scheduler: str | None) -> tuple[Executor, int, Callable[[], None]]:
    """(executor, number of worker slots, close function)."""
    if executor == "dask":
        from distributed import Client

        client = Client(scheduler, set_as_default=False)
        slots = max(1, sum(client.nthreads().values()))
        ex = client.get_executor(pure=False)

        def close():
            ex.shutdown(wait=False)
            client.close()

        return ex, slots, close
    workers = jobs or default_jobs()
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=worker_init, initargs=(os.getpid(),))

    def close_pool():
        ex.shutdown(wait=True, cancel_futures=True)

    return ex, workers, close_pool


def pool_context():
    """The multiprocessing context of local pools (never the process-wide default)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Imported once in the fork server; workers forked from it start without re-importing.
        ctx.set_forkserver_preload(["experiments.execute", "experiments.runner", "model"])
        _start_forkserver_deaf_to_ctrl_c()
        return ctx
    return multiprocessing.get_context("spawn")


def _start_forkserver_deaf_to_ctrl_c() -> None:
    """Start the fork server with SIGINT ignored (an ignored signal stays ignored across
    exec). It ignores SIGINT anyway once it has imported its preload; a Ctrl-C during those
    imports printed a KeyboardInterrupt traceback from it. Workers get their own handler
    (`worker_init`)."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers; the pool still works
    from multiprocessing import forkserver

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


WATCH_BATCH_S = 1.0  # how often a worker looks for its batch where pidfd is missing


def worker_init(batch_pid: int) -> None:
    """In each local worker: Ctrl-C ends it at once and quietly (the batch reports the
    interrupt and keeps what is stored), and it ends itself when the batch's process is gone
    (SIGKILL, the out-of-memory killer) instead of waiting idle forever. It watches the
    batch's process itself: its parent is the fork server, which outlives the batch as long
    as any worker does."""
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(128 + signum))
    threading.Thread(target=_end_with, args=(batch_pid,), name="watch-batch", daemon=True).start()


def _end_with(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # Linux >= 5.3: readable once the process has ended
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
            time.sleep(WATCH_BATCH_S)
    os._exit(1)


def _run_pool(todo: Sequence[RunSpec], record, *, run_fn, jobs, executor, scheduler) -> None:
    ex, slots, close = _make_executor(jobs, executor, scheduler)
    window = max(4, 2 * slots)
    queue = deque(todo)
    in_flight: dict[Any, RunSpec] = {}

    def fill() -> bool:
        """Submit up to the window; False if the pool turned out broken (a worker died
        after the last wait): the run stays queued, the broken futures say the rest."""
        while len(in_flight) < window and queue:
            try:
                fut = ex.submit(run_task, run_fn, queue[0].params, queue[0].seed, queue[0].months)
            except BrokenProcessPool:
                return False
            in_flight[fut] = queue.popleft()
        return True

    returned = 0  # results the workers delivered (none at all: they could not start)
    try:
        pool_ok = fill()
        while in_flight or queue:
            done = wait(list(in_flight), return_when=FIRST_COMPLETED)[0] if in_flight else set()
            suspects = []  # runs in flight when a worker died: any of them may have killed it
            for fut in done:
                spec = in_flight.pop(fut)
                try:
                    payload = fut.result()
                    returned += 1
                except BrokenProcessPool as exc:
                    suspects.append(spec)
                    broken = exc
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. a Dask worker lost, a pickling error
                    payload = _failure(exc, "the executor failed")
                record(spec, payload)
                del payload
            if suspects and returned == 0:
                # the workers never ran anything: a start-up problem, not a failing run
                raise RuntimeError(f"worker processes could not start ({broken}); see the messages above") from broken
            if suspects or not (pool_ok or in_flight):
                # A dead worker breaks the whole pool and fails every run in flight alike. Run
                # each of them again alone: the one that kills its worker again is the one
                # recorded as failed; the others are recorded with their results.
                suspects += in_flight.values()
                in_flight.clear()
                close()
                for spec in suspects:
                    record(spec, _run_alone(run_fn, spec))
                ex, slots, close = _make_executor(jobs, executor, scheduler)
            pool_ok = fill()
    except BaseException:
        for fut in in_flight:
            fut.cancel()
        raise
    finally:
        close()


def _run_alone(run_fn, spec: RunSpec) -> dict[str, Any]:
    """One run in a pool of its own (after a worker died with several runs in flight)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=pool_context(), initializer=worker_init, initargs=(os.getpid(),)) as alone:
        try:
            return alone.submit(run_task, run_fn, spec.params, spec.seed, spec.months).result()
        except BrokenProcessPool as exc:
            return _failure(exc, "its worker process died (the run was alone in its pool)")


def _failure(exc: BaseException, what: str) -> dict[str, Any]:
    return {"status": "failed", "summary": None, "monthly": None,
            "error": f"{what}: {type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)),
            "wall_s": None}
