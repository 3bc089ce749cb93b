"""Computing in blocks or spread out: a thread's CPU timeline (measure.bursts), and the alignment a
free-threaded build reads from it where two threads cannot tell."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conlab.measure.bursts import CpuTimeline, burstiness
from tests.advice.tasks import finely_mixed, wait_then_spin
from tests.test_find_pythons import FT, need_cache

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
MS = 1_000_000


def _timeline(rates: list[float], step_ns: int = MS) -> list[tuple[int, int]]:
    samples, cpu = [(0, 0)], 0
    for k, rate in enumerate(rates, start=1):
        cpu += int(rate * step_ns)
        samples.append((k * step_ns, cpu))
    return samples


def test_computing_in_one_block_is_bursts_of_one_and_spread_evenly_of_zero():
    assert burstiness(_timeline([0.0] * 50 + [1.0] * 50)) == pytest.approx(1.0)
    assert burstiness(_timeline([0.5] * 100)) == pytest.approx(0.0)
    # Half the time at 0.25, half at 0.75: halfway between.
    assert burstiness(_timeline([0.25, 0.75] * 50)) == pytest.approx(0.5)


def test_too_few_intervals_or_one_kind_of_work_says_nothing():
    assert burstiness(_timeline([0.0, 1.0] * 4)) is None
    assert burstiness(_timeline([1.0] * 100)) is None  # only computing
    assert burstiness(_timeline([0.0] * 100)) is None  # only waiting


def _measured(fn, seconds: float) -> float | None:
    with CpuTimeline(expected_s=2 * seconds) as timeline:
        fn(seconds)
    return timeline.burstiness()


def test_a_real_thread_that_waits_then_computes_reads_as_bursts():
    # Best of three: a busy machine makes a computing block look part waiting, never the reverse.
    block = max(_measured(wait_then_spin, 0.05) or 0.0 for _ in range(3))
    fine = min(_measured(finely_mixed, 0.05) or 1.0 for _ in range(3))
    assert block >= 0.6, block
    assert fine <= 0.35, fine


PROBE = """
import json, sys
sys.path.insert(0, {tests!r})
from conlab.advice.profile import probe
from conlab.model import Task, Workload
from tests.advice import tasks
fn = getattr(tasks, sys.argv[1])
p = probe(Workload(name="w", kind="mixed", tasks=[Task(fn, (0.05,)) for _ in range(8)]))
print(json.dumps({{"bursts": p.bursts, "alignment": p.alignment, "gil": p.gil_enabled}}))
"""


def _probe_under(python: str, fn: str) -> dict:
    tests = os.path.abspath(os.path.join(SRC, ".."))
    out = subprocess.run(
        [python, "-c", PROBE.format(tests=tests), fn],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.path.abspath(SRC)},
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_the_free_threaded_build_reads_in_step_tasks_from_their_cpu_timeline():
    need_cache()
    block = max(
        (_probe_under(FT, "wait_then_spin") for _ in range(3)), key=lambda p: p["alignment"]
    )
    fine = min((_probe_under(FT, "finely_mixed") for _ in range(3)), key=lambda p: p["alignment"])
    assert block["gil"] is False and block["alignment"] >= 0.6, block
    assert fine["alignment"] <= 0.35, fine


def test_the_gil_build_reads_no_timeline():
    p = _probe_under(sys.executable, "wait_then_spin")
    assert p["gil"] is True and p["bursts"] is None
