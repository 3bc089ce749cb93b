"""The Python API: the same measurements as the command line, returning the data model."""

from __future__ import annotations

from collections.abc import Sequence

from conlab.measure.lab import compare as _compare
from conlab.model import Comparison, Workload
from conlab.strategies import Strategy, parse_spec
from conlab.workloads import build

DEFAULT_STRATEGIES = ("threads", "thread-pool", "processes", "process-pool")


def compare(
    workload: Workload | str,
    strategies: Sequence[Strategy | str] | None = None,
    *,
    workers: int | None = None,
    repeats: int = 5,
    warmup: int = 1,
    start_method: str | None = None,
    timeout_s: float | None = None,
    isolate: bool = False,
    scheduler: str | None = None,
    ray_address: str | None = None,
) -> Comparison:
    """Run ``workload`` under each strategy (``"thread-pool:4"`` or a Strategy) and compare.

    A strategy named without a worker count gets ``workers`` (default: the usable cores).
    ``scheduler`` (tcp://HOST:PORT) and ``ray_address`` point dask and ray at existing clusters.
    ``timeout_s`` limits each task; ``isolate`` runs in-process strategies in a sandbox process.
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
        strategy = parse_spec(
            spec,
            start_method=start_method,
            scheduler=scheduler,
            ray_address=ray_address,
            timeout_s=timeout_s,
            isolate=isolate,
        )
        if strategy.pooled and strategy.workers is None:
            strategy.workers = n
        chosen.append(strategy)
    return _compare(workload, chosen, repeats, warmup)
