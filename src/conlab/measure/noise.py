"""Warnings about figures that should not be trusted as they stand, each saying what to do.

Computed from what a Run keeps (its samples, what the rest of the machine did
while it ran), so that a saved result file gets the same warnings when it is
shown again. The busy warning comes from other processes' CPU time only, never
from conlab's own (the load average counts conlab's run too); only samples
slower than the rest are taken for interruptions. A terminal shows one line
for all of a table's warnings (``one_line``); the result file keeps each.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from conlab.measure import contention, stats
from conlab.measure.units import duration
from conlab.model import RUN_OK, Comparison, Run

MAX_OVER_MIN = 1.10
MAX_CV = 0.05
FIRST_RUN_FACTOR = 1.5
SHORT_S = 0.001
# Another program is using this many cores on average while we measure.
BUSY_OTHER_CORES = contention.OTHERS_BUSY_CORES
MIN_BUSY_WALL_S = 0.1
# Which warning a one-line summary names first: what changes the conclusions first.
PRIORITY = ("contended", "busy", "noisy", "outliers", "first-run", "short")


@dataclass(frozen=True)
class NoiseWarning:
    """One warning about one run: its kind (noisy, busy, first-run, short, outliers) and text."""

    kind: str
    run: str
    message: str


def run_warnings(run: Run, cores: int | None = None) -> list[NoiseWarning]:
    """Everything that makes this run's figures doubtful, with what to do about it."""
    if run.status != RUN_OK or not run.wall_s:
        return []
    # Each warning is keyed by the run's label and names it as the tables do (its start method).
    key, label, xs = run.label, run.shown_label, run.wall_s
    out: list[NoiseWarning] = []
    s = stats.summarise(xs)
    if s.median < SHORT_S:
        out.append(
            NoiseWarning(
                "short",
                key,
                f"{label}: median {duration(s.median, 'µs', 0)} is under 1 ms, where timer and "
                "scheduler noise dominate; give it more work (more or larger tasks).",
            )
        )
    spread = s.max / s.min if s.min > 0 else float("inf")
    if len(xs) >= 2 and (spread > MAX_OVER_MIN or s.cv > MAX_CV):
        out.append(
            NoiseWarning(
                "noisy",
                key,
                f"{label}: the samples spread widely (max/min {spread:.2f}, "
                f"CV {s.cv:.1%}); close other programs and raise --repeats.",
            )
        )
    if len(xs) >= 3:
        rest = statistics.median(xs[1:])
        if xs[0] > FIRST_RUN_FACTOR * rest and xs[0] > max(xs[1:]):
            out.append(
                NoiseWarning(
                    "first-run",
                    key,
                    f"{label}: the first timed run was much slower than the rest "
                    f"({duration(xs[0], 's')} against {duration(rest, 's')}), maybe caches or imports; "
                    "raise --warmup.",
                )
            )
    # A sample faster than the rest was not interrupted: only the slow ones are flagged.
    middle = statistics.median(xs)
    flagged = [k for k in stats.outliers(xs) if xs[k] > middle]
    if flagged:
        which = ", ".join(duration(xs[k], "s") for k in flagged)
        out.append(
            NoiseWarning(
                "outliers",
                key,
                f"{label}: {len(flagged)} outlier sample(s) ({which}), probably interruptions "
                "by other programs; close them and raise --repeats.",
            )
        )
    return out


def busy_reason(run: Run, cores: int | None) -> str | None:
    """Why the machine looked busy while ``run`` was measured, or None."""
    if run.status != RUN_OK or not run.wall_s:
        return None
    # /proc/stat counts in clock ticks (10 ms): too coarse to judge very short runs.
    if run.other_cores and sum(run.wall_s) >= MIN_BUSY_WALL_S:
        other = statistics.median(run.other_cores)
        if other > BUSY_OTHER_CORES:
            return f"other processes used {other:.2f} cores"
    return None


def contended_warning(c: Comparison) -> NoiseWarning | None:
    """One warning naming the runs that stayed contended, with the machine's figures."""
    runs = [run for run in c.runs if run.status == RUN_OK and run.contended]
    if not runs:
        return None
    extra = c.remeasure.get("rounds", 0) if c.remeasure else 0
    again = f" after {extra} extra round(s)" if extra else ""
    detail = "; ".join(f"{run.shown_label}: {contention.summary(run.machine)}" for run in runs)
    return NoiseWarning(
        "contended",
        ", ".join(run.label for run in runs),
        f"contended{again}, speed-ups marked †: {detail}; measure again on a quieter machine.",
    )


def comparison_warnings(c: Comparison, cores: int | None = None) -> list[NoiseWarning]:
    """Each run's warnings, and one warning for every run measured while the machine was busy."""
    out = [w for run in c.runs for w in run_warnings(run, cores)]
    stayed = contended_warning(c)
    if stayed is not None:
        out.append(stayed)
    busy = [run for run in c.runs if busy_reason(run, cores)]
    if busy:
        out.append(
            NoiseWarning(
                "busy",
                ", ".join(run.label for run in busy),
                f"the machine was busy while measuring ({_others_used(busy, len(c.runs))}); "
                "close other programs and measure again.",
            )
        )
    return out


def _others_used(busy: list[Run], runs: int) -> str:
    """``other processes used 0.42-1.57 cores during 6 of 7 runs``: the figures in one clause."""
    used = [statistics.median(run.other_cores) for run in busy]
    low, high = min(used), max(used)
    figure = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}"
    if len(busy) == 1:
        return f"other processes used {figure} cores during {busy[0].shown_label}"
    return f"other processes used {figure} cores during {len(busy)} of {runs} runs"


def one_line(warnings: list[NoiseWarning]) -> str | None:
    """All of a table's warnings as one line: the one that matters most, and how many more."""
    if not warnings:
        return None
    first = min(warnings, key=lambda w: PRIORITY.index(w.kind) if w.kind in PRIORITY else 99)
    more = len(warnings) - 1
    if more:
        return f"{first.message} (+{more} more warning(s): --verbose, or the result file)"
    return first.message
