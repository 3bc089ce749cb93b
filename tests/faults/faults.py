"""The fault matrix's faults, and what a cell checks.

A cell is one command, typed as a user would: ``conlab compare
tests.faults.faults:cell --param fault=KEY --strategies NAME ...``, where
``cell`` is a ``module:factory`` workload of three tasks, the fault between two
good ones. No ``--isolate``: the user's code is sandboxed by default. The cell
reads the result file and checks that the command ended within a bound with no
traceback, that every task has a record with the right status, and that the
message names the cause. A fault that cannot hurt a strategy (an unpicklable
argument under threads) is checked for the right outcome, ``ok``, not skipped.
The faults are module-level functions, so that every start method and
subinterpreters import them by reference.
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import os
import re
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass

from conlab.model import CRASHED, ERROR, OK, TIMEOUT, Results, Task, TaskRecord, Workload

TIMEOUT_S = 0.5
BOUND_S = 60.0  # a cell's command ends well within this, whatever the fault
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


def calls_sys_exit():
    _settle()
    sys.exit(3)


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


GROWN = "grown_bytes="


def prints_50_mb():
    """Prints 50 MB, then how much the peak RSS of the process that printed grew meanwhile."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    filler = "x" * (MIB - 8)
    for k in range(50):
        print(f"{k:07d}{filler}")  # a new string each time, as a real program's output
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib) * 1024
    print(f"{GROWN}{grown}")  # the tail of the output is kept, so this line reaches the file
    return grown


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
    # What a crash's message names: the user's line it happened at (crashsite.py).
    crash_site: str | None = None
    # The asyncio variant of the task; by default the same function, called from a coroutine.
    async_task: Task | None = None

    @property
    def key(self) -> str:
        """The fault's name as a --param value: ``os-_exit-1``."""
        return re.sub(r"[^\w]+", "-", self.name).strip("-")

    def async_variant(self) -> Task:
        if self.async_task is not None:
            return self.async_task
        task = self.task
        return Task(after_a_turn, (task.fn, *task.args), task.kwargs, name=task.name)


def _line(fn) -> int:
    """The line of ``fn``'s last statement: where each fault calls what kills its process."""
    return fn.__code__.co_firstlineno + len(inspect.getsource(fn).rstrip().splitlines()) - 1


FAULTS = [
    Fault("raises", Task(raises), ERROR, ("ValueError: boom on purpose",)),
    Fault(
        "os._exit(1)",
        Task(exits),
        CRASHED,
        ("exit code 1",),
        crash_site=f"os._exit(1) called from faults.py:{_line(exits)} in exits",
    ),
    Fault(
        "sys.exit(3)",
        Task(calls_sys_exit),
        ERROR,
        ("SystemExit: 3", f"sys.exit(3) called from faults.py:{_line(calls_sys_exit)}"),
    ),
    Fault("SIGKILL of itself", Task(kills_itself), CRASHED, ("SIGKILL",)),
    Fault(
        "segfault",
        Task(segfaults),
        CRASHED,
        ("SIGSEGV", "segmentation fault"),
        crash_site=f"in C code called from faults.py:{_line(segfaults)} in segfaults",
    ),
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


# --- a cell: one fault against one strategy, as one command ---------------------------------


def cell(fault: str = "raises") -> Workload:
    """The cell's workload (a module:factory): the fault named by its key between two good tasks."""
    chosen = next(f for f in FAULTS if f.key == fault)
    return Workload(
        name=f"fault {chosen.name}",
        tasks=[Task(good, (2,), name="before"), chosen.task, Task(good, (3,), name="after")],
        async_tasks=[
            Task(good_async, (2,), name="before"),
            chosen.async_variant(),
            Task(good_async, (3,), name="after"),
        ],
    )


def cell_argv(spec: tuple, fault: Fault, json_path: str, **cluster_options: str) -> list[str]:
    """The command a user would type for the cell: ``spec`` is (name, workers, options)."""
    name, workers, options = spec
    argv = ["compare", "tests.faults.faults:cell", "--param", f"fault={fault.key}"]
    argv += ["--strategies", f"{name}:{workers}" if workers else name]
    for option, value in {**options, **cluster_options}.items():
        argv += [f"--{option.replace('_', '-')}", str(value)]
    if fault.timeout_s is not None:
        argv += ["--timeout", str(fault.timeout_s)]
    return [*argv, "--repeats", "1", "--warmup", "0", "--quiet", "--json", json_path]


def check_cell(results: Results, strategy: str, ships_to: str | None, fault: Fault) -> TaskRecord:
    """Every record of the strategy's run in the result file; returns the fault's."""
    (comparison,) = results.comparisons
    run = next(r for r in comparison.runs if r.strategy == strategy)
    records = run.records
    assert [r.name for r in records] == ["before", fault.task.name, "after"], run.reason
    before, hit, after = records
    assert before.status == OK, before.error
    assert after.status == OK, (after.error, comparison.notes)
    _check_hit(strategy, ships_to, fault, hit, comparison.notes)
    if fault.name == "50 MB of output":
        _check_bounded_output(hit)
    return hit


def _check_hit(
    strategy: str, ships_to: str | None, fault: Fault, hit: TaskRecord, notes: list[str]
) -> None:
    """The fault's own record: its status, the words of its message, its exit code."""
    status, words = fault.status, [w.format(to=ships_to) for w in fault.words]
    if fault.unpickled and ships_to is None:
        status, words = fault.unpickled[0], list(fault.unpickled[1])
    exit_code_known = True
    if status == CRASHED and strategy == "ray":
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
        if fault.crash_site and strategy not in ("dask", "ray"):  # their workers log elsewhere
            assert fault.crash_site in hit.error, hit.error


def _check_bounded_output(record: TaskRecord) -> None:
    """50 MB printed: the record keeps head and tail, and the printing process never held them.

    The task prints the growth of its own process's peak RSS (a worker, a sandbox) last.
    """
    assert record.output_dropped_chars > 49 * MIB
    assert len(record.output) < 256 * 1024
    assert (
        record.output.startswith("0000000" + "x" * 1000)
        and "characters of output omitted" in record.output
    )
    grown = int(record.output.rsplit(GROWN, 1)[1].split()[0])
    assert grown < 20 * MIB, f"the printing process grew by {grown / MIB:.0f} MiB"


# --- for the signal tests: a task that waits in a child process, and says where it runs ---


def naps_in_a_child(x):
    """Returns at once in conlab's own process; in a child (a sandbox, a worker) it notes its
    pid in $CONLAB_TEST_PIDS and sleeps, so that a signal finds the children running."""
    import multiprocessing

    if multiprocessing.parent_process() is None and "distributed" not in sys.modules:
        return x
    with open(os.path.join(os.environ["CONLAB_TEST_PIDS"], str(os.getpid())), "w"):
        pass
    time.sleep(60)
    return x
