"""Contention: a run next to other processes' work is recorded with the machine's figures, marked
contended when its workers could not have had their cores, and measured again within a bound."""

from __future__ import annotations

import os

import pytest

from conlab.lab.compare import Remeasure, compare
from conlab.measure import contention
from conlab.measure.environment import usable_cpus
from conlab.strategies import ProcessPoolStrategy, make
from conlab.workloads import build
from tests.spinner import spinner

pytestmark = pytest.mark.skipif(usable_cpus() < 2, reason="contention needs two usable cores")


def test_a_waiting_run_next_to_a_spinner_is_not_contended() -> None:
    # Others took a core, but the run needed none: nothing was short.
    m = contention.judge(
        wall_s=1.0, own_cpu_s=0.02, other_cpu_s=1.0, steal_s=0.0, asked_cores=2, cores=2
    )
    assert not m.contended
    assert m.other_cores == pytest.approx(0.98, abs=0.05)
    assert m.capacity_cores is not None  # others were busy: the capacity is measured


def test_a_computing_pool_short_of_a_core_is_contended() -> None:
    m = contention.judge(
        wall_s=1.0,
        own_cpu_s=1.2,
        other_cpu_s=0.8,
        steal_s=0.0,
        asked_cores=2,
        cores=2,
        measure=False,
    )
    assert m.contended
    assert m.available_cores == pytest.approx(1.22, abs=0.05)
    assert "gave 1.2 cores of the 2 asked; other processes used 0.8" in contention.summary([m])


def test_a_loop_that_had_its_core_is_not_contended() -> None:
    m = contention.judge(
        wall_s=1.0,
        own_cpu_s=1.0,
        other_cpu_s=1.0,
        steal_s=0.0,
        asked_cores=1,
        cores=2,
        measure=False,
    )
    assert not m.contended


def test_stolen_time_counts_as_taken() -> None:
    m = contention.judge(
        wall_s=1.0,
        own_cpu_s=1.3,
        other_cpu_s=0.0,
        steal_s=0.7,
        asked_cores=2,
        cores=2,
        measure=False,
    )
    assert m.contended and m.steal_cores == pytest.approx(0.68, abs=0.05)
    assert "the hypervisor stole 0.7" in contention.summary([m])


def test_a_quiet_machine_is_not_contended() -> None:
    m = contention.judge(
        wall_s=1.0, own_cpu_s=2.0, other_cpu_s=0.05, steal_s=0.0, asked_cores=2, cores=2
    )
    assert not m.contended and m.capacity_cores is None


def _cpu_comparison(remeasure: Remeasure):
    return compare(
        build("cpu", tasks=4, size=0.15),
        [ProcessPoolStrategy(2, start_method="fork")],
        repeats=2,
        warmup=0,
        seed=1,
        remeasure=remeasure,
    )


def _others_now(window_s: float = 0.5) -> float | None:
    """Cores the rest of the machine kept busy over a moment of this process sleeping."""
    import time

    from conlab.measure.cpu import machine_busy_cpu_s

    before = machine_busy_cpu_s()
    time.sleep(window_s)
    after = machine_busy_cpu_s()
    return None if before is None or after is None else (after - before) / window_s


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc: Linux")
def test_a_forkserver_pools_workers_are_its_own_not_other_processes() -> None:
    # Forkserver workers are the forkserver's children: their CPU time reaches this process's
    # figures only when the forkserver is reaped. They were counted as other processes (1.7 of
    # 2 cores on a quiet machine), so every forkserver run was contended.
    busy = _others_now()
    if busy is None or busy > 0.3:
        pytest.skip(f"the machine is busy: other processes used {busy} cores before the run")
    c = compare(
        build("cpu", tasks=4, size=0.15),
        [ProcessPoolStrategy(2, start_method="forkserver")],
        repeats=3,
        warmup=1,
        seed=1,
        remeasure=Remeasure(max_rounds=0),
    )
    others = sorted(m.other_cores for m in c.run(ProcessPoolStrategy.name).machine)
    busy = _others_now()
    if busy is None or busy > 0.3:
        pytest.skip(f"the machine is busy: other processes used {busy} cores after the run")
    assert others[len(others) // 2] < 0.5, others


def test_a_run_next_to_a_spinner_is_contended_with_its_cpu_in_the_record() -> None:
    with spinner():
        c = _cpu_comparison(Remeasure(max_rounds=0))
    pool = c.run(ProcessPoolStrategy.name)
    assert pool.contended, pool.machine
    assert len(pool.machine) == len(pool.wall_s) == 2
    # The spinner's core is in the record: other processes used a good part of a core.
    assert all(m.other_cores is not None and m.other_cores >= 0.4 for m in pool.machine)
    assert all(m.capacity_cores is not None for m in pool.machine)
    assert pool.speedup_contended
    assert c.remeasure == {"max_rounds": 0, "max_s": 30.0, "rounds": 0, "stopped_by": "rounds"}


def test_a_contended_round_is_measured_again_and_the_repeat_recorded() -> None:
    with spinner():
        c = _cpu_comparison(Remeasure(max_rounds=1))
    pool = c.run(ProcessPoolStrategy.name)
    assert c.remeasure is not None and c.remeasure["rounds"] == 1
    # The spinner ran throughout: the extra round was contended too, and is kept aside.
    assert c.remeasure["stopped_by"] == "rounds"
    assert len(pool.wall_s) == 2
    assert len(pool.set_aside_wall_s) == len(pool.set_aside_machine) == 1
    assert pool.set_aside_machine[0].contended


def test_the_time_limit_bounds_the_extra_rounds() -> None:
    with spinner():
        c = _cpu_comparison(Remeasure(max_rounds=5, max_s=0.0))
    assert c.remeasure is not None
    assert c.remeasure["rounds"] == 0 and c.remeasure["stopped_by"] == "time"


def test_a_bad_bound_is_one_usage_error() -> None:
    from conlab.errors import UsageError

    with pytest.raises(UsageError, match="extra rounds"):
        compare(build("seed", sleep_s=0.001), [make("threads")], 1, 0, remeasure=Remeasure(-1))


def test_compare_sleep_prints_at_most_one_warning_line(tmp_path) -> None:
    from conlab import resultfile
    from tests.helpers import run_cli

    out = tmp_path / "sleep.json"
    proc = run_cli(["compare", "sleep", "--repeats", "3", "--json", str(out)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "⚠" in line]
    assert len(lines) <= 1, lines
    results = resultfile.load(str(out))
    (c,) = results.comparisons
    from conlab.measure import noise

    warnings = noise.comparison_warnings(c, results.environment.get("usable_cpus"))
    # Quiet (no other process took a quarter of a core, the samples agree): no line at all.
    assert bool(lines) == bool(warnings), (lines, [w.message for w in warnings])
    for run in c.runs:
        busy = noise.busy_reason(run, 2)
        assert busy is None or max(run.other_cores) > noise.BUSY_OTHER_CORES


def _record_comparison():
    from conlab.model import Comparison, Contention, Run

    calm = Contention(0.05, 0.0, 2.0, 1.95)
    busy = Contention(0.9, 0.1, 2.0, 1.1, True, 1.1)
    run = Run(
        "process-pool",
        2,
        wall_s=[1.0, 1.1],
        machine=[calm, busy],
        set_aside_wall_s=[1.6],
        set_aside_machine=[busy],
        speedup=1.5,
        speedup_contended=True,
    )
    return Comparison(
        "cpu",
        "cpu",
        4,
        runs=[run],
        remeasure={"max_rounds": 2, "max_s": 30.0, "rounds": 2, "stopped_by": "rounds"},
    )


def test_the_machine_goes_into_the_result_file_and_comes_back(tmp_path) -> None:
    from conlab import resultfile
    from conlab.model import Results

    path = tmp_path / "r.json"
    resultfile.write(Results({"usable_cpus": 2}, [_record_comparison()]), str(path))
    (c,) = resultfile.load(str(path)).comparisons
    run = c.runs[0]
    assert run.contended and run.speedup_contended
    assert run.machine[1].capacity_cores == 1.1 and run.machine[1].steal_cores == 0.1
    assert run.set_aside_wall_s == [1.6] and run.set_aside_machine[0].contended
    assert c.remeasure is not None and c.remeasure["rounds"] == 2
    data = resultfile.to_dict(resultfile.load(str(path)))
    warnings = data["comparisons"][0]["warnings"]
    assert any(w["kind"] == "contended" and "process-pool:2" in w["message"] for w in warnings)
    import jsonschema

    jsonschema.validate(data, resultfile.json_schema())


def test_a_file_from_before_the_machine_was_recorded_still_loads() -> None:
    import json

    from conlab import resultfile
    from conlab.model import Results

    data = json.loads(resultfile.dumps(Results({}, [_record_comparison()])))
    run = data["comparisons"][0]["runs"][0]
    for key in ("machine", "contended", "speedup_contended", "set_aside"):
        del run[key]
    del data["comparisons"][0]["settings"]["remeasure"]
    (c,) = resultfile.from_dict(data).comparisons
    assert c.runs[0].machine == [] and not c.runs[0].contended and c.remeasure is None


def test_a_wrong_machine_record_is_named(tmp_path) -> None:
    import json

    from conlab import resultfile
    from conlab.errors import ResultFileError
    from conlab.model import Results

    data = json.loads(resultfile.dumps(Results({}, [_record_comparison()])))
    data["comparisons"][0]["runs"][0]["machine"][0]["contended"] = "yes"
    with pytest.raises(ResultFileError, match=r"runs\[0\]\.machine\[0\]\.contended"):
        resultfile.from_dict(data)


def test_the_schema_describes_the_machine() -> None:
    from conlab import resultfile

    schema = resultfile.json_schema()
    run = schema["properties"]["comparisons"]["items"]["properties"]["runs"]["items"]
    assert {"machine", "contended", "speedup_contended", "set_aside"} <= set(run["properties"])


def test_a_contended_run_is_never_called_significantly_different() -> None:
    from conlab.measure.diff import ALPHA, MIN_EFFECT, compare_runs
    from conlab.model import Contention, Run

    fast = Run("thread-pool", 2, wall_s=[1.0, 1.01, 0.99, 1.0, 1.0])
    slow = Run("thread-pool", 2, wall_s=[1.5, 1.51, 1.49, 1.5, 1.5])
    assert compare_runs("w", fast, slow, MIN_EFFECT, ALPHA).significant
    slow.machine = [Contention(0.9, 0.0, 2.0, 1.1, True)] * 5
    row = compare_runs("w", fast, slow, MIN_EFFECT, ALPHA)
    assert not row.significant and "contended in B" in (row.note or "")


def test_the_bound_is_set_on_the_command_line(tmp_path) -> None:
    from conlab import resultfile
    from tests.helpers import assert_one_line_error, run_cli

    out = tmp_path / "bound.json"
    args = ["compare", "sleep", "--strategies", "thread-pool:2", "--repeats", "2"]
    proc = run_cli([*args, "--remeasure-rounds", "0", "--remeasure-time", "5", "--json", str(out)])
    assert proc.returncode == 0, proc.stderr
    (c,) = resultfile.load(str(out)).comparisons
    assert c.remeasure is not None
    assert (c.remeasure["max_rounds"], c.remeasure["max_s"], c.remeasure["rounds"]) == (0, 5.0, 0)
    assert_one_line_error(run_cli([*args, "--remeasure-rounds", "-1"]), 2, "--remeasure-rounds")


def test_the_terminal_shows_one_warning_line_and_marks_a_contended_speedup() -> None:
    import io

    from rich.console import Console

    from conlab.measure import noise
    from conlab.report import terminal

    c = _record_comparison()
    c.runs[0].wall_s = [2.0, 1.0, 1.01, 0.99, 1.0, 1.25]
    c.runs[0].machine = c.runs[0].machine * 3
    c.runs[0].other_cores = [1.0] * 6
    assert len(noise.comparison_warnings(c, 2)) >= 3

    def shown(verbose: bool) -> str:
        out = io.StringIO()
        terminal.render(Console(file=out, width=160), c, cores=2, verbose=verbose)
        return out.getvalue()

    quiet = shown(False)
    assert quiet.count("⚠") == 1 and "1.50×†" in quiet
    assert "contended" in next(line for line in quiet.splitlines() if "⚠" in line)
    assert shown(True).count("⚠") == len(noise.comparison_warnings(c, 2))


def test_a_waiting_run_on_a_saturated_machine_is_not_contended() -> None:
    # Others took 1.9 of 2 cores, but the run's workers slept: 0.003 cores of CPU cannot have
    # been held back by the 0.1 it was given (the demo's sleeps were marked † this way).
    m = contention.judge(
        wall_s=1.6,
        own_cpu_s=0.005,
        other_cpu_s=1.9 * 1.6,
        steal_s=0.0,
        asked_cores=2,
        cores=2,
        measure=False,
    )
    assert m.available_cores is not None and m.available_cores < 0.2
    assert not m.contended
    # The same machine, a pool that computed in what it was given: contended.
    busy = contention.judge(
        wall_s=1.6,
        own_cpu_s=0.15 * 1.6,
        other_cpu_s=1.85 * 1.6,
        steal_s=0.0,
        asked_cores=2,
        cores=2,
        measure=False,
    )
    assert busy.contended


def test_a_short_run_counted_in_ticks_is_watched_until_the_spinner_shows() -> None:
    """A 40 ms window counted in 10 ms ticks reads a spinner's core as anything from 0 to 1:
    the judge watches the machine a moment longer, and sees the spinner."""
    with spinner():
        m = contention.judge(
            wall_s=0.04,
            own_cpu_s=0.04,
            other_cpu_s=0.01,  # the spinner's 40 ms read as one tick
            steal_s=0.0,
            asked_cores=2,
            cores=2,
            resolution_s=0.01,
        )
    assert m.contended, m
    assert m.other_cores is not None and m.other_cores > 0.5, m


def test_a_process_there_before_the_run_is_not_the_runs() -> None:
    from conlab.measure.descendants import descendants_used_s

    before = {10: (5.0, 1.0), 11: (0.2, 0.0)}
    # 10 (a user's process, say) ran 3 s more and reaped 0.5 s of children; 11 (a forkserver)
    # reaped 1.5 s of workers; 12 (a worker started in the run) used 0.7 s, and 13 0.1 s.
    after = {10: (8.0, 1.5), 11: (0.25, 1.5), 12: (0.7, 0.0), 13: (0.1, 0.0)}
    assert descendants_used_s(before, after) == pytest.approx(0.5 + 1.5 + 0.7 + 0.1)


def test_a_run_is_judged_on_its_own_cores_over_its_timed_work() -> None:
    # Hashing in two threads beside a spinner (issue 16's flaky lesson cell): 29.6 ms of CPU in
    # 27.8 ms of timed work, inside a 41.8 ms probe window with the pool's start and stop. Over
    # the window the run read 0.71 cores and the machine looked not fully busy: "not parallel".
    figures = dict(wall_s=0.0418, own_cpu_s=0.0296, other_cpu_s=0.0288, steal_s=0.0)
    common = dict(asked_cores=2, cores=2, measure=False, resolution_s=1e-9)
    assert contention.judge(**figures, work_s=0.0278, **common).contended
    assert not contention.judge(**figures, **common).contended


def test_a_run_that_used_all_the_capacity_measured_beside_it_is_contended(monkeypatch) -> None:
    # A hypervisor that runs fewer virtual CPUs than it shows, and reports no steal: the run
    # (0.95 cores) and the others (0.55) leave half a core apparently idle, but the capacity
    # measured beside the run was 1.0.
    import time

    monkeypatch.setattr(contention, "_last_capacity", (time.monotonic(), 1.0))
    m = contention.judge(
        wall_s=0.1,
        own_cpu_s=0.095,
        other_cpu_s=0.055,
        steal_s=0.0,
        asked_cores=2,
        cores=2,
        resolution_s=1e-9,
    )
    assert m.contended and m.capacity_cores == 1.0 and m.available_cores == 1.0
