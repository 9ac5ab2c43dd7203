"""SafeGridWorld (csrc/envs/safe_grid.h): a GridWorld with hazards and a per-step safety cost in info["cost"].

The documents' SafeEnvironment (6 x 6, four hazards, budget 0.1) could not meet its own budget: every path
to the goal costs at least 0.6. The default map here is 7 x 7 with two hazard walls (`DEFAULT_LAYOUT`):
every shortest (12-step) path crosses a hazard and costs >= 1.3, while a 20-step detour through both
gaps costs 0.3 (three border cells), under the default `cost_budget` = 0.5. tests/envs/test_safe_grid.py
proves both by exact dynamic programming on `transition_table()` and `cost_table()`.

Layout rows as GridWorld's (top row = largest y; `.` free, `#` wall, `X` pit, `S` start, `G` goal) plus
`H` for a hazard. Cost on the cell after a move: hazard_cost if a hazard, plus boundary_cost on the border.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.core import Env, VectorEnv, as_int
from nextrl.envs.gridworld import CELL_CHARS, CELL_COLORS, cell_kinds, make_config

DEFAULT_LAYOUT = (
    "....H.G",
    "....H..",
    "..H.H..",
    "..H.H..",
    "..H.H..",
    "..H....",
    "S.H....",
)


def safe_grid_config(
    *,
    layout: Sequence[str] | None = DEFAULT_LAYOUT,
    hazards: Sequence[tuple[int, int]] = (),
    hazard_cost: float = 1.0,
    boundary_cost: float = 0.1,
    cost_budget: float = 0.5,
    goal_reward: float = 10.0,
    step_penalty: float = 0.1,
    max_steps: int = 50,
    obs_mode: str = "coords",
    **grid,
) -> _core._SafeGridWorldConfig:
    """The C++ config. `layout` (with `H` hazards) or GridWorld's width / height / start / goal keywords
    (`layout=None`); `hazards` adds (x, y) hazard cells to either."""
    c = _core._SafeGridWorldConfig()
    common = dict(goal_reward=goal_reward, step_penalty=step_penalty, max_steps=max_steps, obs_mode=obs_mode, **grid)
    if layout is not None:
        rows = [str(r).strip() for r in layout]
        grid_config = make_config(layout=[r.replace("H", ".") for r in rows], **common)
        mask = np.array([[ch == "H" for ch in r] for r in rows], dtype=bool)[::-1].copy()  # row 0 is the top
    else:
        grid_config = make_config(**common)
        mask = np.zeros((grid_config.height, grid_config.width), dtype=bool)
    width, height = grid_config.width, grid_config.height
    for cell in hazards:
        x, y = (as_int("SafeGridWorld", "hazard coordinate", v) for v in cell)
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"SafeGridWorld: hazard {tuple(cell)} is outside the {width} x {height} grid")
        mask[y, x] = True
    c.grid = grid_config
    c.hazards = mask.astype(np.uint8).ravel().tolist()
    c.hazard_cost, c.boundary_cost, c.cost_budget = float(hazard_cost), float(boundary_cost), float(cost_budget)
    return c


class SafeGridWorldVectorEnv(VectorEnv):
    """`num_envs` SafeGridWorlds in one C++ call; keyword arguments as `safe_grid_config`. info["cost"] is
    the step's cost, info["hazard"] 1.0 when the agent stands on a hazard; `cost_budget` the episode budget.
    Renders as GridWorld with hazards orange ("ansi": `H`)."""

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
        self.config = safe_grid_config(**config)
        core = _core._SafeGridWorld(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        g = self.config.grid
        shape = tuple(core.obs_shape)
        if g.obs_mode == _core._GridObs.coords:
            obs_space = spaces.Box(0.0, np.array([g.width - 1, g.height - 1], np.float32), shape, np.float32)
        else:
            obs_space = spaces.Box(0.0, 1.0, shape, np.float32)
        self.cost_budget = self.config.cost_budget
        self._setup(core, obs_space, spaces.Discrete(4), autoreset_mode, copy, render_mode)

    def state_ids(self) -> np.ndarray:
        """Current cell y * width + x of every env: [num_envs] int64."""
        return self._core.state_ids()

    def transition_table(self):
        """Exact model (p, next, reward, terminal), each [S, A, 1] (GridWorld's)."""
        return _core._SafeGridWorld.transition_table(self.config)

    def state_costs(self) -> np.ndarray:
        """[S] float64: the cost of arriving in each cell."""
        return _core._SafeGridWorld.state_costs(self.config)

    def cost_table(self) -> np.ndarray:
        """[S, A, K] float64: the cost of each outcome of `transition_table()` (0 where p = 0)."""
        p, nxt, _, _ = self.transition_table()
        return np.where(p > 0, self.state_costs()[nxt], 0.0)

    def _hazards(self) -> np.ndarray:
        """[height, width] bool hazard cells, row 0 the top row."""
        g = self.config.grid
        return np.asarray(self.config.hazards, dtype=bool).reshape(g.height, g.width)[::-1]

    def _agent_row_col(self, index: int) -> tuple[int, int]:
        s, w = int(self._core.state_ids()[index]), self.config.grid.width
        return self.config.grid.height - 1 - s // w, s % w

    def _render_frame(self, index: int) -> np.ndarray:
        g = self.config.grid
        colors = CELL_COLORS[cell_kinds(g)]
        colors[self._hazards()] = render.ORANGE
        colors[g.height - 1 - g.goal_y, g.goal_x] = render.GREEN
        return render.grid_frame(colors, [(*self._agent_row_col(index), render.BLUE)])

    def _render_ansi(self, index: int) -> str:
        g = self.config.grid
        chars = CELL_CHARS[cell_kinds(g)]
        chars[self._hazards()] = "H"
        chars[g.height - 1 - g.goal_y, g.goal_x] = "G"
        chars[self._agent_row_col(index)] = "A"
        return render.text_grid(chars)


class SafeGridWorldEnv(Env):
    vector_cls = SafeGridWorldVectorEnv

    def __init__(self, render_mode: str | None = None, **kwargs):
        super().__init__(render_mode, **kwargs)
        self.cost_budget = self._vec.cost_budget


__all__ = ["DEFAULT_LAYOUT", "SafeGridWorldEnv", "SafeGridWorldVectorEnv", "safe_grid_config"]
