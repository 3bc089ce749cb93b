"""The lesson's table on a terminal, each cell with the figure measured behind it."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from conlab.lesson.table import Lesson

TITLE = "The lesson's table, Threading vs Multiprocessing, every cell measured now"


def lesson_table(lesson: Lesson) -> Table:
    table = Table(
        title=TITLE, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, show_lines=True
    )
    table.add_column("", style="bold", ratio=2)
    table.add_column("Threading", ratio=4)
    table.add_column("Multiprocessing", ratio=4)
    for row in lesson.rows:
        table.add_row(escape(row.question), escape(row.threads), escape(row.processes))
    table.add_section()
    for row in lesson.extra:
        table.add_row(
            Text(row.question, style="bold cyan"), escape(row.threads), escape(row.processes)
        )
    return table


def render(console: Console, lesson: Lesson, part: str = "") -> None:
    """The table, headed as part ``part`` of the demo ("4"), or unnumbered (conlab explain)."""
    table = lesson_table(lesson)
    if part:
        table.title = f"{part}. {TITLE}"
    console.print(table)
    f = lesson.figures
    console.print(
        Text(
            f"Measured with {f['workers']} workers on {f['cores']} usable core(s), "
            f"processes started with {f['start_method']}. The race: {f['race']['updates']} "
            "read-modify-writes from 4 threads, a switch forced between each read and write.",
            style="dim",
        )
    )
    console.print(Text("Rule of thumb, as measured here: ", style="bold").append(lesson.rule))
