"""The picture options and commands as a user runs them: sweep, report, --html/--plot/--trace."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.helpers import SRC, assert_one_line_error, run_cli

SWEEP = ["sweep", "cpu", "--strategy", "thread-pool", "--workers", "1,2", "--tasks", "2"]


@pytest.mark.slow
def test_sweep_writes_every_picture_and_report_redraws_them(tmp_path):
    files = {k: tmp_path / f"s.{k}" for k in ("json", "html", "png", "trace")}
    out = {k: str(v) for k, v in files.items()}
    pictures = ["--html", out["html"], "--plot", out["png"], "--trace", out["trace"]]
    proc = run_cli([*SWEEP, "--repeats", "1", "--warmup", "0", "--json", out["json"], *pictures])
    assert proc.returncode == 0, proc.stderr
    assert "efficiency" in proc.stdout and "Amdahl fit" in proc.stdout
    # Not a terminal: no progress bar.
    assert "measuring" not in proc.stdout + proc.stderr
    data = json.loads(files["json"].read_text())
    assert [c["sweep"]["workers"] for c in data["comparisons"]] == [1, 2]
    assert "Amdahl fit" in files["html"].read_text()
    assert json.loads(files["trace"].read_text())["traceEvents"]
    assert files["png"].read_bytes()[:4] == b"\x89PNG"
    again = tmp_path / "again.html"
    proc = run_cli(["report", out["json"], "--html", str(again), "--plot", str(tmp_path / "a.svg")])
    assert proc.returncode == 0, proc.stderr
    assert again.read_text().count('class="task"') == files["html"].read_text().count(
        'class="task"'
    )


def run_in_terminal(args: list[str], timeout_s: float = 60) -> str:
    """Run the CLI with its stdout on a real pseudo-terminal; return everything it wrote."""
    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conlab", *args], stdout=child, stderr=child, env=env
    )
    os.close(child)
    chunks, deadline = [], time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    data = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_progress_bar_on_a_terminal_and_off_with_quiet():
    args = ["sweep", "cpu", "--strategy", "thread-pool", "--workers", "1", "--tasks", "1"]
    args += ["--repeats", "3", "--warmup", "0"]
    shown = run_in_terminal(args)
    assert "measuring" in shown and "Amdahl" in shown
    quiet = run_in_terminal([*args, "--quiet"])
    assert "measuring" not in quiet and "Amdahl" in quiet


@pytest.mark.parametrize(
    ("args", "contains"),
    [
        (["sweep", "cpu", "--strategy", "threads", "--workers", "1,2"], "no worker count"),
        (["sweep", "cpu", "--strategy", "thread-pool", "--workers", "0,2"], "at least 1"),
        (["sweep", "cpu", "--strategy", "warp"], "unknown strategy"),
        (["sweep", "cpu", "--strategy", "thread-pool", "--plot", "x.pdf"], ".png or .svg"),
        (["sweep", "seed", "--strategy", "thread-pool", "--tasks", "9"], "at most 2"),
        (["demo", "--quick", "--html", "/no/such/dir/r.html"], "does not exist"),
        (["report", "missing.json", "--html", "r.html"], "missing.json"),
    ],
)
def test_bad_input_gets_one_line(args, contains, tmp_path):
    proc = run_cli(args, cwd=str(tmp_path), timeout=60)
    assert_one_line_error(proc, 2, contains)


def test_report_needs_something_to_write(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"schema": "conlab.results/1", "environment": {}, "comparisons": []}')
    assert_one_line_error(run_cli(["report", str(path)]), 2, "--html PATH")
