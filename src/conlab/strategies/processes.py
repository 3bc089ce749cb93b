"""One ``multiprocessing.Process`` per task."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conlab._process import shipping
from conlab._process.child import process_main
from conlab._process.crashes import kill_all, resolve_start_method, stdio_redirected
from conlab._process.execute import current_worker, timed_out, unstarted
from conlab._process.journal import Leftovers, read_leftovers, read_tail
from conlab._process.recovery import crashed_record
from conlab._process.wire import unpack
from conlab.measure.tree import pid_cpu_s, self_cpu_s
from conlab.model import CRASHED, ERROR, OK, Task, TaskRecord, Worker
from conlab.strategies.base import PROCESSES, Execution, Strategy

READY_TIMEOUT_S = 120.0


@dataclass
class _Child:
    index: int
    task: Task
    proc: Any
    conn: Any
    ready: bool = False
    # The child's own CPU when it said ready and when its record (or its death) arrived:
    # the run counts what lies between, not its start-up nor its exit.
    cpu_ready_s: float = 0.0
    cpu_done_s: float | None = None

    def note_done(self) -> None:
        if self.cpu_done_s is None:
            self.cpu_done_s = pid_cpu_s(self.proc.pid)

    @property
    def run_cpu_s(self) -> float:
        return 0.0 if self.cpu_done_s is None else max(0.0, self.cpu_done_s - self.cpu_ready_s)


class ProcessesStrategy(Strategy):
    """Each task in a process of its own, started before the clock starts.

    Every child loads its task and says it is ready; then all are told to go at
    once, so the wall time measures the work and ``startup_s`` the start-up.
    With ``plain=True`` it is the lesson's code as written instead:
    ``Process(target=fn, args=...)``, ``start()``, ``join()``, timed around all
    of it, the callable pickled by reference, no result sent back.
    """

    name = "processes"
    family = PROCESSES
    option_names = ("start_method", "plain")
    description = "one multiprocessing.Process per task (start method fork, forkserver or spawn)"
    pooled = False
    uses_processes = True
    ships_to = shipping.PROCESS

    def __init__(
        self, workers: int | None = None, start_method: str | None = None, plain: bool = False
    ) -> None:
        super().__init__(workers)
        self.start_method = resolve_start_method(start_method)
        self.plain = plain
        self.options = {"start_method": self.start_method}
        if plain:
            self.options["plain"] = True

    def run(self, tasks: Sequence[Task]) -> Execution:
        log_dir = tempfile.mkdtemp(prefix="conlab-")
        try:
            if self.plain:
                return _run_plain(tasks, self.start_method, log_dir, self.timeout_s)
            return _run_shipped(tasks, self.start_method, log_dir, self.timeout_s)
        finally:
            shutil.rmtree(log_dir, ignore_errors=True)


def _run_shipped(
    tasks: Sequence[Task], method: str, log_dir: str, timeout_s: float | None = None
) -> Execution:
    ctx: Any = multiprocessing.get_context(method)
    records: list[TaskRecord | None] = [None] * len(tasks)
    children: list[_Child] = []
    try:
        s0 = time.perf_counter_ns()
        for i, task in enumerate(tasks):
            try:
                payload = shipping.dumps(task)
            except Exception as exc:
                records[i] = unstarted(task, i, ERROR, shipping.task_hint(task, exc))
                continue
            parent_conn, child_conn = ctx.Pipe()
            proc = ctx.Process(
                target=process_main,
                args=(child_conn, payload, i, log_dir),
                name=f"conlab-{task.name}",
                daemon=True,
            )
            # Until the child's own code runs, what it writes (a failure to start) goes here.
            with stdio_redirected(os.path.join(log_dir, f"{i}.boot"), method):
                proc.start()
            child_conn.close()
            children.append(_Child(i, task, proc, parent_conn))
        _collect(children, records, log_dir, until_ready=True)
        for child in children:
            if child.ready:
                child.cpu_ready_s = pid_cpu_s(child.proc.pid)
        cpu0 = self_cpu_s()
        t0 = time.perf_counter_ns()
        for child in children:
            if child.ready:
                child.conn.send_bytes(b"G")
        _collect(children, records, log_dir, until_ready=False, timeout_s=timeout_s)
        t1 = time.perf_counter_ns()
        cpu1 = self_cpu_s()
    except BaseException:
        kill_all(c.proc for c in children)
        raise
    finally:
        for child in children:
            child.proc.join(timeout=10)
            child.conn.close()
        kill_all(c.proc for c in children)
    cpu = cpu1 - cpu0 + sum(c.run_cpu_s for c in children)
    return Execution([r for r in records if r is not None], t0, t1, startup_ns=t0 - s0, cpu_s=cpu)


def _collect(
    children: list[_Child],
    records: list[TaskRecord | None],
    log_dir: str,
    until_ready: bool,
    timeout_s: float | None = None,
) -> None:
    """Read messages until every live child is ready (or has reported), or has reported.

    Past ``timeout_s`` (every child got the go at once), the children still
    running are stopped and their tasks recorded ``timeout``.
    """

    def waiting() -> list[_Child]:
        return [c for c in children if records[c.index] is None and not (until_ready and c.ready)]

    limit_s = READY_TIMEOUT_S if until_ready else timeout_s
    deadline = None if limit_s is None else time.monotonic() + limit_s
    while pending := waiting():
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        handles = [c.conn for c in pending] + [c.proc.sentinel for c in pending]
        ready = multiprocessing.connection.wait(handles, timeout=timeout)
        if not ready:
            for c in pending:
                c.proc.kill()
            if not until_ready:
                _record_timeouts(pending, records, log_dir, timeout_s or 0.0)
            continue
        for child in pending:
            if child.conn in ready or child.proc.sentinel in ready:
                _read_child(child, records, log_dir)


def _record_timeouts(
    late: list[_Child], records: list[TaskRecord | None], log_dir: str, timeout_s: float
) -> None:
    for child in late:
        child.note_done()
        child.proc.join(timeout=10)
        left = read_leftovers(log_dir, child.proc.pid)
        records[child.index] = timed_out(
            child.task,
            child.index,
            timeout_s,
            f"its process {child.proc.pid} was stopped",
            left.started.get(child.index),
            left.chunks.get(child.index),
        )


def _read_child(child: _Child, records: list[TaskRecord | None], log_dir: str) -> None:
    try:
        if child.conn.poll():
            message = child.conn.recv_bytes()
            if message == b"S":
                child.ready = True
            else:
                child.note_done()
                records[child.index] = unpack(message[1:])
                records[child.index].name = child.task.name  # type: ignore[union-attr]
            return
    except (EOFError, OSError):
        pass
    # The pipe closed without a record: the child died. Its exit code says how.
    child.note_done()
    child.proc.join(timeout=10)
    left = read_leftovers(log_dir, child.proc.pid, boot=f"{child.index}.boot")
    records[child.index] = crashed_record(
        child.task, child.index, child.proc.pid, child.proc.exitcode, left
    )


def _run_plain(
    tasks: Sequence[Task], method: str, log_dir: str, timeout_s: float | None = None
) -> Execution:
    """The lesson's code as written, observed from outside: exit codes and the children's output."""
    ctx: Any = multiprocessing.get_context(method)
    procs = []
    try:
        t0 = time.perf_counter_ns()
        for i, task in enumerate(tasks):
            proc = ctx.Process(target=task.fn, args=task.args, kwargs=task.kwargs)
            # The child's stdout and stderr are whatever fds 1 and 2 are when it starts.
            with stdio_redirected(os.path.join(log_dir, f"{i}.boot"), method):
                proc.start()
            procs.append(proc)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for proc in procs:
            proc.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        late = {i for i, proc in enumerate(procs) if proc.is_alive()}
        kill_all(procs)
        t1 = time.perf_counter_ns()
    except BaseException:
        kill_all(procs)
        raise
    host = current_worker().host
    records = []
    for i, (task, proc) in enumerate(zip(tasks, procs, strict=False)):
        text = read_tail(os.path.join(log_dir, f"{i}.boot"), 1 << 20)
        record = TaskRecord(
            index=i,
            name=task.name,
            status=OK,
            start_ns=t0,
            end_ns=t1,
            worker=Worker(host, proc.pid, 0),
            output_chunks=[(t1, text)] if text else [],
            exit_code=proc.exitcode,
        )
        if proc.exitcode != 0:
            left = Leftovers(proc.pid, raw=text)
            crashed = crashed_record(task, i, proc.pid, proc.exitcode, left)
            record.status, record.error, record.traceback = (
                CRASHED,
                crashed.error,
                crashed.traceback,
            )
        if i in late:
            how = f"its process {proc.pid} was stopped"
            record = timed_out(task, i, timeout_s or 0.0, how, t0, record.output_chunks)
        records.append(record)
    return Execution(
        records,
        t0,
        t1,
        naive_wall_ns=t1 - t0,
        notes=[
            "plain multiprocessing.Process: results are not sent back; "
            "success is judged by exit code and output"
        ],
    )
