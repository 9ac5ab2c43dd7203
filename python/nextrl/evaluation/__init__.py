"""Across-seed statistics (interquartile mean, stratified bootstrap intervals, as in rliable) and the rendering
of experiment results into report.md, PNG plots and metrics.json."""

from nextrl.evaluation.results import (
    Aggregate,
    Bootstrap,
    Curve,
    ExperimentResult,
    Finding,
    Reference,
    Score,
    make_aggregate,
    make_curve,
    make_score,
)
from nextrl.evaluation.stats import (
    Interval,
    bootstrap_replicates,
    iqm,
    mean,
    median,
    pointwise_bands,
    stratified_bootstrap_ci,
    trimmed_mean,
)

__all__ = [
    "Aggregate",
    "Bootstrap",
    "Curve",
    "ExperimentResult",
    "Finding",
    "Interval",
    "Reference",
    "Score",
    "bootstrap_replicates",
    "iqm",
    "make_aggregate",
    "make_curve",
    "make_score",
    "mean",
    "median",
    "pointwise_bands",
    "stratified_bootstrap_ci",
    "trimmed_mean",
]
