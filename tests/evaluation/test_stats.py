"""evaluation.stats against independent references: scipy.stats.trim_mean, scipy.stats.bootstrap, the closed form
of the bootstrap distribution of a mean, and the exact (enumerated) stratified bootstrap distribution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats

from nextrl.evaluation import stats


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 10, 13, 20])
def test_trimmed_mean_and_iqm_match_scipy(n):
    x = np.random.default_rng(n).normal(size=n) * 10
    for p in (0.0, 0.1, 0.25, 0.4):
        np.testing.assert_allclose(stats.trimmed_mean(x, p), scipy.stats.trim_mean(x, p), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.iqm(x), scipy.stats.trim_mean(x, 0.25), rtol=1e-12, atol=1e-12)


def test_iqm_pools_runs_and_tasks_and_batches():
    rng = np.random.default_rng(0)
    scores = rng.exponential(size=(5, 3))  # [runs, tasks]
    np.testing.assert_allclose(stats.iqm(scores), scipy.stats.trim_mean(scores, 0.25, axis=None), rtol=1e-12)
    batch = rng.exponential(size=(4, 5, 3))
    np.testing.assert_allclose(stats.iqm(batch), [scipy.stats.trim_mean(b, 0.25, axis=None) for b in batch], rtol=1e-12)
    # 5 values: the IQM drops the smallest and the largest
    np.testing.assert_allclose(stats.iqm([1.0, 2.0, 3.0, 4.0, 100.0]), 3.0, rtol=0, atol=1e-12)


def test_mean_and_median_of_task_means():
    scores = np.array([[1.0, 10.0, 0.0], [3.0, 20.0, 2.0]])  # task means 2, 15, 1
    np.testing.assert_allclose(stats.mean(scores), 6.0, rtol=1e-12)
    np.testing.assert_allclose(stats.median(scores), 2.0, rtol=1e-12)


def test_bootstrap_is_stratified_by_task():
    # disjoint value ranges per task: a resampled column holds only values of its own task, and every run count
    # per task is kept
    scores = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])
    seen = []
    rep = stats.bootstrap_replicates(
        scores, lambda r: (seen.append(r.copy()), r.sum(axis=(-2, -1)))[1], reps=500, seed=3, batch=100
    )
    r = np.concatenate(seen)
    assert r.shape == (500, 3, 2) and rep.shape == (500,)
    assert set(np.unique(r[:, :, 0])) <= {0.0, 1.0, 2.0} and set(np.unique(r[:, :, 1])) <= {10.0, 11.0, 12.0}
    # runs of different tasks are drawn independently (not whole rows): some replicate pairs 0 with 11
    assert np.any((r[:, :, 0] == 0.0) & (r[:, :, 1] == 11.0))


def test_bootstrap_distribution_of_the_mean_matches_its_closed_form():
    # the bootstrap distribution of a mean of n values has mean x_bar and variance sigma_hat^2 / n (ddof 0)
    x = np.random.default_rng(1).gamma(2.0, size=12)
    rep = stats.bootstrap_replicates(x, stats.mean, reps=40_000, seed=0)
    se = np.sqrt(x.var() / len(x))
    np.testing.assert_allclose(rep.mean(), x.mean(), rtol=0, atol=4 * se / np.sqrt(len(rep)))
    np.testing.assert_allclose(rep.var(), x.var() / len(x), rtol=0.04)


def test_stratified_distribution_matches_exact_enumeration():
    # 3 runs x 2 tasks: all (3^3)^2 = 729 resamples are equally likely; the replicate distribution of the IQM must
    # match the enumerated one (CDF within 5 binomial standard errors at every support point)
    scores = np.array([[1.0, 7.0], [2.0, 4.0], [6.0, 5.0]])
    picks = list(itertools.product(range(3), repeat=3))
    exact = np.array(
        [stats.iqm(np.stack([scores[list(a), 0], scores[list(b), 1]], axis=1)) for a in picks for b in picks]
    )
    reps = 100_000
    rep = stats.bootstrap_replicates(scores, stats.iqm, reps=reps, seed=11)
    for t in np.unique(exact):
        p = np.mean(exact <= t + 1e-12)
        tol = 5 * np.sqrt(max(p * (1 - p), 1e-12) / reps) + 1e-12
        assert abs(np.mean(rep <= t + 1e-12) - p) <= tol, (t, p)


@pytest.mark.parametrize(
    "statistic,scipy_stat",
    [
        ("mean", lambda x, axis: np.mean(x, axis=axis)),
        ("iqm", lambda x, axis: scipy.stats.trim_mean(x, 0.25, axis=axis)),
    ],
)
def test_single_task_interval_matches_scipy_bootstrap(statistic, scipy_stat):
    x = np.random.default_rng(5).normal(100.0, 15.0, size=25)
    ours = stats.stratified_bootstrap_ci(x, statistic, reps=20_000, seed=0)
    ref = scipy.stats.bootstrap(
        (x,),
        scipy_stat,
        n_resamples=20_000,
        method="percentile",
        confidence_level=0.95,
        random_state=np.random.default_rng(123),
    )
    width = ref.confidence_interval.high - ref.confidence_interval.low
    np.testing.assert_allclose(
        [ours.low, ours.high], [ref.confidence_interval.low, ref.confidence_interval.high], rtol=0, atol=0.03 * width
    )
    np.testing.assert_allclose(ours.point, scipy_stat(x, None), rtol=1e-12)
    assert (ours.num_runs, ours.num_tasks, ours.confidence) == (25, 1, 0.95)


def test_interval_coverage_of_a_normal_mean():
    # percentile intervals of the mean of 20 normal values cover the true mean about 93-95% of the time
    rng = np.random.default_rng(7)
    trials = 300
    hits = sum(
        iv.low <= 0.0 <= iv.high
        for iv in (stats.stratified_bootstrap_ci(rng.normal(size=20), "mean", reps=1000, seed=s) for s in range(trials))
    )
    assert 0.88 <= hits / trials <= 0.99, hits


def test_interval_reproducible_from_seed_and_degenerate_for_constant_scores():
    x = np.random.default_rng(0).normal(size=10)
    a, b = stats.stratified_bootstrap_ci(x, reps=500, seed=4), stats.stratified_bootstrap_ci(x, reps=500, seed=4)
    c = stats.stratified_bootstrap_ci(x, reps=500, seed=5)
    assert a == b and (a.low, a.high) != (c.low, c.high)
    np.testing.assert_array_equal(
        stats.bootstrap_replicates(x, stats.iqm, reps=300, seed=9, batch=7),
        stats.bootstrap_replicates(x, stats.iqm, reps=300, seed=9, batch=7),
    )
    iv = stats.stratified_bootstrap_ci(np.full((4, 2), 3.5), "iqm", reps=100)
    assert (iv.point, iv.low, iv.high) == (3.5, 3.5, 3.5)
    # a lower confidence gives a narrower interval from the same replicates
    narrow = stats.stratified_bootstrap_ci(x, reps=500, seed=4, confidence=0.5)
    assert a.low < narrow.low <= narrow.high < a.high


def test_pointwise_bands_per_point_and_nan_handling():
    curves = np.array([[np.nan, 1.0, 2.0, 5.0], [np.nan, np.nan, 4.0, 6.0], [np.nan, 3.0, 9.0, 7.0]])
    point, low, high = stats.pointwise_bands(curves, reps=300, seed=2)
    assert np.all(np.isnan([point[0], low[0], high[0]]))
    np.testing.assert_allclose(point[1:], [2.0, 5.0, 6.0], rtol=1e-12)
    for j, col in ((1, [1.0, 3.0]), (2, [2.0, 4.0, 9.0]), (3, [5.0, 6.0, 7.0])):
        iv = stats.stratified_bootstrap_ci(col, "mean", reps=300, seed=2 + j)
        assert (low[j], high[j]) == (iv.low, iv.high)


@pytest.mark.parametrize(
    "call,err,match",
    [
        (
            lambda: stats.stratified_bootstrap_ci(np.zeros((2, 2, 2))),
            ValueError,
            r"scores must have shape \[num_runs\]",
        ),
        (lambda: stats.stratified_bootstrap_ci([]), ValueError, "at least one run"),
        (lambda: stats.stratified_bootstrap_ci([1.0, np.nan]), ValueError, "must be finite, got 1 non-finite"),
        (
            lambda: stats.stratified_bootstrap_ci([1.0, 2.0], "mode"),
            ValueError,
            r"statistic must be one of \['iqm', 'mean', 'median'\], got 'mode'",
        ),
        (
            lambda: stats.stratified_bootstrap_ci([1.0, 2.0], confidence=1.0),
            ValueError,
            r"confidence must be in \(0, 1\)",
        ),
        (lambda: stats.bootstrap_replicates([1.0, 2.0], stats.mean, reps=0), ValueError, "reps must be >= 1, got 0"),
        (lambda: stats.trimmed_mean([1.0], 0.5), ValueError, r"proportion must be in \[0, 0.5\), got 0.5"),
        (lambda: stats.pointwise_bands([1.0, 2.0]), ValueError, r"curves must have shape \[num_runs, num_points\]"),
    ],
)
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()
