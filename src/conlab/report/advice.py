"""The advice on a terminal: the recommendation, why, the predictions and the verification."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from conlab.measure.units import duration
from conlab.report import columns
from conlab.report.columns import Cell, Column

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


_PREDICTION_COLUMNS = (
    Column("strategy", justify="left"),
    Column("workers"),
    Column("chunk", drop=1),
    Column("start-up s", "start-up\ns", drop=2),
    Column("run s", drop=3),
    Column("total s"),
    Column("vs sequential", "vs\nsequential"),
)
_PREDICTION_TITLE = "Predicted wall time (best worker count of each strategy; start-up + run)"


def _chosen(p: dict[str, Any], advice: dict[str, Any]) -> bool:
    return (
        p["strategy"] == advice["strategy"]
        and p["workers"] == advice["workers"]
        and (p.get("options") or {}) == (advice.get("options") or {})
    )


def prediction_table(advice: dict[str, Any]) -> columns.Fitted:
    """The predictions of the strategies that can run; those that cannot are listed apart."""
    sequential = next(
        (p["total_s"] for p in advice["predictions"] if p["strategy"] == "sequential"), None
    )
    rows: list[dict[str, Cell]] = []
    for p in _best_per_strategy(advice["predictions"]):
        if p.get("unavailable"):
            continue
        chosen = _chosen(p, advice)
        rows.append(
            {
                "strategy": Text(
                    _label(p) + (" ◀" if chosen else ""), style="bold green" if chosen else ""
                ),
                "workers": str(p["workers"]),
                "chunk": str(p["chunksize"]) if p.get("chunksize") else "—",
                "start-up s": _s(p["startup_s"]),
                "run s": _s(p["wall_s"]),
                "total s": _s(p["total_s"]),
                "vs sequential": f"{sequential / p['total_s']:.2f}×"
                if sequential and p["total_s"]
                else "—",
            }
        )
    return columns.Fitted(_PREDICTION_TITLE, [columns.Variant(_PREDICTION_COLUMNS, rows)])


def unpredicted_lines(advice: dict[str, Any]) -> list[Text]:
    """The strategies with no prediction, and why."""
    return [
        Text(f"  - {_label(p)}: {p['unavailable']}", style="dim")
        for p in _best_per_strategy(advice["predictions"])
        if p.get("unavailable")
    ]


_VERIFICATION_COLUMNS = (
    Column("strategy", justify="left"),
    Column("workers"),
    Column("predicted s", "predicted\ns"),
    Column("measured s", "measured\ns"),
    Column("error"),
)
_VERIFICATION_TITLE = (
    "Verification: the whole workload, predicted against measured (start-up + run)"
)


def verification_table(advice: dict[str, Any]) -> columns.Fitted:
    rows: list[dict[str, Cell]] = []
    for v in advice["verification"]:
        measured = v.get("measured_s")
        rows.append(
            {
                "strategy": _label(v),
                "workers": str(v["workers"]),
                "predicted s": _s(v["predicted_s"]),
                "measured s": _s(measured)
                if measured is not None
                else str(v.get("status", "failed")),
                "error": "—" if measured is None else f"{measured / v['predicted_s'] - 1:+.0%}",
            }
        )
    return columns.Fitted(_VERIFICATION_TITLE, [columns.Variant(_VERIFICATION_COLUMNS, rows)])


def render(console: Console, advice: dict[str, Any], model: bool = False) -> None:
    console.print(recommendation_line(advice))
    console.print(Text("Why: ", style="bold").append(advice["why"]), soft_wrap=False)
    console.print()
    console.print(prediction_table(advice))
    for line in unpredicted_lines(advice):
        console.print(line)
    console.print()
    if advice.get("verification"):
        console.print(verification_table(advice))
    else:
        console.print(Text("Not verified (--no-verify).", style="dim"))
    console.print()
    if model:
        console.print(Text("\nThe model: ", style="bold").append(advice["model"]))
    else:
        console.print(
            Text("How the prediction is made: conlab advise --explain-model", style="dim")
        )
