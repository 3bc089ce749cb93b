"""How many more processes and threads this user may start: the limit a pool can run into.

Linux counts every thread of every process of a user against that user's
``RLIMIT_NPROC`` (``ulimit -u``); root is not held to it. Past it, ``fork`` fails
with EAGAIN and a thread does not start, halfway through a pool's start-up. The
lab checks a strategy's workers against what is left before measuring, and
records a run whose workers could not start (the limit reached meanwhile) as
not run, saying why (``cannot_start``).
"""

from __future__ import annotations

import errno
import os

PROC = "/proc"


def nproc_limit() -> int | None:
    """This user's limit on processes and threads, when one holds for it (None: none does)."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    if not hasattr(resource, "RLIMIT_NPROC") or os.getuid() == 0:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NPROC)
    return None if soft == resource.RLIM_INFINITY else soft


def tasks_left() -> int | None:
    """How many more processes and threads this user may start (None: no limit, or unknown)."""
    limit = nproc_limit()
    if limit is None or not os.path.isdir(PROC):
        return None
    return max(0, limit - _threads_of(os.getuid()))


def _threads_of(uid: int) -> int:
    """The threads of every process whose real user is ``uid``, as the kernel counts them."""
    total = 0
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "status"), encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:  # the process ended meanwhile
            continue
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def cannot_start(exc: BaseException) -> str | None:
    """What a failure to start a process or a thread means, or None if ``exc`` is not one."""
    if isinstance(exc, OSError) and exc.errno in (errno.EAGAIN, errno.ENOMEM):
        what = f"a new process or thread could not start ({exc.strerror})"
    elif isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        what = "a new thread could not start"
    else:
        return None
    limit = nproc_limit()
    if limit is not None:
        return f"{what}: this user may run {limit} processes and threads in all (ulimit -u)"
    return f"{what}: the system is out of processes or memory"
