"""Whether the GIL is on, and which module turned it back on, on a free-threaded build.

A free-threaded CPython (``Py_GIL_DISABLED``) turns the GIL on, for the rest of
the process, when it imports an extension module that has not declared that it
runs safely without it (no ``Py_mod_gil`` slot), and says so once in a
RuntimeWarning naming the module. :func:`watch` keeps those names as they come
(whatever the warning filters say); when no warning was seen (it came inside a
``catch_warnings`` block, or before conlab watched), the extension modules
imported since conlab started watching are named as the candidates. On a build
with the GIL, everything here is None: there is nothing to come back.
"""

from __future__ import annotations

import importlib.machinery
import re
import sys
import sysconfig
import threading
import warnings
from typing import Any

FREE_THREADED_BUILD = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
_START = r"The global interpreter lock \(GIL\) has been enabled"
_WARNING = _START + r" to load module '([^']+)'"
_named: list[str] = []
_extensions_before: set[str] | None = None
_lock = threading.Lock()


def gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check is not None else True


def watch() -> None:
    """From now on, note every module that turns the GIL back on. Once per process."""
    global _extensions_before
    with _lock:
        if not FREE_THREADED_BUILD or _extensions_before is not None:
            return
        _extensions_before = _extension_modules()
        warnings.filterwarnings("always", message=_START, category=RuntimeWarning)
        shown = warnings.showwarning

        def note_then_show(message: Any, category: Any, *rest: Any, **kw: Any) -> None:
            found = re.search(_WARNING, str(message))
            if found:
                _named.append(found.group(1))
            shown(message, category, *rest, **kw)

        warnings.showwarning = note_then_show


def _extension_modules() -> set[str]:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    out = set()
    for name, module in list(sys.modules.items()):
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
        if origin.endswith(suffixes):
            out.add(name)
    return out


def enabled_by() -> list[str]:
    """The modules that turned the GIL on, or, when CPython named none, the candidates."""
    if not gil_enabled():
        return []
    if _named:
        return list(dict.fromkeys(_named))
    if getattr(sys.flags, "gil", None) == 1:
        return ["PYTHON_GIL=1 or -X gil=1"]
    return sorted(_extension_modules() - (_extensions_before or set()))


def now() -> dict[str, Any] | None:
    """``{"gil_enabled", "enabled_by"}`` on a free-threaded build, None on one with the GIL."""
    if not FREE_THREADED_BUILD:
        return None
    return {"gil_enabled": gil_enabled(), "enabled_by": enabled_by()}


def merge(states: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """One state for several processes that did parts of one run (sandboxes one after another)."""
    seen = [s for s in states if s is not None]
    if not seen:
        return None
    names = [n for s in seen for n in s["enabled_by"]]
    return {
        "gil_enabled": any(s["gil_enabled"] for s in seen),
        "enabled_by": list(dict.fromkeys(names)),
    }


def run_record(at_imports: dict[str, Any] | None, after: list[dict[str, Any] | None]) -> Any:
    """A run's ``gil``: enabled after the workload's imports, after its runs, and by what."""
    if at_imports is None:
        return None
    seen = [a for a in after if a is not None]
    names = [n for a in [at_imports, *seen] for n in a["enabled_by"]]
    return {
        "after_imports": at_imports["gil_enabled"],
        "after_run": any(a["gil_enabled"] for a in seen) if seen else at_imports["gil_enabled"],
        "enabled_by": list(dict.fromkeys(names)),
    }


def came_back(gil: dict[str, Any] | None) -> bool:
    """Whether a run's ``gil`` says it ran (in part) with the GIL on a free-threaded build."""
    return bool(gil) and bool(gil.get("after_imports") or gil.get("after_run"))  # type: ignore[union-attr]


def note(records: list[dict[str, Any] | None]) -> list[str]:
    """One note for a comparison whose runs had the GIL back, naming what turned it on."""
    back = [g for g in records if came_back(g)]
    if not back:
        return []
    names = list(dict.fromkeys(n for g in back for n in g["enabled_by"]))  # type: ignore[index]
    who = ", ".join(repr(n) for n in names) if names else "an unknown module"
    return [
        f"the GIL came back on this free-threaded build: {who} turned it on (an extension "
        "that does not declare it runs without the GIL); threads here ran under the GIL, "
        "not free-threaded (PYTHON_GIL=0 keeps it off, at your own risk)"
    ]
