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
import threading
import time

POLL_S = 0.25
# The exit code of a child that ended because its parent had: 128 + SIGHUP, as a shell's.
ORPHANED_EXIT = 129

_following: int | None = None  # the pid of the process this one follows


def follow_parent() -> None:
    """Exit (without cleanup: the parent that would read it is gone) once the parent dies."""
    global _following
    parent = os.getppid()
    if _following == parent or parent == 1:
        return  # already following it; or already orphaned, with nothing to follow
    _following = parent
    threading.Thread(target=_watch, args=(parent,), name="conlab-lifeline", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os._exit(ORPHANED_EXIT)
