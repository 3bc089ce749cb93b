"""conlab's dask and ray strategies against the same work written by hand, on the same cluster.

Target (issue 7): conlab adds at most 10 % over ``Client.map``/``ray.remote`` by
hand, on a workload of 40 tasks of 50 ms on 2 workers. Also recorded: the
per-task dispatch cost of each engine, by hand and through conlab, from 400
tasks that do nothing. Start-up (cluster, connection, warm-up) is left out of
both sides: conlab times it apart. Repeats alternate the two sides; medians.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/bench_engines.py
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Callable

from conlab.model import Task
from conlab.strategies import make

WORKERS = 2
SLEEP_TASKS, SLEEP_S = 40, 0.05
NOOP_TASKS = 400
REPEATS = 5
TARGET = 1.10


def nap(x: int) -> int:
    time.sleep(SLEEP_S)
    return x * x


def noop(x: int) -> int:
    return x


def _median_s(fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(REPEATS))


def _alternate(hand: Callable[[], float], ours: Callable[[], float]) -> tuple[float, float]:
    """Medians of both sides, measured turn about so that drift hits both alike."""
    a, b = [], []
    for _ in range(REPEATS):
        a.append(hand())
        b.append(ours())
    return statistics.median(a), statistics.median(b)


def _conlab(strategy_factory: Callable[[], object], fn: Callable[[int], int], n: int) -> float:
    strategy = strategy_factory()
    execution = strategy.run([Task(fn, (i,)) for i in range(n)])  # type: ignore[attr-defined]
    assert all(r.ok for r in execution.records), [r.error for r in execution.records if not r.ok]
    return float(execution.wall_ns / 1e9)


def bench_dask() -> list[tuple[str, float, float]]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):

        def hand(fn: Callable[[int], int], n: int) -> Callable[[], float]:
            def once() -> float:
                t = time.perf_counter()
                futures = client.map(fn, range(n), pure=False)
                results = client.gather(futures)
                wall = time.perf_counter() - t
                assert results == [fn(i) if fn is noop else i * i for i in range(n)]
                return wall

            return once

        def ours(fn: Callable[[int], int], n: int) -> Callable[[], float]:
            return lambda: _conlab(
                lambda: make("dask", WORKERS, scheduler=cluster.scheduler_address), fn, n
            )

        hand(noop, 10)()  # the workers load the functions once, outside the timing
        return _rows("dask", hand, ours)


def bench_ray() -> list[tuple[str, float, float]]:
    import ray

    ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False, logging_level="error")
    try:
        remote_fns = {fn: ray.remote(num_cpus=1)(fn) for fn in (nap, noop)}

        def hand(fn: Callable[[int], int], n: int) -> Callable[[], float]:
            def once() -> float:
                t = time.perf_counter()
                results = ray.get([remote_fns[fn].remote(i) for i in range(n)])
                wall = time.perf_counter() - t
                assert results == [i if fn is noop else i * i for i in range(n)]
                return wall

            return once

        def ours(fn: Callable[[int], int], n: int) -> Callable[[], float]:
            return lambda: _conlab(lambda: make("ray", WORKERS), fn, n)

        hand(noop, 10)()
        return _rows("ray", hand, ours)
    finally:
        ray.shutdown()


def _rows(
    engine: str, hand: Callable[..., Callable[[], float]], ours: Callable[..., Callable[[], float]]
) -> list[tuple[str, float, float]]:
    work = _alternate(hand(nap, SLEEP_TASKS), ours(nap, SLEEP_TASKS))
    dispatch = _alternate(hand(noop, NOOP_TASKS), ours(noop, NOOP_TASKS))
    return [
        (f"{engine}: {SLEEP_TASKS} × {SLEEP_S * 1000:.0f} ms on {WORKERS} workers, wall s", *work),
        (
            f"{engine}: dispatch per task ({NOOP_TASKS} no-op tasks), ms",
            dispatch[0] / NOOP_TASKS * 1000,
            dispatch[1] / NOOP_TASKS * 1000,
        ),
    ]


def main() -> int:
    rows = []
    for bench in (bench_dask, bench_ray):
        try:
            rows.extend(bench())
        except ImportError as exc:
            print(f"skipped {bench.__name__}: {exc}", file=sys.stderr)
    floor = SLEEP_TASKS * SLEEP_S / WORKERS
    print(f"Floor of the {SLEEP_TASKS}-task workload: {floor:.3f} s. Medians of {REPEATS}.\n")
    print("| measure | by hand | conlab | conlab / hand |")
    print("| --- | ---: | ---: | ---: |")
    missed = []
    for label, hand, ours in rows:
        ratio = ours / hand
        print(f"| {label} | {hand:.3f} | {ours:.3f} | {ratio:.2f} |")
        if "wall" in label and ratio > TARGET:
            missed.append(label)
    if missed:
        print(f"\nMissed the target (conlab at most {TARGET:.2f} × by hand): {'; '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
