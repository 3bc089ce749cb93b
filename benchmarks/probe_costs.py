"""Where the per-task record's cost goes: the raw pool, then the record built up step by step.

A diagnostic for bench_probes (issue 3), not a target: each step adds one
part of what conlab's execute_fields does per task, and runs in the same raw
ThreadPoolExecutor over 100,000 trivial tasks, in alternating rounds; ratios
are medians over the rounds against the raw pool of the same round.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/probe_costs.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conlab._process import capture
from conlab._process import execute as ex
from conlab.model import OK, Task

TASKS = 100_000
WORKERS = 2
_clock = time.perf_counter_ns


def trivial(x: int) -> int:
    return x + 1


def clocks(task: Task) -> Any:
    """Two clock reads around the call."""
    start = _clock()
    result = task.fn(*task.args)
    return start, _clock(), result


def thread_state(task: Task) -> Any:
    """+ this thread's state (who runs the task), and the record's ten fields."""
    state = ex._this_thread()
    start = _clock()
    result = task.fn(*task.args)
    return (OK, start, _clock(), None, state.worker, [], 0, result, None, None)


def output(task: Task) -> Any:
    """+ the thread's own output sink marked busy around the call, and checked afterwards."""
    state = ex._this_thread()
    own = state.sink
    if own.busy or capture.get_sink() is not None:
        raise RuntimeError("this diagnostic runs one task at a time per thread")
    own.busy = True
    start = _clock()
    result = task.fn(*task.args)
    end = _clock()
    own.busy = False
    return (OK, start, end, None, state.worker, own.take(), 0, result, None, None)


STEPS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "clocks": (clocks, "two clock reads around the call"),
    "thread_state": (thread_state, "+ the worker and the ten fields"),
    "output": (output, "+ the output sink"),
    "execute_fields": (ex.execute_fields, "+ the CPU-time rule and errors: conlab's record"),
}


def run(fn: Callable[[Any], Any], items: Sequence[Any]) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = [f.result() for f in [pool.submit(fn, x) for x in items]]
    elapsed = time.perf_counter() - t0
    assert len(results) == len(items)
    return elapsed


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 11
    xs = list(range(TASKS))
    tasks = [Task(trivial, (x,)) for x in xs]
    raw: list[float] = []
    steps: dict[str, list[float]] = {name: [] for name in STEPS}
    for _ in range(rounds):
        raw.append(run(trivial, xs))
        for name, (fn, _) in STEPS.items():
            steps[name].append(run(fn, tasks))
    print(f"{TASKS:,} trivial tasks, {WORKERS} workers, {rounds} alternating rounds (medians)\n")
    print("| per-task record | seconds | vs raw |")
    print("| --- | ---: | ---: |")
    print(f"| none (raw ThreadPoolExecutor) | {statistics.median(raw):.3f} | 1.00× |")
    for name, (_, what) in STEPS.items():
        ratio = statistics.median(s / r for s, r in zip(steps[name], raw, strict=True))
        print(f"| {what} | {statistics.median(steps[name]):.3f} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
