"""The strategies: one way each of executing a list of tasks, and the registry of their names.

``make("thread-pool", workers=2)`` builds one; ``parse_spec("thread-pool:2")``
reads the ``name:workers`` form the command line uses.
"""

from __future__ import annotations

import inspect
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
    "parse_spec",
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


def make(name: str, workers: int | None = None, **options: Any) -> Strategy:
    """The strategy called ``name``; options a strategy does not take are left out."""
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise UnknownNameError("strategy", name, REGISTRY) from None
    taken = inspect.signature(cls.__init__).parameters
    return cls(workers, **{k: v for k, v in options.items() if k in taken})


def parse_workers(text: str) -> int:
    """A worker count from the command line: a whole number of at least 1."""
    try:
        workers = int(text)
    except ValueError:
        raise UsageError(f"workers must be a whole number, not {text!r}") from None
    if workers < 1:
        raise UsageError(f"workers must be at least 1, not {workers}")
    return workers


def parse_spec(spec: str, **options: Any) -> Strategy:
    """``name`` or ``name:workers``."""
    name, _, workers = spec.strip().partition(":")
    return make(name, parse_workers(workers) if workers else None, **options)
