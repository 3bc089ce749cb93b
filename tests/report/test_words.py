"""One vocabulary: the same word for the same fact in every renderer, and units as they are."""

from __future__ import annotations

from rich.console import Console

from conlab.advice.profile import Shipping, TaskProbe
from conlab.advice.words import shipping_sentence
from conlab.lab.compare import compare
from conlab.lesson.table import Lesson, Row
from conlab.measure.units import size
from conlab.model import Results, Run, TaskRecord
from conlab.report import explain, trace, words
from conlab.strategies import make
from conlab.workloads import build


def test_fifty_million_bytes_read_as_mebibytes_in_the_advice():
    probe = TaskProbe(
        tasks=1,
        sampled=1,
        duration_s=0.1,
        cpu_s=0.1,
        runqueue_s=0.0,
        pair_s=None,
        alone_s=None,
        pair_cpu_concurrency=None,
        cores=2,
        gil_enabled=True,
        shipping=Shipping(args_bytes=50_000_000, result_bytes=50_000_000),
    )
    sentence = shipping_sentence(probe)
    assert "(47.7 MiB out, 47.7 MiB back)" in sentence, sentence
    assert " MB" not in sentence
    assert size(50_000_000) == "47.7 MiB"


def _failed(*statuses: str) -> Run:
    run = Run("process-pool", 2, status="failed", reason="a task did not complete")
    run.records = [TaskRecord(k, f"t{k}", s) for k, s in enumerate(statuses)]
    return run


def test_a_failed_run_is_named_by_what_its_tasks_did():
    assert words.run_status(_failed("ok", "crashed")) == "crashed"
    assert words.run_status(_failed("timeout", "crashed", "crashed")) == "crashed, timeout"
    assert words.run_status(_failed("ok", "ok")) == "failed"  # a wrong result, every task done
    assert words.run_status(Run("threads", 2, status="incomplete")) == "incomplete"


def test_the_trace_numbers_a_comparison_once():
    numbered = compare(
        build("sleep", tasks=2, sleep_s=0.01),
        [make("threads")],
        repeats=1,
        warmup=0,
        title="1. Waiting work: two sleeps",
    )
    untitled = compare(build("sleep", tasks=2, sleep_s=0.01), [make("threads")], 1, 0)
    events = trace.to_trace(Results({}, [numbered, untitled]))["traceEvents"]
    names = [e["args"]["name"] for e in events if e["name"] == "process_name"]
    assert names and not [n for n in names if n.startswith("1. 1.")], names
    assert any(n.startswith("1. Waiting work: two sleeps: threads:2") for n in names), names
    assert any(n.startswith("2. sleep: threads:2") for n in names), names


def _heading(part: str) -> str:
    lesson = Lesson(
        rows=[Row("Runs truly parallel?", "No: 0.98×", "Yes: 1.9×")],
        extra=[],
        rule="processes for computing, threads for waiting",
        runs={},
        figures={"workers": 2, "cores": 2, "start_method": "fork", "race": {"updates": 1000}},
    )
    console = Console(record=True, width=100)
    explain.render(console, lesson, part)
    return console.export_text().strip().splitlines()[0]


def test_the_lesson_table_is_numbered_only_as_a_part_of_the_demo():
    assert _heading("").startswith("The lesson's table"), _heading("")
    assert _heading("4").startswith("4. The lesson's table"), _heading("4")


def test_a_file_written_before_the_measured_kind_is_headed_with_it_from_its_runs():
    c = compare(build("sleep", tasks=2, sleep_s=0.02), [make("threads")], repeats=1, warmup=0)
    kept = c.measured_kind
    assert kept is not None and kept.kind == "waiting"
    c.measured_kind = None  # as a file from before the field holds it
    from_runs = words.heading(c)
    assert from_runs.startswith("sleep (waiting: CPU "), from_runs
    c.measured_kind = kept
    assert words.heading(c) == from_runs


def crashes(x):
    raise SystemExit(3)


def test_a_comparison_whose_sequential_run_failed_says_its_kind_was_not_measured():
    # Every run of a user's function crashed: its heading said "(mixed, 2 tasks)", the
    # placeholder kind of a function that declares none, read as if the lab had found it.
    from conlab.workloads.user import function_workload

    c = compare(function_workload(crashes, range(2)), [make("sequential")], repeats=1, warmup=0)
    assert words.heading(c).endswith("(kind not measured, 2 tasks)"), words.heading(c)
