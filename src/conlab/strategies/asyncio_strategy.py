"""``asyncio.gather`` over a workload's async variant, in one event loop.

Each task runs as an asyncio task of its own, so the capture ContextVar keeps
its output apart from the others'. Its CPU time is counted step by step: the
thread's CPU clock is read around each resumption of the coroutine, so time
spent in other tasks and in the loop itself is not charged to it.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import traceback
from collections.abc import Awaitable, Generator, Sequence
from typing import Any

from conlab.measure.probe import self_cpu_s
from conlab.model import ERROR, OK, Task, TaskRecord
from conlab.strategies import capture
from conlab.strategies.base import Execution, Strategy
from conlab.strategies.execute import current_worker, format_error


class AsyncioStrategy(Strategy):
    """All tasks in one event loop; with ``workers`` N, at most N at a time (a semaphore)."""

    name = "asyncio"
    description = "asyncio.gather over the workload's async variant, in one event loop"
    pooled = False
    # The lab gives this strategy the workload's async_tasks.
    wants_async = True

    def workers_for(self, n_tasks: int) -> int:
        return min(self.workers, n_tasks) if self.workers else n_tasks

    def run(self, tasks: Sequence[Task]) -> Execution:
        with capture.routed():
            cpu0 = self_cpu_s()
            t0, t1, records = _in_fresh_loop(_gather(tasks, self.workers))
            cpu = self_cpu_s() - cpu0
        return Execution(records, t0, t1, startup_ns=None, cpu_s=cpu)


async def _gather(tasks: Sequence[Task], limit: int | None) -> tuple[int, int, list[TaskRecord]]:
    gate = asyncio.Semaphore(limit) if limit else None

    async def one(task: Task, index: int) -> TaskRecord:
        if gate is None:
            return await execute_async(task, index)
        async with gate:
            return await execute_async(task, index)

    t0 = time.perf_counter_ns()
    records = await asyncio.gather(*(one(task, i) for i, task in enumerate(tasks)))
    return t0, time.perf_counter_ns(), list(records)


def _in_fresh_loop(coro: Any) -> Any:
    """``asyncio.run(coro)``; in a thread of its own when this thread already runs a loop.

    A Jupyter cell runs inside the kernel's event loop, where asyncio.run refuses to start.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main, name="conlab-asyncio")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def execute_async(task: Task, index: int) -> TaskRecord:
    """Await ``task`` in the current asyncio task: output captured, timed, errors recorded."""
    sink = capture.BoundedSink()
    token = capture.set_sink(sink)
    record = TaskRecord(index=index, name=task.name, status=OK, worker=current_worker())
    timed: _CpuTimed | None = None
    record.start_ns = time.perf_counter_ns()
    try:
        awaitable = task.fn(*task.args, **task.kwargs)
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"{task.name} returned {type(awaitable).__name__}, not an awaitable: "
                "the asyncio strategy needs async def functions"
            )
        timed = _CpuTimed(awaitable)
        record.result = await timed
    except (Exception, SystemExit) as exc:
        record.status = ERROR
        record.error = format_error(exc)
        record.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    finally:
        record.end_ns = time.perf_counter_ns()
        record.cpu_ns = timed.cpu_ns if timed is not None else 0
        capture.reset_sink(token)
    record.output_chunks, record.output_dropped_chars = sink.finish()
    return record


class _CpuTimed:
    """Awaits an awaitable, adding up the thread CPU time of each of its steps."""

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self._steps = awaitable.__await__()
        self.cpu_ns = 0

    def __await__(self) -> Generator[Any, Any, Any]:
        steps: Any = self._steps
        send: Any = None
        throw: BaseException | None = None
        while True:
            c0 = time.thread_time_ns()
            try:
                yielded = steps.throw(throw) if throw is not None else steps.send(send)
            except StopIteration as stop:
                return stop.value
            finally:
                self.cpu_ns += time.thread_time_ns() - c0
            try:
                send, throw = (yield yielded), None
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:
                send, throw = None, exc
