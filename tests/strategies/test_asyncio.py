"""The asyncio strategy: what the contract suite cannot say about one event loop."""

from __future__ import annotations

import asyncio
import time

from conlab.lab.compare import compare
from conlab.lab.sandbox import run_strategy
from conlab.model import ERROR, OK, TIMEOUT, Task
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


async def blocks(seconds):
    """Blocks the event loop: no await for ``seconds``."""
    time.sleep(seconds)
    return "blocked"


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


def test_a_task_awaiting_past_the_timeout_is_cancelled_and_the_others_go_on():
    strategy = make("asyncio", timeout_s=0.2)
    t = time.monotonic()
    late, done = strategy.run([Task(doze, (30,)), Task(doze, (0.05,))]).records
    assert time.monotonic() - t < 2
    assert late.status == TIMEOUT and "timeout of 0.2 s" in late.error and "cancelled" in late.error
    assert 0.2 <= (late.end_ns - late.start_ns) / 1e9 < 0.3
    assert (done.status, done.result) == (OK, "dozed")


def test_a_task_blocking_the_loop_past_the_timeout_is_stopped_by_its_sandbox():
    """No await, so no cancellation: the sandbox stops it once the grace for cancelling is over.

    The task that started first is late too (the loop never came back to it), but the
    blocking one is blamed; the other runs again in a fresh sandbox.
    """
    strategy = make("asyncio", timeout_s=0.2)
    t = time.monotonic()
    execution = run_strategy(strategy, [Task(doze, (0.01,)), Task(blocks, (30,))])
    assert time.monotonic() - t < 10
    done, late = execution.records
    assert (done.status, done.result) == (OK, "dozed"), done.error
    assert late.status == TIMEOUT and "timeout of 0.2 s" in late.error
    assert "sandbox process" in late.error and "stopped" in late.error
    assert any("1 other task(s) ran again" in note for note in execution.notes), execution.notes
