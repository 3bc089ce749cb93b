"""The terminal report: a table per comparison, why runs failed, and each task's output once."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from conlab.measure import gil, noise, stats
from conlab.measure.units import duration
from conlab.model import (
    RUN_FAILED,
    RUN_INCOMPLETE,
    RUN_OK,
    RUN_UNAVAILABLE,
    Comparison,
    Results,
    Run,
)
from conlab.report import columns, words
from conlab.report.columns import Cell, Column
from conlab.report.takeaway import strategy_label, takeaway

# Whose output is shown: a run where tasks really ran side by side, as the lesson's did.
_OUTPUT_PREFERENCE = ("threads", "processes", "thread-pool", "process-pool")
# --output: each task's output folded to its first and last lines, all of it, or none.
OUTPUT_FOLDED, OUTPUT_ALL, OUTPUT_NONE = "folded", "all", "none"
OUTPUT_CHOICES = (OUTPUT_FOLDED, OUTPUT_ALL, OUTPUT_NONE)
FOLD_HEAD_LINES = 5
FOLD_TAIL_LINES = 5


def _status(run: Run) -> Text:
    if run.status == RUN_OK:
        return Text("ok", style="green")
    if run.status == RUN_UNAVAILABLE:
        return Text("unavailable", style="dim")
    if run.status == RUN_INCOMPLETE:
        return Text("incomplete", style="yellow")
    return Text(words.run_status(run), style="bold red")


# The comparison's columns, by priority: on a narrow terminal those with the lowest
# non-zero ``drop`` go first; past _MERGE_AFTER, workers merge into the strategy ("threads:2").
_COLUMNS = (
    Column("strategy", justify="left"),
    Column("workers"),
    Column("wall s"),
    Column("min–max s", "min–max\ns", drop=4),
    Column("IQR s", drop=1),
    Column("floor s", "floor\ns", drop=3),
    Column("over floor", "over\nfloor", drop=5),
    Column("start-up", "start-\nup", drop=2),
    Column("CPU/wall", "CPU/\nwall", drop=6),
    Column("speed-up (95% CI)", "speed-up\n(95% CI)"),
    Column("status", justify="left"),
)
_MERGE_AFTER = 2


def _num(value: float | None, fmt: str = "{:.3f}") -> str:
    return "—" if value is None else fmt.format(value)


# Marks a speed-up measured while the machine did not give the run (or the reference) its cores.
CONTENDED_MARK = "†"


def _speedup(run: Run) -> str:
    """``1.98× (1.95–2.01)``: the median ratio and its bootstrap 95 % interval; ``†`` when
    contended."""
    if run.speedup is None:
        return "—"
    mark = CONTENDED_MARK if run.speedup_contended else ""
    if run.speedup_ci is None or len(run.wall_s) < 2:
        return f"{run.speedup:.2f}×{mark}"
    lo, hi = run.speedup_ci
    return f"{run.speedup:.2f}×{mark} ({lo:.2f}–{hi:.2f})"


def _cells(run: Run) -> dict[str, Cell]:
    ok = run.status == RUN_OK
    wall = _num(run.median_wall_s) if ok else "—"
    spread = f"{min(run.wall_s):.3f}–{max(run.wall_s):.3f}" if ok and run.wall_s else "—"
    if run.naive_wall_s is not None and not ok:
        wall, spread = "—", f"naive {run.naive_wall_s:.3f}"
    return {
        "strategy": strategy_label(run),
        "workers": str(run.workers),
        "wall s": wall,
        "min–max s": spread,
        "IQR s": _num(stats.summarise(run.wall_s).iqr) if ok and run.wall_s else "—",
        "floor s": _num(run.floor_s),
        "over floor": duration(run.overhead_s, "ms", 1, sign=True) if ok else "—",
        "start-up": duration(run.median_startup_s, "ms", 1),
        "CPU/wall": _num(run.parallelism, "{:.2f}"),
        "speed-up (95% CI)": _speedup(run),
        "status": _status(run),
    }


def _merged(cells: dict[str, Cell]) -> dict[str, Cell]:
    """The strategy with its worker count, as the takeaway names it: ``threads:2``."""
    return {**cells, "strategy": f"{cells['strategy']}:{cells['workers']}"}


def comparison_title(c: Comparison) -> str:
    return words.heading(c)


def comparison_table(c: Comparison) -> columns.Fitted:
    """The comparison's table, laid out for the width it is printed at."""
    rows = [_cells(run) for run in c.runs]
    merged = [col for col in _COLUMNS if col.name != "workers"]
    return columns.Fitted(
        comparison_title(c),
        [
            columns.Variant(_COLUMNS, rows, upto=_MERGE_AFTER),
            columns.Variant(merged, [_merged(r) for r in rows]),
        ],
    )


def render(
    console: Console,
    c: Comparison,
    raw_output: bool = False,
    cores: object = None,
    verbose: bool = False,
    output: str = OUTPUT_FOLDED,
) -> None:
    """The table, one warning line (each warning on its own line with ``verbose``), the
    tasks' output, and the takeaway."""
    console.print(comparison_table(c))
    warnings = noise.comparison_warnings(c, cores if isinstance(cores, int) else None)
    if verbose:
        for warning in warnings:
            console.print(Text(f"  ⚠ {warning.message}", style="yellow"))
    elif (line := noise.one_line(warnings)) is not None:
        console.print(Text(f"  ⚠ {line}", style="yellow"))
    for run in c.runs:
        if run.status == RUN_FAILED:
            console.print(Text(f"  ✗ {strategy_label(run)}: {run.reason}", style="red"))
            if run.naive_wall_s is not None:
                console.print(
                    Text(
                        f"    A plain time.time() around it said {duration(run.naive_wall_s, 's')}: "
                        "the time it took the children to fail, not to do the work.",
                        style="red",
                    )
                )
        elif run.status == RUN_UNAVAILABLE:
            console.print(
                Text(f"  - {strategy_label(run)}: not available here: {run.reason}", style="dim")
            )
        elif run.status == RUN_INCOMPLETE:
            console.print(
                Text(f"  … {strategy_label(run)}: incomplete: {run.reason}", style="yellow")
            )
    for run in c.runs:
        for record in run.records:
            if record.attempts > 1:
                console.print(
                    Text(
                        f"  ! {strategy_label(run)}: {record.name} was started {record.attempts} "
                        "times: its worker was lost and the engine re-ran it",
                        style="yellow",
                    )
                )
    from conlab.report import explain

    explain.render_notes(console, c.notes)
    render_output(console, c, raw_output, output)
    # Last, so that it is what the terminal shows when the command ends.
    console.print()
    console.print(Text(takeaway(c), style="bold"))


def output_run(c: Comparison) -> Run | None:
    """The run whose output is shown."""
    ok = [r for r in c.runs if r.status == RUN_OK and any(t.output for t in r.records)]
    for name in _OUTPUT_PREFERENCE:
        for run in ok:
            if run.strategy == name and not run.options.get("plain"):
                return run
    return ok[0] if ok else None


def folded(text: str, head: int = FOLD_HEAD_LINES, tail: int = FOLD_TAIL_LINES) -> list[Text]:
    """``text``'s first and last lines, with how many lines between them are hidden; the
    whole text when hiding would save less than two lines."""
    lines = text.rstrip("\n").split("\n")
    hidden = len(lines) - head - tail
    if hidden < 2:
        return [Text("\n".join(lines))]
    note = f"… {hidden:,} lines hidden (--output all shows them) …"
    return [
        Text("\n".join(lines[:head])),
        Text(note, style="dim"),
        Text("\n".join(lines[-tail:])),
    ]


def _print_output(console: Console, text: str, output: str) -> None:
    shown = [Text(text.rstrip("\n"))] if output == OUTPUT_ALL else folded(text)
    for part in shown:
        console.print(part, soft_wrap=True)


def render_output(
    console: Console, c: Comparison, raw_output: bool, output: str = OUTPUT_FOLDED
) -> None:
    run = output_run(c)
    if run is None or output == OUTPUT_NONE:
        return
    how = "as it was written, interleaved" if raw_output else "grouped by task"
    console.print(Text(f"\nOutput of the {strategy_label(run)} run, {how}:", style="bold"))
    if raw_output:
        writes = sorted((t, r.index, text) for r in run.records for t, text in r.output_chunks)
        _print_output(console, "".join(text for _, _, text in writes), output)
    else:
        for record in run.records:
            where = f" (pid {record.worker.pid})" if record.worker else ""
            console.print(Text(f"── {record.name}{where}", style="cyan"))
            _print_output(console, record.output, output)
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
    if env.get("free_threaded_build") and env.get("gil_enabled", True):
        gil = "free-threaded build, GIL re-enabled"
    console.print(
        Text(
            f"{env.get('implementation', 'Python')} {env.get('python', '?')} ({gil}) on "
            f"{env.get('cpu_model', '?')}, {env.get('usable_cpus', env.get('cpu_count', '?'))} usable cores, "
            f"{env.get('platform', '?')}",
            style="dim",
        )
    )


def render_results(
    console: Console, results: Results, raw_output: bool = False, output: str = OUTPUT_FOLDED
) -> None:
    render_environment(console, results.environment)
    for env in results.environments:
        console.print(Text(f"  measured under {environment_label(env)}", style="dim"))
    if not results.complete:
        console.print(
            Text("These results are incomplete: the run was interrupted.", style="yellow")
        )
    for c in results.comparisons:
        console.print()
        env = results.environment_of(c)
        if c.environment is not None:
            console.print(Text(f"Under {environment_label(env)}:", style="bold magenta"))
        if c.runs:
            render(console, c, raw_output, cores=env.get("usable_cpus"), output=output)
        if c.advice is not None:
            from conlab.report import advice

            console.print()
            advice.render(console, c.advice)
    if len(results.environments) > 1:
        console.print()
        console.print(side_by_side_table(results))


def environment_label(env: dict[str, object]) -> str:
    """``CPython 3.13.0t (free-threaded build, GIL disabled)``, ``CPython 3.12.1 (GIL)``."""
    free = bool(env.get("free_threaded_build"))
    version = f"{env.get('implementation', 'Python')} {env.get('python', '?')}{'t' if free else ''}"
    if free:
        gil = "GIL disabled" if not env.get("gil_enabled", True) else "GIL re-enabled"
        return f"{version} (free-threaded build, {gil})"
    return f"{version} (GIL)"


_THREADED = ("threads", "thread-pool")


def side_by_side_table(results: Results) -> columns.Fitted:
    """One row per comparison and strategy, one column per interpreter: wall time and speed-up."""
    envs = results.environments
    per_env: list[list[Comparison]] = [[] for _ in envs]
    for c in results.comparisons:
        if c.environment is not None:
            per_env[c.environment].append(c)
    labels = [environment_label(env) for env in envs]
    table_columns = [
        Column("comparison", justify="left", wrap=True),
        Column("strategy", justify="left"),
        *(Column(label, label.replace(" (", "\n("), wrap=True) for label in labels),
    ]
    rows: list[dict[str, Cell]] = []
    for j, first in enumerate(per_env[0] if per_env else []):
        for n, run in enumerate(first.runs):
            row: dict[str, Cell] = {
                "comparison": (first.title or first.workload).split(":")[0] if n == 0 else "",
                "strategy": f"{strategy_label(run)}:{run.workers}",
            }
            for k, env in enumerate(envs):
                other = _same_run(per_env[k][j] if j < len(per_env[k]) else None, run)
                free = run.strategy in _THREADED and not env.get("gil_enabled", True)
                free = free and not (other is not None and gil.came_back(other.gil))
                row[labels[k]] = _cell(other) + (" free-threaded" if free else "")
            rows.append(row)
    return columns.Fitted("Side by side", [columns.Variant(table_columns, rows)])


def _same_run(c: Comparison | None, run: Run) -> Run | None:
    if c is None:
        return None
    for other in c.runs:
        if (strategy_label(other), other.workers) == (strategy_label(run), run.workers):
            return other
    return None


def _cell(run: Run | None) -> str:
    if run is None:
        return "—"
    if run.status != RUN_OK:
        return run.status
    wall = _num(run.median_wall_s)
    return f"{wall} s ({run.speedup:.2f}×)" if run.speedup else f"{wall} s"
