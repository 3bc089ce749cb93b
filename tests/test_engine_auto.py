"""conlab.map's strategy "auto": what it does with items no process can receive, and its
first items on the workers from the start."""

from __future__ import annotations

import os
import threading
import time

import pytest

import conlab
from conlab.measure.environment import usable_cpus


def first_of(pair):
    return pair[0] + 1


def test_auto_runs_items_no_process_can_receive_on_threads():
    lock = threading.Lock()
    items = [(x, lock) for x in range(30)]
    results = conlab.map(first_of, items)
    assert list(results) == list(range(1, 31))
    assert results.strategy == "thread-pool"
    assert results.advice is not None and results.advice.strategy == "thread-pool"
    assert "cannot be sent to another process" in results.advice.reason, results.advice


def test_auto_moves_to_threads_when_a_later_item_cannot_be_sent():
    lock = threading.Lock()
    items = [(x, None) for x in range(200)] + [(x, lock) for x in range(200, 230)]
    results = conlab.map(first_of, iter(items))
    assert list(results) == list(range(1, 231))
    assert results.choices[-1].strategy == "thread-pool", results.choices
    assert "an item" in results.choices[-1].reason


def busy_for(x):
    """About 0.2 s of pure Python; when it started and ended, and where."""
    t0 = time.perf_counter_ns()
    total = 0
    for i in range(4_000_000):
        total += i % 7
    return x, os.getpid(), t0, time.perf_counter_ns()


@pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 usable cores")
def test_auto_keeps_both_workers_busy_from_the_start():
    """Timeline of a CPU-bound run: the first two items start on two workers at once, well
    before either ends (no probe runs an item alone first)."""
    t0 = time.perf_counter_ns()
    out = list(conlab.map(busy_for, range(4), workers=2))
    (_, pid0, start0, end0), (_, pid1, start1, end1) = out[:2]
    assert pid0 != pid1 and os.getpid() not in (pid0, pid1)
    first_end = min(end0, end1)
    # Both started in the first quarter of the first item's run.
    assert max(start0, start1) - t0 < (first_end - t0) / 4, out[:2]


def nap_where(seconds):
    time.sleep(seconds)
    return os.getpid()


def test_items_the_process_pool_had_not_started_run_on_the_threads_auto_chose():
    """Waiting items: when auto moves to threads, the items still queued for the process pool go
    to the threads too. None waits an item's time for a worker, holding back every result after
    it: only the items already running there (one per worker) ran in another process."""
    t0 = time.perf_counter()
    results = conlab.map(nap_where, [0.3] * 40)
    pids = list(results)
    took = time.perf_counter() - t0
    assert results.choices[0].strategy == "thread-pool", results.choices
    in_children = [p for p in pids if p != os.getpid()]
    assert len(in_children) <= 2, (len(in_children), took)
    # Two rounds of 0.3 s would be an item held back behind the first ones.
    assert took < 0.55, took


def test_the_evidence_counts_what_this_process_computed_per_item_since_it_began():
    # What auto's parent computes while its workers run (the model's import, the looks) is
    # what their wait for a CPU may be on a machine with no core to spare: the words tell it
    # from a busy machine's (advice/words.task_sentence).
    from conlab.engine.auto import _Evidence

    evidence = _Evidence()
    spent = time.process_time()
    while time.process_time() - spent < 0.02:
        pass
    assert evidence.parent_s() >= 0.02  # no item finished yet: per one
    evidence.add(4, 40_000_000, 40_000_000, 0)
    assert 0.005 <= evidence.parent_s() < 0.02
