"""Continuous-control envs (csrc/envs/point_mass.h, csrc/envs/classic_control.h), batched in C++.

- PointMass: the documents' 4-D nonlinear point mass (CA18 ContinuousControlEnv), 2-D action in [-1, 1].
- CausalThrust: 1-D thrust / velocity / external force (CA17 CausalEnvironment) with its known causal graph
  and a do(force = v) intervention through `reset(options={"force": v})`.
- HeteroPointMass: the 4-variant task of federated clients (CA17 BaseEnvironment) on a 2-D double
  integrator [px, py, vx, vy]; `variant` per env (constructor, or `reset(options={"variant": ...})`).
- CartPole, Pendulum: Gymnasium's CartPole-v1 and Pendulum-v1 dynamics, spaces and time limits.

Every class takes its C++ config fields as keyword arguments (see the header of each env for their
meaning and defaults) and exposes `states()`: the exact float64 states [num_envs, state_size].
Continuous actions are clipped to the action space's bounds; NaN or inf is an error.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs.core import Env, VectorEnv, as_int, unknown_name_error


def make_config(name: str, config_cls, kwargs: dict):
    """A C++ config of `config_cls` with the given fields set; unknown fields and wrong types raise."""
    c = config_cls()
    fields = {k for k in dir(c) if not k.startswith("_")}
    for key, value in kwargs.items():
        if key not in fields:
            raise unknown_name_error(name, "argument", key, fields)
        expected = type(getattr(c, key))
        if expected is float and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (expected, np.generic)) or (expected is not bool and isinstance(value, bool)):
            raise TypeError(f"{name}: {key} must be {expected.__name__}, got {type(value).__name__}")
        try:
            setattr(c, key, value)
        except TypeError as err:
            raise TypeError(f"{name}: {key} must be {expected.__name__}, got {type(value).__name__}") from err
    return c


class _ControlVectorEnv(VectorEnv):
    """Shared constructor of the control envs: the C++ core over a config, the spaces from `_spaces`."""

    _name: str
    _core_cls: type
    _config_cls: type

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        **config,
    ):
        self.config = make_config(self._name, self._config_cls, config)
        core = self._core_cls(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        obs_space, action_space = self._spaces(self.config)
        self._setup(core, obs_space, action_space, autoreset_mode, copy)

    def _spaces(self, config) -> tuple[spaces.Space, spaces.Space]:
        """(single observation space, single action space) of `config`; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define _spaces")

    def states(self) -> np.ndarray:
        """The exact states of every env: [num_envs, state_size] float64 (a copy)."""
        return self._core.states()


def _unbounded(n: int) -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, (n,), np.float32)


def _unit_box(n: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (n,), np.float32)


class PointMassVectorEnv(_ControlVectorEnv):
    """4-D point mass regulated to the origin; state = observation [s0, s1, s2, s3], action [2] in [-1, 1].
    Config: noise_std (0.02), nuisance_std (0.1), init_range (1.0), max_norm (3.0), action_cost (0.01),
    max_steps (200)."""

    _name, _core_cls, _config_cls = "PointMass", _core._PointMass, _core._PointMassConfig

    def _spaces(self, c):
        return _unbounded(4), _unit_box(2)


class CausalThrustVectorEnv(_ControlVectorEnv):
    """1-D point mass under thrust and a drifting external force: observation [pos, vel, force], action
    [thrust] in [-1, 1]. Config: force_init_std (0.1), force_walk_std (0.05), max_speed (2), max_force (1),
    max_position (5), action_cost (0.01), max_steps (200).

    `reset(options={"force": v})` performs do(force = v) (a float, or [num_envs] floats with NaN for "no
    intervention") for the episodes that start from this reset on, autoresets included; an explicit reset
    without the option returns to the observational regime. info["force_intervened"] is 1.0 under do(force).
    """

    _name, _core_cls, _config_cls = "CausalThrust", _core._CausalThrust, _core._CausalThrustConfig
    _reset_options = frozenset({"reset_mask", "force"})

    VARIABLES = ("pos", "vel", "force", "action")
    """the causal variables: the three state components and the action"""
    EDGES = (("action", "vel"), ("force", "vel"), ("vel", "pos"))
    """summary causal graph (cause, effect) without self-loops"""
    TEMPORAL_EDGES = (
        ("pos", "pos", 1),
        ("vel", "vel", 1),
        ("force", "vel", 1),
        ("action", "vel", 1),
        ("vel", "pos", 0),
        ("force", "force", 1),
    )
    """(cause, effect, lag) of the time-lagged graph: effect at t+1 depends on cause at t+1-lag
    (lag 0: vel_{t+1} -> pos_{t+1}); force -> force is cut by do(force)"""

    def __init__(self, num_envs: int = 1, **kwargs):
        super().__init__(num_envs, **kwargs)
        self._do_force = np.full(self.num_envs, np.nan)

    @classmethod
    def causal_graph(cls, temporal: bool = False) -> tuple[tuple[str, ...], np.ndarray]:
        """(variables, adjacency [V, V] bool with adjacency[i, j] = variables[i] -> variables[j]).
        With `temporal`, the variables are X[t] followed by X[t+1] (action only at t) and the edges are
        TEMPORAL_EDGES."""
        if not temporal:
            names = cls.VARIABLES
            adj = np.zeros((len(names), len(names)), dtype=bool)
            for a, b in cls.EDGES:
                adj[names.index(a), names.index(b)] = True
            return names, adj
        now = [f"{v}[t]" for v in cls.VARIABLES]
        nxt = [f"{v}[t+1]" for v in cls.VARIABLES[:3]]
        names = tuple(now + nxt)
        adj = np.zeros((len(names), len(names)), dtype=bool)
        for a, b, lag in cls.TEMPORAL_EDGES:
            src = f"{a}[t]" if lag == 1 else f"{a}[t+1]"
            adj[names.index(src), names.index(f"{b}[t+1]")] = True
        return names, adj

    def _spaces(self, c):
        high = np.array([np.inf, c.max_speed, c.max_force], dtype=np.float32)
        return spaces.Box(-high, high, (3,), np.float32), _unit_box(1)

    def _apply_reset_options(self, options, mask):
        value = options.get("force")
        sel = self._all if mask is None else mask
        if value is None:
            self._do_force[sel] = np.nan
        else:
            v = np.asarray(value, dtype=np.float64) if not isinstance(value, str) else None
            if v is None or (v.shape != () and v.shape != (self.num_envs,)):
                raise ValueError(
                    f"reset: options['force'] must be a float or an array of shape ({self.num_envs},), got {value!r}"
                )
            do_force = self._do_force.copy()
            do_force[sel] = np.broadcast_to(v, (self.num_envs,))[sel]
            self._core.set_force_interventions(do_force)
            self._do_force = do_force
            return
        self._core.set_force_interventions(self._do_force)


class HeteroPointMassVectorEnv(_ControlVectorEnv):
    """The federated clients' task: a 2-D double integrator, state = observation [px, py, vx, vy], action
    [2] in [-1, 1] (v += 0.1 a, p += 0.1 v); reward and noise by variant 0..3 (csrc/envs/point_mass.h).
    `variant` is an int or [num_envs] ints (a heterogeneous batch); `reset(options={"variant": ...})` sets
    the variants of the reset envs from then on (an explicit reset without it restores the constructor's).
    info["variant"] reports each env's variant. Config: noise_std (0.1, times 1 + 0.2 variant),
    init_range (0.5), max_norm (5), action_cost (0.01), max_steps (150)."""

    _name, _core_cls, _config_cls = "HeteroPointMass", _core._HeteroPointMass, _core._HeteroPointMassConfig
    _reset_options = frozenset({"reset_mask", "variant"})

    def __init__(self, num_envs: int = 1, *, variant=0, **kwargs):
        per_env = not isinstance(variant, (int, np.integer))
        super().__init__(num_envs, variant=0 if per_env else as_int("HeteroPointMass", "variant", variant), **kwargs)
        self._default_variants = self._check_variants(variant)
        self._variants = self._default_variants.copy()

    def _check_variants(self, value) -> np.ndarray:
        v = np.asarray(value)
        if v.dtype.kind not in "iu" or (v.shape != () and v.shape != (self.num_envs,)):
            raise ValueError(f"HeteroPointMass: variant must be an int or {self.num_envs} ints, got {value!r}")
        if ((v < 0) | (v > 3)).any():
            raise ValueError(f"HeteroPointMass: variant must be in [0, 4), got {value!r}")
        return np.broadcast_to(v.astype(np.int64), (self.num_envs,)).copy()

    def variants(self) -> np.ndarray:
        """The variant of every env's current episode: [num_envs] int64."""
        return self._core.variants()

    def _spaces(self, c):
        return _unbounded(4), _unit_box(2)

    def _apply_reset_options(self, options, mask):
        sel = self._all if mask is None else mask
        value = options.get("variant")
        new = self._default_variants if value is None else self._check_variants(value)
        self._variants[sel] = new[sel]
        self._core.set_variants(self._variants)


class CartPoleVectorEnv(_ControlVectorEnv):
    """Gymnasium's CartPole-v1: observation [x, x_dot, theta, theta_dot], actions 0 (left) / 1 (right).
    Config: sutton_barto_reward (False), max_steps (500), init_low / init_high (-0.05 / 0.05)."""

    _name, _core_cls, _config_cls = "CartPole", _core._CartPole, _core._CartPoleConfig

    def _spaces(self, c):
        theta = 12 * 2 * math.pi / 360
        high = np.array([2.4 * 2, np.inf, theta * 2, np.inf], dtype=np.float32)
        return spaces.Box(-high, high, dtype=np.float32), spaces.Discrete(2)


class PendulumVectorEnv(_ControlVectorEnv):
    """Gymnasium's Pendulum-v1: observation [cos theta, sin theta, theta_dot], torque [1] in [-2, 2]; the
    state is [theta, theta_dot]. Config: g (10), max_steps (200), init_theta (pi), init_theta_dot (1)."""

    _name, _core_cls, _config_cls = "Pendulum", _core._Pendulum, _core._PendulumConfig

    def _spaces(self, c):
        high = np.array([1.0, 1.0, 8.0], dtype=np.float32)
        return (spaces.Box(-high, high, dtype=np.float32), spaces.Box(-2.0, 2.0, (1,), dtype=np.float32))


class PointMassEnv(Env):
    vector_cls = PointMassVectorEnv


class CausalThrustEnv(Env):
    vector_cls = CausalThrustVectorEnv
    VARIABLES, EDGES, TEMPORAL_EDGES = (
        CausalThrustVectorEnv.VARIABLES,
        CausalThrustVectorEnv.EDGES,
        CausalThrustVectorEnv.TEMPORAL_EDGES,
    )
    causal_graph = CausalThrustVectorEnv.causal_graph

    def step(self, action):
        """Also takes a 0-d thrust (a float), which the document's env failed on."""
        a = np.asarray(action)
        return super().step(a.reshape(1) if a.shape == () else a)


class HeteroPointMassEnv(Env):
    vector_cls = HeteroPointMassVectorEnv


class CartPoleEnv(Env):
    vector_cls = CartPoleVectorEnv


class PendulumEnv(Env):
    vector_cls = PendulumVectorEnv


__all__ = [
    "CartPoleEnv",
    "CartPoleVectorEnv",
    "CausalThrustEnv",
    "CausalThrustVectorEnv",
    "HeteroPointMassEnv",
    "HeteroPointMassVectorEnv",
    "PendulumEnv",
    "PendulumVectorEnv",
    "PointMassEnv",
    "PointMassVectorEnv",
    "make_config",
]
