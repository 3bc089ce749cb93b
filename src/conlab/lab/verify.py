"""Whether a run did the work: every task ok, and every result the reference's.

The sequential run is the reference: a run is valid only when every task is ``ok`` and
every result equals the reference's (and the workload's known answer, where it has one).
A plain run (the lesson's own code, which returns nothing) is checked by its output.
"""

from __future__ import annotations

from dataclasses import dataclass

from conlab.model import TaskRecord, Workload
from conlab.strategies.base import Execution


@dataclass
class Reference:
    """The sequential run's records, or why there are none."""

    records: list[TaskRecord] | None
    why_missing: str | None = None


def invalid(
    execution: Execution, workload: Workload, reference: Reference, plain: bool
) -> str | None:
    """Why this execution cannot be vouched for, or None when it can."""
    records, n = execution.records, len(workload.tasks)
    if len(records) != n or [r.index for r in records] != list(range(n)):
        return f"the strategy returned {len(records)} records for {n} tasks"
    failed = [r for r in records if not r.ok]
    if failed:
        first = failed[0]
        return (
            f"{len(failed)} of {n} tasks did not complete; "
            f"{first.name!r} {first.status}: {first.error}"
        )
    if plain:
        if reference.records is None:
            return reference.why_missing
        for rec, ref in zip(records, reference.records, strict=False):
            if rec.output != ref.output:
                return f"task {rec.name!r} printed other output than the sequential run"
        return None
    if workload.expected is not None:
        for rec, want in zip(records, workload.expected, strict=False):
            if not workload.check(rec.result, want):
                return f"task {rec.name!r} returned {short(rec.result)}, expected {short(want)}"
    if reference.records is not None:
        for rec, ref in zip(records, reference.records, strict=False):
            if not workload.check(rec.result, ref.result):
                return (
                    f"task {rec.name!r} returned {short(rec.result)}, "
                    f"the sequential run {short(ref.result)}"
                )
    elif workload.expected is None:
        return reference.why_missing
    return None


def short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
