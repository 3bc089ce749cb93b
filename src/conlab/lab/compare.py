"""The lab: runs a workload under several strategies, repeated, and keeps only what it can vouch for.

Strategies run in interleaved rounds, in a shuffled order each round, so that
a slow drift of the machine spreads over all of them instead of penalising
whichever runs last (as asv does). The sequential run is the reference: a run
is valid only when every task is ``ok`` and every result equals the
reference's (and the workload's known answer, where it has one). An invalid
run has no speed-up; it is shown as failed, with the reason.

Each timed run records what the rest of the machine did meanwhile
(measure/contention.py). A run whose workers could not have had the cores they
asked for is contended: it is measured again, in extra rounds, within a bound
(as many extra rounds as asked, and a time limit), and its repeats kept from
uncontended rounds where it could get them; what stays contended is marked,
its speed-up with it.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conlab._process import strays
from conlab.errors import Interrupted, UsageError
from conlab.lab import verify, workers
from conlab.lab.remeasure import Remeasure as Remeasure
from conlab.lab.remeasure import check_remeasure, kept
from conlab.lab.sandbox import check_room, run_strategy
from conlab.measure import contention, gil, stats, workkind
from conlab.measure.environment import usable_cpus
from conlab.measure.tree import ProbeResult, TreeProbe, sampler_session
from conlab.model import (
    RUN_FAILED,
    RUN_INCOMPLETE,
    RUN_OK,
    RUN_UNAVAILABLE,
    Comparison,
    Contention,
    Run,
    Task,
    Workload,
)
from conlab.strategies import SequentialStrategy
from conlab.strategies.base import ASYNCIO, CLUSTER, SEQUENTIAL, Execution, Strategy

Progress = Callable[[int, int, str], None]
Update = Callable[[Comparison], None]


@dataclass
class _Sample:
    execution: Execution
    probe: ProbeResult
    warmup: bool
    machine: Contention


@dataclass
class _Entry:
    strategy: Strategy
    run: Run
    tasks: list[Task]
    samples: list[_Sample] = field(default_factory=list)
    # Set once a run of it left a task not ok: it is not run again (see _stops).
    stopped: bool = False
    # The GIL after the workload's imports, on a free-threaded build (measure/gil.py).
    gil_at_imports: dict[str, Any] | None = None
    # A pool named without a worker count: the lab sizes it once the sequential run has run.
    unsized: bool = False


def check_counts(repeats: int, warmup: int) -> None:
    if not isinstance(repeats, int) or repeats < 1:
        raise UsageError(f"repeats must be a whole number of at least 1, not {repeats!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise UsageError(f"warmup must be a whole number of at least 0, not {warmup!r}")


def compare(
    workload: Workload,
    strategies: Sequence[Strategy],
    repeats: int = 5,
    warmup: int = 1,
    *,
    seed: int | None = None,
    progress: Progress | None = None,
    on_update: Update | None = None,
    title: str = "",
    remeasure: Remeasure | None = None,
) -> Comparison:
    """Run ``workload`` under each strategy, ``warmup`` + ``repeats`` times, and compare.

    Contended runs are measured again within ``remeasure`` (default: as many extra rounds as
    ``repeats``, at most REMEASURE_S seconds). The workload's setup (a server, a temporary
    directory) is entered once around all of it.
    """
    check_counts(repeats, warmup)
    bound = remeasure or Remeasure()
    check_remeasure(bound)
    gil.watch()
    with workload.prepared(), sampler_session():
        return _compare(
            workload, strategies, repeats, warmup, seed, progress, on_update, title, bound
        )


def _compare(
    workload: Workload,
    strategies: Sequence[Strategy],
    repeats: int,
    warmup: int,
    seed: int | None,
    progress: Progress | None,
    on_update: Update | None,
    title: str,
    bound: Remeasure,
) -> Comparison:
    if not any(isinstance(s, SequentialStrategy) for s in strategies):
        strategies = [_reference_strategy(strategies), *strategies]
    entries = [_entry(workload, s) for s in strategies]
    active = [e for e in entries if e.run.status != RUN_UNAVAILABLE]
    check_room([e.strategy for e in active], len(workload.tasks))
    rng = random.Random(seed)
    total, done = (warmup + repeats) * len(active), 0
    comparison = _summarise(workload, entries, repeats, warmup, title)
    try:
        for round_no in range(warmup + repeats):
            order = [e for e in active if not e.stopped]
            rng.shuffle(order)
            if any(e.unsized for e in order):  # the reference first: its CPU share sizes them
                order.sort(key=lambda e: not isinstance(e.strategy, SequentialStrategy))
            for entry in order:
                if progress is not None:
                    progress(done, total, entry.run.label)
                sample = _measure(entry, warmup=round_no < warmup)
                entry.samples.append(sample)
                if isinstance(entry.strategy, SequentialStrategy):
                    _size_pools(entries, workload, sample)
                done += 1
                if _stops(entry, sample, len(workload.tasks)):
                    entry.stopped = True
                    total -= warmup + repeats - len(entry.samples)
            comparison = _summarise(workload, entries, repeats, warmup, title)
            if on_update is not None:
                on_update(comparison)
        record = _remeasure(workload, active, repeats, bound, rng, progress, total)
        comparison = _summarise(workload, entries, repeats, warmup, title)
        comparison.remeasure = record
    except KeyboardInterrupt as exc:
        raise Interrupted(_interrupted(workload, entries, repeats, warmup, title)) from exc
    if progress is not None:
        progress(total, total, "")
    return comparison


def _stops(entry: _Entry, sample: _Sample, n_tasks: int) -> bool:
    """Whether a strategy is run no more: one of its tasks failed (timeout, crash, error).

    A run with a failed task fails the strategy whatever the others do, and
    repeating it would repeat the failure: a task past ``--timeout`` five more
    times, each waiting the limit. So a failed run is the strategy's last, and
    the command's worst case is about one run per strategy at the limit.
    A plain run (the lesson's code as written) fails on purpose and is repeated.
    """
    if entry.strategy.plain:
        return False
    records = sample.execution.records
    return len(records) != n_tasks or any(not r.ok for r in records)


def _remeasure(
    workload: Workload,
    active: list[_Entry],
    repeats: int,
    bound: Remeasure,
    rng: random.Random,
    progress: Progress | None,
    total: int,
) -> dict[str, object]:
    """Measure the runs short of uncontended repeats again, round by round, within ``bound``."""
    max_rounds = repeats if bound.max_rounds is None else bound.max_rounds
    started, rounds, stopped_by = time.monotonic(), 0, None
    while True:
        short = [
            e
            for e in active
            if not e.stopped and _valid_so_far(e, workload) and _uncontended(e) < repeats
        ]
        if not short:
            break
        if rounds >= max_rounds:
            stopped_by = "rounds"
            break
        if time.monotonic() - started >= bound.max_s:
            stopped_by = "time"
            break
        rng.shuffle(short)
        for entry in short:
            if progress is not None:
                progress(total, total, f"{entry.run.label} again (contended)")
            sample = _measure(entry, warmup=False)
            entry.samples.append(sample)
            entry.stopped = _stops(entry, sample, len(workload.tasks))
        rounds += 1
    return {
        "max_rounds": max_rounds,
        "max_s": bound.max_s,
        "rounds": rounds,
        "stopped_by": stopped_by,
    }


def _uncontended(entry: _Entry) -> int:
    return sum(1 for s in entry.samples if not s.warmup and not s.machine.contended)


def _valid_so_far(entry: _Entry, workload: Workload) -> bool:
    """Whether every sample so far completed (a failed run is not measured again)."""
    return entry.run.status == RUN_OK and all(
        not s.execution.records or all(r.ok for r in s.execution.records) for s in entry.samples
    )


def _reference_strategy(strategies: Sequence[Strategy]) -> Strategy:
    """The sequential reference, isolated and timed out like the strategies it is compared with.

    A task that hangs or kills its process must not hang or kill the lab through its reference.
    """
    timeouts = [s.timeout_s for s in strategies if s.timeout_s is not None]
    asked = {s.isolate for s in strategies}
    isolate = True if True in asked else (False if asked == {False} else None)
    return SequentialStrategy().configure(timeout_s=max(timeouts, default=None), isolate=isolate)


def _interrupted(
    workload: Workload, entries: list[_Entry], repeats: int, warmup: int, title: str
) -> Comparison:
    """The comparison as far as it got when Ctrl-C came; a run without samples says so."""
    comparison = _summarise(workload, entries, repeats, warmup, title)
    for run in comparison.runs:
        if run.status == RUN_INCOMPLETE:
            run.reason = (run.reason or "").replace("cut short", "interrupted", 1)
    comparison.notes.append("interrupted: the runs not finished are marked incomplete")
    return comparison


def _entry(workload: Workload, strategy: Strategy) -> _Entry:
    tasks = workload.tasks
    unsized = workers.needs_count(strategy)
    strategy, source = workers.provisional(strategy, len(tasks))  # a copy, when unsized
    run = Run(
        strategy=strategy.name,
        workers=strategy.workers_for(len(tasks)),
        options=strategy.describe_options(),
        workers_source=source,
    )
    reason = strategy.unavailable_reason()
    if strategy.wants_async:
        if workload.async_tasks is None:
            reason = reason or f"the {workload.name} workload has no async variant"
        else:
            tasks = workload.async_tasks
    if reason:
        run.status, run.reason = RUN_UNAVAILABLE, reason
    run.floor_s = workload.floor_s(run.workers)
    return _Entry(strategy, run, list(tasks), gil_at_imports=gil.now(), unsized=unsized)


def _size_pools(entries: list[_Entry], workload: Workload, sample: _Sample) -> None:
    """Give the pools named without a count the workers the work wants, from the CPU share
    of the sequential run just measured (when it completed): more threads for waiting."""
    share = workers.cpu_share(sample.execution, sample.probe.cpu_s, len(workload.tasks))
    pools = [(e.strategy, e.run) for e in entries if e.unsized and not e.samples]
    workers.size(pools, workload, share)
    for entry in entries:
        entry.unsized = False


def _asked_cores(entry: _Entry, cores: int) -> float:
    """The cores the run's workers could use at once: one for a loop or an event loop."""
    if getattr(entry.strategy, "family", None) in (SEQUENTIAL, ASYNCIO):
        return 1.0
    return float(max(1, min(entry.run.workers, cores)))


def _measure(entry: _Entry, warmup: bool) -> _Sample:
    # Each run starts with no garbage left by the one before: collecting what an earlier run
    # left (a pool's futures, records) is not this run's cost, wherever the round put it.
    gc.collect()
    probe = TreeProbe().start()
    # A cluster's processes come and go on its own schedule; any other process the run
    # started and left running (a task's child) is stopped with it.
    before = None if getattr(entry.strategy, "family", None) == CLUSTER else strays.descendants()
    try:
        execution = run_strategy(entry.strategy, entry.tasks)
        execution.gil = execution.gil or gil.now()  # a sandbox says its own
    except BaseException:
        # Ctrl-C (or a failure of conlab's): the repeat is not kept, so nothing waits on the
        # sampler for figures no one will read.
        strays.stop_new(before)
        probe.abandon()
        raise
    strays.stop_new(before)
    result = probe.stop()
    cores = usable_cpus()
    # The run's own CPU over its timed work when the strategy measured it there (its figure of
    # CPU/wall), else the probe's over the probe's window.
    own_s, work_s = result.cpu_s, None
    if execution.cpu_s is not None and execution.wall_ns > 0:
        own_s, work_s = execution.cpu_s, execution.wall_ns / 1e9
    machine = contention.judge(
        wall_s=result.wall_s,
        own_cpu_s=own_s,
        work_s=work_s,
        other_cpu_s=result.other_cpu_s,
        steal_s=result.steal_s,
        asked_cores=_asked_cores(entry, cores),
        cores=cores,
        measure=not warmup,
    )
    return _Sample(execution, result, warmup, machine)


def _summarise(
    workload: Workload, entries: list[_Entry], repeats: int, warmup: int, title: str
) -> Comparison:
    """The comparison as far as the samples so far go."""
    reference = _reference(workload, entries)
    planned = warmup + repeats
    for entry in entries:
        if entry.run.status != RUN_UNAVAILABLE:
            _fill(entry, workload, reference, repeats)
            if entry.run.status == RUN_OK and len(entry.samples) < planned:
                # Between rounds (the file written after each) or interrupted: no verdict yet.
                entry.run.status = RUN_INCOMPLETE
                entry.run.reason = f"cut short after {len(entry.samples)} of {planned} runs"
    ref_run = entries[0].run if isinstance(entries[0].strategy, SequentialStrategy) else None
    for entry in entries:
        run = entry.run
        run.speedup, run.speedup_ci, run.speedup_contended = None, None, False
        if (
            run.status == RUN_OK
            and ref_run is not None
            and ref_run.status == RUN_OK
            and ref_run.wall_s
            and run.wall_s
        ):
            run.speedup = statistics.median(ref_run.wall_s) / statistics.median(run.wall_s)
            run.speedup_ci = stats.bootstrap_ratio_ci(ref_run.wall_s, run.wall_s)
            run.speedup_contended = run.contended or ref_run.contended
    comparison = Comparison(
        workload=workload.name,
        kind=workload.kind,
        tasks=len(workload.tasks),
        params=dict(workload.params),
        repeats=repeats,
        warmup=warmup,
        runs=[e.run for e in entries],
        title=title,
        notes=_notes(entries) + gil.note([e.run.gil for e in entries]),
        measured_kind=workkind.measured_kind(ref_run, [e.run for e in entries]),
    )
    sized = workers.note(comparison.runs, workkind.cpu_share(ref_run), usable_cpus())
    comparison.notes += [sized] if sized else []
    return comparison


def _notes(entries: list[_Entry]) -> list[str]:
    """What the strategies said about the runs shown (a pool rebuilt, a task run again)."""
    notes: list[str] = []
    for entry in entries:
        if entry.strategy.plain:
            continue  # the lesson's plain run explains itself
        for sample in entry.samples:
            if sample.execution.records is entry.run.records:
                notes.extend(f"{entry.run.label}: {n}" for n in sample.execution.notes)
    return list(dict.fromkeys(notes))


def _reference(workload: Workload, entries: list[_Entry]) -> verify.Reference:
    """The sequential run's records, once one of them is itself correct."""
    for entry in entries:
        if isinstance(entry.strategy, SequentialStrategy):
            why: str | None = "the sequential run has not run yet"
            for sample in entry.samples:
                why = verify.invalid(
                    sample.execution, workload, verify.Reference(None), plain=False
                )
                if why is None:
                    return verify.Reference(sample.execution.records)
            return verify.Reference(None, f"no reference: the sequential run failed ({why})")
    return verify.Reference(None, "no reference: no sequential run")


def _fill(entry: _Entry, workload: Workload, reference: verify.Reference, repeats: int) -> None:
    run = entry.run
    plain = entry.strategy.plain
    timed, set_aside = kept(entry.samples, repeats)
    run.machine = [s.machine for s in timed]
    run.set_aside_wall_s = [s.execution.wall_ns / 1e9 for s in set_aside]
    run.set_aside_machine = [s.machine for s in set_aside]
    run.wall_s = [s.execution.wall_ns / 1e9 for s in timed]
    run.startup_s = [
        s.execution.startup_ns / 1e9 for s in timed if s.execution.startup_ns is not None
    ]
    run.cpu_s = [
        s.execution.cpu_s if s.execution.cpu_s is not None else s.probe.cpu_s for s in timed
    ]
    # A sandboxed run measures its own tree; the lab's probe would add conlab's idle process.
    peaks = [s.execution.peak_rss_bytes or s.probe.peak_rss_bytes for s in timed]
    run.peak_rss_bytes = [p for p in peaks if p is not None]
    run.peak_uss_bytes = [
        s.probe.peak_uss_bytes for s in timed if s.probe.peak_uss_bytes is not None
    ]
    run.other_cores = [
        s.probe.other_cpu_s / s.probe.wall_s
        for s in timed
        if s.probe.other_cpu_s is not None and s.probe.wall_s > 0
    ]
    run.load_avg = [s.probe.load_avg for s in timed if s.probe.load_avg is not None]
    naive = [
        s.execution.naive_wall_ns / 1e9 for s in timed if s.execution.naive_wall_ns is not None
    ]
    run.naive_wall_s = statistics.median(naive) if naive else None
    run.gil = gil.run_record(entry.gil_at_imports, [s.execution.gil for s in entry.samples])
    run.status, run.reason = RUN_OK, None
    for k, sample in enumerate(entry.samples):
        why = verify.invalid(sample.execution, workload, reference, plain)
        if why is not None:
            which = (
                "warm-up"
                if sample.warmup
                else f"repeat {k - sum(s.warmup for s in entry.samples) + 1}"
            )
            if entry.stopped and k == len(entry.samples) - 1:
                run.status, run.reason = RUN_FAILED, f"not repeated after its {which} failed: {why}"
            else:
                run.status, run.reason = (
                    RUN_FAILED,
                    f"{which}: {why}" if len(entry.samples) > 1 else why,
                )
            # The median timed repeat when it failed too: the bars match the table's times.
            shown = _median(timed) or sample
            ok = verify.invalid(shown.execution, workload, reference, plain) is None
            _keep_records(run, (sample if ok else shown).execution)
            return
    last = _median(timed) or (entry.samples[-1] if entry.samples else None)
    if last is not None:
        _keep_records(run, last.execution)


def _median(timed: list[_Sample]) -> _Sample | None:
    """The timed repeat of the median wall time (the lower of an even count), if any."""
    return (
        sorted(timed, key=lambda s: s.execution.wall_ns)[(len(timed) - 1) // 2] if timed else None
    )


def _keep_records(run: Run, execution: Execution) -> None:
    run.records, run.t0_ns = execution.records, execution.t0_ns
