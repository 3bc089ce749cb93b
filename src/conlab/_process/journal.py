"""A worker process's journal: what it notes as it runs, and how the parent reads what it left.

Each worker process writes to two files in the run's log directory, named by
its pid: ``PID.raw`` receives its file descriptors 1 and 2 (C-level output,
faulthandler's report of a segfault, the traceback of a child that failed to
start), and ``PID.frames`` receives a frame (wire.py) when a task starts and
the first MiB of each task's output as it is written. A worker that dies
therefore leaves behind which task it was running and what that task had
printed. An event loop's tasks all run in one thread: a frame also says which
task holds it (a step that does not return), so that a blocked loop is blamed
on that task.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
from dataclasses import dataclass, field

from conlab._process import capture
from conlab._process.wire import (
    END,
    HOLD,
    NOBODY,
    OUT,
    START,
    frame,
    pack_lenient,
    split_frames,
    unpack,
)
from conlab.model import TaskRecord

WRITE_THROUGH_CHARS = 1 << 20
RAW_TAIL_BYTES = 8192
# A START frame's payload: the thread running the task (threading.get_ident, the id that
# faulthandler prints), so that a crash in one of several threads is blamed on its task alone.
_THREAD = struct.Struct("<Q")


class FrameLog:
    """Writes a worker process's frames to its open frames file: task starts, output, records.

    Apart from WorkerLog so that a subinterpreter of that process, which shares
    its file descriptors, can note its own tasks in the same file.
    """

    def __init__(self, frames_fd: int) -> None:
        self.frames_fd = frames_fd

    def start(self, index: int) -> None:
        os.write(self.frames_fd, frame(START, index, _THREAD.pack(threading.get_ident())))

    def sink(self, index: int) -> TeeSink:
        return TeeSink(self.frames_fd, index)

    def hold(self, index: int) -> None:
        """Note that task ``index`` holds the thread all tasks share (NOBODY: none does now)."""
        os.write(self.frames_fd, frame(HOLD, index))

    def end(self, record: TaskRecord) -> None:
        """Note a finished task's record, so that it survives the death of its process."""
        os.write(self.frames_fd, frame(END, record.index, pack_lenient(record)))


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
            os.write(self._fd, frame(OUT, self._index, data))


# --- the parent's side -------------------------------------------------------------------


class JournalReader:
    """Reads a worker's frames file as it grows: which tasks started, their output, their records."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self._buf = b""
        self.started: dict[int, int] = {}  # task index -> start ns
        self.threads: dict[int, int] = {}  # task index -> the thread running it
        self.chunks: dict[int, list[tuple[int, str]]] = {}
        self.ended: dict[int, TaskRecord] = {}
        self.holding: int | None = None  # the task holding the thread all tasks share

    def poll(self, final: bool = False) -> JournalReader:
        """Read what was added since; ``final``: its writer is gone (see wire.split_frames)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return self
        self._offset += len(data)
        buf = self._buf + data
        frames, used = split_frames(buf, final)
        for kind, t_ns, index, payload in frames:
            if kind == START:
                self.started[index] = t_ns
                if len(payload) == _THREAD.size:
                    self.threads[index] = _THREAD.unpack(payload)[0]
            elif kind == OUT:
                self.chunks.setdefault(index, []).append((t_ns, payload.decode("utf-8", "replace")))
            elif kind == END:
                self.ended[index] = unpack(payload)
            elif kind == HOLD:
                self.holding = None if index == NOBODY else index
        self._buf = buf[used:]
        return self

    @property
    def running(self) -> list[int]:
        """Tasks started and not finished, oldest first."""
        return sorted(
            (i for i in self.started if i not in self.ended), key=lambda i: self.started[i]
        )


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
    log_dir: str, pid: int, boot: str | None = None, raw_tail_bytes: int = RAW_TAIL_BYTES
) -> Leftovers:
    """What worker ``pid`` left; ``boot`` names the file that caught its output while it started."""
    journal = JournalReader(os.path.join(log_dir, f"{pid}.frames")).poll(final=True)
    names = ([boot] if boot else []) + [f"{pid}.raw"]
    raw = "".join(read_tail(os.path.join(log_dir, name), raw_tail_bytes) for name in names)
    return Leftovers(pid, journal.started, journal.chunks, raw)


def read_tail(path: str, size: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(max(0, end - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
