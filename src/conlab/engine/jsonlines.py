"""``conlab map module:function``: JSON lines on stdin through conlab.map to JSON lines on stdout."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from conlab.engine.chunks import ItemFailure
from conlab.errors import UsageError, UserCodeError


def load_callable(spec: str) -> Callable[[Any], Any]:
    """``package.module:function`` (the current directory is importable, as with ``python -m``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected module:function, not {spec!r} (for example mypkg.tasks:resize)")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UserCodeError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise UserCodeError(f"{module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise UserCodeError(f"{spec} is a {type(obj).__name__}, not a function")
    return obj


def read_items(stream: IO[str]) -> Iterator[Any]:
    """One JSON value per line, read as the engine asks for items; a bad line stops the run."""
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as exc:
            raise UsageError(
                f"line {number} of the input is not JSON ({exc}): {line.strip()[:60]!r}"
            ) from None


def write_results(results: Iterator[Any], out: IO[str]) -> int:
    """Each result as one JSON line; an ItemFailure as {"index", "status", "error"}. Returns the count."""
    count = 0
    for result in results:
        if isinstance(result, ItemFailure):
            value = {
                "index": result.index,
                "status": result.status,
                "error": _one_line(result.error),
            }
        else:
            value = result
        try:
            line = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"result {count} cannot be written as JSON: {exc}") from None
        out.write(line + "\n")
        out.flush()
        count += 1
    return count


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def private_stdout() -> IO[str]:
    """A file on the real stdout for the results; fd 1 then points at stderr.

    What the function prints (in this process or in the workers, which inherit
    fd 1) goes to stderr, so it never mixes with the JSON lines.
    """
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out
