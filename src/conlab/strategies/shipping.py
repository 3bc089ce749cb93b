"""Sending callables, arguments and results between processes.

cloudpickle pickles functions defined in ``__main__`` or in a notebook cell by
value, so a spawned child that cannot import the parent's ``__main__`` still
gets them. Without cloudpickle (a bare interpreter), the standard pickle is
used, and such functions only work under ``fork``.
"""

from __future__ import annotations

import pickle
from typing import Any

try:
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - exercised in bare interpreters
    _pickler = pickle

PICKLER = _pickler.__name__


def dumps(obj: Any) -> bytes:
    return _pickler.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def unpicklable_hint(what: str, obj: Any, exc: BaseException) -> str:
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    return (
        f"{what} (a {kind}) cannot be sent to another process: {type(exc).__name__}: {exc}. "
        "Define it at module level and pass plain data, or use a thread strategy"
    )


def task_hint(task: Any, exc: BaseException) -> str:
    """Why a task cannot be sent: the first of its callable and arguments that does not pickle."""
    parts: list[tuple[str, Any]] = [("the callable", task.fn)]
    parts += [(f"argument {k + 1}", a) for k, a in enumerate(task.args)]
    parts += [(f"argument {name}=", v) for name, v in task.kwargs.items()]
    for what, obj in parts:
        try:
            dumps(obj)
        except Exception as part_exc:
            return unpicklable_hint(f"{what} of task {task.name!r}", obj, part_exc)
    return unpicklable_hint(f"task {task.name!r}", task.fn, exc)
