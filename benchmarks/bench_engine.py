"""conlab.map against the standard library and the pool libraries, in the same run (issue 9).

Each case runs in a fresh interpreter (``--case NAME``), so that its peak
memory (ru_maxrss) is its own: growth = peak RSS - RSS before the run.
Every case consumes the results the same way (a deque of length 0) from a
generator of the items. Times are the best of REPEATS runs (on a shared machine, others only
ever slow a run down), memory the median.

    flock /tmp/conlab-cpu.lock .venv/bin/python benchmarks/bench_engine.py
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

N_TINY = 1_000_000
N_THREADS = 100_000
REPEATS = 3
CPU_TASKS, CPU_TASK_S = 8, 0.25
WORKERS = 2


def inc(x: int) -> int:
    return x + 1


def items(n: int) -> Iterator[int]:
    return (x for x in range(n))


def spin(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i % 7
    return total


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _import_conlab() -> Any:
    """conlab with the engine's modules loaded, as the peers' modules are, before the clock starts."""
    import conlab
    import conlab._process.crashes
    import conlab.engine.mapping
    import conlab.engine.pool
    import conlab.measure.environment

    return conlab


def _timed(make: Callable[[], Iterable[Any]], n: int) -> dict[str, float]:
    """Per-item time, first-result latency and peak memory growth of consuming ``make()``."""
    before = _rss_bytes()
    t0 = time.perf_counter()
    results = iter(make())
    first = next(results)
    t1 = time.perf_counter()
    collections.deque(results, maxlen=0)
    t2 = time.perf_counter()
    assert first is not None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "us_per_item": (t2 - t0) / n * 1e6,
        "first_ms": (t1 - t0) * 1e3,
        "mem_mb": max(0, peak - before) / 1e6,
    }


# --- the cases, each in its own interpreter ------------------------------------------------


def case_conlab_processes() -> dict[str, float]:
    conlab = _import_conlab()

    return _timed(
        lambda: conlab.map(inc, items(N_TINY), strategy="processes", workers=WORKERS), N_TINY
    )


def case_pool_imap() -> dict[str, float]:
    import multiprocessing

    with multiprocessing.Pool(WORKERS) as pool:
        return _timed(lambda: pool.imap(inc, items(N_TINY), chunksize=1000), N_TINY)


def case_joblib() -> dict[str, float]:
    from joblib import Parallel, delayed

    def run() -> Iterable[Any]:
        parallel = Parallel(n_jobs=WORKERS, return_as="generator")
        return parallel(delayed(inc)(x) for x in items(N_TINY))

    return _timed(run, N_TINY)


def case_mpire() -> dict[str, float]:
    from mpire import WorkerPool

    with WorkerPool(n_jobs=WORKERS) as pool:
        return _timed(lambda: pool.imap(inc, items(N_TINY)), N_TINY)


def case_conlab_threads() -> dict[str, float]:
    conlab = _import_conlab()

    return _timed(lambda: conlab.map(inc, items(N_THREADS), strategy="thread-pool"), N_THREADS)


def case_executor_threads() -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor() as pool:
        return _timed(lambda: pool.map(inc, items(N_THREADS)), N_THREADS)


def case_cpu() -> dict[str, float]:
    """8 x 0.25 s of pure Python: a plain loop, conlab.map (processes, auto), Pool.map."""
    import multiprocessing

    conlab = _import_conlab()
    loops = _calibrate(CPU_TASK_S)
    expected = [spin(loops) for _ in range(CPU_TASKS)]
    out = {"sequential_s": _time(lambda: [spin(loops) for _ in range(CPU_TASKS)])}
    for strategy in ("processes", "auto"):
        t0 = time.perf_counter()
        got = list(conlab.map(spin, [loops] * CPU_TASKS, strategy=strategy, workers=WORKERS))
        out[f"{strategy}_s"] = time.perf_counter() - t0
        assert got == expected
    t0 = time.perf_counter()
    with multiprocessing.Pool(WORKERS) as pool:
        assert pool.map(spin, [loops] * CPU_TASKS, chunksize=1) == expected
    out["Pool.map_s"] = time.perf_counter() - t0
    return out


def _calibrate(seconds: float) -> int:
    """Loops of spin() that take ``seconds`` here (the best of five tries)."""
    loops = 200_000
    while True:
        took = min(_time(spin, loops) for _ in range(5))
        if took > 0.05:
            return int(loops * seconds / took)
        loops *= 2


def _time(fn: Callable[..., Any], *args: Any) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def case_seed() -> dict[str, float]:
    """The lesson's two tasks through conlab.map(strategy="thread-pool"), and ThreadPoolExecutor.map."""
    from concurrent.futures import ThreadPoolExecutor

    from conlab.workloads import seed

    conlab = _import_conlab()
    fns = [seed.calc_square, seed.calc_cube]
    expected = [[n * n for n in seed.NUMBERS], [n**3 for n in seed.NUMBERS]]

    def call(fn: Callable[[list[int]], list[int]]) -> list[int]:
        return fn(seed.NUMBERS)

    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        assert list(conlab.map(call, fns, strategy="thread-pool", workers=2)) == expected
        t1 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(call, fns)) == expected
        t2 = time.perf_counter()
    return {"wall_s": t1 - t0, "executor_s": t2 - t1, "floor_s": 0.2 * len(seed.NUMBERS)}


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def run_case(name: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--case", name], capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(f"case {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def best_of(name: str, repeats: int = REPEATS) -> dict[str, float]:
    """Times: the best of the runs (other users of the machine only ever add); memory: the median."""
    runs = [run_case(name) for _ in range(repeats)]
    pick = {key: statistics.median if key.startswith("mem") else min for key in runs[0]}
    return {key: pick[key](r[key] for r in runs) for key in runs[0]}


def main() -> int:
    tiny = {
        "conlab.map processes": best_of("conlab_processes"),
        "multiprocessing.Pool.imap(chunksize=1000)": best_of("pool_imap"),
        "joblib Parallel(return_as='generator')": best_of("joblib"),
        "mpire WorkerPool.imap": best_of("mpire"),
    }
    threads = {
        "conlab.map thread-pool": best_of("conlab_threads"),
        "ThreadPoolExecutor.map": best_of("executor_threads"),
    }
    cpu = best_of("cpu")
    seed = best_of("seed")

    print(f"### f(x) = x + 1, {N_TINY:,} items from a generator, {WORKERS} worker processes\n")
    _table(tiny)
    print(f"\n### f(x) = x + 1 on threads, {N_THREADS:,} items (default workers)\n")
    _table(threads)
    mine, imap = tiny["conlab.map processes"], tiny["multiprocessing.Pool.imap(chunksize=1000)"]
    joblib, mpire = tiny["joblib Parallel(return_as='generator')"], tiny["mpire WorkerPool.imap"]
    speedup = cpu["sequential_s"] / cpu["processes_s"]
    print(f"\n### {CPU_TASKS} x {CPU_TASK_S} s of pure Python on {WORKERS} processes\n")
    print("| run | wall (s) | speed-up |\n| --- | ---: | ---: |")
    labels = {"processes_s": "conlab.map processes", "auto_s": "conlab.map auto"}
    for key in ("sequential_s", "processes_s", "auto_s", "Pool.map_s"):
        label = labels.get(key, key[:-2])
        print(f"| {label} | {cpu[key]:.3f} | {cpu['sequential_s'] / cpu[key]:.2f}x |")
    over_ms = (seed["wall_s"] - seed["floor_s"]) * 1e3
    peer_ms = (seed["executor_s"] - seed["floor_s"]) * 1e3
    print(
        f"\n### seed workload (floor 0.8 s): conlab.map thread-pool +{over_ms:.2f} ms, "
        f"ThreadPoolExecutor.map +{peer_ms:.2f} ms\n"
    )

    targets = [
        ("processes: <= 0.10 us per item", mine["us_per_item"] <= 0.10),
        ("processes: peak parent memory growth <= 5 MB", mine["mem_mb"] <= 5),
        ("processes: first result within 5 ms", mine["first_ms"] <= 5),
        (
            "processes: faster than Pool.imap(chunksize=1000)",
            mine["us_per_item"] < imap["us_per_item"],
        ),
        ("processes: >= 20x joblib", joblib["us_per_item"] >= 20 * mine["us_per_item"]),
        ("processes: >= 20x mpire", mpire["us_per_item"] >= 20 * mine["us_per_item"]),
        (
            "threads: throughput >= ThreadPoolExecutor.map",
            threads["conlab.map thread-pool"]["us_per_item"]
            <= threads["ThreadPoolExecutor.map"]["us_per_item"],
        ),
        ("threads: flat memory (<= 5 MB)", threads["conlab.map thread-pool"]["mem_mb"] <= 5),
        ("CPU-bound: speed-up >= 1.95x", speedup >= 1.95),
        ("seed via thread-pool: within 2 ms of 0.8 s", over_ms <= 2),
    ]
    print("| target | met |\n| --- | --- |")
    for label, met in targets:
        print(f"| {label} | {'yes' if met else 'NO'} |")
    return 0 if all(met for _, met in targets) else 1


def _table(rows: dict[str, dict[str, float]]) -> None:
    print("| run | us per item | first result (ms) | peak memory growth (MB) |")
    print("| --- | ---: | ---: | ---: |")
    for label, r in rows.items():
        print(f"| {label} | {r['us_per_item']:.3f} | {r['first_ms']:.2f} | {r['mem_mb']:.1f} |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(CASES[sys.argv[2]]()))
        sys.exit(0)
    sys.exit(main())
