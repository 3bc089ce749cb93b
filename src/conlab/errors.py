"""The exceptions conlab raises.

The tree::

    ConlabError                 anything conlab reports to the user in one line
    ├── UsageError              bad input: options, names, values (CLI exit 2)
    │   ├── UnknownNameError    an unknown workload or strategy, with the closest names
    │   └── UserCodeError       a `module:function` that does not import or is not callable
    ├── ResultFileError         a result file that cannot be read (CLI exit 2)
    └── StrategyUnavailable     a strategy that cannot run here, and why

The CLI catches ConlabError, prints its message on one line and exits non-zero;
anything else is a bug in conlab and shows its traceback.
A task's own failure is never raised: it is recorded in its TaskRecord.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConlabError",
    "ResultFileError",
    "StrategyUnavailable",
    "UnknownNameError",
    "UsageError",
    "UserCodeError",
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
