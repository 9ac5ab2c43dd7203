"""SmartGrid (csrc/marl/smart_grid.h): producers, consumers and storage balancing a grid over one day.

One time unit (a step is `step_hours`, power in MW, energy in MWh); storage cannot discharge more than it
holds nor charge past full; a time-of-day price; the imbalance (MW) and the totals in infos. Groups
"producer", "consumer", "storage"; action [1] in [-1, 1] (clipped) per agent.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.marl.core import MarlVectorEnv

_FIELDS = {
    "num_producers": int,
    "num_consumers": int,
    "num_storage": int,
    "step_hours": float,
    "storage_capacity": float,
    "max_power": float,
    "base_price": float,
    "imbalance_weight": float,
    "comfort_weight": float,
    "wear": float,
}


def make_config(**config) -> _core._SmartGridConfig:
    """The C++ config; keyword arguments are its fields (defaults: 2 producers, 3 consumers, 1 storage,
    1-hour steps, 100 MWh storage of 20 MW, base price 0.1 $/MWh)."""
    c = _core._SmartGridConfig()
    for name, value in config.items():
        if name not in _FIELDS:
            raise TypeError(f"SmartGrid: unexpected keyword argument {name!r}; valid: {', '.join(_FIELDS)}")
        setattr(c, name, _FIELDS[name](value))
    return c


class SmartGridVectorEnv(MarlVectorEnv):
    """`num_envs` grids stepped in one C++ call; keyword arguments as `make_config`. Renders a clock of the
    hour of day (left) and bars: producers' available capacity (green), consumers' demand (red), storage
    fill (blue), then the last step's supply and demand (dark green / dark red) and the price (orange)."""

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
        core = _core._SmartGrid(self._num_envs_arg(num_envs), c, self._mode_code(autoreset_mode))
        inf = np.float32(np.inf)
        groups = {name: spaces.Box(-inf, inf, (6,), np.float32) for name, _, _ in core.groups}
        self._setup(
            core,
            groups,
            spaces.Box(-1.0, 1.0, (1,), np.float32),
            spaces.Box(-inf, inf, (core.state_size,), np.float32),
            autoreset_mode,
            copy,
            render_mode,
        )

    def _render_frame(self, index: int) -> np.ndarray:
        c = self.config
        P, C, S = c.num_producers, c.num_consumers, c.num_storage
        width, height, margin = 640, 320, 16
        img = render.blank(height, width)
        s = self._core.state[index].astype(np.float64)
        renewable, sin_h, cos_h, price = s[:4]
        # clock: the hand points at the hour, midnight at the top (sin, cos of 2 pi hour / 24)
        cx, cy, radius = 80.0, height / 2, 60.0
        render.ring(img, cx, cy, radius, render.DARK_GRAY, 3)
        render.draw_line(img, (cx, cy), (cx + 0.85 * radius * sin_h, cy - 0.85 * radius * cos_h), render.BLACK, 4)
        infos = dict(zip(self._core.info_names, self._core.infos[index].astype(np.float64)))
        capacity_total = max(sum(s[4 + 2 * k] * 100 for k in range(P)), 1e-9)
        values = [(s[4 + 2 * k] * renewable, render.GREEN) for k in range(P)]  # capacity / 100 MW
        values += [(s[4 + 2 * P + k] * 0.5, render.RED) for k in range(C)]  # demand / 100 MW
        values += [(s[4 + 2 * P + C + k], render.BLUE) for k in range(S)]  # fill fraction
        values += [
            (infos["supply"] / capacity_total, (30, 100, 30)),
            (infos["demand"] / capacity_total, (120, 30, 30)),
            (price / 2, render.ORANGE),  # price / (2 base_price)
        ]
        x, bar = 170.0, (width - 170 - margin) / len(values)
        for value, color in values:
            h = float(np.clip(value, 0, 1)) * (height - 2 * margin)
            render.fill_rect(img, x + 0.15 * bar, height - margin - h, x + 0.85 * bar, height - margin, color)
            x += bar
        render.fill_rect(img, 170, height - margin, width - margin, height - margin + 1, render.GRAY)
        return img


def parallel_env(**config):
    """PettingZoo ParallelEnv of one grid (keyword arguments as `make_config`)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(SmartGridVectorEnv, **config)


__all__ = ["SmartGridVectorEnv", "make_config", "parallel_env"]
