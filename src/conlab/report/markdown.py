"""The results as Markdown: one table per comparison, and the warnings, for a README or an issue."""

from __future__ import annotations

from conlab import outputs
from conlab.measure import noise, stats
from conlab.model import RUN_OK, Comparison, Results, Run
from conlab.report import words
from conlab.report.takeaway import takeaway
from conlab.report.terminal import strategy_label

_HEADER = (
    "| strategy | workers | median s | IQR s | min–max s | speed-up (95% CI) "
    "| CPU/wall | peak RSS MiB | status |"
)
_RULE = "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _speedup(run: Run) -> str:
    if run.speedup is None:
        return "—"
    if run.speedup_ci is None:
        return f"{run.speedup:.2f}×"
    lo, hi = run.speedup_ci
    return f"{run.speedup:.2f}× ({lo:.2f}–{hi:.2f})"


def run_row(run: Run) -> str:
    ok = run.status == RUN_OK and run.wall_s
    s = stats.summarise(run.wall_s) if ok else None
    rss = run.max_peak_rss_bytes
    cells = [
        strategy_label(run),
        str(run.workers),
        f"{s.median:.4f}" if s else "—",
        f"{s.iqr:.4f}" if s else "—",
        f"{s.min:.4f}–{s.max:.4f}" if s else "—",
        _speedup(run),
        "—" if run.parallelism is None else f"{run.parallelism:.2f}",
        "—" if rss is None else f"{rss / 2**20:.0f}",
        words.run_status(run) + ("" if run.reason is None else f": {run.reason}"),
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def comparison_markdown(c: Comparison, cores: int | None = None) -> str:
    title = words.heading(c)
    lines = [
        f"### {title}",
        "",
        f"{c.repeats} timed runs after {c.warmup} warm-up, interleaved.",
        "",
        _HEADER,
        _RULE,
    ]
    lines += [run_row(run) for run in c.runs]
    lines += ["", f"**{_cell(takeaway(c))}**"]
    warnings = noise.comparison_warnings(c, cores)
    if warnings or c.notes:
        lines.append("")
    lines += [f"- ⚠ {w.message}" for w in warnings]
    lines += [f"- {note}" for note in c.notes]
    return "\n".join(lines)


def environment_markdown(env: dict[str, object]) -> str:
    gil = "GIL enabled" if env.get("gil_enabled", True) else "free-threaded, GIL disabled"
    return (
        f"{env.get('implementation', 'Python')} {env.get('python', '?')} ({gil}), "
        f"{env.get('cpu_model', '?')}, {env.get('usable_cpus', '?')} usable cores, "
        f"{env.get('platform', '?')}, conlab {env.get('conlab', '?')}"
    )


def render(results: Results) -> str:
    cores = results.environment.get("usable_cpus")
    parts = ["## conlab results", "", environment_markdown(results.environment)]
    if not results.complete:
        parts += ["", "**Incomplete: the run was interrupted.**"]
    for c in results.comparisons:
        parts += ["", comparison_markdown(c, cores if isinstance(cores, int) else None)]
    return "\n".join(parts) + "\n"


def write(results: Results, path: str) -> None:
    """Replace ``path`` with :func:`render` of ``results``, atomically."""
    outputs.write_text(render(results), path)
