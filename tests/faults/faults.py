"""The fault matrix's faults, and what a cell checks: the standard library only.

Written once, for pytest (tests/faults/test_matrix.py) and for a bare interpreter
that runs one cell itself (tests/faults/cell.py). The faults are module-level
functions, so that every start method and subinterpreters import them by reference.

A cell runs three tasks, the fault between two good ones, and checks that the run
ends within a bound, that every task has a record with the right status, and that
the message names the cause. A fault that cannot hurt a strategy (an unpicklable
argument under threads) is checked for the right outcome, ``ok``, not skipped.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import signal
import threading
import time
from dataclasses import dataclass

from conlab.lab.sandbox import run_strategy
from conlab.model import CRASHED, ERROR, OK, TIMEOUT, Task, TaskRecord
from conlab.strategies import make
from conlab.strategies.base import Strategy

TIMEOUT_S = 0.5
BOUND_S = 30.0  # a cell's run ends well within this, whatever the fault
MIB = 1 << 20


# --- the faults: module-level functions, picklable by reference under every start method ---


def good(x):
    return x * x


def _settle():
    """Let the good tasks finish first, so that only the fault's own task is hit."""
    time.sleep(0.05)


def raises():
    _settle()
    raise ValueError("boom on purpose")


def exits():
    _settle()
    os._exit(1)


def kills_itself():
    _settle()
    os.kill(os.getpid(), signal.SIGKILL)


def segfaults():
    _settle()
    ctypes.string_at(0)


def hangs():
    print("hanging")
    time.sleep(60)


# --- their async variants, for the asyncio strategy ---


async def good_async(x):
    return good(x)


async def after_a_turn(fn, *args):
    """The fault, once the loop has let the good tasks (which never await) finish."""
    await asyncio.sleep(0)
    return fn(*args)


async def awaits_forever():
    """A coroutine's hang: awaiting what never comes (a blocking one is in test_asyncio.py)."""
    print("hanging")
    await asyncio.sleep(60)


def takes(arg):
    return type(arg).__name__


class Holder:
    """A callable object that holds a lock: it cannot be pickled, whatever the pickler."""

    def __init__(self):
        self.lock = threading.Lock()

    def __call__(self):
        return "held"


class AsyncHolder(Holder):
    async def __call__(self):
        await asyncio.sleep(0)
        return "held"


def returns_a_lock():
    return threading.Lock()


def prints_50_mb():
    """Prints 50 MB; returns how much the peak RSS of the process that printed grew meanwhile."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    filler = "x" * (MIB - 8)
    for k in range(50):
        print(f"{k:07d}{filler}")  # a new string each time, as a real program's output
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib) * 1024


def allocates_past_the_limit():
    _settle()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        vm_bytes = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm_bytes + 256 * MIB, hard))
    try:
        return len(bytearray(1024 * MIB))
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@dataclass(frozen=True)
class Fault:
    """A fault, and what a strategy must record for it: status and words of the message.

    ``{to}`` in a word stands for where the strategy sends its tasks pickled
    (Strategy.ships_to: "another process", "a subinterpreter").
    """

    name: str
    task: Task
    status: str
    words: tuple[str, ...]
    # What a strategy that hands tasks over unpickled records instead: the fault cannot hurt it.
    unpickled: tuple[str, tuple[str, ...]] | None = None
    timeout_s: float | None = None
    # The asyncio variant of the task; by default the same function, called from a coroutine.
    async_task: Task | None = None

    def task_for(self, strategy):
        if not strategy.wants_async:
            return self.task
        if self.async_task is not None:
            return self.async_task
        task = self.task
        return Task(after_a_turn, (task.fn, *task.args), task.kwargs, name=task.name)


FAULTS = [
    Fault("raises", Task(raises), ERROR, ("ValueError: boom on purpose",)),
    Fault("os._exit(1)", Task(exits), CRASHED, ("exit code 1",)),
    Fault("SIGKILL of itself", Task(kills_itself), CRASHED, ("SIGKILL",)),
    Fault("segfault", Task(segfaults), CRASHED, ("SIGSEGV", "segmentation fault")),
    Fault(
        "hang past --timeout",
        Task(hangs),
        TIMEOUT,
        ("timeout of 0.5 s",),
        timeout_s=TIMEOUT_S,
        async_task=Task(awaits_forever, name="hangs"),
    ),
    Fault(
        "unpicklable argument",
        Task(takes, (threading.Lock(),)),
        ERROR,
        ("argument 1", "_thread.lock", "cannot be sent to {to}", "module level"),
        unpickled=(OK, ()),
    ),
    Fault(
        "unpicklable result",
        Task(returns_a_lock),
        ERROR,
        # On its way back: "to another process", "back from a subinterpreter".
        ("the result", "_thread.lock", "cannot be sent", "{to}", "thread strategy"),
        unpickled=(OK, ()),
    ),
    Fault(
        "unpicklable callable",
        Task(Holder(), name="holder"),
        ERROR,
        ("the callable", "Holder", "cannot be sent to {to}", "thread strategy"),
        unpickled=(OK, ()),
        async_task=Task(AsyncHolder(), name="holder"),
    ),
    Fault("50 MB of output", Task(prints_50_mb), OK, ()),
    Fault("allocation past RLIMIT_AS", Task(allocates_past_the_limit), ERROR, ("MemoryError",)),
]
FAULT_IDS = [f.name for f in FAULTS]


# --- a cell: one fault against one strategy ---------------------------------------------


def strategy_for(spec: tuple, fault: Fault, **cluster_options) -> Strategy:
    """The cell's strategy: ``spec`` is (name, workers, options), run isolated, with the fault's timeout."""
    name, workers, options = spec
    options = {**options, **cluster_options}
    return make(name, workers, isolate=True, timeout_s=fault.timeout_s, **options)


def run_cell(strategy: Strategy, fault: Fault) -> TaskRecord:
    """Run the fault between two good tasks and check every record; returns the fault's."""
    fn = good_async if strategy.wants_async else good
    tasks = [Task(fn, (2,), name="before"), fault.task_for(strategy), Task(fn, (3,), name="after")]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.monotonic()
    execution = run_strategy(strategy, tasks)
    elapsed = time.monotonic() - t
    grown_bytes = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib) * 1024
    assert elapsed < BOUND_S, f"the run took {elapsed:.1f} s"
    records = execution.records
    assert [r.index for r in records] == [0, 1, 2], "every task has a record, in task order"
    before, hit, after = records
    assert (before.status, before.result) == (OK, 4), before.error
    assert (after.status, after.result) == (OK, 9), (after.error, execution.notes)
    _check_hit(strategy, fault, hit, execution.notes)
    if fault.name == "50 MB of output":
        _check_bounded_output(hit, grown_bytes)
    return hit


def _check_hit(strategy: Strategy, fault: Fault, hit: TaskRecord, notes: list[str]) -> None:
    """The fault's own record: its status, the words of its message, its exit code."""
    status, words = fault.status, [w.format(to=strategy.ships_to) for w in fault.words]
    if fault.unpickled and strategy.ships_to is None:
        status, words = fault.unpickled[0], list(fault.unpickled[1])
    exit_code_known = True
    if status == CRASHED and strategy.name == "ray":
        # Ray says that its worker died, never how: WorkerCrashedError carries no exit code
        # or signal, and neither do Ray's records of the worker (its exit detail is "connection
        # error code 2. End of file"). The record says so rather than guess.
        words, exit_code_known = ["Ray does not say how", "no exit code or signal"], False
    assert hit.status == status, (hit.error, notes)
    for word in words:
        assert word in (hit.error or ""), hit.error
    if status == CRASHED:
        if exit_code_known:
            assert hit.exit_code is not None and hit.exit_code != 0
        else:
            assert hit.exit_code is None
        assert "process" in hit.error and "died" in hit.error


def _check_bounded_output(record: TaskRecord, parent_grown_bytes: int) -> None:
    """50 MB printed: the record keeps head and tail, and no process held the 50 MB.

    The task reports the growth of its own process's peak RSS (a worker, a sandbox);
    the process that ran the cell, which received the record, is measured likewise.
    """
    assert record.output_dropped_chars > 49 * MIB
    assert len(record.output) < 256 * 1024
    assert (
        record.output.startswith("0000000" + "x" * 1000)
        and "characters of output omitted" in record.output
    )
    assert record.result < 20 * MIB, f"the printing process grew by {record.result / MIB:.0f} MiB"
    assert parent_grown_bytes < 20 * MIB, f"conlab grew by {parent_grown_bytes / MIB:.0f} MiB"
