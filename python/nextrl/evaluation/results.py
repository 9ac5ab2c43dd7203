"""What an experiment returns: per-seed scores with their across-seed intervals, learning curves with bands,
normalized aggregates and findings. The runner renders these records (evaluation.report); experiments build
them with the constructors here so that every interval is computed the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nextrl.evaluation.stats import Interval, pointwise_bands, stratified_bootstrap_ci


@dataclass(frozen=True)
class Reference:
    """A published figure: a constant with a source, never a result of the run."""

    value: float
    source: str
    """where it is published, precise enough to find the table (repository, file, row)"""
    spread: float | None = None
    """the published +- (its meaning is in `source`)"""
    steps: int | None = None
    """environment steps the published agent trained for"""

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "spread": self.spread, "steps": self.steps, "source": self.source}


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are computed: stratified bootstrap percentile intervals (evaluation.stats)."""

    reps: int = 2000
    """bootstrap replicates per interval"""
    seed: int = 0
    """seed of the resampling (intervals are reproducible)"""
    confidence: float = 0.95
    """coverage of the intervals"""

    def __post_init__(self):
        if self.reps < 1:
            raise ValueError(f"Bootstrap: reps must be >= 1, got {self.reps}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"Bootstrap: confidence must be in (0, 1), got {self.confidence}")


@dataclass(frozen=True)
class Score:
    """One metric of one agent on one task over seeds: the per-seed values and their summaries."""

    task: str
    agent: str
    metric: str
    values: tuple[float, ...]
    """one value per seed, in the order of the run's seeds"""
    mean: float
    std: float
    """sample standard deviation over seeds (ddof=1; 0 for one seed)"""
    iqm: Interval
    """interquartile mean over seeds and its stratified bootstrap interval"""
    steps: int = 0
    """environment steps each seed trained for"""
    reference: Reference | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "agent": self.agent,
            "metric": self.metric,
            "values": list(self.values),
            "mean": self.mean,
            "std": self.std,
            "iqm": self.iqm.to_dict(),
            "steps": self.steps,
            "reference": None if self.reference is None else self.reference.to_dict(),
        }


def make_score(
    task: str,
    agent: str,
    metric: str,
    values: Sequence[float],
    bootstrap: Bootstrap,
    *,
    steps: int = 0,
    reference: Reference | None = None,
) -> Score:
    v = np.asarray(values, dtype=np.float64)
    iv = stratified_bootstrap_ci(v, "iqm", confidence=bootstrap.confidence, reps=bootstrap.reps, seed=bootstrap.seed)
    return Score(
        task,
        agent,
        metric,
        tuple(float(x) for x in v),
        float(v.mean()),
        float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        iv,
        steps,
        reference,
    )


@dataclass(frozen=True)
class Curve:
    """Learning curves of one agent on one task: values[run, point] at steps[point], and the across-seed
    mean with its bootstrap band at each point."""

    task: str
    agent: str
    ylabel: str
    steps: np.ndarray
    """[num_points] environment steps"""
    values: np.ndarray
    """[num_runs, num_points]; NaN before a run has a value"""
    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    """[num_points] each: mean over runs and its bootstrap interval"""

    def to_dict(self) -> dict[str, Any]:
        def listed(a: np.ndarray) -> list:
            return (
                [None if not np.isfinite(x) else float(x) for x in np.ravel(a)]
                if a.ndim == 1
                else [listed(r) for r in a]
            )

        return {
            "task": self.task,
            "agent": self.agent,
            "ylabel": self.ylabel,
            "steps": [int(s) for s in self.steps],
            "per_seed": listed(self.values),
            "mean": listed(self.point),
            "low": listed(self.low),
            "high": listed(self.high),
        }


def make_curve(task: str, agent: str, ylabel: str, steps: Sequence[int], values, bootstrap: Bootstrap) -> Curve:
    v = np.asarray(values, dtype=np.float64)
    point, low, high = pointwise_bands(
        v, statistic="mean", confidence=bootstrap.confidence, reps=bootstrap.reps, seed=bootstrap.seed
    )
    return Curve(task, agent, ylabel, np.asarray(steps, dtype=np.int64), v, point, low, high)


@dataclass(frozen=True)
class Aggregate:
    """Normalized scores of one group over several tasks, [num_runs, num_tasks], and their IQM interval
    (stratified over tasks, as rliable aggregates an algorithm over a suite)."""

    name: str
    tasks: tuple[str, ...]
    scores: np.ndarray
    iqm: Interval
    mean: Interval

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tasks": list(self.tasks),
            "scores": self.scores.tolist(),
            "iqm": self.iqm.to_dict(),
            "mean": self.mean.to_dict(),
        }


def make_aggregate(name: str, tasks: Sequence[str], scores, bootstrap: Bootstrap) -> Aggregate:
    s = np.asarray(scores, dtype=np.float64)
    kw = {"confidence": bootstrap.confidence, "reps": bootstrap.reps, "seed": bootstrap.seed}
    return Aggregate(
        name, tuple(tasks), s, stratified_bootstrap_ci(s, "iqm", **kw), stratified_bootstrap_ci(s, "mean", **kw)
    )


@dataclass(frozen=True)
class Finding:
    """One sentence of the report's findings, built from numbers of the run. `found` is True for what the
    experiment set out to show and did, False for what it did not show."""

    found: bool
    text: str


@dataclass
class ExperimentResult:
    """Everything an experiment measured; the runner writes report.md, the plots and metrics.json from it."""

    name: str
    title: str
    summary: str
    """one paragraph: what the experiment asks"""
    seeds: list[int]
    config: dict[str, Any]
    setup: list[str]
    """lines of the report's setup section (protocol, budgets, hyperparameters)"""
    scores: list[Score] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    aggregate_note: str = ""
    """how the aggregates are normalized"""
    findings: list[Finding] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    """sources cited by the report"""
    bootstrap: Bootstrap = field(default_factory=Bootstrap)
    wall_time_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    """anything else worth keeping in metrics.json (e.g. timings)"""
    figures: list[Callable[[Path], list[str]]] = field(default_factory=list)
    """experiment-specific plots: each is called with the run folder, writes PNGs there and returns their file
    names, which report.md shows after the standard plots (e.g. discovered graphs next to the true ones)"""


__all__ = [
    "Aggregate",
    "Bootstrap",
    "Curve",
    "ExperimentResult",
    "Finding",
    "Reference",
    "Score",
    "make_aggregate",
    "make_curve",
    "make_score",
]
