"""Shared test fixtures: real processes, and a check that no test leaves one behind."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest

START_METHODS = multiprocessing.get_all_start_methods()

# A shell starts a background job (`make test &`, a CI step's `cmd &`) with SIGINT ignored, and
# every child inherits that through exec: the Ctrl-C tests' conlab would never see their SIGINT
# (14 of them failed so). A handler, unlike SIG_IGN, is reset to the default in a child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Ray reads this when it is imported, and importorskip("ray") imports it while the tests are
# collected: without it, a Ray driver in this process under `uv run` (make test) would have
# Ray start its workers with `uv run`, without ray (see conlab.strategies.ray_strategy).
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

# Root processes of clusters that several tests share (tests/faults/clusters.py). Their workers
# come and go as the tests' faults kill them, so their trees are left out of the check below;
# the tests check those clusters themselves: their workers back to their number, none dead.
shared_roots: set[int] = set()
# Sessions of children that a test started in a session of their own (the fault matrix's cells
# under another Python): every process in them counts as this one's, even orphaned (init's child).
watched_sessions: set[int] = set()


def _descendants() -> set[int]:
    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.Error:
        procs = []
    own = {p.pid for p in procs if not (shared_roots and _in_shared_tree(p))}
    return own | _in_watched_sessions()


def _in_shared_tree(proc: psutil.Process) -> bool:
    try:
        return proc.pid in shared_roots or any(p.pid in shared_roots for p in proc.parents())
    except psutil.Error:
        return False


def _in_watched_sessions() -> set[int]:
    """The processes of the watched sessions, wherever they were reparented."""
    if not watched_sessions:
        return set()
    found = set()
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            if os.getsid(pid) in watched_sessions:
                found.add(pid)
    return found


# The forkserver is a long-lived helper of multiprocessing itself, shared by all tests.
def _forkserver_pid() -> int | None:
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    """Every test must leave no child process of its own behind."""
    before = _descendants()
    yield
    deadline = time.monotonic() + 5
    while True:
        left = _descendants() - before - {_forkserver_pid()}
        alive = []
        for pid in left:
            try:
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(
                    proc.cmdline()
                ):
                    alive.append(pid)
            except psutil.Error:
                pass
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    watched_sessions.clear()
    assert not alive, f"the test left child processes behind: {alive}"
