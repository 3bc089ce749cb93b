"""What the sandbox costs: sandboxed and in-process runs of the same tasks, paired round by round.

The user's code runs in a sandbox process by default (lab/sandbox.py); the
catalogue's workloads run in conlab's own process unless this shows that the
sandbox costs nothing measurable. For the seed workload (sleep-based, known
floor) and the cpu workload (pure Python), under sequential and thread-pool,
each round runs the tasks once in-process and once sandboxed, in an order that
alternates between rounds, garbage collected before each as the lab does. The
figure is the paired ratio of the timed wall, sandboxed / in-process, per round:
its median and the range of the middle rounds. The sandbox's own start-up (a
fork, the Execution sent back) is outside the timed window and shown apart.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/bench_isolation.py [ROUNDS]
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

from conlab.lab.sandbox import run_strategy
from conlab.model import Workload
from conlab.strategies import make
from conlab.workloads import build

ROUNDS = 9
WITHIN = (0.98, 1.02)  # what "within the noise" means here, as the paired ratio's median
CASES = [
    ("seed", {}, "sequential", None),
    ("seed", {}, "thread-pool", 2),
    ("cpu", {"tasks": 4}, "sequential", None),
    ("cpu", {"tasks": 4}, "thread-pool", 2),
]


def _timed(
    workload: Workload, name: str, workers: int | None, isolate: bool
) -> tuple[float, float]:
    """The timed wall of one run, and the whole call's time around it, in seconds."""
    gc.collect()
    strategy = make(name, workers, isolate=isolate)
    t = time.perf_counter_ns()
    execution = run_strategy(strategy, workload.tasks)
    total_s = (time.perf_counter_ns() - t) / 1e9
    assert all(r.ok for r in execution.records), [r.error for r in execution.records]
    if workload.expected is not None:
        assert [r.result for r in execution.records] == workload.expected
    return execution.wall_ns / 1e9, total_s


def measure(workload: Workload, name: str, workers: int | None, rounds: int) -> dict[str, object]:
    ratios, plain, boxed, outside = [], [], [], []
    for k in range(rounds + 1):
        order = (False, True) if k % 2 else (True, False)
        walls = {}
        for isolate in order:
            walls[isolate], total_s = _timed(workload, name, workers, isolate)
            if isolate:
                outside.append(total_s - walls[isolate])
        if k == 0:
            continue  # the first round warms both up (imports, caches, the sampler)
        ratios.append(walls[True] / walls[False])
        plain.append(walls[False])
        boxed.append(walls[True])
    ratios.sort()
    middle = ratios[len(ratios) // 4 : len(ratios) - len(ratios) // 4] or ratios
    return {
        "plain_s": statistics.median(plain),
        "boxed_s": statistics.median(boxed),
        "ratio": statistics.median(ratios),
        "middle": (middle[0], middle[-1]),
        "outside_ms": statistics.median(outside) * 1000,
    }


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else ROUNDS
    print(
        f"Paired over {rounds} rounds (after one warm-up round), the order alternating.\n\n"
        "| workload | strategy | in-process wall s | sandboxed wall s | ratio (median) | "
        "ratio (middle half) | sandbox start-up ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    within = True
    for workload_name, params, name, workers in CASES:
        workload = build(workload_name, **params)
        m = measure(workload, name, workers, rounds)
        lo, hi = m["middle"]  # type: ignore[misc]
        within &= WITHIN[0] <= m["ratio"] <= WITHIN[1]  # type: ignore[operator]
        label = f"{name}:{workers}" if workers else name
        print(
            f"| {workload_name} | {label} | {m['plain_s']:.4f} | {m['boxed_s']:.4f} | "
            f"{m['ratio']:.3f} | {lo:.3f}–{hi:.3f} | {m['outside_ms']:.1f} |"
        )
    print(
        f"\nEvery median ratio within {WITHIN[0]}–{WITHIN[1]}: "
        + ("yes: the sandbox costs nothing measurable inside the timed window" if within else "no")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
