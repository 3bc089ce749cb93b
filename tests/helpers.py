"""Helpers for tests: running the CLI as a user would, and checking one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

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
