"""The lesson's table on a terminal, each cell with the figure measured behind it."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from conlab.lesson.table import RULE_NOTE, Lesson, Row, row_of

TITLE = "The lesson's table, Threading vs Multiprocessing, every cell measured now"


def lesson_table(lesson: Lesson) -> Table:
    return rows_table(lesson.rows, lesson.extra)


def rows_table(rows: list[Row], extra: list[Row]) -> Table:
    """The table: a row per question, a column each for threads and processes."""
    table = Table(
        title=TITLE, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, show_lines=True
    )
    table.add_column("", style="bold", ratio=2)
    table.add_column("Threading", ratio=4)
    table.add_column("Multiprocessing", ratio=4)
    for row in rows:
        table.add_row(escape(row.question), escape(row.threads), escape(row.processes))
    if extra:
        table.add_section()
    for row in extra:
        table.add_row(
            Text(row.question, style="bold cyan"), escape(row.threads), escape(row.processes)
        )
    return table


def stored(notes: list[str]) -> tuple[list[Row], str | None, list[str]]:
    """A comparison's notes split into the lesson's table rows, its rule of thumb and the rest."""
    rows, rule, rest = [], None, []
    for note in notes:
        row = row_of(note)
        if row is not None:
            rows.append(row)
        elif note.startswith(RULE_NOTE) and rows:
            rule = note.removeprefix(RULE_NOTE)
        else:
            rest.append(note)
    return rows, rule, rest


def render_notes(console: Console, notes: list[str]) -> None:
    """A comparison's notes; those that hold the lesson's table (a result file's) as the table."""
    rows, rule, rest = stored(notes)
    for note in rest:
        console.print(Text(f"  {note}", style="dim"))
    if rows:
        console.print()
        console.print(rows_table(rows, []))
    if rule is not None:
        console.print(Text(RULE_NOTE, style="bold").append(rule))


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
    console.print(Text(RULE_NOTE, style="bold").append(lesson.rule))
