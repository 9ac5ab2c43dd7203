"""FrozenLake and CliffWalking (csrc/envs/toy_text.h): Gymnasium 1.4's toy-text envs, step for step, batched.

Same arguments, state encoding (row * ncol + col, Discrete int64), rewards, terminations, slippery
outcome lists and info["prob"] as `gym.make("FrozenLake-v1")` / `gym.make("CliffWalking-v1")`; the time
limit is built in (`max_steps`: FrozenLake 100 for 4x4 and custom maps, 200 for 8x8 as Gymnasium's
registrations; CliffWalking none). Only the random streams differ (Philox keyed by seed + env index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.envs.toy_text.frozen_lake import MAPS, generate_random_map
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import Env, VectorEnv, as_int, unknown_name_error

_MAX_STEPS = {"4x4": 100, "8x8": 200}


def frozen_lake_config(
    *,
    desc: Sequence[str] | None = None,
    map_name: str | None = "4x4",
    is_slippery: bool = True,
    success_rate: float = 1.0 / 3.0,
    reward_schedule: Sequence[float] = (1, 0, 0),
    max_steps: int | None = None,
) -> _core._FrozenLakeConfig:
    """The C++ config from Gymnasium's FrozenLakeEnv arguments. `desc` (rows of S / F / H / G) wins over
    `map_name`; Gymnasium's random map for desc = map_name = None is `generate_random_map(size, seed=...)`,
    passed as desc, so that it is seeded."""
    if desc is None:
        if map_name is None:
            raise ValueError(
                "FrozenLake: pass desc or map_name; for a random map pass "
                "desc=generate_random_map(size, seed=...) (from nextrl.envs.toy_text)"
            )
        if map_name not in MAPS:
            raise unknown_name_error("FrozenLake", "map_name", map_name, MAPS)
        rows = MAPS[map_name]
    else:
        rows = [str(r) for r in desc]
        if not rows or any(len(r) != len(rows[0]) for r in rows) or not rows[0]:
            raise ValueError(f"FrozenLake: desc must be non-empty rows of equal length, got {list(desc)!r}")
    schedule = tuple(reward_schedule)
    if len(schedule) != 3:
        raise ValueError(f"FrozenLake: reward_schedule must be (goal, hole, frozen), got {schedule!r}")
    c = _core._FrozenLakeConfig()
    c.nrow, c.ncol, c.desc = len(rows), len(rows[0]), "".join(rows)
    c.is_slippery, c.success_rate = bool(is_slippery), float(success_rate)
    c.reward_goal, c.reward_hole, c.reward_frozen = (float(r) for r in schedule)
    default_steps = _MAX_STEPS.get(map_name if desc is None else "", 100)
    c.max_steps = default_steps if max_steps is None else as_int("FrozenLake", "max_steps", max_steps)
    return c


class _ToyTextVectorEnv(VectorEnv):
    """Renders the map (one colour per map character, `_colors`) with the agent as a red disc; "ansi":
    the map's characters (`_chars()`, rows top to bottom) with the agent `A`."""

    _core_cls = None
    metadata = render.metadata(render.RENDER_MODES_TEXT, 4)  # Gymnasium's toy-text render_fps
    _colors: ClassVar[dict[str, render.Color]]

    def _build(self, num_envs: int, autoreset_mode, copy: bool, render_mode: str | None) -> None:
        core = self._core_cls(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        self._setup(core, spaces.Discrete(self._num_states()), spaces.Discrete(4), autoreset_mode, copy, render_mode)

    def _chars(self) -> np.ndarray:
        """[nrow, ncol] map characters."""
        raise NotImplementedError(f"{type(self).__name__} must define _chars")

    def _agent_row_col(self, index: int) -> tuple[int, int]:
        return divmod(int(self._core.state_ids()[index]), self._chars().shape[1])

    def _render_frame(self, index: int) -> np.ndarray:
        chars = self._chars()
        colors = np.array([[self._colors[ch] for ch in row] for row in chars], dtype=np.uint8)
        return render.grid_frame(colors, [(*self._agent_row_col(index), render.RED)])

    def _render_ansi(self, index: int) -> str:
        chars = self._chars()
        chars[self._agent_row_col(index)] = "A"
        return render.text_grid(chars)

    def state_ids(self):
        """Current state of every env: [num_envs] int64 (equal to the observations)."""
        return self._core.state_ids()

    def transition_table(self):
        """Gymnasium's P as arrays (p, next, reward, terminal), each [S, A, K]: entry k of P[s][a] (padding p = 0)."""
        return self._core_cls.transition_table(self.config)

    def start_states(self) -> list[int]:
        return self._core_cls.start_states(self.config)


class FrozenLakeVectorEnv(_ToyTextVectorEnv):
    """`num_envs` FrozenLakes in one C++ call; keyword arguments as `frozen_lake_config`."""

    _core_cls = _core._FrozenLake
    _colors: ClassVar[dict[str, render.Color]] = {
        "S": (180, 220, 250),
        "F": (210, 235, 255),
        "H": (25, 55, 110),
        "G": render.YELLOW,
    }

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
        **config,
    ):
        self.config = frozen_lake_config(**config)
        self._build(num_envs, autoreset_mode, copy, render_mode)

    def _num_states(self) -> int:
        return self.config.nrow * self.config.ncol

    def _chars(self) -> np.ndarray:
        return np.array(list(self.config.desc)).reshape(self.config.nrow, self.config.ncol)


class CliffWalkingVectorEnv(_ToyTextVectorEnv):
    """`num_envs` CliffWalkings (4 x 12) in one C++ call; `max_steps = 0` (Gymnasium's default) never truncates."""

    _core_cls = _core._CliffWalking
    _colors: ClassVar[dict[str, render.Color]] = {
        ".": render.WHITE,
        "C": (120, 80, 50),
        "S": (190, 210, 240),
        "G": render.GREEN,
    }

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
        is_slippery: bool = False,
        max_steps: int = 0,
    ):
        self.config = _core._CliffWalkingConfig()
        self.config.is_slippery = bool(is_slippery)
        self.config.max_steps = as_int("CliffWalking", "max_steps", max_steps)
        self._build(num_envs, autoreset_mode, copy, render_mode)

    def _num_states(self) -> int:
        return 48

    def _chars(self) -> np.ndarray:
        """Gymnasium's 4 x 12 map: start bottom-left, goal bottom-right, the cliff between them."""
        chars = np.full((4, 12), ".")
        chars[3, 0], chars[3, 1:11], chars[3, 11] = "S", "C", "G"
        return chars


class _ToyTextEnv(Env):
    """A single toy-text env with Gymnasium's Python types: int observations, rewards of the reward
    schedule's type (int for CliffWalking and FrozenLake's default (1, 0, 0)), info["prob"] int 1 at reset,
    so that `gymnasium.utils.env_match.check_environments_match` finds them equal."""

    _int_rewards = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, _ = super().reset(seed=seed, options=options)
        return int(obs), {"prob": 1}

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return int(obs), int(reward) if self._int_rewards else reward, terminated, truncated, info


class FrozenLakeEnv(_ToyTextEnv):
    vector_cls = FrozenLakeVectorEnv

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        schedule = kwargs.get("reward_schedule", (1, 0, 0))
        self._int_rewards = all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) for r in schedule)


class CliffWalkingEnv(_ToyTextEnv):
    vector_cls = CliffWalkingVectorEnv


__all__ = [
    "CliffWalkingEnv",
    "CliffWalkingVectorEnv",
    "FrozenLakeEnv",
    "FrozenLakeVectorEnv",
    "frozen_lake_config",
    "generate_random_map",
]
