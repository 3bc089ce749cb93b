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

    from conlab.model import Workload

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
    _output_options(demo)
    demo.set_defaults(func=_cmd_demo)

    show = sub.add_parser("show", help="print the tables of a saved result file again")
    show.add_argument("file", metavar="FILE", help="a file written with --json")
    show.add_argument(
        "--raw-output", action="store_true", help="show output interleaved, as written"
    )
    show.set_defaults(func=_cmd_show)
    _add_advise(sub)
    _add_explain(sub)
    return parser


def _add_advise(sub: argparse._SubParsersAction[_Parser]) -> None:
    advise = sub.add_parser(
        "advise",
        help="probe a workload, predict every strategy here, recommend one and check it",
        description="Probe a small sample of WORKLOAD (task duration, waiting, GIL, pickling), "
        "predict the wall time of every strategy and worker count on this machine, recommend "
        "one, then run the recommendation and the runner-up to show predicted against measured.",
    )
    advise.add_argument("workload", metavar="WORKLOAD", help="a catalogue name (seed, cpu, ...)")
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


def _output_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that shows results."""
    p.add_argument(
        "--json", metavar="PATH", help="write the results to PATH (schema conlab.results/1)"
    )
    p.add_argument(
        "--raw-output",
        action="store_true",
        help="show the tasks' output interleaved as it was written, not grouped by task",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


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


def _cmd_demo(args: argparse.Namespace) -> int:
    from conlab.demo import DemoSettings, parts
    from conlab.measure import environment
    from conlab.model import Comparison, Results
    from conlab.report import explain as explain_report
    from conlab.report import resultfile, terminal

    _check_writable(args.json)
    settings = DemoSettings(
        quick=args.quick, repeats=args.repeats, warmup=args.warmup, start_method=args.start_method
    )
    console = _console()
    results = Results(environment.collect(), complete=False)
    terminal.render_environment(console, results.environment)
    show_progress = console.is_terminal and not args.quiet
    with _progress(show_progress) as progress:
        for part in parts(settings, progress):  # type: ignore[arg-type]
            outcome = part()
            if isinstance(outcome, Comparison):
                results.comparisons.append(outcome)
            else:
                results.comparisons.extend(outcome.comparisons())
            # Written after each part, marked incomplete, so an interrupted demo keeps what completed.
            if args.json:
                resultfile.write(results, args.json)
            console.print()
            if isinstance(outcome, Comparison):
                terminal.render(console, outcome, raw_output=args.raw_output)
            else:
                explain_report.render(console, outcome)
    results.complete = True
    if args.json:
        resultfile.write(results, args.json)
        console.print(f"\nResults written to {args.json}")
    return 0


def _advise_workload(name: str) -> Workload:
    """A catalogue name, or ``module:function`` where conlab.workloads.user can load it."""
    from conlab.workloads import build

    if ":" not in name:
        return build(name)
    import importlib

    try:
        user = importlib.import_module("conlab.workloads.user")
    except ModuleNotFoundError:
        raise UsageError(
            f"cannot load {name!r}: this conlab advises catalogue workloads only "
            "(module:function needs conlab.workloads.user)"
        ) from None
    workload: Workload = user.load(name)
    return workload


def _cmd_advise(args: argparse.Namespace) -> int:
    from conlab.advice import advise
    from conlab.measure import environment
    from conlab.model import Comparison, Results
    from conlab.report import advice as advice_report
    from conlab.report import resultfile, terminal

    _check_writable(args.json)
    workload = _advise_workload(args.workload)
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
        terminal.render(console, comparison, raw_output=args.raw_output)
    console.print()
    advice_report.render(console, result.to_dict(), model=args.explain_model)
    if args.json:
        resultfile.write(Results(env, [comparison]), args.json)
        console.print(f"\nResults written to {args.json}")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from conlab import explain
    from conlab.measure import environment
    from conlab.model import Results
    from conlab.report import explain as explain_report
    from conlab.report import resultfile, terminal

    _check_writable(args.json)
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
    if args.json:
        resultfile.write(Results(env, lesson.comparisons()), args.json)
        console.print(f"\nResults written to {args.json}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from conlab.report import resultfile, terminal

    results = resultfile.load(args.file)
    terminal.render_results(_console(), results, raw_output=args.raw_output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
