"""The Chrome trace: the structure Perfetto and chrome://tracing read."""

from __future__ import annotations

import json

from conlab.report import trace


def test_trace_has_a_track_per_worker_and_a_complete_event_per_task(results, tmp_path):
    path = tmp_path / "trace.json"
    trace.write(results, str(path))
    data = json.loads(path.read_text())
    events = data["traceEvents"]
    assert data["displayTimeUnit"] == "ms"
    complete = [e for e in events if e["ph"] == "X"]
    meta = [e for e in events if e["ph"] == "M"]
    # Every task of every run with records is one complete event.
    expected = sum(len(r.records) for c in results.comparisons for r in c.runs)
    assert len(complete) == expected
    for e in complete:
        assert set(e) >= {"name", "ph", "ts", "dur", "pid", "tid", "cat", "args"}
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
        assert isinstance(e["dur"], (int, float)) and e["dur"] > 0
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
    processes = {e["pid"]: e["args"]["name"] for e in meta if e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]) for e in meta if e["name"] == "thread_name"}
    # Every event's process and thread are named: one track per worker process and thread.
    assert {e["pid"] for e in complete} == set(processes)
    assert {(e["pid"], e["tid"]) for e in complete} == threads
    # The process pool's two workers are two processes; the thread pool's two threads one.
    pool = [name for name in processes.values() if "process-pool" in name]
    threaded = [name for name in processes.values() if "thread-pool" in name]
    assert len(pool) == 2 and len(threaded) == 1
    tp_pid = next(p for p, n in processes.items() if "thread-pool" in n)
    assert len({tid for pid, tid in threads if pid == tp_pid}) == 2
    # Microseconds: the seed tasks sleep 4 × 5 ms, so each lasts at least 20 000 µs.
    seed_tasks = [e for e in complete if e["name"] in ("calc_square", "calc_cube")]
    assert all(e["dur"] >= 20_000 for e in seed_tasks)
    assert all(e["dur"] < 5_000_000 for e in seed_tasks)
