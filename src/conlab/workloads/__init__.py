"""The workload catalogue: each name builds a Workload from its parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conlab.errors import UnknownNameError
from conlab.model import Workload
from conlab.workloads import compute, seed

__all__ = ["CATALOGUE", "build"]

CATALOGUE: dict[str, Callable[..., Workload]] = {
    "seed": seed.workload,
    "cpu": compute.workload,
}


def build(name: str, **params: Any) -> Workload:
    try:
        factory = CATALOGUE[name]
    except KeyError:
        raise UnknownNameError("workload", name, CATALOGUE) from None
    return factory(**params)
