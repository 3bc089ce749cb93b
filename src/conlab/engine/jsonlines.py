"""``conlab map module:function``: JSON lines on stdin through conlab.map to JSON lines on stdout.

The function is loaded by ``conlab.workloads.user.load_callable``, the one loader of ``module:function``.
"""

from __future__ import annotations

import json
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


def write_results(results: Iterator[Any], out: IO[str]) -> int:
    """Each result as one JSON line; an ItemFailure as {"index", "status", "error"}. Returns the count."""
    count = 0
    for result in results:
        if isinstance(result, ItemFailure):
            value = {
                "index": result.index,
                "status": result.status,
                "error": format_error(result.error),
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
