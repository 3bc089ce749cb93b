"""Plots with matplotlib (the ``conlab[plot]`` extra), to PNG or SVG for ``--plot PATH``.

One row per comparison (speed-up bars beside the timelines of every run) and
one per sweep (speed-up against workers with the ideal line and Amdahl's fit,
and efficiency). No pyplot: a bare Figure, so no GUI backend is ever touched.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from conlab import outputs
from conlab.errors import UsageError
from conlab.model import RUN_OK, Comparison, Results
from conlab.report.svg import FLOOR_COLOUR, OTHER_COLOUR, SPEEDUP_COLOUR, STATUS_COLOURS
from conlab.report.terminal import strategy_label
from conlab.report.timeline import lanes, span_s
from conlab.report.visible import visible

if TYPE_CHECKING:
    from conlab.lab.sweep import Sweep

FORMATS = ("png", "svg")
WIDTH_IN = 12.0
DPI = 100
SWEEP_ROW_IN = 3.6
MIN_ROW_IN = 3.0
LANE_IN = 0.24
# The failure colours are the HTML's, named in the axis label.
FAILURE_WORDS = {"error": "red", "crashed": "dark red"}


def check(path: str) -> None:
    """Fail before measuring: an unknown format or matplotlib missing."""
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"--plot {path}: the file name must end in .png or .svg")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib: pip install 'conlab[plot]' (or pip install matplotlib)"
        ) from None


def _rows(results: Results) -> list[tuple[str, Any, float]]:
    """What each row shows and its height in inches."""
    from conlab.lab.sweep import sweeps_in

    cores = results.environment.get("usable_cpus")
    sweeps = sweeps_in(results.comparisons, cores if isinstance(cores, int) else None)
    swept = {id(c) for s in sweeps for c in s.comparisons}
    rows: list[tuple[str, Any, float]] = [("sweep", s, SWEEP_ROW_IN) for s in sweeps]
    for c in results.comparisons:
        if id(c) not in swept:
            n = sum(len(lanes(r)) for r in c.runs if r.records)
            rows.append(("comparison", c, max(MIN_ROW_IN, 0.9 + LANE_IN * n)))
    return rows


def size_px(results: Results) -> tuple[int, int]:
    """The picture's size in pixels (PNG); an SVG has the same size in points × 0.72."""
    height_in = sum(h for _, _, h in _rows(results)) or MIN_ROW_IN
    return round(WIDTH_IN * DPI), round(height_in * DPI)


def plot(results: Results, path: str) -> None:
    """Draw every comparison and sweep of ``results`` to ``path`` (.png or .svg)."""
    check(path)
    import matplotlib

    # Names are the user's text, not TeX: "$\\undefined{x}$" must print as it is.
    with matplotlib.rc_context({"text.parse_math": False}):
        data = _draw(results, os.path.splitext(path)[1].lstrip(".").lower())
    outputs.write_bytes(data, path)


def _draw(results: Results, fmt: str) -> bytes:
    import io

    fig = figure(results)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format=fmt)
    return buffer.getvalue()


def figure(results: Results) -> Any:
    """The whole picture as a matplotlib Figure, laid out, labels that do not fit hidden."""
    from matplotlib.figure import Figure

    rows = _rows(results)
    heights = [h for _, _, h in rows] or [MIN_ROW_IN]
    # Constrained layout fits the labels inside a figure of exactly the size asked for.
    fig = Figure(figsize=(WIDTH_IN, sum(heights)), dpi=DPI, layout="constrained")
    rows_figs = fig.subfigures(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0]
    bar_labels: list[tuple[Any, Any, float]] = []
    for sub, (what, item, _) in zip(rows_figs, rows, strict=False):
        left, right = sub.subplots(1, 2, width_ratios=[1, 1] if what == "sweep" else [1, 2.4])
        if what == "sweep":
            sub.suptitle(
                visible(f"{item.workload}: {item.strategy} sweep"), x=0.01, ha="left", fontsize=9
            )
            _sweep(item, left, right)
        else:
            sub.suptitle(visible(item.title or item.workload), x=0.01, ha="left", fontsize=9)
            _speedups(item, left)
            bar_labels += _timelines(item, right)
    fig.draw_without_rendering()
    # A task's name is drawn only where it fits whole inside its bar.
    for text, ax, end_s in bar_labels:
        end_px = ax.transData.transform((end_s, 0))[0]
        text.set_visible(text.get_window_extent().x1 <= end_px - 1)
    return fig


def _speedups(c: Comparison, ax: Any) -> None:
    runs = [r for r in c.runs if r.status == RUN_OK and r.speedup is not None]
    labels = [visible(f"{strategy_label(r)}:{r.workers}") for r in runs]
    values = [r.speedup or 0.0 for r in runs]
    # The 1x line under the bars; a value that would sit on it goes just past it.
    ax.axvline(1.0, color="#999", linestyle="--", linewidth=1, zorder=0)
    ax.barh(range(len(runs)), values, color=SPEEDUP_COLOUR, zorder=1)
    ax.set_yticks(range(len(runs)), labels, fontsize=8)
    ax.invert_yaxis()
    top = max([1.0, *values])
    ax.set_xlim(0, top * 1.25)
    for y, v in enumerate(values):
        x = 1.0 if v < 1.0 and 1.0 - v < top * 0.12 else v
        ax.text(x, y, f" {v:.2f}×", va="center", fontsize=8, zorder=2)
    ax.set_xlabel("speed-up over sequential (dashed: 1×)", fontsize=8)
    ax.tick_params(labelsize=8)


def _timelines(c: Comparison, ax: Any) -> list[tuple[Any, Any, float]]:
    """The timelines of every run; each task's name with its axes and end, to hide where it
    does not fit."""
    y, ticks, labels, named = 0, [], [], []
    span = max([span_s(r) for r in c.runs if r.records] or [1.0])
    statuses: set[str] = set()
    for run in c.runs:
        if not run.records:
            continue
        first = y
        for lane in lanes(run):
            for bar in lane.bars:
                statuses.add(bar.status)
                # A white edge: where one task ends and the next starts shows in every lane.
                ax.broken_barh(
                    [(bar.start_s, bar.end_s - bar.start_s)],
                    (y - 0.4, 0.8),
                    facecolor=STATUS_COLOURS.get(bar.status, OTHER_COLOUR),
                    edgecolor="white",
                    linewidth=0.8,
                )
                text = ax.text(
                    bar.start_s + span * 0.004,
                    y,
                    visible(bar.name),
                    va="center",
                    fontsize=7,
                    color="white",
                    clip_on=True,
                )
                named.append((text, ax, bar.end_s))
            ticks.append(y)
            labels.append(visible(f"{strategy_label(run)}:{run.workers} · {lane.label}"))
            y += 1
        if run.floor_s is not None:
            ax.vlines(run.floor_s, first - 0.5, y - 0.5, colors="white", linewidth=3.5)
            ax.vlines(
                run.floor_s,
                first - 0.5,
                y - 0.5,
                colors=FLOOR_COLOUR,
                linestyles=(0, (4, 2)),
                linewidth=1.6,
            )
        ax.axhline(y - 0.5, color="#ddd", linewidth=0.8)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_ylim(y - 0.5, -0.5)
    ax.set_xlim(0, span * 1.02)
    failed = sorted(statuses - {"ok"})
    ax.set_xlabel(
        "seconds from the start of the run; black dashes: the floor (the ideal wall time)"
        + "".join(f"; {FAILURE_WORDS.get(s, 'orange')}: {s}" for s in failed),
        fontsize=8,
    )
    ax.tick_params(labelsize=7)
    return named


def _sweep(sweep: Sweep, speed_ax: Any, eff_ax: Any) -> None:
    top = 1
    over: list[str] = []
    for tasks in sweep.task_counts:
        points = [p for p in sweep.points(tasks) if p.speedup is not None]
        ns = [p.workers for p in points]
        top = max([top, *ns])
        (line,) = speed_ax.plot(
            ns, [p.speedup for p in points], "o-", label=f"{tasks} tasks", zorder=3
        )
        eff_ax.plot(ns, [p.efficiency for p in points], "o-", label=f"{tasks} tasks", zorder=3)
        over += [f"{p.efficiency:.0%} at {p.workers}" for p in points if (p.efficiency or 0) > 1]
        fit = sweep.fit(tasks)
        if fit is not None:
            xs = [1 + (max(ns) - 1) * k / 40 for k in range(41)]
            # Over the ideal line, thicker: a fit close to ideal still shows.
            speed_ax.plot(
                xs,
                [fit.speedup(x) for x in xs],
                ":",
                color=line.get_color(),
                linewidth=2.5,
                zorder=2,
                label=f"Amdahl f={fit.serial_fraction:.3f} [{fit.low:.3f}, {fit.high:.3f}]",
            )
    speed_ax.plot([1, top], [1, top], "--", color="#999", linewidth=1, zorder=1, label="ideal")
    if sweep.cores is not None and sweep.cores < top:
        for ax in (speed_ax, eff_ax):
            ax.axvline(sweep.cores, color="#2a2", linewidth=1, label=f"{sweep.cores} usable cores")
    eff_ax.axhline(1.0, color="#999", linestyle="--", linewidth=1, zorder=1, label="ideal")
    eff_name = "efficiency (speed-up / workers)"
    if over:
        # The reference is the sequential run, not a pool of one: not the same code path.
        eff_name += f"\nabove 100 % ({', '.join(over)} workers): against the sequential run"
    for ax, name in ((speed_ax, "speed-up ×"), (eff_ax, eff_name)):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("workers", fontsize=8)
        ax.set_ylabel(name, fontsize=8)
        # Below the plot, outside it: the legend covers no line.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
        ax.tick_params(labelsize=7)
