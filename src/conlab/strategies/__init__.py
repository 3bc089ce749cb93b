"""The strategies: one way each of executing a list of tasks, and the registry of their names.

``make("thread-pool", workers=2)`` builds one; ``parse_spec("thread-pool:2")``
reads the ``name:workers`` form the command line uses.
"""

from __future__ import annotations

from typing import Any

from conlab.errors import UnknownNameError, UsageError
from conlab.strategies.asyncio_strategy import AsyncioStrategy
from conlab.strategies.base import Execution, Strategy
from conlab.strategies.dask_strategy import DaskStrategy
from conlab.strategies.interpreters import InterpretersStrategy
from conlab.strategies.process_pool import ProcessPoolStrategy
from conlab.strategies.processes import ProcessesStrategy
from conlab.strategies.ray_strategy import RayStrategy
from conlab.strategies.sequential import SequentialStrategy
from conlab.strategies.threads import ThreadPoolStrategy, ThreadsStrategy

__all__ = [
    "REGISTRY",
    "AsyncioStrategy",
    "DaskStrategy",
    "Execution",
    "InterpretersStrategy",
    "ProcessPoolStrategy",
    "ProcessesStrategy",
    "RayStrategy",
    "SequentialStrategy",
    "Strategy",
    "ThreadPoolStrategy",
    "ThreadsStrategy",
    "make",
    "options_for",
    "parse_spec",
    "strategy_class",
]

REGISTRY: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        SequentialStrategy,
        ThreadsStrategy,
        ThreadPoolStrategy,
        ProcessesStrategy,
        ProcessPoolStrategy,
        AsyncioStrategy,
        InterpretersStrategy,
        DaskStrategy,
        RayStrategy,
    )
}


# Options every strategy takes (Strategy.configure), whatever its family.
COMMON_OPTIONS = ("timeout_s", "isolate")
# Options the command line and the API give to every strategy they build at once
# (--start-method, --chunksize, --scheduler, --ray-address): each strategy takes those it declares.
SHARED_OPTIONS = frozenset(n for cls in REGISTRY.values() for n in cls.option_names)


def strategy_class(name: str) -> type[Strategy]:
    """The strategy registered as ``name``; an unknown name is an error with suggestions."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownNameError("strategy", name, REGISTRY) from None


def options_for(cls: type[Strategy], options: dict[str, Any]) -> dict[str, Any]:
    """Of ``options`` given to several strategies at once, those ``cls`` takes.

    A shared option another strategy takes (``start_method`` for ``threads``) is left
    out; any other option stays, so that make() names it when ``cls`` does not take it.
    """
    return {
        k: v
        for k, v in options.items()
        if k in cls.option_names or k in COMMON_OPTIONS or k not in SHARED_OPTIONS
    }


def make(name: str, workers: int | None = None, **options: Any) -> Strategy:
    """The strategy called ``name``, built with ``options``; one it does not take is an error."""
    cls = strategy_class(name)
    common = {k: options.pop(k) for k in COMMON_OPTIONS if k in options}
    for option in options:
        if option not in cls.option_names:
            takes = ", ".join((*cls.option_names, *COMMON_OPTIONS))
            raise UsageError(f"the {name} strategy takes no option {option!r}; it takes: {takes}")
    strategy = cls(workers, **options)
    return strategy.configure(**common)


# Strategies whose number of workers is fixed by what they are: a count would be ignored.
COUNTLESS = {
    "sequential": "runs one task at a time",
    "threads": "starts one thread per task",
    "processes": "starts one process per task",
}


def parse_workers(text: str) -> int:
    """A worker count from the command line: a whole number of at least 1."""
    try:
        workers = int(text)
    except ValueError:
        raise UsageError(f"workers must be a whole number, not {text!r}") from None
    if workers < 1:
        raise UsageError(f"workers must be at least 1, not {workers}")
    return workers


def parse_spec(spec: str, shared: dict[str, Any] | None = None, **options: Any) -> Strategy:
    """``name`` or ``name:workers``, with ``options``, and those of ``shared`` that it takes.

    ``shared`` holds the options given to every strategy named at once (see options_for).
    """
    name, _, workers = spec.strip().partition(":")
    if workers and name in COUNTLESS and (name, workers) != ("sequential", "1"):
        raise UsageError(
            f"{spec.strip()}: {name} {COUNTLESS[name]}, so it takes no worker count; "
            f"give {name} alone, or a pool (thread-pool:{workers}, process-pool:{workers})"
        )
    taken = options_for(strategy_class(name), shared) if shared else {}
    return make(name, parse_workers(workers) if workers else None, **{**taken, **options})
