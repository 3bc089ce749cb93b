"""The Python API: the same measurements as the command line, returning the data model.

The command line takes this path too: each of its commands calls a function here,
then renders what it returns. ``progress`` (done, total, label) and ``on_update``
(the comparison so far, after each round) are how it shows a run as it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from conlab.errors import UsageError
from conlab.lab.compare import Progress, Remeasure, Update
from conlab.lab.compare import compare as _compare
from conlab.model import Comparison, Workload
from conlab.strategies import REGISTRY, Strategy, parse_spec
from conlab.workloads import resolve
from conlab.workloads.user import function_workload

if TYPE_CHECKING:
    from conlab.advice import Advice
    from conlab.lab.sweep import Sweep
    from conlab.lesson.table import Lesson
    from conlab.measure.diff import Diff
    from conlab.model import Results

DEFAULT_STRATEGIES = ("threads", "thread-pool", "processes", "process-pool")


def compare(
    target: Workload | str | Callable[..., Any],
    items: Iterable[Any] | None = None,
    strategies: Sequence[Strategy | str] | None = None,
    *,
    workers: int | None = None,
    repeats: int = 5,
    warmup: int = 1,
    start_method: str | None = None,
    params: dict[str, Any] | None = None,
    timeout_s: float | None = None,
    isolate: bool | None = None,
    scheduler: str | None = None,
    ray_address: str | None = None,
    progress: Progress | None = None,
    on_update: Update | None = None,
    remeasure: Remeasure | None = None,
) -> Comparison:
    """Run a workload under each strategy (``"thread-pool:4"`` or a Strategy) and compare.

    Runs that did not get the cores they asked for are measured again within ``remeasure``
    (default: as many extra rounds as ``repeats``, at most 30 s).

    ``target`` is a Workload, a catalogue name (``"hash"``, with ``params``),
    ``"module:factory"``, or a function with ``items``: one task per item,
    ``func(item)``, or ``func(*args, **kwargs)`` for an item
    ``{"args": [...], "kwargs": {...}}``; an ``async def`` function runs under
    asyncio too. For a Workload or a name, the second positional argument is
    the strategies, as before. A strategy named without a worker count gets
    ``workers``; without it, the count the work wants: the usable cores, or more threads
    for a thread pool on work that waits (each run's ``workers_source`` says which). ``scheduler`` (tcp://HOST:PORT)
    and ``ray_address`` point dask and ray at existing clusters. ``timeout_s``
    limits each task. In-process strategies (sequential, threads, ...) run your code in a
    sandbox process, so that a crash in it is a record, not the end of your program;
    ``isolate=False`` runs it in this process, ``isolate=True`` sandboxes catalogue
    workloads too.
    """
    if callable(target) and not isinstance(target, (Workload, str)):
        if items is None:
            raise UsageError("compare(func, items): give the inputs to call the function on")
        workload = function_workload(target, items, fixed=params)
    else:
        if items is not None:
            if strategies is not None:
                raise UsageError("items are inputs for a function; this target is a workload")
            strategies = list(items)
        workload = resolve(target, params)
    chosen = strategy_list(
        strategies if strategies is not None else DEFAULT_STRATEGIES,
        workers,
        start_method,
        scheduler=scheduler,
        ray_address=ray_address,
        timeout_s=timeout_s,
        isolate=isolate,
    )
    return _compare(
        workload,
        chosen,
        repeats,
        warmup,
        progress=progress,
        on_update=on_update,
        remeasure=remeasure,
    )


def strategy_list(
    specs: Sequence[Strategy | str] | None,
    workers: int | None = None,
    start_method: str | None = None,
    *,
    scheduler: str | None = None,
    ray_address: str | None = None,
    timeout_s: float | None = None,
    isolate: bool | None = None,
) -> list[Strategy]:
    """The strategies ``specs`` name, each built once.

    By default, every registered strategy that runs on this machine alone: the
    cluster ones (dask, ray) start a cluster per run, seconds each, so they join
    only when named or pointed at a cluster (``scheduler``, ``ray_address``).
    A pooled strategy named without a worker count gets ``workers``; without it, the lab
    chooses the count for the work (lab/workers.py): the usable cores, or more threads for a
    thread pool on work that waits.
    """
    if isolate is False and timeout_s is not None:
        raise UsageError(
            "--in-process (isolate=False) and --timeout cannot go together: a task in "
            "conlab's own process (the sequential reference's) cannot be stopped; drop one"
        )
    if specs is None:
        asked = {"dask": bool(scheduler), "ray": bool(ray_address)}
        specs = [name for name in REGISTRY if asked.get(name, True)]
    chosen: list[Strategy] = []
    for spec in specs:
        if isinstance(spec, Strategy):
            chosen.append(spec)
            continue
        if not spec.strip():
            raise UsageError(
                "an empty strategy name: give names separated by commas, e.g. threads,process-pool:2"
            )
        strategy = parse_spec(
            spec,
            {"start_method": start_method, "scheduler": scheduler, "ray_address": ray_address},
            timeout_s=timeout_s,
            isolate=isolate,
        )
        if strategy.pooled and strategy.workers is None and workers is not None:
            strategy.workers = workers
        chosen.append(strategy)
    return chosen


def sweep(
    workload: Workload | str,
    strategy: str = "process-pool",
    workers: Sequence[int] = (1, 2, 4, 8),
    *,
    tasks: Sequence[int] | None = None,
    repeats: int = 3,
    warmup: int = 1,
    start_method: str | None = None,
    timeout_s: float | None = None,
    isolate: bool | None = None,
    scheduler: str | None = None,
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> Sweep:
    """Run ``strategy`` with each worker count (and each task count in ``tasks``).

    The result shows speed-up and efficiency against workers and Amdahl's fit.
    ``timeout_s``, ``isolate``, ``scheduler`` and ``ray_address`` are as for compare.
    """
    from conlab.lab.sweep import sweep as _sweep

    return _sweep(
        workload,
        strategy,
        workers,
        tasks=tasks,
        repeats=repeats,
        warmup=warmup,
        start_method=start_method,
        progress=progress,
        scheduler=scheduler,
        ray_address=ray_address,
        timeout_s=timeout_s,
        isolate=isolate,
    )


def advise(
    target: Workload | str | Callable[..., Any],
    items: Iterable[Any] | None = None,
    *,
    workers: int | None = None,
    strategies: Sequence[str] | None = None,
    start_method: str | None = None,
    verify: bool = True,
    repeats: int = 3,
    warmup: int = 1,
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Advice:
    """Probe a workload, predict every strategy here, recommend one and, with ``verify``, check it.

    ``target`` is what compare() takes: a Workload, a catalogue name (with ``params``),
    ``"module:factory"``, or a function with ``items`` (one task per item; an ``async def``
    function gets asyncio as a candidate). The returned Advice holds the probe, every
    prediction, the choice and why in plain words, and (verified) the comparison whose
    ``advice`` is ``to_dict()``.
    """
    from conlab.advice import advise as _advise

    if callable(target) and not isinstance(target, (Workload, str)):
        if items is None:
            raise UsageError("advise(func, items): give the inputs to call the function on")
        workload = function_workload(target, items, fixed=params)
    elif items is not None:
        raise UsageError("items are inputs for a function; this target is a workload")
    else:
        workload = resolve(target, params)
    return _advise(
        workload,
        workers=workers,
        strategies=strategies,
        start_method=start_method,
        verify=verify,
        repeats=repeats,
        warmup=warmup,
        progress=progress,
    )


def advice_comparison(advice: Advice) -> Comparison:
    """What a result file holds for ``advice``: its verification, or the advice alone, titled so."""
    if advice.comparison is not None:
        return advice.comparison
    workload = advice.workload
    return Comparison(
        workload=workload.name,
        kind=workload.kind,
        tasks=len(workload.tasks),
        params=dict(workload.params),
        repeats=0,
        warmup=0,
        title=f"Advice for {workload.name} (not verified)",
        advice=advice.to_dict(),
    )


def demo(
    *,
    quick: bool = False,
    repeats: int | None = None,
    warmup: int | None = None,
    start_method: str | None = None,
    timeout_s: float | None = None,
    isolate: bool | None = None,
    progress: Progress | None = None,
    on_update: Update | None = None,
) -> Iterator[Callable[[], Comparison | Lesson]]:
    """The demo's parts, each measured when called, so that each can be shown as it comes."""
    from conlab.lesson.demo import DemoSettings, parts

    settings = DemoSettings(
        quick=quick,
        repeats=repeats,
        warmup=warmup,
        start_method=start_method,
        timeout_s=timeout_s,
        isolate=isolate,
    )
    return parts(settings, progress, on_update)


def explain(
    *, quick: bool = False, start_method: str | None = None, progress: Progress | None = None
) -> Lesson:
    """The lesson's threads-vs-processes table, every cell measured now on this machine."""
    from conlab.lesson import table

    return table.measure(quick=quick, start_method=start_method, progress=progress)


def environment() -> dict[str, Any]:
    """This machine and interpreter, as a result file records them."""
    from conlab.measure import environment as _environment

    return _environment.collect()


def diff(a: Results, b: Results, *, min_effect: float = 0.05, alpha: float = 0.05) -> Diff:
    """What got faster or slower from ``a`` to ``b``: ratio B/A of each workload and strategy.

    A change is significant when a Mann-Whitney U or Welch test says so at ``alpha``
    and the ratio is at least ``min_effect`` (a fraction) from 1.
    """
    from conlab.measure.diff import diff as _diff

    return _diff(a, b, min_effect=min_effect, alpha=alpha)
