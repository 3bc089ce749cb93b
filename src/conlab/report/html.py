"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

Also the fragments a notebook shows for a comparison or a sweep. Every string
that came from the user's code, or from a result file, is escaped.
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

from conlab import outputs
from conlab.model import (
    RUN_FAILED,
    RUN_INCOMPLETE,
    RUN_OK,
    RUN_UNAVAILABLE,
    Comparison,
    Results,
    Run,
)
from conlab.report import explain, svg, sweep_svg, words
from conlab.report.takeaway import takeaway
from conlab.report.terminal import output_run, strategy_label
from conlab.report.timeline import span_s

if TYPE_CHECKING:
    from conlab.lab.sweep import Sweep

BODY_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}"
)
# Scoped to .conlab, so a notebook can take it without restyling the page around it.
CSS = """
.conlab table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
.conlab th,.conlab td{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:right}
.conlab th:first-child,.conlab td:first-child{text-align:left}
.conlab td.status-ok{color:#17803d}.conlab td.status-failed{color:#b00020;font-weight:bold}
.conlab td.status-unavailable{color:#888}
.conlab .failure{color:#b00020}.conlab .note{color:#8a6d00}
.conlab pre{background:#f6f6f6;padding:.5em;overflow-x:auto;white-space:pre-wrap;margin:.2em 0}
.conlab details{margin:.2em 0}.conlab summary{cursor:pointer}
.conlab svg{display:block;margin:.3em 0;max-width:100%;height:auto}
.conlab h3{margin-bottom:.2em}.conlab .takeaway{font-weight:bold;margin:.3em 0}.conlab .dim{color:#777}
.conlab table.lesson th,.conlab table.lesson td{text-align:left;vertical-align:top}
.conlab table.lesson caption{text-align:left;font-weight:bold;padding:.3em 0}
.conlab table.lesson tbody th{width:28%}
"""

_COLUMNS = (
    "strategy",
    "workers",
    "wall s",
    "min–max s",
    "floor s",
    "CPU/wall",
    "speed-up",
    "status",
)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _num(value: float | None, fmt: str = "{:.3f}") -> str:
    return "—" if value is None else fmt.format(value)


def _interval(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f' <span class="dim">[{ci[0]:.2f}–{ci[1]:.2f}]</span>'


def _row(run: Run) -> str:
    ok = run.status == RUN_OK
    cells = [
        escape(strategy_label(run)),
        str(run.workers),
        _num(run.median_wall_s) if ok else "—",
        f"{min(run.wall_s):.3f}–{max(run.wall_s):.3f}" if ok and run.wall_s else "—",
        _num(run.floor_s),
        _num(run.parallelism, "{:.2f}"),
        _num(run.speedup, "{:.2f}×") + _interval(run.speedup_ci),
    ]
    tds = "".join(f"<td>{c}</td>" for c in cells)
    word = words.run_status(run)
    return f'<tr>{tds}<td class="status-{escape(run.status)}">{escape(word)}</td></tr>'


def runs_table(c: Comparison) -> str:
    head = "".join(f"<th>{escape(n)}</th>" for n in _COLUMNS)
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(map(_row, c.runs))}</tbody></table>"
    )


def _reasons(c: Comparison, cores: int | None = None) -> str:
    out = []
    for run in c.runs:
        if run.status == RUN_FAILED:
            out.append(
                f'<p class="failure">✗ {escape(strategy_label(run))}: {escape(run.reason or "")}</p>'
            )
        elif run.status == RUN_UNAVAILABLE:
            out.append(
                f'<p class="dim">– {escape(strategy_label(run))}: not available here: '
                f"{escape(run.reason or '')}</p>"
            )
        elif run.status == RUN_INCOMPLETE:
            out.append(
                f'<p class="note">… {escape(strategy_label(run))}: incomplete: '
                f"{escape(run.reason or '')}</p>"
            )
    out += [f'<p class="note">⚠ {escape(note)}</p>' for note in explain.stored(c.notes)[2]]
    out += [f'<p class="note noise">⚠ {escape(w.message)}</p>' for w in _noise(c, cores)]
    return "".join(out)


def lesson_table(c: Comparison) -> str:
    """The lesson's table a comparison's notes hold (``conlab demo``, ``explain``), as a table."""
    rows, rule, _ = explain.stored(c.notes)
    if not rows:
        return ""
    head = "<th></th><th>Threading</th><th>Multiprocessing</th>"
    body = "".join(
        f"<tr><th>{escape(r.question)}</th><td>{escape(r.threads)}</td>"
        f"<td>{escape(r.processes)}</td></tr>"
        for r in rows
    )
    ruled = "" if rule is None else f"<p><b>{escape(explain.RULE_NOTE)}</b>{escape(rule)}</p>"
    return (
        f'<table class="lesson"><caption>{escape(explain.TITLE)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{ruled}"
    )


def _noise(c: Comparison, cores: int | None) -> list[Any]:
    """The measurement's noise warnings (noisy, busy, outliers...), as the terminal shows them."""
    from conlab.measure import noise

    return list(noise.comparison_warnings(c, cores))


def _timelines(c: Comparison) -> str:
    parts = []
    shown = [r for r in c.runs if r.records and any(t.start_ns is not None for t in r.records)]
    span = max((span_s(r) for r in shown), default=None)
    for run in shown:
        parts.append(
            f'<div class="run-timeline"><p><b>{escape(strategy_label(run))}:{run.workers}</b>'
            f' <span class="dim">{escape(words.run_status(run))}</span></p>'
            f"{svg.timeline_svg(run, span)}</div>"
        )
    return "".join(parts)


def _task_output(run: Run, opened: bool) -> str:
    items = []
    for record in run.records:
        where = f" (pid {record.worker.pid})" if record.worker else ""
        text = record.output
        if record.error:
            text += f"\n[{record.status}] {record.error}\n{record.traceback or ''}"
        if not text.strip():
            continue
        items.append(
            f'<details class="task-output"{" open" if opened else ""}><summary>'
            f"{escape(record.name)}{escape(where)}</summary><pre>{escape(text.rstrip())}</pre></details>"
        )
    return "".join(items)


def _outputs(c: Comparison, notebook: bool) -> str:
    """Each task's output: in a notebook the shown run's, open; in a report every run's, folded."""
    if notebook:
        run = output_run(c)
        if run is None:
            return ""
        inner = _task_output(run, opened=True)
        return f"<p><b>Output of the {escape(strategy_label(run))} run, grouped by task:</b></p>{inner}"
    parts = []
    for run in c.runs:
        inner = _task_output(run, opened=False)
        if inner:
            parts.append(
                f'<details class="run-output"><summary>Output of {escape(strategy_label(run))}:'
                f"{run.workers}, per task</summary>{inner}</details>"
            )
    return "".join(parts)


def _advice(advice: dict[str, Any] | None) -> str:
    if not advice:
        return ""
    rows = []
    for key, value in advice.items():
        shown = value if isinstance(value, str) else json.dumps(value, indent=1, default=str)
        tag = "span" if isinstance(value, str) else "pre"
        rows.append(f"<dt>{escape(str(key))}</dt><dd><{tag}>{escape(shown)}</{tag}></dd>")
    return f'<div class="advice"><h4>Advice</h4><dl>{"".join(rows)}</dl></div>'


def comparison_fragment(c: Comparison, notebook: bool = False, cores: int | None = None) -> str:
    """One comparison: its table, why runs failed, speed-ups, timelines, advice and output."""
    title = words.heading(c)
    has_speedups = any(r.status == RUN_OK and r.speedup is not None for r in c.runs)
    body = [
        f"<h3>{escape(title)}</h3>",
        f'<p class="takeaway">{escape(takeaway(c))}</p>',
        f'<p class="dim">{_plural(c.repeats, "timed repeat")} after '
        f"{_plural(c.warmup, 'warm-up')}; timelines show the median repeat.</p>",
        runs_table(c),
        _reasons(c, cores),
        lesson_table(c),
        svg.speedup_svg(c) if has_speedups else "",
        _timelines(c),
        _advice(c.advice),
        _outputs(c, notebook),
    ]
    style = f"<style>{CSS}</style>" if notebook else ""
    return f'{style}<div class="conlab comparison">{"".join(body)}</div>'


def sweep_fragment(sweep: Sweep, notebook: bool = False) -> str:
    """The sweep's table and curve, with Amdahl's fit for each amount of work."""
    from conlab.report.text import fit_sentence

    rows = []
    for p in sweep.points():
        rows.append(
            f"<tr><td>{p.tasks}</td><td>{p.workers}</td><td>{_num(p.run.median_wall_s)}</td>"
            f"<td>{_num(p.speedup, '{:.2f}×')}</td><td>{_num(p.efficiency, '{:.0%}')}</td>"
            f'<td class="status-{escape(p.run.status)}">{escape(words.run_status(p.run))}</td></tr>'
        )
    head = "".join(
        f"<th>{n}</th>" for n in ("tasks", "workers", "wall s", "speed-up", "efficiency", "status")
    )
    curves = "".join(
        f"<p><b>{t} tasks</b>: {escape(fit_sentence(sweep, t))}</p>"
        f"{sweep_svg.sweep_svg(sweep, t)}{_over_one(sweep, t)}"
        for t in sweep.task_counts
    )
    extra = "" if notebook else "".join(comparison_fragment(c) for c in sweep.comparisons)
    style = f"<style>{CSS}</style>" if notebook else ""
    return (
        f'{style}<div class="conlab sweep"><h3>{escape(sweep.workload)}: {escape(sweep.strategy)} '
        f"against workers</h3><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
        f"</tbody></table>{curves}{extra}</div>"
    )


def _over_one(sweep: Sweep, tasks: int) -> str:
    """Why an efficiency can be above 100 %, where one is."""
    over = sweep_svg.over_one(sweep, tasks)
    if not over:
        return ""
    where = ", ".join(f"{q.efficiency:.0%} at {_plural(q.workers, 'worker')}" for q in over)
    return (
        f'<p class="note efficiency-over">Efficiency above 100 % ({where}): the speed-up is '
        "measured against the sequential run, which is not the same code path as a pool of "
        f"{escape(sweep.strategy)}: the sequential reference calls each task in conlab's own "
        "process, a pool hands it to a worker; a pool can come out faster by a margin that is "
        "not parallelism.</p>"
    )


def _environment(env: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in env.items()
    )
    return f'<details class="environment"><summary>Environment</summary><table>{rows}</table></details>'


def document(results: Results, title: str = "conlab report") -> str:
    """The whole report as one HTML document."""
    from conlab.lab.sweep import sweeps_in

    cores = results.environment.get("usable_cpus")
    sweeps = sweeps_in(results.comparisons, cores if isinstance(cores, int) else None)
    swept = {id(c) for s in sweeps for c in s.comparisons}
    body = [f"<h1>{escape(title)}</h1>", _environment(results.environment)]
    if not results.complete:
        body.append('<p class="note">These results are incomplete: the run was interrupted.</p>')
    body += [sweep_fragment(s) for s in sweeps]
    usable = cores if isinstance(cores, int) else None
    body += [
        comparison_fragment(c, cores=usable) for c in results.comparisons if id(c) not in swept
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(title)}</title>'
        f'<style>{BODY_CSS}{CSS}</style></head><body class="conlab">{"".join(body)}</body></html>\n'
    )


def write(results: Results, path: str) -> None:
    outputs.write_text(document(results), path)
