"""The workload catalogue: each name builds a Workload from its parameters.

Workloads that need an optional extra (numpy, Pillow) are listed everywhere,
and say why they are unavailable when the extra is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conlab.errors import UnknownNameError, UsageError
from conlab.model import Workload
from conlab.workloads import (
    arrays,
    compute,
    files,
    hashing,
    images,
    mixed,
    params,
    seed,
    sleeping,
    text,
    web,
)

__all__ = ["CATALOGUE", "KINDS", "build", "factory", "resolve", "unavailable_reason"]

CATALOGUE: dict[str, Callable[..., Workload]] = {
    "seed": seed.workload,
    "sleep": sleeping.workload,
    "files": files.workload,
    "http": web.workload,
    "cpu": compute.workload,
    "text": text.workload,
    "hash": hashing.workload,
    "numpy": arrays.workload,
    "image": images.workload,
    "mixed": mixed.workload,
}

# The kind each workload declares, to list them without building them (a test keeps these true).
KINDS: dict[str, str] = {
    "seed": "io",
    "sleep": "io",
    "files": "io",
    "http": "io",
    "cpu": "cpu",
    "text": "cpu",
    "hash": "cpu-nogil",
    "numpy": "cpu-nogil",
    "image": "cpu-nogil",
    "mixed": "mixed",
}

# Why a workload cannot be built here (a missing extra), for those that may not be.
_REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "numpy": arrays.unavailable_reason,
    "image": images.unavailable_reason,
}


def factory(name: str) -> Callable[..., Workload]:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownNameError("workload", name, CATALOGUE) from None


def unavailable_reason(name: str) -> str | None:
    """Why the workload ``name`` cannot run here, or None when it can."""
    factory(name)
    requirement = _REQUIREMENTS.get(name)
    return requirement() if requirement is not None else None


def build(name: str, **kwargs: Any) -> Workload:
    """The catalogue workload ``name``, its parameters checked against its factory's signature."""
    make = factory(name)
    reason = unavailable_reason(name)
    if reason:
        raise UsageError(f"the {name} workload is not available here: it {reason}")
    return make(**params.check(f"the {name} workload", make, kwargs))


def resolve(
    target: Workload | str,
    params: Mapping[str, Any] | None = None,
    *,
    inputs: str | None = None,
    range_n: int | None = None,
) -> Workload:
    """The workload ``target`` names, for the command line and the API alike.

    A Workload is taken as it is; ``module:function`` is the user's code, called
    once per input (``inputs``, a JSON file, or ``range_n``) or, given neither, a
    factory returning a Workload; anything else is a catalogue name. ``params``
    go to the factory or, with inputs, to every call.
    """
    if isinstance(target, Workload):
        return target
    from conlab.workloads import user

    if user.is_target(target):
        return user.load(target, params, inputs, range_n)
    if inputs is not None or range_n is not None:
        raise UsageError("--inputs and --range are for module:function, not catalogue workloads")
    return build(target, **(params or {}))
