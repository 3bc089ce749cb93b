"""Running one task and recording what happened, in whichever thread or process runs it."""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
from typing import Any, Protocol

from conlab.model import ERROR, OK, TIMEOUT, Task, TaskRecord, Worker
from conlab.strategies import capture

_HOST = socket.gethostname()


class Journal(Protocol):
    """Where a sandbox process notes each task's start, output and record as they happen."""

    def start(self, index: int) -> None: ...
    def sink(self, index: int) -> capture.BoundedSink: ...
    def end(self, record: TaskRecord) -> None: ...


# Set only inside a sandbox process (sandbox.py), so that its death loses no finished task.
journal: Journal | None = None


def current_worker() -> Worker:
    return Worker(host=_HOST, pid=os.getpid(), thread=threading.get_native_id())


def format_error(exc: BaseException) -> str:
    """``ExcType: message``, on one line."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split("\n")[:1]) if text else type(exc).__name__


def execute(task: Task, index: int, sink: capture.BoundedSink | None = None) -> TaskRecord:
    """Run ``task`` here, capturing its output, timing it and catching its error.

    The output is kept in memory, bounded; a process worker passes a sink that
    also writes through to its log file, so that what a task printed survives
    the worker's crash.
    """
    if journal is not None:
        journal.start(index)
        if sink is None:
            sink = journal.sink(index)
    if sink is None:
        sink = capture.BoundedSink()
    token = capture.set_sink(sink)
    record = TaskRecord(index=index, name=task.name, status=OK, worker=current_worker())
    cpu0 = time.thread_time_ns()
    record.start_ns = time.perf_counter_ns()
    try:
        record.result = task.fn(*task.args, **task.kwargs)
    except (Exception, SystemExit) as exc:
        record.status = ERROR
        record.error = format_error(exc)
        record.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    finally:
        record.end_ns = time.perf_counter_ns()
        record.cpu_ns = time.thread_time_ns() - cpu0
        capture.reset_sink(token)
    record.output_chunks, record.output_dropped_chars = sink.finish()
    if journal is not None:
        journal.end(record)
    return record


def unstarted(task: Task, index: int, status: str, error: str) -> TaskRecord:
    """The record of a task that never ran (it could not be shipped, or its worker was lost)."""
    return TaskRecord(index=index, name=task.name, status=status, error=error)


def describe(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def timed_out(
    task: Task,
    index: int,
    timeout_s: float,
    how: str,
    start_ns: int | None = None,
    chunks: list[tuple[int, str]] | None = None,
) -> TaskRecord:
    """The record of a task that ran past its time limit; ``how`` says what became of it."""
    return TaskRecord(
        index=index,
        name=task.name,
        status=TIMEOUT,
        start_ns=start_ns,
        output_chunks=list(chunks or []),
        error=f"ran past the timeout of {timeout_s:g} s; {how}",
    )
