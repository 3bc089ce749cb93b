"""Tables that fit the terminal: columns dropped by a declared priority, never a figure cut.

A table is declared once, as columns with a one-line and a narrow (two-line) header and a
priority; :func:`fit` tries the layouts from the richest to the leanest and returns the
first whose natural width fits. Every column of figures is ``no_wrap``: a figure is shown
whole or its column is not shown; only columns of words (a verdict) wrap, between words.
When even the leanest layout is too wide, :func:`fit` returns ``None`` and the rows are
shown one under the other instead. :class:`Fitted` does all of it when it is printed, at
the width it is printed at.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markup import escape
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
    wrap: bool = False  # words (a verdict, a reason), wrapped between words: never a figure


# Below this width no table is tried: the rows are shown one under the other.
MIN_WIDTH = 40
# Between two columns: a space of padding each side of a one-space divider (box.SIMPLE_HEAD).
GAP = 3


def _plain(value: Cell) -> str:
    return value.plain if isinstance(value, Text) else value


def _column_width(column: Column, header: str, cells: Sequence[str], wrapped: bool) -> int:
    lines = header.splitlines() + [line for cell in cells for line in cell.splitlines()]
    if column.wrap and wrapped:
        return max((cell_len(word) for line in lines for word in line.split()), default=1)
    return max((cell_len(line) for line in lines), default=1)


def layout_width(
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Cell]],
    narrow_headers: bool,
    wrapped: bool = True,
) -> int:
    """The least width at which the layout shows every figure whole (words wrapped if
    ``wrapped``)."""
    widths = [
        _column_width(
            column,
            column.narrow if narrow_headers and column.narrow else column.name,
            [_plain(row.get(column.name, "—")) for row in rows],
            wrapped,
        )
        for column in columns
    ]
    return sum(widths) + GAP * (len(widths) - 1)


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
        table.add_column(
            header,
            justify=column.justify,  # type: ignore[arg-type]
            no_wrap=not column.wrap,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*[_cell(row.get(column.name, "—")) for column in columns])
    return table


def _filled(row: Mapping[str, Cell], column: Column) -> bool:
    return _plain(row.get(column.name, "—")) != "—"


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
    """The richest layout of the table no wider than ``width``, or ``None`` when none is;
    words wrap only when no layout fits with them on one line. A droppable column with
    nothing in it (every cell "—") is not shown at all."""
    columns = [c for c in columns if not c.drop or any(_filled(row, c) for row in rows)]
    for wrapped in (False, True):
        for shown, narrow in layouts(columns, upto):
            if layout_width(shown, rows, narrow, wrapped) <= width:
                return build(title, shown, rows, narrow)
    return None


@dataclass(frozen=True)
class Variant:
    """One way of drawing the rows: its columns, its cells, how far its columns may be dropped."""

    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Cell]]
    upto: int | None = None


@dataclass(frozen=True)
class Fitted:
    """A table laid out when it is printed, for the width it is printed at: the first variant
    with a layout that fits, else the rows one under the other."""

    title: str | None
    variants: Sequence[Variant]
    min_width: int = MIN_WIDTH

    def table(self, width: int) -> Table | None:
        if width < self.min_width:
            return None
        for v in self.variants:
            if (table := fit(width, self.title, v.columns, v.rows, v.upto)) is not None:
                return table
        return None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self.table(options.max_width)
        if table is not None:
            yield table
            return
        yield from vertical(self.title, self.variants[-1])


def vertical(title: str | None, variant: Variant) -> Iterator[RenderableType]:
    """Rows one under the other: each row's first cell, then one ``name value`` line per other
    cell, wrapped (if at all) between words: a figure holds no space, so it is never split."""
    if title:
        yield Text(title, style="bold")
    head, *rest = variant.columns
    for row in variant.rows:
        yield _cell(row.get(head.name, "—"))
        for column in rest:
            value = _plain(row.get(column.name, "—"))
            if value != "—":
                yield Text(f"  {column.name} {value}")
