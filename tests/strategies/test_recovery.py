"""The one routine that says what became of the tasks of a dead worker process."""

from __future__ import annotations

from conlab._process.journal import Leftovers
from conlab._process.recovery import Died, Late, recover
from conlab.model import CRASHED, LOST, OK, TIMEOUT, Task, TaskRecord


def _tasks(n):
    return [Task(print, (k,), name=f"t{k}") for k in range(n)]


def test_the_task_running_is_crashed_in_the_words_of_its_kind_and_the_rest_run_again():
    tasks = _tasks(3)
    records = [TaskRecord(index=0, name="t0", status=OK), None, None]
    left = Leftovers(
        42, {1: 5}, {1: [(6, "last words\n")]}, "Fatal Python error: Segmentation fault\n"
    )
    again = recover(
        tasks, [0, 1, 2], records, kind="sandbox process", timeout_s=1.0, lost="never",
        died=[Died(left, -11, [1])],
    )  # fmt: skip
    assert again == [2] and records[2] is None
    crashed = records[1]
    assert crashed is not None and crashed.status == CRASHED and crashed.index == 1
    assert crashed.error.startswith("sandbox process 42 died with signal SIGSEGV")
    assert crashed.error.endswith("Fatal Python error: Segmentation fault")
    assert crashed.start_ns == 5 and crashed.output_chunks == [(6, "last words\n")]


def test_suspects_are_left_to_run_alone_and_none_is_blamed_for_what_one_of_them_did():
    tasks = _tasks(3)
    records: list[TaskRecord | None] = [None, None, None]
    again = recover(
        tasks, [0, 1, 2], records, kind="sandbox process", timeout_s=1, lost="", suspects=[0, 1]
    )
    assert again == [2]  # not started: runs again; the suspects are the caller's, one at a time
    assert records == [None, None, None]


def test_a_late_task_is_timed_out_as_its_caller_says():
    tasks = _tasks(2)
    records: list[TaskRecord | None] = [None, None]
    late = {0: Late("its worker process 9 was stopped", Leftovers(9, {0: 3}))}
    again = recover(
        tasks, [0, 1], records, kind="worker process", timeout_s=0.5, lost="", late=late
    )
    assert again == [1]
    assert records[0] is not None and records[0].status == TIMEOUT and records[0].start_ns == 3
    assert records[0].error == "ran past the timeout of 0.5 s; its worker process 9 was stopped"


def test_nothing_to_blame_records_the_rest_lost_instead_of_looping():
    tasks = _tasks(2)
    records: list[TaskRecord | None] = [None, None]
    lost = "the process pool broke (a worker process died)"
    assert recover(tasks, [0, 1], records, kind="worker process", timeout_s=1, lost=lost) == []
    for record in records:
        assert record is not None and record.status == LOST
        assert record.error == f"not run: {lost}"
