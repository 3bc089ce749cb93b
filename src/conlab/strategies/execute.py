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
_thread_time_ns = time.thread_time_ns
_perf_counter_ns = time.perf_counter_ns
_set_sink = capture.set_sink
_reset_sink = capture.reset_sink


_local = threading.local()


def _forget_workers() -> None:
    global _local
    _local = threading.local()


if hasattr(os, "register_at_fork"):
    # A forked child's thread is another worker: it must not reuse its parent's.
    os.register_at_fork(after_in_child=_forget_workers)


class Journal(Protocol):
    """Where a sandbox process notes each task's start, output and record as they happen."""

    def start(self, index: int) -> None: ...
    def sink(self, index: int) -> capture.BoundedSink: ...
    def end(self, record: TaskRecord) -> None: ...


# Set only inside a sandbox process (sandbox.py), so that its death loses no finished task.
journal: Journal | None = None


def current_worker() -> Worker:
    """The worker running this code, made once per thread: per-task cost matters at 100k tasks."""
    worker: Worker | None = getattr(_local, "worker", None)
    if worker is None:
        worker = Worker(host=_HOST, pid=os.getpid(), thread=threading.get_native_id())
        _local.worker = worker
    return worker


def format_error(exc: BaseException) -> str:
    """``ExcType: message``, on one line."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split("\n")[:1]) if text else type(exc).__name__


# What execute_fields returns: the fields of a TaskRecord after its index and name.
Fields = tuple[
    str, int, int, int, Worker, list[tuple[int, str]], int, Any, "str | None", "str | None"
]


def execute_fields(task: Task, sink: capture.BoundedSink | None = None) -> Fields:
    """Run ``task`` here, capturing its output, timing it and catching its error.

    Returns the record's fields as a tuple, so that a pool can build the
    TaskRecords after the timed part: at 100,000 tiny tasks, building them
    among contending threads would cost more than the tasks themselves. The
    output is kept in memory, bounded; a process worker passes a sink that
    also writes through to its log file, so that what a task printed survives
    the worker's crash.
    """
    if sink is None:
        sink = capture.BoundedSink()
    token = _set_sink(sink)
    worker = current_worker()
    status, result, error, tb = OK, None, None, None
    cpu0 = _thread_time_ns()
    start_ns = _perf_counter_ns()
    try:
        result = task.fn(*task.args, **task.kwargs)
    except (Exception, SystemExit) as exc:
        status, error = ERROR, format_error(exc)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    finally:
        end_ns = _perf_counter_ns()
        cpu_ns = _thread_time_ns() - cpu0
        _reset_sink(token)
    chunks, dropped = sink.finish()
    return (status, start_ns, end_ns, cpu_ns, worker, chunks, dropped, result, error, tb)


def record(task: Task, index: int, fields: Fields) -> TaskRecord:
    """The TaskRecord of ``task`` from what execute_fields returned."""
    return TaskRecord(index, task.name, *fields)


def execute(task: Task, index: int, sink: capture.BoundedSink | None = None) -> TaskRecord:
    """Run ``task`` here and return its record (see execute_fields).

    Inside a sandbox process, the journal notes the task's start, output and
    record as they happen, so that the sandbox's death loses no finished task.
    """
    if journal is None:
        return TaskRecord(index, task.name, *execute_fields(task, sink))
    journal.start(index)
    result = TaskRecord(index, task.name, *execute_fields(task, sink or journal.sink(index)))
    journal.end(result)
    return result


def unstarted(task: Task, index: int, status: str, error: str) -> TaskRecord:
    """The record of a task that never ran (it could not be shipped, or its worker was lost)."""
    return TaskRecord(index=index, name=task.name, status=status, error=error)


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
