"""The strategy contract, written once and run against every strategy and start method."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import threading
import time

import pytest

from conlab.errors import UsageError
from conlab.lab.compare import compare
from conlab.lab.sweep import sweep
from conlab.model import CRASHED, ERROR, OK, Task
from conlab.strategies import (
    REGISTRY,
    ProcessesStrategy,
    ProcessPoolStrategy,
    ThreadPoolStrategy,
    ThreadsStrategy,
    make,
    options_for,
)
from conlab.strategies.base import CLUSTER, FAMILIES, SEQUENTIAL, THREADS
from conlab.workloads import build, seed


def _worker_counts(cls):
    """Pools run with 2 workers, thread pools with 3 as well."""
    if not cls.pooled or cls.family == SEQUENTIAL:
        return [None]
    return [2, 3] if cls.family == THREADS else [2]


# One entry per registered strategy, worker count and start method: (name, workers, options).
# The cluster strategies keep the same contract against clusters their own tests start
# (test_dask.py, test_ray.py, and the fault matrix).
SPECS = [
    (name, workers, {"start_method": method} if method else {})
    for name, cls in REGISTRY.items()
    if cls.family != CLUSTER
    for workers in _worker_counts(cls)
    for method in cls.start_methods()
]
IDS = [f"{n}:{w or ''}{'/' + o['start_method'] if o else ''}" for n, w, o in SPECS]
PROCESS_SPECS = [s for s in SPECS if REGISTRY[s[0]].uses_processes]
PROCESS_IDS = [i for i, s in zip(IDS, SPECS, strict=True) if s in PROCESS_SPECS]


def _built(spec):
    name, workers, options = spec
    built = make(name, workers, **options)
    if reason := built.unavailable_reason():
        pytest.skip(f"{name} cannot run here: {reason}")
    return built


@pytest.fixture(params=SPECS, ids=IDS)
def strategy(request):
    built = _built(request.param)
    return AsyncTwins(built) if built.wants_async else built


@pytest.fixture(params=PROCESS_SPECS, ids=PROCESS_IDS)
def process_strategy(request):
    return _built(request.param)


# Task functions live at module level: picklable by reference under every start method.
def square(x):
    return x * x


def shout(tag, n, pause_s=0.002):
    """Print n lines, yielding the GIL between writes, so that concurrent tasks interleave."""
    for k in range(n):
        print(f"{tag} line {k}")
        time.sleep(pause_s)
    return tag


def ran_where(path):
    """Append this run's pid and a marker to a file: lets a test count executions."""
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    return os.getpid()


def boom():
    print("about to fail")
    raise ValueError("boom on purpose")


def exit_hard(code):
    print("leaving without a word")
    os._exit(code)


PARENT = os.getpid()


def exit_in_child(numbers, sleep_s=0.0):
    """Like calc_cube, but dies when it runs in a child process (the reference run stays alive)."""
    if os.getpid() != PARENT:
        os._exit(3)
    return [n**3 for n in numbers]


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


async def square_async(x):
    await asyncio.sleep(0)
    return x * x


async def shout_async(tag, n, pause_s=0.002):
    for k in range(n):
        print(f"{tag} line {k}")
        await asyncio.sleep(pause_s)
    return tag


async def ran_where_async(path):
    return ran_where(path)


async def boom_async():
    await asyncio.sleep(0)
    boom()


# The async twin of each task function, for strategies that run async tasks.
TWINS = {
    square: square_async,
    shout: shout_async,
    ran_where: ran_where_async,
    boom: boom_async,
    seed.calc_square: seed.calc_square_async,
    seed.calc_cube: seed.calc_cube_async,
}


class AsyncTwins:
    """An async strategy given the same tasks as the others, each swapped for its async twin."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.name, self.family = strategy.name, strategy.family
        self.uses_processes = strategy.uses_processes

    def workers_for(self, n_tasks):
        return self.strategy.workers_for(n_tasks)

    def run(self, tasks):
        return self.strategy.run([Task(TWINS[t.fn], t.args, t.kwargs, t.name) for t in tasks])


def test_one_record_per_task_in_task_order(strategy):
    tasks = [Task(square, (i,), name=f"sq{i}") for i in range(7)]
    execution = strategy.run(tasks)
    assert [r.index for r in execution.records] == list(range(7))
    assert [r.name for r in execution.records] == [f"sq{i}" for i in range(7)]
    assert all(r.status == OK for r in execution.records)
    assert [r.result for r in execution.records] == [i * i for i in range(7)]


def test_each_task_runs_exactly_once(strategy, tmp_path):
    marks = [tmp_path / f"task{i}" for i in range(6)]
    execution = strategy.run([Task(ran_where, (str(m),)) for m in marks])
    for mark, record in zip(marks, execution.records, strict=True):
        lines = mark.read_text().split()
        assert lines == [str(record.result)], f"{mark.name} ran {len(lines)} times"


def test_records_carry_times_cpu_and_worker(strategy):
    execution = strategy.run([Task(square, (3,)), Task(square, (4,))])
    for record in execution.records:
        assert execution.t0_ns <= record.start_ns <= record.end_ns <= execution.t1_ns
        assert record.cpu_ns is not None and record.cpu_ns >= 0
        assert record.worker is not None and record.worker.pid > 0 and record.worker.thread > 0
        assert record.worker.host
    pids = {r.worker.pid for r in execution.records}
    if strategy.uses_processes:
        assert os.getpid() not in pids
    else:
        assert pids == {os.getpid()}


def test_outputs_of_concurrent_tasks_are_never_mixed(strategy):
    tasks = [Task(shout, (tag, 20), name=tag) for tag in ("alpha", "beta", "gamma")]
    execution = strategy.run(tasks)
    for record in execution.records:
        assert record.ok, record.error
        assert record.output == "".join(f"{record.name} line {k}\n" for k in range(20))


def test_concurrent_tasks_overlap_in_time_and_output(strategy):
    tasks = [Task(shout, (tag, 10, 0.01), name=tag) for tag in ("alpha", "beta")]
    a, b = strategy.run(tasks).records
    if strategy.family == SEQUENTIAL:
        assert a.end_ns <= b.start_ns, "sequential runs one task after the other"
        return
    assert a.start_ns < b.end_ns and b.start_ns < a.end_ns, "the two tasks did not overlap"
    # The writes of both tasks interleave in time, yet each record holds only its own.
    times_a = [t for t, _ in a.output_chunks]
    times_b = [t for t, _ in b.output_chunks]
    assert min(times_b) < max(times_a) and min(times_a) < max(times_b)


def test_seed_workload_lands_near_its_floor(strategy):
    workload = build("seed", sleep_s=0.05)
    execution = strategy.run(workload.tasks)
    floor = workload.floor_s(strategy.workers_for(len(workload.tasks)))
    wall = execution.wall_ns / 1e9
    assert [r.result for r in execution.records] == workload.expected
    assert floor <= wall <= floor + 0.040 + 0.10 * floor, (
        f"{wall:.3f} s against a floor of {floor:.3f} s"
    )


def test_a_task_that_raises_is_an_error_and_the_others_complete(strategy):
    execution = strategy.run([Task(square, (2,)), Task(boom), Task(square, (3,))])
    first, failed, last = execution.records
    assert (first.status, first.result) == (OK, 4)
    assert (last.status, last.result) == (OK, 9)
    assert failed.status == ERROR
    assert failed.error == "ValueError: boom on purpose"
    assert "Traceback" in failed.traceback and "in boom" in failed.traceback
    assert failed.output == "about to fail\n"


@pytest.mark.parametrize("code", [3, 1])
def test_a_child_that_exits_hard_is_crashed_with_its_exit_code(process_strategy, code):
    records = process_strategy.run([Task(exit_hard, (code,)), Task(square, (5,))]).records
    crashed = records[0]
    assert crashed.status == CRASHED
    assert crashed.exit_code == code
    assert f"exit code {code}" in crashed.error
    assert crashed.output == "leaving without a word\n", "what it printed before dying is kept"
    assert (records[1].status, records[1].result) == (OK, 25)  # a broken pool's rest runs again


def test_a_child_killed_by_a_signal_is_crashed_with_the_signal(process_strategy):
    records = process_strategy.run([Task(kill_self)]).records
    assert records[0].status == CRASHED
    assert records[0].exit_code == -signal.SIGKILL
    assert "SIGKILL" in records[0].error


def test_a_crash_makes_the_run_invalid_with_the_reason():
    workload = build("seed", sleep_s=0.01)
    workload.tasks[1] = Task(exit_in_child, workload.tasks[1].args, name="calc_cube")
    comparison = compare(workload, [ProcessesStrategy()], repeats=1, warmup=0)
    run = comparison.run(ProcessesStrategy.name)
    assert run.status == "failed"
    assert run.speedup is None
    assert "'calc_cube' crashed" in run.reason and "exit code 3" in run.reason


def test_threads_keep_outputs_apart_even_without_a_pause():
    # No sleep between prints: switches happen only at the interpreter's will.
    def busy(tag):
        for k in range(2000):
            print(tag, k)
        return tag

    records = ThreadPoolStrategy(4).run([Task(busy, (t,), name=t) for t in "abcd"]).records
    for record in records:
        assert record.output == "".join(f"{record.name} {k}\n" for k in range(2000))


def test_output_outside_tasks_still_reaches_the_real_stdout(capsys):
    def task():
        print("inside")
        return 1

    ThreadPoolStrategy(2).run([Task(task)])
    print("outside")
    assert capsys.readouterr().out == "outside\n"


def test_router_is_removed_after_the_run():
    import sys

    before = sys.stdout
    ThreadsStrategy().run([Task(square, (1,))])
    assert sys.stdout is before
    assert not any(t.name.startswith("conlab") for t in threading.enumerate())


# --- what a strategy declares, and make() ---------------------------------------------------


@pytest.mark.parametrize("cls", list(REGISTRY.values()), ids=list(REGISTRY))
def test_a_strategy_declares_its_family_and_the_options_it_takes(cls):
    assert cls.family in FAMILIES
    parameters = inspect.signature(cls.__init__).parameters.values()
    taken = [
        p.name for p in parameters if p.name not in ("self", "workers") and p.kind != p.VAR_KEYWORD
    ]
    assert list(cls.option_names) == taken
    assert (cls.start_methods() != [None]) == ("start_method" in taken)


def test_make_refuses_an_option_the_strategy_does_not_take_and_names_those_it_does():
    with pytest.raises(UsageError) as caught:
        make("process-pool", 2, chunk_size=4)
    assert str(caught.value) == (
        "the process-pool strategy takes no option 'chunk_size'; "
        "it takes: start_method, chunksize, timeout_s, isolate"
    )


def test_options_given_to_every_strategy_reach_those_that_take_them():
    shared = {"start_method": "spawn", "chunksize": 4, "scheduler": None, "timeout_s": 1.0}
    assert options_for(ThreadsStrategy, shared) == {"timeout_s": 1.0}
    assert options_for(ProcessPoolStrategy, shared) == {
        "start_method": "spawn",
        "chunksize": 4,
        "timeout_s": 1.0,
    }
    # An option no strategy takes stays, for make() to name.
    assert options_for(ThreadsStrategy, {"chunk_size": 4}) == {"chunk_size": 4}


def test_a_sweep_given_a_start_method_runs_a_thread_pool_and_refuses_a_misspelt_option():
    workload = build("seed", sleep_s=0.01)
    result = sweep(workload, "thread-pool", [2], repeats=1, warmup=0, start_method="spawn")
    assert [c.run("thread-pool").status for c in result.comparisons] == ["ok"]
    with pytest.raises(UsageError, match="takes no option 'timeout'"):
        sweep(workload, "thread-pool", [2], repeats=1, warmup=0, timeout=3)
