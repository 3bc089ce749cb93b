"""``concurrent.futures.ProcessPoolExecutor``, as the user would write it, with crashes accounted for.

A ProcessPoolExecutor whose worker dies is broken for good: every task not yet
returned fails with BrokenProcessPool, and it cannot replace one worker. So when
it breaks (a worker crashed, or was stopped for running past the timeout), the
task that was running on the dead worker is recorded ``crashed`` or ``timeout``,
the tasks not started, and those interrupted when the pool stopped its other
workers, are submitted again to a fresh pool, and a note says so. The clock
keeps running through the rebuild: that is the time the user would wait.
Without a fault, the run is the plain submit() and result() the user would write.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from conlab._process import shipping
from conlab._process.child import pool_init, pool_ready, pool_task, pool_tasks
from conlab._process.crashes import (
    describe_exit,
    error_line,
    kill_all,
    resolve_start_method,
    stdio_redirected,
)
from conlab._process.execute import unstarted
from conlab._process.journal import (
    RAW_TAIL_BYTES,
    JournalReader,
    Leftovers,
    read_leftovers,
    read_tail,
)
from conlab._process.recovery import Died, Late, recover
from conlab._process.wire import unpack
from conlab.errors import UsageError
from conlab.measure.tree import children_cpu_s, pid_cpu_s, self_cpu_s
from conlab.model import ERROR, Task, TaskRecord
from conlab.strategies.base import PROCESSES, Execution, Strategy, pool_size

WARMUP_TIMEOUT_S = 120.0
BOOT = "pool.boot"
POLL_S = 0.02


class ProcessPoolStrategy(Strategy):
    name = "process-pool"
    family = PROCESSES
    option_names = ("start_method", "chunksize")
    description = "concurrent.futures.ProcessPoolExecutor(max_workers=N), start method fork, forkserver or spawn"
    uses_processes = True
    ships_to = shipping.PROCESS

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

    def _pool(self, ctx: Any, log_dir: str, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=pool_init, initargs=(log_dir,)
        )

    def run(self, tasks: Sequence[Task]) -> Execution:
        workers, notes = pool_size(self.workers, len(tasks))
        log_dir = tempfile.mkdtemp(prefix="conlab-")
        ctx = multiprocessing.get_context(self.start_method)
        pools: list[ProcessPoolExecutor] = []
        procs: dict[int, Any] = {}  # every worker of the pool in use, by pid
        try:
            s0 = time.perf_counter_ns()
            pool = self._pool(ctx, log_dir, workers)
            pools.append(pool)
            # The workers start during these submissions (all at once under fork, one per
            # submission otherwise); what they write before their own code runs lands in BOOT.
            with stdio_redirected(os.path.join(log_dir, BOOT), self.start_method):
                preload = _callables(tasks)
                warm = [
                    pool.submit(pool_ready, log_dir, workers, WARMUP_TIMEOUT_S, preload)
                    for _ in range(workers)
                ]
            try:
                for f in warm:
                    f.result()
            except BrokenProcessPool:
                pass  # every task below is then recorded against the broken pool
            procs = workers_of(pool)
            cpu0, kids0 = self_cpu_s() + sum(pid_cpu_s(pid) for pid in procs), children_cpu_s()
            t0 = time.perf_counter_ns()
            records: list[TaskRecord | None] = [None] * len(tasks)
            size = _batch_size(self.chunksize, len(tasks), workers)
            if size > 1 and self.timeout_s is not None:
                # A worker is stopped for the task it runs: a batch would take others with it.
                notes.append("chunksize ignored with a timeout: each task is submitted alone")
                size = 1
            pending = list(range(len(tasks)))
            while pending:
                fresh = len(pools) > 1
                late = self._round(pool, tasks, pending, records, procs, log_dir, fresh, size)
                if all(records[i] is not None for i in pending):
                    break
                pool.shutdown(wait=True, cancel_futures=True)
                pending = _account(tasks, pending, records, procs, late, log_dir, self, notes)
                if pending:
                    pool = self._pool(ctx, log_dir, workers)
                    pools.append(pool)
                    procs = {}
            t1 = time.perf_counter_ns()
            # The workers are still alive: their CPU over the run is read before shutdown;
            # workers of a broken pool were reaped, and count in children_cpu_s.
            live_cpu = sum(pid_cpu_s(pid) for pid in procs)
            cpu = self_cpu_s() + live_cpu + children_cpu_s() - kids0 - cpu0
        except BaseException:
            every = [p for pool in pools for p in workers_of(pool).values()]
            kill_all(every + list(procs.values()))
            for pool in pools:
                pool.shutdown(wait=False, cancel_futures=True)
            shutil.rmtree(log_dir, ignore_errors=True)
            raise
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        finally:
            shutil.rmtree(log_dir, ignore_errors=True)
        return Execution(
            [r for r in records if r is not None],
            t0,
            t1,
            startup_ns=t0 - s0,
            cpu_s=max(0.0, cpu),
            notes=notes,
        )

    def _round(
        self,
        pool: ProcessPoolExecutor,
        tasks: Sequence[Task],
        pending: list[int],
        records: list[TaskRecord | None],
        procs: dict[int, Any],
        log_dir: str,
        fresh: bool,
        size: int = 1,
    ) -> dict[int, int]:
        """Submit the pending tasks and collect their records until done or the pool breaks.

        Returns the tasks whose worker was stopped for running past the timeout (index -> pid).
        A fresh pool's workers start during the submissions, with their output caught in BOOT.
        """
        catching = stdio_redirected(os.path.join(log_dir, BOOT), self.start_method)
        if size > 1:
            with catching if fresh else contextlib.nullcontext():
                batches = [
                    _submit_batch(pool, tasks, pending[k : k + size])
                    for k in range(0, len(pending), size)
                ]
            procs.update(workers_of(pool))
            for batch in batches:
                for i, record in batch_outcome(batch):
                    records[i] = record
            return {}
        with catching if fresh else contextlib.nullcontext():
            futures = {i: _submit(pool, tasks[i], i) for i in pending}
        live: dict[Future[bytes], int] = {}
        for i, f in futures.items():
            if isinstance(f, TaskRecord):
                records[i] = f
            elif isinstance(f, Future):
                live[f] = i
        procs.update(workers_of(pool))
        if any(f is None for f in futures.values()):
            return {}  # the pool broke while tasks were submitted
        if self.timeout_s is None:
            # What the user would write: the results, in order.
            for f, i in live.items():
                records[i] = _outcome(f)
                if records[i] is None:
                    break
            return {}
        return self._watch(live, records, procs, pool, log_dir)

    def _watch(
        self,
        live: dict[Future[bytes], int],
        records: list[TaskRecord | None],
        procs: dict[int, Any],
        pool: ProcessPoolExecutor,
        log_dir: str,
    ) -> dict[int, int]:
        """Collect results; stop the worker of a task running past the timeout."""
        limit_ns = int((self.timeout_s or 0.0) * 1e9)
        journals: dict[int, JournalReader] = {}
        late: dict[int, int] = {}
        while live:
            done, _ = wait(list(live), timeout=POLL_S, return_when=FIRST_COMPLETED)
            procs.update(workers_of(pool))
            for f in done:
                i = live.pop(f)
                records[i] = _outcome(f)
                if records[i] is None:
                    return late  # the pool broke: every other future fails too
            now = time.perf_counter_ns()
            for pid in list(procs):
                path = os.path.join(log_dir, f"{pid}.frames")
                journal = journals.setdefault(pid, JournalReader(path)).poll()
                if not journal.started:
                    continue
                i = max(journal.started, key=lambda k: journal.started[k])
                if records[i] is None and i not in late and now - journal.started[i] > limit_ns:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                    late[i] = pid
        return late


def workers_of(pool: ProcessPoolExecutor) -> dict[int, Any]:
    """The pool's worker processes by pid, as far as they have started ({} where unknown).

    concurrent.futures has no public way to reach them, and the strategy needs their
    ``multiprocessing.Process`` objects: a worker past its task's timeout is killed, and
    its exit code tells a task's crash from the pool's own SIGTERM to the others. The
    public ``multiprocessing.active_children()`` will not do: it reaps a dead worker and
    drops it, exit code and all, and lists children that are not the pool's. So this one
    place reads the pool's private ``_processes``; without it (another implementation),
    a broken pool's tasks are recorded lost instead of crashed.
    """
    return dict(getattr(pool, "_processes", None) or {})


def _check_chunksize(chunksize: int | str) -> int | str:
    if chunksize == "auto" or (type(chunksize) is int and chunksize >= 1):
        return chunksize
    raise UsageError(f"chunksize must be 'auto' or a whole number of at least 1, not {chunksize!r}")


def _batch_size(chunksize: int | str, n_tasks: int, workers: int) -> int:
    """Tasks per submission; ``auto`` is multiprocessing.Pool.map's rule: four batches per worker."""
    if chunksize == "auto":
        return max(1, -(-n_tasks // (4 * workers)))
    return int(chunksize)


Batch = list[tuple[int, "Future[list[bytes]] | None", int] | TaskRecord]


def _submit_batch(pool: ProcessPoolExecutor, tasks: Sequence[Task], indices: list[int]) -> Batch:
    """The tasks at ``indices`` in one submission: per task, (index, future, position) or its record."""
    entries: Batch = []
    payloads: list[bytes] = []
    sent: list[int] = []
    for i in indices:
        try:
            payloads.append(shipping.dumps(tasks[i]))
        except Exception as exc:
            entries.append(unstarted(tasks[i], i, ERROR, shipping.task_hint(tasks[i], exc)))
            continue
        sent.append(i)
        entries.append((i, None, len(payloads) - 1))
    future: Future[list[bytes]] | None = None
    if payloads:
        try:
            future = pool.submit(pool_tasks, payloads, sent)
        except BrokenProcessPool:
            future = None
    return [e if isinstance(e, TaskRecord) else (e[0], future, e[2]) for e in entries]


def batch_outcome(batch: Batch) -> list[tuple[int, TaskRecord | None]]:
    """Each task's record; None for every task of a batch whose worker died (accounted for later)."""
    out: list[tuple[int, TaskRecord | None]] = []
    for entry in batch:
        if isinstance(entry, TaskRecord):
            out.append((entry.index, entry))
            continue
        i, future, pos = entry
        try:
            out.append((i, None if future is None else unpack(future.result()[pos])))
        except BrokenProcessPool:
            out.append((i, None))
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
        return unstarted(task, index, ERROR, shipping.task_hint(task, exc))
    try:
        return pool.submit(pool_task, payload, index)
    except BrokenProcessPool:
        return None


def _outcome(future: Future[bytes]) -> TaskRecord | None:
    """The task's record, or None when its worker died (accounted for after the pool is down)."""
    try:
        return unpack(future.result())
    except BrokenProcessPool:
        return None


def _account(
    tasks: Sequence[Task],
    pending: list[int],
    records: list[TaskRecord | None],
    procs: dict[int, Any],
    late: dict[int, int],
    log_dir: str,
    strategy: ProcessPoolStrategy,
    notes: list[str],
) -> list[int]:
    """Say what happened to each pending task with no record; return those to run again.

    The pool tells only that it broke. Each worker's files say which task it had
    started; its exit code says how it ended. When one worker dies the pool
    terminates the others (SIGTERM): a task whose worker ended so was stopped by
    the pool, not by its own doing, and runs again in a fresh pool, as do the
    tasks not started. If no task can be blamed, the rest are recorded lost.
    """
    for proc in procs.values():
        proc.join(timeout=10)
    lefts = {pid: read_leftovers(log_dir, pid, boot=BOOT) for pid in procs}
    culprits = [
        f"worker {pid} died with {describe_exit(proc.exitcode)}"
        for pid, proc in procs.items()
        if pid not in late.values() and proc.exitcode not in (0, -signal.SIGTERM)
    ]
    died = []
    for pid, proc in procs.items():
        index = lefts[pid].last_started
        stopped_by_pool = proc.exitcode == -signal.SIGTERM and bool(culprits or late)
        if index is not None and records[index] is None and not stopped_by_pool:
            died.append(Died(lefts[pid], proc.exitcode, [index]))
    why = "; ".join(culprits) or "a worker process died"
    line = error_line(read_tail(os.path.join(log_dir, BOOT), RAW_TAIL_BYTES))
    if line:
        why += f": {line}"
    how = "its worker process {} was stopped and the pool replaced"
    stopped = {i: Late(how.format(pid), _left_by(lefts, pid, i)) for i, pid in late.items()}
    missing = [i for i in pending if records[i] is None]
    again = recover(
        tasks,
        missing,
        records,
        kind="worker process",
        timeout_s=strategy.timeout_s or 0.0,
        lost=f"the process pool broke ({why})",
        died=died,
        late=stopped,
    )
    if again:
        names = ", ".join(repr(tasks[i].name) for i in again[:5]) + (
            " ..." if len(again) > 5 else ""
        )
        notes.append(
            f"the process pool broke ({why}); {len(again)} task(s) not finished "
            f"({names}) ran again in a fresh pool"
        )
    return again


def _left_by(lefts: dict[int, Leftovers], pid: int, index: int) -> Leftovers:
    """What worker ``pid`` left of task ``index``, if that was the task it ran last."""
    left = lefts.get(pid)
    return left if left is not None and left.last_started == index else Leftovers(pid)
