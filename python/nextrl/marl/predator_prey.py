"""PredatorPrey (csrc/marl/predator_prey.h): predators hunt prey on a grid_size x grid_size grid.

Agents: "predator_0".. then, with prey_policy="learning", "prey_0".. (with "random" the prey are scripted
and move uniformly at random). Actions: 0 stay, 1 up, 2 down, 3 left, 4 right (border moves stay).
A prey is captured when at least `capture_min_predators` predators are within Manhattan distance
`capture_radius`; every predator gets `capture_reward` per capture, a captured prey -capture_reward and
leaves. `shaping` adds the potential-based distance term shaping * (d_before - d_after). Observation
(size 2 + 3 (P + M - 1)): own [x, y] / G, then [dx / G, dy / G, alive] of every other entity.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import set_ints, unknown_name_error
from nextrl.marl.core import MarlVectorEnv

_PREY = {"random": _core._PreyPolicy.random, "learning": _core._PreyPolicy.learning}


def make_config(
    *,
    num_predators: int = 2,
    num_prey: int = 1,
    grid_size: int = 10,
    max_steps: int = 100,
    prey_policy: str = "random",
    capture_radius: int = 0,
    capture_min_predators: int = 1,
    capture_reward: float = 10.0,
    shaping: float = 0.0,
) -> _core._PredatorPreyConfig:
    if prey_policy not in _PREY:
        raise unknown_name_error("PredatorPrey", "prey_policy", prey_policy, _PREY)
    c = _core._PredatorPreyConfig()
    set_ints(
        c,
        "PredatorPrey",
        num_predators=num_predators,
        num_prey=num_prey,
        grid_size=grid_size,
        max_steps=max_steps,
        capture_radius=capture_radius,
        capture_min_predators=capture_min_predators,
    )
    c.prey_policy = _PREY[prey_policy]
    c.capture_reward, c.shaping = float(capture_reward), float(shaping)
    return c


class PredatorPreyVectorEnv(MarlVectorEnv):
    """`num_envs` PredatorPrey envs stepped in one C++ call; keyword arguments as `make_config`. Renders
    the grid (y up) with predators red and live prey green; "ansi": `P` predator, `p` prey."""

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
        core = _core._PredatorPrey(self._num_envs_arg(num_envs), c, self._mode_code(autoreset_mode))
        n = core.obs_size
        low = np.concatenate([[0.0, 0.0], np.tile([-1.0, -1.0, 0.0], (n - 2) // 3)]).astype(np.float32)
        high = np.concatenate([[1.0, 1.0], np.tile([1.0, 1.0, 1.0], (n - 2) // 3)]).astype(np.float32)
        box = spaces.Box(low, high, (n,), np.float32)
        groups = {name: box for name, _, _ in core.groups}
        state = spaces.Box(0.0, 1.0, (core.state_size,), np.float32)
        self._setup(core, groups, spaces.Discrete(5), state, autoreset_mode, copy, render_mode)

    def _entities(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(row, col) [P + M, 2] int64 of every entity (predators then prey, row 0 the top row), alive
        [P + M] bool, and the number of predators."""
        G, P = self.config.grid_size, self.config.num_predators
        s = self._core.state[index].reshape(-1, 3).astype(np.float64)
        xy = np.rint(s[:, :2] * G).astype(np.int64)
        return np.stack([G - 1 - xy[:, 1], xy[:, 0]], axis=1), s[:, 2] > 0.5, P

    def _render_frame(self, index: int) -> np.ndarray:
        G = self.config.grid_size
        cells, alive, P = self._entities(index)
        colors = np.full((G, G, 3), 255, dtype=np.uint8)
        markers = [(r, c, render.GREEN) for (r, c), a in zip(cells[P:], alive[P:]) if a]
        markers += [(r, c, render.RED) for r, c in cells[:P]]
        return render.grid_frame(colors, markers)

    def _render_ansi(self, index: int) -> str:
        G = self.config.grid_size
        cells, alive, P = self._entities(index)
        chars = np.full((G, G), ".")
        for k in range(len(cells) - 1, -1, -1):  # predators drawn over prey
            if alive[k] or k < P:
                chars[tuple(cells[k])] = "P" if k < P else "p"
        return render.text_grid(chars)


def parallel_env(**config):
    """PettingZoo ParallelEnv of one PredatorPrey env (keyword arguments as `make_config`)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(PredatorPreyVectorEnv, **config)


__all__ = ["PredatorPreyVectorEnv", "make_config", "parallel_env"]
