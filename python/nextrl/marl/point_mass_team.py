"""PointMassTeam (csrc/marl/point_mass_team.h): the documents' continuous team task (CA18), fixed.

n point masses; action [2] in [-1, 1] (clipped) accelerates; reward "cooperative" (reach the origin
together), "competitive" (+1 to the agent nearest the origin, -0.1 to the others) or "mixed" (agent k in
team k % num_teams: stay near teammates, keep 2 units from opponents). An agent leaving the disc of
radius `bound` terminates and is masked (frozen, no reward, ignored by the others).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import set_ints, unknown_name_error
from nextrl.marl.core import MarlVectorEnv

_REWARDS = {
    "cooperative": _core._TeamReward.cooperative,
    "competitive": _core._TeamReward.competitive,
    "mixed": _core._TeamReward.mixed,
}


def make_config(
    *,
    num_agents: int = 3,
    num_teams: int = 2,
    max_steps: int = 200,
    reward: str = "cooperative",
    bound: float = 5.0,
    noise_std: float = 0.02,
    obs_noise_std: float = 0.1,
) -> _core._PointMassTeamConfig:
    if reward not in _REWARDS:
        raise unknown_name_error("PointMassTeam", "reward", reward, _REWARDS)
    c = _core._PointMassTeamConfig()
    set_ints(c, "PointMassTeam", num_agents=num_agents, num_teams=num_teams, max_steps=max_steps)
    c.reward = _REWARDS[reward]
    c.bound, c.noise_std, c.obs_noise_std = float(bound), float(noise_std), float(obs_noise_std)
    return c


class PointMassTeamVectorEnv(MarlVectorEnv):
    """`num_envs` PointMassTeam envs stepped in one C++ call; keyword arguments as `make_config`. Renders
    the disc of radius `bound` with the origin (green cross) and every agent (coloured by agent, or by team
    for "mixed"; gray once it has left the disc)."""

    metadata = render.metadata(render.RENDER_MODES_IMAGE, 30)

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
        core = _core._PointMassTeam(self._num_envs_arg(num_envs), c, self._mode_code(autoreset_mode))
        inf = np.float32(np.inf)
        self._setup(
            core,
            {"agent": spaces.Box(-inf, inf, (4,), np.float32)},
            spaces.Box(-1.0, 1.0, (2,), np.float32),
            spaces.Box(-inf, inf, (core.state_size,), np.float32),
            autoreset_mode,
            copy,
            render_mode,
        )

    def _render_frame(self, index: int) -> np.ndarray:
        c, size = self.config, 400
        img = render.blank(size, size)
        scale, mid = (size / 2 - 20) / c.bound, size / 2
        render.ring(img, mid, mid, c.bound * scale, render.LIGHT_GRAY, 2)
        render.fill_rect(img, mid - 8, mid - 1, mid + 8, mid + 1, render.GREEN)
        render.fill_rect(img, mid - 1, mid - 8, mid + 1, mid + 8, render.GREEN)
        states = self._core.state[index].reshape(-1, 4).astype(np.float64)
        active = self._core.active[index]
        team = c.reward == _REWARDS["mixed"]
        for k, (x, y, _, _) in enumerate(states):
            color = render.PALETTE[(k % c.num_teams if team else k) % len(render.PALETTE)]
            x, y = np.clip(x, -1.1 * c.bound, 1.1 * c.bound), np.clip(y, -1.1 * c.bound, 1.1 * c.bound)
            render.fill_circle(img, mid + x * scale, mid - y * scale, 8, color if active[k] else render.GRAY)
        return img


def parallel_env(**config):
    """PettingZoo ParallelEnv of one PointMassTeam env (keyword arguments as `make_config`)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(PointMassTeamVectorEnv, **config)


__all__ = ["PointMassTeamVectorEnv", "make_config", "parallel_env"]
