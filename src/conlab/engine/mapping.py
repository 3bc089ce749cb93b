"""``conlab.map``: the function users call, its argument checks, and the iterator it returns."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from conlab.engine import backends
from conlab.engine.auto import Advice, Probe, choose, probe
from conlab.engine.backends import Backend, InlineBackend, StrategyBackend, ThreadBackend
from conlab.engine.stream import Stream
from conlab.errors import UsageError

__all__ = ["MapIterator", "map"]

log = logging.getLogger("conlab")
_ERRORS = ("raise", "collect")


class MapIterator:
    """The results of ``conlab.map``, as an iterator; ``close()`` (or ``with``) stops its workers.

    ``advice`` is the choice ``strategy="auto"`` made and why; it is set once
    the first result has been asked for (probing runs the first items).
    """

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._chunks: Generator[list[Any], None, None] = stream.chunks()
        self._results = itertools.chain.from_iterable(self._chunks)

    @property
    def strategy(self) -> str:
        """The strategy running the items (``auto`` until it has chosen)."""
        return self._stream.strategy

    @property
    def advice(self) -> Advice | None:
        return self._stream.advice

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
    """
    fixed = _check(fn, workers, chunksize, timeout, retries, errors, strategy)
    try:
        source = iter(iterable)
    except TypeError:
        raise UsageError(
            f"conlab.map needs an iterable of items, not a {type(iterable).__name__}"
        ) from None

    def make_backend(name: str) -> Backend:
        return _backend(name, fn, workers, start_method, timeout)

    stream = Stream(
        make_backend, strategy, source, fixed, ordered, retries, errors == "collect", progress
    )
    if strategy == "auto":
        stream.prober = lambda: _auto(fn, source, timeout)
    return MapIterator(stream)


def _auto(fn: Callable[[Any], Any], source: Iterator[Any], timeout: float | None) -> Advice:
    """Probe the first items and choose; the probed items' outcomes ride along on the advice."""
    if timeout is not None:  # probing runs items here, where nothing could stop them
        measured = Probe()
        name, reason = "processes", "a timeout needs workers that can be stopped"
    else:
        measured = probe(fn, source)
        name, reason = choose(measured)
    log.info("conlab.map: strategy %s: %s", name, reason)
    return Advice(name, reason, measured)


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


def _check_strategy(strategy: Any, timeout: Any) -> None:
    from conlab.errors import UnknownNameError
    from conlab.strategies import REGISTRY

    if strategy == "auto":
        return
    if not isinstance(strategy, str) or (
        strategy not in REGISTRY and strategy not in backends.BACKENDS
    ):
        raise UnknownNameError("strategy", str(strategy), [*REGISTRY, *backends.BACKENDS, "auto"])
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
