"""RobustGridWorld (csrc/envs/robust_grid.h): domain randomization per env, the documents' RobustEnvironment.

Every reset draws each env's episode parameters uniformly from the configured ranges:

    size                 int, grid side (start (0, 0), goal (size - 1, size - 1))
    obs_noise            std of the Gaussian noise added to each observation component
    action_failure_prob  probability that an action is replaced by "stay"
    reward_noise         std of the Gaussian noise added to each reward
    num_obstacles        int, distinct interior cells that block moves (-obstacle_penalty when hit)

A range is a (low, high) pair or one value (fixed). `reset(options={"params": {name: value, ...}})` fixes
some of them for the envs being reset (a scalar for all, or an array [num_envs]); the others are drawn.
infos carry all five at every step. Obstacles lie in the interior [1, size - 2]^2 only, so the border
path from start to goal is never blocked. Observation [6] float32:
[x / s, y / s, (gx - x) / s, (gy - y) / s, s / 10, num_obstacles / 10] + noise, clipped to [-1000, 1000].
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import Env, VectorEnv, unknown_name_error

PARAM_NAMES = ("size", "obs_noise", "action_failure_prob", "reward_noise", "num_obstacles")
_INTEGER = {"size", "num_obstacles"}


def _range(name: str, value) -> tuple[float, float]:
    lo, hi = (value, value) if isinstance(value, Real) else tuple(value)
    if name in _INTEGER and (float(lo) != int(lo) or float(hi) != int(hi)):
        raise ValueError(f"RobustGridWorld: {name} range must hold integers, got {value!r}")
    return lo, hi


def robust_grid_config(
    *,
    size=(5, 7),
    obs_noise=(0.0, 0.1),
    action_failure_prob=(0.0, 0.1),
    reward_noise=(0.0, 0.5),
    num_obstacles=(0, 2),
    goal_reward: float = 10.0,
    obstacle_penalty: float = 5.0,
    step_penalty: float = 0.1,
    distance_penalty: float = 0.01,
    max_steps: int = 100,
) -> _core._RobustGridWorldConfig:
    """The C++ config; each randomized parameter is a (low, high) range or a fixed value. Defaults are the
    documents' (base size 6, uncertainty 0.1)."""
    c = _core._RobustGridWorldConfig()
    c.min_size, c.max_size = (int(v) for v in _range("size", size))
    c.min_obs_noise, c.max_obs_noise = (float(v) for v in _range("obs_noise", obs_noise))
    c.min_action_failure, c.max_action_failure = (float(v) for v in _range("action_failure_prob", action_failure_prob))
    c.min_reward_noise, c.max_reward_noise = (float(v) for v in _range("reward_noise", reward_noise))
    c.min_obstacles, c.max_obstacles = (int(v) for v in _range("num_obstacles", num_obstacles))
    c.goal_reward, c.obstacle_penalty = float(goal_reward), float(obstacle_penalty)
    c.step_penalty, c.distance_penalty, c.max_steps = float(step_penalty), float(distance_penalty), int(max_steps)
    return c


class RobustGridWorldVectorEnv(VectorEnv):
    """`num_envs` RobustGridWorlds in one C++ call; keyword arguments as `robust_grid_config`. Frames are
    max_size cells square whatever the episode's size (cells beyond it gray, obstacles dark, goal green,
    agent blue); "ansi" draws the episode's size x size grid (`#` obstacles, `G` goal, `A` agent)."""

    _reset_options = frozenset({"reset_mask", "params"})
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
        self.config = robust_grid_config(**config)
        core = _core._RobustGridWorld(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        low, high = (np.asarray(b, dtype=np.float32) for b in core.obs_bounds(self.config))  # csrc/envs/robust_grid.h
        obs_space = spaces.Box(low, high, dtype=np.float32)
        self._setup(core, obs_space, spaces.Discrete(4), autoreset_mode, copy, render_mode)

    def _apply_reset_options(self, options: dict, mask: np.ndarray | None) -> None:
        params = options.get("params")
        if params is None:
            return
        if not isinstance(params, dict):
            raise TypeError(f"reset: options['params'] must be a dict, got {type(params).__name__}")
        values = np.zeros((self.num_envs, len(PARAM_NAMES)))
        given = [False] * len(PARAM_NAMES)
        for name, value in params.items():
            if name not in PARAM_NAMES:
                raise unknown_name_error("reset", "options['params'] key", name, PARAM_NAMES)
            a = np.asarray(value)
            if a.dtype.kind not in ("iu" if name in _INTEGER else "iuf") or a.dtype == np.bool_:
                kind = "integers" if name in _INTEGER else "real numbers"
                raise TypeError(f"reset: options['params'][{name!r}] must be {kind}, got dtype {a.dtype}")
            if a.ndim not in (0, 1) or (a.ndim == 1 and a.shape != (self.num_envs,)):
                raise ValueError(
                    f"reset: options['params'][{name!r}] must be a scalar or have shape "
                    f"({self.num_envs},), got {a.shape}"
                )
            if not np.all(np.isfinite(a)):
                raise ValueError(f"reset: options['params'][{name!r}] must be finite")
            k = PARAM_NAMES.index(name)
            values[:, k], given[k] = a, True
        self._core.set_pending(values, given, mask)

    def obstacles(self) -> np.ndarray:
        """[num_envs, max_size, max_size] bool: the current episodes' obstacle cells, indexed [env, y, x]."""
        return self._core.obstacles()

    def positions(self) -> np.ndarray:
        """[num_envs, 2] int64: the agents' cells (x, y)."""
        return self._core.positions()

    def sizes(self) -> np.ndarray:
        """[num_envs] int64: the grid side of every env's current episode."""
        return self._core.infos[:, self._info_names.index("size")].astype(np.int64)

    def _layout(self, index: int) -> tuple[int, np.ndarray, tuple[int, int]]:
        """(size, obstacles [size, size] bool with row 0 the top row, agent (row, col)) of env `index`."""
        size = int(self.sizes()[index])
        obstacles = self._core.obstacles()[index, :size, :size][::-1]
        x, y = (int(v) for v in self._core.positions()[index])
        return size, obstacles, (size - 1 - y, x)

    def _render_frame(self, index: int) -> np.ndarray:
        n = self.config.max_size
        size, obstacles, (row, col) = self._layout(index)
        colors = np.empty((n, n, 3), dtype=np.uint8)
        colors[:] = render.LIGHT_GRAY
        top = n - size  # the episode's grid sits in the bottom-left corner, y up
        block = colors[top:, :size]
        block[:] = render.WHITE
        block[obstacles] = render.DARK_GRAY
        block[0, size - 1] = render.GREEN
        return render.grid_frame(colors, [(top + row, col, render.BLUE)])

    def _render_ansi(self, index: int) -> str:
        size, obstacles, agent = self._layout(index)
        chars = np.where(obstacles, "#", ".")
        chars[0, size - 1] = "G"
        chars[agent] = "A"
        return render.text_grid(chars)


class RobustGridWorldEnv(Env):
    vector_cls = RobustGridWorldVectorEnv


__all__ = ["PARAM_NAMES", "RobustGridWorldEnv", "RobustGridWorldVectorEnv", "robust_grid_config"]
