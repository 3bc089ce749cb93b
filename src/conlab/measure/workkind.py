"""What the work is, as measured: the sequential run's CPU share of wall, and how threads did.

A workload declares a kind (io, cpu, ...); a user's function declares none. What the lab
measured is the label every renderer shows beside the figures it comes from, and what
sizes a thread pool named without a worker count (lab/workers.py).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from conlab.model import (
    MEASURED_KINDS,
    RUN_INCOMPLETE,
    RUN_OK,
    WORKERS_SOURCES,
    MeasuredKind,
    Run,
)

# CPU/wall of the sequential run below which the work is waiting, above which it computes.
WAITING_BELOW = 0.25
COMPUTING_ABOVE = 0.75
# A speed-up in threads at least this large means the threads really ran at once.
THREADS_PARALLEL = 1.3
THREADED = ("threads", "thread-pool")


def cpu_share(reference: Run | None) -> float | None:
    """The sequential run's CPU time over its wall time (medians), once it has a repeat."""
    if reference is None or reference.status not in (RUN_OK, RUN_INCOMPLETE):
        return None
    if not reference.wall_s or not reference.cpu_s:
        return None
    wall = statistics.median(reference.wall_s)
    return statistics.median(reference.cpu_s) / wall if wall > 0 else None


def best_threads(runs: Sequence[Run]) -> Run | None:
    """The thread strategy's run with the best valid speed-up, if one ran."""
    threaded = [
        r for r in runs if r.strategy in THREADED and r.status == RUN_OK and r.speedup is not None
    ]
    return max(threaded, key=lambda r: r.speedup or 0.0, default=None)


def classify(share: float, threads_speedup: float | None) -> str:
    """waiting, mixed, computing-parallel (threads ran it at once) or computing."""
    if share < WAITING_BELOW:
        return "waiting"
    if share <= COMPUTING_ABOVE:
        return "mixed"
    if threads_speedup is not None and threads_speedup >= THREADS_PARALLEL:
        return "computing-parallel"
    return "computing"


def measured_kind(reference: Run | None, runs: Sequence[Run]) -> MeasuredKind | None:
    """The work's kind from the sequential ``reference`` and the thread runs among ``runs``;
    None while the reference has no valid repeat."""
    share = cpu_share(reference)
    if share is None:
        return None
    threads = best_threads(runs)
    speedup = threads.speedup if threads is not None else None
    return MeasuredKind(classify(share, speedup), share, speedup)


# --- in the result file (resultfile.py) ----------------------------------------------------

Fail = Callable[[str, str], Exception]


def to_dict(kind: MeasuredKind | None) -> dict[str, Any] | None:
    return None if kind is None else dataclasses.asdict(kind)


def _share(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e6


def from_dict(d: Any, fail: Fail, where: str) -> MeasuredKind | None:
    """A comparison's ``measured_kind`` read back; absent from files written before it."""
    at = f"{where}.measured_kind"
    if d is None:
        return None
    if not isinstance(d, dict):
        raise fail(at, f"expected an object, found {type(d).__name__}")
    if d.get("kind") not in MEASURED_KINDS:
        raise fail(f"{at}.kind", f"expected one of {', '.join(MEASURED_KINDS)}")
    if not _share(d.get("cpu_share")):
        raise fail(f"{at}.cpu_share", "expected a number of at least 0")
    speedup = d.get("threads_speedup")
    if speedup is not None and not _share(speedup):
        raise fail(f"{at}.threads_speedup", "expected a number of at least 0, or null")
    return MeasuredKind(
        d["kind"], float(d["cpu_share"]), None if speedup is None else float(speedup)
    )


def source_from(value: Any, fail: Fail, where: str) -> str | None:
    """A run's ``workers_source`` read back; absent from files written before it."""
    if value is not None and value not in WORKERS_SOURCES:
        raise fail(f"{where}.workers_source", f"expected one of {', '.join(WORKERS_SOURCES)}")
    return value if value is None else str(value)
