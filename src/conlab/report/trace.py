"""Chrome trace-event JSON, which Perfetto and chrome://tracing open beside viztracer or Ray traces.

Each run becomes its own set of processes (one per worker process of that
run, named after the run and the real pid), each worker thread a track, each
task a complete ("X") event. Times are microseconds from the start of the run,
so the runs of a comparison line up and can be compared by eye.
"""

from __future__ import annotations

import json
from typing import Any

from conlab import outputs
from conlab.model import Results, Run
from conlab.report.terminal import strategy_label
from conlab.report.timeline import lanes


def _meta(
    name: str, pid: int, tid: int, value: str, sort_index: int | None = None
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": {"name": value}}
    ]
    if sort_index is not None:
        sort = "process_sort_index" if name == "process_name" else "thread_sort_index"
        events.append(
            {"name": sort, "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": sort_index}}
        )
    return events


def run_events(run: Run, heading: str, next_pid: int) -> tuple[list[dict[str, Any]], int]:
    """The events of one run; trace pids start at ``next_pid`` and the next free one is returned."""
    events: list[dict[str, Any]] = []
    pids: dict[int | None, int] = {}
    for tid, lane in enumerate(lanes(run), start=1):
        if lane.pid not in pids:
            pids[lane.pid] = next_pid
            real = "no worker" if lane.pid is None else f"pid {lane.pid}"
            events += _meta("process_name", next_pid, 0, f"{heading} · {real}", next_pid)
            next_pid += 1
        pid = pids[lane.pid]
        events += _meta("thread_name", pid, tid, f"{lane.label} (id {lane.thread})", tid)
        for bar in lane.bars:
            events.append(
                {
                    "name": bar.name,
                    "cat": run.strategy,
                    "ph": "X",
                    "ts": round(bar.start_s * 1e6, 3),
                    "dur": round((bar.end_s - bar.start_s) * 1e6, 3),
                    "pid": pid,
                    "tid": tid,
                    "args": {
                        "task": bar.index,
                        "status": bar.status,
                        "pid": lane.pid,
                        "thread": lane.thread,
                    },
                }
            )
    return events, next_pid


def to_trace(results: Results) -> dict[str, Any]:
    """Every run with records, from every comparison, as one trace."""
    events: list[dict[str, Any]] = []
    next_pid = 1
    for k, c in enumerate(results.comparisons, start=1):
        for run in c.runs:
            if not run.records:
                continue
            # A title carries its own number (the demo's "1. Waiting work"); a workload's is given one.
            heading = f"{c.title or f'{k}. {c.workload}'}: {strategy_label(run)}:{run.workers}"
            more, next_pid = run_events(run, heading, next_pid)
            events += more
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"generator": "conlab", "environment": results.environment},
    }


def write(results: Results, path: str) -> None:
    outputs.write_text(json.dumps(to_trace(results), default=str), path)
