"""Plain-text renderings of results, for ``repr()`` in a terminal or a notebook's text view."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.console import Console

from conlab.model import Comparison
from conlab.report import columns, terminal
from conlab.report.columns import Cell, Column
from conlab.report.visible import SafeConsole

if TYPE_CHECKING:
    from conlab.lab.sweep import Sweep

WIDTH = 100


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    # force_jupyter=False: inside a kernel rich would otherwise display instead of writing.
    console = SafeConsole(
        file=buffer, width=WIDTH, color_system=None, highlight=False, force_jupyter=False
    )
    return console, buffer


def comparison_text(c: Comparison) -> str:
    """The terminal report of one comparison: its table, failures and each task's output."""
    console, buffer = _console()
    terminal.render(console, c)
    return buffer.getvalue().rstrip("\n")


_SWEEP_COLUMNS = (
    Column("tasks"),
    Column("workers"),
    Column("wall s"),
    Column("speed-up"),
    Column("efficiency", "effi-\nciency"),
    Column("status", justify="left", wrap=True),
)


def sweep_table(sweep: Sweep) -> columns.Fitted:
    """One row per amount of work and worker count, laid out for the width it is printed at."""
    rows: list[dict[str, Cell]] = [
        {
            "tasks": str(p.tasks),
            "workers": str(p.workers),
            "wall s": "—" if p.run.median_wall_s is None else f"{p.run.median_wall_s:.3f}",
            "speed-up": "—" if p.speedup is None else f"{p.speedup:.2f}×",
            "efficiency": "—" if p.efficiency is None else f"{p.efficiency:.0%}",
            "status": p.run.status if p.run.reason is None else f"{p.run.status}: {p.run.reason}",
        }
        for p in sweep.points()
    ]
    title = f"{sweep.workload}: {sweep.strategy} sweep"
    return columns.Fitted(title, [columns.Variant(_SWEEP_COLUMNS, rows)])


def fit_sentence(sweep: Sweep, tasks: int | None = None) -> str:
    """Amdahl's fit in words, or why there is none."""
    fit = sweep.fit(tasks)
    if fit is None:
        return "No Amdahl fit: it needs a valid point with more than one worker."
    if fit.max_speedup is None or fit.low <= 0:
        # 1/f of a fraction that cannot be told from 0 is no figure (a seed sweep fitted
        # f = 0.0004 and printed a ceiling of 2625.9x).
        ceiling = "none in sight (the serial fraction's interval reaches 0)"
    else:
        ceiling = f"{fit.max_speedup:.1f}×"
    used = sweep.fitted_workers(tasks)
    every = [p.workers for p in sweep.points(tasks if tasks is not None else sweep.task_counts[-1])]
    over = (
        f" over 1–{max(used)} workers (more than the {sweep.cores} usable cores only queue)"
        if len(used) < len(every)
        else ""
    )
    return (
        f"Amdahl fit{over}: serial fraction {fit.serial_fraction:.3f} "
        f"(95% interval {fit.low:.3f}–{fit.high:.3f}, {fit.points} points, "
        f"rms error {fit.rms_error:.2f}×); ceiling with unlimited workers: {ceiling}."
    )


def sweep_text(sweep: Sweep) -> str:
    console, buffer = _console()
    console.print(sweep_table(sweep))
    for tasks in sweep.task_counts:
        prefix = f"{tasks} tasks: " if len(sweep.task_counts) > 1 else ""
        console.print(prefix + fit_sentence(sweep, tasks))
    return buffer.getvalue().rstrip("\n")
