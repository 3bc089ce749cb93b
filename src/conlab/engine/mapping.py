"""``conlab.map``: the function users call, its argument checks, and the iterator it returns."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from conlab.engine import backends
from conlab.engine.auto import AutoBackend, Choice
from conlab.engine.backends import Backend, InlineBackend, StrategyBackend, ThreadBackend
from conlab.engine.stream import Stream
from conlab.errors import UsageError

__all__ = ["MapIterator", "map"]

log = logging.getLogger("conlab.map")
_ERRORS = ("raise", "collect")


class MapIterator:
    """The results of ``conlab.map``, as an iterator; ``close()`` (or ``with``) stops its workers.

    ``advice`` is the choice ``strategy="auto"`` made and why; it is set once
    the first items have been measured on the workers (``choices`` holds every
    choice, when the evidence changed it mid-stream).
    """

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._chunks: Generator[list[Any], None, None] = stream.chunks()
        self._results = itertools.chain.from_iterable(self._chunks)

    @property
    def strategy(self) -> str:
        """The strategy running the items (auto: the pool it runs new items on now)."""
        backend = self._stream.backend
        return backend.strategy if isinstance(backend, AutoBackend) else self._stream.strategy

    @property
    def advice(self) -> Choice | None:
        backend = self._stream.backend
        return backend.choice if isinstance(backend, AutoBackend) else None

    @property
    def choices(self) -> list[Choice]:
        backend = self._stream.backend
        return list(backend.choices) if isinstance(backend, AutoBackend) else []

    @property
    def pulled(self) -> int:
        """How many items have been read from the input so far."""
        return self._stream.pulled

    def __iter__(self) -> Iterator[Any]:
        # The C chain itself: a for loop over the results costs no Python frame per item.
        return self._results

    def __next__(self) -> Any:
        return next(self._results)

    def close(self) -> None:
        """Stop: workers are stopped now, whatever they are running; no process is left behind."""
        self._chunks.close()

    def __enter__(self) -> MapIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<conlab.map via {self.strategy}, {self._stream.yielded} results so far>"


def map(
    fn: Callable[[Any], Any],
    iterable: Iterable[Any],
    strategy: str = "auto",
    workers: int | None = None,
    chunksize: int | str = "auto",
    ordered: bool = True,
    timeout: float | None = None,
    retries: int = 0,
    progress: bool = False,
    errors: str = "raise",
    start_method: str | None = None,
    max_threads: int | None = None,
) -> MapIterator:
    """``fn(item)`` for each item of ``iterable``, as an iterator of results.

    ``strategy``: a name of the registry (``sequential``, ``threads``,
    ``thread-pool``, ``processes``, ``process-pool``, ...) or ``auto``.
    ``chunksize``: items sent to a worker at once; ``auto`` sizes chunks from
    the measured time per item. ``ordered=False``: results as they finish.
    ``timeout``: seconds an item may run (process strategies; its worker is
    stopped). ``retries``: times the items of a crashed worker run again.
    ``errors="collect"``: an ItemFailure in place of a failed item's result,
    instead of raising the item's exception (with its index in a note).
    ``max_threads``: auto's bound on threads for waiting work (default: ``workers`` when given,
    so that a number of workers set as a limit, on requests to a server say, holds; else 256).
    """
    fixed = _check(fn, workers, chunksize, timeout, retries, errors, strategy)
    bound = _check_max_threads(max_threads)
    try:
        source = iter(iterable)
    except TypeError:
        raise UsageError(
            f"conlab.map needs an iterable of items, not a {type(iterable).__name__}"
        ) from None

    def make_backend(name: str) -> Backend:
        if name == "auto":
            return AutoBackend(fn, workers, bound, start_method, _announce, timeout)
        return _backend(name, fn, workers, start_method, timeout)

    stream = Stream(
        make_backend, strategy, source, fixed, ordered, retries, errors == "collect", progress
    )
    return MapIterator(stream)


def _announce(choice: Choice, changed: bool) -> None:
    """Auto's choice, once (and again only if it changes), on the ``conlab.map`` logger."""
    log.info("auto %s %s", "changed to" if changed else "chose", choice.reason)


def _check_max_threads(max_threads: Any) -> int | None:
    if max_threads is None:
        return None  # the model's bound (advice.predict.MAX_THREADS), read when auto chooses
    if type(max_threads) is not int or max_threads < 1:
        raise UsageError(f"max_threads must be a whole number of at least 1, not {max_threads!r}")
    return max_threads


def _check(
    fn: Any,
    workers: Any,
    chunksize: Any,
    timeout: Any,
    retries: Any,
    errors: Any,
    strategy: Any,
) -> int | None:
    """The fixed chunk size (None for auto), after checking every argument."""
    if not callable(fn):
        raise UsageError(f"conlab.map needs a callable, not a {type(fn).__name__}")
    if workers is not None and (type(workers) is not int or workers < 1):
        raise UsageError(f"workers must be a whole number of at least 1, not {workers!r}")
    if chunksize != "auto" and (type(chunksize) is not int or chunksize < 1):
        raise UsageError(
            f"chunksize must be 'auto' or a whole number of at least 1, not {chunksize!r}"
        )
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise UsageError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if type(retries) is not int or retries < 0:
        raise UsageError(f"retries must be a whole number of at least 0, not {retries!r}")
    if errors not in _ERRORS:
        raise UsageError(f"errors must be 'raise' or 'collect', not {errors!r}")
    if timeout is not None and chunksize not in ("auto", 1):
        raise UsageError("with a timeout, items run one at a time: leave chunksize at 'auto' or 1")
    _check_strategy(strategy, timeout)
    if timeout is not None:
        return 1
    return None if chunksize == "auto" else int(chunksize)


# The strategies the engine runs itself: the registry is imported only for another name.
_OWN = ("auto", "sequential", "threads", "thread-pool", "processes", "process-pool")


def _check_strategy(strategy: Any, timeout: Any) -> None:
    from conlab.errors import UnknownNameError

    if strategy == "auto":
        return
    if strategy not in _OWN and strategy not in backends.BACKENDS:
        from conlab.strategies import REGISTRY

        if not isinstance(strategy, str) or strategy not in REGISTRY:
            names = [*REGISTRY, *backends.BACKENDS, "auto"]
            raise UnknownNameError("strategy", str(strategy), names)
    if timeout is not None and strategy in ("sequential", "threads", "thread-pool"):
        raise UsageError(
            f"a timeout needs a process strategy (a thread cannot be stopped), not {strategy!r}"
        )


def _backend(
    name: str,
    fn: Callable[[Any], Any],
    workers: int | None,
    start_method: str | None,
    timeout: float | None,
) -> Backend:
    """The backend that runs strategy ``name``."""
    if name in backends.BACKENDS:
        return backends.BACKENDS[name](
            fn, workers, {"start_method": start_method, "timeout": timeout}
        )
    if name == "sequential":
        return InlineBackend(fn)
    if name in ("threads", "thread-pool"):
        from conlab.measure.environment import usable_cpus

        return ThreadBackend(fn, workers or min(32, usable_cpus() + 4), per_chunk=name == "threads")
    if name in ("processes", "process-pool"):
        from conlab.engine.pool import ProcessBackend, default_workers

        return ProcessBackend(fn, workers or default_workers(), start_method, timeout)
    from conlab.strategies import make, options_for, strategy_class

    options = options_for(strategy_class(name), {"start_method": start_method})
    return StrategyBackend(fn, make(name, workers, **options))
