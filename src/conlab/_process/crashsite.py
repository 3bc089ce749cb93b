"""Where in the user's code a worker process died: the line a crash report names.

A worker's fds 1 and 2 go to its ``.raw`` file (see journal.WorkerLog). When a
fatal signal hits it, faulthandler writes the Python stack of every thread
there, the crashed one as ``Current thread``; the deepest frame of that stack
in the user's code is the line that called into the C code that crashed.
``os._exit`` leaves no such dump, so a worker wraps it (``hook_os_exit``): a
call from the user's code first writes one line naming its caller.

Both are read back by the parent from the dead worker's file (``crashed_stack``,
``exit_site``), and both name the thread, so that of several tasks running in
threads of one process only the one that killed it is blamed (``dying_thread``).
The user's code is whatever is neither conlab's nor the standard library's nor
an installed package's, as the interpreter's own paths say.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import sysconfig
import threading
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

_FRAME_LINE = re.compile(r'^\s*File "(?P<path>.*)", line (?P<line>\d+) in (?P<function>\S+)')
_STACK_HEAD = re.compile(r"^(Current thread 0x[0-9a-f]+|Thread 0x[0-9a-f]+|Stack)\b.*\(most recent")
_CURRENT_THREAD = re.compile(r"^Current thread (0x[0-9a-f]+)\b", re.M)
_EXIT_LINE = re.compile(
    r"^conlab: os\._exit\((?P<code>-?\d+)\) called from (?P<where>.+:\d+ in \S+)"
    r"(?: \(thread (?P<thread>0x[0-9a-f]+)\))?$",
    re.M,
)
_CONLAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{os.path.basename(self.path)}:{self.line} in {self.function}"


def crashed_stack(raw: str) -> list[Frame]:
    """The crashed thread's frames in faulthandler's dump, most recent first (empty: none)."""
    stacks: list[tuple[str, list[Frame]]] = []
    for text in raw.splitlines():
        if opening := _STACK_HEAD.match(text):
            stacks.append((opening.group(1), []))
        elif stacks and (m := _FRAME_LINE.match(text)):
            stacks[-1][1].append(Frame(m["path"], int(m["line"]), m["function"]))
    for head, frames in reversed(stacks):  # the last dump is the fatal one
        if head.startswith(("Current thread", "Stack")):
            return frames
    return stacks[-1][1] if stacks else []


@functools.lru_cache(maxsize=1)
def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib", "scripts")}
    dirs |= {os.path.dirname(os.__file__)}
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


_USERS, _LIBRARY, _CONLAB = "user", "library", "conlab"


def _whose(path: str, libraries: tuple[str, ...]) -> str:
    if path.startswith("<"):  # <frozen runpy>, <string>
        return _LIBRARY
    real = os.path.realpath(path)
    if real.startswith(_CONLAB_DIR + os.sep):
        return _CONLAB
    return _LIBRARY if real.startswith(libraries) else _USERS


def user_frame(frames: list[Frame]) -> Frame | None:
    """The deepest of ``frames`` (most recent first) in the user's code.

    Only above conlab's own frames: below them is what started the worker (a
    forked child's stack holds its parent's), not what the task called. For the
    same reason, only above multiprocessing's fork: a process the user's own code
    forks after conlab ran in its process ends by ``os._exit`` under the frames of
    whatever called ``Process.start``, and that is no crash of the user's.
    """
    libraries = _library_dirs()
    for frame in frames:
        whose = _whose(frame.path, libraries)
        if whose == _LIBRARY and _is_fork_boundary(frame):
            return None
        if whose != _LIBRARY:
            return frame if whose == _USERS else None
    return None


def _is_fork_boundary(frame: Frame) -> bool:
    return frame.function == "_launch" and frame.path.endswith(
        os.path.join("multiprocessing", "popen_fork.py")
    )


def exit_site(raw: str) -> str | None:
    """``os._exit(3) called from mymod.py:12 in func``, when the hook wrote it before the end."""
    found = list(_EXIT_LINE.finditer(raw))
    if not found:
        return None
    last = found[-1]
    return f"os._exit({last['code']}) called from {last['where']}"


def dying_thread(exitcode: int | None, raw: str) -> int | None:
    """The thread (``threading.get_ident``) that killed its process, when what it wrote says so.

    A fatal signal: the ``Current thread`` of faulthandler's last dump. An exit code: the
    thread of the user's last ``os._exit`` call. Anything else (a kill from outside, an
    exit from C code) names no thread.
    """
    if exitcode is None:
        return None
    if exitcode < 0:
        found = _CURRENT_THREAD.findall(raw)
        return int(found[-1], 16) if found else None
    exits = list(_EXIT_LINE.finditer(raw))
    if exits and exits[-1]["thread"] and int(exits[-1]["code"]) == exitcode:
        return int(exits[-1]["thread"], 16)
    return None


def exit_call(exc: SystemExit) -> str | None:
    """``sys.exit(4) called from mymod.py:20 in func``: where a task raised SystemExit."""
    frames: list[Frame] = []
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(Frame(code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    where = user_frame(frames[::-1])
    if where is None:
        return None
    return f"sys.exit({'' if exc.code is None else repr(exc.code)}) called from {where}"


def _stack(frame: FrameType | None, limit: int = 200) -> list[Frame]:
    frames: list[Frame] = []
    while frame is not None and len(frames) < limit:
        frames.append(Frame(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return frames


def hook_os_exit() -> None:
    """In a worker: ``os._exit`` called from the user's code first says so on fd 2.

    conlab's own calls (and multiprocessing's, at a worker's normal end) pass
    straight through: the stack is walked only up to conlab's first frame.
    """
    real = getattr(os._exit, "__wrapped__", os._exit)

    def _exit(code: int) -> Any:
        try:
            where = user_frame(_stack(sys._getframe(1)))
            if where is not None:
                thread = f"{threading.get_ident():#x}"
                line = f"conlab: os._exit({code}) called from {where} (thread {thread})\n"
                os.write(2, line.encode("utf-8", "replace"))
        except BaseException:  # whatever happens here, the process exits as asked
            pass
        real(code)

    _exit.__wrapped__ = real  # type: ignore[attr-defined]
    os._exit = _exit  # type: ignore[assignment]
