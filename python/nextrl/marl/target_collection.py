"""TargetCollection (csrc/marl/target_collection.h): N agents collect T targets on a grid.

Actions: 0 stay, 1 up, 2 down, 3 left, 4 right (border moves stay). Collisions, iterated to a fixed
point: a move is cancelled when another agent wants the same cell, when two agents would swap, or when
the destination holds an agent that stays; cancelled agents get -collision_penalty (trains and
rotations of 3+ agents move). Rewards: target_reward on collecting, team_bonus * collected / N to all,
-step_penalty each step. Observation (size 2 + 2 (N - 1) + 3 T): own [x, y] / G, the other agents'
[dx, dy] / G, each target's [dx / G, dy / G, present].
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import set_ints
from nextrl.marl.core import MarlVectorEnv


def make_config(
    *,
    grid_size: int = 8,
    num_agents: int = 4,
    num_targets: int = 3,
    max_steps: int = 100,
    target_reward: float = 10.0,
    team_bonus: float = 2.0,
    step_penalty: float = 0.1,
    collision_penalty: float = 0.5,
) -> _core._TargetCollectionConfig:
    c = _core._TargetCollectionConfig()
    set_ints(
        c, "TargetCollection", grid_size=grid_size, num_agents=num_agents, num_targets=num_targets, max_steps=max_steps
    )
    c.target_reward, c.team_bonus = float(target_reward), float(team_bonus)
    c.step_penalty, c.collision_penalty = float(step_penalty), float(collision_penalty)
    return c


class TargetCollectionVectorEnv(MarlVectorEnv):
    """`num_envs` TargetCollection envs stepped in one C++ call; keyword arguments as `make_config`. Renders
    the grid (y up) with uncollected targets as yellow cells and agents as discs of distinct colours;
    "ansi": `T` target, agent k as the digit k % 10."""

    metadata = render.metadata(render.RENDER_MODES_TEXT, 8)

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
        **config,
    ):
        self.config = c = make_config(**config)
        core = _core._TargetCollection(self._num_envs_arg(num_envs), c, self._mode_code(autoreset_mode))
        N, T = c.num_agents, c.num_targets
        low = np.concatenate([[0, 0], np.full(2 * (N - 1), -1), np.tile([-1, -1, 0], T)]).astype(np.float32)
        high = np.concatenate([[1, 1], np.full(2 * (N - 1), 1), np.tile([1, 1, 1], T)]).astype(np.float32)
        box = spaces.Box(low, high, (core.obs_size,), np.float32)
        state = spaces.Box(0.0, 1.0, (core.state_size,), np.float32)
        self._setup(core, {"agent": box}, spaces.Discrete(5), state, autoreset_mode, copy, render_mode)

    def _entities(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(agent (row, col) [N, 2], target (row, col) [T, 2], target uncollected [T] bool), row 0 the top."""
        c = self.config
        G, N = c.grid_size, c.num_agents
        s = self._core.state[index].astype(np.float64)
        agents = np.rint(s[: 2 * N].reshape(N, 2) * G).astype(np.int64)
        targets = s[2 * N :].reshape(-1, 3)
        txy = np.rint(targets[:, :2] * G).astype(np.int64)
        to_rc = lambda xy: np.stack([G - 1 - xy[:, 1], xy[:, 0]], axis=1)
        return to_rc(agents), to_rc(txy), targets[:, 2] > 0.5

    def _render_frame(self, index: int) -> np.ndarray:
        G = self.config.grid_size
        agents, targets, left = self._entities(index)
        colors = np.full((G, G, 3), 255, dtype=np.uint8)
        for (r, c), present in zip(targets, left):
            if present:
                colors[r, c] = render.YELLOW
        markers = [(r, c, render.PALETTE[k % len(render.PALETTE)]) for k, (r, c) in enumerate(agents)]
        return render.grid_frame(colors, markers)

    def _render_ansi(self, index: int) -> str:
        G = self.config.grid_size
        agents, targets, left = self._entities(index)
        chars = np.full((G, G), ".")
        for (r, c), present in zip(targets, left):
            if present:
                chars[r, c] = "T"
        for k, (r, c) in enumerate(agents):
            chars[r, c] = str(k % 10)
        return render.text_grid(chars)


def parallel_env(**config):
    """PettingZoo ParallelEnv of one TargetCollection env (keyword arguments as `make_config`)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(TargetCollectionVectorEnv, **config)


__all__ = ["TargetCollectionVectorEnv", "make_config", "parallel_env"]
