"""Processes a task started and left running: stopped when the run that started them ends.

A task that starts ``subprocess.Popen(["sleep", "300"])`` and returns leaves a
child behind; once the worker or sandbox that ran the task exits, the child is
an orphan that no one stops. On Linux conlab makes itself the reaper of its
orphaned descendants (``PR_SET_CHILD_SUBREAPER``) for the time of each run, so
that such a child stays among its descendants; after the run every descendant
that appeared during it and is still alive is killed and reaped. multiprocessing's own helpers (the
resource tracker, the fork server), which outlive runs on purpose, are kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

_PR_SET_CHILD_SUBREAPER = 36
_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def adopt_orphans(on: bool = True) -> bool:
    """Be (or stop being) the reaper of this process's orphaned descendants (Linux).

    Only during a run: a process that stays a reaper (a notebook's kernel, a test
    runner) would collect, as zombies, the orphans of everything it starts later.
    """
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0)
    return False


def descendants() -> set[int] | None:
    """The pids of this process's descendants now, or None where they cannot be listed."""
    try:
        import psutil
    except ImportError:
        return None
    adopt_orphans()
    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process().children(recursive=True)}
    return None


def stop_new(before: set[int] | None) -> list[int]:
    """Kill and reap the descendants not in ``before``, multiprocessing's helpers aside."""
    if before is None:
        return []
    import psutil

    try:
        now = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    finally:
        adopt_orphans(False)
    strays = [p for p in now if p.pid not in before and not _helper(p)]
    for proc in strays:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(strays, timeout=2)
    return [p.pid for p in strays]


def _helper(proc: object) -> bool:
    import psutil

    try:
        command = " ".join(proc.cmdline())  # type: ignore[attr-defined]
    except psutil.Error:
        return False
    return any(name in command for name in _HELPERS)
