"""Inline SVG pictures for the HTML report and notebooks: no script, no network, no library.

Every string that came from the user's code (task names, strategy options)
goes through ``html.escape``; numbers are formatted here.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from conlab.measure.units import duration
from conlab.model import RUN_OK, Comparison, Run
from conlab.report.terminal import strategy_label
from conlab.report.timeline import lanes, span_s, ticks

if TYPE_CHECKING:
    from conlab.lab.sweep import Sweep

WIDTH = 760
LABEL_W = 170
LANE_H = 22
AXIS_H = 26
STATUS_COLOURS = {"ok": "#4c78a8", "error": "#e45756", "crashed": "#b22222"}
OTHER_COLOUR = "#f58518"
CHAR_W = 6.6


def _svg(width: float, height: float, body: list[str], cls: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" font-family="sans-serif" font-size="11">'
        + "".join(body)
        + "</svg>"
    )


def _fit_text(text: str, width_px: float) -> str:
    room = int(width_px / CHAR_W)
    if room >= len(text):
        return text
    return "" if room < 2 else text[: room - 1] + "…"


def _x_axis(x0: float, x1: float, y: float, span: float, unit: str) -> list[str]:
    out = [f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="#888"/>']
    for t in ticks(span):
        x = x0 + (x1 - x0) * t / span
        if x > x1 + 0.5:
            break
        out.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="#888"/>'
            f'<text x="{x:.1f}" y="{y + 15:.1f}" text-anchor="middle" fill="#555">'
            f"{t:g}{unit}</text>"
        )
    return out


def timeline_svg(run: Run, span: float | None = None) -> str:
    """One lane per worker, one bar per task from start to end, the floor dashed.

    ``span`` (seconds) puts several runs on one scale, so they compare by eye.
    """
    worker_lanes = lanes(run)
    span = (span or span_s(run)) * 1.02
    x0, x1 = LABEL_W, WIDTH - 16
    height = len(worker_lanes) * LANE_H + AXIS_H + 8
    scale = (x1 - x0) / span
    body: list[str] = []
    for k, lane in enumerate(worker_lanes):
        y = 4 + k * LANE_H
        title = f"pid {lane.pid}, thread id {lane.thread}" if lane.pid is not None else ""
        body.append(
            f'<g class="lane"><title>{escape(title)}</title>'
            f'<text x="{x0 - 6}" y="{y + 15}" text-anchor="end" fill="#333">'
            f"{escape(lane.label)}</text></g>"
        )
        for bar in lane.bars:
            bx, bw = x0 + bar.start_s * scale, max(1.0, (bar.end_s - bar.start_s) * scale)
            colour = STATUS_COLOURS.get(bar.status, OTHER_COLOUR)
            tip = (
                f"{bar.name}: {bar.status}, "
                f"{duration(bar.start_s, 's', 4)} to {duration(bar.end_s, 's', 4)}"
            )
            body.append(
                f'<g class="task" data-index="{bar.index}"><title>{escape(tip)}</title>'
                f'<rect class="bar" x="{bx:.1f}" y="{y + 2}" width="{bw:.1f}" '
                f'height="{LANE_H - 4}" rx="2" fill="{colour}"/>'
                f'<text x="{bx + 3:.1f}" y="{y + 15}" fill="#fff">'
                f"{escape(_fit_text(bar.name, bw - 6))}</text></g>"
            )
    axis_y = 4 + len(worker_lanes) * LANE_H + 2
    if run.floor_s is not None:
        fx = x0 + run.floor_s * scale
        body.append(
            f'<g class="floor"><line x1="{fx:.1f}" y1="2" x2="{fx:.1f}" y2="{axis_y:.1f}" '
            f'stroke="#2a2" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f"<title>floor: {duration(run.floor_s, 's')}, the ideal wall time</title></g>"
        )
    body += _x_axis(x0, x1, axis_y, span, " s")
    return _svg(WIDTH, height, body, "timeline", f"timeline of {strategy_label(run)}")


def speedup_svg(c: Comparison) -> str:
    """A bar per valid run: its speed-up over the sequential run, with 1× marked."""
    runs = [r for r in c.runs if r.status == RUN_OK and r.speedup is not None]
    top = max([1.0, *[r.speedup or 0.0 for r in runs]]) * 1.1
    x0, x1 = LABEL_W, WIDTH - 60
    height = len(runs) * LANE_H + AXIS_H + 8
    scale = (x1 - x0) / top
    body: list[str] = []
    for k, run in enumerate(runs):
        y, s = 4 + k * LANE_H, run.speedup or 0.0
        label = f"{strategy_label(run)}:{run.workers}"
        body.append(
            f'<g class="speedup"><text x="{x0 - 6}" y="{y + 15}" text-anchor="end" fill="#333">'
            f"{escape(label)}</text>"
            f'<rect x="{x0}" y="{y + 2}" width="{max(1.0, s * scale):.1f}" height="{LANE_H - 4}" '
            f'fill="#72b7b2"/><text x="{x0 + s * scale + 4:.1f}" y="{y + 15}" fill="#333">'
            f"{s:.2f}×</text></g>"
        )
    axis_y = 4 + len(runs) * LANE_H + 2
    one = x0 + scale
    body.append(
        f'<line x1="{one:.1f}" y1="2" x2="{one:.1f}" y2="{axis_y:.1f}" stroke="#999" '
        f'stroke-dasharray="3 3"/>'
    )
    body += _x_axis(x0, x1, axis_y, top, "×")
    return _svg(WIDTH, height, body, "speedups", f"speed-ups of {c.workload}")


def sweep_svg(sweep: Sweep, tasks: int | None = None) -> str:
    """Speed-up against workers: measured, ideal (dashed) and Amdahl's fit (dotted)."""
    tasks = tasks if tasks is not None else (sweep.task_counts or [0])[-1]
    points = [p for p in sweep.points(tasks) if p.speedup is not None]
    fit = sweep.fit(tasks)
    w, h, left, bottom, top_pad, right = 420, 260, 44, 34, 10, 12
    max_n = max([2, *[p.workers for p in sweep.points(tasks)]])
    max_s = max([max_n, *[p.speedup or 0.0 for p in points]]) * 1.05

    def x(n: float) -> float:
        return left + (w - left - right) * (n - 1) / (max_n - 1)

    def y(s: float) -> float:
        return h - bottom - (h - bottom - top_pad) * s / max_s

    body = [
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{h - bottom}" stroke="#888"/>',
        f'<text x="{(w + left) / 2:.0f}" y="{h - 4}" text-anchor="middle" fill="#555">workers</text>',
        f'<text x="12" y="{(h - bottom) / 2:.0f}" fill="#555" transform="rotate(-90 12 '
        f'{(h - bottom) / 2:.0f})" text-anchor="middle">speed-up ×</text>',
        f'<line class="ideal" x1="{x(1):.1f}" y1="{y(1):.1f}" x2="{x(max_n):.1f}" '
        f'y2="{y(max_n):.1f}" stroke="#999" stroke-dasharray="5 4"><title>ideal</title></line>',
    ]
    for n in sorted({1, *[p.workers for p in sweep.points(tasks)]}):
        body.append(
            f'<text x="{x(n):.1f}" y="{h - bottom + 14}" text-anchor="middle" fill="#555">{n}</text>'
        )
    for s in ticks(max_s, 4):
        if s <= max_s:
            body.append(
                f'<text x="{left - 4}" y="{y(s) + 4:.1f}" text-anchor="end" fill="#555">{s:g}</text>'
            )
    if sweep.cores is not None and sweep.cores < max_n:
        body.append(
            f'<line class="cores" x1="{x(sweep.cores):.1f}" y1="{top_pad}" x2="{x(sweep.cores):.1f}" '
            f'y2="{h - bottom}" stroke="#2a2"><title>{sweep.cores} usable cores</title></line>'
        )
    if fit is not None:
        steps = [1 + (max_n - 1) * k / 40 for k in range(41)]
        path = " ".join(f"{x(n):.1f},{y(fit.speedup(n)):.1f}" for n in steps)
        body.append(
            f'<polyline class="amdahl" points="{path}" fill="none" stroke="#e45756" '
            f'stroke-dasharray="2 3" stroke-width="1.5"><title>Amdahl fit, serial fraction '
            f"{fit.serial_fraction:.3f}</title></polyline>"
        )
    if points:
        path = " ".join(f"{x(p.workers):.1f},{y(p.speedup or 0):.1f}" for p in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="#4c78a8" stroke-width="2"/>')
        for p in points:
            body.append(
                f'<circle class="point" cx="{x(p.workers):.1f}" cy="{y(p.speedup or 0):.1f}" '
                f'r="4" fill="#4c78a8"><title>{p.workers} workers: {p.speedup:.2f}×, '
                f"efficiency {p.efficiency:.0%}</title></circle>"
            )
    return _svg(w, h, body, "sweep", f"speed-up of {sweep.strategy} against workers")
