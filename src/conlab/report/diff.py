"""How a diff of two result files is shown in the terminal."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from conlab.measure.diff import Diff, DiffRow


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _verdict(row: DiffRow) -> Text:
    style = "bold red" if row.significant and (row.ratio or 1) > 1 else "bold green"
    return Text(row.verdict, style=style if row.significant else "dim")


def table(d: Diff, name_a: str, name_b: str) -> Table:
    t = Table(
        title=escape(f"A = {name_a}, B = {name_b}"),
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col, justify in (
        ("comparison", "left"),
        ("strategy", "left"),
        ("A median s", "right"),
        ("B median s", "right"),
        ("B/A", "right"),
        ("p (U)", "right"),
        ("p (Welch)", "right"),
        ("verdict", "left"),
    ):
        narrow = col == "comparison"
        t.add_column(
            col,
            justify=justify,  # type: ignore[arg-type]
            max_width=28 if narrow else None,
            no_wrap=narrow,
            overflow="ellipsis" if narrow else "fold",
        )
    for row in d.rows:
        t.add_row(
            escape(row.comparison),
            escape(row.run),
            _s(row.median_a_s),
            _s(row.median_b_s),
            "—" if row.ratio is None else f"{row.ratio:.3f}×",
            _p(row.p_mann_whitney),
            _p(row.p_welch),
            _verdict(row),
        )
    return t


def render(console: Console, d: Diff, name_a: str, name_b: str) -> None:
    console.print(table(d, name_a, name_b))
    n = len(d.significant)
    console.print(
        Text(
            f"{n} significant difference{'s' if n != 1 else ''} "
            f"(p < {d.alpha:g} by Mann-Whitney U or Welch, and at least {d.min_effect:.0%} apart).",
            style="bold" if n else "dim",
        )
    )
    if d.environment:
        console.print(Text("\nEnvironment differences that could explain them:", style="bold"))
        for key, a, b in d.environment:
            console.print(Text(f"  {key}: {a!r} → {b!r}"))
    else:
        console.print(Text("Same environment in both files.", style="dim"))
