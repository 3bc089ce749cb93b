"""A workload's parameters: ``--param key=value`` read and checked against its factory's signature.

The factory's annotations give each value its type, so ``tasks=8`` becomes an
int and ``sleep_s=0.1`` a float; an unknown key or a value of the wrong type is
one line naming what is valid.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from conlab.errors import UsageError

_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def signature_params(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword parameters a factory takes."""
    return {
        name: p
        for name, p in inspect.signature(factory).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    """``{key: default}`` for every parameter that has a default."""
    return {
        name: p.default for name, p in signature_params(factory).items() if p.default is not p.empty
    }


def parse(owner: str, factory: Callable[..., Any], pairs: Sequence[str]) -> dict[str, Any]:
    """``["tasks=8", "sleep_s=0.1"]`` as keyword arguments of ``factory``, typed and checked."""
    return check(owner, factory, split(pairs))


def split(pairs: Sequence[str]) -> dict[str, str]:
    """``["tasks=8"]`` as ``{"tasks": "8"}``: the text of each ``--param``, not yet typed."""
    raw: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param takes key=value, not {pair!r}")
        raw[key.strip()] = value.strip()
    return raw


# The most tasks one comparison holds: each is kept with its record, output and result
# until the run ends, and written to the result file (10**5 tasks: some 100 MB of JSON).
MAX_TASKS = 100_000

# The range of each catalogue parameter: past these a run takes hours or all the memory.
RANGES: dict[str, tuple[float, float]] = {
    "tasks": (1, MAX_TASKS),
    "sleep_s": (0, 3600),
    "latency_s": (0, 3600),
    "size": (0, 1000),
    "size_mb": (1, 4096),
    "size_kb": (1, 2**20),
    "files": (1, 100_000),
    "n": (1, 8192),
    "side": (8, 8192),
    "rounds": (1, 100_000),
    "requests": (1, 1_000_000),
}
# Any other number a factory takes: finite, and no larger than this.
LARGEST = 10**12


def check(owner: str, factory: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with each value converted to the type the factory declares for it, in range."""
    known = signature_params(factory)
    hints = _hints(factory)
    ranges = _ranges(factory)
    out = {}
    for key, value in params.items():
        if key not in known:
            valid = ", ".join(known) or "none"
            raise UsageError(f"unknown parameter {key!r} for {owner}: valid keys are {valid}")
        out[key] = _convert(owner, key, value, hints.get(key))
        _in_range(owner, key, out[key], ranges.get(key))
    return out


def _ranges(factory: Callable[..., Any]) -> dict[str, tuple[float, float]]:
    """The catalogue's ranges for its own factories; only ``tasks`` is bounded for the user's."""
    if getattr(factory, "__module__", "").startswith("conlab.workloads."):
        return RANGES
    return {"tasks": RANGES["tasks"]}


def range_text(key: str) -> str | None:
    """``"1 to 100000"`` for a catalogue parameter, for listings and help."""
    if key not in RANGES:
        return None
    low, high = RANGES[key]
    return f"{_number(low)} to {_number(high)}"


def _in_range(owner: str, key: str, value: Any, bounds: tuple[float, float] | None) -> None:
    """A number must be finite and within ``bounds`` (or LARGEST); a list, not too long."""
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_TASKS:
            raise UsageError(
                f"parameter {key!r} of {owner} holds {len(value)} items; at most {MAX_TASKS}"
            )
        for item in value:
            _in_range(owner, key, item, None)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"parameter {key!r} of {owner} must be a finite number, not {value}")
    low, high = bounds or (-LARGEST, LARGEST)
    if not low <= value <= high:
        limit = f"at least {_number(low)}" if value < low else f"at most {_number(high)}"
        raise UsageError(f"parameter {key!r} of {owner} must be {limit}, not {_number(value)}")


def _number(value: float) -> str:
    if abs(value) >= 1e15 or (isinstance(value, float) and not value.is_integer()):
        return f"{value:g}"
    return str(int(value))


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(factory)
    except Exception:  # annotations that do not resolve: values stay as given
        return {}


def _convert(owner: str, key: str, value: Any, hint: Any) -> Any:
    if hint is None or hint is Any:
        return value
    options = _union(hint)
    if value is None and type(None) in options:
        return None
    if isinstance(value, str) and value.lower() == "none" and type(None) in options:
        return None
    for option in options:
        if option is type(None):
            continue
        try:
            return _as(option, value)
        except (TypeError, ValueError):
            continue
    wanted = " or ".join(_describe(o) for o in options if o is not type(None))
    raise UsageError(f"parameter {key!r} of {owner} must be {wanted}, not {value!r}")


def _union(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) is typing.Union or isinstance(hint, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _as(kind: Any, value: Any) -> Any:
    """``value`` (text from the command line, or a Python value) as ``kind``; ValueError if not."""
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)[:1] or (str,)
        items = value.split(",") if isinstance(value, str) else list(value)
        return origin(_as(item, v.strip() if isinstance(v, str) else v) for v in items)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    if isinstance(kind, type) and not isinstance(value, kind):
        raise ValueError(value)
    return value


def _describe(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)[:1] or (str,)
        return f"a comma-separated list of {_describe(item).removeprefix('a ')}s"
    return _TYPE_WORDS.get(kind, getattr(kind, "__name__", str(kind)))


def at_least(owner: str, key: str, value: float, minimum: float) -> None:
    """A parameter's value must be at least ``minimum`` (NaN is not)."""
    if not value >= minimum:
        raise UsageError(
            f"parameter {key!r} of {owner} must be at least {minimum:g}, not {value!r}"
        )
