"""Amdahl's law fitted to a scaling sweep: the serial fraction, with a bootstrap interval.

Amdahl: with a serial fraction ``f``, ``n`` workers give a speed-up of
``1 / (f + (1 - f) / n)``. Rearranged, ``1/S - 1/n = f * (1 - 1/n)``: a line
through the origin, so the least-squares ``f`` has a closed form. The interval
comes from resampling the timing samples themselves (every worker count's and
the reference's), so a noisy sweep gets a wide interval, as it should.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BOOTSTRAP_ROUNDS = 1000


@dataclass(frozen=True)
class AmdahlFit:
    """The fitted serial fraction, its 95% interval, and how well the curve fits."""

    serial_fraction: float
    low: float
    high: float
    rms_error: float
    points: int

    def speedup(self, workers: float) -> float:
        """The speed-up the fitted law predicts for ``workers``."""
        return amdahl_speedup(self.serial_fraction, workers)

    @property
    def max_speedup(self) -> float | None:
        """The ceiling 1/f as workers grow without bound; None when f is 0."""
        return None if self.serial_fraction <= 0 else 1 / self.serial_fraction


def amdahl_speedup(serial_fraction: float, workers: float) -> float:
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / workers)


def serial_fraction(speedups: Mapping[int, float]) -> float | None:
    """Least-squares serial fraction for ``{workers: speed-up}``, within [0, 1].

    None when no point has more than one worker: one worker says nothing about scaling.
    """
    xs, ys = [], []
    for n, s in speedups.items():
        if n > 1 and s > 0:
            xs.append(1 - 1 / n)
            ys.append(1 / s - 1 / n)
    if not xs:
        return None
    f = sum(x * y for x, y in zip(xs, ys, strict=True)) / sum(x * x for x in xs)
    return min(1.0, max(0.0, f))


def fit_amdahl(
    reference_s: Sequence[float],
    wall_s: Mapping[int, Sequence[float]],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> AmdahlFit | None:
    """Fit from timing samples: the reference (sequential) run's, and each worker count's.

    Speed-ups are ratios of medians, as in every comparison. None when the
    sweep has no point with more than one worker.
    """
    points = {n: s for n, s in wall_s.items() if s}
    if not reference_s or not points:
        return None
    f = serial_fraction(_speedups(reference_s, points))
    if f is None:
        return None
    rng = random.Random(seed)
    estimates = []
    for _ in range(rounds):
        ref = rng.choices(reference_s, k=len(reference_s))
        resampled = {n: rng.choices(list(s), k=len(s)) for n, s in points.items()}
        estimate = serial_fraction(_speedups(ref, resampled))
        if estimate is not None:
            estimates.append(estimate)
    estimates.sort()
    low = estimates[int(0.025 * (len(estimates) - 1))] if estimates else f
    high = estimates[int(0.975 * (len(estimates) - 1))] if estimates else f
    observed = _speedups(reference_s, points)
    errors = [observed[n] - amdahl_speedup(f, n) for n in observed]
    rms = (sum(e * e for e in errors) / len(errors)) ** 0.5
    return AmdahlFit(f, min(low, f), max(high, f), rms, len(observed))


def _speedups(
    reference_s: Sequence[float], wall_s: Mapping[int, Sequence[float]]
) -> dict[int, float]:
    ref = statistics.median(reference_s)
    return {n: ref / statistics.median(s) for n, s in wall_s.items() if statistics.median(s) > 0}
