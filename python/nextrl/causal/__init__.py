"""Causal discovery (graphs, CI tests, PC, FCI, NOTEARS, lagged discovery on transitions) and causal models."""

from nextrl.causal.ci_tests import ChiSquare, DSeparation, FisherZ, RandomFeatureCI, make_ci_test
from nextrl.causal.graphs import CPDAG, DAG, PAG, GraphMetrics, compare, meek_closure, shd
from nextrl.causal.pc import Knowledge, PCResult, oracle_pc, orient, pc, skeleton

__all__ = [
    "CPDAG",
    "DAG",
    "PAG",
    "ChiSquare",
    "DSeparation",
    "FisherZ",
    "GraphMetrics",
    "Knowledge",
    "PCResult",
    "RandomFeatureCI",
    "compare",
    "make_ci_test",
    "meek_closure",
    "oracle_pc",
    "orient",
    "pc",
    "shd",
    "skeleton",
]
