"""What the parent knows about its worker processes: start methods, how they died, their output.

How a worker died (``describe_exit``, ``describe_crash``, ``error_line``) is read
from its exit code and what it wrote; the record of a task whose process died
under it is made in recovery.py.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import signal
import sys
import threading
from typing import Any

from conlab._process import crashsite
from conlab.errors import UsageError

_SIGNAL_MEANING = {
    "SIGSEGV": "a segmentation fault, usually in C code",
    "SIGKILL": "killed: by the out-of-memory killer (see dmesg), or by kill -9",
    "SIGABRT": "an abort, usually a failed assertion in C code",
    "SIGBUS": "a bus error, usually in C code",
    "SIGTERM": "terminated",
    "SIGFPE": "a floating-point exception in C code",
}
# What a fatal signal caught by faulthandler was, once the line that called into C is known.
_IN_C = {
    "SIGSEGV": "a segmentation fault",
    "SIGABRT": "an abort",
    "SIGBUS": "a bus error",
    "SIGFPE": "a floating-point exception",
    "SIGILL": "an illegal instruction",
}


def resolve_start_method(method: str | None) -> str:
    """The start method to use, checked against what this platform offers."""
    methods = multiprocessing.get_all_start_methods()
    if method is None:
        return multiprocessing.get_start_method(allow_none=True) or methods[0]
    if method not in methods:
        raise UsageError(
            f"unknown start method {method!r}: choose from {', '.join(methods)} on this platform"
        )
    return method


def describe_exit(exitcode: int | None) -> str:
    """``exit code 3`` or ``signal SIGKILL (killed: ...)``."""
    if exitcode is None:
        return "no exit code (still running)"
    if exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"
    meaning = _SIGNAL_MEANING.get(name)
    return f"signal {name}" + (f" ({meaning})" if meaning else "")


CRASH_HINT = (
    "the task called os._exit, crashed in C code, or was killed; "
    "run it under the sequential strategy, or with python -X faulthandler, to see where"
)


def describe_crash(exitcode: int | None, raw: str) -> str:
    """How a worker died and, from what it wrote as it died, the line of the user's it was in.

    ``signal SIGSEGV: a segmentation fault in C code called from mymod.py:40 in func``;
    ``exit code 3: os._exit(3) called from mymod.py:12 in func``; without such a line,
    what describe_exit says, and the worker's last error line or a hint.
    """
    how = describe_exit(exitcode)
    site = crashsite.exit_site(raw) if exitcode is not None and exitcode >= 0 else None
    if site is None and exitcode is not None and exitcode < 0:
        name = _signal_name(-exitcode)
        if name in _IN_C and (frame := crashsite.user_frame(crashsite.crashed_stack(raw))):
            site = f"{_IN_C[name]} in C code called from {frame}"
            how = f"signal {name}"
    if site is not None:
        return f"{how}: {site}"
    line = error_line(raw)
    return f"{how}: {line}" if line else f"{how}; {CRASH_HINT}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


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


def kill_all(processes: Any) -> None:
    """Stop every process now (Ctrl-C, an error in conlab): no orphan is left."""
    for proc in processes:
        if proc.is_alive():
            proc.kill()
    for proc in processes:
        proc.join(timeout=5)


_stdio_lock = threading.Lock()


class stdio_redirected:
    """Point this process's fds 1 and 2 at a file while a child process starts.

    A spawned or forked child's stdout and stderr are the parent's fds 1 and 2
    at the moment it starts, so whatever it writes before conlab's own code runs
    in it (the traceback of a child that cannot load its target, as in the
    lesson's notebook) lands in the file. The window is the ``start()`` call.
    A forkserver's children inherit the server's fds instead, so the server is
    started before the window opens.
    """

    def __init__(self, path: str, start_method: str) -> None:
        self.path = path
        if start_method == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()

    def __enter__(self) -> None:
        _stdio_lock.acquire()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.flush()
        self.saved = (os.dup(1), os.dup(2))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)

    def __exit__(self, *exc: object) -> None:
        try:
            for target, saved in zip((1, 2), self.saved, strict=False):
                os.dup2(saved, target)
                os.close(saved)
        finally:
            _stdio_lock.release()
