"""Running one task and recording what happened, in whichever thread or process runs it."""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
from typing import Any

from conlab.model import ERROR, OK, Task, TaskRecord, Worker
from conlab.strategies import capture

_HOST = socket.gethostname()


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
    return record


def unstarted(task: Task, index: int, status: str, error: str) -> TaskRecord:
    """The record of a task that never ran (it could not be shipped, or its worker was lost)."""
    return TaskRecord(index=index, name=task.name, status=status, error=error)


def describe(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"
