"""Options several commands share: how the workload is given, how it is measured, what is written."""

from __future__ import annotations

import argparse

from conlab.cli.arguments import count, path, seconds, start_methods


def workload_options(p: argparse.ArgumentParser) -> None:
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
        "--range", type=count(1), metavar="N", help="for module:function, call it on 0 .. N-1"
    )


def measure_options(
    p: argparse.ArgumentParser,
    repeats_help: str = "(default 5)",
    clusters: bool = True,
    sandbox: bool = True,
) -> None:
    """Options of every command that measures; ``clusters`` adds where dask and ray connect,
    ``sandbox`` --timeout, --isolate, --in-process and --python (advise has --python only)."""
    p.add_argument(
        "--repeats", type=count(1), metavar="N", help=f"timed runs of each strategy {repeats_help}"
    )
    p.add_argument("--warmup", type=count(0), metavar="N", help="untimed runs first (default 1)")
    p.add_argument(
        "--start-method",
        choices=start_methods(),
        metavar="METHOD",
        help=f"how process strategies start children: {', '.join(start_methods())}",
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
    if sandbox:
        _sandbox_options(p)
    p.set_defaults(**{k: None for k in ("timeout", "isolate") if not sandbox})


def _sandbox_options(p: argparse.ArgumentParser) -> None:
    """--timeout, --isolate / --in-process and --python."""
    p.add_argument(
        "--timeout",
        type=seconds,
        metavar="S",
        help="stop a task running longer than S seconds and record it as timeout "
        "(in-process strategies then run in a sandbox process). A strategy whose run "
        "fails (a timeout, a crash, an error) is not run again: a task that hangs costs at "
        "most about ceil(tasks / workers) x S per strategy, plus start-up; at worst (every "
        "task just under S) each run takes that long",
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
    python_option(p)


def python_option(p: argparse.ArgumentParser) -> None:
    """--python: the command's measurement under other interpreters, side by side."""
    p.add_argument(
        "--python",
        action="append",
        metavar="PATH",
        help="measure under the Python at PATH, or named by version (3.12, 3.13t: see "
        "'conlab pythons'; repeat for several: shown side by side); conlab runs there from "
        "this package's source, with the standard library only",
    )


def output_options(p: argparse.ArgumentParser) -> None:
    """Options of every command that shows results."""
    p.add_argument(
        "--json",
        type=path,
        metavar="PATH",
        help="write the results to PATH (schema conlab.results/1)",
    )
    export_options(p)
    p.add_argument(
        "--raw-output",
        action="store_true",
        help="show the tasks' output interleaved as it was written, not grouped by task",
    )
    task_output_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="every warning on a line of its own (default: one line per table)",
    )
    picture_options(p)


def task_output_option(p: argparse.ArgumentParser) -> None:
    """How much of each task's output the terminal shows (the result file keeps what was captured)."""
    p.add_argument(
        "--output",
        choices=("folded", "all", "none"),
        default="folded",
        help="each task's output: its first and last lines and how many were hidden (folded, "
        "the default), all of it, or none",
    )


def picture_options(p: argparse.ArgumentParser) -> None:
    """Where to draw the results: an HTML report, a plot, a Chrome trace."""
    p.add_argument(
        "--html",
        type=path,
        metavar="PATH",
        help="write a self-contained HTML report (tables, timelines)",
    )
    p.add_argument(
        "--plot",
        type=path,
        metavar="PATH",
        help="draw speed-ups and timelines to PATH (.png or .svg)",
    )
    p.add_argument(
        "--trace",
        type=path,
        metavar="PATH",
        help="write the timelines as Chrome trace-event JSON (opens in Perfetto)",
    )


def export_options(p: argparse.ArgumentParser) -> None:
    """--markdown and --csv: the same results as tables for a README, an issue or a spreadsheet."""
    p.add_argument(
        "--markdown", type=path, metavar="PATH", help="write the results as Markdown tables"
    )
    p.add_argument(
        "--csv", type=path, metavar="PATH", help="write the results as CSV, one row per strategy"
    )
