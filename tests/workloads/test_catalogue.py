"""Every catalogue workload, at a small size, under every strategy: valid, and nothing left behind."""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import sys
import tempfile
import threading

import psutil
import pytest

from conlab.api import strategy_list
from conlab.errors import UsageError
from conlab.lab.compare import compare
from conlab.workloads import CATALOGUE, KINDS, build, unavailable_reason

SMALL = {
    "seed": {"sleep_s": 0.01},
    "sleep": {"tasks": 3, "sleep_s": 0.01},
    "files": {"tasks": 3, "files": 2, "size_kb": 8},
    "http": {"tasks": 3, "requests": 2, "latency_s": 0.01, "size_kb": 1},
    "cpu": {"tasks": 3, "size": 0.02},
    "text": {"tasks": 3, "size": 0.01},
    "hash": {"tasks": 3, "size_mb": 1, "rounds": 1},
    "numpy": {"tasks": 3, "n": 32, "rounds": 2},
    "image": {"tasks": 3, "side": 32, "rounds": 1},
    "mixed": {"tasks": 3, "sleep_s": 0.01, "size": 0.02},
}
# Workloads with a setup (a server, a directory, BLAS pinning) are also run with spawned children.
SPAWNED = ["files", "http", "numpy"]


def small(name):
    reason = unavailable_reason(name)
    if reason:
        pytest.skip(f"{name}: {reason}")
    return build(name, **SMALL[name])


def test_every_workload_has_a_small_size():
    assert set(SMALL) == set(CATALOGUE)


# The strategies of one machine; dask and ray have suites of their own against real clusters.
LOCAL = [
    "sequential",
    "threads",
    "thread-pool",
    "processes",
    "process-pool",
    "asyncio",
    "interpreters",
]


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_strategy_runs_it_validly(name):
    workload = small(name)
    assert workload.kind == KINDS[name]
    comparison = compare(workload, strategy_list(LOCAL, workers=2), repeats=1, warmup=0)
    for run in comparison.runs:
        if run.strategy == "asyncio" and workload.async_tasks is None:
            assert run.status == "unavailable", run
            assert "no async variant" in run.reason
            continue
        if run.strategy == "interpreters" and sys.version_info < (3, 13):
            assert run.status == "unavailable" and "3.13" in run.reason, run
            continue
        assert run.status == "ok", f"{run.label}: {run.reason}"
        assert run.speedup is not None and len(run.records) == len(workload.tasks)


@pytest.mark.parametrize("name", SPAWNED)
def test_process_strategies_with_spawned_children(name):
    workload = small(name)
    strategies = strategy_list(["processes", "process-pool:2"], start_method="spawn")
    comparison = compare(workload, strategies, repeats=1, warmup=0)
    assert [r.status for r in comparison.runs] == ["ok"] * 3, [r.reason for r in comparison.runs]


def _listening_ports():
    me = psutil.Process()
    procs = [me, *me.children(recursive=True)]
    ports = set()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            ports |= {c.laddr.port for c in proc.net_connections("inet") if c.status == "LISTEN"}
    return ports


def test_http_leaves_no_server_socket_or_thread_behind():
    workload = small("http")
    server = workload.tasks[0].args[0]
    threads_before = set(threading.enumerate())
    ports_before = _listening_ports()
    seen = {}

    def during(comparison):
        seen["port"] = server.port
        seen["listening"] = server.port in _listening_ports()

    comparison = compare(
        workload, strategy_list(["thread-pool:2", "asyncio"]), 1, 0, on_update=during
    )
    assert all(r.status == "ok" for r in comparison.runs)
    assert seen["listening"], "the server was not listening during the runs"
    assert server.port is None
    assert _listening_ports() == ports_before
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", seen["port"]), timeout=2),
    ):
        pass
    assert set(threading.enumerate()) == threads_before


def test_files_leaves_no_file_behind():
    pattern = os.path.join(tempfile.gettempdir(), "conlab-files-*")
    before = set(glob.glob(pattern))
    workload = small("files")
    scratch = workload.tasks[0].args[0]
    seen = {}

    def during(comparison):
        seen["path"] = scratch.path
        seen["exists"] = os.path.isdir(scratch.path)

    comparison = compare(
        workload,
        strategy_list(["thread-pool:2", "asyncio", "process-pool:2"]),
        1,
        0,
        on_update=during,
    )
    assert all(r.status == "ok" for r in comparison.runs)
    assert seen["exists"]
    assert not os.path.exists(seen["path"])
    assert set(glob.glob(pattern)) == before


def test_a_task_run_outside_its_setup_says_why():
    workload = small("http")
    task = workload.tasks[0]
    with pytest.raises(RuntimeError, match="server is not running"):
        task.fn(*task.args)


def test_a_setup_is_left_even_when_a_run_is_interrupted():
    workload = small("files")
    scratch = workload.tasks[0].args[0]

    class Stop(Exception):
        pass

    def interrupt(comparison):
        raise Stop

    with pytest.raises(Stop):
        compare(workload, strategy_list(["thread-pool:2"]), 2, 0, on_update=interrupt)
    assert scratch.path is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tasks": 0}, "'tasks' of the sleep workload must be at least 1, not 0"),
        ({"tasks": "many"}, "'tasks' of the sleep workload must be a whole number, not 'many'"),
        (
            {"naps": 2},
            "unknown parameter 'naps' for the sleep workload: valid keys are tasks, sleep_s",
        ),
    ],
)
def test_bad_parameters_are_one_clear_line(params, message):
    with pytest.raises(UsageError) as info:
        build("sleep", **params)
    assert message in str(info.value)
