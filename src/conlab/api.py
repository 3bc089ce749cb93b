"""The Python API: the same measurements as the command line, returning the data model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conlab.measure.lab import compare as _compare
from conlab.model import Comparison, Workload
from conlab.strategies import Strategy, parse_spec
from conlab.workloads import build

if TYPE_CHECKING:
    from conlab.advice import Advice

DEFAULT_STRATEGIES = ("threads", "thread-pool", "processes", "process-pool")


def compare(
    workload: Workload | str,
    strategies: Sequence[Strategy | str] | None = None,
    *,
    workers: int | None = None,
    repeats: int = 5,
    warmup: int = 1,
    start_method: str | None = None,
) -> Comparison:
    """Run ``workload`` under each strategy (``"thread-pool:4"`` or a Strategy) and compare.

    A strategy named without a worker count gets ``workers`` (default: the usable cores).
    """
    from conlab.measure.environment import usable_cpus

    if isinstance(workload, str):
        workload = build(workload)
    n = workers if workers is not None else usable_cpus()
    chosen: list[Strategy] = []
    for spec in strategies if strategies is not None else DEFAULT_STRATEGIES:
        if isinstance(spec, Strategy):
            chosen.append(spec)
            continue
        strategy = parse_spec(spec, start_method=start_method)
        if strategy.pooled and strategy.workers is None:
            strategy.workers = n
        chosen.append(strategy)
    return _compare(workload, chosen, repeats, warmup)


def advise(
    workload: Workload | str,
    *,
    workers: int | None = None,
    strategies: Sequence[str] | None = None,
    start_method: str | None = None,
    verify: bool = True,
    repeats: int = 3,
    warmup: int = 1,
) -> Advice:
    """Probe ``workload``, predict every strategy here, recommend one and, with ``verify``, check it.

    The returned Advice holds the probe, every prediction, the choice and why in
    plain words, and (verified) the comparison whose ``advice`` is ``to_dict()``.
    """
    from conlab.advice import advise as _advise

    if isinstance(workload, str):
        workload = build(workload)
    return _advise(
        workload,
        workers=workers,
        strategies=strategies,
        start_method=start_method,
        verify=verify,
        repeats=repeats,
        warmup=warmup,
    )
