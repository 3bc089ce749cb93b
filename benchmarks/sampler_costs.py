"""Where the memory sampler runs, and what each place costs (a diagnostic for bench_probes, issue 3).

Alternating rounds, in a shuffled order, of 20,000 trivial tasks: the raw
ThreadPoolExecutor, then conlab's thread-pool strategy without a probe, with
the sampler as a thread of the measured process (each wake-up takes a turn of
its GIL), and with the sampler as a process of its own (the default). Ratios
are medians over the rounds against the raw pool of the same round. Then the
CPU each sampler uses over an idle two seconds.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/sampler_costs.py [ROUNDS]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable

from bench_probes import WORKERS, raw, trivial

from conlab.measure.tree import TreeProbe, sampler_session
from conlab.model import Task
from conlab.strategies import make

TASKS = 20_000


def pool(tasks: list[Task], probe: Callable[[], TreeProbe] | None) -> float:
    """conlab's thread-pool over ``tasks`` under ``probe``: seconds as conlab reports them."""
    strategy = make("thread-pool", WORKERS)
    running = probe().start() if probe is not None else None
    execution = strategy.run(tasks)
    if running is not None:
        running.stop()
    assert len(execution.records) == len(tasks) and all(r.ok for r in execution.records)
    return (execution.wall_ns + (execution.startup_ns or 0)) / 1e9


def idle_share(probe: Callable[[], TreeProbe]) -> float:
    running = probe().start()
    time.sleep(2.0)
    result = running.stop()
    return result.sampler_cpu_s / result.wall_s


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 30
    xs = list(range(TASKS))
    tasks = [Task(trivial, (x,)) for x in xs]
    variants: dict[str, Callable[[], float]] = {
        "raw": lambda: raw(xs),
        "no probe": lambda: pool(tasks, None),
        "sampler as a thread": lambda: pool(tasks, lambda: TreeProbe(process=False)),
        "sampler as a process": lambda: pool(tasks, TreeProbe),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    rng = random.Random(0)
    with sampler_session():  # as in a comparison: one sampler process for every probe
        for run in variants.values():
            run()
        for _ in range(rounds):
            order = list(variants)
            rng.shuffle(order)
            for name in order:
                seconds[name].append(variants[name]())
        shares = {
            "thread": [idle_share(lambda: TreeProbe(process=False)) for _ in range(3)],
            "process": [idle_share(TreeProbe) for _ in range(3)],
        }
    print(f"{TASKS:,} trivial tasks, {WORKERS} workers, {rounds} shuffled rounds (medians)\n")
    print("| conlab thread-pool | seconds | vs raw |")
    print("| --- | ---: | ---: |")
    for name, values in seconds.items():
        ratio = statistics.median(v / r for v, r in zip(values, seconds["raw"], strict=True))
        print(f"| {name} | {statistics.median(values):.3f} | {ratio:.2f}× |")
    print("\n| sampler, idle tree, 2 s, 3 times | CPU, share of a core (median) |")
    print("| --- | ---: |")
    for name, values in shares.items():
        print(f"| as a {name} | {statistics.median(values):.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
