"""Worker counts for strategies named without one, chosen for the work as measured.

A pool computing work keeps at most one worker per core busy, so it gets the usable
cores. A thread pool on work that waits gets more: with a share c of each task's time
on the CPU (under the GIL), about 1 / c threads keep the CPU busy, as the advice's model
predicts (advice/predict.py, threads_for), bounded by the task count and MAX_THREADS.
The share is the sequential run's, measured before any pool runs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

from conlab.measure.environment import usable_cpus
from conlab.measure.units import percent
from conlab.measure.workkind import WAITING_BELOW
from conlab.model import SOURCE_CORES, SOURCE_GIVEN, SOURCE_PER_TASK, SOURCE_WAITING, Run, Workload
from conlab.strategies.base import SEQUENTIAL, THREADS, Execution, Strategy

# The most threads a thread pool is given for waiting work (advice/predict.py's MAX_THREADS).
MAX_THREADS = 256


def _family(strategy: Strategy) -> str | None:
    """The strategy's family; a strategy written for a test may declare none."""
    return getattr(strategy, "family", None)


def needs_count(strategy: Strategy) -> bool:
    """Whether the strategy is a pool named without a worker count (the lab chooses one)."""
    return strategy.pooled and strategy.workers is None and _family(strategy) != SEQUENTIAL


def source_of(strategy: Strategy) -> str | None:
    """Where a strategy's worker count came from, before the lab chooses any."""
    if _family(strategy) == SEQUENTIAL:
        return None
    if not strategy.pooled:
        return SOURCE_PER_TASK
    return SOURCE_GIVEN if strategy.workers is not None else SOURCE_CORES


def chosen(
    strategy: Strategy, n_tasks: int, cores: int, cpu_share: float | None
) -> tuple[int, str]:
    """The worker count for a pool named without one, and where it came from.

    The cores for every pool, unless it is a thread pool and the work measured as waiting
    (measure/workkind.py: CPU below WAITING_BELOW of wall, a share a busy machine's queue
    for the CPU alone rarely brings it to): then about 1 / cpu_share threads.
    """
    cores = max(1, min(cores, n_tasks))
    if _family(strategy) != THREADS or cpu_share is None or cpu_share >= WAITING_BELOW:
        return cores, SOURCE_CORES
    waiting = math.ceil(1 / max(cpu_share, 1 / MAX_THREADS))
    threads = min(n_tasks, MAX_THREADS, waiting)
    if threads > cores:
        return threads, SOURCE_WAITING
    return cores, SOURCE_CORES


def cpu_share(execution: Execution, probe_cpu_s: float, n_tasks: int) -> float | None:
    """CPU time over wall time of a sequential run that completed every task; else None."""
    records = execution.records
    if len(records) != n_tasks or not all(r.ok for r in records) or execution.wall_ns <= 0:
        return None
    cpu_s = execution.cpu_s if execution.cpu_s is not None else probe_cpu_s
    return cpu_s / (execution.wall_ns / 1e9)


def provisional(strategy: Strategy, n_tasks: int) -> tuple[Strategy, str | None]:
    """The strategy as the lab runs it, and where its count came from: a pool named without a
    count is copied (the caller's stays as it was) with the cores until the work is measured."""
    if not needs_count(strategy):
        return strategy, source_of(strategy)
    sized = copy.copy(strategy)
    sized.workers, source = chosen(strategy, n_tasks, usable_cpus(), None)
    return sized, source


def size(pools: Sequence[tuple[Strategy, Run]], workload: Workload, share: float | None) -> None:
    """Give each pool (strategy and its run) the count the work wants, its floor with it."""
    for strategy, run in pools:
        n, source = chosen(strategy, len(workload.tasks), usable_cpus(), share)
        strategy.workers = run.workers = n
        run.workers_source, run.floor_s = source, workload.floor_s(n)


def note(runs: Sequence[Run], cpu_share: float | None, cores: int) -> str | None:
    """One line saying which counts the lab chose and why, for every renderer's notes."""
    waiting = [r.label for r in runs if r.workers_source == SOURCE_WAITING]
    at_cores = [r.label for r in runs if r.workers_source == SOURCE_CORES]
    parts = []
    if waiting:
        share = (
            ""
            if cpu_share is None
            else f" (CPU {percent(cpu_share)} of wall in the sequential run)"
        )
        parts.append(f"{', '.join(waiting)} sized for waiting work{share}, above the {cores} cores")
    if at_cores:
        parts.append(f"{', '.join(at_cores)} at the usable cores")
    if not parts:
        return None
    return "workers not named: " + "; ".join(parts) + " (name a count, as thread-pool:4, to choose)"
