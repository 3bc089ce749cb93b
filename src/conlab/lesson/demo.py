"""``conlab demo``: the classic lesson, measured on this machine, in four parts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from conlab.lab.compare import Progress, Update, check_counts, compare
from conlab.lesson import notebook as lesson
from conlab.lesson import table as explain
from conlab.measure.environment import usable_cpus
from conlab.model import Comparison
from conlab.strategies import make
from conlab.workloads import build

QUICK_SLEEP_S = 0.025
QUICK_CPU_SIZE = 0.1


@dataclass
class DemoSettings:
    quick: bool = False
    repeats: int | None = None
    warmup: int | None = None
    start_method: str | None = None
    timeout_s: float | None = None
    isolate: bool | None = None  # None: the catalogue runs in-process (see lab/sandbox.py)

    def __post_init__(self) -> None:
        if self.repeats is None:
            self.repeats = 2 if self.quick else 3
        if self.warmup is None:
            self.warmup = 1
        check_counts(self.repeats, self.warmup)


def parts(
    settings: DemoSettings, progress: Progress | None = None, on_update: Update | None = None
) -> Iterator[Callable[[], Comparison | explain.Lesson]]:
    """Each part of the demo, to be measured when called (so results can be shown as they come)."""
    sleep_s = QUICK_SLEEP_S if settings.quick else 0.2
    size = QUICK_CPU_SIZE if settings.quick else 1.0
    cores = usable_cpus()
    method = settings.start_method
    common: dict[str, Any] = {"timeout_s": settings.timeout_s, "isolate": settings.isolate}
    repeats, warmup = settings.repeats or 1, settings.warmup or 0

    def waiting() -> Comparison:
        strategies = [
            make("threads", **common),
            make("thread-pool", 2, **common),
            make("thread-pool", 3, **common),
            make("processes", start_method=method, **common),
            make("process-pool", 2, start_method=method, **common),
        ]
        return compare(
            build("seed", sleep_s=sleep_s),
            strategies,
            repeats,
            warmup,
            progress=progress,
            on_update=on_update,
            title=f"1. Waiting work: calc_square and calc_cube, sleeping {sleep_s:g} s per number",
        )

    def computing() -> Comparison:
        strategies = [
            make("thread-pool", cores, **common),
            make("process-pool", cores, start_method=method, **common),
            # Subinterpreters (3.13+), each with its own GIL; elsewhere shown unavailable, with why.
            make("interpreters", cores, **common),
        ]
        workload = build("cpu", size=size)
        return compare(
            workload,
            strategies,
            repeats,
            warmup,
            progress=progress,
            on_update=on_update,
            title=f"2. Computing work: {workload.params['tasks']} pure-Python tasks "
            f"(counting primes), {cores} workers",
        )

    def notebook() -> Comparison:
        return lesson.notebook_comparison(sleep_s, repeats, warmup)

    def table() -> explain.Lesson:
        return explain.measure(
            quick=settings.quick, start_method=method, progress=progress, warmup=warmup, part="4"
        )

    yield waiting
    yield computing
    yield notebook
    yield table
