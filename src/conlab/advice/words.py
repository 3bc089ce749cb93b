"""The advice in plain words, with the probed figures."""

from __future__ import annotations

from conlab.advice.calibrate import (
    EVENT_LOOP,
    LOOP,
    OTHER,
    PROCESS_PER_TASK,
    THREAD_PER_TASK,
    THREAD_POOL,
    costs,
)
from conlab.advice.predict import TIE, Prediction
from conlab.advice.profile import TaskProbe
from conlab.measure.share import CROWD
from conlab.measure.units import duration, size


def describe(p: Prediction) -> str:
    """``a process-pool of 2 workers (fork)`` and the like."""
    method = p.options.get("start_method")
    how = f" ({method})" if method else ""
    if p.family == LOOP:
        return "sequential (a plain loop)"
    if p.family in (THREAD_PER_TASK, PROCESS_PER_TASK):
        return f"{p.strategy} (one per task, {p.workers}){how}"
    if p.family == EVENT_LOOP:
        return "asyncio (one event loop)"
    chunk = f", chunk size {p.chunksize}" if p.chunksize and p.chunksize > 1 else ""
    return f"{p.strategy} with {p.workers} worker{'s' if p.workers != 1 else ''}{how}{chunk}"


def task_sentence(
    probe: TaskProbe, sampled: str | None = None, took: str = "took", own_s: float = 0.0
) -> str:
    """What a task is like; ``sampled`` and ``took`` reword it for conlab.map's items, whose
    wait for a CPU may be the calling process's own doing: ``own_s`` is what that process
    computed meanwhile, per item (conlab's parent, and whatever else the program runs); the
    machine is called busy only for the wait beyond it."""
    if sampled is None:
        sampled = f"{probe.sampled} of {probe.tasks} tasks sampled"
    what = "task" if sampled.endswith("sampled") else "item"
    others_s = max(0.0, probe.runqueue_s - own_s)
    runq = ""
    if probe.runqueue_s > 0.05 * probe.duration_s:
        whose = (
            "a busy CPU"
            if others_s > 0.05 * probe.duration_s
            else "a CPU while this process computed"
        )
        runq = f", {duration(probe.runqueue_s)} of it waiting for {whose}"
    busy = ""
    if others_s > 0.2 * probe.duration_s:
        busy = (
            " The machine was busy (other programs kept the CPUs), so these figures are "
            "uncertain: run again when it is quieter."
        )
    return (
        f"Each {what} {took} {duration(probe.duration_s)} ({sampled}), "
        f"{probe.cpu_fraction:.0%} of it computing{runq}: it is {probe.label}.{busy}"
    )


def threads_sentence(probe: TaskProbe) -> str:
    s = probe.thread_speedup
    if s is None or probe.pair_s is None or probe.alone_s is None:
        return "With one task there is nothing to run side by side."
    if probe.overlap >= 0.5:
        why = "they overlap"
        if probe.kind == "cpu-nogil":
            why += (
                " (no GIL in this interpreter)"
                if not probe.gil_enabled
                else ", so the code releases the GIL"
            )
        elif probe.one_at_a_time is not None and probe.computed_at_once:
            why += (
                " and computed at once (no GIL in this interpreter): taking turns to compute, "
                f"two threads of this task could not pass {probe.one_at_a_time:.2f}x"
            )
    elif probe.cores_per_task > 1.0:
        # A task that already keeps the cores busy with threads of its own (BLAS) leaves
        # nothing for a second one to overlap with: that says nothing about the GIL.
        why = f"each task keeps {probe.own_cores:.1f} cores busy by itself"
        if s >= 1.2:
            # A pair of numpy tasks ran 1.60x faster in the probe, and thread-pool:2 0.73x
            # the loop's speed over the whole workload; "they do not overlap" right after
            # the 1.60x read as a contradiction.
            why += (
                "; a short sample can run faster in two (one filling the gaps between the "
                "other's BLAS calls), which the whole workload need not repeat"
            )
        else:
            why = "they do not overlap: " + why
    else:
        why = "they do not overlap"
        if probe.cpu_fraction > 0.5:
            if probe.cores < 2:
                why += " on one core"
            elif probe.gil_enabled:
                why += ": the code holds the GIL"
            else:  # a free-threaded build: no GIL to blame
                why += ": the machine did not run them at once, or they contend on shared objects"
        if s >= 1.2:
            # Their CPU never ran at once, so the pair cannot have been faster: the
            # one-after-the-other run was slowed (another program took the CPU meanwhile).
            why += (
                f"; the {s:.2f}x is the machine's noise, not overlap (their CPU time never "
                "ran at once)"
            )
    cpu = probe.pair_cpu_concurrency
    at_once = f", their CPU time {cpu:.2f}x the wall time" if cpu is not None else ""
    busy = (
        " (not counting time spent waiting for a busy CPU)"
        if probe.runqueue_s > 0.05 * probe.duration_s
        else ""
    )
    return (
        f"Two batches in two threads took {duration(probe.pair_s)} against "
        f"{duration(probe.alone_s)} one after the other{busy} ({s:.2f}x{at_once}): {why}."
    )


def shipping_sentence(probe: TaskProbe) -> str:
    ship = probe.shipping
    if ship.error:
        return f"Its tasks cannot be sent to another process: {ship.error}."
    total = ship.dumps_args_s + ship.loads_args_s + ship.dumps_result_s + ship.loads_result_s
    return (
        f"Pickling a task and its result for another process takes {duration(total)} "
        f"({size(ship.args_bytes)} out, {size(ship.result_bytes)} back)."
    )


def startup_sentence(p: Prediction) -> str:
    if p.family in (LOOP, OTHER):
        return ""
    cost = costs(p.strategy, p.options.get("start_method"))
    if p.family in (THREAD_PER_TASK, THREAD_POOL, EVENT_LOOP):
        return f"Handing a task to {p.strategy} costs {duration(cost.per_task_s)}" + (
            f", and starting it {duration(p.startup_s)}." if p.startup_s else "."
        )
    return (
        f"Starting {describe(p)} takes {duration(p.startup_s)} here, and handing it a task "
        f"{duration(cost.per_task_s)}."
    )


def why(
    probe: TaskProbe,
    chosen: Prediction,
    sequential: Prediction,
    other: Prediction | None,
) -> str:
    """Why ``chosen``: the probed figures, and the prediction against the alternatives."""
    parts = [
        task_sentence(probe),
        threads_sentence(probe),
        cores_sentence(probe),
        shipping_sentence(probe),
        startup_sentence(chosen),
    ]
    speedup = sequential.total_s / chosen.total_s if chosen.total_s > 0 else 1.0
    verdict = (
        f"Predicted {duration(chosen.total_s)} for {describe(chosen)}, against "
        f"{duration(sequential.total_s)} sequential ({speedup:.2f}x)"
    )
    if other is not None:
        verdict += f"; the best other strategy, {describe(other)}: {duration(other.total_s)}"
        if other.total_s < chosen.total_s <= other.total_s * (1 + TIE):
            verdict += f", within {TIE:.0%}: the simpler one is recommended"
    parts.append(verdict + ".")
    if chosen.family == LOOP:
        parts.append("No strategy is predicted to beat a plain loop for this work on this machine.")
    return " ".join(p for p in parts if p)


def cores_sentence(probe: TaskProbe) -> str:
    """The usable cores, and how many of them computed at once when measured."""
    text = f"{probe.cores} usable core{'s' if probe.cores != 1 else ''}"
    if probe.cores >= 2 and probe.capacity is not None:
        text += (
            f", which ran {probe.cores} processes {probe.capacity:.2f}x as fast as one "
            "(measured now"
            + (
                "; the machine is busy or its CPUs are shared)"
                if probe.capacity < 0.85 * probe.cores
                else ")"
            )
        )
        if probe.crowded_capacity is not None:
            crowd = CROWD * probe.cores
            text += f"; {crowd} processes ran {probe.crowded_capacity:.2f}x" + (
                ": more workers get a larger share of a CPU others keep busy"
                if probe.crowded_capacity > probe.capacity + 0.1
                else ": more workers get no more"
            )
    return text + "."


def stream_choice(
    probe: TaskProbe,
    chosen: Prediction,
    other: Prediction,
    running: bool,
    bound: int,
    own_s: float = 0.0,
) -> str:
    """Why conlab.map's auto runs ``chosen``: the items as measured on its workers, the model's
    time per item for both pools, and the thread bound when it is what limits the threads
    (``own_s``: what the calling process computed per item meanwhile, see task_sentence)."""
    if running:
        measured = f"{probe.sampled} item{'s' if probe.sampled != 1 else ''} measured while running"
        took = "had run for"
    else:
        measured = (
            f"{probe.sampled} item{'s' if probe.sampled != 1 else ''} measured on the workers"
        )
        took = "took"
    text = (
        f"{describe(chosen)}: {task_sentence(probe, measured, took, own_s)} Predicted "
        f"{duration(chosen.wall_s)} per item, against {duration(other.wall_s)} for "
        f"{describe(other)}."
    )
    if chosen.family == THREAD_POOL and chosen.workers >= bound:
        text += f" {bound} threads is the bound (max_threads)."
    return text
