"""Labels that are measured: a user's function is labelled with the kind the lab measured, and
a pool named without a count gets the count the work wants, with where it came from."""

from __future__ import annotations

import pytest

from conlab import resultfile
from conlab.measure.environment import usable_cpus
from conlab.measure.workkind import WAITING_BELOW
from tests.helpers import run_cli

NAPS = "import time\ndef nap(x):\n    time.sleep(0.02)\n    return x\n"
SUMS = "def work(x):\n    return sum(i * i for i in range(200_000 + x))\n"


def _compare(tmp_path, module: str, target: str, n: int, strategies: str):
    (tmp_path / f"{target.split(':')[0]}.py").write_text(module)
    path = tmp_path / "r.json"
    proc = run_cli(
        [
            *("compare", target, "--range", str(n), "--repeats", "1", "--warmup", "0"),
            *("--strategies", strategies, "--json", str(path)),
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, resultfile.load(str(path)).comparisons[0]


def test_a_sleeping_function_is_labelled_waiting_with_its_cpu_share(tmp_path):
    out, c = _compare(tmp_path, NAPS, "naps:nap", 8, "threads")
    assert c.kind == "mixed"  # what it declares: nothing, so mixed
    assert c.measured_kind is not None and c.measured_kind.kind == "waiting", c.measured_kind
    assert 0 <= c.measured_kind.cpu_share < WAITING_BELOW
    assert c.measured_kind.threads_speedup is not None
    heading = next(line for line in out.splitlines() if line.startswith("naps:nap ("))
    assert heading.startswith("naps:nap (waiting: CPU "), heading
    assert "of wall" in heading and "(mixed," not in heading


def test_a_thread_pool_without_a_count_gets_more_threads_for_waiting_and_says_why(tmp_path):
    cores = usable_cpus()
    n = max(8, 4 * cores)
    out, c = _compare(tmp_path, NAPS, "naps:nap", n, "thread-pool,process-pool")
    pool = c.run("thread-pool")
    assert pool.workers > cores and pool.workers_source == "waiting", (pool.workers, cores)
    processes = c.run("process-pool")
    assert processes.workers == min(cores, n) and processes.workers_source == "cores"
    assert c.run("sequential").workers_source is None
    note = next(n for n in c.notes if n.startswith("workers not named"))
    assert f"thread-pool:{pool.workers} sized for waiting work" in note, note
    assert f"above the {cores} cores" in note
    assert "sized for waiting work" in " ".join(out.split())


def test_a_count_given_is_kept_and_computing_work_gets_the_cores(tmp_path):
    cores = usable_cpus()
    _, c = _compare(tmp_path, SUMS, "sums:work", 4, "thread-pool,thread-pool:3,threads")
    assert c.measured_kind is not None
    if c.measured_kind.cpu_share < WAITING_BELOW:
        pytest.skip(f"the machine starved the loop: CPU {c.measured_kind.cpu_share:.0%} of wall")
    chosen, given = [r for r in c.runs if r.strategy == "thread-pool"]
    assert (chosen.workers, chosen.workers_source) == (min(cores, 4), "cores")
    assert (given.workers, given.workers_source) == (3, "given")
    assert c.run("threads").workers_source == "per-task"


def test_the_callers_strategy_is_left_as_it_was():
    from conlab.lab.compare import compare
    from conlab.strategies import make
    from conlab.workloads import build

    pool = make("thread-pool")
    n = max(8, 2 * usable_cpus())
    c = compare(build("sleep", tasks=n, sleep_s=0.01), [pool], repeats=1, warmup=0)
    assert pool.workers is None  # sized for this comparison only: the next one measures again
    assert c.run("thread-pool").workers_source == "waiting"
    assert usable_cpus() < c.run("thread-pool").workers <= n
