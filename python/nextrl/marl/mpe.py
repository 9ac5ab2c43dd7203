"""MPE particle worlds (csrc/marl/mpe.h) with mpe2 1.1's definitions: simple_spread_v3 and simple_tag_v3
(full observability, no curriculum), keyword arguments as mpe2's, Discrete(5) or Box(0, 1, (5,)) actions.

Agents and observations are mpe2's: simple_spread "agent_0".. with [v, p, landmarks - p, others - p,
comm 0]; simple_tag "adversary_0".. (group "adversary") then "agent_0".. (group "agent"), whose
observations differ in size (the batched obs pads the smaller group with zeros; `group_obs` unpads).
The global state is mpe2's state(): every agent's observation, concatenated. `world_state()` returns
the exact positions and velocities [num_envs, entities, 4] (p_x, p_y, v_x, v_y) in float64.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import as_int
from nextrl.marl.core import MarlVectorEnv


class _MpeVectorEnv(MarlVectorEnv):
    """Renders as mpe2 does: a 700 x 700 view scaled to the farthest entity, simple_spread agents blue
    (0.15 wide) over dark landmarks, simple_tag adversaries red, good agents green, obstacles dark."""

    metadata = render.metadata(render.RENDER_MODES_IMAGE, 30)

    def _build(self, num_envs, config, continuous_actions, autoreset_mode, copy, render_mode):
        self.config = config
        self.continuous_actions = bool(continuous_actions)
        cls = _core._MpeContinuous if self.continuous_actions else _core._Mpe
        core = cls(self._num_envs_arg(num_envs), config, self._mode_code(autoreset_mode))
        inf = np.float32(np.inf)
        groups = {name: spaces.Box(-inf, inf, (size,), np.float32) for name, _, size in core.groups}
        action = spaces.Box(0.0, 1.0, (5,), np.float32) if self.continuous_actions else spaces.Discrete(5)
        state = spaces.Box(-inf, inf, (core.state_size,), np.float32)
        self._setup(core, groups, action, state, autoreset_mode, copy, render_mode)

    def world_state(self) -> np.ndarray:
        """Positions and velocities [num_envs, entities, 4] float64, agents then landmarks."""
        return self._core.world_state()

    def _entities(self) -> list[tuple[float, render.Color]]:
        """(size, colour) of every entity in world_state order (mpe2's sizes and colours)."""
        c = self.config
        if c.scenario == _core._MpeScenario.simple_spread:
            return [(0.15, (89, 89, 217))] * c.num_agents + [(0.05, (64, 64, 64))] * c.num_agents
        return (
            [(0.075, (217, 89, 89))] * c.num_adversaries
            + [(0.05, (89, 217, 89))] * c.num_good
            + [(0.2, (64, 64, 64))] * c.num_obstacles
        )

    def _render_frame(self, index: int) -> np.ndarray:
        size = 700
        img = render.blank(size, size)
        positions = self._core.world_state()[index, :, :2]
        cam_range = max(float(np.max(np.abs(positions))), 1e-6)
        scale = size / 2 * 0.9 / cam_range
        entities = self._entities()
        order = list(range(self.num_agents, len(entities))) + list(range(self.num_agents))  # agents on top
        for k in order:
            radius, color = entities[k]
            x, y = positions[k]
            render.fill_circle(img, size / 2 + x * scale, size / 2 - y * scale, radius * scale, color)
        return img


class SimpleSpreadVectorEnv(_MpeVectorEnv):
    """`num_envs` simple_spread worlds: N agents cover N landmarks without colliding."""

    def __init__(
        self,
        num_envs: int = 1,
        *,
        N: int = 3,
        local_ratio: float = 0.5,
        max_cycles: int = 25,
        continuous_actions: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
    ):
        c = _core._MpeConfig()
        c.scenario, c.local_ratio = _core._MpeScenario.simple_spread, float(local_ratio)
        c.num_agents, c.max_cycles = as_int("simple_spread", "N", N), as_int("simple_spread", "max_cycles", max_cycles)
        self._build(num_envs, c, continuous_actions, autoreset_mode, copy, render_mode)


class SimpleTagVectorEnv(_MpeVectorEnv):
    """`num_envs` simple_tag worlds: slower adversaries chase faster good agents among obstacles."""

    def __init__(
        self,
        num_envs: int = 1,
        *,
        num_good: int = 1,
        num_adversaries: int = 3,
        num_obstacles: int = 2,
        max_cycles: int = 25,
        continuous_actions: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
    ):
        c = _core._MpeConfig()
        c.scenario = _core._MpeScenario.simple_tag
        c.num_good = as_int("simple_tag", "num_good", num_good)
        c.num_adversaries = as_int("simple_tag", "num_adversaries", num_adversaries)
        c.num_obstacles = as_int("simple_tag", "num_obstacles", num_obstacles)
        c.max_cycles = as_int("simple_tag", "max_cycles", max_cycles)
        self._build(num_envs, c, continuous_actions, autoreset_mode, copy, render_mode)


def simple_spread_parallel_env(**config):
    """PettingZoo ParallelEnv of one simple_spread world (keyword arguments as SimpleSpreadVectorEnv)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(SimpleSpreadVectorEnv, **config)


def simple_tag_parallel_env(**config):
    """PettingZoo ParallelEnv of one simple_tag world (keyword arguments as SimpleTagVectorEnv)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(SimpleTagVectorEnv, **config)


__all__ = ["SimpleSpreadVectorEnv", "SimpleTagVectorEnv", "simple_spread_parallel_env", "simple_tag_parallel_env"]
