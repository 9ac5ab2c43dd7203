"""Rollout models of the planners. A planner (nextrl.planning.optimizers) takes one of:

- `ExactModel(env)`: the exact dynamics of a compiled nextrl vector env. Candidates are rolled out in C++ by
  copies of the env's own `Step` from start states copied with `env.get_state()` (one problem per env), noise
  draws included: a rollout equals stepping the env itself from that state with the same actions.
- a torch objective `objective(actions) -> returns` over `actions: [M, horizon, action_dim]` (mbrl-lib's
  `obj_fun`), with M = num_problems * population rows, problem-major: rows [b * P, (b + 1) * P) are problem b's
  P candidates. It runs the same optimizer steps in PyTorch (nextrl.planning.torch_path).

- `LearnedModel` (nextrl.planning.ensemble): a learned MLP ensemble (PETS particles) exported from PyTorch.

Every C++ rollout model (csrc/planning/rollout_model.h: exact_model.h, learned_model.h) implements the same
`Evaluate(problem, actions, count, horizon, gamma, returns)`, so every planner runs on any of them.

Discrete envs (CartPole, the grids): a sequence element x in the box [0, num_actions] stands for action
min(floor(x), num_actions - 1) (a continuous relaxation), so the Gaussian planners apply unchanged.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from nextrl import _core


class ExactModel:
    """Exact dynamics of a nextrl single-agent vector env (`nextrl.envs.VectorEnv`): one planning problem per row
    of `set_states` (by default `sync()`: one per env of `env`, from its current state)."""

    def __init__(self, env):
        core = getattr(env, "_core", None)
        cls = getattr(_core, f"{type(core).__name__}Model", None) if core is not None else None
        if cls is None:
            raise TypeError(
                f"ExactModel: env must be a nextrl single-agent vector env with a compiled core (GridWorld, "
                f"FrozenLake, CliffWalking, SafeGridWorld, RobustGridWorld, GoalGridWorld, PointMass, CausalThrust, "
                f"HeteroPointMass, CartPole, Pendulum, QuantumStatePrep), got {type(env).__name__}"
            )
        self.env = env
        self._model = cls(core)
        space = env.single_action_space
        if isinstance(space, spaces.Discrete):
            self.discrete = True
            self.num_actions = int(space.n)
            self.low, self.high = np.zeros(1), np.full(1, float(space.n))
        else:
            self.discrete = False
            self.num_actions = 0
            self.low = np.asarray(space.low, dtype=np.float64).reshape(-1)
            self.high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        self.action_dim = int(self._model.action_dim)
        self.state_bytes = int(self._model.state_bytes)

    @property
    def num_problems(self) -> int:
        """Problems set by the last `set_states` / `sync` (0 before)."""
        return int(self._model.num_problems)

    def set_states(self, states: np.ndarray) -> None:
        """Start states: `states` [num_problems, state_bytes] uint8, rows of `env.get_state()` (any env of the same
        type and config; rows may repeat). Every row is checked before any is used."""
        if not isinstance(states, np.ndarray):
            raise TypeError(f"set_states: states must be a numpy array, got {type(states).__name__}")
        if states.dtype != np.uint8:
            raise TypeError(f"set_states: states must have dtype uint8 (rows of get_state()), got {states.dtype}")
        if states.ndim != 2 or states.shape[0] < 1 or states.shape[1] != self.state_bytes:
            raise ValueError(
                f"set_states: states must have shape (num_problems >= 1, {self.state_bytes}) (rows of the env's "
                f"get_state()), got {states.shape}"
            )
        self._model.set_states(np.ascontiguousarray(states))

    def sync(self) -> None:
        """One problem per env of `env`, starting from its current state."""
        self._model.set_states(self.env.get_state())

    def evaluate(self, actions: np.ndarray, gamma: float = 1.0) -> np.ndarray:
        """Discounted returns [num_problems, count] of `actions` [num_problems, count, horizon, action_dim] (float64,
        inside the action box): sum_t gamma^t r_t, rewards after a termination counting zero."""
        a = np.ascontiguousarray(actions, dtype=np.float64)
        if self.num_problems < 1:
            raise ValueError("evaluate: the model has no start states; call set_states(states) or sync() first")
        if a.ndim != 4 or a.shape[0] != self.num_problems or a.shape[3] != self.action_dim:
            raise ValueError(
                f"evaluate: actions must have shape ({self.num_problems}, count, horizon, {self.action_dim}), "
                f"got {a.shape}"
            )
        return self._model.evaluate(a, float(gamma))

    def to_env_actions(self, x: np.ndarray) -> np.ndarray:
        """The env's actions for planned first actions `x` [num_envs, action_dim]: int64 [num_envs] actions
        min(floor(x), n - 1) for a discrete env, float32 [num_envs, action_dim] otherwise."""
        return to_env_actions(self.env, x)

    @property
    def core(self):
        """The C++ rollout model (nextrl._core._RolloutModel)."""
        return self._model


def to_env_actions(env, x: np.ndarray) -> np.ndarray:
    """Actions of `env` (a Gymnasium vector env) for planned actions `x` [num_envs, action_dim] (float64)."""
    space = env.single_action_space
    if isinstance(space, spaces.Discrete):
        return np.clip(np.floor(x[:, 0]), 0, space.n - 1).astype(np.int64)
    return x.reshape((x.shape[0], *space.shape)).astype(np.float32)


def is_rollout_model(model) -> bool:
    """True for a model the C++ planners run (an ExactModel, a LearnedModel, a LatentModel or a C++ rollout model)."""
    from nextrl.planning.ensemble import LearnedModel
    from nextrl.planning.latent import LatentModel

    return isinstance(model, (ExactModel, LearnedModel, LatentModel, _core._RolloutModel))


def core_model(model):
    return model.core if hasattr(model, "core") and not isinstance(model, _core._RolloutModel) else model


__all__ = ["ExactModel", "core_model", "is_rollout_model", "to_env_actions"]
