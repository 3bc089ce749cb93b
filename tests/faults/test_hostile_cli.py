"""The command line under hostile use: files, terminals, encodings, exit codes.

Every case runs as a user types it, in a subprocess: one line on stderr for bad
input, the documented exit code, no traceback. Device nodes, links and small or
read-only file systems are the test's own (see test_outputs.py).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from conlab import resultfile
from tests.faults.test_hostile_text import PAYLOADS, _results
from tests.faults.test_outputs import NULL, _device, _mount
from tests.helpers import SRC, assert_one_line_error, run_cli

QUICK = ["--param", "tasks=2", "--param", "sleep_s=0.01", "--repeats", "1", "--quiet"]
QUICK_COMPARE = ["compare", "sleep", *QUICK, "--strategies", "thread-pool:2"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bogus"], "unrecognized option '--bogus'"),
        (["report", "--bogus"], "unrecognized option '--bogus'"),
        (["compare", "sleep", "--timeout", "nan"], "finite number of seconds"),
        (["compare", "sleep", "--timeout", "inf"], "at most 1000000"),
        (["compare", "sleep", "--timeout", "1e99"], "at most 1000000"),
        (["map", "json:dumps", "--timeout", "inf"], "finite number of seconds"),
        (["compare", "sleep", "--strategies", ""], "at least one name"),
        (["compare", "sleep", "--json", "/nonexistent/r.json"], "does not exist"),
        (["advise", "sleep", "--timeout", "5"], "unrecognized arguments"),
    ],
)
def test_usage_errors_are_one_line(args, says):
    assert_one_line_error(run_cli(args), 2, says)


def test_advise_help_lists_only_what_it_takes():
    # advise takes --python (advice under another interpreter, as 3.13t), not the lab's bounds.
    out = run_cli(["advise", "--help"]).stdout
    assert "--timeout" not in out and "--isolate" not in out
    assert "--python" in out


def test_help_documents_the_exit_codes():
    out = " ".join(run_cli(["--help"]).stdout.split())
    assert "exit codes: 0" in out and "130 interrupted" in out and "143" in out


@pytest.mark.parametrize("option", ["--json", "--markdown", "--csv", "--html", "--trace"])
def test_a_device_output_is_refused_before_measuring(tmp_path, option):
    device = _device(tmp_path, "null", NULL)
    proc = run_cli([*QUICK_COMPARE, option, device])
    assert_one_line_error(proc, 2, "character device")
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert "sequential" not in proc.stdout  # nothing was measured


def test_outputs_and_inputs_are_distinct_files(tmp_path):
    same = str(tmp_path / "r.json")
    proc = run_cli([*QUICK_COMPARE, "--json", same, "--html", same])
    assert_one_line_error(proc, 2, "same file")
    items = tmp_path / "items.json"
    items.write_text("[1, 2]")
    proc = run_cli(["compare", "json:dumps", "--inputs", str(items), "--json", str(items)])
    assert_one_line_error(proc, 2, "same file as --inputs")
    assert items.read_text() == "[1, 2]"


def test_a_read_only_directory_is_refused_before_measuring(tmp_path):
    with _mount(tmp_path / "ro", "size=1m", "ro") as where:
        proc = run_cli([*QUICK_COMPARE, "--json", os.path.join(where, "r.json")])
    assert_one_line_error(proc, 2, "cannot create a file")


def test_a_full_disk_after_measuring_loses_nothing(tmp_path):
    with _mount(tmp_path / "small", "size=4k") as where:
        path = os.path.join(where, "r.json")
        proc = run_cli([*QUICK_COMPARE, "--json", path, "--html", os.path.join(where, "r.html")])
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        notices = [line for line in proc.stderr.splitlines() if line.strip()]
        assert notices and all("No space left on device" in n for n in notices), notices
        fallback = notices[0].split("written to ")[1].split(" instead")[0]
        assert [c.workload for c in resultfile.load(fallback).comparisons] == ["sleep"]
        assert not [n for n in os.listdir(where) if os.path.getsize(os.path.join(where, n)) == 0]
    for line in notices:
        os.unlink(line.split("written to ")[1].split(" instead")[0])


def test_the_umask_gives_every_output_its_mode(tmp_path):
    paths = {ext: str(tmp_path / f"r.{ext}") for ext in ("json", "html", "csv")}
    proc = subprocess.run(
        [sys.executable, "-m", "conlab", *QUICK_COMPARE]
        + [arg for ext, path in paths.items() for arg in (f"--{ext}", path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        preexec_fn=lambda: os.umask(0o027),
    )
    assert proc.returncode == 0, proc.stderr
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in paths.values()} == {0o640}


def test_a_task_changing_directory_does_not_move_the_file(tmp_path):
    (tmp_path / "moves.py").write_text("import os\ndef f(x):\n    os.chdir('/')\n    return x\n")
    args = ["compare", "moves:f", "--range", "2", "--repeats", "1", "--quiet", "--in-process"]
    proc = run_cli([*args, "--strategies", "sequential", "--json", "rel.json"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "rel.json").exists() and not os.path.exists("/rel.json")


def test_a_comparison_with_no_valid_run_exits_1(tmp_path):
    (tmp_path / "bad.py").write_text("def f(x):\n    raise ValueError(x)\n")
    proc = run_cli(
        ["compare", "bad:f", "--range", "2", "--repeats", "1", "--strategies", "thread-pool:2"],
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def _hostile_file(tmp_path, payload: str) -> str:
    path = str(tmp_path / "hostile.json")
    resultfile.write(_results(payload), path)
    return path


@pytest.mark.parametrize("payload", PAYLOADS)
def test_show_never_sends_an_escape_to_the_terminal(tmp_path, payload):
    proc = run_cli(["show", _hostile_file(tmp_path, payload)])
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x9b" not in proc.stdout and "\u202e" not in proc.stdout


def test_diff_never_sends_an_escape_to_the_terminal(tmp_path):
    path = _hostile_file(tmp_path, "\x1b]52;c;aGk=\x07\x1b[2J")
    proc = run_cli(["diff", path, path])
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("command", ["show", "compare"])
def test_any_stdout_encoding(tmp_path, encoding, command):
    args = ["show", _hostile_file(tmp_path, "é ✓ \ud800")] if command == "show" else QUICK_COMPARE
    proc = subprocess.run(
        [sys.executable, "-m", "conlab", *args],
        capture_output=True,
        encoding=encoding,
        env={**os.environ, "PYTHONPATH": SRC, "PYTHONIOENCODING": encoding},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_show_into_a_closed_pipe_ends_quietly(tmp_path):
    path = _hostile_file(tmp_path, "x")
    show = subprocess.Popen(
        [sys.executable, "-m", "conlab", "show", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    head = subprocess.run(["head", "-c", "1"], stdin=show.stdout, capture_output=True)
    show.stdout.close()
    _, err = show.communicate(timeout=60)
    assert (show.returncode, err, len(head.stdout)) == (0, b"", 1)


SLOW_TASK = textwrap.dedent(
    """
    import time
    def nap(x):
        time.sleep(30)
        return x
    """
)


def test_ctrl_c_replaces_an_earlier_complete_file(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_TASK)
    out = tmp_path / "r.json"
    resultfile.write(_results("old"), str(out))
    assert json.loads(out.read_text())["complete"] is True
    args = ["compare", "slow:nap", "--range", "1", "--repeats", "1", "--warmup", "0", "--quiet"]
    child = subprocess.Popen(
        [sys.executable, "-m", "conlab", *args, "--json", str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        start_new_session=True,
    )
    time.sleep(3)
    os.killpg(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    data = json.loads(out.read_text())
    assert data["complete"] is False
    assert "old" not in json.dumps(data["comparisons"])


def _interrupt_after(args, wait_s: float, cwd) -> tuple[int, str]:
    """Run conlab in a session of its own, Ctrl-C the session after ``wait_s``; 0 left behind."""
    child = subprocess.Popen(
        [sys.executable, "-m", "conlab", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        start_new_session=True,
    )
    time.sleep(wait_s)
    os.killpg(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=120)
    deadline = time.monotonic() + 5  # a worker told to stop may take a moment to go
    while (left := _session(child.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left in conlab's session: {left}"
    return child.returncode, err


def _session(sid: int) -> list[str]:
    found = subprocess.run(["pgrep", "-a", "-s", str(sid)], capture_output=True, text=True)
    return found.stdout.splitlines()


def test_ctrl_c_during_a_sweep_keeps_what_completed(tmp_path):
    out = tmp_path / "sweep.json"
    args = ["sweep", "sleep", "--tasks", "20", "--strategy", "thread-pool", "--workers", "1,2"]
    code, err = _interrupt_after(
        [*args, "--repeats", "1", "--warmup", "0", "--quiet", "--json", str(out)], 6, tmp_path
    )
    assert code == 130 and err.strip().splitlines() == [
        f"conlab: interrupted; what completed is in {out}"
    ]
    data = json.loads(out.read_text())
    statuses = [r["status"] for c in data["comparisons"] for r in c["runs"]]
    assert data["complete"] is False and "ok" in statuses, statuses


@pytest.mark.slow
@pytest.mark.parametrize("wait_s", [4, 8])
def test_ctrl_c_during_dask_is_one_line(tmp_path, wait_s):
    pytest.importorskip("distributed")
    args = ["compare", "sleep", "--param", "sleep_s=0.05", "--strategies", "dask:2"]
    code, err = _interrupt_after([*args, "--repeats", "5", "--quiet"], wait_s, tmp_path)
    assert (code, err.strip().splitlines()) == (130, ["conlab: interrupted"])
