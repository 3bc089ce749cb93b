"""How a diff of two result files is shown in the terminal."""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

from conlab.measure.diff import Diff, DiffRow
from conlab.report import columns
from conlab.report.columns import Cell, Column


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _verdict(row: DiffRow) -> Text:
    style = "bold red" if row.significant and (row.ratio or 1) > 1 else "bold green"
    return Text(row.verdict, style=style if row.significant else "dim")


# Each comparison's rows under its full name: a name that identifies a comparison is never cut.
_COLUMNS = (
    Column("strategy", justify="left"),
    Column("A median s", "A median\ns"),
    Column("B median s", "B median\ns"),
    Column("B/A"),
    Column("p (U)", drop=2),
    Column("p (Welch)", "p\n(Welch)", drop=1),
    Column("verdict", justify="left", wrap=True),
)


_KEY = re.compile(r"^(?P<strategy>[^:]+):(?P<workers>\d+) \((?P<options>.*)\)$")


def run_label(key: str) -> str:
    """``process-pool/fork:2`` for the key ``process-pool:2 (start_method=fork)``, as the
    comparison table names it; other options stay in brackets."""
    match = _KEY.match(key)
    if match is None:
        return key
    options = match["options"].split(",")
    method = next((o.split("=", 1)[1] for o in options if o.startswith("start_method=")), None)
    rest = [o for o in options if not o.startswith("start_method=")]
    label = match["strategy"] + (f"/{method}" if method else "") + f":{match['workers']}"
    return label + (f" ({','.join(rest)})" if rest else "")


def _cells(row: DiffRow) -> dict[str, Cell]:
    return {
        "strategy": run_label(row.run),
        "A median s": _s(row.median_a_s),
        "B median s": _s(row.median_b_s),
        "B/A": "—" if row.ratio is None else f"{row.ratio:.3f}×",
        "p (U)": _p(row.p_mann_whitney),
        "p (Welch)": _p(row.p_welch),
        "verdict": _verdict(row),
    }


def tables(d: Diff) -> list[columns.Fitted]:
    """One table per comparison, titled with its full name."""
    names = list(dict.fromkeys(row.comparison for row in d.rows))
    return [
        columns.Fitted(
            name, [columns.Variant(_COLUMNS, [_cells(r) for r in d.rows if r.comparison == name])]
        )
        for name in names
    ]


def render(console: Console, d: Diff, name_a: str, name_b: str) -> None:
    console.print(Text(f"A = {name_a}, B = {name_b}", style="bold"))
    for table in tables(d):
        console.print()
        console.print(table)
    console.print()
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
