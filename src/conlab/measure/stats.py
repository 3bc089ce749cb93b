"""Statistics of timing samples: summaries, outliers, a bootstrap interval and two tests.

Pure functions on lists of floats, standard library only, so that they run in
any interpreter conlab measures. The tests (Mann-Whitney U with the normal
approximation, Welch's t with a Student t p-value) are computed here rather
than taken from scipy, which a bare or free-threaded interpreter may lack.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# hyperfine flags a sample as an outlier above this modified Z-score (outlier_detection.rs).
OUTLIER_THRESHOLD = 14.0
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Summary:
    """What a list of samples says, with every sample kept."""

    median: float
    min: float
    max: float
    q1: float
    q3: float
    mean: float
    stdev: float
    samples: tuple[float, ...]

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def cv(self) -> float:
        """Coefficient of variation: standard deviation over mean (0 for one sample)."""
        return self.stdev / self.mean if self.mean else 0.0


def quantile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile with linear interpolation between order statistics (numpy's default)."""
    if not samples:
        raise ValueError("quantile of no samples")
    xs = sorted(samples)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarise(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("summary of no samples")
    xs = [float(x) for x in samples]
    return Summary(
        median=statistics.median(xs),
        min=min(xs),
        max=max(xs),
        q1=quantile(xs, 0.25),
        q3=quantile(xs, 0.75),
        mean=statistics.fmean(xs),
        stdev=statistics.stdev(xs) if len(xs) > 1 else 0.0,
        samples=tuple(xs),
    )


def modified_z_scores(samples: Sequence[float]) -> list[float]:
    """0.6745 (x - median) / MAD for each sample (Iglewicz and Hoaglin), as hyperfine does.

    When the MAD is zero (most samples equal), the mean absolute deviation
    scaled by 1.2533 stands in for it; when that is zero too, every score is 0.
    """
    if not samples:
        return []
    med = statistics.median(samples)
    deviations = [abs(x - med) for x in samples]
    mad = statistics.median(deviations)
    if mad > 0:
        return [0.6745 * (x - med) / mad for x in samples]
    mean_ad = statistics.fmean(deviations)
    if mean_ad > 0:
        return [(x - med) / (1.253314 * mean_ad) for x in samples]
    return [0.0] * len(samples)


# A sample within this fraction of the median is never an outlier: with a MAD
# near zero (sleep-based work repeats to the microsecond), the Z-score alone would
# flag a 1 ms difference on 1.6 s.
OUTLIER_MIN_RELATIVE = 0.01


def outliers(samples: Sequence[float], threshold: float = OUTLIER_THRESHOLD) -> list[int]:
    """Indices of the samples whose modified Z-score exceeds ``threshold`` in absolute value,
    and which stand more than 1 % from the median."""
    if not samples:
        return []
    middle = statistics.median(samples)
    return [
        k
        for k, z in enumerate(modified_z_scores(samples))
        if abs(z) > threshold and abs(samples[k] - middle) > OUTLIER_MIN_RELATIVE * abs(middle)
    ]


def bootstrap_ratio_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of median(numerator) / median(denominator).

    This is the interval of a speed-up (reference times over a strategy's
    times). Seeded, so the same samples always give the same interval.
    None when a side has no samples or a resampled median is zero.
    """
    if not numerator or not denominator:
        return None
    rng = random.Random(seed)
    num, den = list(numerator), list(denominator)
    ratios = []
    for _ in range(resamples):
        top = statistics.median(rng.choices(num, k=len(num)))
        bottom = statistics.median(rng.choices(den, k=len(den)))
        if bottom <= 0:
            return None
        ratios.append(top / bottom)
    alpha = (1 - confidence) / 2
    return quantile(ratios, alpha), quantile(ratios, 1 - alpha)


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: (U of ``a``, p-value).

    The normal approximation with the tie correction and a continuity
    correction; with few samples it is conservative, which is what a
    "significant" mark needs. p is 1 when every value is tied.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs samples on both sides")
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, side) in zip(ranks, pooled, strict=True) if side == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return u1, 1.0
    z = (abs(u1 - n1 * n2 / 2) - 0.5) / math.sqrt(variance)
    return u1, min(1.0, 2 * normal_sf(max(z, 0.0)))


def welch_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Welch's unequal-variance t test: (t, degrees of freedom, two-sided p-value)."""
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        raise ValueError("Welch's t needs at least two samples on each side")
    m1, m2 = statistics.fmean(a), statistics.fmean(b)
    v1, v2 = statistics.variance(a) / n1, statistics.variance(b) / n2
    if v1 + v2 == 0:
        return (0.0, float(n1 + n2 - 2), 1.0 if m1 == m2 else 0.0)
    t = (m1 - m2) / math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    return t, df, t_two_sided_p(t, df)


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| > |t|) for Student's t with ``df`` degrees of freedom: I_x(df/2, 1/2), x = df/(df+t²)."""
    return regularized_beta(df / (df + t * t), df / 2, 0.5)


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry otherwise.
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float, eps: float = 1e-14, limit: int = 500) -> float:
    """Lentz's evaluation of the continued fraction of I_x(a, b) (Numerical Recipes' betacf)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, limit + 1):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            break
    return h


def as_dict(samples: Sequence[float]) -> dict[str, Any] | None:
    """The summary of ``samples`` and the samples, as the result file keeps a run's times."""
    if not samples:
        return None
    s = summarise(samples)
    return {
        "median": s.median,
        "min": s.min,
        "max": s.max,
        "q1": s.q1,
        "q3": s.q3,
        "iqr": s.iqr,
        "mean": s.mean,
        "stdev": s.stdev,
        "cv": s.cv,
        "outliers": outliers(samples),
        "samples": list(samples),
    }
