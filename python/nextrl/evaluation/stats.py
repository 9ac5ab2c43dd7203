"""Across-seed statistics: interquartile mean and stratified bootstrap confidence intervals.

The estimators of rliable (Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the Statistical
Precipice", NeurIPS; github.com/google-research/rliable), written with NumPy alone: rliable itself pulls in
arch, statsmodels, pandas, seaborn and absl-py, and draws its bootstrap indices from NumPy's global
generator, so its intervals cannot be reproduced from a seed.

Scores are arranged as rliable arranges them, `scores: [num_runs, num_tasks]` float (one row per seed, one
column per task); a 1-D array is one task. A statistic maps `[..., num_runs, num_tasks]` to `[...]` so that
all bootstrap replicates are computed in one vectorized call.

Stratified bootstrap (rliable's `StratifiedBootstrap`, task_bootstrap=False): each replicate resamples the runs
of every task independently, with replacement, keeping the number of runs per task; the interval is the
percentile interval of the replicates (rliable's default method).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]


def _scores(fn: str, scores) -> np.ndarray:
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{fn}: scores must have shape [num_runs] or [num_runs, num_tasks], got {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{fn}: scores must hold at least one run of one task, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{fn}: scores must be finite, got {int(np.sum(~np.isfinite(x)))} non-finite value(s)")
    return x


def trimmed_mean(x, proportion: float, axis: int = -1) -> np.ndarray:
    """Mean after cutting floor(proportion * n) of the smallest and of the largest values along `axis`
    (scipy.stats.trim_mean's convention)."""
    if not 0.0 <= proportion < 0.5:
        raise ValueError(f"trimmed_mean: proportion must be in [0, 0.5), got {proportion}")
    x = np.sort(np.asarray(x, dtype=np.float64), axis=axis)
    n = x.shape[axis]
    cut = int(proportion * n)
    return np.take(x, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def iqm(scores) -> np.ndarray:
    """Interquartile mean over all runs and tasks: the 25% trimmed mean of the pooled scores
    (rliable `aggregate_iqm`). scores: [..., num_runs, num_tasks] -> [...]."""
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim == 1:
        return trimmed_mean(x, 0.25)
    return trimmed_mean(x.reshape(*x.shape[:-2], -1), 0.25)


def mean(scores) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs (rliable `aggregate_mean`). [..., runs, tasks] -> [...]."""
    x = np.asarray(scores, dtype=np.float64)
    return x.mean(axis=-1) if x.ndim == 1 else x.mean(axis=-2).mean(axis=-1)


def median(scores) -> np.ndarray:
    """Median over tasks of the per-task mean over runs (rliable `aggregate_median`). [..., runs, tasks] -> [...]."""
    x = np.asarray(scores, dtype=np.float64)
    return np.median(x, axis=-1) if x.ndim == 1 else np.median(x.mean(axis=-2), axis=-1)


STATISTICS: dict[str, Statistic] = {"iqm": iqm, "mean": mean, "median": median}


def bootstrap_replicates(
    scores, statistic: Statistic, *, reps: int = 2000, seed: int = 0, batch: int = 1000
) -> np.ndarray:
    """`statistic` on `reps` stratified resamples of `scores` [num_runs, num_tasks] (runs drawn with replacement
    within each task, independently per task): returns [reps]. Reproducible from `seed`."""
    x = _scores("bootstrap_replicates", scores)
    if reps < 1:
        raise ValueError(f"bootstrap_replicates: reps must be >= 1, got {reps}")
    rng = np.random.default_rng(seed)
    runs, tasks = x.shape
    cols = np.arange(tasks)
    out = np.empty(reps, dtype=np.float64)
    for start in range(0, reps, batch):  # [batch, runs, tasks] at a time bounds the memory
        k = min(batch, reps - start)
        rows = rng.integers(0, runs, size=(k, runs, tasks))
        out[start : start + k] = statistic(x[rows, cols])
    return out


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap confidence interval."""

    point: float
    low: float
    high: float
    confidence: float
    num_runs: int
    num_tasks: int

    def to_dict(self) -> dict:
        return {
            "point": self.point,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "num_runs": self.num_runs,
            "num_tasks": self.num_tasks,
        }


def stratified_bootstrap_ci(
    scores, statistic: Statistic | str = "iqm", *, confidence: float = 0.95, reps: int = 2000, seed: int = 0
) -> Interval:
    """Point estimate `statistic(scores)` and its percentile interval over `reps` stratified bootstrap replicates
    (rliable `get_interval_estimates(..., method="percentile")`). scores: [num_runs] or [num_runs, num_tasks].
    `statistic` is a function of [..., runs, tasks] or one of "iqm", "mean", "median"."""
    if isinstance(statistic, str):
        if statistic not in STATISTICS:
            raise ValueError(
                f"stratified_bootstrap_ci: statistic must be one of {sorted(STATISTICS)}, got {statistic!r}"
            )
        statistic = STATISTICS[statistic]
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"stratified_bootstrap_ci: confidence must be in (0, 1), got {confidence}")
    x = _scores("stratified_bootstrap_ci", scores)
    boot = bootstrap_replicates(x, statistic, reps=reps, seed=seed)
    alpha = 1.0 - confidence
    low, high = np.quantile(boot, [alpha / 2, 1.0 - alpha / 2])
    return Interval(float(statistic(x)), float(low), float(high), confidence, x.shape[0], x.shape[1])


def pointwise_bands(
    curves, *, statistic: Statistic | str = "mean", confidence: float = 0.95, reps: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Across-seed band of learning curves: curves [num_runs, num_points] on a shared x grid -> (point, low,
    high), each [num_points], the statistic over runs and its bootstrap percentile interval at each point.
    Points where some run has no value yet (NaN) use the runs that have one; with none, all three are NaN."""
    c = np.asarray(curves, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"pointwise_bands: curves must have shape [num_runs, num_points], got {c.shape}")
    point, low, high = (np.full(c.shape[1], np.nan) for _ in range(3))
    for j in range(c.shape[1]):
        col = c[:, j][np.isfinite(c[:, j])]
        if len(col):
            iv = stratified_bootstrap_ci(col, statistic, confidence=confidence, reps=reps, seed=seed + j)
            point[j], low[j], high[j] = iv.point, iv.low, iv.high
    return point, low, high


__all__ = [
    "STATISTICS",
    "Interval",
    "bootstrap_replicates",
    "iqm",
    "mean",
    "median",
    "pointwise_bands",
    "stratified_bootstrap_ci",
    "trimmed_mean",
]
