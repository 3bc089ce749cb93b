"""The lab vouches only for runs that did the work, and says why it will not vouch for the others."""

from __future__ import annotations

import os
import time
from typing import ClassVar

from conlab.lab.compare import Remeasure, compare
from conlab.model import Task, Workload
from conlab.strategies import make
from conlab.strategies.base import Execution, Strategy

PARENT = os.getpid()


def add(a, b):
    return a + b


def add_wrong_in_children(a, b):
    return a + b + (os.getpid() != PARENT)


def _workload(fn=add, expected=None):
    return Workload(
        name="adds", kind="cpu", tasks=[Task(fn, (i, i)) for i in range(4)], expected=expected
    )


def test_valid_runs_get_a_speedup_and_every_sample():
    comparison = compare(_workload(), [make("thread-pool", 2)], repeats=3, warmup=1)
    seq, pool = comparison.runs
    assert seq.strategy == "sequential", "the reference is always run, first in the table"
    assert seq.status == pool.status == "ok"
    assert len(seq.wall_s) == len(pool.wall_s) == 3
    assert pool.speedup is not None and seq.speedup == 1.0


def test_a_wrong_result_fails_the_run_and_names_the_task():
    # In-process asked for: the sequential reference then runs in this process, PARENT.
    strategies = [make("processes", isolate=False)]
    comparison = compare(_workload(add_wrong_in_children), strategies, repeats=1, warmup=0)
    run = comparison.run("processes")
    assert run.status == "failed" and run.speedup is None
    assert "returned 1, the sequential run 0" in run.reason


def test_a_wrong_reference_is_caught_by_the_known_answer():
    comparison = compare(_workload(expected=[1, 2, 3, 4]), [make("threads")], repeats=1, warmup=0)
    assert all(r.status == "failed" for r in comparison.runs)
    assert "expected 1" in comparison.run("sequential").reason


class _Dropper(Strategy):
    """Breaks the contract on purpose: loses the last record."""

    name = "dropper"
    description = "loses a record"

    def run(self, tasks):
        execution = make("sequential").run(tasks)
        return Execution(execution.records[:-1], execution.t0_ns, execution.t1_ns)


def test_a_strategy_that_loses_a_record_is_never_vouched_for():
    comparison = compare(_workload(), [_Dropper()], repeats=1, warmup=0)
    assert comparison.run("dropper").status == "failed"
    assert "returned 3 records for 4 tasks" in comparison.run("dropper").reason


class _Recorder(Strategy):
    name = "recorder"
    description = "remembers when it ran"
    log: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, tag):
        super().__init__(1)
        self.tag = tag

    def run(self, tasks):
        _Recorder.log.append((self.tag, time.perf_counter_ns()))
        return make("sequential").run(tasks)


def test_rounds_interleave_strategies_in_a_shuffled_order():
    _Recorder.log.clear()
    # In-process: the log is this process's, and a sandbox would keep it in the child.
    strategies = [_Recorder(tag).configure(isolate=False) for tag in "abcd"]
    # No extra rounds: on a busy machine they re-run only the contended strategies.
    compare(_workload(), strategies, repeats=6, warmup=0, seed=1, remeasure=Remeasure(0))
    tags = [tag for tag, _ in _Recorder.log]
    rounds = [tags[k : k + 4] for k in range(0, len(tags), 4)]
    assert all(sorted(r) == list("abcd") for r in rounds), "each round runs every strategy once"
    assert len({tuple(r) for r in rounds}) > 1, "the order changes between rounds"


def test_progress_and_updates_are_reported_per_round():
    seen, updates = [], []
    compare(
        _workload(),
        [make("threads")],
        repeats=2,
        warmup=1,
        progress=lambda done, total, label: seen.append((done, total)),
        on_update=updates.append,
    )
    assert seen[-1] == (6, 6)
    assert len(updates) == 3
