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
import time
from collections.abc import Sequence
from typing import Any

from conlab._process import children, pythons
from conlab._process.children import Interpreter, inspect_python
from conlab.errors import ConlabError
from conlab.measure.units import duration
from conlab.model import Results

__all__ = [
    "Interpreter",
    "child_main",
    "inspect_python",
    "list_pythons",
    "run_child",
    "strip_python_options",
]


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


def list_pythons(args: Any) -> int:
    """``conlab pythons``: the interpreters found here, each with its version, build and GIL."""
    t0 = time.perf_counter()
    found = pythons.find_all()
    took_s = time.perf_counter() - t0
    print(f"Python interpreters found here (each probed at once, in {duration(took_s, 's', 1)}):")
    if not found:
        print("  none (looked in PATH, pyenv's versions and make pythons' cache)")
        return 0
    home = os.path.expanduser("~")
    # Fits 80 columns with the cache's paths; where it was found (pyenv, PATH, the cache)
    # shows in the path.
    print(f"  {'name':<8} {'build':<13} {'GIL':<3}  path")
    for f in sorted(found, key=lambda f: (f.version, f.free_threaded, f.source)):
        build = "free-threaded" if f.free_threaded else "GIL"
        gil = "on" if f.gil_enabled else "off"
        shown = "~" + f.path[len(home) :] if f.path.startswith(home + os.sep) else f.path
        print(f"  {f.name:<8} {build:<13} {gil:<3}  {shown}")
    print("  GIL: whether it is on when the interpreter runs (sys._is_gil_enabled()).")
    old = [f.name for f in found if f.version < children.MIN_VERSION]
    if old:
        print(f"conlab measures under 3.10 or later, not under {', '.join(old)}.")
    if not any(f.free_threaded for f in found):
        print("No free-threaded build: 'make pythons' builds 3.13.5 and 3.13.5t (9-14 min).")
    print("Measure under one by name or path: conlab compare cpu --python 3.13t")
    return 0


def child_main(argv: Sequence[str]) -> int:
    """In the child interpreter: measure as the command line asks, write the result file."""
    from conlab import resultfile
    from conlab.cli.parser import build_parser
    from conlab.measure import gil

    gil.watch()
    out, rest = argv[0], list(argv[1:])
    try:
        args = build_parser().parse_args(rest)
        results: Any = args.measure(args)
        if gil.FREE_THREADED_BUILD:
            # Collected before the workload's imports: an extension may have turned it on since,
            # here or in the sandbox that ran the tasks.
            runs = [r for c in results.comparisons for r in c.runs]
            back = gil.gil_enabled() or any(gil.came_back(r.gil) for r in runs)
            results.environment["gil_enabled"] = back
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
