"""Worker counts past the user's process limit (ulimit -u): one line before measuring, no orphan.

Root is not held to RLIMIT_NPROC, so the command runs as ``nobody`` under
``prlimit --nproc``, with the system's Python of the same version (the venv's
interpreter lives under /root, which nobody cannot read) and the venv's packages.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import pytest

from tests.helpers import SRC

LIMIT = 60
SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"


def _as_nobody(argv, cwd):
    if os.getuid() != 0 or not shutil.which("setpriv") or not shutil.which("prlimit"):
        pytest.skip("needs root, setpriv and prlimit to run conlab as nobody under a limit")
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"needs {SYSTEM_PYTHON}, an interpreter nobody can run, of this version")
    path = os.pathsep.join([SRC, sysconfig.get_paths()["purelib"]])
    command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    command += ["env", f"PYTHONPATH={path}", f"HOME={cwd}", "COLUMNS=80"]
    command += ["prlimit", f"--nproc={LIMIT}", SYSTEM_PYTHON, "-m", "conlab", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


def _nobodys_processes():
    out = subprocess.run(["ps", "-u", "nobody", "-o", "pid="], capture_output=True, text=True)
    return out.stdout.split()


@pytest.fixture
def open_dir():
    """A directory nobody may write in (pytest's tmp_path is under root's 0700 directory)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="conlab-nobody-"))
    path.chmod(0o777)
    assert _nobodys_processes() == [], "another process of nobody's runs: the count would lie"
    yield path
    shutil.rmtree(path, ignore_errors=True)
    assert _nobodys_processes() == []


SLEEP_300 = ["compare", "sleep", "--param", "tasks=300", "--param", "sleep_s=0.01"]


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("process-pool:10000", "process-pool:10000 would start 300 workers, but this user may"),
        ("thread-pool:10000", "thread-pool:10000 would start 300 workers"),
        ("threads", "threads starts one worker per task, 300 at once"),
    ],
)
def test_more_workers_than_the_process_limit_leaves_is_one_line_before_measuring(
    open_dir, spec, says
):
    proc = _as_nobody([*SLEEP_300, "--strategies", spec, "--json", "r.json"], str(open_dir))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "ulimit -u is 60" in lines[0], proc.stderr
    assert lines[0].endswith("(see 'conlab compare --help')")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (open_dir / "r.json").exists()  # refused before anything was measured


def test_the_count_the_refusal_suggests_runs(open_dir):
    refused = _as_nobody([*SLEEP_300, "--strategies", "process-pool:10000"], str(open_dir))
    suggested = refused.stderr.split("ask for at most ")[1].split("(")[1].split(")")[0]
    assert suggested.startswith("process-pool:"), refused.stderr
    argv = [*SLEEP_300, "--strategies", suggested, "--repeats", "1", "--json", "r.json"]
    proc = _as_nobody(argv, str(open_dir))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert (open_dir / "r.json").exists()


def test_an_output_in_a_directory_this_user_may_not_enter_is_one_line(open_dir, tmp_path):
    # tmp_path lies under root's own 0700 directory: nobody cannot even look there.
    proc = _as_nobody(["compare", "sleep", "--json", str(tmp_path / "r.json")], str(open_dir))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert (
        proc.stderr.strip() == f"conlab: error: cannot write {tmp_path}/r.json: Permission denied"
    )
