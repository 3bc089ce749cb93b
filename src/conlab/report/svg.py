"""Inline SVG pictures for the HTML report and notebooks: no script, no network, no library.

Every string that came from the user's code (task names, strategy options)
goes through ``html.escape``; numbers are formatted here. Text is placed from
a width estimate that errs wide (``CHAR_EM``), so that a label drawn is never
cut and never runs into another: a task's name goes inside its bar, or just
after it when the bar is too short, or becomes the task's number, or is left
to the bar's tooltip. Legends sit in a row of their own, below the picture.
"""

from __future__ import annotations

from html import escape

from conlab.measure.units import duration
from conlab.model import RUN_OK, Comparison, Run
from conlab.report.terminal import strategy_label
from conlab.report.timeline import Bar, lanes, span_s, ticks

# The report's column (60em at 16 px, less its padding); narrower places scale it down.
WIDTH = 920
LABEL_W = 170
LANE_H = 26
AXIS_H = 26
LEGEND_H = 20
FONT_PX = 12
# Wider than the average character of common sans-serif faces (DejaVu Sans: digits 0.64 em).
CHAR_EM = 0.66
STATUS_COLOURS = {"ok": "#4c78a8", "error": "#d62728", "crashed": "#8b0000"}
OTHER_COLOUR = "#f58518"
FLOOR_COLOUR = "#111"
SPEEDUP_COLOUR = "#72b7b2"


def text_width(text: str, font_px: float = FONT_PX) -> float:
    """An upper estimate of the width ``text`` takes, in pixels."""
    return len(text) * font_px * CHAR_EM


def svg_element(width: float, height: float, body: list[str], cls: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" font-family="sans-serif" font-size="{FONT_PX}">'
        + "".join(body)
        + "</svg>"
    )


def x_axis(x0: float, x1: float, y: float, span: float, unit: str) -> list[str]:
    out = [f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="#888"/>']
    for t in ticks(span):
        x = x0 + (x1 - x0) * t / span
        if x > x1 + 0.5:
            break
        out.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="#888"/>'
            f'<text x="{x:.1f}" y="{y + 16:.1f}" text-anchor="middle" fill="#555">'
            f"{t:g}{unit}</text>"
        )
    return out


def legend(
    items: list[tuple[str, str]], x: float, y: float, right: float = WIDTH
) -> tuple[list[str], int]:
    """Rows of keys (an SVG swatch 16 × 10 at 0, 0, and its words) from (x, y), wrapped at
    ``right``; the SVG and the number of rows."""
    out, left, rows = [], x, 1
    for swatch, words in items:
        width = 22 + text_width(words)
        if x > left and x + width > right:
            x, y, rows = left, y + LEGEND_H, rows + 1
        out.append(
            f'<g class="legend-item" transform="translate({x:.1f},{y:.1f})">{swatch}'
            f'<text x="22" y="10" fill="#333">{escape(words)}</text></g>'
        )
        x += width + 14
    return out, rows


def box_swatch(colour: str) -> str:
    return f'<rect x="0" y="0" width="16" height="10" rx="2" fill="{colour}"/>'


def line_swatch(colour: str, dash: str = "", width: float = 2) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="0" y1="5" x2="16" y2="5" stroke="{colour}" stroke-width="{width}"{dashed}/>'


def _bar_label(bar: Bar, bx: float, bw: float, room_after: float) -> str:
    """The bar's name inside it, after it, its number inside it, or nothing: what fits whole."""
    name, number = bar.name, f"#{bar.index}"
    if text_width(name) + 6 <= bw:
        return f'<text class="bar-label" x="{bx + 3:.1f}" fill="#fff">{escape(name)}</text>'
    if text_width(name) + 8 <= room_after:
        return f'<text class="bar-label" x="{bx + bw + 3:.1f}" fill="#222">{escape(name)}</text>'
    if text_width(number) + 6 <= bw:
        return f'<text class="bar-label" x="{bx + 3:.1f}" fill="#fff">{number}</text>'
    return ""


def timeline_svg(run: Run, span: float | None = None) -> str:
    """One lane per worker, one bar per task from start to end, the floor dashed.

    ``span`` (seconds) puts several runs on one scale, so they compare by eye.
    """
    worker_lanes = lanes(run)
    span = (span or span_s(run)) * 1.02
    x0, x1 = LABEL_W, WIDTH - 16
    axis_y = 4 + len(worker_lanes) * LANE_H + 2
    height = axis_y + AXIS_H + LEGEND_H
    scale = (x1 - x0) / span
    body: list[str] = []
    seen: set[str] = set()
    for k, lane in enumerate(worker_lanes):
        y = 4 + k * LANE_H
        title = f"pid {lane.pid}, thread id {lane.thread}" if lane.pid is not None else ""
        body.append(
            f'<g class="lane"><title>{escape(title)}</title>'
            f'<text x="{x0 - 6}" y="{y + 17}" text-anchor="end" fill="#333">'
            f"{escape(lane.label)}</text></g>"
        )
        for j, bar in enumerate(lane.bars):
            bx, bw = x0 + bar.start_s * scale, max(1.0, (bar.end_s - bar.start_s) * scale)
            after = lane.bars[j + 1].start_s * scale + x0 if j + 1 < len(lane.bars) else x1
            seen.add(bar.status)
            tip = (
                f"{bar.name}: {bar.status}, "
                f"{duration(bar.start_s, 's', 4)} to {duration(bar.end_s, 's', 4)}"
            )
            # A white edge: where one task ends and the next starts shows in every lane.
            body.append(
                f'<g class="task" data-index="{bar.index}" data-status="{escape(bar.status)}">'
                f"<title>{escape(tip)}</title>"
                f'<rect class="bar" x="{bx:.1f}" y="{y + 2}" width="{bw:.1f}" '
                f'height="{LANE_H - 4}" rx="2" fill="{_colour(bar.status)}" stroke="#fff" '
                f'stroke-width="1"/><g transform="translate(0,{y + 17})">'
                f"{_bar_label(bar, bx, bw, after - bx - bw)}</g></g>"
            )
    # The colours are keyed when a task did not end ok; the floor always.
    shown = sorted(seen, key=_status_order) if seen - {"ok"} else []
    keys = [(box_swatch(_colour(s)), s) for s in shown]
    if run.floor_s is not None:
        fx = x0 + run.floor_s * scale
        floor = duration(run.floor_s, "s")
        body.append(
            f'<g class="floor"><line x1="{fx:.1f}" y1="2" x2="{fx:.1f}" y2="{axis_y:.1f}" '
            f'stroke="#fff" stroke-width="4"/><line x1="{fx:.1f}" y1="2" x2="{fx:.1f}" '
            f'y2="{axis_y:.1f}" stroke="{FLOOR_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
            f"<title>floor: {floor}, the ideal wall time</title></g>"
        )
        keys.append((line_swatch(FLOOR_COLOUR, "5 3"), f"floor {floor}: the ideal wall time"))
    body += x_axis(x0, x1, axis_y, span, " s")
    keyed, rows = legend(keys, x0, axis_y + AXIS_H)
    body += keyed
    height += (rows - 1) * LEGEND_H if keys else -LEGEND_H
    return svg_element(WIDTH, height, body, "timeline", f"timeline of {strategy_label(run)}")


def _colour(status: str) -> str:
    return STATUS_COLOURS.get(status, OTHER_COLOUR)


def _status_order(status: str) -> tuple[int, str]:
    return (0 if status == "ok" else 1, status)


def speedup_svg(c: Comparison) -> str:
    """A bar per valid run: its speed-up over the sequential run, with 1× marked."""
    runs = [r for r in c.runs if r.status == RUN_OK and r.speedup is not None]
    top = max([1.0, *[r.speedup or 0.0 for r in runs]]) * 1.1
    x0, x1 = LABEL_W, WIDTH - 70
    axis_y = 4 + len(runs) * LANE_H + 2
    height = axis_y + AXIS_H
    scale = (x1 - x0) / top
    one = x0 + scale
    # The 1× line first: bars and labels are drawn over it.
    body = [
        f'<line class="one" x1="{one:.1f}" y1="2" x2="{one:.1f}" y2="{axis_y:.1f}" stroke="#999" '
        f'stroke-dasharray="3 3"><title>1×: as fast as sequential</title></line>'
    ]
    for k, run in enumerate(runs):
        y, s = 4 + k * LANE_H, run.speedup or 0.0
        label, value = f"{strategy_label(run)}:{run.workers}", f"{s:.2f}×"
        end = x0 + max(1.0, s * scale)
        vx = end + 4
        if vx - 2 <= one <= vx + text_width(value) + 2:
            vx = one + 4  # clear of the 1× line
        body.append(
            f'<g class="speedup"><text x="{x0 - 6}" y="{y + 17}" text-anchor="end" fill="#333">'
            f"{escape(label)}</text>"
            f'<rect x="{x0}" y="{y + 2}" width="{end - x0:.1f}" height="{LANE_H - 4}" '
            f'fill="{SPEEDUP_COLOUR}"/><text class="value" x="{vx:.1f}" y="{y + 17}" '
            f'fill="#333">{value}</text></g>'
        )
    body += x_axis(x0, x1, axis_y, top, "×")
    return svg_element(WIDTH, height, body, "speedups", f"speed-ups of {c.workload}")
