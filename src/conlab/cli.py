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
        description="The classic lesson in three parts: waiting work, computing "
        "work, and what the lesson's notebook hit, measured on this machine.",
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
    _add_map(sub)
    return parser


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
    from conlab.model import Results
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
            comparison = part()
            results.comparisons.append(comparison)
            # Written after each part, marked incomplete, so an interrupted demo keeps what completed.
            if args.json:
                resultfile.write(results, args.json)
            console.print()
            terminal.render(console, comparison, raw_output=args.raw_output)
    results.complete = True
    if args.json:
        resultfile.write(results, args.json)
        console.print(f"\nResults written to {args.json}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from conlab.report import resultfile, terminal

    results = resultfile.load(args.file)
    terminal.render_results(_console(), results, raw_output=args.raw_output)
    return 0


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
    p.set_defaults(func=_cmd_map)


def _cmd_map(args: argparse.Namespace) -> int:
    import conlab.engine as engine
    from conlab.engine import jsonlines

    fn = jsonlines.load_callable(args.function)
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
    )
    with results:
        try:
            jsonlines.write_results(iter(results), out)
        except ConlabError:
            raise
        except Exception as exc:
            index = getattr(exc, "conlab_index", "?")
            text = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise ConlabError(
                f"item {index} failed: {text} (use --errors collect to go on)"
            ) from None
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
