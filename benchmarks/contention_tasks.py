"""The five functions outside the catalogue that bench_contention advises on (importable, so that
process strategies load them by name)."""

from __future__ import annotations

import asyncio
import time

from conlab.workloads.compute import BASE, count_primes


def matmul(seed: int, n: int = 400) -> float:
    """A numpy matrix product: multithreaded BLAS (threads of its own)."""
    import numpy as np

    a = np.random.default_rng(seed).random((n, n))
    return float((a @ a).sum())


async def fetch(x: int) -> int:
    """Code written async: it waits in the event loop."""
    await asyncio.sleep(0.02)
    return x


def big_result(seed: int) -> bytes:
    """A 50 MB result: what shipping it back from another process costs."""
    return bytes([seed % 256]) * (50 * 10**6)


def tiny(x: int) -> int:
    """A task of a microsecond: dispatch is everything."""
    return x * x


def sleep_then_compute(x: int) -> int:
    """Waits 50 ms, then computes about as long, holding the GIL."""
    time.sleep(0.05)
    return count_primes(BASE, BASE + 3_000 + x)
