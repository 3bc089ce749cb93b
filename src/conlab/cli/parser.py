"""The command line's parser: every command, its options, and what runs it.

A measuring command sets ``plan`` (what it measures and how it is shown, in
:mod:`conlab.cli.commands`) and runs through :func:`conlab.cli.measuring.run`;
those that can measure under another interpreter (--python) set ``measure``
too, which is what the child interpreter calls.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from conlab.cli import catalogue, commands, files, measuring, pythons
from conlab.cli.arguments import (
    count,
    counts,
    fraction,
    one_line,
    percent,
    seconds,
    start_methods,
)
from conlab.cli.map import map_lines
from conlab.cli.options import (
    export_options,
    measure_options,
    output_options,
    picture_options,
    python_option,
    task_output_option,
    workload_options,
)

EXIT_CODES = (
    "exit codes: 0 every measuring command had a valid run (or nothing to measure); "
    "1 it ran, but no run was valid (every run failed), or a file could not be written "
    "anywhere; 2 bad usage (options, names, files); 130 interrupted (Ctrl-C), "
    "143 terminated (SIGTERM), 129 hung up (SIGHUP)"
)


class Parser(argparse.ArgumentParser):
    """Bad input gets one line saying what is wrong and where to look, and exit code 2."""

    _seen: list[str] | None = None

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,unused-ignore]
        self._seen = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,unused-ignore]
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            # The subcommand's parser says it, so that the hint names the subcommand's --help.
            self._command_parser(namespace).error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def _command_parser(self, namespace: argparse.Namespace) -> argparse.ArgumentParser:
        command = getattr(namespace, "command", None)
        for action in self._subparsers._group_actions if self._subparsers else ():
            choices = getattr(action, "choices", None) or {}
            if command in choices:
                return choices[command]
        return self

    def error(self, message: str) -> NoReturn:
        unknown = self._unknown_option()
        if unknown is not None and "required" in message:
            # argparse reports the missing COMMAND or FILE first; the stray option is the news.
            message = f"unrecognized option {unknown!r}"
        sys.stderr.write(f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")
        raise SystemExit(2)

    def _known(self) -> set[str]:
        return {"-", *self._option_string_actions}

    def _unknown_option(self) -> str | None:
        for token in self._seen or []:
            if token == "--":
                return None
            name = token.partition("=")[0]
            if token.startswith("-") and not _number(token) and name not in self._known():
                return name
        return None


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    from conlab._version import __version__

    parser = Parser(
        prog="conlab",
        description="A concurrency lab for Python: run one workload "
        "under every concurrency model, measure it honestly, and see what to use.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"conlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
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
    measure_options(demo, "(default 3, or 2 with --quick)", clusters=False)
    output_options(demo)
    demo.set_defaults(func=measuring.run, plan=commands.plan_demo, measure=measuring.measure)

    show = sub.add_parser("show", help="print the tables of a saved result file again")
    show.add_argument("file", metavar="FILE", help="a file written with --json")
    show.add_argument(
        "--raw-output", action="store_true", help="show output interleaved, as written"
    )
    task_output_option(show)
    export_options(show)
    show.set_defaults(func=files.show)
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
        type=percent,
        default=5.0,
        metavar="PERCENT",
        help="smallest change reported as significant (default 5)",
    )
    diff.add_argument(
        "--alpha", type=fraction, default=0.05, metavar="P", help="significance level (0.05)"
    )
    diff.set_defaults(func=files.diff)

    _add_compare_commands(sub)
    _add_map(sub)
    _add_advise(sub)
    _add_explain(sub)
    return parser


def _add_compare_commands(sub: argparse._SubParsersAction[Parser]) -> None:
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
        type=count(1),
        metavar="N",
        help="workers of pooled strategies named without a count (default: chosen for the "
        "work: the usable cores, more threads for a thread pool on work that waits)",
    )
    workload_options(compare)
    measure_options(compare)
    compare.add_argument(
        "--remeasure-rounds",
        type=count(0),
        metavar="N",
        help="extra rounds for runs that did not get the cores they asked for, because other "
        "programs kept the machine busy (default: as many as --repeats; 0: none)",
    )
    compare.add_argument(
        "--remeasure-time",
        type=seconds,
        metavar="S",
        help="stop those extra rounds after S seconds (default 30); what stays contended is "
        "marked †",
    )
    output_options(compare)
    compare.set_defaults(func=measuring.run, plan=commands.plan_compare, measure=measuring.measure)

    workloads = sub.add_parser("workloads", help="list the workload catalogue")
    workloads.set_defaults(func=catalogue.workloads)
    strategies = sub.add_parser("strategies", help="list the strategies and whether they run here")
    strategies.set_defaults(func=catalogue.strategies)
    found = sub.add_parser(
        "pythons", help="list the Python interpreters found here, their build and GIL"
    )
    found.set_defaults(func=pythons.list_pythons)


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
        "--workers", type=counts, default=None, metavar="N,N,...", help="default 1,2,4,8"
    )
    sweep.add_argument(
        "--tasks", type=counts, metavar="N,N,...", help="amounts of work (number of tasks)"
    )
    measure_options(sweep, "(default 3)")
    output_options(sweep)
    sweep.set_defaults(func=measuring.run, plan=commands.plan_sweep)


def _add_report(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="draw a saved result file: HTML report, plot, or trace",
        description="Read a file written with --json and write an HTML report, a plot or a trace.",
    )
    report.add_argument("file", metavar="FILE", help="a file written with --json")
    picture_options(report)
    report.set_defaults(func=files.report)


def _add_advise(sub: argparse._SubParsersAction[Parser]) -> None:
    advise = sub.add_parser(
        "advise",
        help="probe a workload, predict every strategy here, recommend one and check it",
        description="Probe a small sample of WORKLOAD (task duration, waiting, GIL, pickling), "
        "predict the wall time of every strategy and worker count on this machine, recommend "
        "one, then run the recommendation and the runner-up to show predicted against measured.",
    )
    advise.add_argument("workload", metavar="WORKLOAD", help="a catalogue name or module:function")
    workload_options(advise)
    advise.add_argument(
        "--workers", type=count(1), metavar="N", help="predict pools with N workers only"
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
    measure_options(advise, "when verifying (default 3)", clusters=False, sandbox=False)
    python_option(advise)
    output_options(advise)
    advise.set_defaults(func=measuring.run, plan=commands.plan_advise, measure=measuring.measure)


def _add_explain(sub: argparse._SubParsersAction[Parser]) -> None:
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
        choices=start_methods(),
        metavar="METHOD",
        help=f"how process strategies start children: {', '.join(start_methods())}",
    )
    output_options(explain)
    explain.set_defaults(func=measuring.run, plan=commands.plan_explain)


def _add_map(sub: argparse._SubParsersAction[Parser]) -> None:
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
    p.add_argument("--workers", type=count(1), metavar="N", help="worker threads or processes")
    p.add_argument(
        "--chunksize", type=count(1), metavar="N", help="items per chunk (default: auto)"
    )
    p.add_argument("--unordered", action="store_true", help="results as they finish")
    p.add_argument("--timeout", type=seconds, metavar="S", help="seconds an item may run")
    p.add_argument("--retries", type=count(0), default=0, metavar="N", help="re-runs after a crash")
    p.add_argument(
        "--errors",
        choices=("raise", "collect"),
        default="raise",
        help="raise: stop at the first failed item; collect: write {index, status, error} in its place",
    )
    p.add_argument(
        "--max-threads",
        type=count(1),
        metavar="N",
        help="auto: at most N threads for waiting work (default: --workers if given, else 256)",
    )
    p.add_argument("--quiet", action="store_true", help="do not say what auto chose and why")
    p.set_defaults(func=map_lines)
