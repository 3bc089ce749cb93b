"""The options behind the fault handling: --timeout, --isolate, and the lab surviving faults."""

from __future__ import annotations

import os
import time

import pytest

from conlab.api import compare
from conlab.cli.options import measure_options
from conlab.cli.parser import Parser
from conlab.errors import UsageError
from conlab.lab.sandbox import needs_sandbox, run_strategy
from conlab.model import LOST, OK, TIMEOUT, Task, TaskRecord, Workload
from conlab.strategies import Execution, Strategy, make
from conlab.workloads import build

PARENT = os.getpid()


def square(x):
    return x * x


def exits_in_sandbox(x):
    """Like square, but ends the process it runs in unless that is the test's own.

    It lets the task beside it finish first (and be journaled): a sandbox that dies
    while two tasks run records both ``crashed``, not knowing which one caused it.
    """
    if os.getpid() != PARENT:
        time.sleep(0.3)
        os._exit(1)
    return x * x


def hangs(x):
    time.sleep(30)


@pytest.mark.parametrize("bad", [0, -1, "1", True, float("nan"), 1e9])
def test_a_bad_timeout_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="timeout"):
        make("threads", timeout_s=bad)


def test_options_are_shown_and_decide_the_sandbox():
    assert make("sequential", timeout_s=2).describe_options() == {"timeout_s": 2.0}
    assert needs_sandbox(make("sequential", timeout_s=2))
    assert needs_sandbox(make("thread-pool", 2, isolate=True))
    assert not needs_sandbox(make("threads"))
    assert not needs_sandbox(make("process-pool", 2, timeout_s=2, isolate=True))


def _parser():
    parser = Parser(prog="conlab")
    measure_options(parser)
    return parser


def test_timeout_and_isolate_on_the_command_line(capsys):
    args = _parser().parse_args(["--timeout", "1.5", "--isolate"])
    assert (args.timeout, args.isolate) == (1.5, True)
    for bad in ("0", "-2", "soon", "inf"):
        with pytest.raises(SystemExit) as exc:
            _parser().parse_args(["--timeout", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "--timeout" in err


def test_the_lab_survives_a_task_that_ends_its_process():
    workload = Workload("exits", [Task(square, (2,)), Task(exits_in_sandbox, (3,))], kind="cpu")
    comparison = compare(workload, ["thread-pool:2"], isolate=True, repeats=1, warmup=0)
    for run in comparison.runs:
        assert run.status == "failed"
        assert "crashed" in run.reason and "exit code 1" in run.reason, run.reason
        assert [r.status for r in run.records] == [OK, "crashed"]


def exits_at_once(x):
    os._exit(3)


def test_a_sandbox_that_dies_twice_keeps_every_task_in_its_place():
    """What the second sandbox journaled keeps the index of its task, not its place in that sandbox."""
    tasks = [Task(square, (k,), name=f"t{k}") for k in range(5)]
    tasks[1] = Task(exits_at_once, (1,), name="t1")
    tasks[3] = Task(exits_at_once, (3,), name="t3")
    execution = run_strategy(make("sequential", isolate=True), tasks)
    records = execution.records
    assert [r.index for r in records] == [0, 1, 2, 3, 4]
    assert [r.status for r in records] == [OK, "crashed", OK, "crashed", OK]
    assert [r.result for r in records if r.ok] == [0, 4, 16]
    assert records[1].error.startswith("sandbox process ") and "exit code 3" in records[1].error
    # Both deaths alike, one note for the two (a segfault on every input had a note each).
    assert execution.notes == [
        "the sandbox process died 2 times with exit code 3; each time, the tasks not finished "
        "ran again in a fresh one (3 and 1 of them)"
    ]


def test_a_hang_times_out_in_every_run_the_reference_included():
    workload = Workload("hangs", [Task(square, (2,)), Task(hangs, (1,))], kind="io")
    t = time.monotonic()
    comparison = compare(workload, ["threads", "processes"], timeout_s=0.3, repeats=1, warmup=0)
    assert time.monotonic() - t < 20
    for run in comparison.runs:
        assert run.status == "failed" and "timeout of 0.3 s" in run.reason, run.reason
        assert [r.status for r in run.records] == [OK, TIMEOUT]


def test_a_pool_whose_every_thread_is_stuck_records_the_rest_lost():
    strategy = make("thread-pool", 1, timeout_s=0.3)
    records = run_strategy(strategy, [Task(hangs, (1,)), Task(square, (2,))]).records
    assert [r.status for r in records] == [TIMEOUT, LOST]
    assert "abandoned" in records[0].error
    assert "every worker thread was stuck" in records[1].error


def test_an_isolated_run_measures_like_an_in_process_one():
    """The sandbox starts before the clock: the wall time still lands near the floor."""
    workload = build("seed", sleep_s=0.05)
    floor = workload.floor_s(2)
    execution = run_strategy(make("thread-pool", 2, isolate=True), workload.tasks)
    wall = execution.wall_ns / 1e9
    assert [r.result for r in execution.records] == workload.expected
    assert floor <= wall <= floor + 0.040 + 0.10 * floor, f"{wall:.3f} s, floor {floor:.3f} s"
    assert execution.startup_ns is not None and execution.peak_rss_bytes
    assert {r.worker.pid for r in execution.records} != {os.getpid()}


class _Unjournaled(Strategy):
    """A strategy not built on execute(): its tasks' starts are not noted anywhere."""

    name = "unjournaled"
    description = "calls each task directly"

    def run(self, tasks):
        t0 = time.perf_counter_ns()
        records = [
            TaskRecord(index=i, name=t.name, status=OK, result=t.fn(*t.args))
            for i, t in enumerate(tasks)
        ]
        return Execution(records, t0, time.perf_counter_ns())


def test_a_strategy_that_notes_nothing_is_still_stopped():
    strategy = _Unjournaled().configure(timeout_s=0.2)
    t = time.monotonic()
    records = run_strategy(strategy, [Task(hangs, (1,)), Task(square, (2,))]).records
    assert time.monotonic() - t < 10
    assert [r.status for r in records] == [TIMEOUT, TIMEOUT]
    assert "as a whole" in records[0].error


def test_the_lessons_plain_processes_time_out_too():
    strategy = make("processes", plain=True, timeout_s=0.3)
    records = strategy.run([Task(hangs, (1,)), Task(square, (2,))]).records
    assert [r.status for r in records] == [TIMEOUT, OK]
