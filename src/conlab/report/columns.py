"""Tables that fit the terminal: columns dropped by a declared priority, never a figure cut.

A table is declared once, as columns with a one-line and a narrow (two-line) header and a
priority; :func:`fit` tries the layouts from the richest to the leanest and returns the
first whose natural width fits. Every column is ``no_wrap``: a figure is shown whole or its
column is not shown. When even the leanest layout is too wide, :func:`fit` returns ``None``
and the caller shows its rows one under the other instead.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

Cell = str | Text


@dataclass(frozen=True)
class Column:
    """One column: its name (the key of a row's cells), its headers, and when it goes."""

    name: str
    narrow: str | None = None  # a two-line header, for when the one-line one is the widest cell
    justify: str = "right"
    drop: int = 0  # 0: always shown; otherwise dropped in increasing order, 1 first


def _measuring_console() -> Console:
    return Console(file=io.StringIO(), width=10_000, color_system=None, force_jupyter=False)


def natural_width(table: Table) -> int:
    """The width the table takes with nothing wrapped."""
    console = _measuring_console()
    return Measurement.get(console, console.options, table).maximum


def build(
    title: str | None,
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Cell]],
    narrow_headers: bool = False,
) -> Table:
    table = Table(
        title=escape(title) if title else None,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    for column in columns:
        header = column.narrow if narrow_headers and column.narrow else column.name
        table.add_column(header, justify=column.justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*[_cell(row.get(column.name, "—")) for column in columns])
    return table


def _cell(value: Cell) -> RenderableType:
    return value if isinstance(value, Text) else Text(value)


def layouts(columns: Sequence[Column], upto: int | None = None) -> list[tuple[list[Column], bool]]:
    """Every layout, richest first: all columns, then narrow headers, then each priority
    dropped in turn (up to priority ``upto``, when given)."""
    out: list[tuple[list[Column], bool]] = [(list(columns), False)]
    shown = list(columns)
    out.append((list(shown), True))
    for level in sorted({c.drop for c in columns if c.drop}):
        if upto is not None and level > upto:
            break
        shown = [c for c in shown if c.drop != level]
        out.append((list(shown), True))
    return out


def fit(
    width: int,
    title: str | None,
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Cell]],
    upto: int | None = None,
) -> Table | None:
    """The richest layout of the table no wider than ``width``, or ``None`` when none is."""
    for shown, narrow in layouts(columns, upto):
        table = build(title, shown, rows, narrow)
        if natural_width(table) <= width:
            return table
    return None


def vertical(
    console: Console, title: str | None, heads: Sequence[Cell], lines: Sequence[Sequence[str]]
) -> None:
    """Rows one under the other: each row's head, then one ``name value`` line per figure,
    wrapped (if at all) between words: a figure holds no space, so it is never split."""
    if title:
        console.print(Text(title, style="bold"))
    for head, figures in zip(heads, lines, strict=True):
        console.print(_cell(head))
        for figure in figures:
            console.print(Text(f"  {figure}"))
