"""Timelines: which worker ran which task when, shared by the SVG, the plots and the trace.

One lane per worker (a process and thread), in the order the workers first
started a task; each task a bar from its start to its end, in seconds from
the start of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conlab.model import Run, TaskRecord


@dataclass(frozen=True)
class Bar:
    """One task on a lane."""

    index: int
    name: str
    status: str
    start_s: float
    end_s: float


@dataclass
class Lane:
    """One worker: a process and a thread."""

    pid: int | None
    thread: int | None
    label: str
    bars: list[Bar] = field(default_factory=list)


def _seconds(ns: int | None, t0_ns: int) -> float | None:
    return None if ns is None else (ns - t0_ns) / 1e9


def lanes(run: Run) -> list[Lane]:
    """The run's workers, each with its tasks; tasks that never started have no bar."""
    t0 = run.t0_ns or 0
    timed: list[tuple[float, float, TaskRecord]] = []
    for record in run.records:
        start, end = _seconds(record.start_ns, t0), _seconds(record.end_ns, t0)
        if start is not None and end is not None:
            timed.append((start, max(start, end), record))
    timed.sort(key=lambda item: item[0])
    by_worker: dict[tuple[int | None, int | None], Lane] = {}
    threads_seen: dict[int | None, int] = {}
    for start, end, record in timed:
        w = record.worker
        key = (w.pid, w.thread) if w is not None else (None, None)
        lane = by_worker.get(key)
        if lane is None:
            lane = by_worker[key] = Lane(key[0], key[1], _label(key, threads_seen))
        lane.bars.append(Bar(record.index, record.name, record.status, start, end))
    return list(by_worker.values())


def _label(key: tuple[int | None, int | None], threads_seen: dict[int | None, int]) -> str:
    """``pid 1234 · thread 2``: threads numbered within their process, the full id in tooltips."""
    pid = key[0]
    if pid is None:
        return "no worker"
    threads_seen[pid] = threads_seen.get(pid, 0) + 1
    return f"pid {pid} · thread {threads_seen[pid]}"


def span_s(run: Run) -> float:
    """The time the picture must show: the last task's end, the floor and the median wall time."""
    ends = [bar.end_s for lane in lanes(run) for bar in lane.bars]
    candidates = [*ends, run.floor_s or 0.0, run.median_wall_s or 0.0]
    return max(candidates) or 1.0


def ticks(span: float, count: int = 5) -> list[float]:
    """Round tick positions from 0 to at least ``span``."""
    raw = span / count
    magnitude = 10 ** _floor_log10(raw)
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [k * step for k in range(int(span / step + 0.999) + 1)]


def _floor_log10(x: float) -> int:
    k = 0
    while x >= 10:
        x /= 10
        k += 1
    while x < 1:
        x *= 10
        k -= 1
    return k
