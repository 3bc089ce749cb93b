"""Threads in this process: one ``threading.Thread`` per task, or a ``ThreadPoolExecutor``."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from conlab.measure.probe import self_cpu_s
from conlab.model import Task, TaskRecord
from conlab.strategies import capture
from conlab.strategies.base import Execution, Strategy
from conlab.strategies.execute import execute, execute_fields, record


class ThreadsStrategy(Strategy):
    name = "threads"
    description = "one threading.Thread per task: start() them all, then join() them all"
    pooled = False

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
            for thread in threads:
                thread.join()
            t1 = time.perf_counter_ns()
            cpu = self_cpu_s() - cpu0
        assert all(r is not None for r in records), "a thread ended without a record"
        return Execution([r for r in records if r is not None], t0, t1, cpu_s=cpu)


class ThreadPoolStrategy(Strategy):
    name = "thread-pool"
    description = "concurrent.futures.ThreadPoolExecutor(max_workers=N)"

    def run(self, tasks: Sequence[Task]) -> Execution:
        workers = self.workers or 1
        with capture.routed():
            s0 = time.perf_counter_ns()
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conlab")
            try:
                _start_all_threads(pool, workers)
                cpu0 = self_cpu_s()
                t0 = time.perf_counter_ns()
                futures = [pool.submit(execute_fields, task) for task in tasks]
                fields = [f.result() for f in futures]
                t1 = time.perf_counter_ns()
                cpu = self_cpu_s() - cpu0
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        # Built after the timed part, outside the contention of the pool's threads.
        records = [
            record(task, i, f) for i, (task, f) in enumerate(zip(tasks, fields, strict=True))
        ]
        return Execution(records, t0, t1, startup_ns=t0 - s0, cpu_s=cpu)


def _start_all_threads(pool: ThreadPoolExecutor, workers: int) -> None:
    """Make the pool start all its threads now, so that their start-up is timed apart.

    ThreadPoolExecutor starts a thread per submission while none is idle;
    tasks that wait for each other keep every thread busy until all exist.
    """
    barrier = threading.Barrier(workers)
    for f in [pool.submit(barrier.wait, 10) for _ in range(workers)]:
        f.result()
