"""A child process of conlab's never outlives it: it follows its parent.

conlab stops its children itself on Ctrl-C, SIGTERM and SIGHUP, but not when it
is killed with SIGKILL (a CI runner's last resort, the out-of-memory killer, a
container stopped), and a worker in the middle of a task would then run on,
orphaned. So each child conlab starts (a sandbox, a process strategy's
worker) watches for its parent's death and exits within a second.

Decision: a thread that reads ``os.getppid()`` four times a second, not Linux's
``PR_SET_PDEATHSIG``. That signal fires when the *thread* that forked the child
ends, not the process: a pool whose workers are started from a thread that
then finishes (a ProcessPoolExecutor replacing a worker from its manager
thread, a pool made in a user's thread) would see them killed while conlab
runs on. ``getppid`` changes only when the parent process is gone, on every
POSIX system. A forkserver's workers follow the forkserver, which follows conlab.
"""

from __future__ import annotations

import os
import sys
import threading
import time

POLL_S = 0.25
# The exit code of a child that ended because its parent had: 128 + SIGHUP, as a shell's.
ORPHANED_EXIT = 129

_following: int | None = None  # the pid of the process this one follows


def follow_parent() -> None:
    """Exit (without cleanup: the parent that would read it is gone) once the parent dies.

    A forkserver's worker follows the forkserver's parent (conlab) too: the forkserver
    lives as long as any of its workers, so it would never die first.
    """
    global _following
    parent = os.getppid()
    if _following == parent or parent == 1:
        return  # already following it; or already orphaned, with nothing to follow
    _following = parent
    grandparent = _parent_of(parent) if _is_forkserver(parent) else None
    threading.Thread(
        target=_watch, args=(parent, grandparent), name="conlab-lifeline", daemon=True
    ).start()


def follow_parent_if_a_worker() -> None:
    """Follow the parent when this process is a child multiprocessing started (any method).

    Called as a worker loads conlab (spawn, forkserver); a forked child follows from the
    fork itself (see execute.py). conlab's own process, whose parent is the user's shell
    or program, follows nobody.
    """
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return
    # While a spawned child loads its target (and this with it), it is "inheriting" and named
    # SpawnProcess-1, ForkServerProcess-2, ...: its parent_process() is set only afterwards.
    me = process.current_process()
    if getattr(me, "_inheriting", False) or process.parent_process() is not None:
        follow_parent()


def _watch(parent: int, grandparent: int | None) -> None:
    while os.getppid() == parent and (grandparent is None or _alive(grandparent)):
        time.sleep(POLL_S)
    os._exit(ORPHANED_EXIT)


def _is_forkserver(pid: int) -> bool:
    """Whether ``pid`` is multiprocessing's forkserver, by its command line (Linux's /proc)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"multiprocessing.forkserver import main" in f.read()
    except OSError:
        return False


def _parent_of(pid: int) -> int | None:
    """The parent of process ``pid``, where /proc tells (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    ppid = int(stat.rsplit(b")", 1)[1].split()[1])  # after "pid (name) state"
    return ppid if ppid > 1 else None


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: not gone, and not a zombie (dead, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True
