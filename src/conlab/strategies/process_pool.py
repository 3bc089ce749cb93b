"""``concurrent.futures.ProcessPoolExecutor``, as the user would write it, with crashes accounted for."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from conlab.errors import UsageError
from conlab.measure.probe import pid_cpu_s, self_cpu_s
from conlab.model import ERROR, LOST, Task, TaskRecord
from conlab.strategies import shipping, worker
from conlab.strategies.base import Execution, Strategy
from conlab.strategies.crashes import (
    crashed_record,
    describe_exit,
    kill_all,
    resolve_start_method,
    stdio_redirected,
)
from conlab.strategies.execute import unstarted

WARMUP_TIMEOUT_S = 120.0
BOOT = "pool.boot"


class ProcessPoolStrategy(Strategy):
    name = "process-pool"
    description = "concurrent.futures.ProcessPoolExecutor(max_workers=N), start method fork, forkserver or spawn"
    uses_processes = True

    def __init__(
        self,
        workers: int | None = None,
        start_method: str | None = None,
        chunksize: int | str = 1,
    ) -> None:
        super().__init__(workers)
        self.start_method = resolve_start_method(start_method)
        self.chunksize = _check_chunksize(chunksize)
        self.options = {"start_method": self.start_method}
        if chunksize != 1:
            # Tasks go to the workers in batches; records are still one per task.
            self.options["chunksize"] = chunksize

    def run(self, tasks: Sequence[Task]) -> Execution:
        workers = self.workers or 1
        log_dir = tempfile.mkdtemp(prefix="conlab-")
        ctx = multiprocessing.get_context(self.start_method)
        pool = None
        processes: dict[int, Any] = {}
        try:
            s0 = time.perf_counter_ns()
            pool = ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=worker.pool_init, initargs=(log_dir,)
            )
            # The workers start during these submissions (all at once under fork, one per
            # submission otherwise); what they write before their own code runs lands in BOOT.
            with stdio_redirected(os.path.join(log_dir, BOOT), self.start_method):
                preload = _callables(tasks)
                warm = [
                    pool.submit(worker.pool_ready, log_dir, workers, WARMUP_TIMEOUT_S, preload)
                    for _ in range(workers)
                ]
            try:
                for f in warm:
                    f.result()
            except BrokenProcessPool:
                pass  # every task below is then recorded against the broken pool
            processes = dict(getattr(pool, "_processes", None) or {})
            cpu0 = self_cpu_s() + sum(pid_cpu_s(pid) for pid in processes)
            t0 = time.perf_counter_ns()
            size = _batch_size(self.chunksize, len(tasks), workers)
            if size == 1:
                futures = [_submit(pool, task, i) for i, task in enumerate(tasks)]
                records = [_outcome(f) for f in futures]
            else:
                batches = [_submit_batch(pool, tasks, i, size) for i in range(0, len(tasks), size)]
                records = [r for batch in batches for r in _batch_outcome(batch)]
            t1 = time.perf_counter_ns()
            # The workers are still alive: their CPU over the run is read before shutdown.
            cpu = self_cpu_s() + sum(pid_cpu_s(pid) for pid in processes) - cpu0
            processes.update(getattr(pool, "_processes", None) or {})
        except BaseException:
            if pool is not None:
                kill_all(
                    list((getattr(pool, "_processes", None) or {}).values())
                    + list(processes.values())
                )
                pool.shutdown(wait=False, cancel_futures=True)
            shutil.rmtree(log_dir, ignore_errors=True)
            raise
        try:
            pool.shutdown(wait=True, cancel_futures=True)
            if any(r is None for r in records):
                records = _account_for_broken_pool(tasks, records, processes, log_dir)
        finally:
            shutil.rmtree(log_dir, ignore_errors=True)
        return Execution(
            [r for r in records if r is not None], t0, t1, startup_ns=t0 - s0, cpu_s=cpu
        )


def _check_chunksize(chunksize: int | str) -> int | str:
    if chunksize == "auto" or (type(chunksize) is int and chunksize >= 1):
        return chunksize
    raise UsageError(f"chunksize must be 'auto' or a whole number of at least 1, not {chunksize!r}")


def _batch_size(chunksize: int | str, n_tasks: int, workers: int) -> int:
    """Tasks per submission; ``auto`` is multiprocessing.Pool.map's rule: four batches per worker."""
    if chunksize == "auto":
        return max(1, -(-n_tasks // (4 * workers)))
    return int(chunksize)


def _submit_batch(
    pool: ProcessPoolExecutor, tasks: Sequence[Task], start: int, size: int
) -> list[tuple[Future[list[bytes]] | None, int] | TaskRecord]:
    """Tasks ``start..start+size`` in one submission: per task, (the batch's future, position) or its record."""
    entries: list[tuple[Future[list[bytes]] | None, int] | TaskRecord] = []
    payloads: list[bytes] = []
    indices: list[int] = []
    for i in range(start, min(start + size, len(tasks))):
        try:
            payloads.append(shipping.dumps(tasks[i]))
        except Exception as exc:
            hint = shipping.unpicklable_hint("the task", tasks[i].fn, exc)
            entries.append(unstarted(tasks[i], i, ERROR, hint))
            continue
        indices.append(i)
        entries.append((None, len(payloads) - 1))
    future: Future[list[bytes]] | None = None
    if payloads:
        try:
            future = pool.submit(worker.pool_tasks, payloads, indices)
        except BrokenProcessPool:
            future = None
    return [e if isinstance(e, TaskRecord) else (future, e[1]) for e in entries]


def _batch_outcome(
    batch: list[tuple[Future[list[bytes]] | None, int] | TaskRecord],
) -> list[TaskRecord | None]:
    """The batch's records; None for every task of a batch whose worker died."""
    out: list[TaskRecord | None] = []
    for entry in batch:
        if isinstance(entry, TaskRecord):
            out.append(entry)
            continue
        future, pos = entry
        try:
            out.append(None if future is None else worker.unpack(future.result()[pos]))
        except BrokenProcessPool:
            out.append(None)
    return out


def _callables(tasks: Sequence[Task]) -> bytes:
    """The distinct callables of the tasks, pickled, for the workers to load while warming up."""
    fns = list({id(t.fn): t.fn for t in tasks}.values())
    try:
        return shipping.dumps(fns)
    except Exception:
        return b""  # each task reports its own pickling error


def _submit(pool: ProcessPoolExecutor, task: Task, index: int) -> Future[bytes] | TaskRecord | None:
    """The task's future, or its record if it cannot be submitted (None: the pool is broken)."""
    try:
        payload = shipping.dumps(task)
    except Exception as exc:
        return unstarted(task, index, ERROR, shipping.unpicklable_hint("the task", task.fn, exc))
    try:
        return pool.submit(worker.pool_task, payload, index)
    except BrokenProcessPool:
        return None


def _outcome(future: Future[bytes] | TaskRecord | None) -> TaskRecord | None:
    """The task's record, or None when its worker died (accounted for after the pool is down)."""
    if future is None or isinstance(future, TaskRecord):
        return future
    try:
        return worker.unpack(future.result())
    except BrokenProcessPool:
        return None


def _account_for_broken_pool(
    tasks: Sequence[Task], records: list[TaskRecord | None], processes: dict[int, Any], log_dir: str
) -> list[TaskRecord | None]:
    """Say what happened to each task that has no record: crashed with its worker, or lost.

    The pool tells only that it broke. Each worker's files say which task it had
    started; its exit code says how it ended. When one worker dies the pool
    terminates the others, so a task whose worker ended by SIGTERM was stopped
    by the pool, not by its own doing: it is lost, not crashed.
    """
    for proc in processes.values():
        proc.join(timeout=10)
    running: dict[int, tuple[int, Any, worker.Leftovers]] = {}
    culprits = []
    for pid, proc in processes.items():
        left = worker.read_leftovers(log_dir, pid, boot=BOOT)
        index = left.last_started
        if proc.exitcode not in (0, -signal.SIGTERM):
            culprits.append(f"worker {pid} died with {describe_exit(proc.exitcode)}")
        if index is not None and records[index] is None:
            running[index] = (pid, proc, left)
    why = "; ".join(culprits) or "a worker process died"
    line = worker.error_line(worker.read_tail(os.path.join(log_dir, BOOT), 8192))
    if line:
        why += f": {line}"
    out = list(records)
    for i, task in enumerate(tasks):
        if out[i] is not None:
            continue
        if i in running:
            pid, proc, left = running[i]
            if proc.exitcode == -signal.SIGTERM and culprits:
                record = crashed_record(task, i, pid, proc.exitcode, left)
                record.status = LOST
                record.error = f"stopped by the pool when it broke ({why})"
                out[i] = record
            else:
                out[i] = crashed_record(task, i, pid, proc.exitcode, left)
        else:
            out[i] = unstarted(task, i, LOST, f"not run: the process pool broke ({why})")
    return out
