"""Running a command's measurement under other Python interpreters, to show them side by side.

Each interpreter runs conlab's core from this package's own source
(``PYTHONPATH`` = the directory holding ``conlab``), with only the standard
library (cloudpickle and psutil when that interpreter has them), in a child
process: ``python -m conlab.cli.pythons OUT ARGV...`` parses ARGV as the command
line would, calls the command's ``measure`` and writes the result file OUT,
which the parent reads back, one interpreter after the other. The child never imports rich.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from conlab._process import children
from conlab._process.children import Interpreter, inspect_python
from conlab.errors import ConlabError
from conlab.model import Results

__all__ = ["Interpreter", "child_main", "inspect_python", "run_child", "strip_python_options"]


def run_child(interp: Interpreter, argv: Sequence[str]) -> Results:
    """``interp -m conlab.cli.pythons OUT ARGV``, then OUT read back."""
    from conlab import resultfile

    fd, out = tempfile.mkstemp(prefix="conlab-python-", suffix=".json")
    os.close(fd)
    try:
        argv = [interp.path, "-m", "conlab.cli.pythons", out, *argv]
        proc = children.run(
            argv, env=children.child_env(keep_path=False), stdout=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            raise ConlabError(
                f"under {interp.label} ({interp.path}): {children.last_line(proc.stderr)}"
            )
        return resultfile.load(out)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out)


def strip_python_options(argv: Sequence[str]) -> list[str]:
    """``argv`` without its ``--python PATH`` options: what each child is asked to measure."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--python":
            skip = True
        elif not arg.startswith("--python="):
            out.append(arg)
    return out


def child_main(argv: Sequence[str]) -> int:
    """In the child interpreter: measure as the command line asks, write the result file."""
    from conlab import resultfile
    from conlab.cli.parser import build_parser

    out, rest = argv[0], list(argv[1:])
    try:
        args = build_parser().parse_args(rest)
        results: Any = args.measure(args)
        resultfile.write(results, out)
    except ConlabError as exc:
        sys.stderr.write(f"conlab: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("conlab: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
