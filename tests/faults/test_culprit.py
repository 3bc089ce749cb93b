"""A crash names only its culprit: innocent tasks running beside it in a sandbox are not blamed.

Under an in-process strategy (threads, thread-pool, asyncio) in a sandbox, a
task that segfaults, calls ``os._exit`` or kills its process takes every task
running beside it down too. Only the task that did it is ``crashed``; the
others ran again and are ``ok``, and the run's reason names the culprit alone.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import textwrap
import time

import pytest

from conlab.lab.sandbox import run_isolated
from conlab.model import CRASHED, OK, Task
from conlab.strategies import make
from tests.helpers import run_cli

NAP_S = 0.4  # the innocent tasks are still running when the culprit strikes, 0.1 s in


def _innocent(x):
    time.sleep(NAP_S)
    return x


def _segfaults():
    time.sleep(0.1)
    ctypes.string_at(0)


def _exits():
    time.sleep(0.1)
    os._exit(5)


def _kills_itself():
    time.sleep(0.1)
    os.kill(os.getpid(), signal.SIGKILL)


def _tasks(crash):
    tasks = [Task(_innocent, (k,), name=f"innocent{k}") for k in range(4)]
    tasks.insert(2, Task(crash, name="culprit"))
    return tasks


@pytest.mark.parametrize(
    ("crash", "says"),
    [
        (_segfaults, "signal SIGSEGV"),
        (_exits, "exit code 5: os._exit(5) called from test_culprit.py"),
        (_kills_itself, "signal SIGKILL"),  # no last words: each suspect runs again alone
    ],
)
@pytest.mark.parametrize("strategy_spec", ["thread-pool:5", "threads"])
def test_only_the_task_that_killed_the_sandbox_is_crashed(strategy_spec, crash, says):
    name, _, workers = strategy_spec.partition(":")
    strategy = make(name, workers=int(workers or 5))
    execution = run_isolated(strategy, _tasks(crash))
    by_name = {r.name: r for r in execution.records}
    assert sorted(by_name) == sorted(t.name for t in _tasks(crash))
    assert by_name["culprit"].status == CRASHED and says in by_name["culprit"].error
    assert "one of them" not in by_name["culprit"].error
    innocents = [r for n, r in by_name.items() if n != "culprit"]
    assert all(r.status == OK for r in innocents), [(r.name, r.status, r.error) for r in innocents]
    assert [r.result for r in sorted(innocents, key=lambda r: r.index)] == [0, 1, 2, 3]
    assert any("ran again" in note for note in execution.notes), execution.notes


async def _innocent_async(x):
    import asyncio

    await asyncio.sleep(NAP_S)
    return x


async def _segfaults_async():
    import asyncio

    await asyncio.sleep(0.1)
    ctypes.string_at(0)


def test_of_tasks_sharing_an_event_loop_only_the_one_that_crashed_it_is_blamed():
    tasks = [Task(_innocent_async, (k,), name=f"innocent{k}") for k in range(3)]
    tasks.append(Task(_segfaults_async, name="culprit"))
    execution = run_isolated(make("asyncio", workers=4), tasks)
    statuses = {r.name: r.status for r in execution.records}
    assert statuses == {"innocent0": OK, "innocent1": OK, "innocent2": OK, "culprit": CRASHED}


MODULE = """
import ctypes, time

def work(x):
    if x == 2:
        time.sleep(0.1)
        ctypes.string_at(0)
    time.sleep(0.4)
    return x
"""


def test_the_runs_reason_names_the_culprit_alone(tmp_path):
    (tmp_path / "usermod.py").write_text(textwrap.dedent(MODULE))
    argv = ["compare", "usermod:work", "--range", "4", "--repeats", "1", "--warmup", "0"]
    argv += ["--strategies", "thread-pool:4,threads", "--json", "r.json"]
    proc = run_cli(argv, cwd=str(tmp_path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    runs = json.loads((tmp_path / "r.json").read_text())["comparisons"][0]["runs"]
    for run in runs:
        assert "1 of 4 tasks did not complete; 'work[2]' crashed" in run["reason"], run
        statuses = [t["status"] for t in run["tasks"]]
        assert statuses == ["ok", "ok", "crashed", "ok"], (run["strategy"], statuses)


def _quiet_child():
    pass


def test_a_process_the_user_forks_after_a_run_ends_without_blame(capfd):
    # conlab's run in this process hooks os._exit (to name a task that calls it); a process the
    # user's own code forks afterwards ends by os._exit too, under the user's frames, and is no
    # crash: CI printed "conlab: os._exit(0) called from helpers.py:84 in two_core_capacity".
    import multiprocessing

    import conlab

    conlab.compare(
        _innocent, [1, 2], strategies=["thread-pool:2"], repeats=1, warmup=0, isolate=False
    )
    capfd.readouterr()
    child = multiprocessing.get_context("fork").Process(target=_quiet_child)
    child.start()
    child.join()
    assert child.exitcode == 0
    assert "os._exit" not in capfd.readouterr().err
