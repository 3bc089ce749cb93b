"""What runs inside a worker process, and how the parent reads what it left behind.

Each worker process writes to two files in the run's log directory, named by
its pid: ``PID.raw`` receives its file descriptors 1 and 2 (C-level output,
faulthandler's report of a segfault, the traceback of a child that failed to
start), and ``PID.frames`` receives a frame when a task starts and the first
MiB of each task's output as it is written. A worker that dies therefore
leaves behind which task it was running and what that task had printed. An
event loop's tasks all run in one thread: a frame also says which task holds
it (a step that does not return), so that a blocked loop is blamed on that task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import re
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from conlab._process import capture, shipping
from conlab._process.execute import current_worker, execute
from conlab.errors import format_error
from conlab.model import ERROR, TaskRecord

_FRAME = struct.Struct("<BqiI")  # kind, perf_counter_ns, task index, payload length
_START, _OUT, _END, _HOLD = 1, 2, 3, 4
NOBODY = -1  # a _HOLD frame for this index: no task holds the thread any more
WRITE_THROUGH_CHARS = 1 << 20


class FrameLog:
    """Writes a worker process's frames to its open frames file: task starts, output, records.

    Apart from WorkerLog so that a subinterpreter of that process, which shares
    its file descriptors, can note its own tasks in the same file.
    """

    def __init__(self, frames_fd: int) -> None:
        self.frames_fd = frames_fd

    def start(self, index: int) -> None:
        os.write(self.frames_fd, _FRAME.pack(_START, time.perf_counter_ns(), index, 0))

    def sink(self, index: int) -> TeeSink:
        return TeeSink(self.frames_fd, index)

    def hold(self, index: int) -> None:
        """Note that task ``index`` holds the thread all tasks share (NOBODY: none does now)."""
        os.write(self.frames_fd, _FRAME.pack(_HOLD, time.perf_counter_ns(), index, 0))

    def end(self, record: TaskRecord) -> None:
        """Note a finished task's record, so that it survives the death of its process."""
        data = pack_lenient(record)
        os.write(
            self.frames_fd,
            _FRAME.pack(_END, time.perf_counter_ns(), record.index, len(data)) + data,
        )


class WorkerLog(FrameLog):
    """The files of one worker process (child side): its frames, and its fds 1 and 2."""

    def __init__(self, log_dir: str) -> None:
        pid = os.getpid()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        super().__init__(os.open(os.path.join(log_dir, f"{pid}.frames"), flags, 0o600))
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


def pack(record: TaskRecord, sent: str = f"to {shipping.PROCESS}") -> bytes:
    """A record with its result, ready to travel back to the parent.

    The result is pickled here, in the worker, so that a result that cannot be
    sent back is recorded against its own task; ``sent`` is how its hint says
    where the result was going ("to another process", "back from a subinterpreter").
    """
    result_bytes = b""
    if record.ok:
        try:
            result_bytes = shipping.dumps(record.result)
        except Exception as exc:
            record.status = ERROR
            record.error = shipping.unpicklable_hint("the result", record.result, exc, sent)
            record.traceback = traceback.format_exc()
    record.result = None
    return pickle.dumps((record, result_bytes), protocol=pickle.HIGHEST_PROTOCOL)


class Unshipped:
    """Stands for a result that could not leave the sandbox process: its type and repr.

    Under an in-process strategy the result was fine; only the sandbox around the
    run could not send it back. Two are equal when their types are.
    """

    def __init__(self, obj: Any) -> None:
        self.type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        self.text = repr(obj)[:200]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unshipped) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)

    def __repr__(self) -> str:
        return f"<unshipped {self.type_name}: {self.text}>"


def pack_lenient(record: TaskRecord) -> bytes:
    """Like pack, on a copy, keeping the record ok when its result cannot be pickled."""
    try:
        result_bytes = shipping.dumps(record.result) if record.ok else b""
    except Exception:
        result_bytes = shipping.dumps(Unshipped(record.result))
    copy = dataclasses.replace(record, result=None)
    return pickle.dumps((copy, result_bytes), protocol=pickle.HIGHEST_PROTOCOL)


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


def pool_tasks(payloads: list[bytes], indices: list[int]) -> list[bytes]:
    """A batch of tasks in one submission (``chunksize``); one packed record per task."""
    return [pool_task(payload, index) for payload, index in zip(payloads, indices, strict=True)]


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


class JournalReader:
    """Reads a worker's frames file as it grows: which tasks started, their output, their records."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self._buf = b""
        self.started: dict[int, int] = {}  # task index -> start ns
        self.chunks: dict[int, list[tuple[int, str]]] = {}
        self.ended: dict[int, TaskRecord] = {}
        self.holding: int | None = None  # the task holding the thread all tasks share

    def poll(self) -> JournalReader:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return self
        self._offset += len(data)
        buf, pos = self._buf + data, 0
        while pos + _FRAME.size <= len(buf):
            kind, t_ns, index, length = _FRAME.unpack_from(buf, pos)
            if pos + _FRAME.size + length > len(buf):
                break
            payload = buf[pos + _FRAME.size : pos + _FRAME.size + length]
            pos += _FRAME.size + length
            if kind == _START:
                self.started[index] = t_ns
            elif kind == _OUT:
                self.chunks.setdefault(index, []).append((t_ns, payload.decode("utf-8", "replace")))
            elif kind == _END:
                self.ended[index] = unpack(payload)
            elif kind == _HOLD:
                self.holding = None if index == NOBODY else index
        self._buf = buf[pos:]
        return self

    @property
    def running(self) -> list[int]:
        """Tasks started and not finished, oldest first."""
        return sorted(
            (i for i in self.started if i not in self.ended), key=lambda i: self.started[i]
        )
