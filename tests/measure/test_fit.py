"""Amdahl's fit: it recovers a known serial fraction from synthetic timings."""

from __future__ import annotations

import random

import pytest

from conlab.measure.fit import amdahl_speedup, fit_amdahl, serial_fraction


def synthetic(f: float, workers: list[int], noise: float, seed: int = 1):
    """Wall-time samples of a job with serial fraction ``f``: 1 s on one worker, ±noise."""
    rng = random.Random(seed)

    def samples(t: float) -> list[float]:
        return [t * (1 + rng.uniform(-noise, noise)) for _ in range(7)]

    return samples(1.0), {n: samples(f + (1 - f) / n) for n in workers}


@pytest.mark.parametrize("f", [0.0, 0.1, 0.35, 0.8])
def test_recovers_the_serial_fraction_exactly_without_noise(f):
    ref, walls = synthetic(f, [1, 2, 4, 8], noise=0.0)
    fit = fit_amdahl(ref, walls, rounds=50)
    assert fit is not None
    assert fit.serial_fraction == pytest.approx(f, abs=1e-9)
    assert fit.low == pytest.approx(f, abs=1e-9) and fit.high == pytest.approx(f, abs=1e-9)
    assert fit.rms_error == pytest.approx(0.0, abs=1e-9)


def test_recovers_it_with_noise_inside_an_interval_that_holds_it():
    ref, walls = synthetic(0.2, [1, 2, 4, 8, 16], noise=0.03)
    fit = fit_amdahl(ref, walls)
    assert fit is not None
    assert fit.serial_fraction == pytest.approx(0.2, abs=0.03)
    assert fit.low <= 0.2 <= fit.high
    assert fit.high - fit.low < 0.1
    assert fit.max_speedup == pytest.approx(5.0, rel=0.2)


def test_more_noise_gives_a_wider_interval():
    quiet = fit_amdahl(*synthetic(0.2, [1, 2, 4], noise=0.01))
    loud = fit_amdahl(*synthetic(0.2, [1, 2, 4], noise=0.2))
    assert quiet is not None and loud is not None
    assert loud.high - loud.low > quiet.high - quiet.low


def test_no_fit_without_a_point_beyond_one_worker():
    ref, walls = synthetic(0.2, [1], noise=0.0)
    assert fit_amdahl(ref, walls) is None
    assert serial_fraction({}) is None


def test_a_slowdown_is_clamped_to_fully_serial():
    assert serial_fraction({2: 0.5, 4: 0.4}) == 1.0
    assert amdahl_speedup(1.0, 8) == 1.0
    assert amdahl_speedup(0.0, 8) == 8.0
