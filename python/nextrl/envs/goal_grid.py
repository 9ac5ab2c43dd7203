"""GoalGridWorld (csrc/envs/goal_grid.h): a goal-conditioned gridworld with Gymnasium-Robotics' GoalEnv API.

Observations are Dicts {"observation": [x, y], "achieved_goal": [x, y], "desired_goal": [gx, gy]} (float32;
batched: each [num_envs, 2]); the goal is drawn at every reset uniformly over the free cells other than the
start. `compute_reward(achieved_goal, desired_goal, info)` recomputes rewards for any batch of goal pairs
(hindsight relabelling); the env's own rewards equal it. Sparse: 0 on the goal, -1 elsewhere; dense:
-|achieved - desired|_1. Layout rows as GridWorld's (top row = largest y): `.` free, `#` wall, `S` start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import Env, VectorEnv, as_int, set_ints, unknown_name_error

_KEYS = ("observation", "achieved_goal", "desired_goal")
_REWARD_TYPES = ("sparse", "dense")


def goal_grid_config(
    *,
    width: int = 8,
    height: int = 8,
    layout: Sequence[str] | None = None,
    start: tuple[int, int] | None = (0, 0),
    reward_type: str = "sparse",
    terminate_on_success: bool = True,
    max_steps: int = 50,
) -> _core._GoalGridWorldConfig:
    """The C++ config; `start=None` draws the start uniformly over free cells at every reset."""
    if reward_type not in _REWARD_TYPES:
        raise unknown_name_error("GoalGridWorld", "reward_type", reward_type, _REWARD_TYPES)
    c = _core._GoalGridWorldConfig()
    if layout is not None:
        rows = [str(r).strip() for r in layout]
        if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("GoalGridWorld: layout must be non-empty rows of equal length")
        walls = np.zeros((len(rows), len(rows[0])), dtype=np.uint8)
        for row, text in enumerate(rows):
            for x, ch in enumerate(text):
                if ch not in ".#S":
                    raise ValueError(f"GoalGridWorld: layout character {ch!r} at row {row}, column {x} must be . # S")
                walls[len(rows) - 1 - row, x] = ch == "#"
                if ch == "S":
                    start = (x, len(rows) - 1 - row)
        height, width = walls.shape
        c.walls = walls.ravel().tolist()
    set_ints(c, "GoalGridWorld", width=width, height=height, max_steps=max_steps)
    start = (-1, -1) if start is None else start
    c.start_x, c.start_y = as_int("GoalGridWorld", "start[0]", start[0]), as_int("GoalGridWorld", "start[1]", start[1])
    c.dense, c.terminate_on_success = reward_type == "dense", bool(terminate_on_success)
    return c


def compute_reward(achieved_goal, desired_goal, info: Any = None, *, reward_type: str = "sparse") -> np.ndarray:
    """Rewards for goal pairs [..., 2] -> [...] float32: sparse 0 where equal else -1, dense -L1 distance."""
    a, d = np.asarray(achieved_goal, dtype=np.float64), np.asarray(desired_goal, dtype=np.float64)
    if a.shape != d.shape or a.ndim == 0 or a.shape[-1] != 2:
        raise ValueError(
            f"compute_reward: achieved_goal and desired_goal must have the same shape (..., 2), "
            f"got {a.shape} and {d.shape}"
        )
    dist = np.abs(a - d).sum(-1)
    return (-dist if reward_type == "dense" else -(dist > 0).astype(np.float64)).astype(np.float32)


def _split(flat: np.ndarray) -> dict[str, np.ndarray]:
    return {k: flat[..., 2 * i : 2 * i + 2] for i, k in enumerate(_KEYS)}


class GoalGridWorldVectorEnv(VectorEnv):
    """`num_envs` GoalGridWorlds in one C++ call; keyword arguments as `goal_grid_config`. info["is_success"]
    is 1.0 on the goal. Renders walls dark, the desired goal green and the agent blue ("ansi": `#`, `G`,
    `A`)."""

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
        self.config = goal_grid_config(**config)
        self.reward_type = "dense" if self.config.dense else "sparse"
        core = _core._GoalGridWorld(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        box = spaces.Box(0.0, np.array([self.config.width - 1, self.config.height - 1], np.float32), (2,), np.float32)
        self._setup(core, spaces.Dict(dict.fromkeys(_KEYS, box)), spaces.Discrete(4), autoreset_mode, copy, render_mode)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, infos = super().reset(seed=seed, options=options)
        return _split(obs), self._split_final(infos)

    def step(self, actions):
        obs, rewards, terms, truncs, infos = super().step(actions)
        return _split(obs), rewards, terms, truncs, self._split_final(infos)

    @staticmethod
    def _split_final(infos: dict[str, Any]) -> dict[str, Any]:
        if "final_obs" in infos:
            infos["final_obs"] = np.array([None if o is None else _split(o) for o in infos["final_obs"]], dtype=object)
        return infos

    def compute_reward(self, achieved_goal, desired_goal, info: Any = None) -> np.ndarray:
        """This env's reward for goal pairs [..., 2] -> [...] float32 (hindsight relabelling)."""
        return compute_reward(achieved_goal, desired_goal, info, reward_type=self.reward_type)

    def compute_terminated(self, achieved_goal, desired_goal, info: Any = None) -> np.ndarray:
        """[...] bool: whether reaching `achieved_goal` ends the episode."""
        success = np.all(np.asarray(achieved_goal) == np.asarray(desired_goal), axis=-1)
        return success if self.config.terminate_on_success else np.zeros_like(success)

    def _layout(self, index: int) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
        """(walls [height, width] bool with row 0 the top row, agent (row, col), goal (row, col))."""
        c = self.config
        walls = np.zeros((c.height, c.width), dtype=bool)
        if c.walls:
            walls = np.asarray(c.walls, dtype=bool).reshape(c.height, c.width)[::-1]
        x, y, _, _, gx, gy = (round(float(v)) for v in self._obs[index])
        return walls, (c.height - 1 - y, x), (c.height - 1 - gy, gx)

    def _render_frame(self, index: int) -> np.ndarray:
        walls, agent, goal = self._layout(index)
        colors = np.where(walls[..., None], np.uint8(64), np.uint8(255)).repeat(3, axis=-1)
        colors[goal] = render.GREEN
        return render.grid_frame(colors, [(*agent, render.BLUE)])

    def _render_ansi(self, index: int) -> str:
        walls, agent, goal = self._layout(index)
        chars = np.where(walls, "#", ".")
        chars[goal] = "G"
        chars[agent] = "A"
        return render.text_grid(chars)


class GoalGridWorldEnv(Env):
    vector_cls = GoalGridWorldVectorEnv

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super(Env, self).reset(seed=seed)
        if options is not None and "reset_mask" in options:
            raise ValueError("reset: reset_mask is an option of vector envs, not of a single env")
        obs, infos = self._vec.reset(seed=seed, options=options)
        self._done = False
        self._render_human()
        return {k: v[0] for k, v in obs.items()}, self._single(infos)

    def step(self, action):
        if self._done:
            raise RuntimeError("step: the episode has ended (or reset() was never called); call reset() first")
        a = np.asarray(action)
        if a.shape != self.action_space.shape:
            raise ValueError(f"step: action must have shape {self.action_space.shape}, got {a.shape}")
        obs, r, term, trunc, infos = self._vec.step(a[None])
        self._done = bool(term[0] or trunc[0])
        self._render_human()
        return {k: v[0] for k, v in obs.items()}, float(r[0]), bool(term[0]), bool(trunc[0]), self._single(infos)

    def compute_reward(self, achieved_goal, desired_goal, info: Any = None) -> np.ndarray:
        return self._vec.compute_reward(achieved_goal, desired_goal, info)

    def compute_terminated(self, achieved_goal, desired_goal, info: Any = None) -> np.ndarray:
        return self._vec.compute_terminated(achieved_goal, desired_goal, info)


__all__ = ["GoalGridWorldEnv", "GoalGridWorldVectorEnv", "compute_reward", "goal_grid_config"]
