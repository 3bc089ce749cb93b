"""Result-file fields added for engines: a worker's address and a task's attempts survive a round trip."""

from __future__ import annotations

from conlab import resultfile
from conlab.model import Comparison, Results, Run, TaskRecord, Worker


def test_worker_address_and_attempts_round_trip(tmp_path):
    worker = Worker("h", 1, 2, address="tcp://127.0.0.1:4000")
    records = [
        TaskRecord(0, "a", "ok", 10, 20, 1, worker, attempts=2),
        TaskRecord(1, "b", "ok", 10, 20, 1, Worker("h", 1, 3)),
    ]
    run = Run("dask", 2, records=records, t0_ns=0, wall_s=[0.1])
    path = str(tmp_path / "r.json")
    resultfile.write(Results({}, [Comparison("seed", "io", 2, runs=[run])]), path)
    a, b = resultfile.load(path).comparisons[0].runs[0].records
    assert (a.worker, a.attempts) == (worker, 2)
    assert (b.worker.address, b.attempts) == (None, 1)
