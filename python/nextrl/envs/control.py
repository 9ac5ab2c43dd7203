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

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
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
    """Shared constructor of the control envs: the C++ core over a config, the spaces from `_spaces`;
    frames are drawn from `states()` by `_draw(index, state)` (metadata: rgb_array, human)."""

    _name: str
    _core_cls: type
    _config_cls: type
    metadata = render.metadata(render.RENDER_MODES_IMAGE, 30)

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
        **config,
    ):
        self.config = make_config(self._name, self._config_cls, config)
        core = self._core_cls(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        obs_space, action_space = self._spaces(self.config)
        self._setup(core, obs_space, action_space, autoreset_mode, copy, render_mode)

    def _render_frame(self, index: int) -> np.ndarray:
        return self._draw(index, self._core.states()[index])

    def _draw(self, index: int, state: np.ndarray) -> np.ndarray:
        """The frame [H, W, 3] uint8 of env `index` in its exact `state`."""
        raise NotImplementedError(f"{type(self).__name__} must define _draw")

    def _spaces(self, config) -> tuple[spaces.Space, spaces.Space]:
        """(single observation space, single action space) of `config`: the Boxes the C++ env declares
        (obs_bounds / action_bounds in csrc/envs/); envs with discrete actions override it."""
        return _box(self._core_cls.obs_bounds(config)), _box(self._core_cls.action_bounds(config))

    def states(self) -> np.ndarray:
        """The exact states of every env: [num_envs, state_size] float64 (a copy)."""
        return self._core.states()


def _box(bounds) -> spaces.Box:
    """A float32 Box from the (low, high) lists a C++ env declares (its ObsBounds / ActionBounds)."""
    low, high = (np.asarray(b, dtype=np.float32) for b in bounds)
    return spaces.Box(low, high, dtype=np.float32)


def _plane_scale(size: int, radius: float) -> float:
    return (size / 2 - 20) / radius


def _plane(radius: float, point, color: render.Color, size: int = 400) -> np.ndarray:
    """A size x size view of the plane around the origin (y up, `radius` plus a margin): the circle of
    `radius` in light gray, the origin as a green cross, `point` as a disc."""
    img = render.blank(size, size)
    scale = _plane_scale(size, radius)
    c = size / 2
    render.ring(img, c, c, radius * scale, render.LIGHT_GRAY, 2)
    render.fill_rect(img, c - 8, c - 1, c + 8, c + 1, render.GREEN)
    render.fill_rect(img, c - 1, c - 8, c + 1, c + 8, render.GREEN)
    x, y = (float(np.clip(v, -1.1 * radius, 1.1 * radius)) for v in point[:2])
    render.fill_circle(img, c + x * scale, c - y * scale, 8, color)
    return img


class PointMassVectorEnv(_ControlVectorEnv):
    """4-D point mass regulated to the origin; state = observation [s0, s1, s2, s3], action [2] in [-1, 1].
    Config: noise_std (0.02), nuisance_std (0.1), init_range (1.0), max_norm (3.0), action_cost (0.01),
    max_steps (200)."""

    _name, _core_cls, _config_cls = "PointMass", _core._PointMass, _core._PointMassConfig

    def _draw(self, index, state):
        """(s0, s1) as a point in the plane (circle: ||s|| = max_norm), s2 and s3 as bars below."""
        img = _plane(self.config.max_norm, state[:2], render.BLUE)
        size = img.shape[1]
        for k, color in ((2, render.ORANGE), (3, render.PURPLE)):
            y = size - 24 + 10 * (k - 2)
            end = size / 2 + np.clip(state[k] / self.config.max_norm, -1, 1) * (size / 2 - 10)
            render.fill_rect(img, size / 2, y, end, y + 6, color)
        return img


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

    def _draw(self, index, state):
        """The mass on a track of [-max_position, max_position] (target 0: green tick), its velocity (blue
        arrow) and the external force (red arrow, magenta under do(force))."""
        c, (width, height) = self.config, (600, 200)
        img = render.blank(height, width)
        scale = (width - 40) / (2 * c.max_position)
        track_y = height * 0.65
        render.fill_rect(img, 20, track_y, width - 20, track_y + 2, render.BLACK)
        render.fill_rect(img, width / 2 - 1, track_y - 12, width / 2 + 1, track_y + 14, render.GREEN)
        x = width / 2 + np.clip(state[0], -c.max_position, c.max_position) * scale
        render.fill_circle(img, x, track_y - 14, 14, render.DARK_GRAY)
        arrow = 80.0
        render.draw_line(img, (x, track_y - 14), (x + arrow * state[1] / c.max_speed, track_y - 14), render.BLUE, 4)
        force_color = (200, 0, 200) if not np.isnan(self._do_force[index]) else render.RED
        render.draw_line(img, (x, track_y - 50), (x + arrow * state[2] / c.max_force, track_y - 50), force_color, 4)
        return img


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

    def _apply_reset_options(self, options, mask):
        sel = self._all if mask is None else mask
        value = options.get("variant")
        new = self._default_variants if value is None else self._check_variants(value)
        self._variants[sel] = new[sel]
        self._core.set_variants(self._variants)

    def _draw(self, index, state):
        """The point (coloured by its variant) and its velocity (red line); circle: max_norm."""
        variant = int(self._core.variants()[index])
        img = _plane(self.config.max_norm, state[:2], render.PALETTE[variant])
        size, scale = img.shape[0], _plane_scale(img.shape[0], self.config.max_norm)
        p = (size / 2 + state[0] * scale, size / 2 - state[1] * scale)
        render.draw_line(img, p, (p[0] + state[2] * scale, p[1] - state[3] * scale), render.RED, 3)
        return img


class CartPoleVectorEnv(_ControlVectorEnv):
    """Gymnasium's CartPole-v1: observation [x, x_dot, theta, theta_dot], actions 0 (left) / 1 (right).
    Config: sutton_barto_reward (False), max_steps (500), init_low / init_high (-0.05 / 0.05), and Gymnasium's
    physical constants (each finite and > 0): gravity (9.8), masscart (1.0), masspole (0.1), length (0.5, half the
    pole's length), force_mag (10.0)."""

    _name, _core_cls, _config_cls = "CartPole", _core._CartPole, _core._CartPoleConfig
    metadata = render.metadata(render.RENDER_MODES_IMAGE, 50)  # Gymnasium's CartPole-v1

    def _spaces(self, c):
        return _box(self._core_cls.obs_bounds(c)), spaces.Discrete(2)

    def _draw(self, index, state):
        """Gymnasium's CartPole picture: 600 x 400 for a world 4.8 m wide, a 50 x 30 px black cart centred on
        the track line 100 px above the bottom, a 10 px wide pole 2 * length m long from the axle 7.5 px above
        the cart's centre (theta > 0 leans right), the axle a 5 px disc."""
        width, height = 600, 400
        scale = width / float(self.single_observation_space.high[0])  # the world: twice the x threshold
        img = render.blank(height, width)
        cart_x, cart_y = state[0] * scale + width / 2, height - 100.0  # y grows downwards here
        render.fill_rect(img, 0, cart_y - 0.5, width, cart_y + 0.5, render.BLACK)
        render.fill_rect(img, cart_x - 25, cart_y - 15, cart_x + 25, cart_y + 15, render.BLACK)
        axle = (cart_x, cart_y - 30 / 4)
        up = (np.sin(state[2]), -np.cos(state[2]))
        pole = render.rotated_rect(axle, up, -5, scale * 2 * self.config.length - 5, 5)
        render.fill_polygon(img, pole, (202, 152, 101))
        render.fill_circle(img, *axle, 5, (129, 132, 203))
        return img


class PendulumVectorEnv(_ControlVectorEnv):
    """Gymnasium's Pendulum-v1: observation [cos theta, sin theta, theta_dot], torque [1] in [-max_torque,
    max_torque]; the state is [theta, theta_dot]. Config: g (10), max_steps (200), init_theta (pi), init_theta_dot
    (1), and Gymnasium's limits (each finite and > 0): max_torque (2.0; the action is clipped to it and the action
    space follows it) and max_speed (8.0; theta_dot is clipped to it and the observation space follows it)."""

    _name, _core_cls, _config_cls = "Pendulum", _core._Pendulum, _core._PendulumConfig

    def _draw(self, index, state):
        """Gymnasium's Pendulum picture: 500 x 500 for a 4.4 m square, a red rod 1 m long and 0.2 m wide with
        round ends (theta = 0 upright, theta > 0 counter-clockwise) on a black axle of 0.05 m radius; no
        torque arrow (the env keeps no last action)."""
        size = 500
        scale, centre = size / 4.4, (size / 2, size / 2)
        img = render.blank(size, size)
        rod = (-np.sin(state[0]), -np.cos(state[0]))
        color, half = (204, 77, 77), 0.1 * scale
        render.fill_polygon(img, render.rotated_rect(centre, rod, 0, scale, half), color)
        render.fill_circle(img, *centre, half, color)
        render.fill_circle(img, centre[0] + rod[0] * scale, centre[1] + rod[1] * scale, half, color)
        render.fill_circle(img, *centre, 0.05 * scale, render.BLACK)
        return img


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
