"""The probes must not change what they measure.

Target (issue 3): on 100,000 trivial tasks, conlab's thread-pool strategy with
every probe on (per-task records and capture, the process-tree CPU and memory
sampler, which runs in a process of its own) costs at most 1.2x a raw
ThreadPoolExecutor over the same tasks, in the same run; and the memory
sampler uses under 2 % of one core.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/bench_probes.py
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conlab.measure.stats import bootstrap_ratio_ci
from conlab.measure.tree import TreeProbe, sampler_session
from conlab.model import Task
from conlab.strategies import make

TASKS = 100_000
WORKERS = 2
ROUNDS = 15
MAX_RATIO = 1.2
MAX_SAMPLER_SHARE = 0.02


def trivial(x: int) -> int:
    return x + 1


def pooled(fn: Callable[[Any], Any], items: Sequence[Any]) -> tuple[float, list[Any]]:
    """What a user would write: submit every task to the pool, collect every result; seconds."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(fn, x) for x in items]
        results = [f.result() for f in futures]
    return time.perf_counter() - t0, results


def raw(xs: list[int]) -> float:
    elapsed, results = pooled(trivial, xs)
    assert results[-1] == xs[-1] + 1
    return elapsed


def least_record(task: Task) -> tuple[int, int, object]:
    """The least a per-task record can be: two clock reads around the call (no capture, no CPU)."""
    start = time.perf_counter_ns()
    result = task.fn(*task.args)
    return start, time.perf_counter_ns(), result


def least(tasks: list[Task]) -> float:
    """The raw pool running each task inside least_record: the floor any per-task probe pays."""
    elapsed, results = pooled(least_record, tasks)
    assert results[-1][2] == tasks[-1].args[0] + 1
    return elapsed


def conlab_probed(tasks: list[Task]) -> tuple[float, float, float, float]:
    """conlab's thread-pool under the lab's probe.

    Returns the seconds conlab reports (the pool's start-up and the timed part:
    what the probes could distort), the seconds end to end (with the probe's
    start and stop and the records built after the timed part), the sampler's
    CPU seconds and the probe's wall seconds.
    """
    strategy = make("thread-pool", WORKERS)
    t0 = time.perf_counter()
    probe = TreeProbe().start()
    execution = strategy.run(tasks)
    result = probe.stop()
    elapsed = time.perf_counter() - t0
    assert len(execution.records) == len(tasks) and all(r.ok for r in execution.records)
    assert execution.records[-1].result == tasks[-1].args[0] + 1
    measured = (execution.wall_ns + (execution.startup_ns or 0)) / 1e9
    return measured, elapsed, result.sampler_cpu_s, result.wall_s


def sampler_alone(seconds: float) -> tuple[float, int]:
    """The sampler's CPU share over an idle interval, and how many samples it took."""
    probe = TreeProbe().start()
    time.sleep(seconds)
    result = probe.stop()
    return result.sampler_cpu_s / result.wall_s, result.samples


def main() -> int:
    xs = list(range(TASKS))
    tasks = [Task(trivial, (x,)) for x in xs]
    raw(xs[:1000])
    raw_s, least_s, conlab_s, whole_s, shares = [], [], [], [], []

    def run_conlab() -> None:
        measured, elapsed, sampler_cpu, probe_wall = conlab_probed(tasks)
        conlab_s.append(measured)
        whole_s.append(elapsed)
        shares.append(sampler_cpu / probe_wall)

    runs = [lambda: raw_s.append(raw(xs)), lambda: least_s.append(least(tasks)), run_conlab]
    # As in a comparison: one sampler process for every probe (each probe starts one otherwise).
    with sampler_session():
        conlab_probed(tasks[:1000])
        for k in range(ROUNDS):
            # Each run in each place of the round in turn, and none paying for collecting the
            # garbage of the run before it (100,000 futures), as the lab does (lab._measure).
            for run in runs[k % 3 :] + runs[: k % 3]:
                gc.collect()
                run()
        idle_share, samples = sampler_alone(2.0)
    ratio = statistics.median(c / r for c, r in zip(conlab_s, raw_s, strict=True))
    interval = bootstrap_ratio_ci(conlab_s, raw_s)
    whole = statistics.median(c / r for c, r in zip(whole_s, raw_s, strict=True))
    floor = statistics.median(c / r for c, r in zip(least_s, raw_s, strict=True))
    busy_share = statistics.median(shares)
    rate_hz = samples / 2.0
    print(f"{TASKS:,} trivial tasks, {WORKERS} workers, {ROUNDS} rotated rounds (medians)\n")
    print("| figure | value | target |")
    print("| --- | ---: | ---: |")
    print(f"| raw ThreadPoolExecutor | {statistics.median(raw_s):.3f} s | |")
    print(
        f"| the same pool, each task between two clock reads (the least record) "
        f"| {statistics.median(least_s):.3f} s, {floor:.2f}× | |"
    )
    print(
        f"| conlab thread-pool, every probe on, as conlab reports it (start-up + run) "
        f"| {statistics.median(conlab_s):.3f} s | |"
    )
    low, high = interval or (float("nan"), float("nan"))
    print(
        f"| ratio conlab / raw (95 % interval of the medians' ratio) "
        f"| {ratio:.2f}× ({low:.2f}–{high:.2f}) | ≤ {MAX_RATIO}× |"
    )
    print(
        f"| the same end to end (probe start/stop, records built after the run) "
        f"| {statistics.median(whole_s):.3f} s, {whole:.2f}× | |"
    )
    print(
        f"| sampler CPU during the runs | {busy_share:.2%} of a core | < {MAX_SAMPLER_SHARE:.0%} |"
    )
    print(f"| sampler CPU, idle tree | {idle_share:.2%} of a core | < {MAX_SAMPLER_SHARE:.0%} |")
    print(f"| sampler rate | {rate_hz:.0f} Hz | ≥ 100 Hz |")
    missed = []
    if ratio > MAX_RATIO:
        missed.append(f"conlab/raw {ratio:.2f}x > {MAX_RATIO}x")
    if max(busy_share, idle_share) >= MAX_SAMPLER_SHARE:
        missed.append(f"sampler uses {max(busy_share, idle_share):.2%} of a core")
    if rate_hz < 100:
        missed.append(f"sampler rate {rate_hz:.0f} Hz < 100 Hz")
    if missed:
        print("\nMISSED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
