"""The data model's derived figures."""

from __future__ import annotations

import pytest

from conlab.model import Task, Workload, schedule_floor_s
from conlab.workloads import build


def test_the_seed_floor_is_the_lessons():
    seed = build("seed")
    assert seed.floor_s(1) == pytest.approx(1.6)
    assert seed.floor_s(2) == pytest.approx(0.8)
    assert seed.floor_s(3) == pytest.approx(0.8)


def test_floor_hands_tasks_to_the_first_free_worker():
    assert schedule_floor_s([1, 1, 1], 2) == 2
    assert schedule_floor_s([3, 1, 1, 1], 2) == 3
    assert schedule_floor_s([], 4) == 0


def test_a_workload_checks_its_own_shape():
    with pytest.raises(ValueError, match="kind must be one of"):
        Workload(name="x", kind="quantum", tasks=[])
    with pytest.raises(ValueError, match="one task per task"):
        Workload(name="x", tasks=[Task(print)], async_tasks=[])


def test_cpu_workload_checks_against_an_independent_sieve():
    cpu = build("cpu", tasks=3, size=0.05)
    from conlab.workloads.compute import count_primes

    assert [count_primes(*t.args) for t in cpu.tasks] == cpu.expected
