"""The terminal report: a table per comparison, why runs failed, and each task's output once."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from conlab.model import RUN_FAILED, RUN_OK, RUN_UNAVAILABLE, Comparison, Results, Run

# Whose output is shown: a run where tasks really ran side by side, as the lesson's did.
_OUTPUT_PREFERENCE = ("threads", "processes", "thread-pool", "process-pool")


def strategy_label(run: Run) -> str:
    """``process-pool/spawn``; ``processes/spawn, plain`` for the lesson's code as written."""
    label = run.strategy
    if "start_method" in run.options:
        label += f"/{run.options['start_method']}"
    if run.options.get("plain"):
        label += ", plain"
    return label


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} s"


def _ms(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:+.1f} ms" if sign else f"{value * 1000:.1f} ms"


def _status(run: Run) -> Text:
    if run.status == RUN_OK:
        return Text("ok", style="green")
    if run.status == RUN_UNAVAILABLE:
        return Text("unavailable", style="dim")
    statuses = sorted({r.status for r in run.records if not r.ok}) or ["failed"]
    return Text(", ".join(statuses), style="bold red")


_COLUMNS = [
    ("strategy", "left"),
    ("workers", "right"),
    ("wall s", "right"),
    ("min–max s", "right"),
    ("floor s", "right"),
    ("over floor", "right"),
    ("start-up", "right"),
    ("CPU/wall", "right"),
    ("speed-up", "right"),
    ("status", "left"),
]
# On a narrow terminal the least essential columns go first.
_OPTIONAL = ("CPU/wall", "start-up")
WIDE = 108


def _num(value: float | None, fmt: str = "{:.3f}") -> str:
    return "—" if value is None else fmt.format(value)


def comparison_table(c: Comparison, width: int = WIDE) -> Table:
    title = c.title or f"{c.workload} ({c.kind}, {c.tasks} tasks)"
    table = Table(
        title=escape(title),
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    columns = [(n, j) for n, j in _COLUMNS if width >= WIDE or n not in _OPTIONAL]
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=name == "strategy")  # type: ignore[arg-type]
    for run in c.runs:
        ok = run.status == RUN_OK
        wall = _num(run.median_wall_s) if ok else "—"
        spread = f"{min(run.wall_s):.3f}–{max(run.wall_s):.3f}" if ok and run.wall_s else "—"
        if run.naive_wall_s is not None and not ok:
            wall, spread = "—", f"naive {run.naive_wall_s:.3f}"
        cells = {
            "strategy": escape(strategy_label(run)),
            "workers": str(run.workers),
            "wall s": wall,
            "min–max s": spread,
            "floor s": _num(run.floor_s),
            "over floor": _ms(run.overhead_s, sign=True) if ok else "—",
            "start-up": _ms(run.median_startup_s),
            "CPU/wall": _num(run.parallelism, "{:.2f}"),
            "speed-up": _num(run.speedup, "{:.2f}×"),
        }
        table.add_row(*[cells[n] for n, _ in columns if n != "status"], _status(run))
    return table


def render(console: Console, c: Comparison, raw_output: bool = False) -> None:
    console.print(comparison_table(c, console.width))
    for run in c.runs:
        if run.status == RUN_FAILED:
            console.print(Text(f"  ✗ {strategy_label(run)}: {run.reason}", style="red"))
            if run.naive_wall_s is not None:
                console.print(
                    Text(
                        f"    A plain time.time() around it said {run.naive_wall_s:.3f} s: "
                        "the time it took the children to fail, not to do the work.",
                        style="red",
                    )
                )
        elif run.status == RUN_UNAVAILABLE:
            console.print(
                Text(f"  - {strategy_label(run)}: not available here: {run.reason}", style="dim")
            )
    for note in c.notes:
        console.print(Text(f"  {note}", style="dim"))
    render_output(console, c, raw_output)


def output_run(c: Comparison) -> Run | None:
    """The run whose output is shown."""
    ok = [r for r in c.runs if r.status == RUN_OK and any(t.output for t in r.records)]
    for name in _OUTPUT_PREFERENCE:
        for run in ok:
            if run.strategy == name and not run.options.get("plain"):
                return run
    return ok[0] if ok else None


def render_output(console: Console, c: Comparison, raw_output: bool) -> None:
    run = output_run(c)
    if run is None:
        return
    how = "as it was written, interleaved" if raw_output else "grouped by task"
    console.print(Text(f"\nOutput of the {strategy_label(run)} run, {how}:", style="bold"))
    if raw_output:
        writes = sorted((t, r.index, text) for r in run.records for t, text in r.output_chunks)
        console.print(Text("".join(text for _, _, text in writes).rstrip("\n")), soft_wrap=True)
    else:
        for record in run.records:
            where = f" (pid {record.worker.pid})" if record.worker else ""
            console.print(Text(f"── {record.name}{where}", style="cyan"))
            console.print(Text(record.output.rstrip("\n")), soft_wrap=True)
    same = _same_output(c.runs)
    if same is not None:
        console.print(Text(same, style="dim"))


def _same_output(runs: Iterable[Run]) -> str | None:
    """Whether every valid run printed the same output per task: the prints reached us from every worker."""
    valid = [r for r in runs if r.status == RUN_OK and r.records]
    if len(valid) < 2:
        return None
    first = [t.output for t in valid[0].records]
    differing = [strategy_label(r) for r in valid[1:] if [t.output for t in r.records] != first]
    if differing:
        return f"Output differed from the sequential run in: {', '.join(differing)}."
    return f"Each task printed the same output in all {len(valid)} valid runs, whichever worker ran it."


def render_environment(console: Console, env: dict[str, object]) -> None:
    gil = "GIL enabled" if env.get("gil_enabled", True) else "free-threaded, GIL disabled"
    console.print(
        Text(
            f"{env.get('implementation', 'Python')} {env.get('python', '?')} ({gil}) on "
            f"{env.get('cpu_model', '?')}, {env.get('usable_cpus', env.get('cpu_count', '?'))} usable cores, "
            f"{env.get('platform', '?')}",
            style="dim",
        )
    )


def render_results(console: Console, results: Results, raw_output: bool = False) -> None:
    render_environment(console, results.environment)
    if not results.complete:
        console.print(
            Text("These results are incomplete: the run was interrupted.", style="yellow")
        )
    for c in results.comparisons:
        console.print()
        if c.runs:
            render(console, c, raw_output)
        if c.advice is not None:
            from conlab.report import advice

            console.print()
            advice.render(console, c.advice)
