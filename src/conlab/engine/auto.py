"""Probing a function on its first items to choose a strategy: waiting or computing, GIL or not.

``probe`` runs the first items here, timing wall and CPU time, then, when the
work computes, two more batches on two threads at once to see whether they run
in parallel. Its results are kept: the probed items are not run again.
``choose`` turns the measurements into a strategy and the reason for it.
The advice (``conlab advise``) can reuse both.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conlab.engine.chunks import ChunkOutcome, Errors, run_chunk
from conlab.measure.units import duration

WAITING_CPU_RATIO = 0.3  # below: the function mostly waits (sleep, I/O, locks); a busy machine halves a computing one
PARALLEL_SPEEDUP = 1.5  # two threads at least this much faster than one: the GIL is released


@dataclass
class Probe:
    """What probing measured, and the probed items' outcomes (in input order)."""

    items: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    thread_speedup: float | None = None  # serial time / time on two threads, when measured
    outcomes: list[ChunkOutcome] = field(default_factory=list)

    @property
    def per_item_s(self) -> float:
        return self.wall_s / self.items if self.items else 0.0

    @property
    def cpu_ratio(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True)
class Advice:
    """The strategy ``auto`` chose, and why, with the measurements behind it."""

    strategy: str
    reason: str
    probe: Probe

    def __str__(self) -> str:
        return f"{self.strategy}: {self.reason}"


def probe(fn: Callable[[Any], Any], source: Iterator[Any], budget_s: float = 0.02) -> Probe:
    """Run items of ``source`` through ``fn`` here for about ``budget_s`` (at least one item)."""
    result = Probe()
    batch = 1
    while result.wall_s < budget_s / 2:
        items = list(itertools.islice(source, batch))
        if not items:
            return result
        cpu0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        result.outcomes.append(run_chunk(fn, items))
        result.wall_s += (time.perf_counter_ns() - t0) / 1e9
        result.cpu_s += (time.thread_time_ns() - cpu0) / 1e9
        result.items += len(items)
        batch *= 2
    if result.cpu_ratio >= WAITING_CPU_RATIO:
        _probe_threads(fn, source, result, budget_s / 2)
    return result


def _probe_threads(
    fn: Callable[[Any], Any], source: Iterator[Any], result: Probe, budget_s: float
) -> None:
    """Two batches on two threads at once: does the pair finish faster than one after the other?"""
    per_batch = max(1, int(budget_s / 2 / max(result.per_item_s, 1e-9)))
    batches = [list(itertools.islice(source, per_batch)) for _ in range(2)]
    if not batches[1]:
        if batches[0]:
            result.outcomes.append(run_chunk(fn, batches[0]))
        return
    outcomes: list[ChunkOutcome | None] = [None, None]

    def work(k: int) -> None:
        outcomes[k] = run_chunk(fn, batches[k])

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(2)]
    t0 = time.perf_counter_ns()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = (time.perf_counter_ns() - t0) / 1e9
    n = len(batches[0]) + len(batches[1])
    result.thread_speedup = n * result.per_item_s / wall_s if wall_s > 0 else None
    for outcome in outcomes:
        assert outcome is not None
        result.outcomes.append(outcome)


def choose(measured: Probe) -> tuple[str, str]:
    """The strategy for what ``measured`` saw, and the reason, in one line."""
    if measured.items == 0:
        return "sequential", "the input is empty"
    per_item = duration(measured.per_item_s)
    cpu = f"CPU {measured.cpu_ratio:.0%} of wall time"
    if measured.cpu_ratio < WAITING_CPU_RATIO:
        return "thread-pool", f"the function mostly waits ({cpu}, {per_item} per item)"
    speedup = measured.thread_speedup
    if speedup is None:
        return (
            "sequential",
            f"the input had only {measured.items} items ({cpu}, {per_item} per item)",
        )
    if speedup >= PARALLEL_SPEEDUP:
        return (
            "thread-pool",
            f"the function computes but releases the GIL: two threads ran {speedup:.2f}x "
            f"as fast as one ({cpu}, {per_item} per item)",
        )
    return (
        "processes",
        f"the function computes and holds the GIL: two threads ran {speedup:.2f}x as fast "
        f"as one ({cpu}, {per_item} per item)",
    )


__all__ = ["Advice", "Errors", "Probe", "choose", "probe"]
