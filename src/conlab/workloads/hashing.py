"""SHA-256 over large buffers: C code that releases the GIL while it hashes."""

from __future__ import annotations

import hashlib
import os

from conlab.model import Task, Workload
from conlab.workloads.params import at_least

MIB = 1 << 20


def buffer(index: int, size_mb: int) -> bytes:
    """A buffer of ``size_mb`` MiB, distinct for each task."""
    block = hashlib.sha256(f"buffer {index}".encode()).digest()
    return block * (size_mb * MIB // len(block))


def digest(index: int, size_mb: int, rounds: int) -> str:
    """Hash this task's buffer ``rounds`` times over, as one stream."""
    data = buffer(index, size_mb)
    h = hashlib.sha256()
    for _ in range(rounds):
        h.update(data)  # hashlib releases the GIL for data over 2 KiB
    return h.hexdigest()


def workload(tasks: int | None = None, size_mb: int = 32, rounds: int = 6) -> Workload:
    """``tasks`` tasks (4 × cores by default), each hashing ``size_mb`` MiB ``rounds`` times.

    There is no cheaper way to know a SHA-256 than to compute it, so results are
    checked against the sequential run's.
    """
    owner = "the hash workload"
    n = tasks if tasks is not None else 4 * (os.cpu_count() or 1)
    at_least(owner, "tasks", n, 1)
    at_least(owner, "size_mb", size_mb, 1)
    at_least(owner, "rounds", rounds, 1)
    return Workload(
        name="hash",
        kind="cpu-nogil",
        description="hashlib.sha256 over a large buffer per task (releases the GIL)",
        params={"tasks": n, "size_mb": size_mb, "rounds": rounds},
        tasks=[Task(digest, (k, size_mb, rounds), name=f"sha256[{k}]") for k in range(n)],
    )
