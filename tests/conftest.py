"""Shared test fixtures: real processes, and a check that no test leaves one behind."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator

import psutil
import pytest

START_METHODS = multiprocessing.get_all_start_methods()


def _descendants() -> set[int]:
    try:
        return {p.pid for p in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return set()


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
    assert not alive, f"the test left child processes behind: {alive}"
