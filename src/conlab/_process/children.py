"""Running conlab in another interpreter: where conlab's source is, and one runner.

Both the ``--python`` comparisons and the lesson's notebook reproduction start a
child interpreter that imports this very conlab (installed or not), wait for it,
and pass Ctrl-C on so that it stops its own workers before it is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from conlab._process import pythons
from conlab.errors import UsageError

# The directory that holds the ``conlab`` package: what a child puts on its path.
CONLAB_SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIN_VERSION = (3, 10)
PROBE_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
# Written to run on any Python, 2.7 included, so that an old one is named, not just refused.
_PROBE = (
    "import json, platform, sys, sysconfig; "
    "print(json.dumps({'version': list(sys.version_info[:3]), "
    "'implementation': platform.python_implementation(), "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)


def child_env(keep_path: bool = True) -> dict[str, str]:
    """This environment with conlab's source first on the path.

    ``keep_path=False`` (another interpreter) drops the user's PYTHONPATH and user
    site, whose packages may be built for this interpreter, not that one.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHOME"}
    rest = env.pop("PYTHONPATH", None)
    env["PYTHONPATH"] = CONLAB_SRC + (os.pathsep + rest if rest and keep_path else "")
    if not keep_path:
        env["PYTHONNOUSERSITE"] = "1"
    return env


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    timeout_s: float | None = None,
    stdout: int | None = subprocess.PIPE,
) -> subprocess.CompletedProcess[str]:
    """Run a child interpreter to its end; on Ctrl-C or a timeout, stop it, then re-raise."""
    with subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        try:
            out, err = child.communicate(timeout=timeout_s)
        except BaseException:
            stop(child)
            raise
        return subprocess.CompletedProcess(list(argv), child.returncode, out, err)


def stop(child: subprocess.Popen[str], grace_s: float = STOP_GRACE_S) -> None:
    """Interrupt the child, so that it stops its own workers, then kill it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGINT)
    try:
        child.communicate(timeout=grace_s)
    except BaseException:
        child.kill()
        child.wait()


def last_line(err: str) -> str:
    """The last thing a failed child said, without conlab's own prefix."""
    lines = [line for line in err.splitlines() if line.strip()]
    if not lines:
        return "it failed without a word"
    line = lines[-1]
    return line.split("error: ", 1)[1] if line.startswith("conlab: error: ") else line


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
    found = path if os.sep in path else shutil.which(path)
    if not found and pythons.is_version_name(path):
        found = _by_name(path)
    if not found or not os.path.exists(found):
        raise UsageError(f"--python {path}: no such file; give the path of a Python executable")
    if os.path.isdir(found):
        raise UsageError(f"--python {path}: is a directory; give the path of a Python executable")
    if not os.access(found, os.X_OK):
        raise UsageError(
            f"--python {path}: is not executable; give the path of a Python executable"
        )
    return os.path.abspath(found)


def _by_name(name: str) -> str:
    """The path of the interpreter ``name`` (``3.13t``) names; a UsageError listing those found."""
    found = pythons.find_all()
    hit = pythons.by_name(name, found)
    if hit is not None:
        return hit.path
    names = ", ".join(sorted({f.name for f in found}, key=_version_key)) or "none"
    hint = " ('make pythons' builds 3.13.5 and 3.13.5t)" if name.endswith("t") else ""
    raise UsageError(
        f"--python {name}: no such interpreter here (found: {names}){hint}; "
        "give a path, or one of those (see 'conlab pythons')"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return (*(int(v) for v in name.rstrip("t").split(".")), int(name.endswith("t")))
