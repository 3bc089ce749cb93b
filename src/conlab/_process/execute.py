"""Running one task and recording what happened, in whichever thread or process runs it."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import threading
import time
import traceback
from array import array
from collections import deque
from collections.abc import Sequence
from itertools import repeat
from typing import Any, Protocol

from conlab._process import capture, lifeline
from conlab.errors import format_error
from conlab.model import ERROR, OK, TIMEOUT, Task, TaskRecord, Worker

_HOST = socket.gethostname()
_thread_time_ns = time.thread_time_ns
_perf_counter_ns = time.perf_counter_ns
_set_sink = capture.set_sink
_reset_sink = capture.reset_sink
_get_sink = capture.get_sink


# Reading a thread's CPU clock is a system call: about a microsecond here, as much
# as a trivial task, and dearer still among contending threads. A task shorter
# than TINY_NS has its CPU time read one time in CPU_EVERY; the others record
# none (cpu_ns None), and the run's CPU time comes from the process tree anyway.
# Skipping starts only after TINY_RUN tiny tasks in a row, so that work mixing
# tiny and long tasks keeps the CPU time of its long ones.
TINY_NS = 50_000
TINY_RUN = 8
CPU_EVERY = 128


# The garbage collector walks every live container at each full collection: at 100,000 tiny
# tasks, two per task for the records kept until the run ends (a tuple holding a Worker, a list
# for the output) made the pool's collections a third longer (1.0 -> 1.5 s of a 3.4 s run).
# So a task's fields hold only atoms: its worker as a plain tuple, a key into _WORKERS (a tuple
# of atoms, and so the fields too, leave the collector's lists at their first collection), and
# no output as an empty tuple; the record gets the Worker and a list when it is built.
WorkerKey = tuple[str, int, int]
_WORKERS: dict[WorkerKey, Worker] = {}
_NO_OUTPUT: tuple[tuple[int, str], ...] = ()


class _Thread:
    """What one thread keeps between its tasks: who it is, and how many CPU reads to skip."""

    __slots__ = ("key", "ran", "sink", "skip", "tiny", "worker")

    def __init__(self) -> None:
        if _hooked_in != os.getpid():
            _hook_os_exit()
        self.worker = Worker(host=_HOST, pid=os.getpid(), thread=threading.get_native_id())
        self.key: WorkerKey = (self.worker.host, self.worker.pid, self.worker.thread)
        _WORKERS[self.key] = self.worker
        self.sink = capture.thread_sink()
        self.skip = 0  # CPU reads still to skip
        self.tiny = 0  # tiny tasks in a row, CPU read
        self.ran: array[int] | None = None  # a pool thread's quiet tasks' indices (see Quiet)


_local = threading.local()
_hooked_in: int | None = None  # the process whose os._exit names its caller (crashsite.py)


def _hook_os_exit() -> None:
    """Once per process that runs tasks (a worker of any kind, conlab's own): an os._exit the
    user's code calls writes where, so that a crash report can name the line."""
    global _hooked_in
    _hooked_in = os.getpid()
    from conlab._process.crashsite import hook_os_exit

    hook_os_exit()


def _this_thread() -> _Thread:
    try:
        return _local.state
    except AttributeError:
        _local.state = state = _Thread()
        return state


def _forget_workers() -> None:
    global _local
    _local = threading.local()


if hasattr(os, "register_at_fork"):
    # A forked child's thread is another worker: it must not reuse its parent's. And the
    # child (a sandbox, a worker, what a task forks) must not outlive its parent (lifeline.py).
    os.register_at_fork(after_in_child=_forget_workers)
    os.register_at_fork(after_in_child=lifeline.follow_parent)
lifeline.follow_parent_if_a_worker()  # a spawned or forkserver worker, as it loads this


class Journal(Protocol):
    """Where a sandbox process notes each task's start, output and record as they happen."""

    def start(self, index: int) -> None: ...
    def sink(self, index: int) -> capture.BoundedSink: ...
    def end(self, record: TaskRecord) -> None: ...


# Set only inside a sandbox process (sandbox.py), so that its death loses no finished task.
journal: Journal | None = None


# A Ctrl-C and a task's own ``raise KeyboardInterrupt`` are the same exception. SIGINTs
# are counted, so that only one that arrived during a task stops the command; any other
# KeyboardInterrupt is the task's, and recorded as its error like any exception.
_interrupts = 0


def interrupt_arrived() -> None:
    """Count an interrupt the command received (SIGINT here; SIGTERM, SIGHUP in cli/signals.py)."""
    global _interrupts
    _interrupts += 1


def _count_interrupt(signum: int, frame: Any) -> None:
    interrupt_arrived()
    exc = KeyboardInterrupt()
    exc.signum = signum  # type: ignore[attr-defined]  # see is_sigint
    raise exc


def is_sigint(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the KeyboardInterrupt a SIGINT raised (not a task's own), where
    SIGINTs are counted: cli/signals.py delivers it again when Python ignored it."""
    return isinstance(exc, KeyboardInterrupt) and getattr(exc, "signum", None) == signal.SIGINT


def count_interrupts() -> None:
    """Count SIGINTs where Python's default handler would raise KeyboardInterrupt (main thread)."""
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, TypeError):
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, _count_interrupt)


count_interrupts()


def current_worker() -> Worker:
    """The worker running this code, made once per thread: per-task cost matters at 100k tasks."""
    return _this_thread().worker


# What execute_fields returns: the fields of a TaskRecord after its index and name, the worker
# as its key and the output as a sequence (see _WORKERS).
Fields = tuple[
    str,
    int,
    int,
    "int | None",
    WorkerKey,
    "Sequence[tuple[int, str]]",
    int,
    Any,
    "str | None",
    "str | None",
]


def task_error(exc: BaseException) -> str:
    """A task's exception as one line; a SystemExit says where the user's code called sys.exit."""
    error = format_error(exc)
    if isinstance(exc, SystemExit):
        from conlab._process.crashsite import exit_call

        if where := exit_call(exc):
            error = f"{error} ({where})"
    return error


def execute_fields(
    task: Task, sink: capture.BoundedSink | None = None, always_cpu: bool = False
) -> Fields:
    """Run ``task`` here, capturing its output, timing it and catching its error.

    Returns the record's fields as a tuple, so that a pool can build the
    TaskRecords after the timed part: at 100,000 tiny tasks, building them
    among contending threads would cost more than the tasks themselves. The
    output is kept in memory, bounded; a process worker passes a sink that
    also writes through to its log file, so that what a task printed survives
    the worker's crash. The task's CPU time is read around it unless tasks
    of this thread are tiny (see TINY_NS); ``always_cpu`` reads it regardless.

    Every line here is paid once per task, among threads contending for the
    GIL, where each costs several times what it costs alone: keep it short.
    """
    try:
        state = _local.state
    except AttributeError:
        state = _this_thread()
    if sink is None:
        own = state.sink
        if own.busy or _get_sink() is not None:
            # A task run by a task in this thread, or inside an asyncio task: a sink of its own,
            # which the router finds through the ContextVar.
            own = capture.LazySink()
            token = _set_sink(own)
        else:
            own.busy = True  # the router finds the thread's own sink by this flag
            token = None
    else:
        own = None
        token = _set_sink(sink)
    cpu0 = _thread_time_ns() if always_cpu or not state.skip else -1
    interrupts = _interrupts
    start_ns = _perf_counter_ns()
    try:
        kwargs = task.kwargs
        result = task.fn(*task.args, **kwargs) if kwargs else task.fn(*task.args)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt) and _interrupts != interrupts:
            _release(token, own, sink)
            raise  # a Ctrl-C during the task: the command's to handle
        end_ns = _perf_counter_ns()
        return _failed(exc, start_ns, end_ns, cpu0, state, _release(token, own, sink))
    except BaseException:
        _release(token, own, sink)
        raise
    end_ns = _perf_counter_ns()
    if cpu0 < 0 and end_ns - start_ns < TINY_NS:
        state.skip -= 1  # _cpu_ns's commonest case, inline: a tiny task, CPU not read
        cpu_ns = None
    else:
        cpu_ns = _cpu_ns(cpu0, end_ns - start_ns, state)
    if token is None and own is not None and own.sink is None:
        own.busy = False  # the common case: the thread's own sink, and the task printed nothing
        return (OK, start_ns, end_ns, cpu_ns, state.key, _NO_OUTPUT, 0, result, None, None)
    chunks, dropped = _release(token, own, sink)
    return (OK, start_ns, end_ns, cpu_ns, state.key, chunks, dropped, result, None, None)


def _failed(
    exc: BaseException,
    start_ns: int,
    end_ns: int,
    cpu0: int,
    state: _Thread,
    output: tuple[Sequence[tuple[int, str]], int],
) -> Fields:
    """The fields of a task that raised ``exc``."""
    cpu_ns = _cpu_ns(cpu0, end_ns - start_ns, state)
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    chunks, dropped = output
    return (ERROR, start_ns, end_ns, cpu_ns, state.key, chunks, dropped, None, task_error(exc), tb)


# What execute_pooled returns for the commonest task at 100,000 (tiny, quiet, ok, its CPU time
# not read): its times and result, the least record's three fields; its worker is found
# through the task's index kept in its thread's ``ran`` (owners). A pool keeps each task's
# result in its future until the run ends, and each full collection (9 a run at 100,000 trivial
# tasks) walks the futures and touches what they hold: in the raw ThreadPoolExecutor of the
# least record, a fourth field (the worker's key) took 1.071-1.081 of its time against
# 1.026-1.052 with three, the worker kept beside them 1.030 (README, "The window, taken apart").
# Kept beside them by index, not by the result's id: a map of 100,000 ids (addresses, read in
# no order the map's table has) cost 10 ms to build and 35 ms to read after the window, where
# a list in the tasks' order costs 5 ms and reads as fast as the tasks themselves.
Quiet = tuple[int, int, Any]


def enter_pool_thread(states: list[_Thread]) -> None:
    """The initializer of the thread-pool strategy's threads, which run execute_pooled's tasks
    and nothing else: the thread's own output sink is busy for good (its tasks need not set
    and clear the flag; a task run by a task finds it busy and takes a sink of its own), and
    its state joins ``states``, where the run finds the indices of its quiet tasks (owners)."""
    state = _this_thread()
    state.sink.busy = True
    state.ran = array("Q")
    states.append(state)


def execute_pooled(task: Task, index: int) -> Fields | Quiet:
    """execute_fields, in a thread that entered a pool (enter_pool_thread).

    What it leaves out is what such a thread cannot meet: a sink to set or find (the
    thread's own is always the one written to), and a Ctrl-C (signals raise in the main
    thread only, so a KeyboardInterrupt here is the task's own: recorded as its error).
    A quiet task returns three fields (Quiet), and its ``index`` goes to the thread's ``ran``.
    """
    state = _local.state
    cpu0 = -1 if state.skip else _thread_time_ns()
    start_ns = _perf_counter_ns()
    try:
        kwargs = task.kwargs
        result = task.fn(*task.args, **kwargs) if kwargs else task.fn(*task.args)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        return _failed(exc, start_ns, _perf_counter_ns(), cpu0, state, state.sink.take())
    except BaseException:
        state.sink.take()
        raise
    end_ns = _perf_counter_ns()
    if cpu0 < 0 and end_ns - start_ns < TINY_NS:
        state.skip -= 1
        if state.sink.sink is None:
            state.ran.append(index)
            return (start_ns, end_ns, result)
        cpu_ns = None
    else:
        cpu_ns = _cpu_ns(cpu0, end_ns - start_ns, state)
    chunks, dropped = state.sink.take()
    output = chunks or _NO_OUTPUT
    return (OK, start_ns, end_ns, cpu_ns, state.key, output, dropped, result, None, None)


def owners(states: Sequence[_Thread], n: int) -> list[Worker | None]:
    """The worker of each of ``n`` tasks whose quiet result a pool's threads returned, by the
    task's index (None for the others, whose fields name their worker)."""
    found: list[Worker | None] = [None] * n
    for state in states:
        # map and deque: a loop in C over the thread's indices, 5 ms at 100,000.
        deque(map(found.__setitem__, state.ran or (), repeat(state.worker)), maxlen=0)
    return found


def _release(
    token: Any, own: capture.LazySink | None, sink: capture.BoundedSink | None
) -> tuple[list[tuple[int, str]], int]:
    """Route output away from the task again, and return what it printed."""
    if token is not None:
        _reset_sink(token)
    if own is not None:
        own.busy = False
        return own.take()
    return sink.finish()  # type: ignore[union-attr]


def _cpu_ns(cpu0: int, wall_ns: int, state: _Thread) -> int | None:
    """The task's CPU time if it was read (cpu0 >= 0); decides whether the next one's is."""
    if cpu0 < 0:
        state.skip -= 1
        if wall_ns >= TINY_NS:
            state.skip = state.tiny = 0  # a long task: read the next one's CPU time
        return None
    cpu_ns = _thread_time_ns() - cpu0
    if wall_ns >= TINY_NS:
        state.tiny = 0
    else:
        state.tiny += 1
        if state.tiny >= TINY_RUN:
            state.skip = CPU_EVERY - 1
    return cpu_ns


def record(
    task: Task, index: int, fields: Fields | Quiet, owner: Sequence[Worker | None] = ()
) -> TaskRecord:
    """The TaskRecord of ``task`` from what execute_fields or execute_pooled returned (a Quiet
    result's worker from ``owner``, see owners)."""
    if len(fields) == 3:
        start_ns, end_ns, result = fields
        return TaskRecord(index, task.name, OK, start_ns, end_ns, None, owner[index], [], 0, result)
    status, start_ns, end_ns, cpu_ns, key, chunks, dropped, result, error, tb = fields
    return TaskRecord(
        index, task.name, status, start_ns, end_ns, cpu_ns, _WORKERS[key], [*chunks], dropped,
        result, error, tb,
    )  # fmt: skip


# From this many records up, records() moves them to the collector's oldest generation.
PROMOTE_AT = 10_000


def records(
    tasks: Sequence[Task],
    fields: Sequence[Fields | Quiet],
    owner: Sequence[Worker | None] = (),
) -> list[TaskRecord]:
    """The TaskRecords of ``tasks`` from what execute_fields or execute_pooled returned for each
    (``owner``: the workers of the Quiet ones, see owners).

    The collector is paused meanwhile: records hold no cycles, and 100,000 of them built
    among the run's live objects set off full collections (0.1 of the 0.15 s they took).
    Many records then go straight to the oldest generation (see _promote_young).
    """
    if len(tasks) != len(fields):
        raise ValueError(f"{len(tasks)} tasks but {len(fields)} results")
    paused = gc.isenabled()
    gc.disable()
    try:
        built = list(map(record, tasks, range(len(tasks)), fields, repeat(owner)))
        if len(built) >= PROMOTE_AT:
            _promote_young()
        return built
    finally:
        if paused:
            gc.enable()


def _promote_young() -> None:
    """Move every object of the young generations to the oldest, without walking them.

    Records live as long as the run's results. Left young, 100,000 of them (and their
    output lists) are walked by the next young collection, 16 ms, and by the middle
    generation's after it, before they reach the oldest anyway. ``gc.freeze`` then
    ``gc.unfreeze`` splices the generations' lists onto the oldest's: 8 µs, on 3.10 to
    3.13. The process's other young objects go with them: a cycle among them that is
    already garbage waits for the next full collection, not the next young one. Not where
    the process has frozen objects of its own (unfreeze would thaw them), nor on a
    free-threaded build, whose freeze visits the whole heap, nor from 3.14, whose
    incremental collector's freeze walks the old generation's lists (not measured here).
    """
    import sysconfig  # here: a worker that imports this module never needs it

    if sys.version_info >= (3, 14) or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def execute(
    task: Task, index: int, sink: capture.BoundedSink | None = None, always_cpu: bool = False
) -> TaskRecord:
    """Run ``task`` here and return its record (see execute_fields).

    Inside a sandbox process, the journal notes the task's start, output and
    record as they happen, so that the sandbox's death loses no finished task.
    """
    if journal is None:
        return record(task, index, execute_fields(task, sink, always_cpu))
    journal.start(index)
    result = record(task, index, execute_fields(task, sink or journal.sink(index), always_cpu))
    journal.end(result)
    return result


def unstarted(task: Task, index: int, status: str, error: str) -> TaskRecord:
    """The record of a task that never ran (it could not be shipped, or its worker was lost)."""
    return TaskRecord(index=index, name=task.name, status=status, error=error)


def timed_out(
    task: Task,
    index: int,
    timeout_s: float,
    how: str,
    start_ns: int | None = None,
    chunks: list[tuple[int, str]] | None = None,
) -> TaskRecord:
    """The record of a task that ran past its time limit; ``how`` says what became of it."""
    return TaskRecord(
        index=index,
        name=task.name,
        status=TIMEOUT,
        start_ns=start_ns,
        output_chunks=list(chunks or []),
        error=f"ran past the timeout of {timeout_s:g} s; {how}",
    )
