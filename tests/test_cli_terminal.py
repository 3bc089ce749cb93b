"""The CLI in a real terminal (tmux) at 80 and 120 columns: no line wider than the terminal,
every figure of every table whole, the takeaway shown, a chatty task's output folded."""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.helpers import SRC
from tests.report.test_terminal_width import assert_figures_whole, table_lines

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

DONE = "__conlab_done__"
CHATTY = """
def chatty(n):
    for i in range(8000):
        print(f"task {n} line {i}")
    return n
"""


class Terminal:
    """A tmux server of the test's own (its own socket and config), one session per command."""

    def __init__(self, where: Path) -> None:
        self.socket = where / "tmux.sock"
        # Not the user's ~/.tmux.conf; history enough for a whole chatty run (--output all);
        # the server stays up between sessions (a session started while it is exiting fails).
        self.config = where / "tmux.conf"
        self.config.write_text("set -g history-limit 50000\nset -s exit-empty off\n")

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", str(self.config), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def run(self, argv: list[str], width: int, cwd: Path, timeout_s: float = 240) -> str:
        """``python -m conlab ARGV`` in a ``width``-column terminal: what the terminal shows,
        its wrapped lines joined back (so a line wider than the terminal shows as one)."""
        path = shlex.quote(f"{SRC}:{cwd}")
        command = f"env -u COLUMNS -u LINES PYTHONPATH={path} {shlex.quote(sys.executable)}"
        command += f" -m conlab {shlex.join(argv)}; echo {DONE} $?; sleep 600"
        session = uuid.uuid4().hex[:8]
        size = ["-x", str(width), "-y", "50"]
        self.tmux("new-session", "-d", "-s", session, *size, "-c", str(cwd), command)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                shown = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", session)
                if f"{DONE} " in shown:
                    return shown[: shown.index(DONE)]
                time.sleep(0.3)
        finally:
            self.tmux("kill-session", "-t", session)
        raise AssertionError(f"conlab {argv} did not finish in {timeout_s} s")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True)


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    t = Terminal(tmp_path_factory.mktemp("tmux"))
    yield t
    t.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("terminal")
    (path / "conlab_chatty.py").write_text(CHATTY)
    (path / "items.json").write_text("[1, 2]")
    return path


def assert_fits(shown: str, width: int) -> None:
    """No line wider than the terminal; the tables' figures all whole."""
    for line in shown.splitlines():
        assert cell_len(line.rstrip()) <= width, f"{cell_len(line.rstrip())} > {width}: {line!r}"
    rows = table_lines(shown)
    assert rows, shown
    assert_figures_whole(rows)


def one_line(text: str) -> str:
    return " ".join(text.split())


def assert_takeaway(shown: str) -> None:
    flat = one_line(shown)
    assert "Fastest: " in flat or "Nothing beat the plain loop" in flat, shown


@pytest.mark.parametrize("width", [80, 120])
def test_compare_show_and_diff_fit_the_terminal(
    terminal: Terminal, workdir: Path, width: int
) -> None:
    saved = f"seed{width}.json"
    strategies = "threads,thread-pool:2,process-pool:2,interpreters"
    argv = ["compare", "seed", "--param", "sleep_s=0.01", "--repeats", "2", "--warmup", "0"]
    shown = terminal.run([*argv, "--strategies", strategies, "--json", saved], width, workdir)
    assert_fits(shown, width)
    assert_takeaway(shown)
    assert "process-pool" in shown and "unavailable" in shown
    again = terminal.run(["show", saved], width, workdir)
    assert_fits(again, width)
    assert_takeaway(again)
    diffed = terminal.run(["diff", saved, saved], width, workdir)
    assert_fits(diffed, width)
    assert "0 significant differences" in one_line(diffed)
    sweep = ["sweep", "seed", "--strategy", "thread-pool", "--workers", "1,2"]
    swept = terminal.run([*sweep, "--repeats", "1", "--warmup", "0"], width, workdir)
    assert_fits(swept, width)
    assert "Amdahl" in swept


def test_a_task_printing_8000_lines_is_folded_and_kept_in_the_file(
    terminal: Terminal, workdir: Path
) -> None:
    argv = ["compare", "conlab_chatty:chatty", "--inputs", "items.json", "--repeats", "1"]
    argv += ["--warmup", "0", "--strategies", "threads", "--json", "chatty.json"]
    shown = terminal.run(argv, 80, workdir)
    assert_fits(shown, 80)
    assert_takeaway(shown)
    lines = shown.splitlines()
    assert len(lines) < 80, f"{len(lines)} lines reached the terminal"
    hidden = [line for line in lines if "lines hidden (--output all shows them)" in line]
    assert len(hidden) == 2, shown
    for n in (1, 2):
        assert f"task {n} line 0" in lines and f"task {n} line 7999" in lines
        assert f"task {n} line 2000" not in lines

    tasks = json.loads((workdir / "chatty.json").read_text())["comparisons"][0]["runs"][-1]
    kept = [t["output"] for t in tasks["tasks"]]
    assert kept[0].startswith("task 1 line 0\n") and kept[0].endswith("task 1 line 7999\n")
    assert "task 1 line 2000\n" in kept[0]

    everything = terminal.run(["show", "chatty.json", "--output", "all"], 80, workdir)
    assert "task 1 line 2000" in everything.splitlines()
    assert everything.count("\n") >= sum(k.count("\n") for k in kept)
    nothing = terminal.run(["show", "chatty.json", "--output", "none"], 80, workdir)
    assert "Output of the" not in nothing and "task 1 line 0" not in nothing.splitlines()
    assert_fits(nothing, 80)


@pytest.mark.slow
def test_the_quick_demo_fits_ends_each_part_with_its_conclusion_and_leaves_no_bar(
    terminal: Terminal, workdir: Path
) -> None:
    shown = terminal.run(["demo", "--quick"], 80, workdir)
    for line in shown.splitlines():
        assert cell_len(line.rstrip()) <= 80, line
    assert_figures_whole(table_lines(shown))
    # The progress bar shares the results' console, so it erases itself and nothing else.
    assert "━" not in shown, shown
    flat = one_line(shown)
    titles = ["1. Waiting work", "2. Computing work", "3. What the lesson's notebook hit"]
    titles.append("4. The lesson's table")
    starts = [flat.index(title) for title in titles]
    for start, end in itertools.pairwise(starts):
        part = flat[start:end]
        assert "Fastest: " in part or "Nothing beat the plain loop" in part, part
    assert "Rule of thumb, as measured here:" in flat[starts[-1] :]
