"""conlab.map: order, laziness, failures, retries, timeouts, stopping, auto, and the CLI."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

import conlab
from conlab.engine import ItemFailure, ItemTimeoutError, RemoteTraceback, WorkerCrashedError
from conlab.errors import ConlabError, UnknownNameError, UsageError
from conlab.measure.environment import usable_cpus
from tests.conftest import START_METHODS
from tests.helpers import SRC, assert_one_line_error, run_cli, run_python

STRATEGIES = ["sequential", "threads", "thread-pool", "processes", "process-pool"]


# Functions at module level, so that worker processes load them by reference.
def inc(x):
    return x + 1


def sleep_then(x):
    time.sleep(x)
    return x


def fail_on_7(x):
    if x == 7:
        raise ValueError(f"seven is bad ({x})")
    return x * 2


def die_once(args):
    """Kill this worker (SIGKILL, mid-chunk) the first time item 5 runs."""
    x, marker = args
    if x == 5:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), signal.SIGKILL)
    return x


def spin(x):
    """Pure-Python computing, about 2 ms: holds the GIL."""
    total = 0
    for i in range(60_000):
        total += i % 7
    return total + x


def pid_of(x):
    time.sleep(x)
    return os.getpid()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_gives_every_result_in_order(strategy):
    assert list(conlab.map(inc, range(500), strategy=strategy, workers=2)) == list(range(1, 501))


def test_results_in_order_or_as_completed():
    delays = [0.3, 0.0, 0.0, 0.0]
    assert list(conlab.map(sleep_then, delays, strategy="processes", workers=2)) == delays
    unordered = list(
        conlab.map(sleep_then, delays, strategy="thread-pool", workers=2, ordered=False)
    )
    assert sorted(unordered) == sorted(delays)
    assert unordered[-1] == 0.3, "a slow first item came first although ordered=False"


@pytest.mark.parametrize("strategy", ["thread-pool", "processes"])
def test_an_endless_input_is_read_lazily_within_the_bound(strategy):
    pulled = itertools.count()

    def endless():
        while True:
            yield next(pulled)

    with conlab.map(inc, endless(), strategy=strategy, workers=2, chunksize=3) as results:
        first = list(itertools.islice(results, 10))
        assert first == list(range(1, 11))
        # two chunks in flight per worker, not yet handed back: 2 workers x 2 x 3 items
        assert results.pulled - 10 <= 2 * 2 * 3
        assert next(pulled) == results.pulled


def test_auto_chunks_keep_the_input_bounded():
    pulled = itertools.count()
    gen = (next(pulled) for _ in itertools.count())
    with conlab.map(inc, gen, strategy="processes", workers=2) as results:
        total = sum(itertools.islice(results, 200_000))
        assert total == sum(range(1, 200_001))
        assert results.pulled - 200_000 <= 4 * 16384


@pytest.mark.parametrize("strategy", ["sequential", "thread-pool", "processes"])
def test_an_exception_is_raised_at_its_item_with_index_and_traceback(strategy):
    got = []
    with pytest.raises(ValueError, match="seven is bad") as info:
        for value in conlab.map(fail_on_7, range(20), strategy=strategy, chunksize=3):
            got.append(value)
    assert got == [0, 2, 4, 6, 8, 10, 12]
    assert "item 7" in " ".join(info.value.__notes__)
    assert info.value.conlab_index == 7
    if strategy == "processes":
        assert isinstance(info.value.__cause__, RemoteTraceback)
        assert "fail_on_7" in str(info.value.__cause__)


def test_errors_collect_puts_a_failure_in_place():
    out = list(conlab.map(fail_on_7, range(10), strategy="processes", errors="collect"))
    assert out[:7] == [0, 2, 4, 6, 8, 10, 12] and out[8:] == [16, 18]
    failure = out[7]
    assert isinstance(failure, ItemFailure) and not failure
    assert (failure.index, failure.status) == (7, "error")
    assert isinstance(failure.error, ValueError) and "fail_on_7" in failure.traceback


def test_a_worker_killed_mid_chunk_is_replaced_and_its_items_run_again(tmp_path):
    marker = str(tmp_path / "died")
    items = [(x, marker) for x in range(20)]
    out = list(conlab.map(die_once, items, strategy="processes", workers=2, chunksize=4, retries=1))
    assert out == list(range(20))
    assert os.path.exists(marker), "the worker was not killed: the test proved nothing"


def test_a_crash_without_retries_is_reported_for_its_items(tmp_path):
    items = [(x, str(tmp_path / "died")) for x in range(8)]
    out = list(conlab.map(die_once, items, strategy="processes", chunksize=4, errors="collect"))
    assert out[:4] == [0, 1, 2, 3]
    assert all(isinstance(f, ItemFailure) and f.status == "crashed" for f in out[4:])
    assert "SIGKILL" in str(out[4].error)
    with pytest.raises(WorkerCrashedError, match="SIGKILL"):
        list(conlab.map(die_once, [(5, str(tmp_path / "again"))], strategy="processes"))


def test_a_timeout_stops_the_item_and_its_worker():
    t0 = time.monotonic()
    out = list(
        conlab.map(sleep_then, [0.0, 30, 0.01], strategy="processes", timeout=0.5, errors="collect")
    )
    assert time.monotonic() - t0 < 10
    assert out[0] == 0.0 and out[2] == 0.01
    assert out[1].status == "timeout" and isinstance(out[1].error, ItemTimeoutError)
    with pytest.raises(TimeoutError):
        list(conlab.map(sleep_then, [30], strategy="processes", timeout=0.2))


def test_closing_early_stops_every_worker_at_once():
    me = psutil.Process()
    before = {p.pid for p in me.children()}
    with conlab.map(pid_of, [0.0, 0.0] + [30] * 10, strategy="processes", workers=2) as results:
        next(results)
        next(results)  # the second worker starts once the first result is out
        workers = [p for p in me.children() if p.pid not in before]
        assert len(workers) == 2
        t0 = time.monotonic()
        results.close()
        assert time.monotonic() - t0 < 5
        _, alive = psutil.wait_procs(workers, timeout=1)
        assert not alive


def test_auto_leaves_no_worker_process_behind_when_it_moves_to_threads():
    me = psutil.Process()
    before = {p.pid for p in me.children()}
    results = conlab.map(sleep_then, [0.02] * 40)
    assert list(results) == [0.02] * 40
    assert results.strategy == "thread-pool"
    assert [p for p in me.children() if p.pid not in before] == []


def test_ctrl_c_stops_the_workers(tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, signal, sys, time
            import conlab

            # As in a terminal, even when the test runs where SIGINT is ignored (a background job).
            signal.signal(signal.SIGINT, signal.default_int_handler)

            def pid_of(x):
                time.sleep(x)
                return os.getpid()

            if __name__ == "__main__":
                for pid in conlab.map(pid_of, [0.0, 0.0] + [60] * 4, strategy="processes", workers=2):
                    print(pid, flush=True)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for _ in range(2):
        proc.stdout.readline()
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert "KeyboardInterrupt" in err
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, "a worker outlived Ctrl-C"


def test_auto_picks_threads_for_waiting_and_processes_for_computing(caplog):
    caplog.set_level("INFO", logger="conlab")
    waiting = conlab.map(sleep_then, [0.005] * 12)
    assert list(waiting) == [0.005] * 12
    assert waiting.advice is not None and waiting.advice.strategy == "thread-pool"
    assert "it is waiting" in waiting.advice.reason
    computing = conlab.map(spin, range(40))
    assert list(computing) == [spin(x) for x in range(40)]
    assert computing.advice is not None and computing.strategy == "processes", computing.advice
    assert "it is computing" in computing.advice.reason
    assert any("auto chose processes" in r.getMessage() for r in caplog.records)


def timed_spin(x):
    """About 0.15 s of pure Python; where and when it ran."""
    t0 = time.perf_counter_ns()
    total = 0
    for i in range(3_000_000):
        total += i % 7
    return x, os.getpid(), t0, time.perf_counter_ns()


@pytest.mark.skipif(usable_cpus() < 2, reason="needs 2 usable cores")
def test_auto_runs_the_first_items_on_the_workers_at_once():
    """No item runs in the caller, and the second worker starts before the first item ends."""
    out = list(conlab.map(timed_spin, range(4)))
    assert [x for x, *_ in out] == [0, 1, 2, 3]
    assert all(pid != os.getpid() for _, pid, _, _ in out)
    (_, pid0, _, end0), (_, pid1, start1, _) = out[:2]
    assert pid0 != pid1
    assert start1 < end0, "the second worker waited for the first item"


def test_auto_pulls_no_more_than_the_in_flight_bound_before_its_first_result():
    from conlab.engine.pool import ProcessBackend

    read = [0]

    def endless():
        for x in itertools.count():
            read[0] = x + 1
            yield x

    with conlab.map(inc, endless()) as results:
        assert next(results) == 1
        assert read[0] <= ProcessBackend.max_inflight_items
        assert results.pulled == read[0]
        assert sum(itertools.islice(results, 100_000)) == sum(range(2, 100_002))
        assert read[0] - 100_001 <= ProcessBackend.max_inflight_items


def test_auto_runs_a_function_no_process_can_receive_on_threads():
    lock = threading.Lock()

    def locked_inc(x):
        with lock:
            return x + 1

    results = conlab.map(locked_inc, range(20))
    assert list(results) == list(range(1, 21))
    assert results.strategy == "thread-pool"
    assert results.advice is not None and "cannot be sent to another process" in str(results.advice)


def thread_of(x):
    time.sleep(0.02)
    return threading.get_ident()


def test_auto_runs_waiting_work_on_more_threads_than_cores_up_to_the_bound():
    results = conlab.map(thread_of, range(60))
    idents = list(results)
    assert results.strategy == "thread-pool", results.advice
    assert results.advice is not None and results.advice.workers > usable_cpus()
    assert len(set(idents)) > usable_cpus()
    bounded = conlab.map(thread_of, range(60), max_threads=3)
    assert len(set(bounded)) <= 3 + usable_cpus()  # the first items ran on the processes
    assert bounded.advice is not None and bounded.advice.workers <= 3
    # workers given and max_threads not: the number of workers is the bound (a limit the user
    # set, such as requests at once to a server), as documented.
    limited = conlab.map(thread_of, range(60), workers=3)
    assert len(set(limited)) <= 3 + 3
    assert limited.advice is not None and limited.advice.workers <= 3, limited.advice
    with pytest.raises(UsageError, match="max_threads must be"):
        conlab.map(inc, [1], max_threads=0)


def computes_then_waits(x):
    """Items below 12 compute for about 40 ms; the others wait 10 ms."""
    if x < 12:
        end = time.thread_time() + 0.04
        while time.thread_time() < end:
            pass
    else:
        time.sleep(0.01)
    return x


def test_a_choice_that_changes_mid_stream_keeps_every_result_once_and_in_order():
    results = conlab.map(computes_then_waits, range(400))
    assert list(results) == list(range(400))
    strategies = [c.strategy for c in results.choices]
    assert strategies[0] == "processes" and strategies[-1] == "thread-pool", results.choices


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"workers": 0}, "workers must be"),
        ({"chunksize": -1}, "chunksize must be"),
        ({"errors": "ignore"}, "errors must be"),
        ({"retries": -1}, "retries must be"),
        ({"timeout": 1, "strategy": "thread-pool"}, "timeout needs a process strategy"),
    ],
)
def test_bad_arguments_raise_one_clear_error(kwargs, message):
    with pytest.raises(UsageError, match=message):
        conlab.map(inc, [1], **kwargs)


def test_a_non_iterable_or_unknown_strategy_is_a_usage_error():
    with pytest.raises(UsageError, match="needs an iterable of items, not a int"):
        conlab.map(inc, 42)
    with pytest.raises(UnknownNameError, match="did you mean 'processes'"):
        conlab.map(inc, [1], strategy="procesess")
    assert issubclass(UsageError, ConlabError)


MODULE = """
def double(x):
    return x * 2

def fragile(x):
    if x == 3:
        raise ValueError("three")
    print("noise from the function")
    return x
"""


def test_cli_maps_json_lines(tmp_path):
    (tmp_path / "jobs.py").write_text(MODULE)
    lines = "\n".join(json.dumps(x) for x in [1, 2.5, [3]]) + "\n"
    proc = run_cli(
        ["map", "jobs:double", "--strategy", "processes"], cwd=str(tmp_path), input=lines
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [2, 5.0, [3, 3]]

    proc = run_cli(
        ["map", "jobs:fragile", "--errors", "collect"], cwd=str(tmp_path), input="1\n3\n4\n"
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0] == 1 and out[2] == 4
    assert out[1] == {"index": 1, "status": "error", "error": "ValueError: three"}
    assert "noise from the function" in proc.stderr


NAPS = """
import time

def nap(x):
    time.sleep(x)
    return x
"""


def test_cli_says_once_what_auto_chose_unless_quiet(tmp_path):
    (tmp_path / "naps.py").write_text(NAPS)
    lines = "0.01\n" * 30
    proc = run_cli(["map", "naps:nap"], cwd=str(tmp_path), input=lines)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [0.01] * 30
    said = [line for line in proc.stderr.splitlines() if line.startswith("conlab map: auto")]
    assert len(said) == 1, proc.stderr
    assert said[0].startswith("conlab map: auto chose thread-pool with ") and "waiting" in said[0]
    proc = run_cli(
        ["map", "naps:nap", "--quiet", "--max-threads", "4"], cwd=str(tmp_path), input=lines
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert len(proc.stdout.splitlines()) == 30


def test_cli_bad_input_is_one_line(tmp_path):
    (tmp_path / "jobs.py").write_text(MODULE)
    proc = run_cli(["map", "jobs:double"], cwd=str(tmp_path), input='1\n{"a": \n')
    assert_one_line_error(proc, 2, "line 2 of the input is not JSON")
    proc = run_cli(["map", "jobs:nothing"], cwd=str(tmp_path), input="1\n")
    assert_one_line_error(proc, 2, "has no attribute 'nothing'")
    proc = run_cli(
        ["map", "jobs:fragile", "--strategy", "sequential"], cwd=str(tmp_path), input="3\n"
    )
    assert proc.returncode == 1 and "item 0 failed: ValueError: three" in proc.stderr


def test_a_strategy_plugs_in_with_a_backend_or_through_the_adapter(monkeypatch):
    from conlab.engine import backends
    from conlab.strategies import REGISTRY, ProcessPoolStrategy

    # A registry strategy without a backend of its own: each chunk runs as one of its tasks.
    monkeypatch.setitem(REGISTRY, "adapted-pool", ProcessPoolStrategy)
    assert list(conlab.map(inc, range(50), strategy="adapted-pool", workers=2)) == list(
        range(1, 51)
    )
    # A registered backend is used for its name.
    made = []

    def factory(fn, workers, options):
        made.append((workers, options["timeout"]))
        return backends.InlineBackend(fn)

    monkeypatch.setitem(backends.BACKENDS, "inline-test", factory)
    assert list(conlab.map(inc, range(5), strategy="inline-test", workers=3)) == [1, 2, 3, 4, 5]
    assert made == [(3, None)]


@pytest.mark.parametrize("method", START_METHODS)
def test_every_start_method(method):
    out = conlab.map(
        fail_on_7, range(10), strategy="processes", workers=2, start_method=method, errors="collect"
    )
    values = list(out)
    assert values[:7] == [0, 2, 4, 6, 8, 10, 12] and values[8:] == [16, 18]
    assert isinstance(values[7], ItemFailure)


def test_auto_with_a_timeout_runs_nothing_here():
    results = conlab.map(sleep_then, [30, 0.0], timeout=0.3, errors="collect")
    out = list(results)
    assert results.strategy == "processes" and out[1] == 0.0
    assert out[0].status == "timeout"


HEAVY = ("conlab.strategies", "conlab.advice", "conlab.lab", "asyncio", "psutil", "rich", "dask")

WORKER_MODULES = """
import sys
import conlab

def loaded(_):
    import sys
    return sorted(sys.modules)

if __name__ == "__main__":
    import concurrent.futures as cf, json, multiprocessing as mp
    mine = list(conlab.map(loaded, [0], strategy="processes", workers=1, start_method="spawn"))[0]
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        theirs = list(pool.map(loaded, [0]))[0]
    print(json.dumps([mine, theirs]))
"""


def heavy_in(modules):
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_the_engine_pool_imports_no_registry_no_advice_no_asyncio():
    out = run_python("import sys, conlab.engine.pool; print(' '.join(sys.modules))")
    assert heavy_in(out.split()) == []


def test_auto_loads_its_model_without_what_advise_runs():
    """auto imports the advice's model while its first items run on CPUs they keep busy: the
    model comes without the lab, the registry, the probe's runner or the data model."""
    code = (
        "import sys, conlab.engine.auto; before = set(sys.modules); "
        "conlab.engine.auto._load_model(); print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = run_python(code).split()
    assert {"conlab.advice.predict", "conlab.advice.profile", "conlab.advice.words"} <= set(out)
    heavy = ("conlab.model", "conlab.lab", "conlab.strategies", "conlab._process.execute")
    assert [m for m in out if m.startswith(heavy) or m == "conlab.advice.advising"] == []


@pytest.mark.skipif("spawn" not in START_METHODS, reason="needs the spawn start method")
def test_a_spawned_worker_loads_about_what_a_process_pool_worker_loads(tmp_path):
    script = tmp_path / "count_modules.py"
    script.write_text(WORKER_MODULES)
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": SRC},
    ).stdout
    mine, theirs = json.loads(out.splitlines()[-1])
    assert heavy_in(mine) == []
    # A function the worker can import goes by reference, as multiprocessing sends it.
    assert "cloudpickle" not in mine
    assert len(mine) <= len(theirs) + 10, sorted(set(mine) - set(theirs))


@pytest.mark.skipif("spawn" not in START_METHODS, reason="needs the spawn start method")
def test_a_function_no_worker_can_import_goes_by_value():
    triple = lambda x: 3 * x  # noqa: E731
    out = conlab.map(triple, range(5), strategy="processes", workers=1, start_method="spawn")
    assert list(out) == [0, 3, 6, 9, 12]
