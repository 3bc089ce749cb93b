"""Measuring commands write --json, --markdown and --csv, after every round."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conlab import resultfile
from tests.helpers import SRC, assert_one_line_error, run_cli


@pytest.mark.slow
def test_demo_writes_every_format(tmp_path: Path) -> None:
    out = {k: str(tmp_path / f"r.{k}") for k in ("json", "md", "csv")}
    proc = run_cli(
        [
            "demo",
            "--quick",
            "--repeats",
            "2",
            "--warmup",
            "0",
            "--quiet",
            "--json",
            out["json"],
            "--markdown",
            out["md"],
            "--csv",
            out["csv"],
        ],
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    results = resultfile.load(out["json"])
    assert results.complete and len(results.comparisons) == 6  # 3 parts, and explain's 3
    assert Path(out["md"]).read_text().count("| strategy |") == 6
    assert Path(out["csv"]).read_text().splitlines()[0].startswith("comparison,workload,strategy")


@pytest.mark.slow
def test_an_interrupted_run_keeps_what_completed(tmp_path: Path) -> None:
    path = str(tmp_path / "r.json")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conlab",
            "demo",
            "--quiet",
            "--repeats",
            "20",
            "--warmup",
            "0",
            "--json",
            path,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(path), "no result written after the first round"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    results = resultfile.load(path)
    assert not results.complete
    run = results.comparisons[0].runs[0]
    assert run.wall_s, "the rounds that completed are kept"


def test_output_to_a_missing_directory_is_refused_before_measuring(tmp_path: Path) -> None:
    proc = run_cli(["demo", "--quick", "--markdown", str(tmp_path / "no" / "r.md")])
    assert_one_line_error(proc, 2, "does not exist")


def test_diff_refuses_a_bad_minimum_effect(tmp_path: Path) -> None:
    assert_one_line_error(run_cli(["diff", "a", "b", "--min-effect", "lots"]), 2, "percentage")
