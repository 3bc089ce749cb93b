"""Running one task: its CPU time read unless tasks are tiny, its output its own, its error kept."""

from __future__ import annotations

import gc
import os
import sys
import sysconfig
import threading
import time

import pytest

from conlab._process import capture
from conlab._process.execute import (
    CPU_EVERY,
    PROMOTE_AT,
    TINY_NS,
    TINY_RUN,
    execute,
    execute_fields,
    record,
    records,
)
from conlab.model import ERROR, OK, Task, Worker


def tiny(x):
    return x + 1


def spin(seconds):
    """Computes for `seconds` of this thread's CPU time, however long the machine makes that take."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return seconds


def in_a_fresh_thread(fn):
    """Runs fn in a new thread: each thread keeps its own count of tiny tasks."""
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("out", fn()))
    thread.start()
    thread.join()
    return box["out"]


def test_tiny_tasks_have_their_cpu_time_read_one_in_cpu_every():
    n = TINY_RUN + 4 * CPU_EVERY
    with capture.routed():
        records = in_a_fresh_thread(lambda: [execute(Task(tiny, (i,)), i) for i in range(n)])
    assert all(r.ok and r.result == i + 1 for i, r in enumerate(records))
    read = [r.cpu_ns is not None for r in records]
    assert read == expected_reads([r.duration_ns for r in records])
    if all(r.duration_ns < TINY_NS for r in records):  # no task was slowed by the machine
        assert [i for i, x in enumerate(read) if x] == [
            *range(TINY_RUN),
            *range(TINY_RUN - 1 + CPU_EVERY, n, CPU_EVERY),
        ]


def expected_reads(durations_ns):
    """The rule, replayed: which tasks have their CPU time read, given how long each took."""
    out, skip, run = [], 0, 0
    for d in durations_ns:
        read = not skip
        out.append(read)
        if not read:
            skip -= 1
        if d >= TINY_NS:
            skip = run = 0
        elif read:
            run += 1
            if run >= TINY_RUN:
                skip = CPU_EVERY - 1
    return out


def test_a_long_task_after_tiny_ones_has_the_next_read_and_long_tasks_are_all_read():
    def run():
        out = [execute(Task(tiny, (i,)), i) for i in range(TINY_RUN + 2)]
        out += [execute(Task(spin, (0.002,)), 100 + i) for i in range(3)]
        return out

    with capture.routed():
        records = in_a_fresh_thread(run)
    longs = records[-3:]
    # The first long task came while reads were skipped; every later one is read.
    assert all(r.cpu_ns is not None for r in longs[1:])
    for r in longs[1:]:
        # The task computed 2 ms of CPU; a busy machine may stretch its wall time, never shrink it.
        assert 1_900_000 <= r.cpu_ns <= r.duration_ns * 1.05 + 100_000


def test_always_cpu_reads_every_task():
    with capture.routed():
        records = in_a_fresh_thread(
            lambda: [execute(Task(tiny, (i,)), i, always_cpu=True) for i in range(3 * CPU_EVERY)]
        )
    assert all(r.cpu_ns is not None for r in records)


def says(text):
    print(text)
    return text


def nests(text):
    print("outer before")
    inner = execute(Task(says, (text,)), 99)
    print("outer after")
    return inner.output


def fails():
    print("about to fail")
    raise ValueError("on purpose")


def test_output_belongs_to_its_task_nested_tasks_included():
    with capture.routed():
        records = in_a_fresh_thread(
            lambda: [
                execute(Task(says, ("first",)), 0),
                execute(Task(tiny, (1,)), 1),
                execute(Task(nests, ("inner",)), 2),
                execute(Task(fails), 3),
                execute(Task(tiny, (4,)), 4),
            ]
        )
    assert_each_kept_its_own(*records)


def assert_each_kept_its_own(first, quiet, outer, failed, after):
    """The records of says("first"), tiny, nests("inner"), fails and tiny, run in that order."""
    assert first.output == "first\n" and first.output_chunks[0][0] >= first.start_ns
    assert quiet.output == "" and quiet.output_chunks == []
    assert outer.result == "inner\n"
    assert outer.output == "outer before\nouter after\n"
    assert (failed.status, failed.output) == (ERROR, "about to fail\n")
    assert "ValueError: on purpose" in failed.error and "fails" in failed.traceback
    assert (after.status, after.output) == (OK, "")


def test_output_outside_a_task_goes_to_the_stream_again(capsys):
    with capture.routed():
        record = execute(Task(says, ("inside",)), 0)
        print("outside, after the task")
        quiet = execute(Task(tiny, (1,)), 1)
        print("outside, after a quiet task")
    assert record.output == "inside\n" and quiet.output == ""
    assert capsys.readouterr().out == "outside, after the task\noutside, after a quiet task\n"


def test_a_task_run_where_a_sink_is_set_keeps_its_output_from_that_sink():
    """As in an asyncio task, whose sink is a ContextVar's: a task it runs prints to its own."""
    outer = capture.BoundedSink()
    with capture.routed():
        token = capture.set_sink(outer)
        try:
            print("outer before")
            inner = execute(Task(says, ("inner",)), 0)
            print("outer after")
        finally:
            capture.reset_sink(token)
    assert inner.output == "inner\n"
    chunks, _ = outer.finish()
    assert "".join(t for _, t in chunks) == "outer before\nouter after\n"


def test_threads_print_to_their_own_tasks_at_the_same_time():
    barrier = threading.Barrier(2)

    def chatty(tag):
        for i in range(50):
            print(f"{tag}{i}")
            if i == 0:
                barrier.wait(5)
        return tag

    box = {}
    with capture.routed():
        threads = [
            threading.Thread(target=lambda t=t: box.setdefault(t, execute(Task(chatty, (t,)), 0)))
            for t in "ab"
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for tag in "ab":
        assert box[tag].output == "".join(f"{tag}{i}\n" for i in range(50))


def test_a_quiet_tiny_tasks_fields_leave_the_collectors_lists_and_make_a_full_record():
    # A pool keeps every task's fields until the run ends: at 100,000 tasks, fields the garbage
    # collector walks at each full collection made those a third longer. Atoms only, they are
    # dropped from its lists at the first collection; the record gets its Worker and a list.
    with capture.routed():
        fields = in_a_fresh_thread(lambda: execute_fields(Task(tiny, (1,))))
    gc.collect()  # drops the thread's worker key, made just now (a pool's, at its first tasks)
    gc.collect()
    assert not gc.is_tracked(fields)
    record_ = record(Task(tiny, (1,), name="t"), 0, fields)
    assert (record_.status, record_.result, record_.output_chunks) == (OK, 2, [])
    assert isinstance(record_.worker, Worker) and record_.worker.thread != threading.get_native_id()
    assert record_.worker.pid == os.getpid()


def test_an_exception_as_one_line_is_its_type_and_the_first_line_of_its_message():
    from conlab.errors import format_error

    assert format_error(ValueError("three")) == "ValueError: three"
    assert format_error(ValueError("first\nsecond")) == "ValueError: first"
    assert format_error(KeyError("k")) == "KeyError: 'k'"
    assert format_error(RuntimeError()) == "RuntimeError:"
    record = execute(Task(_raises_two_lines), 0)
    assert record.error == "ValueError: first"
    assert "second" in (record.traceback or "")


def _raises_two_lines():
    raise ValueError("first\nsecond")


def interrupts_itself():
    print("before the interrupt")
    raise KeyboardInterrupt("the task's own")


def test_the_thread_pools_records_are_executes_built_after_the_run():
    """The thread-pool strategy keeps each task's fields and builds its records after the run:
    the same records as execute's, the CPU read rule included; a KeyboardInterrupt in a pool
    thread is the task's (a signal raises in the main thread only), recorded as its error, and
    the pool runs on."""
    from conlab.strategies import make

    mixed = [
        Task(says, ("first",)),
        Task(tiny, (1,)),
        Task(nests, ("inner",)),
        Task(fails),
        Task(tiny, (4,)),
        Task(interrupts_itself),
        Task(tiny, (6,)),
    ]
    records = make("thread-pool", 1).run(mixed).records
    assert_each_kept_its_own(*records[:5])
    interrupted, after = records[5:]
    assert (interrupted.status, interrupted.output) == (ERROR, "before the interrupt\n")
    assert "KeyboardInterrupt: the task's own" in interrupted.error
    assert (after.status, after.result, after.output) == (OK, 7, "")
    assert records[0].worker.thread != threading.get_native_id()
    tinies = make("thread-pool", 1).run([Task(tiny, (i,)) for i in range(3 * CPU_EVERY)]).records
    assert [r.result for r in tinies] == [i + 1 for i in range(3 * CPU_EVERY)]
    assert len({r.worker for r in tinies}) == 1 and isinstance(tinies[0].worker, Worker)
    # Built from fields after the run, the records are whole.
    assert all(
        (r.status, r.output_chunks, r.output_dropped_chars, r.error, r.traceback, r.attempts)
        == (OK, [], 0, None, None, 1)
        for r in tinies
    )
    read = [r.cpu_ns is not None for r in tinies]
    assert read == expected_reads([r.duration_ns for r in tinies]) and not all(read)


# Where records() promotes them (see _promote_young): 3.10 to 3.13 with the GIL.
PROMOTES = not sysconfig.get_config_var("Py_GIL_DISABLED") and sys.version_info < (3, 14)
NOT_PROMOTED = "records go to the oldest generation on 3.10-3.13 with the GIL only"


def quiet_fields(n):
    tasks = [Task(tiny, (i,)) for i in range(n)]
    with capture.routed():
        return tasks, [execute_fields(t) for t in tasks]


def generation_of(objects):
    """Which of the collector's generations holds each object (None: not tracked)."""
    where = {id(o): g for g in range(3) for o in gc.get_objects(generation=g)}
    return [where.get(id(o)) for o in objects]


@pytest.mark.skipif(not PROMOTES, reason=NOT_PROMOTED)
def test_many_records_go_straight_to_the_oldest_generation_and_few_stay_young():
    # 100,000 records left young cost the next young collection 16 ms, and the middle
    # generation's after it, before reaching the oldest anyway (see _promote_young).
    tasks, fields = quiet_fields(PROMOTE_AT)
    built = records(tasks, fields)
    assert [r.result for r in built] == [i + 1 for i in range(PROMOTE_AT)]
    assert set(generation_of(built[:: PROMOTE_AT // 100])) == {2}
    assert set(generation_of([r.output_chunks for r in built[:: PROMOTE_AT // 100]])) == {2}
    gc.collect()
    few = records(*quiet_fields(50))
    assert set(generation_of(few)) <= {0, 1}  # young


@pytest.mark.skipif(not PROMOTES, reason=NOT_PROMOTED)
def test_records_leave_the_processs_own_frozen_objects_frozen():
    # A process that froze its objects (before forking workers, say) keeps them frozen:
    # promoting the records would thaw them, so the records stay young.
    tasks, fields = quiet_fields(PROMOTE_AT)
    gc.collect()
    mine = [[] for _ in range(10)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        built = records(tasks, fields)
        assert gc.get_freeze_count() == frozen
        assert set(generation_of(mine)) == {None}  # still frozen: in no generation
        assert set(generation_of(built[:: PROMOTE_AT // 100])) <= {0, 1}  # young
    finally:
        gc.unfreeze()


def test_the_thread_pools_quiet_records_name_the_thread_that_ran_each():
    # A quiet tiny task's fields are three, as the least record's, and its worker is found
    # through the task's index its thread kept: each record names the thread the task ran in.
    from conlab.strategies import make

    tasks = [Task(threading.get_native_id, name=f"t{i}") for i in range(4000)]
    records_ = make("thread-pool", 2).run(tasks).records
    assert [r.index for r in records_] == list(range(4000))
    assert all(r.ok and r.worker.thread == r.result for r in records_)
    assert all(r.worker.pid == os.getpid() for r in records_)
    assert {r.result for r in records_} != {threading.get_native_id()}  # the pool's threads
    quiet = [r for r in records_ if r.cpu_ns is None]
    assert len(quiet) > 3000  # most went the three-field way
    assert all((r.output_chunks, r.error, r.traceback) == ([], None, None) for r in quiet)
