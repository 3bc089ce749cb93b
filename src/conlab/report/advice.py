"""The advice on a terminal: the recommendation, why, the predictions and the verification."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from conlab.measure.units import duration

# How many predictions the table shows: the best worker count of each strategy and start method.
_ROWS = 12


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _label(d: dict[str, Any]) -> str:
    method = (d.get("options") or {}).get("start_method")
    return d["strategy"] + (f"/{method}" if method else "")


def recommendation_line(advice: dict[str, Any]) -> Text:
    chunk = advice.get("chunksize")
    workers = advice["workers"]
    text = Text("Recommendation: ", style="bold")
    text.append(
        f"{_label(advice)} with {workers} worker{'s' if workers != 1 else ''}", style="bold green"
    )
    if chunk:
        text.append(f", chunk size {chunk}")
    text.append(f" (predicted {duration(advice['predicted_s'], 's')}")
    if advice.get("measured_s") is not None:
        text.append(f", measured {duration(advice['measured_s'], 's')}")
    text.append(")")
    return text


def _best_per_strategy(predictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for p in predictions:
        key = _label(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out[:_ROWS]


def prediction_table(advice: dict[str, Any]) -> Table:
    table = Table(
        title="Predicted wall time (best worker count of each strategy; start-up + run)",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in ("strategy", "workers", "chunk", "start-up s", "run s", "total s", "vs sequential"):
        table.add_column(name, justify="left" if name == "strategy" else "right")
    sequential = next(
        (p["total_s"] for p in advice["predictions"] if p["strategy"] == "sequential"), None
    )
    for p in _best_per_strategy(advice["predictions"]):
        if p.get("unavailable"):
            table.add_row(escape(_label(p)), "—", "—", "—", "—", "—", escape(p["unavailable"]))
            continue
        ratio = f"{sequential / p['total_s']:.2f}×" if sequential and p["total_s"] else "—"
        chosen = (
            p["strategy"] == advice["strategy"]
            and p["workers"] == advice["workers"]
            and (p.get("options") or {}) == (advice.get("options") or {})
        )
        table.add_row(
            Text(_label(p) + (" ◀" if chosen else ""), style="bold green" if chosen else ""),
            str(p["workers"]),
            str(p["chunksize"]) if p.get("chunksize") else "—",
            _s(p["startup_s"]),
            _s(p["wall_s"]),
            _s(p["total_s"]),
            ratio,
        )
    return table


def verification_table(advice: dict[str, Any]) -> Table:
    table = Table(
        title="Verification: the whole workload, predicted against measured (start-up + run)",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in ("strategy", "workers", "predicted s", "measured s", "error"):
        table.add_column(name, justify="left" if name == "strategy" else "right")
    for v in advice["verification"]:
        measured = v.get("measured_s")
        error = "—" if measured is None else f"{measured / v['predicted_s'] - 1:+.0%}"
        table.add_row(
            escape(_label(v)),
            str(v["workers"]),
            _s(v["predicted_s"]),
            _s(measured) if measured is not None else escape(v.get("status", "failed")),
            error,
        )
    return table


def render(console: Console, advice: dict[str, Any], model: bool = False) -> None:
    console.print(recommendation_line(advice))
    console.print(Text("Why: ", style="bold").append(advice["why"]), soft_wrap=False)
    console.print()
    console.print(prediction_table(advice))
    if advice.get("verification"):
        console.print(verification_table(advice))
    else:
        console.print(Text("Not verified (--no-verify).", style="dim"))
    if model:
        console.print(Text("\nThe model: ", style="bold").append(advice["model"]))
    else:
        console.print(
            Text("How the prediction is made: conlab advise --explain-model", style="dim")
        )
