"""The prediction model: the wall time of every strategy and worker count, from the probe.

MODEL is the whole model in one paragraph; ``conlab advise --explain-model``
prints it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conlab.advice.calibrate import (
    EVENT_LOOP,
    LOOP,
    OTHER,
    PROCESS_PER_TASK,
    PROCESS_POOL,
    THREAD_PER_TASK,
    THREAD_POOL,
    Costs,
    costs,
    family,
    import_s,
    pipe_bytes_per_s,
    start_methods,
)
from conlab.advice.profile import TaskProbe

MODEL = (
    "Each sampled task is timed alone: d seconds, c of them CPU demand (CPU time plus waiting "
    "for a free CPU). Two batches then run in two threads at once: the fraction p of a task's "
    "time that overlapped does not hold the GIL (waiting, C code releasing it, all of it on a "
    "free-threaded build); if their CPU time never overlapped, p is at most the waiting share. "
    "The capacity k: one process per usable core spins, and k is how many cores' worth of work "
    "they got through (fewer on a busy or virtual machine); if short, "
    "four per core spin too: n workers get k(n), the share Linux gives n threads beside others' "
    "R: A*n/(n+R). A strategy with n workers is predicted to take the longest of three bounds: "
    "tasks dealt to n workers, each to the first free one (about N*d/n); the CPU work shared by "
    "min(n*u, k(n*u)) cores (u: cores one task keeps busy, above 1 with threads of its own, as "
    "BLAS); and, for threads, the GIL-held part 1-p one at a time, with computing that releases "
    "the GIL spread over the cores (N*d*(1-p+r/k); more if two threads lost to a loop). Where "
    "the pair's waits and computing lined up rather than interleaved, rounds of n tasks are "
    "priced in step: their waits together, then their computing. Added: the strategy's costs, "
    "measured here on no-op tasks: its start-up (pools start workers in waves of k), a per-task "
    "dispatch cost (divided by the chunk size where tasks go in chunks), and for processes "
    "pickling, piping and unpickling each task's arguments and result. The recommendation is "
    "the fastest prediction of start-up plus run; within 3 % of it, the simpler strategy and "
    "the fewer workers win (asyncio first for async code); the verification overrides it."
)

# The most threads a thread pool is predicted with, and conlab.map's auto bound by default.
MAX_THREADS = 256
# Simplest first: what is recommended when predictions tie.
PREFERENCE = (LOOP, THREAD_POOL, THREAD_PER_TASK, EVENT_LOOP, PROCESS_POOL, PROCESS_PER_TASK)
TIE = 0.03
# A chunk's work should be worth this many times its dispatch cost.
CHUNK_WORK_PER_DISPATCH = 20


@dataclass
class Prediction:
    """The predicted cost of one strategy with one worker count."""

    strategy: str
    workers: int
    options: dict[str, Any] = field(default_factory=dict)
    chunksize: int | None = None
    startup_s: float = 0.0
    wall_s: float = 0.0
    unavailable: str | None = None
    # The model's family when the prediction is made without the strategy registry (stream_plan).
    model_family: str | None = None

    @property
    def total_s(self) -> float:
        return self.startup_s + self.wall_s

    @property
    def family(self) -> str:
        return self.model_family or family(self.strategy)

    @property
    def label(self) -> str:
        method = self.options.get("start_method")
        return f"{self.strategy}:{self.workers}" + (f"/{method}" if method else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "workers": self.workers,
            "options": dict(self.options),
            "chunksize": self.chunksize,
            "startup_s": self.startup_s,
            "wall_s": self.wall_s,
            "total_s": self.total_s,
            "unavailable": self.unavailable,
        }


def accepts_chunksize(name: str) -> bool:
    from conlab.strategies import REGISTRY

    cls = REGISTRY.get(name)
    return cls is not None and "chunksize" in cls.option_names


def worker_counts(fam: str, n_tasks: int, cores: int, fixed: int | None) -> list[int]:
    """The worker counts worth predicting for a pool."""
    if fam not in (THREAD_POOL, PROCESS_POOL):
        return [1 if fam == LOOP else n_tasks]
    if fixed is not None:
        return [fixed]
    top = min(n_tasks, MAX_THREADS if fam == THREAD_POOL else 4 * cores)
    counts = {top, min(cores, top)}
    k = 1
    while k <= top:
        counts.add(k)
        k *= 2
    return sorted(counts)


def chunksize_for(probe: TaskProbe, per_task_s: float, workers: int) -> int:
    """Tasks per chunk so that a chunk's work is worth 20 dispatches, leaving 4 chunks a worker."""
    d = max(probe.duration_s, 1e-9)
    want = math.ceil(per_task_s * CHUNK_WORK_PER_DISPATCH / d)
    return max(1, min(want, math.ceil(probe.tasks / (4 * workers))))


# A stream's items are measured on the workers while they run, for long: the time they waited
# for a CPU that other programs kept busy at that moment is left out of their CPU demand
# (it is latency, which more threads overlap, not work), where a workload's sample counts it.


def _in_threads_s(probe: TaskProbe, n: int) -> float:
    """The GIL's bound on one task's share of the wall time in ``n`` threads.

    Two threads took (2 - p) batches' time: the GIL-held part 1 - p ran one at a time, and
    computing that releases the GIL ran beside it, not within it (Amdahl's law at n = 2).
    With n threads that computing spreads over at most the cores (at least 2: the pair
    measured 2 on the machine as it was); waiting overlaps the held parts of other threads,
    which the bound of tasks dealt to n threads counts.
    """
    p = probe.overlap
    released = p - min(p, probe.wait_fraction)
    cores = min(n, max(2.0, probe.parallel_cores_for(n)))
    return probe.duration_s * ((1 - p) + released / cores)


def _threads_per_item_s(probe: TaskProbe, n: int) -> float:
    """_threads' bounds for one item of an endless stream (no start-up, no dispatch)."""
    return max(
        probe.duration_s / n,
        probe.cpu_s / min(n, probe.parallel_cores_for(n)),
        _in_threads_s(probe, n),
    )


def _processes_per_item_s(probe: TaskProbe, n: int) -> float:
    """_processes' bounds for one item of a stream sent in chunks (shipping left out: it is
    a fraction of a microsecond per item in conlab.map's own pool)."""
    return max(probe.duration_s / n, probe.cpu_s / min(n, probe.parallel_cores_for(n)))


def threads_for(probe: TaskProbe, bound: int) -> int:
    """The fewest threads (at most ``bound``) within TIE of the best the model predicts.

    With a fraction w of each item spent waiting, about 1 / (1 - w) threads keep
    the GIL-held part busy: more only wait for it.
    """
    best = _threads_per_item_s(probe, bound)  # more threads never predict slower
    for n in range(1, bound + 1):
        if _threads_per_item_s(probe, n) <= best * (1 + TIE):
            return n
    return bound


def stream_plan(
    probe: TaskProbe, processes: int, max_threads: int
) -> tuple[Prediction, Prediction]:
    """conlab.map's auto choice: its thread pool or its process pool, and the other; per item.

    ``wall_s`` is the predicted time per item; the simpler thread pool wins a tie.
    """
    n = threads_for(probe, max_threads)
    threads = Prediction(
        "thread-pool", n, wall_s=_threads_per_item_s(probe, n), model_family=THREAD_POOL
    )
    pool = Prediction(
        "processes",
        processes,
        wall_s=_processes_per_item_s(probe, processes),
        model_family=PROCESS_POOL,
    )
    if threads.wall_s <= pool.wall_s * (1 + TIE):
        return threads, pool
    return pool, threads


def _chunked(durations: Sequence[float], chunk: int) -> list[float]:
    return [sum(durations[i : i + chunk]) for i in range(0, len(durations), chunk)]


def _in_step_s(probe: TaskProbe, n: int, cores: float, u: float = 1.0) -> float:
    """Tasks started together, n at a time, each waiting and then computing: the waits of a
    round overlap, its m tasks' computing (u cores each) shares ``cores``; the rounds follow
    each other."""
    m = max(1, min(n, probe.tasks))
    computing_s = m * probe.cpu_demand_s * u / min(m * u, cores)
    return math.ceil(probe.tasks / m) * (probe.duration_s - probe.cpu_demand_s + computing_s)


def _aligned(probe: TaskProbe, wall_s: float, in_step_s: float) -> float:
    """The bounds' wall time, moved towards the in-step one as far as the pair ran in step."""
    a = probe.alignment
    return wall_s if a == 0.0 else a * max(wall_s, in_step_s) + (1 - a) * wall_s


def _threads(probe: TaskProbe, n: int, cost: Costs, startup_s: float) -> Prediction:
    from conlab.model import schedule_floor_s  # here: conlab.map's auto choice needs no model

    tasks, u = probe.tasks, probe.cores_per_task
    k = probe.parallel_cores_for(n * u)
    gil_s = tasks * _in_threads_s(probe, n)
    if n >= 2 and probe.thread_speedup is not None and probe.thread_speedup < 1:
        gil_s /= probe.thread_speedup  # threads fighting over the GIL were slower than a loop
    wall = max(
        schedule_floor_s(probe.durations_s, n),
        # A task running threads of its own (BLAS) keeps u cores busy: n of them want n * u.
        tasks * probe.cpu_demand_s * u / min(n * u, k),
        gil_s,
    )
    # In step, a round's threads compute one at a time under the GIL, at once on k cores without.
    in_step = _in_step_s(probe, n, 1.0) if probe.gil_enabled else _in_step_s(probe, n, k, u)
    wall = _aligned(probe, wall, in_step)
    return Prediction(cost.strategy, n, {}, None, startup_s, wall + tasks * cost.per_task_s)


def _processes(probe: TaskProbe, n: int, cost: Costs, chunk: int, module: str | None) -> Prediction:
    from conlab.model import schedule_floor_s

    tasks, ship = probe.tasks, probe.shipping
    u = probe.cores_per_task
    k = probe.parallel_cores_for(n * u)
    bw = pipe_bytes_per_s()
    child_s = ship.loads_args_s + ship.dumps_result_s
    send_s = ship.dumps_args_s + ship.args_bytes / bw
    back_s = ship.loads_result_s + ship.result_bytes / bw
    pooled = family(cost.strategy) == PROCESS_POOL
    method = cost.start_method
    startup = cost.startup_for(n, probe.cores)
    if method in ("spawn", "forkserver"):
        startup += import_s(module) * -(-n // k)
    durations = [d + child_s for d in probe.durations_s]
    in_step = _in_step_s(probe, n, k, u)
    if pooled:
        parent_s = send_s + back_s + cost.per_task_s / chunk
        wall = max(
            schedule_floor_s(_chunked(durations, chunk), n),
            tasks * (probe.cpu_demand_s * u + child_s) / min(n * u, k),
            tasks * parent_s + max(durations),
        )
        wall = _aligned(probe, wall, in_step)
    else:
        # Each child gets its task before the clock starts; only results come back during the run.
        startup += tasks * send_s + ship.loads_args_s
        wall = max(
            max(durations),
            tasks * (probe.cpu_demand_s * u + ship.dumps_result_s) / min(n * u, k),
            tasks * back_s,
        )
        wall = _aligned(probe, wall, in_step) + cost.per_task_s
    options = {"start_method": method} if method else {}
    return Prediction(cost.strategy, n, options, chunk if pooled else None, startup, wall)


def _async(probe: TaskProbe, cost: Costs) -> Prediction:
    tasks = probe.tasks
    wall = max(max(probe.durations_s), tasks * probe.cpu_demand_s) + tasks * cost.per_task_s
    return Prediction(cost.strategy, tasks, {}, None, cost.startup_s, wall)


def predict_one(
    probe: TaskProbe,
    name: str,
    method: str | None,
    n: int,
    module: str | None = None,
    has_async: bool = False,
) -> Prediction:
    """The prediction for strategy ``name`` (start method ``method``) with ``n`` workers."""
    fam = family(name)
    options = {"start_method": method} if method else {}
    if fam == LOOP:
        return Prediction(name, 1, {}, None, 0.0, sum(probe.durations_s))
    if fam == OTHER:
        return Prediction(name, n, options, unavailable="no prediction model for this strategy yet")
    if fam == EVENT_LOOP and not has_async:
        return Prediction(name, n, options, unavailable="the workload has no async variant")
    if fam in (PROCESS_PER_TASK, PROCESS_POOL) and probe.shipping.error:
        why = f"its tasks cannot be sent to another process ({probe.shipping.error})"
        return Prediction(name, n, options, unavailable=why)
    cost = costs(name, method)
    if cost.unavailable:
        return Prediction(name, n, options, unavailable=cost.unavailable)
    if fam == EVENT_LOOP:
        return _async(probe, cost)
    if fam in (THREAD_PER_TASK, THREAD_POOL):
        per_thread = cost.startup_s / max(1, cost.workers)
        startup = per_thread * n if fam == THREAD_POOL else 0.0
        return _threads(probe, n, cost, startup)
    chunk = 1
    if fam == PROCESS_POOL and accepts_chunksize(name):
        chunk = chunksize_for(probe, cost.per_task_s, n)
    prediction = _processes(probe, n, cost, chunk, module)
    if fam == PROCESS_POOL:
        # The chunk size recommended for the user's own pool, even where conlab's sends one at a time.
        prediction.chunksize = chunksize_for(probe, cost.per_task_s, n)
    return prediction


def predict_all(
    probe: TaskProbe,
    strategies: Sequence[str] | None = None,
    workers: int | None = None,
    start_method: str | None = None,
    module: str | None = None,
    has_async: bool = False,
) -> list[Prediction]:
    """Every available strategy, start method and worker count, fastest first."""
    from conlab.strategies import REGISTRY, SequentialStrategy

    out = []
    for name in strategies if strategies is not None else list(REGISTRY):
        methods: list[str | None] = start_methods(name) if family(name) != OTHER else [None]
        if start_method is not None and methods != [None]:
            methods = [start_method]
        for method in methods:
            for n in worker_counts(family(name), probe.tasks, probe.cores, workers):
                out.append(predict_one(probe, name, method, n, module, has_async))
    if not any(p.family == LOOP for p in out):
        out.append(predict_one(probe, SequentialStrategy.name, None, 1))
    return sorted(out, key=lambda p: (p.unavailable is not None, p.total_s))


def _rank(p: Prediction, async_first: bool = False) -> tuple[int, int]:
    order: tuple[str, ...]
    fam, order = p.family, tuple(PREFERENCE)
    if async_first:  # code written async runs as it is under asyncio: simpler than threads
        order = (LOOP, EVENT_LOOP, *(f for f in PREFERENCE if f not in (LOOP, EVENT_LOOP)))
    return (order.index(fam) if fam in order else len(order), p.workers)


def recommend(predictions: Sequence[Prediction], async_as_written: bool = True) -> Prediction:
    """The fastest prediction; among those within 3 % of it, the simplest.

    asyncio is a candidate only when the user's code is async (``async_as_written``);
    otherwise it stays in the prediction table as what a rewrite would give.
    """
    ok = [
        p
        for p in predictions
        if p.unavailable is None and (async_as_written or p.family != EVENT_LOOP)
    ]
    best = min(p.total_s for p in ok)
    close = [p for p in ok if p.total_s <= best * (1 + TIE) + 1e-4]
    return min(close, key=lambda p: _rank(p, async_as_written))


def runner_up(predictions: Sequence[Prediction], chosen: Prediction) -> Prediction | None:
    """The best prediction of another strategy than the chosen one (sequential runs anyway).

    A one-worker pool runs the tasks one at a time, as the loop does: measured beside the loop
    it is no evidence about running at once, so a pool of two or more workers goes first.
    """
    others = sorted(
        (
            p
            for p in predictions
            if p.unavailable is None and p.strategy != chosen.strategy and p.family != LOOP
        ),
        key=lambda p: (p.workers < 2, p.total_s),
    )
    return others[0] if others else None
