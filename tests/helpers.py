"""Helpers for tests: running the CLI as a user would, and checking one-line errors."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")


def run_cli(
    args: Sequence[str],
    timeout: float = 120,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    **kwargs: object,
) -> subprocess.CompletedProcess[str]:
    """``python -m conlab ARGS`` in a real subprocess, as a user would run it."""
    full_env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "160", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "conlab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=full_env,
        **kwargs,  # type: ignore[arg-type]
    )


def assert_one_line_error(
    proc: subprocess.CompletedProcess[str], code: int = 2, contains: str | None = None
) -> str:
    """Bad input: one line on stderr, the given exit code, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    if contains is not None:
        assert contains in lines[0], lines[0]
    return lines[0]


def run_python(code: str, timeout: float = 120) -> str:
    """Runs ``code`` in a fresh interpreter that imports conlab from src/; returns its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _spin() -> None:
    from conlab.workloads.compute import BASE, count_primes

    count_primes(BASE, BASE + 12_000)


def two_core_capacity() -> float:
    """How much faster two plain forked processes do two equal pure-Python jobs than one loop.

    Other people's work on a shared machine (or a hypervisor that does not run
    both virtual CPUs at once) can take a core away; then no strategy can show
    parallelism, and parallelism cannot be judged.
    """
    t0 = time.perf_counter()
    _spin()
    _spin()
    one = time.perf_counter() - t0
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_spin) for _ in range(2)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return one / (time.perf_counter() - t0)


def on_two_free_cores(measure, good, attempts: int = 3):
    """``measure()`` until ``good`` holds for its result, at most ``attempts`` times.

    For results that need two cores computing at once: this VM's second core
    comes and goes within seconds. When no attempt was good, the test skips if
    two plain processes cannot run at once right now either (with the figure),
    and otherwise goes on to fail on the last result.
    """
    for _ in range(attempts):
        result = measure()
        if good(result):
            return result
    needs_two_free_cores()
    return result


def needs_two_free_cores(minimum: float = 1.7) -> None:
    """Skip, with the measured figure, when two processes cannot run at once right now."""
    import pytest

    capacity = two_core_capacity()
    if capacity < minimum:
        pytest.skip(f"the machine is busy: two processes ran only {capacity:.2f}x faster than one")


def marked_processes(mark: str) -> list[Any]:
    """Every live process started with this test's mark in its environment, wherever it is now."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("CONLAB_TEST_MARK") == mark and proc.status() != "zombie":
                found.append(proc)
        except psutil.Error:
            pass
    return found
