"""The command line: ``conlab COMMAND ...``.

- :mod:`~conlab.cli.parser` builds the parser (options several commands share in
  :mod:`~conlab.cli.options`, argument types in :mod:`~conlab.cli.arguments`);
- :mod:`~conlab.cli.commands` says what each measuring command asks of :mod:`conlab.api`
  and how it shows it, and :mod:`~conlab.cli.measuring` runs them all one way;
- :mod:`~conlab.cli.exports` writes the files asked for, through :mod:`conlab.report.exporters`;
- :mod:`~conlab.cli.files`, :mod:`~conlab.cli.catalogue` and :mod:`~conlab.cli.map` are the
  commands that measure nothing; :mod:`~conlab.cli.pythons` runs a measurement under another
  interpreter.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from conlab.cli import commands, measuring, signals
from conlab.cli.arguments import one_line
from conlab.cli.parser import build_parser
from conlab.errors import ConlabError, UsageError
from conlab.measure import gil

__all__ = ["EXIT_INTERRUPTED", "build_parser", "main"]

EXIT_INTERRUPTED = 130


def _see_help(exc: ConlabError, args: object) -> str:
    """Where to look after a bad option value found once parsed, as argparse's own errors say."""
    command = getattr(args, "command", None)
    if not isinstance(exc, UsageError) or not command or str(exc).startswith("cannot write"):
        return ""  # an output path this user cannot write: --help would not help
    return f" (see 'conlab {command} --help')"


def main(argv: Sequence[str] | None = None) -> int:
    gil.watch()  # before any workload is imported: which module turns the GIL back on
    parser = build_parser()
    args = None
    try:
        with signals.ending_as_interrupt():
            args = parser.parse_args(argv)
            if getattr(args, "python", None):
                under = commands.plan_under_pythons(sys.argv[1:] if argv is None else argv)
                return measuring.run(args, under)
            return int(args.func(args))
    except ConlabError as exc:
        sys.stderr.write(f"conlab: error: {one_line(str(exc))}{_see_help(exc, args)}\n")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        # Ctrl-C, or SIGTERM / SIGHUP (signals.py): exit 130, 143 or 129.
        saved = getattr(exc, "saved_to", None)
        sys.stderr.write(
            f"conlab: {signals.what_happened()}"
            + (f"; what completed is in {saved}\n" if saved else "\n")
        )
        return signals.exit_code()
    except BrokenPipeError:
        # The reader went away (conlab ... | head): not an error of ours.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
