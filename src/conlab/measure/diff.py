"""Comparing two result files: the ratio of each strategy's times, and whether it means anything.

A difference is significant only when a test says the two sets of samples
differ (Mann-Whitney U or Welch's t, p below ``alpha``) and the ratio of the
medians is at least ``min_effect`` away from 1: with enough samples any
difference is "significant", and a 1 % change is rarely worth a reader's time.
A run that stayed contended (measure/contention.py) is never called significant.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from conlab.measure import stats
from conlab.model import RUN_INCOMPLETE, RUN_OK, Comparison, Results, Run

MIN_EFFECT = 0.05
ALPHA = 0.05
# Environment fields that differ between any two runs and explain nothing.
_IGNORED = ("executable",)


@dataclass(frozen=True)
class DiffRow:
    """One workload × strategy present in A, in B, or in both."""

    comparison: str
    run: str
    median_a_s: float | None
    median_b_s: float | None
    ratio: float | None = None
    p_mann_whitney: float | None = None
    p_welch: float | None = None
    significant: bool = False
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.note:
            return self.note
        if self.ratio is None or not self.significant:
            return "no significant difference"
        return "slower in B" if self.ratio > 1 else "faster in B"


@dataclass
class Diff:
    rows: list[DiffRow] = field(default_factory=list)
    environment: list[tuple[str, Any, Any]] = field(default_factory=list)
    min_effect: float = MIN_EFFECT
    alpha: float = ALPHA

    @property
    def significant(self) -> list[DiffRow]:
        return [r for r in self.rows if r.significant]


def run_key(run: Run) -> str:
    """How a run is matched across files: strategy, workers and the options that change it."""
    opts = ",".join(f"{k}={v}" for k, v in sorted(run.options.items()))
    return f"{run.strategy}:{run.workers}" + (f" ({opts})" if opts else "")


def comparison_key(c: Comparison) -> str:
    return c.title or c.workload


def is_incomplete(run: Run, repeats: int | None = None) -> bool:
    """Cut short: marked so, or (a file from before that mark) fewer timed runs than asked."""
    if run.status == RUN_INCOMPLETE:
        return True
    return run.status == RUN_OK and repeats is not None and len(run.wall_s) < repeats


def _measured(run: Run | None) -> float | None:
    if run is None or run.status not in (RUN_OK, RUN_INCOMPLETE) or not run.wall_s:
        return None
    return statistics.median(run.wall_s)


def compare_runs(
    name: str,
    a: Run | None,
    b: Run | None,
    min_effect: float,
    alpha: float,
    repeats: tuple[int | None, int | None] = (None, None),
) -> DiffRow:
    """A's run against B's; ``repeats`` is the timed runs each comparison asked for."""
    key = run_key(a or b)  # type: ignore[arg-type]
    med_a, med_b = _measured(a), _measured(b)
    if a is None or b is None:
        return DiffRow(name, key, med_a, med_b, note="only in A" if b is None else "only in B")
    if med_a is None or med_b is None:
        missing = [(x, r) for x, m, r in (("A", med_a, a), ("B", med_b, b)) if m is None]
        which = " and ".join(x for x, _ in missing)
        if any(r.status == RUN_INCOMPLETE for _, r in missing):
            return DiffRow(name, key, med_a, med_b, note=f"incomplete in {which}: not measured")
        return DiffRow(name, key, med_a, med_b, note=f"not measured in {which}")
    ratio = med_b / med_a if med_a > 0 else None
    cut = [x for x, r, n in (("A", a, repeats[0]), ("B", b, repeats[1])) if is_incomplete(r, n)]
    if cut:
        # A run cut short may have missed what the full run would have seen: no verdict.
        note = f"incomplete in {' and '.join(cut)} (interrupted): not called significant"
        return DiffRow(name, key, med_a, med_b, ratio, note=note)
    busy = [x for x, r in (("A", a), ("B", b)) if r.contended]
    if busy:
        # Measured without the cores it asked for: the machine, not the strategy, may differ.
        note = f"contended in {' and '.join(busy)}: not called significant"
        return DiffRow(name, key, med_a, med_b, ratio, note=note)
    p_u = stats.mann_whitney_u(a.wall_s, b.wall_s)[1]
    p_t = stats.welch_t(a.wall_s, b.wall_s)[2] if len(a.wall_s) > 1 and len(b.wall_s) > 1 else None
    tested = p_u < alpha or (p_t is not None and p_t < alpha)
    large = ratio is not None and abs(ratio - 1) >= min_effect
    return DiffRow(name, key, med_a, med_b, ratio, p_u, p_t, tested and large)


def environment_differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Fields of the two environments that differ, nested ones flattened (``libraries.numpy``)."""
    flat_a, flat_b = _flatten(a), _flatten(b)
    out = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if key in _IGNORED:
            continue
        if flat_a.get(key) != flat_b.get(key):
            out.append((key, flat_a.get(key), flat_b.get(key)))
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def diff(a: Results, b: Results, min_effect: float = MIN_EFFECT, alpha: float = ALPHA) -> Diff:
    """Every workload × strategy of A and B, matched by title (or workload) and strategy."""
    out = Diff(environment=environment_differences(a.environment, b.environment))
    out.min_effect, out.alpha = min_effect, alpha
    b_by_key = {comparison_key(c): c for c in b.comparisons}
    seen = set()
    for ca in a.comparisons:
        name = comparison_key(ca)
        seen.add(name)
        cb = b_by_key.get(name)
        runs_b = {run_key(r): r for r in cb.runs} if cb else {}
        repeats = (ca.repeats, cb.repeats if cb else None)
        for ra in ca.runs:
            rb = runs_b.pop(run_key(ra), None)
            out.rows.append(compare_runs(name, ra, rb, min_effect, alpha, repeats))
        out.rows += [compare_runs(name, None, rb, min_effect, alpha) for rb in runs_b.values()]
    for cb in b.comparisons:
        if comparison_key(cb) not in seen:
            out.rows += [
                compare_runs(comparison_key(cb), None, rb, min_effect, alpha) for rb in cb.runs
            ]
    return out
