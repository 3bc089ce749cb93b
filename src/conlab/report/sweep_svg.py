"""The sweep's picture as inline SVG: speed-up and efficiency against workers, side by side.

Speed-up: measured (solid, with its points), ideal (grey dashed) and Amdahl's
fit (red, drawn over the ideal line so that a fit close to ideal still shows);
efficiency: speed-up per worker against the 100 % line. The usable cores are
a green line in both. The legend is a row below both panels: it covers nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from conlab.report.svg import (
    FONT_PX,
    LEGEND_H,
    WIDTH,
    legend,
    line_swatch,
    svg_element,
)
from conlab.report.timeline import ticks

if TYPE_CHECKING:
    from conlab.lab.sweep import Sweep, SweepPoint

PANEL_W = WIDTH / 2
PANEL_H = 250
LEFT, BOTTOM, TOP, RIGHT = 52, 40, 10, 16
MEASURED, IDEAL, AMDAHL, CORES = "#4c78a8", "#999", "#d62728", "#2a2"


@dataclass
class Panel:
    """One plot area: x from 1 to max_n workers, y from 0 to top, offset by dx."""

    dx: float
    max_n: int
    top: float

    def x(self, n: float) -> float:
        return self.dx + LEFT + (PANEL_W - LEFT - RIGHT) * (n - 1) / (self.max_n - 1)

    def y(self, v: float) -> float:
        return PANEL_H - BOTTOM - (PANEL_H - BOTTOM - TOP) * v / self.top


def _frame(p: Panel, workers: list[int], name: str, fmt: Callable[[float], str]) -> list[str]:
    bottom = PANEL_H - BOTTOM
    out = [
        f'<line x1="{p.x(1):.1f}" y1="{bottom}" x2="{p.x(p.max_n):.1f}" y2="{bottom}" '
        'stroke="#888"/>',
        f'<line x1="{p.x(1):.1f}" y1="{TOP}" x2="{p.x(1):.1f}" y2="{bottom}" stroke="#888"/>',
        f'<text x="{(p.x(1) + p.x(p.max_n)) / 2:.0f}" y="{PANEL_H - 6}" text-anchor="middle" '
        'fill="#555">workers</text>',
        f'<text x="{p.dx + 13:.0f}" y="{bottom / 2:.0f}" fill="#555" text-anchor="middle" '
        f'transform="rotate(-90 {p.dx + 13:.0f} {bottom / 2:.0f})">{name}</text>',
    ]
    for n in workers:
        out.append(
            f'<text x="{p.x(n):.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">{n}</text>'
        )
    for v in ticks(p.top, 4):
        if v <= p.top:
            out.append(
                f'<text x="{p.x(1) - 5:.1f}" y="{p.y(v) + 4:.1f}" text-anchor="end" '
                f'fill="#555">{fmt(v)}</text>'
            )
    return out


def _line(
    cls: str, points: list[tuple[float, float]], colour: str, style: str, title: str = ""
) -> str:
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (
        f'<polyline class="{cls}" points="{path}" fill="none" stroke="{colour}" {style}>'
        f"<title>{escape(title or cls)}</title></polyline>"
    )


def _cores(p: Panel, cores: int | None) -> list[str]:
    if cores is None or cores >= p.max_n:
        return []
    x = p.x(cores)
    return [
        f'<line class="cores" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{PANEL_H - BOTTOM}" '
        f'stroke="{CORES}" stroke-width="1.5"><title>{cores} usable cores</title></line>'
    ]


def _measured(
    p: Panel, points: list[SweepPoint], value: Callable[[SweepPoint], float]
) -> list[str]:
    out = [
        _line(
            "measured",
            [(p.x(q.workers), p.y(value(q))) for q in points],
            MEASURED,
            'stroke-width="2"',
        )
    ]
    for q in points:
        out.append(
            f'<circle class="point" cx="{p.x(q.workers):.1f}" cy="{p.y(value(q)):.1f}" r="4" '
            f'fill="{MEASURED}"><title>{q.workers} workers: {q.speedup:.2f}×, '
            f"efficiency {q.efficiency:.0%}</title></circle>"
        )
    return out


def sweep_svg(sweep: Sweep, tasks: int | None = None) -> str:
    """Speed-up and efficiency against workers for one amount of work, with a legend below."""
    tasks = tasks if tasks is not None else (sweep.task_counts or [0])[-1]
    every = sweep.points(tasks)
    points = [q for q in every if q.speedup is not None]
    workers = sorted({1, *[q.workers for q in every]})
    max_n = max([2, *workers])
    fit = sweep.fit(tasks)
    speed = Panel(0, max_n, max([max_n, *[q.speedup or 0.0 for q in points]]) * 1.05)
    eff = Panel(PANEL_W, max_n, max([1.0, *[q.efficiency or 0.0 for q in points]]) * 1.1)
    body = _frame(speed, workers, "speed-up ×", lambda v: f"{v:g}")
    body += _frame(eff, workers, "efficiency", lambda v: f"{v:.0%}")
    body += _cores(speed, sweep.cores) + _cores(eff, sweep.cores)
    dashed = 'stroke-width="1.5" stroke-dasharray="6 4"'
    body.append(
        _line("ideal", [(speed.x(1), speed.y(1)), (speed.x(max_n), speed.y(max_n))], IDEAL, dashed)
    )
    body.append(_line("ideal", [(eff.x(1), eff.y(1)), (eff.x(max_n), eff.y(1))], IDEAL, dashed))
    keys = [
        (line_swatch(MEASURED), f"measured, {tasks} tasks"),
        (line_swatch(IDEAL, "6 4", 1.5), "ideal"),
    ]
    if fit is not None:
        steps = [1 + (max_n - 1) * k / 40 for k in range(41)]
        curve = [(speed.x(n), speed.y(fit.speedup(n))) for n in steps]
        # Over the ideal line, thicker and in colour: a fit close to ideal still shows.
        words = f"Amdahl fit, serial fraction {fit.serial_fraction:.3f}"
        style = 'stroke-width="2.5" stroke-dasharray="2 3"'
        body.append(_line("amdahl", curve, AMDAHL, style, words))
        keys.append((line_swatch(AMDAHL, "2 3", 2.5), words))
    if sweep.cores is not None and sweep.cores < max_n:
        keys.append((line_swatch(CORES, "", 1.5), f"{sweep.cores} usable cores"))
    if points:
        body += _measured(speed, points, lambda q: q.speedup or 0.0)
        body += _measured(eff, points, lambda q: q.efficiency or 0.0)
    keyed, rows = legend(keys, LEFT, PANEL_H + 4, WIDTH - RIGHT)
    height = PANEL_H + 4 + rows * LEGEND_H + FONT_PX // 2
    return svg_element(
        WIDTH,
        height,
        body + keyed,
        "sweep",
        f"speed-up and efficiency of {sweep.strategy} against workers",
    )


def over_one(sweep: Sweep, tasks: int | None = None) -> list[SweepPoint]:
    """The points whose efficiency is above 100 %: faster per worker than the reference."""
    return [q for q in sweep.points(tasks) if (q.efficiency or 0.0) > 1.0]
