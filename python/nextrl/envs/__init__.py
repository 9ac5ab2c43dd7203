"""Vectorized environments in C++ behind Gymnasium's APIs. Importing nextrl registers every env under
the `nextrl/` namespace: `gym.make("nextrl/GridWorld-v0")`, `gym.make_vec("nextrl/GridWorld-v0", num_envs=4096)`
(which builds the C++ vector env directly)."""

from __future__ import annotations

import gymnasium as gym

from nextrl.envs.control import (
    CartPoleEnv,
    CartPoleVectorEnv,
    CausalThrustEnv,
    CausalThrustVectorEnv,
    HeteroPointMassEnv,
    HeteroPointMassVectorEnv,
    PendulumEnv,
    PendulumVectorEnv,
    PointMassEnv,
    PointMassVectorEnv,
)
from nextrl.envs.core import Env, VectorEnv
from nextrl.envs.datasets import Dataset, collect_dataset
from nextrl.envs.gridworld import GridWorldEnv, GridWorldVectorEnv
from nextrl.envs.quantum_prep import QuantumStatePrepEnv, QuantumStatePrepVectorEnv

# id -> (single env class path, vector env class path, default kwargs)
ENVS: dict[str, tuple[str, str, dict]] = {
    "nextrl/GridWorld-v0": ("nextrl.envs.gridworld:GridWorldEnv", "nextrl.envs.gridworld:GridWorldVectorEnv", {}),
    "nextrl/GridWorld8x8-v0": (
        "nextrl.envs.gridworld:GridWorldEnv",
        "nextrl.envs.gridworld:GridWorldVectorEnv",
        {"width": 8, "height": 8, "obs_mode": "onehot", "step_penalty": 0.01, "max_steps": 100},
    ),
    "nextrl/PointMass-v0": ("nextrl.envs.control:PointMassEnv", "nextrl.envs.control:PointMassVectorEnv", {}),
    "nextrl/CausalThrust-v0": ("nextrl.envs.control:CausalThrustEnv", "nextrl.envs.control:CausalThrustVectorEnv", {}),
    "nextrl/HeteroPointMass-v0": (
        "nextrl.envs.control:HeteroPointMassEnv",
        "nextrl.envs.control:HeteroPointMassVectorEnv",
        {},
    ),
    "nextrl/CartPole-v1": ("nextrl.envs.control:CartPoleEnv", "nextrl.envs.control:CartPoleVectorEnv", {}),
    "nextrl/Pendulum-v1": ("nextrl.envs.control:PendulumEnv", "nextrl.envs.control:PendulumVectorEnv", {}),
    "nextrl/QuantumStatePrep-v0": (
        "nextrl.envs.quantum_prep:QuantumStatePrepEnv",
        "nextrl.envs.quantum_prep:QuantumStatePrepVectorEnv",
        {},
    ),
    "nextrl/QuantumStatePrepGHZ3-v0": (
        "nextrl.envs.quantum_prep:QuantumStatePrepEnv",
        "nextrl.envs.quantum_prep:QuantumStatePrepVectorEnv",
        {"num_qubits": 3, "target": "ghz"},
    ),
    "nextrl/QuantumStatePrepRandom-v0": (
        "nextrl.envs.quantum_prep:QuantumStatePrepEnv",
        "nextrl.envs.quantum_prep:QuantumStatePrepVectorEnv",
        {"num_qubits": 2, "target": "random", "target_depth": 4},
    ),
    "nextrl/FrozenLake-v0": (
        "nextrl.envs.toy_text:FrozenLakeEnv",
        "nextrl.envs.toy_text:FrozenLakeVectorEnv",
        {"map_name": "4x4"},
    ),
    "nextrl/FrozenLake8x8-v0": (
        "nextrl.envs.toy_text:FrozenLakeEnv",
        "nextrl.envs.toy_text:FrozenLakeVectorEnv",
        {"map_name": "8x8"},
    ),
    "nextrl/CliffWalking-v0": (
        "nextrl.envs.toy_text:CliffWalkingEnv",
        "nextrl.envs.toy_text:CliffWalkingVectorEnv",
        {},
    ),
    "nextrl/CliffWalkingSlippery-v0": (
        "nextrl.envs.toy_text:CliffWalkingEnv",
        "nextrl.envs.toy_text:CliffWalkingVectorEnv",
        {"is_slippery": True},
    ),
    "nextrl/SafeGridWorld-v0": (
        "nextrl.envs.safe_grid:SafeGridWorldEnv",
        "nextrl.envs.safe_grid:SafeGridWorldVectorEnv",
        {},
    ),
    "nextrl/RobustGridWorld-v0": (
        "nextrl.envs.robust_grid:RobustGridWorldEnv",
        "nextrl.envs.robust_grid:RobustGridWorldVectorEnv",
        {},
    ),
    "nextrl/GoalGridWorld-v0": (
        "nextrl.envs.goal_grid:GoalGridWorldEnv",
        "nextrl.envs.goal_grid:GoalGridWorldVectorEnv",
        {},
    ),
}


def register_all() -> None:
    for env_id, (single, vector, kwargs) in ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=single, vector_entry_point=vector, kwargs=dict(kwargs))


register_all()

__all__ = [
    "ENVS",
    "CartPoleEnv",
    "CartPoleVectorEnv",
    "CausalThrustEnv",
    "CausalThrustVectorEnv",
    "Dataset",
    "Env",
    "GridWorldEnv",
    "GridWorldVectorEnv",
    "HeteroPointMassEnv",
    "HeteroPointMassVectorEnv",
    "PendulumEnv",
    "PendulumVectorEnv",
    "PointMassEnv",
    "PointMassVectorEnv",
    "QuantumStatePrepEnv",
    "QuantumStatePrepVectorEnv",
    "VectorEnv",
    "collect_dataset",
    "register_all",
]
