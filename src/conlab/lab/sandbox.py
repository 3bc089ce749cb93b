"""Running an in-process strategy inside a supervised child process: the sandbox.

Sequential, threads and thread-pool (and asyncio or interpreters) run the tasks
in conlab's own process, and the lab always runs sequential as its reference. A
task that calls ``os._exit``, segfaults or hangs would take conlab down with it,
or hang it, losing every result. Decision: the user's code (``module:function``,
a callable given to the API, a ``module:factory`` workload: any task whose
callable is not conlab's) always runs in a sandbox, and so does any task when a
``timeout`` is given (a loop or a thread cannot be stopped from outside; a
process can) or when the user asks (``isolate=True``, ``--isolate``).
``isolate=False`` (``--in-process``) runs the user's code in conlab's process.
The catalogue's workloads, conlab's own code, run in-process unless asked: see
the README's "Isolation" for what the sandbox costs (benchmarks/bench_isolation.py).

The sandbox is a child made by fork, so that the tasks are the parent's own
objects: nothing is pickled on the way in, and what works in-process works the
same (an unpicklable argument under threads still works). The child says it is
ready, waits for the go, times its own run and sends the Execution back, so its
start-up stays outside the timed window; it measures its own peak memory too.

Supervision: the child notes each task's start, output and record in a journal
file as they happen (journal.WorkerLog). When it dies, the parent reads the
journal: finished tasks keep their records, the task that killed it is ``crashed``
with the exit code or signal, and the others run in a fresh sandbox. A crash
names only its culprit: of several tasks running in threads, the one whose
thread died (faulthandler's ``Current thread``, or the thread that called
``os._exit``); when the sandbox's last words do not say (a kill from outside),
each task that was running runs again alone, and the one that dies alone is
the culprit. A task
past the timeout is stopped by killing the sandbox; it is recorded ``timeout``
and the rest run in a fresh sandbox. When the tasks share one thread (an event
loop) and one of them holds it, the others are late because of it: that one is
recorded ``timeout``. Every such event is written in the notes.
"""

from __future__ import annotations

import functools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import shutil
import tempfile
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conlab._process import execute as execute_module
from conlab._process import lifeline, limits
from conlab._process.crashes import describe_exit, error_line, kill_all
from conlab._process.crashsite import dying_thread
from conlab._process.execute import unstarted
from conlab._process.journal import (
    RAW_TAIL_BYTES,
    JournalReader,
    Leftovers,
    WorkerLog,
    read_tail,
)
from conlab._process.recovery import Died, Late, recover
from conlab._process.wire import pack_lenient, unpack
from conlab.errors import UsageError
from conlab.measure import gil
from conlab.model import LOST, Task, TaskRecord
from conlab.strategies.base import INTERPRETERS, PROCESSES, THREADS, Execution, Strategy

POLL_S = 0.02
READY_TIMEOUT_S = 60.0
# A strategy that abandons its own late tasks (threads) gets this long before the sandbox acts.
ABANDON_GRACE_S = 2.0
WHOLE_RUN = -1  # the sandbox was stopped for the run as a whole, not for one task
# faulthandler dumps every thread, a few hundred bytes each: the dying one may be far from the end.
DUMP_TAIL_BYTES = 1 << 20


def needs_sandbox(strategy: Strategy, tasks: Sequence[Task] = ()) -> bool:
    """Whether ``tasks`` run in a sandbox under ``strategy`` (see the module's docstring)."""
    if strategy.uses_processes:
        return False
    if strategy.isolate is not None:
        return strategy.isolate or strategy.timeout_s is not None
    return strategy.timeout_s is not None or runs_user_code(tasks)


def runs_user_code(tasks: Sequence[Task]) -> bool:
    """Whether any task calls code that is not conlab's own: the user's, or a library's."""
    return any(not _is_conlab(task.fn) or any(map(_is_user_callable, task.args)) for task in tasks)


def _is_user_callable(arg: Any) -> bool:
    """An argument that the task will call: a coroutine function run by run_coroutine, say."""
    return callable(arg) and not isinstance(arg, type) and not _is_conlab(arg)


def _is_conlab(fn: Any) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    module = getattr(fn, "__module__", None) or type(fn).__module__
    return module == "conlab" or module.startswith("conlab.")


def run_strategy(strategy: Strategy, tasks: Sequence[Task]) -> Execution:
    """Run the tasks under the strategy, in a sandbox when it needs one.

    A run whose processes or threads could not start (the user's process limit
    reached meanwhile: check_room saw room before) is one whose tasks were not
    run, saying why; the strategy has stopped what it had started.
    """
    t0 = time.perf_counter_ns()
    try:
        if needs_sandbox(strategy, tasks):
            return run_isolated(strategy, tasks)
        return strategy.run(tasks)
    except (OSError, RuntimeError) as exc:
        why = limits.cannot_start(exc)
        if why is None:
            raise
    lost = [unstarted(task, i, LOST, f"not run: {why}") for i, task in enumerate(tasks)]
    return Execution(lost, t0, time.perf_counter_ns())


# What conlab itself starts beside a strategy's workers: the sampler (a process and a thread),
# a process pool's manager and queue feeder threads, a sandbox and its lifeline, the progress
# bar's thread. Short of these, a ProcessPoolExecutor whose feeder thread cannot start hangs.
CONLAB_THREADS = 8


def check_room(strategies: Sequence[Strategy], n_tasks: int) -> None:
    """Refuse, before measuring, a strategy whose workers this user may not start (ulimit -u).

    Each worker process counts twice (its main thread, and its lifeline's), each
    thread once; what conlab's own process runs (a loop, an event loop) not at all,
    but conlab keeps CONLAB_THREADS for itself.
    """
    left = limits.tasks_left()
    if left is None:
        return
    left = max(0, left - CONLAB_THREADS)
    for strategy in strategies:
        per_worker = {PROCESSES: 2, THREADS: 1, INTERPRETERS: 1}.get(strategy.family, 0)
        workers = min(strategy.workers_for(n_tasks), max(1, n_tasks))
        if per_worker * workers <= left:
            continue
        most = left // per_worker
        room = (
            f"this user may start {left} more processes and threads "
            f"(ulimit -u is {limits.nproc_limit()})"
        )
        if not strategy.pooled:
            raise UsageError(
                f"{strategy.name} starts one worker per task, {n_tasks} at once, but {room}: "
                f"run fewer tasks, leave {strategy.name} out of --strategies, or raise the limit"
            )
        raise UsageError(
            f"{_label(strategy)} would start {workers} workers, but {room}: ask for at most "
            f"{most} ({strategy.name}:{max(1, most)}), or raise the limit"
        )


def _label(strategy: Strategy) -> str:
    return f"{strategy.name}:{strategy.workers}" if strategy.workers else strategy.name


def run_isolated(strategy: Strategy, tasks: Sequence[Task]) -> Execution:
    if "fork" not in multiprocessing.get_all_start_methods():
        raise UsageError("isolation (and --timeout for in-process strategies) needs fork")
    log_dir = tempfile.mkdtemp(prefix="conlab-sandbox-")
    try:
        return _supervise(strategy, list(tasks), log_dir)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


@dataclass
class _Outcome:
    """One sandbox's end: its Execution, or what its journal says, and how it ended."""

    execution: Execution | None
    journal: JournalReader
    pid: int
    exitcode: int | None
    go_ns: int
    end_ns: int
    timed_out: int | None = None  # the local index of the task it was stopped for
    raw: str = ""  # the tail of what it wrote to fds 1 and 2
    dump: str = ""  # a longer tail: faulthandler's dump of many threads, to find the dying one


def _supervise(strategy: Strategy, tasks: list[Task], log_dir: str) -> Execution:
    records: list[TaskRecord | None] = [None] * len(tasks)
    batches = [list(range(len(tasks)))]  # the tasks of each sandbox still to run
    notes: list[str] = []
    reruns: dict[str, list[int]] = {}  # how a sandbox died: the tasks run again, each time
    outcomes: list[_Outcome] = []
    while batches:
        pending = batches.pop(0)
        out = _one(strategy, [tasks[i] for i in pending], log_dir)
        outcomes.append(out)
        if out.execution is None:
            again, suspects = _account(strategy, tasks, pending, records, out, notes, reruns)
            # Each suspect alone first: the one that kills its sandbox again is the culprit.
            batches[:0] = [[i] for i in suspects] + ([again] if again else [])
            continue
        rerun = f"in the re-run of {len(pending)} task(s): " if len(outcomes) > 1 else ""
        notes.extend(rerun + note for note in out.execution.notes)
        for k, record in enumerate(out.execution.records):
            record.index = pending[k]
            records[pending[k]] = record
    notes.extend(_ran_again(how_ended, counts) for how_ended, counts in reruns.items())
    first, last = outcomes[0], outcomes[-1]
    t0 = first.execution.t0_ns if first.execution is not None else first.go_ns
    t1 = last.execution.t1_ns if last.execution is not None else last.end_ns
    execution = Execution([r for r in records if r is not None], t0, t1, notes=notes)
    execution.gil = gil.merge([o.execution.gil for o in outcomes if o.execution is not None])
    if len(outcomes) == 1 and first.execution is not None:
        done = first.execution
        execution.startup_ns, execution.cpu_s = done.startup_ns, done.cpu_s
        execution.peak_rss_bytes, execution.naive_wall_ns = done.peak_rss_bytes, done.naive_wall_ns
    return execution


def _account(
    strategy: Strategy,
    tasks: list[Task],
    pending: list[int],
    records: list[TaskRecord | None],
    out: _Outcome,
    notes: list[str],
    reruns: dict[str, list[int]],
) -> tuple[list[int], list[int]]:
    """Records for what the dead sandbox finished or was running; the tasks to run again
    together, and the suspects to run again one at a time (see recovery.py)."""
    journal = out.journal
    for k, record in journal.ended.items():
        record.index = pending[k]
        records[pending[k]] = record
    left = Leftovers(
        out.pid,
        {pending[k]: t_ns for k, t_ns in journal.started.items()},
        {pending[k]: chunks for k, chunks in journal.chunks.items()},
        out.raw,
    )
    died, late, suspects = [], {}, []
    if out.timed_out is None:
        running = [pending[k] for k in journal.running]
        culprit = _culprit(journal, out)
        if culprit is not None:
            died.append(Died(left, out.exitcode, [pending[culprit]]))
        elif len(running) == 1:
            died.append(Died(left, out.exitcode, running))
        else:
            suspects = running
    elif out.timed_out == WHOLE_RUN:
        how = (
            f"the run as a whole passed {len(pending)} x {strategy.timeout_s or 0.0:g} s before "
            f"this task finished; the sandbox process {out.pid} was stopped"
        )
        late = {i: Late(how, left) for i in pending}
    else:
        how = f"the sandbox process {out.pid} running it was stopped"
        late = {pending[out.timed_out]: Late(how, left)}
    how_ended = describe_exit(out.exitcode)
    again = recover(
        tasks,
        pending,
        records,
        kind="sandbox process",
        timeout_s=strategy.timeout_s or 0.0,
        lost=f"the sandbox process died ({error_line(out.raw) or how_ended})",
        died=died,
        late=late,
        suspects=suspects,
    )
    notes.extend(_what_ran_again(tasks, pending, out, how_ended, again, suspects))
    if again and out.timed_out is None:
        reruns.setdefault(how_ended, []).append(len(again))
    return again, suspects


def _culprit(journal: JournalReader, out: _Outcome) -> int | None:
    """The task (local index) whose thread killed the sandbox, when its last words say which."""
    thread = dying_thread(out.exitcode, out.dump)
    if thread is None:
        return None
    there = [k for k in journal.running if journal.threads.get(k) == thread]
    if len(there) > 1 and journal.holding in there:  # an event loop's tasks share its thread
        return journal.holding
    return there[0] if len(there) == 1 else None


def _what_ran_again(
    tasks: list[Task],
    pending: list[int],
    out: _Outcome,
    how_ended: str,
    again: list[int],
    suspects: list[int],
) -> list[str]:
    """The notes that say which tasks ran alone after the sandbox died with several running
    (none of them named by its last words), and which ran again after it was stopped for a
    timeout. The tasks not finished that a death sent to a fresh sandbox are counted in
    _supervise's ``reruns`` instead, and said once for all the deaths alike (_ran_again)."""
    notes = []
    if suspects:
        names = ", ".join(repr(tasks[i].name) for i in suspects)
        notes.append(
            f"the sandbox process died with {how_ended} while {len(suspects)} tasks ran in it "
            f"({names}), saying nothing of which did it; each ran again alone"
        )
    if again and out.timed_out is not None:
        notes.append(
            f"task {tasks[pending[out.timed_out]].name!r} ran past the timeout; its sandbox was "
            f"stopped and {len(again)} other task(s) ran again in a fresh one"
        )
    return notes


def _ran_again(how_ended: str, counts: list[int]) -> str:
    """One note for every death of a run's sandboxes that ended the same way: a function that
    segfaults on every input killed four sandboxes in turn, and four notes said so alike."""
    if len(counts) == 1:
        return (
            f"the sandbox process died with {how_ended}; {counts[0]} task(s) not finished ran "
            "again in a fresh one"
        )
    each = ", ".join(map(str, counts[:-1])) + f" and {counts[-1]}"
    return (
        f"the sandbox process died {len(counts)} times with {how_ended}; each time, the tasks "
        f"not finished ran again in a fresh one ({each} of them)"
    )


def _one(strategy: Strategy, tasks: list[Task], log_dir: str) -> _Outcome:
    """Run the tasks in one sandbox, until it sends its Execution, dies, or is stopped."""
    ctx: Any = multiprocessing.get_context("fork")
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_child_main, args=(child_conn, strategy, tasks, log_dir), daemon=True)
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork in a process with threads; the child runs only our code.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    child_conn.close()
    try:
        journal = JournalReader(os.path.join(log_dir, f"{proc.pid}.frames"))
        ready = conn.poll(READY_TIMEOUT_S) and _recv(conn) == b"S"
        go_ns = time.perf_counter_ns()
        data, late = None, None
        if ready:
            conn.send_bytes(b"G")
            data, late = _watch(strategy, proc, conn, journal, len(tasks))
        end_ns = time.perf_counter_ns()
    except BaseException:
        kill_all([proc])
        raise
    finally:
        conn.close()
        proc.join(timeout=10)
        kill_all([proc])
    execution = None
    if data is not None:
        execution, packed = pickle.loads(data)
        execution.records = [unpack(p) for p in packed]
    journal.poll()
    dump = read_tail(os.path.join(log_dir, f"{proc.pid}.raw"), DUMP_TAIL_BYTES)
    raw = dump[-RAW_TAIL_BYTES:]
    return _Outcome(execution, journal, proc.pid, proc.exitcode, go_ns, end_ns, late, raw, dump)


def _recv(conn: Any) -> bytes | None:
    try:
        return bytes(conn.recv_bytes())
    except (EOFError, OSError):
        return None


def _watch(
    strategy: Strategy, proc: Any, conn: Any, journal: JournalReader, n_tasks: int
) -> tuple[bytes | None, int | None]:
    """The child's message, or None and the task it was stopped for (None: it died)."""
    limit_ns, whole_ns = None, 0
    if strategy.timeout_s is not None:
        grace = ABANDON_GRACE_S if strategy.handles_timeout else 0.0
        limit_ns = int((strategy.timeout_s + grace) * 1e9)
        # A strategy that notes no task start (not built on execute()) still cannot run for
        # longer than every task one after the other, each up to its limit.
        whole_ns = time.perf_counter_ns() + limit_ns * max(1, n_tasks) + int(ABANDON_GRACE_S * 1e9)
    while True:
        ready = multiprocessing.connection.wait(
            [conn, proc.sentinel], timeout=POLL_S if limit_ns else None
        )
        if conn in ready or proc.sentinel in ready:
            if conn.poll():
                data = _recv(conn)
                if data is not None:
                    return data, None
            return None, None
        if limit_ns is not None:
            now = time.perf_counter_ns()
            running = journal.poll().running
            for k in running:
                if now - journal.started[k] > limit_ns:
                    proc.kill()
                    proc.join(timeout=10)
                    holder = journal.holding
                    return None, holder if holder in running else k
            if now > whole_ns:
                proc.kill()
                proc.join(timeout=10)
                return None, WHOLE_RUN


def _child_main(conn: Any, strategy: Strategy, tasks: list[Task], log_dir: str) -> None:
    """The sandbox: run the strategy here, journal every task, send the Execution back."""
    from conlab.measure.tree import TreeProbe

    try:
        lifeline.follow_parent()
        execute_module.journal = WorkerLog(log_dir)
        conn.send_bytes(b"S")
        if conn.recv_bytes() != b"G":
            os._exit(0)
        probe = TreeProbe().start()
        execution = strategy.run(tasks)
        execution.gil = gil.now()
        peak = probe.stop().peak_rss_bytes
        if execution.peak_rss_bytes is None:
            execution.peak_rss_bytes = peak
        packed = [pack_lenient(r) for r in execution.records]
        execution.records = []
        conn.send_bytes(pickle.dumps((execution, packed), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:
        traceback.print_exc()
        os._exit(70)
    # Threads abandoned past their timeout end here, with the process.
    os._exit(0)
