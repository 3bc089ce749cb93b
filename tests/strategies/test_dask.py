"""The dask strategy against a real scheduler and workers started with Dask's own command line."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest

from conlab.lab.compare import compare
from conlab.model import CRASHED, OK, RUN_OK, TIMEOUT, Task
from conlab.strategies import make
from conlab.workloads import build
from tests.helpers import ROOT, SRC
from tests.strategies.test_contract import (
    square,
    test_a_task_that_raises_is_an_error_and_the_others_complete,
    test_concurrent_tasks_overlap_in_time_and_output,
    test_each_task_runs_exactly_once,
    test_one_record_per_task_in_task_order,
    test_outputs_of_concurrent_tasks_are_never_mixed,
    test_records_carry_times_cpu_and_worker,
    test_seed_workload_lands_near_its_floor,
)

distributed = pytest.importorskip(
    "distributed", reason="Dask is not installed (make setup installs conlab[dask])"
)

# The contract suite, run against the cluster below (loky's way: one suite, several executors).
__all__ = [
    "test_a_task_that_raises_is_an_error_and_the_others_complete",
    "test_concurrent_tasks_overlap_in_time_and_output",
    "test_each_task_runs_exactly_once",
    "test_one_record_per_task_in_task_order",
    "test_outputs_of_concurrent_tasks_are_never_mixed",
    "test_records_carry_times_cpu_and_worker",
    "test_seed_workload_lands_near_its_floor",
]

DASK = os.path.join(os.path.dirname(sys.executable), "dask")
START_TIMEOUT_S = 60


@dataclass
class Cluster:
    address: str
    processes: list[subprocess.Popen[bytes]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Each process leads its own session: the group goes, the nanny's worker with it."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # Anything left in the group (a worker the nanny restarted) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def dask_cluster(n_workers: int = 2, nanny: bool = True) -> Iterator[Cluster]:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, stopped on the way out."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, SRC])}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        port = address.rsplit(":", 1)[1]
        procs.append(
            subprocess.Popen(
                [DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
                env=env,
                start_new_session=True,
                **quiet,  # type: ignore[arg-type]
            )
        )
        for k in range(n_workers):
            procs.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--name",
                        f"w{k}",
                        *([] if nanny else ["--no-nanny"]),
                    ],
                    env=env,
                    start_new_session=True,
                    **quiet,  # type: ignore[arg-type]
                )
            )
        with distributed.Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(n_workers, timeout=START_TIMEOUT_S)
        yield Cluster(address, procs)
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with dask_cluster(2) as c:
        yield c


@pytest.fixture
def strategy(cluster):
    return make("dask", 2, scheduler=cluster.address)


def slow_pid(path: str, sleep_s: float) -> str:
    """Write this worker's pid, then sleep long enough to be killed."""
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(sleep_s)
    return "done"


def test_seed_workload_is_valid_and_near_its_floor_on_the_cluster(cluster):
    workload = build("seed", sleep_s=0.05)
    c = compare(workload, [make("dask", 2, scheduler=cluster.address)], repeats=2, warmup=1)
    run = c.run("dask")
    assert run.status == RUN_OK, run.reason
    assert run.floor_s is not None and run.median_wall_s is not None
    assert run.floor_s <= run.median_wall_s <= 1.5 * run.floor_s + 0.05
    assert run.options == {"scheduler": cluster.address}
    assert {r.worker.address for r in run.records if r.worker} <= set(_worker_addresses(cluster))
    assert [r.output for r in run.records] == [r.output for r in c.run("sequential").records]


def _worker_addresses(cluster: Cluster) -> list[str]:
    with distributed.Client(cluster.address) as client:
        return list(client.scheduler_info()["workers"])


def test_a_worker_killed_mid_task_is_re_run_or_crashed_never_lost_or_hung(tmp_path):
    marks = tmp_path / "pids"
    tasks = [Task(slow_pid, (str(marks), 1.5)), Task(square, (7,))]
    with dask_cluster(2) as own:
        strategy = make("dask", 2, scheduler=own.address)
        box: dict[str, object] = {}
        runner = threading.Thread(target=lambda: box.update(execution=strategy.run(tasks)))
        runner.start()
        deadline = time.monotonic() + 60
        while not (marks.exists() and marks.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = int(marks.read_text().split()[0])
        os.kill(victim, signal.SIGKILL)
        runner.join(120)
        assert not runner.is_alive(), "the run hung after its worker was killed"
    killed, other = box["execution"].records  # type: ignore[attr-defined]
    assert (other.status, other.result) == (OK, 49)
    if killed.status == OK:
        assert killed.attempts >= 2, "the task was re-run, and its record must say so"
        assert killed.worker.pid != victim
        assert str(victim) in marks.read_text().split()
    else:
        assert killed.status == CRASHED, (killed.status, killed.error)


def test_default_local_cluster_is_started_timed_apart_and_closed():
    workload = build("seed", sleep_s=0.05)
    c = compare(workload, [make("dask", 2)], repeats=1, warmup=0)
    run = c.run("dask")
    assert run.status == RUN_OK, run.reason
    assert run.startup_s and run.startup_s[0] > 0
    assert run.floor_s is not None and run.floor_s <= run.median_wall_s <= 1.5 * run.floor_s + 0.05  # type: ignore[operator]
    pids = {r.worker.pid for r in run.records if r.worker}
    assert len(pids) == 2 and os.getpid() not in pids


def test_a_task_past_the_timeout_on_the_default_cluster_is_stopped_with_its_worker(tmp_path):
    """The worker killed for it is replaced by its nanny (in this process), and closed with the rest."""
    marks = tmp_path / "pids"
    strategy = make("dask", 2, timeout_s=0.5)
    t = time.monotonic()
    late, other = strategy.run([Task(slow_pid, (str(marks), 60)), Task(square, (7,))]).records
    assert time.monotonic() - t < 30
    assert (other.status, other.result) == (OK, 49)
    victim = int(marks.read_text().split()[0])
    assert late.status == TIMEOUT and late.worker.pid == victim
    assert "timeout of 0.5 s" in late.error and f"process {victim}" in late.error
    assert "was killed; its nanny starts a new one" in late.error
    assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == psutil.STATUS_ZOMBIE


def test_an_unreachable_scheduler_is_one_clear_error():
    from conlab.errors import StrategyUnavailable

    address = f"tcp://127.0.0.1:{_free_port()}"
    strategy = make("dask", 1, scheduler=address)
    strategy_timeout = pytest.MonkeyPatch.context()
    with strategy_timeout as mp:
        mp.setattr("conlab.strategies.dask_strategy.CONNECT_TIMEOUT_S", 2.0)
        with pytest.raises(StrategyUnavailable, match="cannot reach the Dask scheduler"):
            strategy.run([Task(square, (1,))])


def test_a_cluster_left_without_workers_gives_lost_records_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr("conlab.strategies.dask_faults.NO_WORKER_GRACE_S", 2.0)
    marks = tmp_path / "pids"
    with dask_cluster(1, nanny=False) as own:
        strategy = make("dask", 1, scheduler=own.address)
        box: dict[str, object] = {}
        runner = threading.Thread(
            target=lambda: box.update(execution=strategy.run([Task(slow_pid, (str(marks), 5.0))]))
        )
        runner.start()
        deadline = time.monotonic() + 60
        while not (marks.exists() and marks.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(int(marks.read_text().split()[0]), signal.SIGKILL)
        runner.join(60)
        assert not runner.is_alive(), "the run hung on a cluster with no worker"
    (record,) = box["execution"].records  # type: ignore[attr-defined]
    assert record.status in ("lost", CRASHED), record.status
    if record.status == "lost":
        assert "no worker for 2 s" in (record.error or "")
