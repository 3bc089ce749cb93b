"""Per-task capture of stdout and stderr.

Tasks that run in threads of one process share ``sys.stdout``, so swapping it
per task would mix their outputs. Instead ``sys.stdout`` and ``sys.stderr`` are
replaced, while a run is on, by a router that writes to the sink of the task
running in the current context, and to the original stream when no task is
running. The task's sink is found in two places: a ContextVar (one per asyncio
task; set for a task run inside another task, or given its own sink), else the
thread's own sink while it is busy (the common case: one task at a time per
thread, marked by a flag, which costs less per task than setting a ContextVar).
"""

from __future__ import annotations

import contextvars
import io
import os
import sys
import threading
import time
from collections import deque
from typing import Any, Protocol, TextIO

HEAD_CHARS = 64 * 1024
TAIL_CHARS = 64 * 1024


class Sink(Protocol):
    def write(self, text: str) -> None: ...


class BoundedSink:
    """Keeps a task's output as timed chunks: the first and last 64 KiB, and how much was dropped.

    A task that prints 50 MB costs 128 KiB here, not 50 MB.
    """

    __slots__ = ("_head_chars", "_tail", "_tail_chars", "chunks", "dropped_chars")

    def __init__(self) -> None:
        self.chunks: list[tuple[int, str]] = []
        self.dropped_chars = 0
        self._head_chars = 0
        # Made on the first overflow only: most tasks print little or nothing.
        self._tail: deque[tuple[int, str]] | None = None
        self._tail_chars = 0

    def write(self, text: str) -> None:
        if not text:
            return
        now = time.perf_counter_ns()
        if self._head_chars < HEAD_CHARS:
            room = HEAD_CHARS - self._head_chars
            self.chunks.append((now, text[:room]))
            self._head_chars += min(room, len(text))
            text = text[room:]
            if not text:
                return
        if self._tail is None:
            self._tail = deque()
        self._tail.append((now, text))
        self._tail_chars += len(text)
        while self._tail_chars > TAIL_CHARS:
            t, old = self._tail.popleft()
            excess = self._tail_chars - TAIL_CHARS
            if len(old) > excess:
                self._tail.appendleft((t, old[excess:]))
                self.dropped_chars += excess
                self._tail_chars -= excess
            else:
                self.dropped_chars += len(old)
                self._tail_chars -= len(old)

    def finish(self) -> tuple[list[tuple[int, str]], int]:
        """The kept chunks, with a marker where output was dropped, and the dropped count."""
        if not self._tail:
            return self.chunks, 0
        chunks = list(self.chunks)
        if self.dropped_chars:
            t = self._tail[0][0] if self._tail else time.perf_counter_ns()
            chunks.append((t, f"\n[... {self.dropped_chars:,} characters of output omitted ...]\n"))
        chunks.extend(self._tail)
        return chunks, self.dropped_chars


class LazySink:
    """One thread's sink, reused task after task: it makes a BoundedSink only when a task prints.

    Most tasks print nothing; at 100,000 tiny tasks, a sink made for each would
    cost more than the tasks. ``busy`` is set while a task of the thread uses it.
    """

    __slots__ = ("busy", "sink")

    def __init__(self) -> None:
        self.busy = False
        self.sink: BoundedSink | None = None

    def write(self, text: str) -> None:
        sink = self.sink
        if sink is None:
            sink = self.sink = BoundedSink()
        sink.write(text)

    def take(self) -> tuple[list[tuple[int, str]], int]:
        """What the task printed (see BoundedSink.finish), leaving the sink empty for the next."""
        sink = self.sink
        if sink is None:
            return [], 0
        self.sink = None
        return sink.finish()


_current: contextvars.ContextVar[Sink | None] = contextvars.ContextVar("conlab_sink", default=None)
_thread = threading.local()


def thread_sink() -> LazySink:
    """This thread's own sink: output goes to it while its ``busy`` flag is set."""
    try:
        return _thread.sink
    except AttributeError:
        _thread.sink = sink = LazySink()
        return sink


def _forget_thread_sinks() -> None:
    global _thread
    _thread = threading.local()


if hasattr(os, "register_at_fork"):
    # A child forked in the middle of a task prints to its own streams, not to a sink
    # that it cannot hand back.
    os.register_at_fork(after_in_child=_forget_thread_sinks)


def _active() -> Sink | None:
    """Where output written here and now goes: the current task's sink, or None."""
    sink = _current.get()
    if sink is not None:
        return sink
    own = getattr(_thread, "sink", None)
    return own if own is not None and own.busy else None


class _Router(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr: each write goes to the current task's sink."""

    def __init__(self, original: TextIO | None) -> None:
        self._original = original

    def write(self, text: str) -> int:
        sink = _active()
        if sink is not None:
            sink.write(text)
        elif self._original is not None:
            self._original.write(text)
        return len(text)

    def flush(self) -> None:
        if _active() is None and self._original is not None:
            self._original.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return (
            False
            if _active() is not None
            else bool(self._original is not None and self._original.isatty())
        )

    def fileno(self) -> int:
        if self._original is None:
            raise io.UnsupportedOperation("fileno")
        return self._original.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


_lock = threading.Lock()
_installs = 0
_saved: tuple[Any, Any] | None = None


def install() -> None:
    """Put the routers in place of sys.stdout and sys.stderr (counted; pair with uninstall)."""
    global _installs, _saved
    with _lock:
        _installs += 1
        if _installs == 1:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout = _Router(sys.stdout)
            sys.stderr = _Router(sys.stderr)


def uninstall() -> None:
    global _installs, _saved
    with _lock:
        _installs -= 1
        if _installs == 0 and _saved is not None:
            sys.stdout, sys.stderr = _saved
            _saved = None


class routed:
    """Context manager: the routers are installed while it is open."""

    def __enter__(self) -> routed:
        install()
        return self

    def __exit__(self, *exc: object) -> None:
        uninstall()


# The ContextVar's own methods, not wrappers: they run once per task.
set_sink = _current.set
reset_sink = _current.reset
get_sink = _current.get
