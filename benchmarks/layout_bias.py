"""How much a pure-Python loop's speed moves with its process's memory layout alone.

Forks one child at a time (one core busy); each child first keeps k extra ints (the size
the loop's running total takes), then times spin() in CPU time. Every k runs once a round,
in a new order each round; the figure per k is its median over the rounds, relative to the
fastest k. Nothing but the allocator's state differs between the children, so any spread is
layout, which bench_engine_auto.py's CPU-bound cases randomise per worker (shuffled_spin).

    flock -x /tmp/conlab-cpu.lock .venv/bin/python benchmarks/layout_bias.py [--rounds 9]

On 2026-12-05 (four runs of 7-9 rounds): k = 0..7 mostly ran 2-4 % faster than k = 8..23.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import time
from typing import Any

from bench_engine_auto import spin

KS = range(24)


def _child(k: int, loops: int, conn: Any) -> None:
    kept = [10**6 + j for j in range(k)]
    t0 = time.thread_time_ns()
    spin(loops)
    conn.send((time.thread_time_ns() - t0) / 1e6)
    del kept


def main(rounds: int, loops: int) -> None:
    ctx = multiprocessing.get_context("fork")
    spin(loops)
    times: dict[int, list[float]] = {k: [] for k in KS}
    for r in range(rounds):
        for k in random.Random(r).sample(list(KS), len(KS)):
            reader, writer = ctx.Pipe(duplex=False)
            child = ctx.Process(target=_child, args=(k, loops, writer))
            child.start()
            times[k].append(reader.recv())
            child.join()
    medians = {k: statistics.median(v) for k, v in times.items()}
    fastest = min(medians.values())
    print(f"spin({loops}) CPU time per k extra ints, over the fastest k ({fastest:.1f} ms):")
    print(" ".join(f"{k}:{medians[k] / fastest:.3f}" for k in KS))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--loops", type=int, default=1_500_000)
    args = parser.parse_args()
    main(args.rounds, args.loops)
