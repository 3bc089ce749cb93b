"""Dask and Ray clusters that the fault matrix's cells share, one of each per module.

A cluster takes seconds to start (Dask's about 3, Ray's about 10): one per cell
would add minutes to the suite. A shared cluster is what a user's would be, an
address that conlab connects to (``scheduler=``, ``ray_address=``). Its workers
are replaced as the faults kill them, so its process tree is left out of the
no-orphan check (tests/conftest.py, ``shared_roots``); ``check`` looks at the
cluster instead, after each cell: its workers are back to their number, and
the process that died or was stopped is not one of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil

from tests import conftest
from tests.helpers import ROOT, SRC

BIN = os.path.dirname(sys.executable)
START_TIMEOUT_S = 120.0
RECOVERY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Processes:
    """Processes started for a cluster, each leading its own session, their output in ``log``."""

    log: str
    roots: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *cmd: str, **env_vars: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, SRC]), **env_vars}
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.roots.append(proc)
        conftest.shared_roots.add(proc.pid)

    def tail(self, size: int = 3000) -> str:
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")[-size:]

    def stop(self) -> None:
        """SIGTERM to the roots, which stop their own children; SIGKILL to whatever is left."""
        tree: list[psutil.Process] = []
        for proc in self.roots:
            with contextlib.suppress(psutil.Error):
                tree += psutil.Process(proc.pid).children(recursive=True)
        for proc in self.roots:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.roots:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for p in tree:
            with contextlib.suppress(psutil.Error):
                p.kill()
        deadline = time.monotonic() + 10
        while (left := [p.pid for p in tree if _running(p.pid)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        for proc in self.roots:
            conftest.shared_roots.discard(proc.pid)
        assert not left, f"cluster processes outlived their cluster: {left}"


@dataclass
class DaskCluster:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes with nannies, on 127.0.0.1."""

    address: str
    workers: int
    processes: Processes

    @property
    def options(self) -> dict[str, str]:
        return {"scheduler": self.address}

    def worker_pids(self) -> dict[str, int]:
        import distributed

        with distributed.Client(self.address, timeout=30) as client:
            client.wait_for_workers(self.workers, timeout=RECOVERY_TIMEOUT_S)
            return dict(client.run(os.getpid))

    def check(self, killed: bool, gone: set[int]) -> None:
        """The cluster has its workers again, none of them a process in ``gone``, and no more.

        A nanny restarts its worker when it dies or is killed; each nanny has one worker
        process (and multiprocessing's resource tracker), never a worker left running beside.
        """
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        while True:
            pids = self.worker_pids()
            kids = [_worker_children(root.pid) for root in self.processes.roots[1:]]
            fine = (
                len(pids) == self.workers
                and not gone & set(pids.values())
                and all(len(k) == 1 for k in kids)
            )
            if fine or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert fine, f"workers {pids}, each nanny's {kids}, gone {gone}"
        for pid in gone:
            assert not _running(pid), f"process {pid} still runs"


def _worker_children(nanny_pid: int) -> list[int]:
    try:
        kids = psutil.Process(nanny_pid).children()
    except psutil.Error:
        return []
    return [p.pid for p in kids if _running(p.pid) and "resource_tracker" not in _cmdline(p)]


def _cmdline(proc: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(proc.cmdline())
    return ""


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@contextlib.contextmanager
def dask_cluster(workers: int, log_dir: str) -> Iterator[DaskCluster]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = os.path.join(BIN, "dask")
    procs = Processes(os.path.join(log_dir, "dask.log"))
    try:
        procs.start(dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
        for k in range(workers):
            procs.start(
                dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{k}",
            )  # fmt: skip
        cluster = DaskCluster(address, workers, procs)
        try:
            cluster.worker_pids()
        except Exception as exc:
            raise AssertionError(f"the Dask cluster did not start: {exc}\n{procs.tail()}") from exc
        yield cluster
    finally:
        procs.stop()


@dataclass
class RayCluster:
    """``ray start --head --block`` with ``cpus`` CPUs; conlab connects by ``ray_address``."""

    address: str
    cpus: int
    processes: Processes

    @property
    def options(self) -> dict[str, str]:
        return {"ray_address": self.address}

    def check(self, killed: bool, gone: set[int]) -> None:
        """After a worker was ``killed``: the cluster runs tasks on all its CPUs again, in
        processes other than those ``gone``.

        Ray has no fixed pool to count: it starts a worker process when a task needs one.
        """
        if not killed:
            return
        from conlab.model import Task
        from conlab.strategies import make
        from tests.faults.faults import good

        for pid in gone:
            assert not _running(pid), f"process {pid} still runs"
        tasks = [Task(good, (k,)) for k in range(self.cpus)]
        records = make("ray", self.cpus, **self.options).run(tasks).records
        assert [(r.status, r.result) for r in records] == [("ok", k * k) for k in range(self.cpus)]
        assert not gone & {r.worker.pid for r in records if r.worker}


@contextlib.contextmanager
def ray_cluster(cpus: int, log_dir: str) -> Iterator[RayCluster]:
    port = free_port()
    procs = Processes(os.path.join(log_dir, "ray.log"))
    # `ray start` writes its address in TEMP_DIR/ray_current_cluster, where a later ray.init()
    # without an address would find it; a directory of its own keeps it from the default
    # /tmp/ray (short: Ray's socket paths live under it).
    temp_dir = tempfile.mkdtemp(prefix="conlab-ray-")
    try:
        procs.start(
            os.path.join(BIN, "ray"), "start", "--head", f"--port={port}", f"--num-cpus={cpus}",
            "--include-dashboard=false", "--disable-usage-stats", "--block",
            f"--temp-dir={temp_dir}",
            # Ray turns token authentication on for a new cluster when ~/.ray/auth_token
            # exists (a local ray.init() writes it), and a driver that connects by address
            # does not send it: the cluster for these tests is local, and has none.
            RAY_AUTH_MODE="disabled",
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Ray runtime started" not in procs.tail(100_000):
            assert procs.roots[0].poll() is None, f"ray start ended:\n{procs.tail()}"
            assert time.monotonic() < deadline, f"Ray did not start:\n{procs.tail()}"
            time.sleep(0.2)
        yield RayCluster(f"127.0.0.1:{port}", cpus, procs)
    finally:
        procs.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
