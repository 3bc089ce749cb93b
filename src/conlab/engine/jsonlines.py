"""``conlab map module:function``: JSON lines on stdin through conlab.map to JSON lines on stdout.

The function is loaded by ``conlab.workloads.user.load_callable``, the one loader of ``module:function``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from conlab.engine.chunks import ItemFailure
from conlab.errors import UsageError, format_error


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
        except RecursionError:
            raise UsageError(
                f"line {number} of the input is not JSON this reads: nested too deeply"
            ) from None


def write_results(results: Iterator[Any], out: IO[str]) -> int:
    """Each result as one JSON line; an ItemFailure as {"index", "status", "error"}. Returns the count.

    Only JSON is written: NaN and infinities, which JSON has no words for, become null.
    A reader that goes away (``| head -1``) is a normal end: the count so far is returned.
    """
    count = 0
    for result in results:
        try:
            _write_line(result, out, count)
        except BrokenPipeError:
            _quiet(out)
            return count
        count += 1
    return count


def _quiet(out: IO[str]) -> None:
    """The reader is gone: what is still buffered for it goes nowhere, without a second error."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def _write_line(result: Any, out: IO[str], count: int) -> None:
    if isinstance(result, ItemFailure):
        value = {
            "index": result.index,
            "status": result.status,
            "error": format_error(result.error),
        }
    else:
        value = result
    try:
        line = json.dumps(_finite(value), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UsageError(f"result {count} cannot be written as JSON: {exc}") from None
    out.write(line + "\n")
    out.flush()


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None, in lists, tuples and dict values too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


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


@contextlib.contextmanager
def telling(quiet: bool) -> Iterator[None]:
    """What conlab.map says (auto's choice and why, a crashed chunk run again) on stderr,
    one line each, unless ``quiet``."""
    if quiet:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("conlab map: %(message)s"))
    logger = logging.getLogger("conlab.map")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
