"""Running a command's measurement under other Python interpreters, to show them side by side.

Each interpreter runs conlab's core from this package's own source
(``PYTHONPATH`` = the directory holding ``conlab``), with only the standard
library (cloudpickle and psutil when that interpreter has them), in a child
process: ``python -m conlab.pythons OUT ARGV...`` parses ARGV as the command
line would, calls the command's ``measure`` and writes the result file OUT,
which the parent merges. The child never imports rich.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conlab.errors import ConlabError, UsageError
from conlab.model import Results

MIN_VERSION = (3, 10)
PROBE_TIMEOUT_S = 30.0
# Written to run on any Python, 2.7 included, so that an old one is named, not just refused.
_PROBE = (
    "import json, platform, sys, sysconfig; "
    "print(json.dumps({'version': list(sys.version_info[:3]), "
    "'implementation': platform.python_implementation(), "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)
CONLAB_SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Interpreter:
    """A Python found at ``path``: its version and build."""

    path: str
    version: tuple[int, int, int]
    implementation: str
    free_threaded: bool

    @property
    def label(self) -> str:
        version = ".".join(map(str, self.version)) + ("t" if self.free_threaded else "")
        return f"{self.implementation} {version}"


def inspect_python(path: str) -> Interpreter:
    """The interpreter at ``path``; a UsageError in one line when it is not a usable Python."""
    where = _resolve(path)
    try:
        proc = subprocess.run(
            [where, "-E", "-s", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        version = tuple(int(v) for v in info["version"])
    except (OSError, subprocess.SubprocessError, ValueError, LookupError, TypeError):
        raise UsageError(
            f"--python {path}: not a Python interpreter (it did not answer as one); "
            "give the path of a python3.10 or later executable"
        ) from None
    shown = ".".join(map(str, version))
    if version < MIN_VERSION:
        raise UsageError(
            f"--python {path} is Python {shown}; conlab needs Python "
            f"{'.'.join(map(str, MIN_VERSION))} or later"
        )
    return Interpreter(where, version[:3], str(info["implementation"]), bool(info["free_threaded"]))  # type: ignore[arg-type]


def _resolve(path: str) -> str:
    import shutil

    found = path if os.sep in path else shutil.which(path)
    if not found or not os.path.exists(found):
        raise UsageError(f"--python {path}: no such file; give the path of a Python executable")
    if os.path.isdir(found):
        raise UsageError(f"--python {path}: is a directory; give the path of a Python executable")
    if not os.access(found, os.X_OK):
        raise UsageError(
            f"--python {path}: is not executable; give the path of a Python executable"
        )
    return os.path.abspath(found)


def measure_under(interpreters: Sequence[Interpreter], argv: Sequence[str]) -> Results:
    """Run the measurement that ``argv`` asks for under each interpreter; one Results for all."""
    from conlab.measure import environment

    merged = Results(environment.collect())
    for interp in interpreters:
        part = run_child(interp, argv)
        k = len(merged.environments)
        merged.environments.append(part.environment)
        for comparison in part.comparisons:
            comparison.environment = k
            merged.comparisons.append(comparison)
        merged.complete = merged.complete and part.complete
    return merged


def child_env() -> dict[str, str]:
    """The environment of a child interpreter: conlab's source first, nothing of ours besides."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PYTHONPATH"] = CONLAB_SRC
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run_child(interp: Interpreter, argv: Sequence[str]) -> Results:
    """``interp -m conlab.pythons OUT ARGV``, then OUT read back."""
    from conlab.report import resultfile

    fd, out = tempfile.mkstemp(prefix="conlab-python-", suffix=".json")
    os.close(fd)
    try:
        proc = subprocess.Popen(
            [interp.path, "-m", "conlab.pythons", out, *argv],
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _, err = proc.communicate()
        except BaseException:
            _stop(proc)
            raise
        if proc.returncode != 0:
            raise ConlabError(f"under {interp.label} ({interp.path}): {_last_line(err)}")
        return resultfile.load(out)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C: the child is interrupted too, so that it stops its own workers, then killed."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _last_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    if not lines:
        return "it failed without a word"
    line = lines[-1]
    return line.split("error: ", 1)[1] if line.startswith("conlab: error: ") else line


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
    from conlab.cli import build_parser
    from conlab.report import resultfile

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
