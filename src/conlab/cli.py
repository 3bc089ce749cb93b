"""The command line: argument parsing only; the work is done by the API and the reporters."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

from conlab.errors import ConlabError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from conlab.model import Comparison, Results, Workload
    from conlab.strategies import Strategy

EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """Bad input gets one line saying what is wrong and where to look, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


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
    from conlab import __version__

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
    demo.add_argument(
        "--repeats",
        type=_count(1),
        metavar="N",
        help="timed runs of each strategy (default 3, or 2 with --quick)",
    )
    demo.add_argument(
        "--warmup", type=_count(0), metavar="N", help="untimed runs first (default 1)"
    )
    demo.add_argument(
        "--start-method",
        choices=_start_methods(),
        metavar="METHOD",
        help=f"how process strategies start children: {', '.join(_start_methods())}",
    )
    _python_option(demo)
    _output_options(demo)
    demo.set_defaults(func=_cmd_demo, measure=_measure_demo)

    show = sub.add_parser("show", help="print the tables of a saved result file again")
    show.add_argument("file", metavar="FILE", help="a file written with --json")
    show.add_argument(
        "--raw-output", action="store_true", help="show output interleaved, as written"
    )
    _export_options(show)
    show.set_defaults(func=_cmd_show)

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
        "see 'conlab strategies')",
    )
    compare.add_argument(
        "--workers",
        type=_count(1),
        metavar="N",
        help="workers of pooled strategies named without a count (default: usable cores)",
    )
    compare.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the workload (repeatable); see 'conlab workloads'",
    )
    inputs = compare.add_mutually_exclusive_group()
    inputs.add_argument(
        "--inputs",
        metavar="FILE",
        help='for module:function, a JSON list: one argument per call, or {"args": [...], '
        '"kwargs": {...}}',
    )
    inputs.add_argument(
        "--range", type=_count(1), metavar="N", help="for module:function, call it on 0 .. N-1"
    )
    _measure_options(compare)
    _output_options(compare)
    compare.set_defaults(func=_cmd_compare, measure=_measure_compare)

    workloads = sub.add_parser("workloads", help="list the workload catalogue")
    workloads.set_defaults(func=_cmd_workloads)
    strategies = sub.add_parser("strategies", help="list the strategies and whether they run here")
    strategies.set_defaults(func=_cmd_strategies)


def _add_advise(sub: argparse._SubParsersAction[_Parser]) -> None:
    advise = sub.add_parser(
        "advise",
        help="probe a workload, predict every strategy here, recommend one and check it",
        description="Probe a small sample of WORKLOAD (task duration, waiting, GIL, pickling), "
        "predict the wall time of every strategy and worker count on this machine, recommend "
        "one, then run the recommendation and the runner-up to show predicted against measured.",
    )
    advise.add_argument("workload", metavar="WORKLOAD", help="a catalogue name or module:function")
    advise.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the workload (repeatable); see 'conlab workloads'",
    )
    inputs = advise.add_mutually_exclusive_group()
    inputs.add_argument(
        "--inputs",
        metavar="FILE",
        help='for module:function, a JSON list: one argument per call, or {"args": [...], '
        '"kwargs": {...}}',
    )
    inputs.add_argument(
        "--range", type=_count(1), metavar="N", help="for module:function, call it on 0 .. N-1"
    )
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
    _measure_options(advise, "when verifying (default 3)")
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


def _measure_options(p: argparse.ArgumentParser, repeats_help: str = "(default 5)") -> None:
    """Options of every command that measures."""
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


def _write_outputs(args: argparse.Namespace, results: Results) -> None:
    """Write every file asked for (--json, --markdown, --csv); called after each round."""
    from conlab.report import csv, markdown, resultfile

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
    from conlab.demo import DemoSettings, parts
    from conlab.measure import environment
    from conlab.model import Comparison, Results

    settings = DemoSettings(
        quick=args.quick, repeats=args.repeats, warmup=args.warmup, start_method=args.start_method
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
    from conlab import pythons
    from conlab.report import resultfile, terminal

    if getattr(args, "measure", None) is None:
        raise UsageError(f"--python is not supported by 'conlab {args.command}'")
    _check_writable(args.json)
    interpreters = [pythons.inspect_python(path) for path in args.python]
    console = _console()
    if console.is_terminal and not args.quiet:
        console.print(f"Measuring under {', '.join(i.label for i in interpreters)}, one at a time")
    results = pythons.measure_under(interpreters, pythons.strip_python_options(argv))
    terminal.render_results(console, results, raw_output=args.raw_output)
    if args.json:
        resultfile.write(results, args.json)
        console.print(f"\nResults written to {args.json}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from conlab.demo import DemoSettings, parts
    from conlab.measure import environment
    from conlab.model import Comparison, Results
    from conlab.report import explain as explain_report
    from conlab.report import terminal

    _check_outputs(args)
    settings = DemoSettings(
        quick=args.quick, repeats=args.repeats, warmup=args.warmup, start_method=args.start_method
    )
    console = _console()
    results = Results(environment.collect(), complete=False)
    terminal.render_environment(console, results.environment)
    show_progress = console.is_terminal and not args.quiet
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
    return 0


def _compare_plan(args: argparse.Namespace) -> tuple[Workload, list[Strategy]]:
    """The workload and strategies ``conlab compare`` was asked for, checked before measuring."""
    from conlab.api import strategy_list
    from conlab.workloads import build, factory, params
    from conlab.workloads.user import is_target, load

    chosen = strategy_list(
        args.strategies.split(",") if args.strategies else None,
        args.workers,
        args.start_method,
        scheduler=args.scheduler,
        ray_address=args.ray_address,
    )
    if is_target(args.workload):
        return load(args.workload, args.inputs, args.range, args.param), chosen
    if args.inputs is not None or args.range is not None:
        raise UsageError("--inputs and --range are for module:function, not catalogue workloads")
    make = factory(args.workload)
    workload = build(
        args.workload, **params.parse(f"the {args.workload} workload", make, args.param)
    )
    return workload, chosen


def _measure_compare(args: argparse.Namespace) -> Results:
    """compare's measurement alone, no report: what a --python child runs."""
    from conlab.measure import environment
    from conlab.measure.lab import compare
    from conlab.model import Results

    workload, chosen = _compare_plan(args)
    results = Results(environment.collect())
    results.comparisons.append(compare(workload, chosen, *_counts(args)))
    return results


def _counts(args: argparse.Namespace) -> tuple[int, int]:
    return (
        args.repeats if args.repeats is not None else 5,
        args.warmup if args.warmup is not None else 1,
    )


def _cmd_compare(args: argparse.Namespace) -> int:
    from conlab.measure import environment
    from conlab.measure.lab import compare
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
            *_counts(args),
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
        if getattr(cls, "wants_async", False):
            note += "  (runs workloads with an async variant)"
        print(f"{name:<13} {cls.description}{note}")
    return 0


def _advise_workload(args: argparse.Namespace) -> Workload:
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

    _check_outputs(args)
    workload = _advise_workload(args)
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
    from conlab import explain
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
    from conlab.report import resultfile, terminal

    for path in (args.markdown, args.csv):
        _check_writable(path)
    results = resultfile.load(args.file)
    # Files first: a reader that stops early (conlab show | head) must not cost them.
    args.json = None
    _write_outputs(args, results)
    terminal.render_results(_console(), results, raw_output=args.raw_output)
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from conlab.measure.diff import diff
    from conlab.report import diff as diff_report
    from conlab.report import resultfile

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "python", None):
            return _cmd_elsewhere(args, sys.argv[1:] if argv is None else argv)
        return int(args.func(args))
    except ConlabError as exc:
        sys.stderr.write(f"conlab: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("conlab: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (conlab ... | head): not an error of ours.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
