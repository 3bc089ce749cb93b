"""The words every renderer uses for the same facts: a run's status, where its worker count
came from, and the work's kind as measured.

The terminal, HTML, notebook, Markdown, CSV and trace all read them from here, so that a
crashed run is ``crashed`` in each of them, never ``crashed`` in one and ``failed`` in another.
"""

from __future__ import annotations

from conlab.measure import workkind
from conlab.measure.units import percent
from conlab.model import (
    RUN_FAILED,
    SOURCE_CORES,
    SOURCE_GIVEN,
    SOURCE_PER_TASK,
    SOURCE_WAITING,
    Comparison,
    MeasuredKind,
    Run,
)

# A failed run whose tasks all completed: a result differed from the reference's.
FAILED = "failed"

# Why a run has the workers it has, in a few words a table's cell or a note can hold.
WORKERS_SOURCE = {
    SOURCE_GIVEN: "given",
    SOURCE_CORES: "the usable cores",
    SOURCE_WAITING: "sized for waiting",
    SOURCE_PER_TASK: "one per task",
}


def run_status(run: Run) -> str:
    """The run's status as one word: ``ok``, ``incomplete``, ``unavailable``, or for a failed
    run what its tasks did (``crashed``, ``timeout``, ``error``, ``lost``, joined by ", ");
    ``failed`` only when every task completed but a result was wrong."""
    if run.status != RUN_FAILED:
        return run.status
    statuses = sorted({r.status for r in run.records if not r.ok})
    return ", ".join(statuses) or FAILED


def workers_source(run: Run) -> str:
    """Where the run's worker count came from (``given``, ``the usable cores``, ...); "" when
    the result file does not say (written before it was recorded)."""
    return WORKERS_SOURCE.get(run.workers_source or "", "")


def measured_kind(kind: MeasuredKind) -> str:
    """``waiting: CPU 1 % of wall``, ``computing: CPU 99 % of wall · threads 0.98×``."""
    text = f"{kind.kind}: CPU {percent(kind.cpu_share)} of wall"
    if kind.threads_speedup is not None:
        text += f" · threads {kind.threads_speedup:.2f}×"
    return text


def kind_label(c: Comparison) -> str:
    """The work's kind as a heading shows it: as the lab measured it, with the figures, when
    it did (from its runs, for a file written before it kept it). When no run measured it
    (the sequential run failed), it says so: the kind a workload declares is a guess, and a
    user's function declares none (its "mixed" is a placeholder), so a heading that showed it
    would read as a finding."""
    kind = c.measured_kind or workkind.measured_kind(c.reference, c.runs)
    return "kind not measured" if kind is None else measured_kind(kind)


def heading(c: Comparison) -> str:
    """A comparison's heading: its title, else ``name (kind, N tasks)``."""
    return c.title or f"{c.workload} ({kind_label(c)}, {c.tasks} tasks)"
