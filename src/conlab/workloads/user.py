"""The user's own code: ``module:function`` on a list of inputs, or a factory returning a Workload.

Modules are imported from the current directory first, as ``python -m`` does.
An ``async def`` function runs under the asyncio strategy as it is, and under
every other strategy through ``asyncio.run``, one event loop per call.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from conlab.errors import UsageError, UserCodeError, format_error
from conlab.model import Task, Workload
from conlab.workloads import params


def is_target(text: str) -> bool:
    """Whether ``text`` names user code (``module:function``) rather than a catalogue workload."""
    return ":" in text


def load_callable(target: str) -> Callable[..., Any]:
    """The object ``module:attr.attr`` names; one-line errors for every way it can fail."""
    module_name, _, attr_path = target.partition(":")
    if not module_name or not attr_path:
        raise UserCodeError(f"{target!r} is not module:function (for example mypkg.mod:func)")
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise UserCodeError(
            f"{module_name!r} (from {target}) is not a module name: give dotted names "
            "importable from the current directory, e.g. mypkg.mod:func for mypkg/mod.py"
        )
    if not all(part.isidentifier() for part in attr_path.split(".")):
        raise UserCodeError(f"{attr_path!r} (from {target}) is not a name in a module")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # what python -m does: the current directory first
    module = _import(module_name, target)
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            where = getattr(obj, "__name__", module_name)
            raise UserCodeError(f"{where!r} has no attribute {part!r} (from {target}){hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserCodeError(f"{target} is a {type(obj).__name__}, not a function")
    return obj


def _import(module_name: str, target: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise UserCodeError(
                f"cannot import {module_name!r} (from {target}): no module named {exc.name!r}; "
                "run conlab from the directory that holds it, or install it"
            ) from None
        raise UserCodeError(f"importing {module_name!r} failed: {_error_and_where(exc)}") from None
    except (Exception, SystemExit) as exc:
        raise UserCodeError(f"importing {module_name!r} failed: {_error_and_where(exc)}") from None


def _error_and_where(exc: BaseException) -> str:
    """``ExcType: message (file.py:line)``, where the error was raised in the user's code."""
    text = format_error(exc)
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        text += f" ({os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno})"
    return text


def run_coroutine(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run an async function to completion in an event loop of its own."""
    return asyncio.run(fn(*args, **kwargs))


# Inputs are arguments, not data sets: a task that needs more reads it itself.
MAX_INPUTS_BYTES = 64 * 2**20


def _read_bounded(path: str) -> bytes:
    """At most MAX_INPUTS_BYTES of ``path`` (``/dev/zero`` is refused, not read to the end)."""
    with open(path, "rb") as f:
        data = f.read(MAX_INPUTS_BYTES + 1)
    if len(data) > MAX_INPUTS_BYTES:
        raise UsageError(
            f"--inputs {path} is larger than {MAX_INPUTS_BYTES >> 20} MiB: give the tasks "
            "names or paths of their data, not the data itself"
        )
    return data


def read_inputs(path: str) -> list[Any]:
    """The items of a JSON file holding a list, bounded in size, depth and count."""
    try:
        items = json.loads(_read_bounded(path).decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read --inputs {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, not UTF-8, an integer of too many digits
        text = " ".join(str(exc).split())[:120]
        raise UsageError(f"--inputs {path} is not JSON: {text}") from None
    except RecursionError:
        raise UsageError(f"--inputs {path} is not JSON this reads: nested too deeply") from None
    if isinstance(items, list) and len(items) > params.MAX_TASKS:
        raise UsageError(
            f"--inputs {path} holds {len(items)} items; one comparison takes at most "
            f"{params.MAX_TASKS} tasks: give fewer, or batch items into each call"
        )
    if not isinstance(items, list):
        raise UsageError(
            f"--inputs {path} holds a JSON {type(items).__name__}, not a list: "
            'give one item per call, e.g. [1, 2, {"args": [3, 4], "kwargs": {"k": 5}}]'
        )
    return items


def _call_args(item: Any, where: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """An item is one argument, or ``{"args": [...], "kwargs": {...}}``."""
    if isinstance(item, dict) and item and set(item) <= {"args", "kwargs"}:
        args, kwargs = item.get("args", []), item.get("kwargs", {})
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
            raise UsageError(f"{where}: 'args' must be a list and 'kwargs' an object")
        return tuple(args), dict(kwargs)
    return (item,), {}


def function_workload(
    fn: Callable[..., Any],
    items: Iterable[Any],
    name: str | None = None,
    fixed: dict[str, Any] | None = None,
    described_as: dict[str, Any] | None = None,
) -> Workload:
    """One task per item: ``fn(item)``, or ``fn(*args, **kwargs)`` for an args/kwargs item.

    ``fixed`` keyword arguments go to every call.
    """
    label: str = name or getattr(fn, "__qualname__", None) or repr(fn)
    calls = [_call_args(item, f"item {k}") for k, item in enumerate(items)]
    if not calls:
        raise UsageError(f"no inputs for {label}: give at least one item")
    fixed = dict(fixed or {})
    short = getattr(fn, "__name__", "task")
    is_async = inspect.iscoroutinefunction(fn)
    tasks, async_tasks = [], []
    for k, (args, kwargs) in enumerate(calls):
        kw = {**fixed, **kwargs}
        if is_async:
            tasks.append(Task(run_coroutine, (fn, *args), kw, name=f"{short}[{k}]"))
            async_tasks.append(Task(fn, args, kw, name=f"{short}[{k}]"))
        else:
            tasks.append(Task(fn, args, kw, name=f"{short}[{k}]"))
    return Workload(
        name=label,
        kind="mixed",
        description=f"your {'async ' if is_async else ''}function {label}, once per input "
        "(its kind is not declared: mixed)",
        params={**(described_as or {"items": len(calls)}), **fixed},
        tasks=tasks,
        async_tasks=async_tasks if is_async else None,
    )


def load(
    target: str,
    kwargs: Mapping[str, Any] | None = None,
    inputs: str | None = None,
    range_n: int | None = None,
) -> Workload:
    """``module:function`` called once per input (``inputs`` file or ``range_n``), or a factory.

    ``kwargs`` are the function's fixed keyword arguments, or the factory's, checked
    against its signature and typed as it declares.
    """
    obj = load_callable(target)
    if inputs is not None and range_n is not None:
        raise UsageError("give --inputs or --range, not both")
    checked = params.check(target, obj, dict(kwargs or {}))
    if inputs is None and range_n is None:
        return _from_factory(target, obj, checked)
    if inputs is not None:
        return function_workload(obj, read_inputs(inputs), target, checked, {"inputs": inputs})
    assert range_n is not None
    if not 1 <= range_n <= params.MAX_TASKS:
        raise UsageError(f"--range must be from 1 to {params.MAX_TASKS}, not {range_n}")
    return function_workload(obj, range(range_n), target, checked, {"range": range_n})


def _from_factory(target: str, factory: Callable[..., Any], kwargs: dict[str, Any]) -> Workload:
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError:
        raise UsageError(
            f"{target} needs arguments: give --inputs FILE or --range N to call it once per "
            "input, or point at a factory that returns a conlab.Workload"
        ) from None
    except ValueError:  # no signature (a builtin): just call it
        pass
    try:
        workload = factory(**kwargs)
    except UsageError:
        raise
    except Exception as exc:
        raise UserCodeError(f"{target}(...) raised {_error_and_where(exc)}") from None
    if not isinstance(workload, Workload):
        raise UsageError(
            f"{target} returned a {type(workload).__name__}, not a conlab.Workload: give --inputs "
            "FILE or --range N to call it once per input"
        )
    return workload
