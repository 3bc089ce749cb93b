"""Threads in this process: one ``threading.Thread`` per task, or a ``ThreadPoolExecutor``.

A thread cannot be stopped from outside. With a timeout, a task past it is
recorded ``timeout`` and its thread abandoned: the run stops waiting for it and
ends; the thread runs on until the process ends. That is why an in-process
strategy with a timeout runs in a sandbox process (sandbox.py), whose end stops it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from conlab._process import capture
from conlab._process import execute as _execute
from conlab._process.execute import (
    enter_pool_thread,
    execute,
    execute_pooled,
    owners,
    timed_out,
    unstarted,
)
from conlab._process.execute import records as execute_records
from conlab.measure.tree import self_cpu_s
from conlab.model import LOST, Task, TaskRecord
from conlab.strategies.base import THREADS, Execution, Strategy, pool_size

ABANDONED = (
    "its thread was abandoned (a thread cannot be stopped) and ran on until its process ended"
)


class ThreadsStrategy(Strategy):
    name = "threads"
    family = THREADS
    description = "one threading.Thread per task: start() them all, then join() them all"
    pooled = False
    handles_timeout = True

    def run(self, tasks: Sequence[Task]) -> Execution:
        records: list[TaskRecord | None] = [None] * len(tasks)

        def work(i: int, task: Task) -> None:
            records[i] = execute(task, i)

        with capture.routed():
            cpu0 = self_cpu_s()
            t0 = time.perf_counter_ns()
            threads = [
                threading.Thread(
                    target=work, args=(i, task), name=f"conlab-{task.name}", daemon=True
                )
                for i, task in enumerate(tasks)
            ]
            for thread in threads:
                thread.start()
            late = self._join(threads, t0)
            final = list(records)  # an abandoned thread that ends later changes nothing here
            t1 = time.perf_counter_ns()
            cpu = self_cpu_s() - cpu0
        for i in late:
            final[i] = timed_out(tasks[i], i, self.timeout_s or 0.0, ABANDONED, t0)
        assert all(r is not None for r in final), "a thread ended without a record"
        return Execution([r for r in final if r is not None], t0, t1, cpu_s=cpu)

    def _join(self, threads: list[threading.Thread], t0_ns: int) -> list[int]:
        """Join every thread; with a timeout, the indices of those still running past it."""
        if self.timeout_s is None:
            for thread in threads:
                thread.join()
            return []
        deadline_ns = t0_ns + int(self.timeout_s * 1e9)
        for thread in threads:
            thread.join(max(0.0, (deadline_ns - time.perf_counter_ns()) / 1e9))
        return [i for i, thread in enumerate(threads) if thread.is_alive()]


class ThreadPoolStrategy(Strategy):
    name = "thread-pool"
    family = THREADS
    description = "concurrent.futures.ThreadPoolExecutor(max_workers=N)"
    handles_timeout = True

    def run(self, tasks: Sequence[Task]) -> Execution:
        workers, notes = pool_size(self.workers, len(tasks))
        started: dict[int, int] = {}

        def work(task: Task, i: int) -> TaskRecord:
            started[i] = time.perf_counter_ns()
            return execute(task, i)

        # The common case: no timeout, not in a sandbox. Its threads run execute_pooled, and
        # its records are built after the timed part, outside the contention of the threads.
        fast = self.timeout_s is None and _execute.journal is None
        states: list[Any] = []  # the pool's threads' states (enter_pool_thread)
        with capture.routed():
            s0 = time.perf_counter_ns()
            pool = ThreadPoolExecutor(
                max_workers=workers,
                thread_name_prefix="conlab",
                initializer=functools.partial(enter_pool_thread, states) if fast else None,
            )
            try:
                _start_all_threads(pool, workers)
                cpu0 = self_cpu_s()
                t0 = time.perf_counter_ns()
                if fast:
                    submitted = [pool.submit(execute_pooled, t, i) for i, t in enumerate(tasks)]
                    fields = [f.result() for f in submitted]
                    del submitted  # freed in the timed part, as the least record's futures are
                elif self.timeout_s is None:  # in a sandbox: each record journaled as it ends
                    futures = [pool.submit(execute, task, i) for i, task in enumerate(tasks)]
                    records = [f.result() for f in futures]
                else:
                    futures = [pool.submit(work, task, i) for i, task in enumerate(tasks)]
                    records = self._collect(tasks, futures, started, workers)
                t1 = time.perf_counter_ns()
                cpu = self_cpu_s() - cpu0
            finally:
                # An abandoned thread is not waited for; the sandbox's end stops it.
                pool.shutdown(wait=self.timeout_s is None, cancel_futures=True)
        if fast:
            records = execute_records(tasks, fields, owners(states, len(tasks)))
        return Execution(records, t0, t1, startup_ns=t0 - s0, cpu_s=cpu, notes=notes)

    def _collect(
        self,
        tasks: Sequence[Task],
        futures: list[Future[TaskRecord]],
        started: dict[int, int],
        workers: int,
    ) -> list[TaskRecord]:
        """Each task's record, or ``timeout`` once it ran past the limit (its thread abandoned)."""
        limit_ns = int((self.timeout_s or 0.0) * 1e9)
        out: list[TaskRecord | None] = [None] * len(tasks)
        abandoned = 0
        while waiting := [i for i, r in enumerate(out) if r is None]:
            now = time.perf_counter_ns()
            for i in waiting:
                if futures[i].done():
                    out[i] = futures[i].result()
                elif i in started and now - started[i] > limit_ns:
                    how = ABANDONED
                    out[i] = timed_out(tasks[i], i, self.timeout_s or 0.0, how, started[i])
                    abandoned += 1
            if abandoned >= workers:
                # Every thread of the pool is stuck: what has not started never will.
                for i in [i for i, r in enumerate(out) if r is None and i not in started]:
                    futures[i].cancel()
                    out[i] = unstarted(
                        tasks[i], i, LOST, "not run: every worker thread was stuck past the timeout"
                    )
            running = [futures[i] for i, r in enumerate(out) if r is None]
            if running:
                expiry = [
                    started[i] + limit_ns for i, r in enumerate(out) if r is None and i in started
                ]
                wait_s = max(0.001, (min(expiry) - now) / 1e9) if expiry else 0.05
                wait(running, timeout=min(wait_s, 0.05), return_when=FIRST_COMPLETED)
        return [r for r in out if r is not None]


def _start_all_threads(pool: ThreadPoolExecutor, workers: int) -> None:
    """Make the pool start all its threads now, so that their start-up is timed apart.

    ThreadPoolExecutor starts a thread per submission while none is idle;
    tasks that wait for each other keep every thread busy until all exist.
    A Ctrl-C meanwhile breaks the barrier: a thread it caught starting (in
    ``Thread.start``) is not the pool's to join, and it would hold the
    command's exit for the barrier's 10 s.
    """
    barrier = threading.Barrier(workers)
    try:
        for f in [pool.submit(barrier.wait, 10) for _ in range(workers)]:
            f.result()
    except BaseException:
        barrier.abort()
        raise
