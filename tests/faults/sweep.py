"""A hostile sweep of the command line: issue 20's cases, typed as a user would, counted.

    python -m tests.faults.sweep          (from the project's root, after `make setup`)

Each case is one command with what it must end with: the exit code (0 valid, 1 ran but
no valid run, 2 usage), and for an error one line on stderr, never a traceback. The
summary line gives the counts that README's "Hostile use" quotes. Ctrl-C, SIGTERM and
SIGHUP for every strategy family, and the hypothesis-generated command lines and result
files, are tests (tests/faults/test_signals.py, test_interrupt.py, test_fuzz.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = ["--repeats", "1", "--warmup", "0", "--remeasure-rounds", "0"]
SLEEP = ["compare", "sleep", "--param", "tasks=2", "--param", "sleep_s=0.01", *FAST]

MODULE = """
import ctypes, os, sys, time

def crash(x):
    if x == 1:
        ctypes.string_at(0)
    time.sleep(0.05)
    return x

def surrogate(x):
    print(os.fsdecode(b"\\xff"))
    return x

def nan(x):
    return float("nan")

def interrupts(x):
    raise KeyboardInterrupt

def forks(x):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
    return x

def half(x):
    return x / 2

NONE = None
"""
if os.environ.get("CONLAB_SWEEP_IMPORT_EXIT"):
    sys.exit(7)


@dataclass
class Case:
    item: int  # the numbered item
    argv: list[str]
    codes: tuple[int, ...]  # the exit codes it may end with
    stdin: str | None = None
    env: dict[str, str] | None = None
    pipe_to_head: bool = False


def _result_file(work: str, name: str, workload_name: str) -> str:
    """A result file made by conlab, with its workload renamed (payloads, bad text)."""
    base = os.path.join(work, "base.json")
    with open(base) as f:
        data = json.load(f)
    data["comparisons"][0]["workload"]["name"] = workload_name
    path = os.path.join(work, name)
    with open(path, "w") as f:
        json.dump(data, f)
    return path


def cases(work: str) -> list[Case]:
    os.symlink(os.path.join(work, "target.json"), os.path.join(work, "link.json"))
    with open(os.path.join(work, "in.json"), "w") as f:
        json.dump([1, 2, 3], f)
    with open(os.path.join(work, "deep.jsonl"), "w") as f:
        f.write("[" * 100_000 + "\n")
    escape = _result_file(work, "escape.json", "\x1b]52;c;aGk=\x1b\\\x1b[2J\x1b]0;title\x07")
    surrogate = _result_file(work, "surrogate.json", "\ud800")
    mathtext = _result_file(work, "mathtext.json", "$\\undefinedmacro{x}$")
    ro = os.path.join(work, "ro")
    os.mkdir(ro, 0o555)
    m = "usermod"
    return [
        Case(1, [*SLEEP, "--json", "/dev/full"], (2,)),
        Case(1, [*SLEEP, "--markdown", "/dev/null"], (2,)),
        Case(1, [*SLEEP, "--json", "in.json", "--inputs", "in.json"], (2,)),
        Case(1, [*SLEEP, "--json", "same.out", "--html", "same.out"], (2,)),
        Case(1, [*SLEEP, "--json", "link.json"], (0,)),
        Case(2, ["show", escape], (0,)),
        Case(2, ["diff", escape, escape], (0,)),
        Case(4, [*SLEEP, "--json", f"{ro}/r.json"], (0,) if os.getuid() == 0 else (2,)),
        Case(4, [*SLEEP, "--csv", "/dev/full"], (2,)),
        Case(4, ["report", "base.json", "--html", "/dev/full"], (2,)),
        Case(5, ["compare", f"{m}:surrogate", "--inputs", "in.json", *FAST, "--html", "s.html"], (0,)),
        Case(5, ["show", surrogate], (0,)),
        Case(5, ["diff", surrogate, "base.json"], (0,)),
        Case(5, ["report", surrogate, "--html", "sur.html"], (0,)),
        Case(5, ["show", "base.json"], (0,), env={"PYTHONIOENCODING": "ascii"}),
        Case(5, SLEEP, (0,), env={"PYTHONIOENCODING": "latin-1"}),
        Case(5, ["report", mathtext, "--plot", "p.png"], (0,)),
        Case(6, ["compare", f"{m}:half", "--range", "1e35", *FAST], (2,)),
        Case(6, ["compare", "sleep", "--param", "tasks=1e12", *FAST], (2,)),
        Case(6, ["sweep", "sleep", "--strategy", "thread-pool", "--tasks", "100000000"], (2,)),
        Case(6, ["compare", f"{m}:half", "--inputs", "/dev/zero", *FAST], (2,)),
        Case(6, ["show", "/dev/zero"], (2,)),
        Case(6, ["show", "/dev/urandom"], (2,)),
        Case(6, ["compare", "sleep", "--param", "tasks=2", "--strategies", "thread-pool:10000", *FAST], (0,)),
        Case(7, ["compare", "sleep", "--param", "tasks=0", *FAST], (2,)),
        Case(7, ["compare", "sleep", "--param", "tasks=-1", *FAST], (2,)),
        Case(7, ["compare", "hash", "--param", "size=-1", *FAST], (2,)),
        Case(7, ["compare", "sleep", "--param", "sleep_s=nan", *FAST], (2,)),
        Case(7, [*SLEEP, "--strategies", ""], (2,)),
        Case(7, [*SLEEP, "--strategies", "sequential:2"], (2,)),
        Case(7, ["sweep", "sleep", "--strategy", "sequential"], (2,)),
        Case(7, [*SLEEP, "--timeout", "nan"], (2,)),
        Case(8, ["map", f"{m}:half"], (0,), stdin="1\n2\n3\n" * 2000, pipe_to_head=True),
        Case(8, ["map", "tests.faults.sweep:NONE"], (2,), stdin="1\n"),
        Case(8, ["map", f"{m}:half", "--timeout", "inf"], (2,), stdin="1\n"),
        Case(8, ["map", f"{m}:half", "--timeout", "1e99"], (2,), stdin="1\n"),
        Case(8, ["map", f"{m}:half"], (1, 2), stdin=open(os.path.join(work, "deep.jsonl")).read()),
        Case(8, ["map", f"{m}:nan"], (0,), stdin="1\n"),
        Case(8, ["map", "tests.faults.sweep:cases"], (2,), stdin="1\n", env={"CONLAB_SWEEP_IMPORT_EXIT": "1"}),
        Case(9, ["compare", f"{m}:interrupts", "--range", "2", *FAST, "--strategies", "thread-pool:2,process-pool:2"], (1,)),
        Case(9, ["compare", f"{m}:nan", "--range", "2", *FAST, "--strategies", "thread-pool:2"], (0,)),
        Case(9, ["compare", f"{m}:forks", "--range", "2", *FAST, "--strategies", "threads,processes"], (0,)),
        Case(9, ["compare", f"{m}:crash", "--range", "4", *FAST, "--strategies", "thread-pool:4,threads"], (1,)),
        Case(11, ["compare", f"{m}:crash", "--range", "4", *FAST, "--strategies", "process-pool:2"], (1,)),
        Case(12, ["--bogus"], (2,)),
        Case(12, ["report", "--bogus"], (2,)),
        Case(12, [*SLEEP, "--timeout", "1e99"], (2,)),
        Case(12, ["map", f"{m}:NONE"], (2,), stdin="1\n"),
        Case(12, ["compare", "../../etc/passwd:f"], (2,)),
        Case(12, ["advise", "sleep", "--python", sys.executable], (0,)),  # listed, and taken
        Case(12, ["compare", "sleep", "--strategies", "bogus"], (2,)),
    ]  # fmt: skip


def run(case: Case, work: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}/src:{ROOT}:{work}", "COLUMNS": "80"}
    env["CONLAB_SWEEP_MARK"] = work  # what every process of the sweep's commands inherits
    env.update(case.env or {})
    argv = [sys.executable, "-m", "conlab", *case.argv]
    if case.pipe_to_head:  # conlab ... | head -1, its input from a file
        with tempfile.TemporaryFile("w+") as stdin:
            stdin.write(case.stdin or "")
            stdin.seek(0)
            conlab = subprocess.Popen(
                argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=work, env=env, text=True, errors="replace",
            )  # fmt: skip
            head = subprocess.run(["head", "-1"], stdin=conlab.stdout, capture_output=True)
            conlab.stdout.close()  # type: ignore[union-attr]
            err = conlab.stderr.read()  # type: ignore[union-attr]
            code = conlab.wait(timeout=120)
        return code, head.stdout.decode(), err
    proc = subprocess.run(
        argv, input=case.stdin, capture_output=True, text=True, errors="replace", timeout=180,
        cwd=work, env=env,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def main() -> int:
    work = tempfile.mkdtemp(prefix="conlab-sweep-")
    with open(os.path.join(work, "usermod.py"), "w") as f:
        f.write(textwrap.dedent(MODULE))
    first = run(Case(0, [*SLEEP, "--json", "base.json"], (0,)), work)
    assert first[0] == 0, first
    tracebacks = wrong_code = not_one_line = 0
    all_cases = cases(work)
    for case in all_cases:
        code, out, err = run(case, work)
        problems = []
        if "Traceback" in out + err:
            tracebacks += 1
            problems.append("traceback")
        if code not in case.codes:
            wrong_code += 1
            problems.append(f"exit {code}, not {case.codes}")
        if code == 2 and len([line for line in err.splitlines() if line.strip()]) != 1:
            not_one_line += 1
            problems.append(f"{len(err.splitlines())} lines on stderr")
        if "\x1b" in out:
            problems.append("an escape reached the terminal")
            tracebacks += 1
        print(f"item {case.item:2} {'ok ' if not problems else 'BAD'} exit {code}  "
              f"{' '.join(case.argv)[:70]!r} {'; '.join(problems)}")  # fmt: skip
        if problems:
            print("      " + (err.strip().splitlines() or ["(no stderr)"])[-1][:200])
    time.sleep(2)  # a child follows its dead parent within a second (lifeline.py)
    left = _left_behind(work)
    print(
        f"{len(all_cases)} cases: {tracebacks} tracebacks, {wrong_code} unexpected exit codes, "
        f"{not_one_line} usage errors longer than one line, {len(left)} processes left behind"
    )
    return 1 if tracebacks or wrong_code or not_one_line or left else 0


def _left_behind(work: str) -> list[int]:
    """Processes still running with the sweep's mark in their environment (Linux's /proc)."""
    mark = f"CONLAB_SWEEP_MARK={work}".encode()
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    left.append(int(pid))
        except OSError:
            continue
    return left


if __name__ == "__main__":
    sys.exit(main())
