"""``asyncio.gather`` over a workload's async variant, in one event loop.

Each task runs as an asyncio task of its own, so the capture ContextVar keeps
its output apart from the others'. Its CPU time is counted step by step: the
thread's CPU clock is read around each resumption of the coroutine, so time
spent in other tasks and in the loop itself is not charged to it.

With a timeout, a task past it is cancelled (``CancelledError`` at its next
await) and recorded ``timeout``; the other tasks go on. A task that blocks the
loop never reaches an await: the sandbox that runs this strategy whenever a
timeout is given (sandbox.py) stops it, as it stops a crash. Inside a sandbox,
each task notes its start, output and record in the sandbox's journal, as
``execute()`` does, so that the sandbox's death loses no finished task; and a
watcher thread notes which task holds the loop, so that the sandbox blames the
task that blocks it, not those it keeps waiting.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import traceback
from collections.abc import Awaitable, Generator, Sequence
from typing import Any

from conlab._process import capture
from conlab._process import execute as execute_module
from conlab._process.execute import current_worker, task_error, timed_out
from conlab._process.wire import NOBODY
from conlab.measure.tree import self_cpu_s
from conlab.model import ERROR, OK, Task, TaskRecord
from conlab.strategies.base import ASYNCIO, Execution, Strategy

CANCELLED = (
    "it was cancelled at its next await (asyncio.CancelledError) and the other tasks went on"
)
# A step of a coroutine longer than this holds the loop: the sandbox's journal is told which.
HOLD_S = 0.1


class AsyncioStrategy(Strategy):
    """All tasks in one event loop; with ``workers`` N, at most N at a time (a semaphore)."""

    name = "asyncio"
    family = ASYNCIO
    description = "asyncio.gather over the workload's async variant, in one event loop"
    pooled = False
    # A task past the timeout is cancelled here; the sandbox acts only when the loop is blocked.
    handles_timeout = True
    wants_async = True

    def workers_for(self, n_tasks: int) -> int:
        return min(self.workers, n_tasks) if self.workers else n_tasks

    def run(self, tasks: Sequence[Task]) -> Execution:
        journal = execute_module.journal
        holds = _Holds(journal) if journal is not None and self.timeout_s is not None else None
        try:
            with capture.routed():
                cpu0 = self_cpu_s()
                t0, t1, records = _in_fresh_loop(
                    _gather(tasks, self.workers, self.timeout_s, holds)
                )
                cpu = self_cpu_s() - cpu0
        finally:
            if holds is not None:
                holds.stop()
        return Execution(records, t0, t1, startup_ns=None, cpu_s=cpu)


async def _gather(
    tasks: Sequence[Task],
    limit: int | None,
    timeout_s: float | None = None,
    holds: _Holds | None = None,
) -> tuple[int, int, list[TaskRecord]]:
    gate = asyncio.Semaphore(limit) if limit else None

    async def one(task: Task, index: int) -> TaskRecord:
        if gate is None:
            return await execute_async(task, index, timeout_s, holds)
        async with gate:
            return await execute_async(task, index, timeout_s, holds)

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


async def execute_async(
    task: Task, index: int, timeout_s: float | None = None, holds: _Holds | None = None
) -> TaskRecord:
    """Await ``task`` in the current asyncio task: output captured, timed, errors recorded.

    Past ``timeout_s`` the task is cancelled and recorded ``timeout``.
    """
    journal = execute_module.journal  # set inside a sandbox process only
    sink = journal.sink(index) if journal is not None else capture.BoundedSink()
    token = capture.set_sink(sink)
    record = TaskRecord(index=index, name=task.name, status=OK, worker=current_worker())
    timed: _CpuTimed | None = None
    deadline = _Deadline(timeout_s) if timeout_s is not None else None
    if journal is not None:
        journal.start(index)
    record.start_ns = time.perf_counter_ns()
    try:
        awaitable = task.fn(*task.args, **task.kwargs)
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"{task.name} returned {type(awaitable).__name__}, not an awaitable: "
                "the asyncio strategy needs async def functions"
            )
        timed = _CpuTimed(awaitable, index, holds)
        record.result = await timed
    except (Exception, SystemExit) as exc:
        record.status = ERROR
        record.error = task_error(exc)
        record.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except asyncio.CancelledError:
        if deadline is None or not deadline.expired:
            raise
    finally:
        record.end_ns = time.perf_counter_ns()
        record.cpu_ns = timed.cpu_ns if timed is not None else 0
        if deadline is not None:
            deadline.close()
        capture.reset_sink(token)
    record.output_chunks, record.output_dropped_chars = sink.finish()
    if deadline is not None and deadline.expired:
        record = _timed_out(record, task, timeout_s or 0.0)
    if journal is not None:
        journal.end(record)
    return record


def _timed_out(record: TaskRecord, task: Task, timeout_s: float) -> TaskRecord:
    """The record of a task cancelled past its timeout, keeping what it printed and its times."""
    late = timed_out(task, record.index, timeout_s, CANCELLED, record.start_ns)
    late.end_ns, late.cpu_ns, late.worker = record.end_ns, record.cpu_ns, record.worker
    late.output_chunks, late.output_dropped_chars = (
        record.output_chunks,
        record.output_dropped_chars,
    )
    return late


class _Deadline:
    """Cancels the current asyncio task ``timeout_s`` from now, and remembers that it did."""

    def __init__(self, timeout_s: float) -> None:
        self.expired = False
        self._task = asyncio.current_task()
        self._handle = asyncio.get_running_loop().call_later(timeout_s, self._expire)

    def _expire(self) -> None:
        self.expired = True
        if self._task is not None:
            self._task.cancel()

    def close(self) -> None:
        self._handle.cancel()
        uncancel = getattr(self._task, "uncancel", None)  # 3.11+: the cancellation was ours
        if self.expired and uncancel is not None:
            uncancel()


class _Holds:
    """Which task runs a step of its coroutine now; a thread notes in the journal one that lasts.

    A task's step that does not return holds the loop, and every other task
    waits: the sandbox, which sees them all late, is told which one to blame.
    """

    def __init__(self, journal: Any) -> None:
        self.step: tuple[int, int] | None = None  # task index, start of its step (ns)
        self._journal = journal
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="conlab-asyncio-holds", daemon=True
        )
        self._thread.start()

    def _watch(self) -> None:
        noted: tuple[int, int] | None = None
        while not self._done.wait(HOLD_S / 4):
            step = self.step
            if step is not None and time.perf_counter_ns() - step[1] > HOLD_S * 1e9:
                if step != noted:
                    self._journal.hold(step[0])
                    noted = step
            elif noted is not None:
                self._journal.hold(NOBODY)
                noted = None

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class _CpuTimed:
    """Awaits an awaitable, adding up the thread CPU time of each of its steps."""

    def __init__(
        self, awaitable: Awaitable[Any], index: int = 0, holds: _Holds | None = None
    ) -> None:
        self._steps = awaitable.__await__()
        self.cpu_ns = 0
        self._index, self._holds = index, holds

    def __await__(self) -> Generator[Any, Any, Any]:
        steps: Any = self._steps
        send: Any = None
        throw: BaseException | None = None
        holds = self._holds
        while True:
            if holds is not None:
                holds.step = (self._index, time.perf_counter_ns())
            c0 = time.thread_time_ns()
            try:
                yielded = steps.throw(throw) if throw is not None else steps.send(send)
            except StopIteration as stop:
                return stop.value
            finally:
                self.cpu_ns += time.thread_time_ns() - c0
                if holds is not None:
                    holds.step = None
            try:
                send, throw = (yield yielded), None
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:
                send, throw = None, exc
