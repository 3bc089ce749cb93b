"""Half waiting, half computing: each task sleeps, then counts primes in pure Python."""

from __future__ import annotations

import asyncio
import time

from conlab.model import Task, Workload
from conlab.workloads.compute import BASE, WIDTH, count_primes, sieve_count
from conlab.workloads.params import at_least


def wait_then_count(lo: int, hi: int, sleep_s: float) -> int:
    time.sleep(sleep_s)
    return count_primes(lo, hi)


async def wait_then_count_async(lo: int, hi: int, sleep_s: float) -> int:
    # The computing half blocks the event loop, as it would in anyone's asyncio code.
    await asyncio.sleep(sleep_s)
    return count_primes(lo, hi)


def workload(tasks: int = 8, sleep_s: float = 0.1, size: float = 0.3) -> Workload:
    """``tasks`` tasks, each ``sleep_s`` of waiting then about ``size`` × 0.25 s of computing."""
    owner = "the mixed workload"
    at_least(owner, "tasks", tasks, 1)
    at_least(owner, "sleep_s", sleep_s, 0)
    at_least(owner, "size", size, 0)
    width = max(1, int(WIDTH * size))
    windows = [(BASE + k * width, BASE + (k + 1) * width) for k in range(tasks)]
    return Workload(
        name="mixed",
        kind="mixed",
        description="each task sleeps, then counts primes in pure Python: half waiting, half computing",
        params={"tasks": tasks, "sleep_s": sleep_s, "size": size},
        tasks=[
            Task(wait_then_count, (*w, sleep_s), name=f"mixed[{k}]") for k, w in enumerate(windows)
        ],
        async_tasks=[
            Task(wait_then_count_async, (*w, sleep_s), name=f"mixed[{k}]")
            for k, w in enumerate(windows)
        ],
        expected=[sieve_count(lo, hi) for lo, hi in windows],
    )
