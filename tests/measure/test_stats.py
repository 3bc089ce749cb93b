"""The statistics against samples whose answers are known (values checked against numpy and scipy)."""

from __future__ import annotations

import random

import pytest

from conlab.measure import stats


def test_summary_of_known_samples() -> None:
    s = stats.summarise([float(x) for x in range(1, 11)])
    assert s.median == 5.5
    assert (s.q1, s.q3, s.iqr) == (3.25, 7.75, 4.5)
    assert (s.min, s.max) == (1.0, 10.0)
    assert s.mean == 5.5
    assert s.stdev == pytest.approx(3.0276503540974917)
    assert s.cv == pytest.approx(3.0276503540974917 / 5.5)
    assert s.samples == tuple(float(x) for x in range(1, 11))


def test_one_sample_has_no_spread() -> None:
    s = stats.summarise([0.2])
    assert (s.median, s.iqr, s.stdev, s.cv) == (0.2, 0.0, 0.0, 0.0)


def test_no_samples_is_an_error() -> None:
    with pytest.raises(ValueError):
        stats.summarise([])


def test_outliers_by_modified_z_score_on_the_mad() -> None:
    assert stats.outliers([1.0, 1.01, 0.99, 1.0, 5.0]) == [4]
    assert stats.outliers([1.0, 1.01, 0.99, 1.0, 1.02]) == []
    # MAD zero: most samples equal; the mean absolute deviation stands in.
    z = stats.modified_z_scores([1.0, 1.0, 1.0, 1.0, 40.0])
    assert z[:4] == [0.0] * 4
    assert z[4] == pytest.approx(39 / (1.253314 * 7.8))
    assert stats.outliers([1.0, 1.0, 1.0]) == []


def test_bootstrap_interval_covers_the_true_ratio() -> None:
    rng = random.Random(7)
    slow = [2.0 * (1 + rng.gauss(0, 0.03)) for _ in range(15)]
    fast = [1.0 * (1 + rng.gauss(0, 0.03)) for _ in range(15)]
    ci = stats.bootstrap_ratio_ci(slow, fast)
    assert ci is not None
    lo, hi = ci
    assert lo < 2.0 < hi
    assert hi - lo < 0.2
    assert stats.bootstrap_ratio_ci(slow, fast) == ci  # seeded: the same every time
    assert stats.bootstrap_ratio_ci([], fast) is None


def test_mann_whitney_u_matches_scipy() -> None:
    # scipy.stats.mannwhitneyu([1..5], [6..10], method="asymptotic"): U=0, p=0.012185780355344818
    u, p = stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert u == 0
    assert p == pytest.approx(0.012185780355344818, rel=1e-9)
    # With ties: ranks 1, 3, 3, 6 for A, so U=3; tie-corrected variance 10.857, p=0.172.
    u, p = stats.mann_whitney_u([1, 2, 2, 3], [2, 3, 3, 4])
    assert u == 3
    assert p == pytest.approx(2 * stats.normal_sf(4.5 / (16 / 12 * (9 - 48 / 56)) ** 0.5))
    assert stats.mann_whitney_u([1.0, 1.0], [1.0, 1.0])[1] == 1.0
    assert stats.mann_whitney_u([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])[1] == 1.0


def test_welch_t_matches_scipy() -> None:
    # scipy.stats.ttest_ind([1..5], [6..10], equal_var=False): t=-5, df=8, p=0.001052825793366539
    t, df, p = stats.welch_t([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert (t, df) == (-5.0, 8.0)
    assert p == pytest.approx(0.001052825793366539, rel=1e-6)
    # Unequal variances: means 2 and 6, variances of the means 1/3 and 2.
    t, df, p = stats.welch_t([1, 2, 3], [2, 4, 6, 8, 10])
    assert t == pytest.approx(-4 / (7 / 3) ** 0.5)
    assert df == pytest.approx((7 / 3) ** 2 / ((1 / 3) ** 2 / 2 + 2**2 / 4))
    assert p == pytest.approx(stats.t_two_sided_p(t, df))
    assert 0.03 < p < 0.06


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [(2.228138851986, 10, 0.05), (12.7062047, 1, 0.05), (1.959963985, 1e7, 0.05), (0.0, 5, 1.0)],
)
def test_student_t_p_values_at_known_quantiles(t: float, df: float, p: float) -> None:
    assert stats.t_two_sided_p(t, df) == pytest.approx(p, rel=1e-5, abs=1e-9)
