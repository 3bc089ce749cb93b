"""Isolation costs nothing inside the timed window: sandboxed runs measure like in-process ones.

For sequential and thread-pool on the seed workload (sleep-based, known floor),
runs in conlab's own process and in a sandbox process alternate; the medians of
the timed wall must agree within 5 ms. The sandbox's start-up (a fork, and the
Execution sent back) is shown apart: it is outside the window.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/bench_isolation.py
"""

from __future__ import annotations

import statistics
import sys
import time

from conlab.lab.sandbox import run_strategy
from conlab.strategies import make
from conlab.workloads import build

REPEATS = 7
TOLERANCE_S = 0.005


def main() -> int:
    workload = build("seed", sleep_s=0.05)
    print(
        "| strategy | floor s | in-process wall s | isolated wall s | difference ms | sandbox overhead ms |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    ok = True
    for name, workers in (("sequential", None), ("thread-pool", 2)):
        walls: dict[bool, list[float]] = {False: [], True: []}
        outside: list[float] = []
        for _ in range(REPEATS):
            for isolate in (False, True):
                strategy = make(name, workers, isolate=isolate)
                t = time.perf_counter_ns()
                execution = run_strategy(strategy, workload.tasks)
                total = time.perf_counter_ns() - t
                assert [r.result for r in execution.records] == workload.expected
                walls[isolate].append(execution.wall_ns / 1e9)
                if isolate:
                    outside.append((total - execution.wall_ns) / 1e6)
        plain, boxed = statistics.median(walls[False]), statistics.median(walls[True])
        diff = boxed - plain
        ok &= abs(diff) <= TOLERANCE_S
        floor = workload.floor_s(strategy.workers_for(len(workload.tasks)))
        print(
            f"| {name} | {floor:.3f} | {plain:.4f} | {boxed:.4f} | {diff * 1000:+.2f} | "
            f"{statistics.median(outside):.1f} |"
        )
    print(
        f"\ntarget: isolated median within {TOLERANCE_S * 1000:.0f} ms of in-process: "
        + ("met" if ok else "MISSED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
