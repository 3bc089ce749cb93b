"""Sending callables, arguments and results between processes.

cloudpickle pickles functions defined in ``__main__`` or in a notebook cell by
value, so a spawned child that cannot import the parent's ``__main__`` still
gets them. Without cloudpickle (a bare interpreter), the standard pickle is
used, and such functions only work under ``fork``. Subinterpreters get tasks
pickled by reference (interpreters.py); the hints here name either destination.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from conlab.errors import format_error

try:
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - exercised in bare interpreters
    _pickler = pickle

PICKLER = _pickler.__name__
# Where a strategy's tasks go pickled (Strategy.ships_to), as the hints name it.
PROCESS, SUBINTERPRETER = "another process", "a subinterpreter"


def dumps(obj: Any) -> bytes:
    return _pickler.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def unpicklable_hint(what: str, obj: Any, exc: BaseException, sent: str = f"to {PROCESS}") -> str:
    """Why ``obj`` cannot be ``sent`` (to another process, ...): its type, and the fix."""
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    return (
        f"{what} (a {kind}) cannot be sent {sent}: {format_error(exc)}. "
        "Define it at module level and pass plain data, or use a thread strategy"
    )


def task_hint(
    task: Any, exc: BaseException, to: str = PROCESS, pickle_with: Callable[[Any], bytes] = dumps
) -> str:
    """Why a task cannot be sent ``to`` its worker: the first part ``pickle_with`` fails on."""
    parts: list[tuple[str, Any]] = [("the callable", task.fn)]
    parts += [(f"argument {k + 1}", a) for k, a in enumerate(task.args)]
    parts += [(f"argument {name}=", v) for name, v in task.kwargs.items()]
    for what, obj in parts:
        try:
            pickle_with(obj)
        except Exception as part_exc:
            return unpicklable_hint(f"{what} of task {task.name!r}", obj, part_exc, f"to {to}")
    return unpicklable_hint(f"task {task.name!r}", task.fn, exc, f"to {to}")
