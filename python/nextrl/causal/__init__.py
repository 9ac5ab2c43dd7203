"""Causal discovery (graphs, CI tests, PC, FCI, NOTEARS, lagged discovery on transitions) and causal models."""

from nextrl.causal.causal_agent import CausalAgentConfig, MPCConfig, plan
from nextrl.causal.ci_tests import KCI, ChiSquare, DSeparation, FisherZ, RandomFeatureCI, make_ci_test
from nextrl.causal.counterfactual import Episodes, collect_episodes, counterfactual_returns, replay_returns
from nextrl.causal.fci import FCIResult, fci
from nextrl.causal.graphs import CPDAG, DAG, PAG, GraphMetrics, compare, meek_closure, shd
from nextrl.causal.lagged import discover_transitions, transition_names
from nextrl.causal.networks import NETWORKS, network, random_dag, sample_discrete, sample_linear_gaussian
from nextrl.causal.notears import NotearsConfig, NotearsResult, notears_linear
from nextrl.causal.pc import Knowledge, PCResult, oracle_pc, orient, pc, skeleton
from nextrl.causal.scm import SCM, InterventionalDataset, fit_scm, interventional_dataset, linear_scm
from nextrl.causal.world_model import TransitionModel, causal_thrust_model, fit_world_model

__all__ = [
    "CPDAG",
    "DAG",
    "KCI",
    "NETWORKS",
    "PAG",
    "SCM",
    "CausalAgentConfig",
    "ChiSquare",
    "DSeparation",
    "Episodes",
    "FCIResult",
    "FisherZ",
    "GraphMetrics",
    "InterventionalDataset",
    "Knowledge",
    "MPCConfig",
    "NotearsConfig",
    "NotearsResult",
    "PCResult",
    "RandomFeatureCI",
    "TransitionModel",
    "causal_thrust_model",
    "collect_episodes",
    "compare",
    "counterfactual_returns",
    "discover_transitions",
    "fci",
    "fit_scm",
    "fit_world_model",
    "interventional_dataset",
    "linear_scm",
    "make_ci_test",
    "meek_closure",
    "network",
    "notears_linear",
    "oracle_pc",
    "orient",
    "pc",
    "plan",
    "random_dag",
    "replay_returns",
    "sample_discrete",
    "sample_linear_gaussian",
    "shd",
    "skeleton",
    "transition_names",
]
