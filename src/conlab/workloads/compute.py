"""Pure-Python computing: counting primes by trial division, which holds the GIL throughout."""

from __future__ import annotations

import os

from conlab.model import Task, Workload

# A window of this width starting at BASE takes about 0.25 s to scan on the
# reference machine (2 cores, CPython 3.11); ``size`` scales it.
WIDTH = 34_000
BASE = 10_000_000


def count_primes(lo: int, hi: int) -> int:
    """How many primes lie in [lo, hi), by trial division."""
    count = 0
    for n in range(max(lo, 2), hi):
        if n % 2 == 0:
            count += n == 2
            continue
        d = 3
        while d * d <= n:
            if n % d == 0:
                break
            d += 2
        else:
            count += 1
    return count


def sieve_count(lo: int, hi: int) -> int:
    """The same count by a segmented sieve: an independent check of count_primes."""
    if hi <= 2:
        return 0
    limit = int(hi**0.5) + 1
    small = bytearray([1]) * (limit + 1)
    small[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if small[i]:
            small[i * i :: i] = bytearray(len(small[i * i :: i]))
    lo = max(lo, 2)
    seg = bytearray([1]) * (hi - lo)
    for p in (i for i in range(2, limit + 1) if small[i]):
        start = max(p * p, (lo + p - 1) // p * p)
        seg[start - lo :: p] = bytearray(len(seg[start - lo :: p]))
    return sum(seg)


def workload(tasks: int | None = None, size: float = 1.0) -> Workload:
    """``tasks`` equal windows (4 × cores by default), each about ``size`` × 0.25 s of trial division."""
    n = tasks if tasks is not None else 4 * (os.cpu_count() or 1)
    width = max(1, int(WIDTH * size))
    windows = [(BASE + k * width, BASE + (k + 1) * width) for k in range(n)]
    return Workload(
        name="cpu",
        kind="cpu",
        description="counting primes by trial division in pure Python (holds the GIL)",
        params={"tasks": n, "size": size},
        tasks=[Task(count_primes, w, name=f"primes[{k}]") for k, w in enumerate(windows)],
        expected=[sieve_count(lo, hi) for lo, hi in windows],
    )
