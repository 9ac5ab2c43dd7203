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
    """`num_envs` grids stepped in one C++ call; keyword arguments as `make_config`."""

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
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
        )


def parallel_env(**config):
    """PettingZoo ParallelEnv of one grid (keyword arguments as `make_config`)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(SmartGridVectorEnv, **config)


__all__ = ["SmartGridVectorEnv", "make_config", "parallel_env"]
