"""``conlab workloads`` and ``conlab strategies``: what compare can run, and whether it runs here.

Both answer at once: nothing heavy is imported to list them (an optional extra is looked
for with importlib.util.find_spec, not imported: importing Dask and Ray took 3.6 s).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable
from typing import Any

# Where a description's continuation lines start: under the description, not the name.
_INDENT = 19
_FIGURE_AND_UNIT = re.compile(r"(\d) (s|ms|KiB|MiB)\b")


def _width() -> int | None:
    """The terminal's width (or COLUMNS'); None when piped: a line per entry, for grep."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return max(60, shutil.get_terminal_size((100, 24)).columns)
    return None


def _print(head: str, text: str) -> None:
    """``head`` then ``text`` wrapped to the terminal, continuation lines indented."""
    width = _width()
    if width is None:
        print(f"{head:<{_INDENT}}{text}")
        return
    kept = _FIGURE_AND_UNIT.sub("\\1\N{NO-BREAK SPACE}\\2", text)  # "0.25 s" on one line
    print(
        textwrap.fill(
            kept,
            width=width,
            initial_indent=f"{head:<{_INDENT}}",
            subsequent_indent=" " * _INDENT,
            break_on_hyphens=False,
        ).replace("\N{NO-BREAK SPACE}", " ")
    )


def _shown(name: str, value: Any) -> str:
    """A parameter's default as a sentence reads it: ``0.2 s``, and the task count ``auto``
    resolves to (4 × cores)."""
    if value is None:
        return str(4 * (os.cpu_count() or 1)) if name == "tasks" else "auto"
    return f"{value} s" if name.endswith("_s") else str(value)


def describe(make: Callable[..., Any], values: dict[str, Any]) -> str:
    """A workload's first docstring line with each ``param`` replaced by its value."""
    doc = (make.__doc__ or "").strip().splitlines()
    line = doc[0] if doc else ""
    return re.sub(
        r"``(\w+)``",
        lambda m: _shown(m.group(1), values[m.group(1)]) if m.group(1) in values else m.group(1),
        line,
    )


def workloads(args: argparse.Namespace) -> int:
    from conlab.workloads import CATALOGUE, KINDS, params, unavailable_reason

    print("Each with its defaults; change them with --param KEY=VALUE.\n")
    for name, make in CATALOGUE.items():
        values = params.defaults(make)
        _print(f"{name:<7} {KINDS.get(name, '?')}", describe(make, values))
        keys = " ".join(f"{k}={'auto' if v is None else v}" for k, v in values.items())
        reason = unavailable_reason(name)
        _print("", f"params: {keys}" + (f"; NOT AVAILABLE here: {reason}" if reason else ""))
    print("\nYour own code: conlab compare mypkg.mod:func --inputs items.json (or --range N)")
    return 0


def strategy_reason(cls: Any) -> str | None:
    """Why the strategy cannot run here, without importing its engine: an extra that is not
    installed is named with its install command."""
    if cls.requires is not None:
        module, install = cls.requires
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: {install}"
        return None
    reason: str | None = cls().unavailable_reason()
    return reason


def strategies(args: argparse.Namespace) -> int:
    from conlab.strategies import REGISTRY

    print("Name them with --strategies NAME or NAME:WORKERS.\n")
    print(f"{'strategy':<13} {'here':<5}what it is")
    for name, cls in REGISTRY.items():
        reason = strategy_reason(cls)
        text = cls.description
        if cls.wants_async:
            text += " (runs workloads with an async variant)"
        _print(f"{name:<13} {'no' if reason else 'yes':<5}", text)
        if reason:
            _print("", f"not here: {reason}")
    return 0
