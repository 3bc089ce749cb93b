"""The asyncio strategy: what the contract suite cannot say about one event loop."""

from __future__ import annotations

import asyncio
import time

from conlab.measure.lab import compare
from conlab.model import ERROR, OK, Task
from conlab.strategies import make
from conlab.workloads import build


async def burn(seconds):
    """Hold the CPU for ``seconds``, yielding to the loop every millisecond or so."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        for _ in range(2000):
            pass
        await asyncio.sleep(0)
    return "burnt"


async def doze(seconds):
    await asyncio.sleep(seconds)
    return "dozed"


def plain(x):
    return x


def test_cpu_time_is_counted_per_task_though_tasks_interleave():
    records = make("asyncio").run([Task(burn, (0.15,)), Task(doze, (0.15,))]).records
    burnt, dozed = records
    assert (burnt.result, dozed.result) == ("burnt", "dozed")
    assert burnt.start_ns < dozed.end_ns and dozed.start_ns < burnt.end_ns
    assert 0.12 <= burnt.cpu_ns / 1e9 <= 0.3, burnt.cpu_ns
    assert dozed.cpu_ns / 1e9 < 0.03, dozed.cpu_ns


def test_workers_limit_how_many_run_at_once():
    tasks = [Task(doze, (0.05,)) for _ in range(4)]
    unlimited = make("asyncio").run(tasks).wall_ns / 1e9
    two = make("asyncio", 2).run(tasks).wall_ns / 1e9
    assert 0.05 <= unlimited < 0.09
    assert 0.10 <= two < 0.15


def test_a_sync_function_is_an_error_record_not_a_crash():
    (record,) = make("asyncio").run([Task(plain, (1,))]).records
    assert record.status == ERROR
    assert "not an awaitable" in record.error and "async def" in record.error


def test_runs_from_inside_a_running_event_loop_as_in_a_notebook():
    async def cell():
        return make("asyncio").run([Task(doze, (0.01,), name="d")])

    execution = asyncio.run(cell())
    assert [r.status for r in execution.records] == [OK]


def test_a_workload_without_an_async_variant_shows_asyncio_unavailable_with_the_reason():
    comparison = compare(build("cpu", tasks=2, size=0.01), [make("asyncio")], 1, 0)
    run = comparison.run("asyncio")
    assert run.status == "unavailable"
    assert run.reason == "the cpu workload has no async variant"
    assert comparison.run("sequential").status == "ok"
