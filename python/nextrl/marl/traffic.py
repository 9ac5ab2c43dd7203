"""Traffic (csrc/marl/traffic.h): N vehicles on a single-lane ring road with car following, collisions
detected as crossing positions (unwrapped coordinates, so no crossing is skipped), and a safety cost in
info["cost"] (vehicles closer than min_gap to their leader, or colliding).

Action [1] in [-1, 1] (clipped) x max_accel. Observation [6]: [v, v_target] / v_max, gap ahead / L,
leader speed difference / v_max, gap behind / L, follower speed difference / v_max.
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
    num_vehicles: int = 4,
    max_steps: int = 200,
    road_length: float = 100.0,
    vehicle_length: float = 4.0,
    min_gap: float = 2.0,
    dt: float = 0.1,
    max_accel: float = 3.0,
    v_max: float = 25.0,
    safety_penalty: float = 1.0,
    collision_penalty: float = 10.0,
) -> _core._TrafficConfig:
    c = _core._TrafficConfig()
    set_ints(c, "Traffic", num_vehicles=num_vehicles, max_steps=max_steps)
    c.road_length, c.vehicle_length, c.min_gap = float(road_length), float(vehicle_length), float(min_gap)
    c.dt, c.max_accel, c.v_max = float(dt), float(max_accel), float(v_max)
    c.safety_penalty, c.collision_penalty = float(safety_penalty), float(collision_penalty)
    return c


class TrafficVectorEnv(MarlVectorEnv):
    """`num_envs` ring roads stepped in one C++ call; keyword arguments as `make_config`. Renders the ring
    (position 0 at the top, driving clockwise) with each vehicle coloured from red (stopped) to green
    (v_max)."""

    metadata = render.metadata(render.RENDER_MODES_IMAGE, 10)

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
        core = _core._Traffic(self._num_envs_arg(num_envs), c, self._mode_code(autoreset_mode))
        inf = np.float32(np.inf)
        self._setup(
            core,
            {"vehicle": spaces.Box(-inf, inf, (6,), np.float32)},
            spaces.Box(-1.0, 1.0, (1,), np.float32),
            spaces.Box(-inf, inf, (core.state_size,), np.float32),
            autoreset_mode,
            copy,
            render_mode,
        )

    def _render_frame(self, index: int) -> np.ndarray:
        size, radius = 400, 160.0
        img = render.blank(size, size)
        render.ring(img, size / 2, size / 2, radius, render.DARK_GRAY, 24)
        s = self._core.state[index].reshape(-1, 3).astype(np.float64)  # [(s mod L) / L, v / v_max, v_target / v_max]
        for frac, speed, _ in s:
            angle = 2 * np.pi * frac
            x, y = size / 2 + radius * np.sin(angle), size / 2 - radius * np.cos(angle)
            render.fill_circle(img, x, y, 9, render.lerp_color(render.RED, render.GREEN, speed))
        return img


def parallel_env(**config):
    """PettingZoo ParallelEnv of one ring road (keyword arguments as `make_config`)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(TrafficVectorEnv, **config)


__all__ = ["TrafficVectorEnv", "make_config", "parallel_env"]
