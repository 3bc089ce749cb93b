"""Probing a workload on a small sample: how long a task takes, how much of it computes, and
whether two of its tasks overlap in two threads (waiting, C code that releases the GIL, or a
free-threaded build), and what shipping a task to another process costs.

The sample is two batches of tasks from the start of the workload, each worth
about ``BATCH_S`` (one task when tasks are longer): batch A, then batch B, one
after the other in this thread, then A and B at once in two threads.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conlab.errors import UserCodeError, format_error
from conlab.measure.bursts import CpuTimeline
from conlab.measure.environment import gil_enabled, usable_cpus
from conlab.measure.share import Capacity, machine_share

if TYPE_CHECKING:
    from conlab.model import Task, TaskRecord, Workload

# What runs the sample (conlab._process, conlab.model) is imported by the functions that run
# it: conlab.map's auto choice needs only TaskProbe, on CPUs its first items keep busy.

BATCH_S = 0.05
# Beyond this, batch B is not timed alone: it is taken to last as long as batch A.
LONG_BATCH_S = 0.3
# Two threads whose CPU time adds up to less than this much of the wall time did not compute at
# the same moment (the GIL is a hard bound: their CPU time cannot exceed the wall time).
CONCURRENT_CPU = 1.15
# A pair this much faster than two threads computing one at a time could be computed at once.
FASTER_THAN_ONE_AT_A_TIME = 1.15
# Below this difference between a pair in step and a finely mixed one, the pair cannot tell them
# apart (a task almost all waiting or all computing).
MIN_ALIGNMENT_SPAN = 0.1
# Below this, the sample is timed twice.
SHORT_BATCH_S = 0.15
# A task that computed this share of its time (run-queue time left out) computed all of it.
ALL_COMPUTING = 0.97
_SCHEDSTAT = "/proc/thread-self/schedstat"
# A task whose process CPU time, run in one thread, is this many times its wall time runs
# threads of its own.
OWN_THREADS = 1.2


@dataclass
class Shipping:
    """What sending one task to another process and its result back costs, per task."""

    args_bytes: int = 0
    result_bytes: int = 0
    dumps_args_s: float = 0.0
    loads_args_s: float = 0.0
    dumps_result_s: float = 0.0
    loads_result_s: float = 0.0
    error: str | None = None  # why a task or its result cannot be sent to another process


@dataclass
class TaskProbe:
    """What the sample showed, per task (means over the sample)."""

    tasks: int
    sampled: int
    duration_s: float
    cpu_s: float  # CPU time of the task's thread
    runqueue_s: float  # time the task was ready to run but waited for a CPU (Linux)
    # Batches A and B in two threads at once, and one after the other, leaving out the
    # time spent waiting for a CPU that other programs kept busy.
    pair_s: float | None
    alone_s: float | None
    # CPU time of the two threads together over the pair's wall time: 2 when both computed
    # all the time at once, at most 1 when the GIL (or a single free CPU) let one at a time.
    pair_cpu_concurrency: float | None
    cores: int
    gil_enabled: bool
    shipping: Shipping = field(default_factory=Shipping)
    durations_s: list[float] = field(default_factory=list)  # each task's estimated duration
    probe_s: float = 0.0
    # Cores' worth of pure Python the machine ran at once when probed (at most ``cores``), with
    # one spinner per core, and with CROWD per core where that fell short (a busy machine).
    capacity: float | None = None
    crowded_capacity: float | None = None
    # Cores one task keeps busy in one thread: above 1 when it runs threads of its own (BLAS).
    own_cores: float = 1.0
    # How far the sample's computing came in blocks (1) rather than spread evenly (0), from the
    # probing thread's CPU clock; read where no GIL lets the pair tell (measure.bursts).
    bursts: float | None = None

    @property
    def parallel_cores(self) -> float:
        """The cores computing work can be spread over: the measured capacity, else the cores.

        The capacity moves from moment to moment on a shared or virtual machine;
        when the probe's own two threads computed at once, that is evidence too.
        """
        if self.capacity is None:
            return float(self.cores)
        # A task whose own threads (BLAS) kept u cores busy showed u cores computing at once.
        seen = max(self.pair_cpu_concurrency or 0.0, self.cores_per_task)
        return min(float(self.cores), max(self.capacity, seen))

    def parallel_cores_for(self, runnable: float) -> float:
        """The cores ``runnable`` threads of ours computing at once are given: on a machine
        others keep busy, Linux shares each CPU between runnable threads, so more workers
        take a larger share (8 beside one spinner get 8/9 of 2 cores, 2 get 2/3)."""
        if self.capacity is None or self.crowded_capacity is None:
            return self.parallel_cores
        share = Capacity(self.cores, self.capacity, self.crowded_capacity)
        return max(self.parallel_cores, share.for_runnable(runnable))

    def set_capacity(self, share: Capacity) -> None:
        self.capacity, self.crowded_capacity = share.at_cores, share.crowded

    @property
    def cores_per_task(self) -> float:
        """Cores one task keeps busy: its own threads' (BLAS) when it runs some, else 1."""
        return self.own_cores if self.own_cores >= OWN_THREADS else 1.0

    @property
    def cpu_demand_s(self) -> float:
        """CPU time plus time spent waiting for a CPU: what more workers cannot overlap on one core."""
        return min(self.duration_s, self.cpu_s + self.runqueue_s)

    @property
    def cpu_fraction(self) -> float:
        """The share of a task spent computing, as on an idle machine (run-queue time left out)."""
        alone = self.duration_s - self.runqueue_s
        fraction = min(1.0, self.cpu_s / alone) if alone > 0 else 1.0
        # The last few per cent of a computing task are not waiting: page faults, the clock
        # reads, time the hypervisor stole. They overlap no better than computing does.
        return 1.0 if fraction >= ALL_COMPUTING else fraction

    @property
    def wait_fraction(self) -> float:
        return 1.0 - self.cpu_fraction

    @property
    def thread_speedup(self) -> float | None:
        """How much faster two batches ran in two threads than one after the other."""
        if not self.pair_s or self.alone_s is None:
            return None
        return self.alone_s / self.pair_s

    @property
    def overlap(self) -> float:
        """p: the fraction of a task's time that overlapped in two threads (0 to 1).

        Two threads take (2 - p) x the time of one batch when a fraction p of
        each overlaps, so p = 2 - 2 / speed-up. Without a pair, waiting is
        taken to overlap and computing not; when the pair's CPU time shows the
        threads never computed at once, only the waiting part can overlap.
        """
        s = self.thread_speedup
        if s is None:
            return self.wait_fraction
        p = min(1.0, max(0.0, 2.0 - 2.0 / s))
        if self.computed_at_once is False:
            # The two threads never computed at the same moment: only their waiting overlapped.
            p = min(p, self.wait_fraction)
        return p

    @property
    def computed_at_once(self) -> bool | None:
        """Whether the pair's two threads computed at the same moment (None: no pair).

        Their CPU time above the wall time says so, with room for noise (CONCURRENT_CPU).
        Tasks that wait for part of their time cannot show it that way: two threads
        computing at once in step, a fraction f of their time, show 2f. Without a GIL,
        where the sample's CPU timeline says how far the computing came in blocks, the
        pair's speed-up says it instead: computing one at a time, two threads in step
        take 1 + f batches' time, finely mixed max(1, 2f), and no faster.
        """
        c, s, bound = self.pair_cpu_concurrency, self.thread_speedup, self.one_at_a_time
        if c is None:
            return None
        if c >= CONCURRENT_CPU:
            return True
        if self.gil_enabled or s is None or bound is None:
            return False
        return s >= bound * FASTER_THAN_ONE_AT_A_TIME

    @property
    def one_at_a_time(self) -> float | None:
        """The most two threads computing one at a time could run faster than one, from how far
        the sample's computing came in blocks (None where that was not read)."""
        b, f = self.bursts, self.cpu_fraction
        if b is None:
            return None
        return 2.0 / (b * (1.0 + f) + (1.0 - b) * max(1.0, 2.0 * f))

    @property
    def alignment(self) -> float:
        """How far the pair's waiting and computing lined up rather than filled each other's gaps
        (0 to 1), where the GIL let one thread compute at a time; without a GIL, how far the
        sample's computing came in blocks (``bursts``).

        A task that waits, then computes (a fraction f of it), run in two threads in step:
        both wait at once, then compute one after the other, 1 + f batches' time. Finely
        mixed, one's computing fills the other's waits: max(1, 2f). The pair's time between
        the two says which; waiting then computing is how tasks started together in a pool
        run too, round after round.
        """
        s, f = self.thread_speedup, self.cpu_fraction
        in_step, mixed = 1.0 + f, max(1.0, 2.0 * f)
        if in_step - mixed < MIN_ALIGNMENT_SPAN:
            return 0.0
        if not self.gil_enabled:
            # Without a GIL both threads compute at once either way: the task's own CPU
            # timeline says whether its computing comes in one block.
            return self.bursts or 0.0
        if s is None or self.pair_cpu_concurrency is None:
            return 0.0
        if self.pair_cpu_concurrency >= CONCURRENT_CPU:
            return 0.0
        return min(1.0, max(0.0, (2.0 / s - mixed) / (in_step - mixed)))

    @property
    def kind(self) -> str:
        """The workload's kind as measured: io, cpu, cpu-nogil or mixed."""
        if self.wait_fraction >= 0.8:
            return "io"
        if self.wait_fraction > 0.2:
            return "mixed"
        if self.cores >= 2 and self.overlap >= 0.5:
            return "cpu-nogil"
        return "cpu"

    @property
    def label(self) -> str:
        kind = self.kind
        if kind == "io":
            return "waiting"
        if kind == "mixed":
            return "part waiting, part computing"
        if kind == "cpu-nogil":
            if not self.gil_enabled:
                return "computing, in parallel in threads (free-threaded build, no GIL)"
            return "computing in code that releases the GIL"
        if self.cores < 2:
            return "computing (one core: whether it releases the GIL cannot show)"
        if self.cores_per_task > 1.0:
            return f"computing in threads of its own ({self.own_cores:.1f} cores per task)"
        if self.thread_speedup is None:
            return "computing (whether it releases the GIL was not measured)"
        if not self.gil_enabled:
            return "computing, not in parallel in two threads even without a GIL"
        return "computing while holding the GIL"

    @classmethod
    def of_items(
        cls, items: int, duration_s: float, cpu_s: float, runqueue_s: float, cores: int
    ) -> TaskProbe:
        """The profile of a stream's items as conlab.map measured them on its workers.

        Means per item; no thread pair and no shipping probe: the items ran on
        the pool, each alone in its worker, while they were measured.
        """
        return cls(
            tasks=items,
            sampled=items,
            duration_s=duration_s,
            cpu_s=cpu_s,
            runqueue_s=runqueue_s,
            pair_s=None,
            alone_s=None,
            pair_cpu_concurrency=None,
            cores=cores,
            gil_enabled=gil_enabled(),
        )


def _runqueue_ns() -> int:
    """Time this thread has spent ready to run but waiting for a CPU (0 where unknown)."""
    try:
        with open(_SCHEDSTAT, "rb") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


@dataclass
class _Batch:
    records: list[TaskRecord]
    wall_s: float
    runqueue_s: float
    process_cpu_s: float = 0.0  # every thread of this process: a task's own threads too
    bursts: float | None = None


def _run_batch(tasks: Sequence[tuple[int, Task]], timeline_s: float | None = None) -> _Batch:
    """Run the tasks here, one after the other; with ``timeline_s`` (the time they are expected
    to take), read this thread's CPU clock beside them (see measure.bursts)."""
    from conlab._process.execute import execute

    timeline = CpuTimeline(timeline_s) if timeline_s is not None else contextlib.nullcontext()
    with timeline:
        q0, c0, t0 = _runqueue_ns(), time.process_time(), time.perf_counter()
        records = [execute(task, i, always_cpu=True) for i, task in tasks]
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    batch = _Batch(records, wall, (_runqueue_ns() - q0) / 1e9, cpu)
    if isinstance(timeline, CpuTimeline):
        batch.bursts = timeline.burstiness()
    return batch


def _own_cores(batch: _Batch) -> float:
    """Cores a task keeps busy by itself, run in one thread: above 1 when it runs threads of its
    own (BLAS, numexpr, numba, Polars); 1 for code that computes in the calling thread."""
    running = batch.wall_s - batch.runqueue_s
    if running <= 0:
        return 1.0
    return max(1.0, batch.process_cpu_s / running)


def _run_pair(a: Sequence[tuple[int, Task]], b: Sequence[tuple[int, Task]]) -> tuple[float, float]:
    """Wall time of batches a and b run at once in two threads, started together.

    Time both threads spent waiting for a busy CPU (the lesser of the two) is
    left out: it belongs to the machine, not to the GIL. Also returns the CPU
    time the two threads used together, over the raw wall time: above 1, their
    computing ran at the same moment.
    """
    go = threading.Barrier(3)
    done: list[_Batch] = []

    def work(batch: Sequence[tuple[int, Task]]) -> None:
        try:
            go.wait()
        except threading.BrokenBarrierError:
            return  # the caller was interrupted
        done.append(_run_batch(batch))

    threads = [threading.Thread(target=work, args=(x,), daemon=True) for x in (a, b)]
    try:
        for t in threads:
            t.start()
        go.wait()
    except BaseException:
        go.abort()  # a Ctrl-C: no thread is left waiting at the barrier for good
        raise
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    records = [r for batch in done for r in batch.records]
    _check(records)
    cpu_s = sum(r.cpu_ns or 0 for r in records) / 1e9
    return wall - min(batch.runqueue_s for batch in done), cpu_s / max(wall, 1e-9)


def _check(records: Sequence[TaskRecord]) -> None:
    for record in records:
        if not record.ok:
            raise UserCodeError(
                f"task {record.name!r} failed while conlab probed it: {record.error}; "
                "fix the task (conlab compare shows its traceback)"
            )


def _timed(fn: object, *args: object) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(*args)  # type: ignore[operator]
    return out, time.perf_counter() - t0


def probe_shipping(tasks: Sequence[Task], results: Sequence[object]) -> Shipping:
    """Pickle each sampled task and result as the process strategies do, and time it."""
    from conlab._process import shipping

    ship = Shipping()
    n = len(tasks)
    try:
        for task, result in zip(tasks, results, strict=True):
            data, dumps_s = _timed(shipping.dumps, task)
            _, loads_s = _timed(shipping.loads, data)
            ship.args_bytes += len(data)  # type: ignore[arg-type]
            ship.dumps_args_s += dumps_s
            ship.loads_args_s += loads_s
            del data
            data, dumps_s = _timed(shipping.dumps, result)
            _, loads_s = _timed(shipping.loads, data)
            ship.result_bytes += len(data)  # type: ignore[arg-type]
            ship.dumps_result_s += dumps_s
            ship.loads_result_s += loads_s
            del data
    except Exception as exc:
        ship.error = format_error(exc)
        return ship
    ship.args_bytes //= n
    ship.result_bytes //= n
    for name in ("dumps_args_s", "loads_args_s", "dumps_result_s", "loads_result_s"):
        setattr(ship, name, getattr(ship, name) / n)
    return ship


def _batch_size(first_s: float, n_tasks: int) -> int:
    if n_tasks < 2:
        return 1
    return max(1, min(n_tasks // 2, math.ceil(BATCH_S / max(first_s, 1e-6))))


def probe(workload: Workload) -> TaskProbe:
    """Run a small sample of ``workload`` and say what its tasks are like."""
    from conlab._process import capture

    started = time.perf_counter()
    tasks = list(enumerate(workload.tasks))
    if not tasks:
        raise UserCodeError(f"workload {workload.name!r} has no tasks to probe")
    with capture.routed():
        # Warm-up, untimed: the first call pays for imports, caches and thread pools (BLAS).
        warm = _run_batch(tasks[:1])
        _check(warm.records)
        # Without a GIL, the pair cannot tell computing in blocks from computing spread out:
        # batch A's CPU timeline is read instead (with a GIL, reading it would take the GIL).
        timeline = not gil_enabled()
        first = _run_batch(tasks[:1], warm.wall_s if timeline else None)
        _check(first.records)
        k = _batch_size(first.wall_s, len(tasks))
        a, b = tasks[:k], tasks[k : 2 * k]
        batch_a = first if k == 1 else _run_batch(a, k * first.wall_s if timeline else None)
        _check(batch_a.records)
        records, runqueue, spent = list(batch_a.records), batch_a.runqueue_s, batch_a.wall_s
        pair_s = alone_s = None
        concurrency = 0.0
        if b and batch_a.wall_s >= LONG_BATCH_S:
            alone_s = (batch_a.wall_s - batch_a.runqueue_s) * (1 + len(b) / len(a))
            pair_s, concurrency = _run_pair(a, b)
        elif b:
            # Short batches are timed twice and the faster kept: a busy machine only slows things.
            rounds = 2 if batch_a.wall_s < SHORT_BATCH_S else 1
            best: tuple[float, list[TaskRecord], float, float] | None = None
            for _ in range(rounds):
                a_run = batch_a if best is None else _run_batch(a)
                b_run = _run_batch(b)
                _check(a_run.records + b_run.records)
                waited = a_run.runqueue_s + b_run.runqueue_s
                took = a_run.wall_s + b_run.wall_s - waited
                if best is None or took < best[0]:
                    best = (took, a_run.records + b_run.records, waited, took + waited)
                pair, cpu_at_once = _run_pair(a, b)
                pair_s = pair if pair_s is None else min(pair_s, pair)
                concurrency = max(concurrency, cpu_at_once)
            assert best is not None
            alone_s, records, runqueue, spent = best
    sampled = len(records)
    # Timed around each call as every strategy runs it (capture and record included), which
    # is what a task costs a loop; thousands of tiny tasks are mostly that.
    mean_s = spent / sampled
    result = TaskProbe(
        tasks=len(tasks),
        sampled=sampled,
        duration_s=mean_s,
        cpu_s=sum((r.cpu_ns or 0) for r in records) / 1e9 / sampled,
        runqueue_s=runqueue / sampled,
        pair_s=pair_s,
        alone_s=alone_s,
        pair_cpu_concurrency=concurrency if pair_s is not None else None,
        cores=usable_cpus(),
        gil_enabled=gil_enabled(),
        durations_s=_all_durations(workload, mean_s, sampled),
        own_cores=_own_cores(batch_a),
        bursts=batch_a.bursts,
    )
    sample = [t for _, t in tasks[:sampled]]
    result.shipping = probe_shipping(sample, [r.result for r in records])
    result.set_capacity(machine_share())
    result.probe_s = time.perf_counter() - started
    return result


def _all_durations(workload: Workload, mean_s: float, sampled: int) -> list[float]:
    """Every task's duration: the sample's mean, shaped by the workload's known durations if any."""
    n = len(workload.tasks)
    known = workload.task_durations_s
    if known and len(known) == n and sum(known[:sampled]) > 0:
        scale = mean_s * sampled / sum(known[:sampled])
        return [d * scale for d in known]
    return [mean_s] * n
