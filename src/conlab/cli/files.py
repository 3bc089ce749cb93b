"""The commands on saved result files: show, report, diff. They measure nothing."""

from __future__ import annotations

import argparse

from conlab.cli.console import make_console
from conlab.cli.exports import Exports
from conlab.errors import UsageError


def show(args: argparse.Namespace) -> int:
    from conlab import resultfile
    from conlab.report import terminal

    exports = Exports.from_args(args, {"the input": args.file})
    exports.check()
    results = resultfile.load(args.file)
    # Files first: a reader that stops early (conlab show | head) must not cost them.
    exports.write(results, intermediate=False)
    terminal.render_results(make_console(), results, raw_output=args.raw_output, output=args.output)
    return 0


def report(args: argparse.Namespace) -> int:
    from conlab import resultfile

    exports = Exports.from_args(args, {"the input": args.file})
    if not exports.targets:
        raise UsageError("say what to write: --html PATH, --plot PATH or --trace PATH")
    exports.check()
    results = resultfile.load(args.file)
    exports.write(results, intermediate=False)
    exports.announce(make_console())
    return 0


def diff(args: argparse.Namespace) -> int:
    from conlab import api, resultfile
    from conlab.report import diff as diff_report

    a, b = resultfile.load(args.a), resultfile.load(args.b)
    result = api.diff(a, b, min_effect=args.min_effect / 100, alpha=args.alpha)
    diff_report.render(make_console(), result, args.a, args.b)
    return 0
