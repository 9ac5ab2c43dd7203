"""Vectorized environments in C++ behind Gymnasium's APIs. Importing nextrl registers every env under
the `nextrl/` namespace: `gym.make("nextrl/GridWorld-v0")`, `gym.make_vec("nextrl/GridWorld-v0", num_envs=4096)`
(which builds the C++ vector env directly)."""

from __future__ import annotations

import gymnasium as gym

from nextrl.envs.core import Env, VectorEnv
from nextrl.envs.gridworld import GridWorldEnv, GridWorldVectorEnv

# id -> (single env class path, vector env class path, default kwargs)
ENVS: dict[str, tuple[str, str, dict]] = {
    "nextrl/GridWorld-v0": ("nextrl.envs.gridworld:GridWorldEnv", "nextrl.envs.gridworld:GridWorldVectorEnv", {}),
    "nextrl/GridWorld8x8-v0": ("nextrl.envs.gridworld:GridWorldEnv", "nextrl.envs.gridworld:GridWorldVectorEnv",
                               {"width": 8, "height": 8, "obs_mode": "onehot", "step_penalty": 0.01,
                                "max_steps": 100}),
    "nextrl/FrozenLake-v0": ("nextrl.envs.toy_text:FrozenLakeEnv", "nextrl.envs.toy_text:FrozenLakeVectorEnv",
                             {"map_name": "4x4"}),
    "nextrl/FrozenLake8x8-v0": ("nextrl.envs.toy_text:FrozenLakeEnv", "nextrl.envs.toy_text:FrozenLakeVectorEnv",
                                {"map_name": "8x8"}),
    "nextrl/CliffWalking-v0": ("nextrl.envs.toy_text:CliffWalkingEnv", "nextrl.envs.toy_text:CliffWalkingVectorEnv",
                               {}),
    "nextrl/CliffWalkingSlippery-v0": ("nextrl.envs.toy_text:CliffWalkingEnv",
                                       "nextrl.envs.toy_text:CliffWalkingVectorEnv", {"is_slippery": True}),
    "nextrl/SafeGridWorld-v0": ("nextrl.envs.safe_grid:SafeGridWorldEnv", "nextrl.envs.safe_grid:SafeGridWorldVectorEnv",
                                {}),
    "nextrl/RobustGridWorld-v0": ("nextrl.envs.robust_grid:RobustGridWorldEnv",
                                  "nextrl.envs.robust_grid:RobustGridWorldVectorEnv", {}),
    "nextrl/GoalGridWorld-v0": ("nextrl.envs.goal_grid:GoalGridWorldEnv", "nextrl.envs.goal_grid:GoalGridWorldVectorEnv",
                                {}),
}


def register_all() -> None:
    for env_id, (single, vector, kwargs) in ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=single, vector_entry_point=vector, kwargs=dict(kwargs))


register_all()

__all__ = ["ENVS", "Env", "GridWorldEnv", "GridWorldVectorEnv", "VectorEnv", "register_all"]
