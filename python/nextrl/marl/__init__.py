"""Vectorized multi-agent environments in C++ (csrc/marl/): a batched API shaped [num_envs, num_agents, ...]
(`nextrl.marl.core`), a PettingZoo ParallelEnv for one env (`<module>.parallel_env(...)`, the `marl`
extra), and `FlattenAgents` for single-agent trainers. The guessing game and patterned RPS are batched in NumPy
(their `parallel_env` goes through `parallel.NumpyMarlParallelEnv`)."""

from __future__ import annotations

from nextrl.marl.core import FlattenAgents, MarlVectorEnv
from nextrl.marl.guessing_game import GuessingGameVectorEnv
from nextrl.marl.matrix_games import GAMES, TWO_STEP_PAYOFFS, MatrixGameVectorEnv, TwoStepGameVectorEnv, payoff_table
from nextrl.marl.mpe import SimpleSpreadVectorEnv, SimpleTagVectorEnv
from nextrl.marl.patterned_rps import PatternedRPSVectorEnv
from nextrl.marl.point_mass_team import PointMassTeamVectorEnv
from nextrl.marl.predator_prey import PredatorPreyVectorEnv
from nextrl.marl.resource_allocation import ResourceAllocationVectorEnv
from nextrl.marl.smart_grid import SmartGridVectorEnv
from nextrl.marl.target_collection import TargetCollectionVectorEnv
from nextrl.marl.traffic import TrafficVectorEnv

__all__ = [
    "GAMES",
    "TWO_STEP_PAYOFFS",
    "FlattenAgents",
    "GuessingGameVectorEnv",
    "MarlVectorEnv",
    "MatrixGameVectorEnv",
    "PatternedRPSVectorEnv",
    "PointMassTeamVectorEnv",
    "PredatorPreyVectorEnv",
    "ResourceAllocationVectorEnv",
    "SimpleSpreadVectorEnv",
    "SimpleTagVectorEnv",
    "SmartGridVectorEnv",
    "TargetCollectionVectorEnv",
    "TrafficVectorEnv",
    "TwoStepGameVectorEnv",
    "payoff_table",
]
