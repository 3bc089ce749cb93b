"""Noise warnings: raised on a noisy or busy sample set, silent on a quiet one."""

from __future__ import annotations

from conlab.measure import noise
from conlab.model import RUN_FAILED, Comparison, Run

QUIET = [1.000, 1.002, 0.999, 1.001, 1.000]


def _run(wall_s: list[float], **kw: object) -> Run:
    return Run(strategy="thread-pool", workers=2, wall_s=wall_s, **kw)  # type: ignore[arg-type]


def _kinds(run: Run, cores: int | None = 2) -> list[str]:
    c = Comparison(workload="w", kind="io", tasks=1, runs=[run])
    return [w.kind for w in noise.comparison_warnings(c, cores)]


def test_quiet_samples_raise_nothing() -> None:
    assert _kinds(_run(QUIET, other_cores=[0.01] * 5, load_avg=[0.2] * 5)) == []


def test_wide_spread_is_noisy_and_says_what_to_do() -> None:
    run = _run([1.0, 1.15, 0.98, 1.02, 1.0])
    warnings = noise.run_warnings(run)
    assert [w.kind for w in warnings] == ["noisy"]
    assert "max/min 1.17" in warnings[0].message
    assert "--repeats" in warnings[0].message


def test_high_cv_alone_is_noisy() -> None:
    # max/min under 1.10 cannot hold a CV over 5 % with 2 samples; 1.0 vs 1.09 is CV 6.1 %.
    assert "noisy" in _kinds(_run([1.0, 1.09]))


def test_first_run_much_slower_asks_for_warmup() -> None:
    warnings = noise.run_warnings(_run([2.0, 1.0, 1.01, 0.99, 1.0]))
    kinds = [w.kind for w in warnings]
    assert "first-run" in kinds
    assert any("--warmup" in w.message for w in warnings)


def test_outlier_is_flagged() -> None:
    assert "outliers" in _kinds(_run([1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 3.0]))


def test_under_one_millisecond() -> None:
    assert "short" in _kinds(_run([0.0004, 0.0004, 0.0004]))


def test_busy_machine_by_other_processes_cpu() -> None:
    kinds = _kinds(_run(QUIET, other_cores=[0.9, 1.0, 1.1, 0.9, 1.0]))
    assert kinds == ["busy"]


def test_a_load_average_from_conlab_own_run_is_no_busy_machine() -> None:
    # The load average counts conlab's own run: 1.1 on 2 cores was a quiet machine.
    assert _kinds(_run(QUIET, other_cores=[0.02] * 5, load_avg=[3.0] * 5), cores=2) == []


def test_a_sample_faster_than_the_rest_is_no_interruption() -> None:
    assert "outliers" not in _kinds(_run([1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 0.3]))


def test_one_line_names_what_matters_most_and_counts_the_rest() -> None:
    run = _run([2.0, 1.0, 1.01, 0.99, 1.0, 1.25], other_cores=[1.0] * 6)
    c = Comparison(workload="w", kind="io", tasks=1, runs=[run])
    warnings = noise.comparison_warnings(c, 2)
    assert len(warnings) >= 3
    line = noise.one_line(warnings)
    assert line is not None and line.startswith("the machine was busy")
    assert f"+{len(warnings) - 1} more" in line
    assert noise.one_line([]) is None


def test_busy_runs_are_one_warning_per_comparison() -> None:
    runs = [_run(QUIET, other_cores=[1.0] * 5), _run(QUIET, other_cores=[1.0] * 5)]
    c = Comparison(workload="w", kind="io", tasks=1, runs=runs)
    assert [w.kind for w in noise.comparison_warnings(c, 2)] == ["busy"]


def test_failed_runs_have_no_timing_warnings() -> None:
    assert _kinds(_run([1.0, 2.0, 3.0], status=RUN_FAILED)) == []


def test_the_busy_warning_gives_the_range_of_others_cpu_not_a_clause_per_run() -> None:
    runs = [_run(QUIET, other_cores=[c] * 5) for c in (0.42, 1.57, 0.7)]
    runs.append(_run(QUIET, other_cores=[0.0] * 5))
    c = Comparison(workload="w", kind="io", tasks=1, runs=runs)
    (busy,) = noise.comparison_warnings(c, 2)
    assert "other processes used 0.42–1.57 cores during 3 of 4 runs" in busy.message, busy
    assert busy.message.count("cores") == 1


def test_a_warning_names_the_run_as_the_table_does_and_keeps_its_key() -> None:
    run = Run(
        strategy="process-pool",
        workers=2,
        wall_s=[1.0, 1.15, 0.98, 1.02, 1.0],
        options={"start_method": "fork"},
    )
    (warning,) = noise.run_warnings(run)
    assert warning.message.startswith("process-pool/fork:2: the samples spread widely")
    assert warning.run == "process-pool:2"  # the key result files and diffs match runs on
