"""GridWorld (csrc/envs/gridworld.h): the documents' SimpleGridWorld, configurable and batched.

A layout is a list of rows drawn as usual (top row = largest y): `.` free, `#` wall, `X` pit (terminal),
`S` start, `G` goal. Actions: 0 up, 1 down, 2 left, 3 right. Observations: "coords" [x, y], "onehot"
[height * width], or "image" [3, 2r + 1, 2r + 1] (egocentric wall / goal / pit planes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import Env, VectorEnv, as_int, set_ints, unknown_name_error

_OBS = {"coords": _core._GridObs.coords, "onehot": _core._GridObs.onehot, "image": _core._GridObs.image}
_CELLS = {".": 0, "#": 1, "X": 2, "S": 0, "G": 0}


def parse_layout(layout: Sequence[str]) -> tuple[int, int, np.ndarray, tuple[int, int] | None, tuple[int, int] | None]:
    """(width, height, cells [height * width] uint8, start or None, goal or None) from rows of text."""
    rows = [r.strip() for r in layout]
    if not rows or any(len(r) != len(rows[0]) for r in rows) or not rows[0]:
        raise ValueError("GridWorld: layout must be non-empty rows of equal length")
    height, width = len(rows), len(rows[0])
    cells = np.zeros((height, width), dtype=np.uint8)
    start = goal = None
    for row, text in enumerate(rows):
        y = height - 1 - row
        for x, ch in enumerate(text):
            if ch not in _CELLS:
                raise ValueError(
                    f"GridWorld: layout character {ch!r} at row {row}, column {x} must be one of . # X S G"
                )
            cells[y, x] = _CELLS[ch]
            if ch == "S":
                start = (x, y)
            elif ch == "G":
                goal = (x, y)
    return width, height, cells.ravel(), start, goal


def make_config(
    *,
    width: int = 5,
    height: int = 5,
    layout: Sequence[str] | None = None,
    start: tuple[int, int] | None = (0, 0),
    goal: tuple[int, int] | None = None,
    goal_reward: float = 1.0,
    step_penalty: float = 0.1,
    pit_reward: float = -1.0,
    max_steps: int = 100,
    obs_mode: str = "coords",
    view_radius: int = 2,
) -> _core._GridWorldConfig:
    """The C++ config; `start=None` draws the start uniformly over free non-goal cells at every reset;
    `goal=None` is the top-right corner (or the layout's G)."""
    c = _core._GridWorldConfig()
    if layout is not None:
        width, height, cells, lay_start, lay_goal = parse_layout(layout)
        c.cells = cells.tolist()
        start = lay_start if lay_start is not None else start
        goal = lay_goal if lay_goal is not None else goal
    set_ints(c, "GridWorld", width=width, height=height, max_steps=max_steps, view_radius=view_radius)
    gx, gy = goal if goal is not None else (width - 1, height - 1)
    c.goal_x, c.goal_y = as_int("GridWorld", "goal[0]", gx), as_int("GridWorld", "goal[1]", gy)
    start = (-1, -1) if start is None else start
    c.start_x, c.start_y = as_int("GridWorld", "start[0]", start[0]), as_int("GridWorld", "start[1]", start[1])
    c.goal_reward, c.step_penalty, c.pit_reward = float(goal_reward), float(step_penalty), float(pit_reward)
    if obs_mode not in _OBS:
        raise unknown_name_error("GridWorld", "obs_mode", obs_mode, _OBS)
    c.obs_mode = _OBS[obs_mode]
    return c


# rendering: cell colours by kind (free, wall, pit) and the text of each kind
CELL_COLORS = np.array([render.WHITE, render.DARK_GRAY, render.BLACK], dtype=np.uint8)
CELL_CHARS = np.array([".", "#", "X"])


def cell_kinds(config: _core._GridWorldConfig) -> np.ndarray:
    """[height, width] uint8 cell kinds (0 free, 1 wall, 2 pit) with row 0 the top row (largest y)."""
    c = config
    if not c.cells:
        return np.zeros((c.height, c.width), dtype=np.uint8)
    return np.asarray(c.cells, dtype=np.uint8).reshape(c.height, c.width)[::-1]


class GridWorldVectorEnv(VectorEnv):
    """`num_envs` GridWorlds stepped in one C++ call; keyword arguments as `make_config`. Renders the grid
    (walls dark, pits black, goal green, agent blue); "ansi": the layout's characters with the agent `A`."""

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
        self.config = make_config(**config)
        core = _core._GridWorld(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        c = self.config
        shape = tuple(core.obs_shape)
        if c.obs_mode == _core._GridObs.coords:
            obs_space = spaces.Box(0.0, np.array([c.width - 1, c.height - 1], np.float32), shape, np.float32)
        else:
            obs_space = spaces.Box(0.0, 1.0, shape, np.float32)
        self._setup(core, obs_space, spaces.Discrete(4), autoreset_mode, copy, render_mode)

    def _agent_row_col(self, index: int) -> tuple[int, int]:
        s, w = int(self._core.state_ids()[index]), self.config.width
        return self.config.height - 1 - s // w, s % w

    def _render_frame(self, index: int) -> np.ndarray:
        c = self.config
        colors = CELL_COLORS[cell_kinds(c)]
        colors[c.height - 1 - c.goal_y, c.goal_x] = render.GREEN
        return render.grid_frame(colors, [(*self._agent_row_col(index), render.BLUE)])

    def _render_ansi(self, index: int) -> str:
        c = self.config
        chars = CELL_CHARS[cell_kinds(c)]
        chars[c.height - 1 - c.goal_y, c.goal_x] = "G"
        chars[self._agent_row_col(index)] = "A"
        return render.text_grid(chars)


class GridWorldEnv(Env):
    vector_cls = GridWorldVectorEnv


__all__ = ["GridWorldEnv", "GridWorldVectorEnv", "cell_kinds", "make_config", "parse_layout"]
