"""The terminal tables fit the width they are printed at, from 40 columns up, and below it
show each run one figure a line: no line wider than the console, no figure cut."""

from __future__ import annotations

import copy
import dataclasses
import io
import re

import pytest
from rich.cells import cell_len

from conlab.measure.diff import diff
from conlab.model import RUN_FAILED, Comparison, Results, TaskRecord
from conlab.report import diff as diff_report
from conlab.report import terminal
from conlab.report.takeaway import run_label, takeaway
from conlab.report.visible import SafeConsole

# A figure as the tables print it: 0.802, +1.7 ms, 2.00×†, (1.99–2.00), 100%, 1,234.
FIGURE = re.compile(r"\(?[+-]?\d[\d,]*(\.\d+)?(–\d+(\.\d+)?)?(×†?|%)?\)?")
WIDTHS = (40, 60, 80, 100, 120, 160)


def rendered(width: int, draw) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    console = SafeConsole(file=buffer, width=width, color_system=None, highlight=False)
    draw(console)
    return buffer.getvalue()


def table_lines(text: str) -> list[str]:
    """The rows of each table: from its header rule to the first line with no gap between
    columns (three spaces): a blank line, a note, a sentence."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("──") and not line.startswith("── "):
            inside = True
        elif inside and "   " not in line.strip():
            inside = False
        elif inside:
            out.append(line)
    return out


def assert_figures_whole(lines: list[str]) -> None:
    for line in lines:
        assert "…" not in line, line
        for token in line.split():
            if any(ch.isdigit() for ch in token) and ":" not in token and "/" not in token:
                assert FIGURE.fullmatch(token), f"{token!r} in {line!r}"


def with_a_long_failed_run(c: Comparison) -> Comparison:
    """``c`` and a crashed plain-spawn run with the longest label a demo shows."""
    template = c.runs[-1]
    crashed = dataclasses.replace(
        template,
        options={"start_method": "forkserver", "plain": True},
        status=RUN_FAILED,
        reason="warm-up: 2 of 2 tasks did not complete",
        speedup=None,
        speedup_ci=None,
        naive_wall_s=0.1234,
        records=[TaskRecord(0, "calc_square", "crashed"), TaskRecord(1, "calc_cube", "error")],
    )
    return dataclasses.replace(c, runs=[*c.runs, crashed])


@pytest.mark.parametrize("width", WIDTHS)
def test_comparison_fits_every_width_with_every_figure_whole(results: Results, width: int) -> None:
    c = with_a_long_failed_run(results.comparisons[0])
    text = rendered(width, lambda console: terminal.render(console, c))
    for line in text.splitlines():
        assert cell_len(line) <= width, line
    rows = table_lines(text)
    if width < 80 and not rows:  # the rows one under the other: figures whole, on their lines
        assert all(run_label(run) in text.splitlines() for run in c.runs)
        return
    assert_figures_whole(rows)
    assert len(rows) == len(c.runs)
    for run in c.runs:
        label = terminal.strategy_label(run)
        row = next(r for r in rows if r.startswith((f"{label}:", f"{label} ")))
        if run.median_wall_s is not None and run.status == "ok":
            assert f"{run.median_wall_s:.3f}" in row.split()
        if run.speedup is not None:
            assert f"{run.speedup:.2f}×" in row
    assert "crashed, error" in text
    assert " ".join(takeaway(c).split()) in " ".join(text.split())


def test_below_the_least_table_width_each_run_is_shown_one_figure_a_line(
    results: Results,
) -> None:
    c = results.comparisons[0]
    text = rendered(30, lambda console: terminal.render(console, c))
    assert not table_lines(text)
    for run in c.runs:
        assert run_label(run) in text.splitlines()
        assert f"  wall s {run.median_wall_s:.3f}" in text.splitlines()
    for line in text.splitlines():
        assert cell_len(line) <= 30, line


def test_wider_terminals_show_more_columns(results: Results) -> None:
    c = results.comparisons[0]
    narrow = rendered(80, lambda console: console.print(terminal.comparison_table(c)))
    wide = rendered(160, lambda console: console.print(terminal.comparison_table(c)))
    assert "IQR s" in wide and "IQR s" not in narrow
    assert "workers" in wide


def test_diff_names_each_comparison_in_full_at_80_columns(results: Results) -> None:
    long_title = "1. Waiting work: calc_square and calc_cube, sleeping 0.2 s per number"
    a = Results(
        results.environment,
        [dataclasses.replace(results.comparisons[0], title=long_title)],
    )
    d = diff(a, a)
    text = rendered(80, lambda console: diff_report.render(console, d, "a.json", "b.json"))
    assert long_title in " ".join(text.split())
    for line in text.splitlines():
        assert cell_len(line) <= 80, line
    assert_figures_whole(table_lines(text))


def test_folded_output_shows_the_first_and_last_lines_and_counts_the_rest() -> None:
    text = "".join(f"line {i}\n" for i in range(8000))
    parts = [t.plain for t in terminal.folded(text)]
    assert parts[0].splitlines() == [f"line {i}" for i in range(5)]
    assert parts[1] == "… 7,990 lines hidden (--output all shows them) …"
    assert parts[2].splitlines() == [f"line {i}" for i in range(7995, 8000)]
    short = "".join(f"line {i}\n" for i in range(11))
    assert [t.plain for t in terminal.folded(short)] == [short.rstrip("\n")]


def test_a_column_with_nothing_in_it_gives_its_room_to_figures(results: Results) -> None:
    c = copy.deepcopy(results.comparisons[0])
    for run in c.runs:
        run.floor_s = None
    shown = rendered(80, lambda console: console.print(terminal.comparison_table(c)))
    assert "floor" not in shown
    assert "min–max" in shown
