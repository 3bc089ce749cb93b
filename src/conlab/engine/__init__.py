"""conlab.map: stream any iterable through a function, lazily, chunked, retrying, on any strategy.

``conlab.map(fn, items)`` returns an iterator of results. The input is read as
results are consumed, with a bounded number of chunks in flight, so an endless
generator works and memory stays flat. ``strategy="auto"`` starts worker
processes at once, measures the first items on them, and moves to threads when
the items mostly wait; it says what it chose and why (``.advice``).

The names are imported on first use (as ``concurrent.futures`` does with its
executors): a spawned worker imports ``conlab.engine.worker`` and what it needs,
not the engine's loop, the strategy registry or the advice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conlab._lazy import lazy_getattr

if TYPE_CHECKING:
    from conlab.engine.backends import register
    from conlab.engine.chunks import ItemFailure, RemoteTraceback
    from conlab.engine.mapping import MapIterator, map
    from conlab.errors import ItemTimeoutError, WorkerCrashedError

__all__ = [
    "ItemFailure",
    "ItemTimeoutError",
    "MapIterator",
    "RemoteTraceback",
    "WorkerCrashedError",
    "map",
    "register",
]

_LAZY = {
    "ItemFailure": "conlab.engine.chunks",
    "ItemTimeoutError": "conlab.errors",
    "MapIterator": "conlab.engine.mapping",
    "RemoteTraceback": "conlab.engine.chunks",
    "WorkerCrashedError": "conlab.errors",
    "map": "conlab.engine.mapping",
    "register": "conlab.engine.backends",
}

__getattr__ = lazy_getattr(__name__, _LAZY)
