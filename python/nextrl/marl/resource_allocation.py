"""ResourceAllocation (csrc/marl/resource_allocation.h): N agents share R resources by proportional
rationing; private utilities w_i ~ U(0, 2)^R per episode (each agent observes only its own); infos carry
the utilitarian, egalitarian and Nash (geometric-mean) social welfare of the running utilities.

Action [R] in [0, 1] (clipped): the fraction of each remaining resource requested. Observation [4R]:
[own allocation / capacity, remaining / capacity, total allocated / capacity, own utilities / 2].
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
    *, num_agents: int = 4, num_resources: int = 3, max_steps: int = 20, capacities=None, done_threshold: float = 0.1
) -> _core._ResourceAllocationConfig:
    c = _core._ResourceAllocationConfig()
    set_ints(c, "ResourceAllocation", num_agents=num_agents, num_resources=num_resources, max_steps=max_steps)
    c.capacities = [] if capacities is None else [float(v) for v in capacities]
    c.done_threshold = float(done_threshold)
    return c


class ResourceAllocationVectorEnv(MarlVectorEnv):
    """`num_envs` ResourceAllocation games stepped in one C++ call; keyword arguments as `make_config`.
    Renders one bar per resource, full height = its capacity: every agent's allocation stacked from the
    bottom in the agent's colour, what remains in light gray above."""

    metadata = render.metadata(render.RENDER_MODES_IMAGE, 4)

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
        core = _core._ResourceAllocation(self._num_envs_arg(num_envs), c, self._mode_code(autoreset_mode))
        R = c.num_resources
        self._setup(
            core,
            {"agent": spaces.Box(0.0, 1.0, (4 * R,), np.float32)},
            spaces.Box(0.0, 1.0, (R,), np.float32),
            spaces.Box(0.0, 1.0, (core.state_size,), np.float32),
            autoreset_mode,
            copy,
            render_mode,
        )

    def _render_frame(self, index: int) -> np.ndarray:
        N, R = self.config.num_agents, self.config.num_resources
        width, height, margin = 512, 320, 16
        img = render.blank(height, width)
        s = self._core.state[index].astype(np.float64)  # [alloc / c (N R), remaining / c (R), w / 2 (N R)]
        alloc, remaining = s[: N * R].reshape(N, R), s[N * R : N * R + R]
        bar, span = (width - 2 * margin) / R, height - 2 * margin
        for r in range(R):
            x0, x1 = margin + r * bar + 0.15 * bar, margin + (r + 1) * bar - 0.15 * bar
            y = height - margin
            for i in range(N):
                h = alloc[i, r] * span
                render.fill_rect(img, x0, y - h, x1, y, render.PALETTE[i % len(render.PALETTE)])
                y -= h
            render.fill_rect(img, x0, y - remaining[r] * span, x1, y, render.LIGHT_GRAY)
        return img


def parallel_env(**config):
    """PettingZoo ParallelEnv of one ResourceAllocation game (keyword arguments as `make_config`)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(ResourceAllocationVectorEnv, **config)


__all__ = ["ResourceAllocationVectorEnv", "make_config", "parallel_env"]
