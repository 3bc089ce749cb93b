"""Ctrl-C: children stopped, what completed written and marked incomplete, exit 130, no orphan."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from conlab import resultfile
from tests.helpers import SRC, marked_processes


def _interrupt(
    argv: list[str], after_s: float, until: Callable[[], bool] | None = None
) -> tuple[int, str, float, str]:
    """Start the command, Ctrl-C it after ``after_s`` (then once ``until()`` holds, if given):
    its exit code, stderr, time to end, mark."""
    mark = uuid.uuid4().hex
    # faulthandler: a command still running 5 s after Ctrl-C is sent SIGABRT, and says where.
    env = {**os.environ, "PYTHONPATH": SRC, "CONLAB_TEST_MARK": mark, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(after_s)
    deadline = time.monotonic() + 60
    while until is not None and not until() and proc.poll() is None:
        assert time.monotonic() < deadline, "the command never got where it was to be interrupted"
        time.sleep(0.01)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    t = time.monotonic()
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        pytest.fail(f"the command did not end within 5 s of Ctrl-C; where it was:\n{err[-8000:]}")
    return proc.returncode, err, time.monotonic() - t, mark


def _assert_nothing_left(mark: str) -> None:
    deadline = time.monotonic() + 3
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {[(p.pid, p.cmdline()[:3]) for p in left]}"


def _comparisons_in(path: str) -> int:
    """How many comparisons the result file at ``path`` holds so far (it is replaced whole)."""
    try:
        with open(path) as f:
            return len(json.load(f)["comparisons"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.parametrize("part", [1, 2], ids=["first-part", "second-part"])
def test_ctrl_c_during_demo(tmp_path, part):
    # Once the first (or second) part has written its first round, so that the interrupt
    # lands inside a comparison, whatever this machine's speed or load.
    path = tmp_path / "demo.json"
    argv = [sys.executable, "-m", "conlab", "demo", "--quick", "--quiet", "--json", str(path)]
    code, err, took_s, mark = _interrupt(argv, 0.1, lambda: _comparisons_in(str(path)) >= part)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert took_s < 5
    results = resultfile.load(str(path))
    assert results.complete is False
    assert results.comparisons, "the comparison in progress is kept as far as it got"
    interrupted = [
        r for c in results.comparisons for r in c.runs if "interrupted" in (r.reason or "")
    ]
    assert interrupted, "the runs cut short say so"
    _assert_nothing_left(mark)


SANDBOXED = """
import time
from conlab.model import Task
from conlab.strategies import make
from conlab.lab.sandbox import run_strategy

def hang():
    time.sleep(60)

if __name__ == "__main__":
    run_strategy(make("{name}", 2, isolate=True, {options}), [Task(hang), Task(hang), Task(hang)])
"""


@pytest.mark.parametrize(
    ("name", "options"),
    [("sequential", ""), ("thread-pool", ""), ("process-pool", "start_method='spawn'")],
)
def test_ctrl_c_stops_sandboxes_and_workers(name, options):
    script = SANDBOXED.format(name=name, options=options)
    code, err, took_s, mark = _interrupt([sys.executable, "-c", script], 1.5)
    assert code != 0 and took_s < 5, err
    _assert_nothing_left(mark)


@pytest.mark.parametrize(
    "isolate", [[], ["--isolate", "--timeout", "5"]], ids=["plain", "isolated"]
)
def test_ctrl_c_during_compare(tmp_path, isolate):
    path = tmp_path / "compare.json"
    argv = [
        sys.executable, "-m", "conlab", "compare", "sleep", "--param", "sleep_s=0.1",
        "--strategies", "threads,processes,process-pool:2", "--repeats", "20", "--quiet",
        "--json", str(path), *isolate,
    ]  # fmt: skip
    code, err, took_s, mark = _interrupt(argv, 2.5)
    assert code == 130, err
    assert took_s < 5 and "Traceback" not in err
    results = resultfile.load(str(path))
    assert results.complete is False and results.comparisons
    _assert_nothing_left(mark)


SWALLOWED = """
import os, signal
import conlab._process.execute  # counts SIGINTs, as every command does
from conlab.cli import signals

def lands_in_the_hook():
    os.kill(os.getpid(), signal.{name})
    for _ in range(100_000):  # the handler runs here, in an at-fork hook: Python ignores it
        pass

os.register_at_fork(after_in_parent=lands_in_the_hook)
try:
    with signals.ending_as_interrupt():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        for _ in range(10_000_000):
            pass
    print("not stopped")
except KeyboardInterrupt:
    print("stopped", signals.exit_code())
"""


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_that_lands_where_python_ignores_exceptions_still_stops_the_command(name, code):
    """SIGTERM during a fork ran conlab's handler inside logging's at-fork hook, where Python
    prints the KeyboardInterrupt and goes on: `compare` then ran all its repeats. A Ctrl-C's
    KeyboardInterrupt can land there as well. Either is delivered again, and nothing is
    printed for it."""
    proc = subprocess.run(
        [sys.executable, "-c", SWALLOWED.format(name=name)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.stdout.strip() == f"stopped {code}", (proc.stdout, proc.stderr)
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_command_inside_a_command_leaves_the_hooks_as_they_were():
    """``ending_as_interrupt`` inside itself (conlab's main called from a command): an error
    Python ignores still reaches the hook from before both, once, and both exits restore it."""
    from conlab.cli import signals

    seen = []
    before, hook = sys.unraisablehook, seen.append
    sys.unraisablehook = hook
    try:
        with signals.ending_as_interrupt():
            with signals.ending_as_interrupt():
                signals._swallowed(_unraisable(ValueError("not ours")))
            assert sys.unraisablehook is signals._swallowed
        assert sys.unraisablehook is hook
    finally:
        sys.unraisablehook = before
    assert [str(u.exc_value) for u in seen] == ["not ours"]


def _unraisable(exc: BaseException):
    class Args:
        exc_type, exc_value, exc_traceback, err_msg, object = type(exc), exc, None, None, None

    return Args()


def test_a_ctrl_c_while_the_thread_pool_starts_leaves_no_thread_holding_the_exit(monkeypatch):
    """`demo` once printed 'conlab: interrupted' and then did not exit for 10 s: its Ctrl-C
    had landed in Thread.start, as the thread-pool strategy started its threads. That
    thread never joined the pool's set, so nothing joined it, and it waited 10 s at the
    start barrier for a second thread that never came. A Ctrl-C there now breaks the barrier."""
    from conlab.model import Task
    from conlab.strategies import make

    start = threading.Thread.start
    started: list[threading.Thread] = []

    def interrupted_start(self: threading.Thread) -> None:
        start(self)  # the thread runs, and the Ctrl-C lands in the wait for it to begin
        started.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(threading.Thread, "start", interrupted_start)
    with pytest.raises(KeyboardInterrupt):
        make("thread-pool", 2).run([Task(abs, (-1,)), Task(abs, (-2,))])
    monkeypatch.undo()
    # The thread took the barrier's task (it held the exit 10 s before) or, when the pool's
    # shutdown cancelled it first, the pool's end: either way it ends at once now.
    assert len(started) == 1
    started[0].join(timeout=3)
    assert not started[0].is_alive(), "a pool thread outlived the Ctrl-C by 3 s"
