"""process-pool with ``chunksize``: tasks travel in batches, records stay one per task."""

from __future__ import annotations

import operator
import os

import pytest

from conlab.errors import UsageError
from conlab.model import CRASHED, LOST, OK, Task
from conlab.strategies import make


def exit_hard(code):
    os._exit(code)


@pytest.mark.parametrize("chunksize", [3, "auto"])
def test_batches_give_one_record_per_task_in_order(chunksize):
    tasks = [Task(operator.add, (i, 1), name=f"add{i}") for i in range(20)]
    strategy = make("process-pool", 2, chunksize=chunksize)
    execution = strategy.run(tasks)
    assert [r.index for r in execution.records] == list(range(20))
    assert [r.result for r in execution.records] == list(range(1, 21))
    assert all(r.status == OK for r in execution.records)
    assert strategy.describe_options()["chunksize"] == chunksize
    assert len({r.worker.pid for r in execution.records if r.worker}) <= 2


def test_a_crash_in_a_batch_is_accounted_for():
    tasks = [Task(operator.add, (i, 1), name="add") for i in range(3)]
    tasks.append(Task(exit_hard, (3,), name="exit"))
    records = make("process-pool", 1, chunksize=4).run(tasks).records
    assert len(records) == 4
    assert records[3].status == CRASHED
    assert all(r.status in (OK, LOST) for r in records[:3])


def test_a_bad_chunksize_is_a_usage_error():
    with pytest.raises(UsageError, match="chunksize"):
        make("process-pool", 2, chunksize=0)
