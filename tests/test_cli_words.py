"""What a user reads, through the command line: the same words in every output, files with
the umask's mode, an interrupted file shown as incomplete, and catalogues that answer at once."""

from __future__ import annotations

import csv
import os
import signal
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from conlab import resultfile
from tests.helpers import SRC, run_cli

QUICK = ["--param", "tasks=2", "--param", "sleep_s=0.01", "--repeats", "1", "--quiet"]


def _crashing_module(tmp_path) -> None:
    (tmp_path / "dies.py").write_text(
        "import os\ndef f(x):\n    if x == 1:\n        os._exit(3)\n    return x\n"
    )


def test_a_crashed_run_is_crashed_in_the_html_csv_and_markdown(tmp_path):
    _crashing_module(tmp_path)
    out = {ext: str(tmp_path / f"r.{ext}") for ext in ("html", "csv", "md")}
    proc = run_cli(
        [
            *("compare", "dies:f", "--range", "2", "--repeats", "1", "--warmup", "0"),
            *("--strategies", "process-pool:2", "--html", out["html"], "--csv", out["csv"]),
            *("--markdown", out["md"]),
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # no valid run
    with open(out["csv"]) as f:
        rows = {row["strategy"].split("/")[0]: row for row in csv.DictReader(f)}
    assert rows["process-pool"]["status"] == "crashed", rows["process-pool"]
    assert "crashed" in proc.stdout
    html = Path(out["html"]).read_text()
    assert ">crashed</td>" in html
    assert ">failed</td>" not in html and '"dim">failed<' not in html  # table and timelines
    assert "| crashed: " in Path(out["md"]).read_text()


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_every_output_has_the_mode_the_umask_gives(tmp_path, mask, mode):
    paths = {ext: str(tmp_path / f"r.{ext}") for ext in ("json", "html", "csv", "trace")}
    paths["markdown"] = str(tmp_path / "r.md")
    paths["plot"] = str(tmp_path / "r.png")
    proc = subprocess.run(
        [sys.executable, "-m", "conlab", "compare", "sleep", *QUICK, "--strategies", "threads"]
        + [arg for option, path in paths.items() for arg in (f"--{option}", path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        preexec_fn=lambda: os.umask(mask),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    modes = {option: stat.S_IMODE(os.stat(p).st_mode) for option, p in paths.items()}
    assert modes == dict.fromkeys(paths, mode), {k: oct(v) for k, v in modes.items()}


def test_show_of_an_interrupted_file_says_incomplete(tmp_path):
    path = tmp_path / "cut.json"
    argv = [
        sys.executable, "-m", "conlab", "compare", "sleep", "--param", "sleep_s=0.05",
        "--strategies", "threads,thread-pool:2", "--repeats", "30", "--quiet",
        "--json", str(path),
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv, env={**os.environ, "PYTHONPATH": SRC}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not path.exists() and proc.poll() is None:  # written after the first round
        assert time.monotonic() < deadline, "no result file within 60 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    statuses = [r.status for r in resultfile.load(str(path)).comparisons[0].runs]
    assert set(statuses) == {"incomplete"}, statuses
    shown = run_cli(["show", str(path)])
    assert shown.returncode == 0, shown.stderr
    table = [line.split() for line in shown.stdout.splitlines()]
    rows = [
        cells for cells in table if cells and cells[0] in ("sequential", "threads", "thread-pool")
    ]
    assert len(rows) == 3 and all(cells[-1] == "incomplete" for cells in rows), shown.stdout
    assert "These results are incomplete" in shown.stdout


def _best_of_3_s(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(3):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        times.append(time.perf_counter() - t0)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
    return min(times), out


def test_strategies_answers_within_a_second_of_python_starting():
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120"}
    python_s, _ = _best_of_3_s([sys.executable, "-c", "pass"], env)
    listing_s, out = _best_of_3_s([sys.executable, "-m", "conlab", "strategies"], env)
    # A floor (the interpreter starting) and a bound over it: importing Dask and Ray took 3.6 s.
    assert listing_s < python_s + 1.0, (listing_s, python_s)
    lines = out.splitlines()
    assert any(line.split()[:2] == ["thread-pool", "yes"] for line in lines if line.strip()), out


def _site_without(tmp_path, hidden: tuple[str, ...]) -> str:
    """This environment's packages but ``hidden``: links to every other entry of site-packages."""
    site = tmp_path / "site"
    site.mkdir()
    real = sysconfig.get_paths()["purelib"]
    for name in os.listdir(real):
        if not name.lower().startswith(hidden):
            os.symlink(os.path.join(real, name), site / name)
    return str(site)


def test_strategies_names_the_install_command_of_a_missing_extra(tmp_path):
    site = _site_without(tmp_path, ("distributed", "ray"))
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "conlab", "strategies"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{site}", "COLUMNS": "200"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for name, extra, module in (("dask", "dask", "distributed"), ("ray", "ray", "ray")):
        at = next(k for k, line in enumerate(lines) if line.split()[:1] == [name])
        assert lines[at].split()[1] == "no", lines[at]
        said = lines[at + 1].strip()
        assert said == f"not here: {module} is not installed: pip install 'conlab[{extra}]'", said
    assert "distributed" not in proc.stderr


def test_workloads_read_with_their_values():
    proc = run_cli(["workloads"])
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "8 sleeps of 0.2 s each" in text
    assert "8 tasks, each writing 60 files of 64 KiB" in text
    assert "8 tasks of 4 GETs each, the server taking 0.05 s per answer" in text
    assert (
        "``" not in text and "tasks tasks" not in text and "sleep_s" not in text.split("params")[0]
    )
