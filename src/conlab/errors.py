"""The exceptions conlab raises, every one exported from ``conlab``.

The tree::

    Exception
    └── ConlabError                 anything conlab reports to the user in one line
        ├── UsageError              bad input: options, names, values (CLI exit 2)
        │   ├── UnknownNameError    an unknown workload or strategy, with the closest names
        │   └── UserCodeError       a `module:function` that does not import or is not callable
        ├── ResultFileError         a result file that cannot be read (CLI exit 2)
        ├── StrategyUnavailable     a strategy that cannot run here, and why
        ├── WorkerCrashedError      conlab.map: an item's worker process died under it
        └── ItemTimeoutError        conlab.map: an item ran past ``timeout`` (also a TimeoutError)
    KeyboardInterrupt
    └── Interrupted                 Ctrl-C during compare(): ``partial`` holds what was measured

The CLI catches ConlabError, prints its message on one line and exits non-zero;
anything else is a bug in conlab and shows its traceback.
A task's own failure is never raised: it is recorded in its TaskRecord
(its error as one line: ``format_error``).

Interrupted is a KeyboardInterrupt, not a ConlabError, on purpose: Ctrl-C must
keep meaning "stop". Code that catches Exception (a retry loop, a notebook
cell's handler, the lab's own) lets it through, and code that catches
KeyboardInterrupt (the CLI, which then writes what completed) still catches it;
it only carries the comparison as far as it got.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ConlabError",
    "Interrupted",
    "ItemTimeoutError",
    "ResultFileError",
    "StrategyUnavailable",
    "UnknownNameError",
    "UsageError",
    "UserCodeError",
    "WorkerCrashedError",
]


class ConlabError(Exception):
    """Base class for the errors conlab reports to the user."""

    exit_code = 1


class UsageError(ConlabError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A name (workload, strategy, parameter) that does not exist."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        choices = f"choose from {', '.join(known)}"
        super().__init__(f"unknown {kind} {name!r}: {hint + ' ' if hint else ''}{choices}")
        self.name = name
        self.suggestions = close


class UserCodeError(UsageError):
    """The user's `module:function` cannot be loaded."""


class ResultFileError(ConlabError):
    """A result file that is missing, malformed or of another schema."""

    exit_code = 2


class StrategyUnavailable(ConlabError):
    """A strategy that cannot run here; the message says why."""


class WorkerCrashedError(ConlabError):
    """An item's worker process died under it (os._exit, a segfault, the OOM killer)."""


class ItemTimeoutError(ConlabError, TimeoutError):
    """An item ran longer than ``timeout``; its worker was stopped."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during compare(): ``partial`` holds the comparison as far as it got.

    ``partial`` is a ``conlab.Comparison`` marked incomplete (typed Any here:
    this module sits below the model, see the module's docstring for why this
    is a KeyboardInterrupt).
    """

    def __init__(self, partial: Any) -> None:
        super().__init__("interrupted")
        self.partial = partial


def format_error(exc: BaseException) -> str:
    """An exception as one line: ``ExcType: message``, the message's first line."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.split("\n")[0]
