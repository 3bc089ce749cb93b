"""What became of the tasks of worker processes that died: the one routine for every kind.

A process pool whose worker died, and a sandbox that died or was stopped, each
find out what they can (which process died under which task, by that task's
doing, and which tasks conlab stopped past their timeout) and call ``recover``.
Each task with no record is then recorded ``timeout`` (conlab stopped it),
``crashed`` (it was running in a process that died of it: the exit code or
signal, what the task printed, the process's last words) or run again, once
more, in a fresh process. A crash names only its culprit: when several tasks
ran in the process and what it left does not say which one killed it, they are
*suspects*, left to the caller to run again one at a time, so that the one that
does it again is blamed alone. When none of the tasks could be accounted for,
running them again would loop: they are recorded ``lost``, saying why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from conlab._process.crashes import describe_crash
from conlab._process.execute import current_worker, timed_out, unstarted
from conlab._process.journal import Leftovers
from conlab.model import CRASHED, LOST, Task, TaskRecord, Worker


@dataclass
class Died:
    """A process that died of what its tasks did (not stopped by conlab, nor by its pool)."""

    left: Leftovers  # what it left, by the caller's task index; left.pid says which process
    exitcode: int | None
    running: list[int]  # the task it was running when it died, by whose doing


@dataclass
class Late:
    """A task that conlab stopped, with its process, for running past the timeout."""

    how: str  # what became of it: "the sandbox process 123 running it was stopped"
    left: Leftovers  # what its process left: the task's start and output


def recover(
    tasks: Sequence[Task],
    pending: Sequence[int],
    records: list[TaskRecord | None],
    *,
    kind: str,
    timeout_s: float,
    lost: str,
    died: Sequence[Died] = (),
    late: Mapping[int, Late] | None = None,
    suspects: Collection[int] = (),
) -> list[int]:
    """Record what happened to each of ``pending`` with no record; return those to run again.

    ``pending`` are the tasks the dead processes held; one that has a record
    already (its process journaled it) counts as accounted for. ``kind`` names
    the process in messages ("worker process", "sandbox process"); ``lost``
    says what happened, for tasks recorded lost ("the process pool broke (...)").
    ``suspects`` get no record and are not returned: the caller runs each alone.
    """
    late = late or {}
    culprit = {i: process for process in died for i in process.running}
    again: list[int] = []
    for i in pending:
        if records[i] is not None:
            continue
        if i in late:
            left = late[i].left
            records[i] = timed_out(
                tasks[i], i, timeout_s, late[i].how, left.started.get(i), left.chunks.get(i)
            )
        elif i in culprit:
            process = culprit[i]
            left = process.left
            records[i] = crashed_record(tasks[i], i, left.pid, process.exitcode, left, kind)
        elif i not in suspects:
            again.append(i)
    if again and len(again) == len(pending):
        for i in again:
            records[i] = unstarted(tasks[i], i, LOST, f"not run: {lost}")
        return []
    return again


def crashed_record(
    task: Task,
    index: int,
    pid: int,
    exitcode: int | None,
    left: Leftovers,
    kind: str = "worker process",
) -> TaskRecord:
    """The record of a task whose process (a ``kind``) died under it."""
    error = f"{kind} {pid} died with {describe_crash(exitcode, left.raw)}"
    host = current_worker().host
    return TaskRecord(
        index=index,
        name=task.name,
        status=CRASHED,
        start_ns=left.started.get(index),
        worker=Worker(host=host, pid=pid, thread=0),
        output_chunks=left.chunks.get(index, []),
        error=error,
        traceback=left.raw.strip() or None,
        exit_code=exitcode,
    )
