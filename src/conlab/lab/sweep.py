"""A scaling sweep: one strategy at several worker counts (and amounts of work), with Amdahl's fit.

Every worker count of one amount of work is measured in one comparison, in
interleaved rounds beside one sequential reference, so drift spreads evenly
over the points; the result is then split into one comparison per worker
count, as the result file keeps it. ``--tasks`` repeats that for each amount
of work: the catalogue builds the workload with that many tasks where it can,
otherwise the first N tasks are taken.
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conlab.errors import UsageError
from conlab.lab.compare import Progress, check_counts, compare
from conlab.measure.environment import usable_cpus
from conlab.measure.fit import AmdahlFit, fit_amdahl
from conlab.model import RUN_OK, Comparison, Run, Workload
from conlab.strategies import COUNTLESS, make, options_for, strategy_class
from conlab.workloads import CATALOGUE, build


@dataclass(frozen=True)
class SweepPoint:
    """One worker count at one amount of work."""

    workers: int
    tasks: int
    run: Run
    reference: Run | None

    @property
    def speedup(self) -> float | None:
        return self.run.speedup

    @property
    def efficiency(self) -> float | None:
        """Speed-up per worker: 1 is perfect scaling."""
        return None if self.run.speedup is None else self.run.speedup / self.workers


@dataclass
class Sweep:
    """The comparisons of a sweep, and Amdahl's fit for each amount of work."""

    workload: str
    strategy: str
    comparisons: list[Comparison] = field(default_factory=list)
    # Beyond the usable cores, workers only queue for them: that flattening is not Amdahl's
    # serial fraction, so the fit uses the points up to this many workers when there are such.
    cores: int | None = None

    def points(self, tasks: int | None = None) -> list[SweepPoint]:
        out = []
        for c in self.comparisons:
            info = c.sweep or {}
            if tasks is not None and info.get("tasks") != tasks:
                continue
            run = _swept_run(c)
            if run is not None:
                out.append(SweepPoint(run.workers, c.tasks, run, c.reference))
        return sorted(out, key=lambda p: (p.tasks, p.workers))

    @property
    def task_counts(self) -> list[int]:
        return sorted({c.tasks for c in self.comparisons})

    @property
    def worker_counts(self) -> list[int]:
        return sorted({p.workers for p in self.points()})

    def fitted_workers(self, tasks: int | None = None) -> list[int]:
        """The worker counts the fit uses: those up to the cores, when there are enough."""
        chosen = tasks if tasks is not None else (self.task_counts or [0])[-1]
        ns = [p.workers for p in self.points(chosen) if p.run.status == RUN_OK]
        within = [n for n in ns if self.cores is None or n <= self.cores]
        return within if any(n > 1 for n in within) else ns

    def fit(self, tasks: int | None = None) -> AmdahlFit | None:
        """Amdahl's fit over the valid points of one amount of work (the largest by default)."""
        counts = self.task_counts
        if not counts:
            return None
        chosen = counts[-1] if tasks is None else tasks
        points = [p for p in self.points(chosen) if p.run.status == RUN_OK]
        within = [p for p in points if self.cores is None or p.workers <= self.cores]
        if any(p.workers > 1 for p in within):
            points = within
        reference = next((p.reference for p in points if p.reference is not None), None)
        if reference is None or reference.status != RUN_OK:
            return None
        return fit_amdahl(reference.wall_s, {p.workers: p.run.wall_s for p in points})

    def __repr__(self) -> str:
        workers = ", ".join(map(str, self.worker_counts))
        return f"Sweep({self.workload!r}, {self.strategy}, workers: {workers})"


def _swept_run(c: Comparison) -> Run | None:
    info = c.sweep or {}
    for run in c.runs:
        if run.strategy == info.get("strategy") and run.workers == info.get("workers"):
            return run
    return None


def sweeps_in(comparisons: Sequence[Comparison], cores: int | None = None) -> list[Sweep]:
    """The sweeps among a result file's comparisons, grouped by their sweep id, in order.

    ``cores`` is the usable cores of the machine that measured them (its environment).
    """
    by_id: dict[str, Sweep] = {}
    for c in comparisons:
        if not c.sweep or "id" not in c.sweep:
            continue
        sweep = by_id.setdefault(
            str(c.sweep["id"]), Sweep(c.workload, str(c.sweep.get("strategy", "")), cores=cores)
        )
        sweep.comparisons.append(c)
    return list(by_id.values())


def sized(workload: str | Workload, tasks: int | None) -> Workload:
    """The workload with ``tasks`` tasks: built so where the catalogue can, else its first N."""
    if isinstance(workload, str):
        factory = CATALOGUE.get(workload)
        if tasks is not None and factory and "tasks" in inspect.signature(factory).parameters:
            return build(workload, tasks=tasks)
        workload = build(workload)
    if tasks is None:
        return workload
    n = len(workload.tasks)
    if tasks > n:
        raise UsageError(
            f"the {workload.name} workload has {n} tasks and cannot be made to have {tasks}: "
            f"choose --tasks of at most {n}"
        )
    return _first(workload, tasks)


def _first(w: Workload, n: int) -> Workload:
    def cut(items: list | None) -> list | None:
        return None if items is None else list(items[:n])

    return dataclasses.replace(
        w,
        tasks=w.tasks[:n],
        async_tasks=cut(w.async_tasks),
        task_durations_s=cut(w.task_durations_s),
        expected=cut(w.expected),
        params={**w.params, "tasks": n},
    )


def sweep(
    workload: str | Workload,
    strategy: str,
    workers: Sequence[int],
    *,
    tasks: Sequence[int] | None = None,
    repeats: int = 3,
    warmup: int = 1,
    start_method: str | None = None,
    progress: Progress | None = None,
    on_comparison: Callable[[Comparison], None] | None = None,
    **strategy_options: Any,
) -> Sweep:
    """Measure ``strategy`` with each worker count (for each amount of work in ``tasks``).

    ``strategy_options`` go to the strategy as to ``make``: timeout_s, isolate, scheduler, ...
    Those the command line gives every strategy (start_method, scheduler, ...) apply where taken.
    """
    check_counts(repeats, warmup)
    counts = sorted(set(workers))
    if not counts or any(not isinstance(n, int) or n < 1 for n in counts):
        raise UsageError(f"workers must be whole numbers of at least 1, not {list(workers)!r}")
    options = {k: v for k, v in strategy_options.items() if v is not None}
    if start_method is not None:
        options["start_method"] = start_method
    options = options_for(strategy_class(strategy), options)
    if strategy in COUNTLESS or not make(strategy, 1, **options).pooled:
        what = COUNTLESS.get(strategy, "starts one worker per task")
        raise UsageError(
            f"{strategy} {what}, so it has no worker count to sweep: "
            "sweep a pool (thread-pool, process-pool) instead"
        )
    sweep_id = uuid.uuid4().hex[:12]
    name = workload if isinstance(workload, str) else workload.name
    result = Sweep(name, strategy, cores=usable_cpus())
    for n_tasks in sorted(set(tasks)) if tasks else [None]:
        sized_workload = sized(workload, n_tasks)
        result.workload = sized_workload.name
        strategies = [make(strategy, n, **options) for n in counts]
        whole = compare(sized_workload, strategies, repeats, warmup, progress=progress)
        for point in _split(whole, strategy, counts, sweep_id):
            result.comparisons.append(point)
            if on_comparison is not None:
                on_comparison(point)
    return result


def _split(whole: Comparison, strategy: str, counts: list[int], sweep_id: str) -> list[Comparison]:
    """One comparison per worker count, each with the shared sequential reference."""
    reference = whole.reference
    out = []
    for run in whole.runs:
        if run.strategy != strategy or run.workers not in counts:
            continue
        out.append(
            dataclasses.replace(
                whole,
                runs=[r for r in (reference, run) if r is not None],
                title=f"{whole.workload} ({whole.tasks} tasks): {strategy} with {run.workers} "
                f"worker{'s' if run.workers != 1 else ''}",
                notes=list(whole.notes),
                sweep={
                    "id": sweep_id,
                    "strategy": strategy,
                    "workers": run.workers,
                    "tasks": whole.tasks,
                },
            )
        )
    return out
