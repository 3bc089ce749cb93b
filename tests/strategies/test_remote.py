"""Clocks of workers on other machines: offsets measured against ours, and records shifted by them."""

from __future__ import annotations

import socket
import time

from conlab.model import TaskRecord, Worker
from conlab.strategies import remote


def test_a_worker_on_this_host_shares_our_clock_exactly():
    offsets = remote.measure_offsets(lambda: {"w": remote.clock_ns()})
    assert offsets == {"w": (0, 0)}
    assert remote.offset_notes(offsets) == []


def test_a_worker_elsewhere_is_measured_and_its_records_shifted():
    skew_ns = 7_000_000_000

    def probe():
        return {"far": ("elsewhere-" + socket.gethostname(), time.perf_counter_ns() + skew_ns)}

    offsets = remote.measure_offsets(probe, rounds=5)
    offset, error = offsets["far"]
    assert abs(offset - skew_ns) <= error + 1_000_000
    record = TaskRecord(
        0,
        "t",
        "ok",
        start_ns=skew_ns + 10,
        end_ns=skew_ns + 20,
        worker=Worker("x", 1, 1, address="far"),
        output_chunks=[(skew_ns + 15, "hi")],
    )
    near = TaskRecord(
        1, "u", "ok", start_ns=10, end_ns=20, worker=Worker("y", 2, 2, address="near")
    )
    remote.shift_records([record, near], {**offsets, "near": (0, 0)})
    assert abs(record.start_ns - 10) <= error + 1_000_000
    assert (
        record.end_ns - record.start_ns == 10 and record.output_chunks[0][0] - record.start_ns == 5
    )
    assert (near.start_ns, near.end_ns) == (10, 20)
    assert "far" in remote.offset_notes(offsets)[0]
