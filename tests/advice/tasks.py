"""Small synthetic workloads for the advice tests, at module level so processes can import them."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time

from conlab.model import Task, Workload


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def sha256_of(seed: int, size_mb: int) -> str:
    """C code that releases the GIL: hashing a buffer larger than 2 KB."""
    buf = bytes([seed % 256]) * (size_mb << 20)
    h = hashlib.sha256()
    for _ in range(3):
        h.update(buf)
    return h.hexdigest()


def count_words(seed: int, words: int) -> int:
    """Pure-Python text work: tokenise and count, holding the GIL throughout."""
    counts: dict[str, int] = {}
    for k in range(words):
        word = "w" + str((k * 7919 + seed) % 1000)
        counts[word] = counts.get(word, 0) + 1
    return len(counts)


def length(buf: bytes) -> int:
    return len(buf)


def sleeping(tasks: int = 4, seconds: float = 0.03) -> Workload:
    return Workload(
        name="sleep",
        kind="io",
        tasks=[Task(nap, (seconds,), name=f"nap[{k}]") for k in range(tasks)],
        task_durations_s=[seconds] * tasks,
    )


def hashing(tasks: int = 4, size_mb: int = 8) -> Workload:
    return Workload(
        name="hash",
        kind="cpu-nogil",
        tasks=[Task(sha256_of, (k, size_mb), name=f"sha[{k}]") for k in range(tasks)],
    )


def text(tasks: int = 4, words: int = 60_000) -> Workload:
    return Workload(
        name="text",
        kind="cpu",
        tasks=[Task(count_words, (k, words), name=f"text[{k}]") for k in range(tasks)],
    )


def big_argument(tasks: int = 2, size_mb: int = 200) -> Workload:
    buf = bytes(size_mb << 20)
    return Workload(
        name="big",
        kind="mixed",
        tasks=[Task(length, (buf,), name=f"len[{k}]") for k in range(tasks)],
    )


# The probe runs at most this many calls of a task (warm-up, first call, two batches, two pairs):
# past it, misled() waits 50 ms where the probe saw it compute for 0.2 ms, holding the GIL.
PROBE_CALLS = 70
_calls = itertools.count()


def misled(x: int) -> int:
    """Computing briefly while conlab probes it, then waiting: the probe is made to mislead."""
    if next(_calls) < PROBE_CALLS:
        end = time.perf_counter() + 0.0002
        while time.perf_counter() < end:
            pass
    else:
        time.sleep(0.05)
    return x


def matmul(seed: int, n: int = 300) -> float:
    """A numpy matrix product: multithreaded BLAS, threads of its own."""
    import numpy as np

    a = np.random.default_rng(seed).random((n, n))
    return float((a @ a).sum())


async def fetch(x: int) -> int:
    """Code written async: it waits in the event loop."""
    await asyncio.sleep(0.02)
    return x


def wait_then_spin(seconds: float) -> float:
    """Waiting, then computing as long, in one block each: tasks started together run in step."""
    time.sleep(seconds)
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return seconds


def finely_mixed(seconds: float) -> float:
    """Waiting and computing in turns of 0.2 ms: one task's computing fills another's waits."""
    end = time.perf_counter() + 2 * seconds
    while time.perf_counter() < end:
        time.sleep(0.0002)
        spin_end = time.thread_time() + 0.0002
        while time.thread_time() < spin_end:
            pass
    return seconds
