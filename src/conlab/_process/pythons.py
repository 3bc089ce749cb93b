"""Finding the Python interpreters of this machine: pyenv's, PATH's and ``make pythons``' cache.

Each candidate is probed in its own process, all at once and each within a bound,
for its version, its build (``Py_GIL_DISABLED``) and whether the GIL is enabled
when it runs (``sys._is_gil_enabled()``). ``--python 3.13t`` is resolved here by
name: the newest interpreter whose version starts with the one asked for, of the
build asked for (``t``: free-threaded).
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

PROBE_TIMEOUT_S = 10.0
# Written to run on any Python, 2.7 included, so that an old one is listed, not skipped.
PROBE = (
    "import json, platform, sys, sysconfig; "
    "print(json.dumps({'version': list(sys.version_info[:3]), "
    "'implementation': platform.python_implementation(), "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), "
    "'gil_enabled': bool(getattr(sys, '_is_gil_enabled', lambda: True)())}))"
)
# A version asked for by name: 3, 3.13, 3.13.5, with t for the free-threaded build.
VERSION_NAME = re.compile(r"^(?:python)?(\d+(?:\.\d+){0,2})(t?)$")
_EXECUTABLE = re.compile(r"^python3(\.\d+)?t?$")


def cache_dir() -> str:
    """Where ``make pythons`` (tools/build-pythons.sh) installs its interpreters."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "conlab", "pythons")


def pyenv_root() -> str:
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


@dataclass(frozen=True)
class Found:
    """One interpreter of this machine: where it is, where it was found, and how it runs."""

    path: str
    source: str  # "cache", "pyenv" or "PATH"
    version: tuple[int, ...]
    implementation: str
    free_threaded: bool
    gil_enabled: bool

    @property
    def name(self) -> str:
        """``3.13.5t`` for a free-threaded build, ``3.12.1`` otherwise."""
        return ".".join(map(str, self.version)) + ("t" if self.free_threaded else "")


def candidates() -> list[tuple[str, str]]:
    """(path, source) of every Python executable found, each real file once, cache first."""
    found: list[tuple[str, str]] = []
    cache = cache_dir()
    for prefix in sorted(glob.glob(os.path.join(cache, "*", "bin"))):
        found += [(p, "cache") for p in _pythons_in(prefix, newest_only=True)]
    for prefix in sorted(glob.glob(os.path.join(pyenv_root(), "versions", "*", "bin"))):
        found += [(p, "pyenv") for p in _pythons_in(prefix, newest_only=True)]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if folder and "/.pyenv/shims" not in folder:
            found += [(p, "PATH") for p in _pythons_in(folder, newest_only=False)]
    seen: set[str] = set()
    out = []
    for path, source in found:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append((path, source))
    return out


def _pythons_in(folder: str, newest_only: bool) -> list[str]:
    """The python3* executables of ``folder``; in a prefix, its most specific name only."""
    try:
        names = sorted(n for n in os.listdir(folder) if _EXECUTABLE.match(n))
    except OSError:
        return []
    paths = [os.path.join(folder, n) for n in names]
    paths = [p for p in paths if os.path.isfile(p) and os.access(p, os.X_OK)]
    if newest_only and paths:
        # python3.13t before python3.13 before python3: the name that says the most.
        return [max(paths, key=lambda p: (len(os.path.basename(p)), p.endswith("t")))]
    return paths


def probe(path: str, source: str = "", timeout_s: float = PROBE_TIMEOUT_S) -> Found | None:
    """What the interpreter at ``path`` says of itself; None when it does not answer in time."""
    try:
        proc = subprocess.run(
            [path, "-E", "-s", "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        return Found(
            path,
            source,
            tuple(int(v) for v in info["version"]),
            str(info["implementation"]),
            bool(info["free_threaded"]),
            bool(info["gil_enabled"]),
        )
    except (OSError, subprocess.SubprocessError, ValueError, LookupError, TypeError):
        return None


def find_all(timeout_s: float = PROBE_TIMEOUT_S) -> list[Found]:
    """Every interpreter found, probed in parallel, in the order found."""
    where = candidates()
    if not where:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(where))) as pool:
        answers = list(pool.map(lambda c: probe(c[0], c[1], timeout_s), where))
    return [a for a in answers if a is not None]


def matches(found: Found, name: str) -> bool:
    """Whether ``found`` is the version asked for by ``name`` (``3.13t``, ``3.12``, ``3.13.5``)."""
    m = VERSION_NAME.match(name)
    if m is None:
        return False
    asked = tuple(int(v) for v in m.group(1).split("."))
    return found.version[: len(asked)] == asked and found.free_threaded == bool(m.group(2))


def by_name(name: str, found: list[Found]) -> Found | None:
    """The newest interpreter matching ``name``, the cache's first among equals."""
    hits = [f for f in found if matches(f, name)]
    if not hits:
        return None
    rank = {"cache": 0, "pyenv": 1, "PATH": 2}
    return max(hits, key=lambda f: (f.version, -rank.get(f.source, 3)))


def is_version_name(name: str) -> bool:
    return VERSION_NAME.match(name) is not None and os.sep not in name
