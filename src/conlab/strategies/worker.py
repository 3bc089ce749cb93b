"""What runs inside a worker process, and how the parent reads what it left behind.

Each worker process writes to two files in the run's log directory, named by
its pid: ``PID.raw`` receives its file descriptors 1 and 2 (C-level output,
faulthandler's report of a segfault, the traceback of a child that failed to
start), and ``PID.frames`` receives a frame when a task starts and the first
MiB of each task's output as it is written. A worker that dies therefore
leaves behind which task it was running and what that task had printed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from conlab.model import ERROR, TaskRecord
from conlab.strategies import capture, shipping
from conlab.strategies.execute import current_worker, execute, format_error

_FRAME = struct.Struct("<BqiI")  # kind, perf_counter_ns, task index, payload length
_START, _OUT = 1, 2
WRITE_THROUGH_CHARS = 1 << 20


class WorkerLog:
    """The files of one worker process (child side)."""

    def __init__(self, log_dir: str) -> None:
        pid = os.getpid()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self.frames_fd = os.open(os.path.join(log_dir, f"{pid}.frames"), flags, 0o600)
        raw_fd = os.open(os.path.join(log_dir, f"{pid}.raw"), flags, 0o600)
        for stream in ("stdout", "stderr"):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                getattr(sys, stream).flush()
        os.dup2(raw_fd, 1)
        os.dup2(raw_fd, 2)
        os.close(raw_fd)
        # Imported here: faulthandler cannot load in a subinterpreter, where this module also runs.
        import faulthandler

        faulthandler.enable(file=2, all_threads=True)

    def start(self, index: int) -> None:
        os.write(self.frames_fd, _FRAME.pack(_START, time.perf_counter_ns(), index, 0))

    def sink(self, index: int) -> TeeSink:
        return TeeSink(self.frames_fd, index)


class TeeSink(capture.BoundedSink):
    """Keeps output in memory like BoundedSink, and writes its first MiB to the log as it comes."""

    __slots__ = ("_fd", "_index", "_written")

    def __init__(self, fd: int, index: int) -> None:
        super().__init__()
        self._fd, self._index, self._written = fd, index, 0

    def write(self, text: str) -> None:
        super().write(text)
        if text and self._written < WRITE_THROUGH_CHARS:
            data = text[: WRITE_THROUGH_CHARS - self._written].encode("utf-8", "replace")
            self._written += len(text)
            os.write(
                self._fd, _FRAME.pack(_OUT, time.perf_counter_ns(), self._index, len(data)) + data
            )


def pack(record: TaskRecord) -> bytes:
    """A record with its result, ready to travel back to the parent.

    The result is pickled here, in the worker, so that a result that cannot be
    sent back is recorded against its own task.
    """
    result_bytes = b""
    if record.ok:
        try:
            result_bytes = shipping.dumps(record.result)
        except Exception as exc:
            record.status = ERROR
            record.error = shipping.unpicklable_hint("the result", record.result, exc)
            record.traceback = traceback.format_exc()
    record.result = None
    return pickle.dumps((record, result_bytes), protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes) -> TaskRecord:
    record, result_bytes = pickle.loads(data)
    if result_bytes:
        record.result = shipping.loads(result_bytes)
    return record


def _load_task(payload: bytes, index: int) -> Any:
    """The task, or a record of why it could not be loaded here."""
    try:
        return shipping.loads(payload)
    except Exception as exc:
        record = TaskRecord(index=index, name="?", status=ERROR, worker=current_worker())
        record.error = f"the task could not be loaded in the worker process: {format_error(exc)}"
        if shipping.PICKLER == "pickle" and "__main__" in str(exc):
            record.error += (
                " (without cloudpickle, a function defined in __main__ cannot be sent to a "
                "spawned process: install cloudpickle in this Python, or define it in a module)"
            )
        record.traceback = traceback.format_exc()
        return record


# --- one process per task -------------------------------------------------------------


def process_main(conn: Any, payload: bytes, index: int, log_dir: str) -> None:
    """Body of a ``processes`` child: load the task, say ready, wait for go, run, report."""
    log = WorkerLog(log_dir)
    capture.install()
    task = _load_task(payload, index)
    if isinstance(task, TaskRecord):
        conn.send_bytes(b"R" + pack(task))
        return
    conn.send_bytes(b"S")
    if conn.recv_bytes() != b"G":
        return
    log.start(index)
    record = execute(task, index, sink=log.sink(index))
    conn.send_bytes(b"R" + pack(record))
    conn.close()


# --- a ProcessPoolExecutor's workers ------------------------------------------------------

_log: WorkerLog | None = None


def pool_init(log_dir: str) -> None:
    global _log
    _log = WorkerLog(log_dir)
    capture.install()


def pool_ready(log_dir: str, workers: int, timeout_s: float, preload: bytes = b"") -> int:
    """A warm-up task: returns when ``workers`` distinct workers are running one each.

    ``preload`` holds the tasks' callables: loading them imports their modules,
    which is start-up, not work. A callable that fails to load fails its own task later.
    """
    if preload:
        with contextlib.suppress(Exception):
            shipping.loads(preload)
    open(os.path.join(log_dir, f"{os.getpid()}.ready"), "w").close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(name.endswith(".ready") for name in os.listdir(log_dir)) >= workers:
            break
        time.sleep(0.001)
    return os.getpid()


def pool_task(payload: bytes, index: int) -> bytes:
    assert _log is not None, "pool_init did not run"
    _log.start(index)
    task = _load_task(payload, index)
    if isinstance(task, TaskRecord):
        return pack(task)
    return pack(execute(task, index, sink=_log.sink(index)))


# --- the parent's side -------------------------------------------------------------------


@dataclass
class Leftovers:
    """What a worker process left in its files: the tasks it started and what they printed."""

    pid: int
    started: dict[int, int] = field(default_factory=dict)  # task index -> start ns
    chunks: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    raw: str = ""

    @property
    def last_started(self) -> int | None:
        if not self.started:
            return None
        return max(self.started, key=lambda i: self.started[i])


def read_leftovers(
    log_dir: str, pid: int, boot: str | None = None, raw_tail_bytes: int = 8192
) -> Leftovers:
    """What worker ``pid`` left; ``boot`` names the file that caught its output while it started."""
    left = Leftovers(pid)
    try:
        with open(os.path.join(log_dir, f"{pid}.frames"), "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    pos = 0
    while pos + _FRAME.size <= len(data):
        kind, t_ns, index, length = _FRAME.unpack_from(data, pos)
        pos += _FRAME.size
        text = data[pos : pos + length].decode("utf-8", "replace")
        pos += length
        if kind == _START:
            left.started[index] = t_ns
        elif kind == _OUT:
            left.chunks.setdefault(index, []).append((t_ns, text))
    names = ([boot] if boot else []) + [f"{pid}.raw"]
    left.raw = "".join(read_tail(os.path.join(log_dir, name), raw_tail_bytes) for name in names)
    return left


def read_tail(path: str, size: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(max(0, end - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


_ERROR_LINE = re.compile(
    r"^(?:[\w.]+(?:Error|Exception|Exit|Interrupt)\b.*|Fatal Python error:.*)$"
)


def error_line(text: str) -> str | None:
    """The line of a worker's stderr that says what went wrong, if there is one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for k in range(len(lines) - 1, -1, -1):
        if _ERROR_LINE.match(lines[k]):
            if lines[k].endswith(":") and k + 1 < len(lines):  # the message is on the next line
                return f"{lines[k]} {lines[k + 1]}"
            return lines[k]
    return None
