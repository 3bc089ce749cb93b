"""Pure waiting: N tasks of T seconds each, the work threads and asyncio are made for."""

from __future__ import annotations

import asyncio
import time

from conlab.model import Task, Workload
from conlab.workloads.params import at_least


def nap(index: int, sleep_s: float) -> int:
    """Sleep ``sleep_s`` seconds and return the task's index."""
    time.sleep(sleep_s)
    return index


async def nap_async(index: int, sleep_s: float) -> int:
    await asyncio.sleep(sleep_s)
    return index


def workload(tasks: int = 8, sleep_s: float = 0.2) -> Workload:
    """``tasks`` sleeps of ``sleep_s`` each: 1.6 s in sequence by default, a known floor."""
    at_least("the sleep workload", "tasks", tasks, 1)
    at_least("the sleep workload", "sleep_s", sleep_s, 0)
    return Workload(
        name="sleep",
        kind="io",
        description="time.sleep in every task: pure waiting, with a known floor",
        params={"tasks": tasks, "sleep_s": sleep_s},
        tasks=[Task(nap, (k, sleep_s), name=f"sleep[{k}]") for k in range(tasks)],
        async_tasks=[Task(nap_async, (k, sleep_s), name=f"sleep[{k}]") for k in range(tasks)],
        task_durations_s=[sleep_s] * tasks,
        expected=list(range(tasks)),
    )
