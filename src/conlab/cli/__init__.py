"""The command line: argument parsing only; the work is done by the API and the reporters."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

from conlab.errors import ConlabError, UsageError, format_error

if TYPE_CHECKING:
    from rich.console import Console

    from conlab.model import Comparison, Results, Workload
    from conlab.strategies import Strategy

EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """Bad input gets one line saying what is wrong and where to look, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {_one_line(message)} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _one_line(text: str) -> str:
    """The text with control characters escaped (a newline in a path must not split the line)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    parse.__name__ = "count"
    return parse


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def build_parser() -> argparse.ArgumentParser:
    from conlab._version import __version__

    parser = _Parser(
        prog="conlab",
        description="A concurrency lab for Python: run one workload "
        "under every concurrency model, measure it honestly, and see what to use.",
    )
    parser.add_argument("--version", action="version", version=f"conlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    demo = sub.add_parser(
        "demo",
        help="the threads-vs-processes lesson, measured on this machine",
        description="The classic lesson in four parts: waiting work, computing "
        "work, what the lesson's notebook hit, and the lesson's table, measured on this machine.",
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help="short sleeps, small tasks, few repeats: the whole demo in seconds",
    )
    _measure_options(demo, "(default 3, or 2 with --quick)", clusters=False)
    _output_options(demo)
    demo.set_defaults(func=_cmd_demo, measure=_measure_demo)

    show = sub.add_parser("show", help="print the tables of a saved result file again")
    show.add_argument("file", metavar="FILE", help="a file written with --json")
    show.add_argument(
        "--raw-output", action="store_true", help="show output interleaved, as written"
    )
    _export_options(show)
    show.set_defaults(func=_cmd_show)
    _add_sweep(sub)
    _add_report(sub)

    diff = sub.add_parser(
        "diff",
        help="compare two saved result files: what got faster or slower, and why it may have",
        description="Ratio B/A of each workload x strategy, significant only when a "
        "Mann-Whitney U or Welch test says so and the ratio is at least --min-effect from 1; "
        "then the environment differences that could explain it.",
    )
    diff.add_argument("a", metavar="A", help="the baseline result file (--json)")
    diff.add_argument("b", metavar="B", help="the result file compared with it")
    diff.add_argument(
        "--min-effect",
        type=_percent,
        default=5.0,
        metavar="PERCENT",
        help="smallest change reported as significant (default 5)",
    )
    diff.add_argument(
        "--alpha", type=_fraction, default=0.05, metavar="P", help="significance level (0.05)"
    )
    diff.set_defaults(func=_cmd_diff)

    _add_compare_commands(sub)
    _add_map(sub)
    _add_advise(sub)
    _add_explain(sub)
    return parser


def _add_compare_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``compare``, and ``workloads`` and ``strategies`` that list what it can run."""
    compare = sub.add_parser(
        "compare",
        help="run a workload, or your module:function, under every strategy and compare",
        description="Run WORKLOAD (a catalogue name, see 'conlab workloads', or your own "
        "module:function) under each strategy, repeated, check every run, and compare.",
    )
    compare.add_argument("workload", metavar="WORKLOAD", help="a catalogue name or module:function")
    compare.add_argument(
        "--strategies",
        metavar="LIST",
        help="comma-separated, each name or name:workers (default: every strategy, "
        "see 'conlab strategies'; dask and ray only with --scheduler / --ray-address)",
    )
    compare.add_argument(
        "--workers",
        type=_count(1),
        metavar="N",
        help="workers of pooled strategies named without a count (default: usable cores)",
    )
    _workload_options(compare)
    _measure_options(compare)
    _output_options(compare)
    compare.set_defaults(func=_cmd_compare, measure=_measure_compare)

    workloads = sub.add_parser("workloads", help="list the workload catalogue")
    workloads.set_defaults(func=_cmd_workloads)
    strategies = sub.add_parser("strategies", help="list the strategies and whether they run here")
    strategies.set_defaults(func=_cmd_strategies)


def _counts(text: str) -> list[int]:
    """``1,2,4,8``: whole numbers of at least 1."""
    parse = _count(1)
    values = [parse(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, not {text!r}")
    return values


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="speed-up and efficiency of one strategy against workers, with Amdahl's fit",
        description="Run WORKLOAD under one pooled strategy with each worker count (and "
        "each amount of work with --tasks), beside a sequential reference.",
    )
    sweep.add_argument("workload", metavar="WORKLOAD", help="a workload name, e.g. cpu or seed")
    sweep.add_argument(
        "--strategy", required=True, metavar="NAME", help="a pooled strategy: thread-pool, ..."
    )
    sweep.add_argument(
        "--workers", type=_counts, default=None, metavar="N,N,...", help="default 1,2,4,8"
    )
    sweep.add_argument(
        "--tasks", type=_counts, metavar="N,N,...", help="amounts of work (number of tasks)"
    )
    _measure_options(sweep, "(default 3)")
    _output_options(sweep)
    sweep.set_defaults(func=_cmd_sweep)


def _add_report(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="draw a saved result file: HTML report, plot, or trace",
        description="Read a file written with --json and write an HTML report, a plot or a trace.",
    )
    report.add_argument("file", metavar="FILE", help="a file written with --json")
    _picture_options(report)
    report.set_defaults(func=_cmd_report)


def _add_advise(sub: argparse._SubParsersAction[_Parser]) -> None:
    advise = sub.add_parser(
        "advise",
        help="probe a workload, predict every strategy here, recommend one and check it",
        description="Probe a small sample of WORKLOAD (task duration, waiting, GIL, pickling), "
        "predict the wall time of every strategy and worker count on this machine, recommend "
        "one, then run the recommendation and the runner-up to show predicted against measured.",
    )
    advise.add_argument("workload", metavar="WORKLOAD", help="a catalogue name or module:function")
    _workload_options(advise)
    advise.add_argument(
        "--workers", type=_count(1), metavar="N", help="predict pools with N workers only"
    )
    advise.add_argument(
        "--strategies", metavar="A,B", help="consider only these strategies (default: all)"
    )
    advise.add_argument(
        "--no-verify", action="store_true", help="predict only; do not run the workload"
    )
    advise.add_argument(
        "--explain-model", action="store_true", help="print the prediction model in one paragraph"
    )
    _measure_options(advise, "when verifying (default 3)", clusters=False)
    _output_options(advise)
    advise.set_defaults(func=_cmd_advise)


def _add_explain(sub: argparse._SubParsersAction[_Parser]) -> None:
    explain = sub.add_parser(
        "explain",
        help="the lesson's threads-vs-processes table, every cell measured now",
        description="The lesson's table (runs truly parallel? shares memory? best for? risk? "
        "speed for CPU tasks?) and the rows it lacks, each cell backed by a measurement "
        "made now on this machine, and the rule of thumb as measured here.",
    )
    explain.add_argument("--quick", action="store_true", help="smaller measurements: a few seconds")
    explain.add_argument(
        "--start-method",
        choices=_start_methods(),
        metavar="METHOD",
        help=f"how process strategies start children: {', '.join(_start_methods())}",
    )
    _output_options(explain)
    explain.set_defaults(func=_cmd_explain)


def _workload_options(p: argparse.ArgumentParser) -> None:
    """How the workload is given: --param for a catalogue name, --inputs or --range for module:function."""
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the workload (repeatable); see 'conlab workloads'",
    )
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument(
        "--inputs",
        metavar="FILE",
        help='for module:function, a JSON list: one argument per call, or {"args": [...], '
        '"kwargs": {...}}',
    )
    inputs.add_argument(
        "--range", type=_count(1), metavar="N", help="for module:function, call it on 0 .. N-1"
    )


def _measure_options(
    p: argparse.ArgumentParser, repeats_help: str = "(default 5)", clusters: bool = True
) -> None:
    """Options of every command that measures; ``clusters`` adds where dask and ray connect."""
    p.add_argument(
        "--repeats", type=_count(1), metavar="N", help=f"timed runs of each strategy {repeats_help}"
    )
    p.add_argument("--warmup", type=_count(0), metavar="N", help="untimed runs first (default 1)")
    p.add_argument(
        "--start-method",
        choices=_start_methods(),
        metavar="METHOD",
        help=f"how process strategies start children: {', '.join(_start_methods())}",
    )
    if clusters:
        p.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help="the dask strategy uses the Dask scheduler at ADDRESS (tcp://HOST:PORT) "
            "instead of starting a LocalCluster",
        )
        p.add_argument(
            "--ray-address",
            metavar="ADDRESS",
            help="the ray strategy joins the Ray cluster at ADDRESS instead of a local ray.init",
        )
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="stop a task running longer than S seconds and record it as timeout "
        "(in-process strategies then run in a sandbox process). A strategy whose run "
        "fails (a timeout, a crash, an error) is not run again, so the worst case is about "
        "ceil(tasks / workers) x S per strategy, plus start-up",
    )
    isolation = p.add_mutually_exclusive_group()
    isolation.add_argument(
        "--isolate",
        action="store_true",
        default=None,
        help="run catalogue workloads in a sandbox process too (your own code always is, "
        "so that a task that crashes or exits cannot take conlab down)",
    )
    isolation.add_argument(
        "--in-process",
        action="store_false",
        dest="isolate",
        help="run your code in conlab's own process under in-process strategies "
        "(sequential, threads, ...): nothing is pickled, but a crash ends conlab",
    )
    _python_option(p)


def _python_option(p: argparse.ArgumentParser) -> None:
    """--python: the command's measurement under other interpreters, side by side."""
    p.add_argument(
        "--python",
        action="append",
        metavar="PATH",
        help="measure under the Python at PATH (repeat for several: shown side by side); "
        "conlab runs there from this package's source, with the standard library only",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def _output_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that shows results."""
    p.add_argument(
        "--json", metavar="PATH", help="write the results to PATH (schema conlab.results/1)"
    )
    _export_options(p)
    p.add_argument(
        "--raw-output",
        action="store_true",
        help="show the tasks' output interleaved as it was written, not grouped by task",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _picture_options(p)


def _picture_options(p: argparse.ArgumentParser) -> None:
    """Where to draw the results: an HTML report, a plot, a Chrome trace."""
    p.add_argument(
        "--html", metavar="PATH", help="write a self-contained HTML report (tables, timelines)"
    )
    p.add_argument(
        "--plot", metavar="PATH", help="draw speed-ups and timelines to PATH (.png or .svg)"
    )
    p.add_argument(
        "--trace",
        metavar="PATH",
        help="write the timelines as Chrome trace-event JSON (opens in Perfetto)",
    )


def _check_pictures(args: argparse.Namespace) -> None:
    """Fail before measuring when a picture could not be written."""
    for name in ("html", "plot", "trace"):
        _check_writable(getattr(args, name, None))
    if getattr(args, "plot", None):
        from conlab.report import plot

        plot.check(args.plot)


def _write_pictures(args: argparse.Namespace, results: Results, console: Console) -> None:
    from conlab.report import html, plot, trace

    writers = (("html", html.write), ("plot", plot.plot), ("trace", trace.write))
    for name, write in writers:
        path = getattr(args, name, None)
        if path:
            write(results, path)
            console.print(
                f"{'HTML report' if name == 'html' else name.capitalize()} written to {path}"
            )


def _wants_progress(console: Console, args: argparse.Namespace) -> bool:
    """A progress bar only on a terminal, and never with --quiet."""
    return console.is_terminal and not getattr(args, "quiet", False)


def _export_options(p: argparse.ArgumentParser) -> None:
    """--markdown and --csv: the same results as tables for a README, an issue or a spreadsheet."""
    p.add_argument("--markdown", metavar="PATH", help="write the results as Markdown tables")
    p.add_argument("--csv", metavar="PATH", help="write the results as CSV, one row per strategy")


def _output_paths(args: argparse.Namespace) -> list[str]:
    return [p for p in (getattr(args, k, None) for k in ("json", "markdown", "csv")) if p]


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before measuring, not after, when an output file cannot be written."""
    for path in _output_paths(args):
        _check_writable(path)
    _check_pictures(args)


def _write_outputs(args: argparse.Namespace, results: Results) -> None:
    """Write every file asked for (--json, --markdown, --csv); called after each round."""
    from conlab import resultfile
    from conlab.report import csv, markdown

    if getattr(args, "json", None):
        resultfile.write(results, args.json)
    if getattr(args, "markdown", None):
        resultfile.write_text(markdown.render(results), args.markdown)
    if getattr(args, "csv", None):
        resultfile.write_text(csv.render(results), args.csv)


def _console() -> Console:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped to a file or a CI log: nothing to fit, so keep every column.
        console = Console(highlight=False, width=140)
    return console


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[object]:
    """A progress bar on a terminal; nothing when output is piped or --quiet is given."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("measuring", total=None)

        def update(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"measuring {label}")

        yield update


def _check_writable(path: str | None) -> None:
    if path is None:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a directory")


def _measure_demo(args: argparse.Namespace) -> Results:
    """The demo's measurement alone, no report: what a --python child runs."""
    from conlab.lesson.demo import DemoSettings, parts
    from conlab.measure import environment
    from conlab.model import Comparison, Results

    settings = DemoSettings(
        quick=args.quick,
        repeats=args.repeats,
        warmup=args.warmup,
        start_method=args.start_method,
        timeout_s=args.timeout,
        isolate=args.isolate,
    )
    results = Results(environment.collect())
    for part in parts(settings):
        outcome = part()
        if isinstance(outcome, Comparison):
            results.comparisons.append(outcome)
        else:
            results.comparisons.extend(outcome.comparisons())
    return results


def _cmd_elsewhere(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Any measuring command with --python: run its measurement under each interpreter, merge, show."""
    from conlab.cli import pythons
    from conlab.report import terminal

    if getattr(args, "measure", None) is None:
        raise UsageError(f"--python is not supported by 'conlab {args.command}'")
    _check_outputs(args)
    interpreters = [pythons.inspect_python(path) for path in args.python]
    console = _console()
    if console.is_terminal and not args.quiet:
        console.print(f"Measuring under {', '.join(i.label for i in interpreters)}, one at a time")
    results = pythons.measure_under(interpreters, pythons.strip_python_options(argv))
    terminal.render_results(console, results, raw_output=args.raw_output)
    _write_outputs(args, results)
    for path in _output_paths(args):
        console.print(f"\nResults written to {path}")
    _write_pictures(args, results, console)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from conlab.model import Results

    results = Results({}, complete=False)
    try:
        return _run_demo(args, results)
    except KeyboardInterrupt as exc:
        _save_interrupted(results, exc, args)
        raise


def _run_demo(args: argparse.Namespace, results: Results) -> int:
    from conlab.lesson.demo import DemoSettings, parts
    from conlab.measure import environment
    from conlab.model import Comparison
    from conlab.report import explain as explain_report
    from conlab.report import terminal

    _check_outputs(args)
    settings = DemoSettings(
        quick=args.quick,
        repeats=args.repeats,
        warmup=args.warmup,
        start_method=args.start_method,
        timeout_s=args.timeout,
        isolate=args.isolate,
    )
    console = _console()
    results.environment = environment.collect()
    terminal.render_environment(console, results.environment)
    show_progress = _wants_progress(console, args)
    done: list[Comparison] = []

    # Results are written after each round, marked incomplete, because an interrupted
    # demo would otherwise lose every comparison that completed.
    def on_update(partial: Comparison) -> None:
        results.comparisons = [*done, partial]
        _write_outputs(args, results)

    cores = results.environment.get("usable_cpus")
    with _progress(show_progress) as progress:
        for part in parts(settings, progress, on_update if _output_paths(args) else None):  # type: ignore[arg-type]
            outcome = part()
            if isinstance(outcome, Comparison):
                done.append(outcome)
            else:
                done.extend(outcome.comparisons())
            results.comparisons = list(done)
            _write_outputs(args, results)
            console.print()
            if isinstance(outcome, Comparison):
                terminal.render(console, outcome, raw_output=args.raw_output, cores=cores)
            else:
                explain_report.render(console, outcome)
    results.complete = True
    _write_outputs(args, results)
    for path in _output_paths(args):
        console.print(f"\nResults written to {path}")
    _write_pictures(args, results, console)
    return 0


def _compare_plan(args: argparse.Namespace) -> tuple[Workload, list[Strategy]]:
    """The workload and strategies ``conlab compare`` was asked for, checked before measuring."""
    from conlab.api import strategy_list

    chosen = strategy_list(
        args.strategies.split(",") if args.strategies else None,
        args.workers,
        args.start_method,
        scheduler=args.scheduler,
        ray_address=args.ray_address,
        timeout_s=args.timeout,
        isolate=args.isolate,
    )
    return _workload_from_args(args), chosen


def _measure_compare(args: argparse.Namespace) -> Results:
    """compare's measurement alone, no report: what a --python child runs."""
    from conlab.lab.compare import compare
    from conlab.measure import environment
    from conlab.model import Results

    workload, chosen = _compare_plan(args)
    results = Results(environment.collect())
    results.comparisons.append(compare(workload, chosen, *_repeats_warmup(args)))
    return results


def _repeats_warmup(args: argparse.Namespace) -> tuple[int, int]:
    return (
        args.repeats if args.repeats is not None else 5,
        args.warmup if args.warmup is not None else 1,
    )


def _cmd_compare(args: argparse.Namespace) -> int:
    from conlab.lab.compare import compare
    from conlab.measure import environment
    from conlab.model import Results
    from conlab.report import terminal

    _check_outputs(args)
    workload, chosen = _compare_plan(args)
    console = _console()
    results = Results(environment.collect(), complete=False)
    terminal.render_environment(console, results.environment)

    # Written after each round, marked incomplete, so an interrupted run keeps what completed.
    def on_update(partial: Comparison) -> None:
        results.comparisons = [partial]
        _write_outputs(args, results)

    with _progress(console.is_terminal and not args.quiet) as progress:
        comparison = compare(
            workload,
            chosen,
            *_repeats_warmup(args),
            progress=progress,  # type: ignore[arg-type]
            on_update=on_update if _output_paths(args) else None,
        )
    results.comparisons = [comparison]
    results.complete = True
    _write_outputs(args, results)
    console.print()
    terminal.render(
        console,
        comparison,
        raw_output=args.raw_output,
        cores=results.environment.get("usable_cpus"),
    )
    for path in _output_paths(args):
        console.print(f"\nResults written to {path}")
    _write_pictures(args, results, console)
    return 0


def _cmd_workloads(args: argparse.Namespace) -> int:
    from conlab.workloads import CATALOGUE, params, unavailable_reason

    for name, make in CATALOGUE.items():
        doc = (make.__doc__ or "").strip().splitlines()[0].replace("``", "") if make.__doc__ else ""
        keys = " ".join(
            f"{k}={'auto' if v is None else v}" for k, v in params.defaults(make).items()
        )
        reason = unavailable_reason(name)
        kind = _workload_kind(name)
        line = f"{name:<7} {kind:<9} {doc}"
        print(line)
        print(f"{'':<17} params: {keys}" + (f"; NOT AVAILABLE here: {reason}" if reason else ""))
    print("\nYour own code: conlab compare mypkg.mod:func --inputs items.json (or --range N)")
    return 0


def _workload_kind(name: str) -> str:
    from conlab.workloads import KINDS

    return KINDS.get(name, "?")


def _cmd_strategies(args: argparse.Namespace) -> int:
    from conlab.strategies import REGISTRY

    for name, cls in REGISTRY.items():
        reason = cls().unavailable_reason()
        note = f"  NOT AVAILABLE here: {reason}" if reason else ""
        if cls.wants_async:
            note += "  (runs workloads with an async variant)"
        print(f"{name:<13} {cls.description}{note}")
    return 0


def _save_interrupted(results: Results, exc: KeyboardInterrupt, args: argparse.Namespace) -> None:
    """Ctrl-C: write what completed, with the part in progress as far as it got, marked incomplete."""
    from conlab.errors import Interrupted

    if isinstance(exc, Interrupted):
        # The part in progress replaces its last written state (from the last round).
        title = exc.partial.title
        results.comparisons = [c for c in results.comparisons if c.title != title or not title]
        results.comparisons.append(exc.partial)
    results.complete = False
    with contextlib.suppress(OSError):
        _write_outputs(args, results)
        if getattr(args, "json", None):
            exc.saved_to = args.json  # type: ignore[attr-defined]


def _workload_from_args(args: argparse.Namespace) -> Workload:
    """A catalogue name with its --param, or module:function with --inputs or --range."""
    from conlab.workloads import build, factory, params
    from conlab.workloads.user import is_target, load

    if is_target(args.workload):
        return load(args.workload, args.inputs, args.range, args.param)
    if args.inputs is not None or args.range is not None:
        raise UsageError("--inputs and --range are for module:function, not catalogue workloads")
    make = factory(args.workload)
    return build(args.workload, **params.parse(f"the {args.workload} workload", make, args.param))


def _cmd_advise(args: argparse.Namespace) -> int:
    from conlab.advice import advise
    from conlab.measure import environment
    from conlab.model import Comparison, Results
    from conlab.report import advice as advice_report
    from conlab.report import terminal

    if args.timeout is not None or args.isolate:
        # The probe runs tasks in this process; it has no sandbox to honour these in.
        raise UsageError(
            "advise does not take --timeout or --isolate yet: "
            "use them with 'conlab compare' on the strategies advise names"
        )
    _check_outputs(args)
    workload = _workload_from_args(args)
    strategies = None
    if args.strategies is not None:
        strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
        if not strategies:
            raise UsageError("--strategies needs at least one name, e.g. thread-pool,process-pool")
    console = _console()
    env = environment.collect()
    terminal.render_environment(console, env)
    with _progress(console.is_terminal and not args.quiet) as progress:
        result = advise(
            workload,
            workers=args.workers,
            strategies=strategies,
            start_method=args.start_method,
            verify=not args.no_verify,
            repeats=args.repeats or 3,
            warmup=1 if args.warmup is None else args.warmup,
            progress=progress,  # type: ignore[arg-type]
        )
    comparison = result.comparison
    if comparison is None:
        comparison = Comparison(
            workload=workload.name,
            kind=workload.kind,
            tasks=len(workload.tasks),
            params=dict(workload.params),
            repeats=0,
            warmup=0,
            title=f"Advice for {workload.name} (not verified)",
            advice=result.to_dict(),
        )
    else:
        console.print()
        terminal.render(
            console, comparison, raw_output=args.raw_output, cores=env.get("usable_cpus")
        )
    console.print()
    advice_report.render(console, result.to_dict(), model=args.explain_model)
    _write_outputs(args, Results(env, [comparison]))
    for path in _output_paths(args):
        console.print(f"\nResults written to {path}")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from conlab.lesson import table as explain
    from conlab.measure import environment
    from conlab.model import Results
    from conlab.report import explain as explain_report
    from conlab.report import terminal

    _check_outputs(args)
    console = _console()
    env = environment.collect()
    terminal.render_environment(console, env)
    with _progress(console.is_terminal and not args.quiet) as progress:
        lesson = explain.measure(
            quick=args.quick,
            start_method=args.start_method,
            progress=progress,  # type: ignore[arg-type]
        )
    console.print()
    explain_report.render(console, lesson)
    _write_outputs(args, Results(env, lesson.comparisons()))
    for path in _output_paths(args):
        console.print(f"\nResults written to {path}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from conlab import resultfile
    from conlab.report import terminal

    for path in (args.markdown, args.csv):
        _check_writable(path)
    results = resultfile.load(args.file)
    # Files first: a reader that stops early (conlab show | head) must not cost them.
    args.json = None
    _write_outputs(args, results)
    terminal.render_results(_console(), results, raw_output=args.raw_output)
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from conlab.lab.sweep import sweep
    from conlab.measure import environment
    from conlab.model import Results
    from conlab.report.text import fit_sentence, sweep_table

    _check_outputs(args)
    console = _console()
    results = Results(environment.collect())
    with _progress(_wants_progress(console, args)) as progress:
        result = sweep(
            args.workload,
            args.strategy,
            args.workers or [1, 2, 4, 8],
            tasks=args.tasks,
            repeats=args.repeats or 3,
            warmup=1 if args.warmup is None else args.warmup,
            start_method=args.start_method,
            progress=progress,  # type: ignore[arg-type]
            scheduler=args.scheduler,
            ray_address=args.ray_address,
            timeout_s=args.timeout,
            isolate=args.isolate,
        )
    results.comparisons = list(result.comparisons)
    console.print(sweep_table(result))
    for tasks in result.task_counts:
        console.print(f"{tasks} tasks: {fit_sentence(result, tasks)}")
    _write_outputs(args, results)
    for path in _output_paths(args):
        console.print(f"Results written to {path}")
    _write_pictures(args, results, console)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from conlab import resultfile

    if not (args.html or args.plot or args.trace):
        raise UsageError("say what to write: --html PATH, --plot PATH or --trace PATH")
    _check_pictures(args)
    results = resultfile.load(args.file)
    _write_pictures(args, results, _console())
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from conlab import resultfile
    from conlab.measure.diff import diff
    from conlab.report import diff as diff_report

    a, b = resultfile.load(args.a), resultfile.load(args.b)
    result = diff(a, b, min_effect=args.min_effect / 100, alpha=args.alpha)
    diff_report.render(_console(), result, args.a, args.b)
    return 0


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, not {text!r}") from None
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"must be a percentage from 0, not {value}")
    return value


def _add_map(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "map",
        help="run module:function over JSON lines on stdin, JSON lines on stdout",
        description="Each line of stdin is one JSON item; each line of stdout is fn(item), "
        "in input order. What the function prints goes to stderr.",
    )
    p.add_argument(
        "function", metavar="MODULE:FUNCTION", help="the function, e.g. mypkg.tasks:resize"
    )
    p.add_argument("--strategy", default="auto", help="a strategy name, or auto (default)")
    p.add_argument("--workers", type=_count(1), metavar="N", help="worker threads or processes")
    p.add_argument(
        "--chunksize", type=_count(1), metavar="N", help="items per chunk (default: auto)"
    )
    p.add_argument("--unordered", action="store_true", help="results as they finish")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds an item may run")
    p.add_argument(
        "--retries", type=_count(0), default=0, metavar="N", help="re-runs after a crash"
    )
    p.add_argument(
        "--errors",
        choices=("raise", "collect"),
        default="raise",
        help="raise: stop at the first failed item; collect: write {index, status, error} in its place",
    )
    p.add_argument(
        "--max-threads",
        type=_count(1),
        metavar="N",
        help="auto: at most N threads for waiting work",
    )
    p.add_argument("--quiet", action="store_true", help="do not say what auto chose and why")
    p.set_defaults(func=_cmd_map)


def _cmd_map(args: argparse.Namespace) -> int:
    import conlab.engine as engine
    from conlab.engine import jsonlines
    from conlab.workloads.user import load_callable

    fn = load_callable(args.function)
    out = jsonlines.private_stdout()
    results = engine.map(
        fn,
        jsonlines.read_items(sys.stdin),
        strategy=args.strategy,
        workers=args.workers,
        chunksize=args.chunksize or "auto",
        ordered=not args.unordered,
        timeout=args.timeout,
        retries=args.retries,
        errors=args.errors,
        max_threads=args.max_threads,
    )
    with results, jsonlines.telling(args.quiet):
        try:
            jsonlines.write_results(iter(results), out)
        except ConlabError:
            raise
        except Exception as exc:
            index = getattr(exc, "conlab_index", "?")
            text = format_error(exc)
            raise ConlabError(
                f"item {index} failed: {text} (use --errors collect to go on)"
            ) from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "python", None):
            return _cmd_elsewhere(args, sys.argv[1:] if argv is None else argv)
        return int(args.func(args))
    except ConlabError as exc:
        sys.stderr.write(f"conlab: error: {_one_line(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        saved = getattr(exc, "saved_to", None)
        sys.stderr.write(
            "conlab: interrupted" + (f"; what completed is in {saved}\n" if saved else "\n")
        )
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (conlab ... | head): not an error of ours.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
