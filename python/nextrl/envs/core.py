"""The Python side of every compiled env: a Gymnasium VectorEnv over a C++ `VecEnv<Env>` and a single
Gymnasium Env over one copy of it.

Buffers live in C++ and are filled in place by each call; `copy=True` (the default, as in Gymnasium)
returns copies, `copy=False` returns the zero-copy views themselves (observations, rewards, flags and
info arrays), which the next call overwrites (wrap them with `torch.from_numpy` for free). Infos are
dicts of arrays with Gymnasium's `_key` masks:
each env-specific scalar (e.g. `info["cost"]`), `info["episode"] = {"r", "l"}` for the envs that
finished an episode in this call, and, in SAME_STEP mode, `final_obs` / `final_info`.
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from nextrl.envs.render import BatchRendering, SingleRendering

_MODES = {AutoresetMode.NEXT_STEP: 0, AutoresetMode.SAME_STEP: 1, AutoresetMode.DISABLED: 2}


def unknown_name_error(func: str, what: str, name: str, valid) -> ValueError:
    """A ValueError naming the valid choices and the closest match."""
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"{func}: unknown {what} {name!r}{hint} Valid: {', '.join(map(str, valid))}")


def as_int(func: str, name: str, value) -> int:
    """`value` as an int: Python and NumPy integers only (a float such as 2.5 would be silently truncated by
    int(), and a bool is not a count), else TypeError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an int, got {type(value).__name__} {value}")
    return int(value)


def set_ints(config, func: str, **values) -> None:
    """config.<name> = as_int(func, name, value) for each keyword argument."""
    for name, value in values.items():
        setattr(config, name, as_int(func, name, value))


def check_options(func: str, options: dict | None, allowed: set[str]) -> dict:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"{func}: options must be a dict or None, got {type(options).__name__}")
    for key in options:
        if key not in allowed:
            raise unknown_name_error(func, "option", key, allowed)
    return options


def reset_arguments(env, seed, options) -> tuple[dict, int | None, np.ndarray | None]:
    """The validated (options, seed, reset_mask) of `env.reset(seed=..., options=...)` for a nextrl vector env
    (single- or multi-agent: it reads `_reset_options`, `num_envs` and `_seeded`, and sets `_seeded`). The
    first unseeded reset draws a seed from fresh entropy; later unseeded resets continue every env's stream."""
    options = check_options("reset", options, set(env._reset_options))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"reset: seed must be an int or None, got {type(seed).__name__}")
    if seed is not None and not 0 <= seed < 2**64:
        raise ValueError(f"reset: seed must be in [0, 2**64), got {seed}")
    if seed is None and not env._seeded:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> 1)
    if seed is not None:
        env._seeded = True
    mask = options.get("reset_mask")
    if mask is not None:
        if not isinstance(mask, np.ndarray):
            raise TypeError(f"reset: options['reset_mask'] must be a numpy array, got {type(mask).__name__}")
        if mask.dtype != np.bool_:
            raise TypeError(f"reset: options['reset_mask'] must have dtype bool, got {mask.dtype}")
        if mask.shape != (env.num_envs,):
            raise ValueError(f"reset: options['reset_mask'] must have shape ({env.num_envs},), got {mask.shape}")
    return options, None if seed is None else int(seed), mask


class VectorEnv(BatchRendering, gym.vector.VectorEnv):
    """Base of nextrl's vector envs. Subclasses build the C++ core and the single spaces, then call
    `_setup`; they may extend `_reset_options` (extra keys of `reset(options=...)`, applied by
    `_apply_reset_options` before the C++ reset). Rendering (nextrl.envs.render.BatchRendering): a subclass
    declares `metadata` (render_modes, render_fps) and draws env i in `_render_frame(i)` (and
    `_render_ansi(i)` for text grids); `render()` returns one frame per env of `render_envs`."""

    metadata: ClassVar[dict] = {"render_modes": [], "render_fps": 30}

    _reset_options: frozenset[str] = frozenset({"reset_mask"})
    # the actions `step` passes to C++ unconverted (set by `_setup`; None: always the checked path)
    _action_shape: tuple[int, ...] | None = None
    _action_dtype: np.dtype | None = None

    def _setup(
        self,
        core,
        single_observation_space: gym.Space,
        single_action_space: gym.Space,
        autoreset_mode: AutoresetMode | str,
        copy: bool,
        render_mode: str | None = None,
    ) -> None:
        mode = autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else AutoresetMode(autoreset_mode)
        self._core = core
        self.num_envs = core.num_envs
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self._init_render(render_mode)
        self.copy = bool(copy)
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.action_space = batch_space(single_action_space, self.num_envs)
        self._discrete = isinstance(single_action_space, gym.spaces.Discrete)
        self._obs, self._rewards = core.obs, core.rewards
        self._terms, self._truncs = core.terminations, core.truncations
        self._infos_buf, self._info_names = core.infos, list(core.info_names)
        self._info_cols = [(name, "_" + name, core.infos[:, k]) for k, name in enumerate(self._info_names)]
        self._action_dtype = np.dtype(np.int64 if self._discrete else np.float32)
        self._action_shape = self.action_space.shape
        self._ep_done, self._ep_return, self._ep_length = core.episode_done, core.episode_return, core.episode_length
        self._all = np.ones(self.num_envs, dtype=bool)
        self._seeded = False

    def _num_envs_arg(self, num_envs) -> int:
        """`num_envs` for the C++ constructor, checked here: pybind11 would refuse 2.5 with its "incompatible
        constructor arguments" and take True as 1 (the C++ side checks the range and the memory)."""
        return as_int(type(self).__name__, "num_envs", num_envs)

    @staticmethod
    def _mode_code(autoreset_mode) -> int:
        mode = autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else AutoresetMode(autoreset_mode)
        return _MODES[mode]

    # ------------------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options, seed, mask = reset_arguments(self, seed, options)
        self._apply_reset_options(options, mask)
        self._core.reset(seed, mask)
        if self.render_mode == "human":
            self.render()
        return self._out(self._obs), self._step_infos(self._core.num_done)

    def step(self, actions):
        num_done = self._core.step(self._as_actions(actions))
        if self.render_mode == "human":
            self.render()
        if self.copy:
            return (
                self._obs.copy(),
                self._rewards.copy(),
                self._terms.copy(),
                self._truncs.copy(),
                self._step_infos(num_done),
            )
        return self._obs, self._rewards, self._terms, self._truncs, self._step_infos(num_done)

    def close_extras(self, **kwargs) -> None:
        self._close_render()

    # ------------------------------------------------------------------------------ copyable state
    def get_state(self) -> np.ndarray:
        """Every env's full state: [num_envs, state_bytes] uint8, one row per env (the env's dynamics, its
        random stream position, its episode counters and its last outputs; csrc/envs/env_state.h). Rows can
        be copied, tiled and restored into any env of the same type and config with `set_state`, which then
        continues bit for bit as the env the row came from."""
        return self._core.get_state()

    def set_state(self, states: np.ndarray) -> None:
        """Restores every env from `states` ([num_envs, state_bytes] uint8 rows of `get_state`); each row is
        checked before any env changes. The observations of the restored envs are in `observations`."""
        if not isinstance(states, np.ndarray):
            raise TypeError(f"set_state: states must be a numpy array, got {type(states).__name__}")
        self._core.set_state(states)
        self._seeded = True

    @property
    def observations(self) -> np.ndarray:
        """The last observations (after reset, step or set_state): [num_envs, ...], a copy."""
        return self._obs.copy()

    # ------------------------------------------------------------------------- tabular envs only
    @property
    def is_tabular(self) -> bool:
        """True when the env has an exact finite model (grid envs): state_ids() and transition_table()."""
        return hasattr(self._core, "state_ids")

    def state_ids(self) -> np.ndarray:
        """Index of every env's current state in the tabular model: [num_envs] int64."""
        self._require_tabular("state_ids")
        return self._core.state_ids()

    def transition_table(self):
        """The exact model (p, next, reward, terminal), each [S, A, K], for dynamic programming
        (nextrl.envs.dp.value_iteration)."""
        self._require_tabular("transition_table")
        return type(self._core).transition_table(self.config)

    def _require_tabular(self, func: str) -> None:
        if not self.is_tabular:
            raise TypeError(f"{func}: {type(self).__name__} has no tabular model (only grid envs have one)")

    # --------------------------------------------------------------------------------- helpers
    def _apply_reset_options(self, options: dict, mask: np.ndarray | None) -> None:
        """Hook for env-specific reset options; the base knows only reset_mask."""

    def _out(self, a: np.ndarray) -> np.ndarray:
        return a.copy() if self.copy else a

    def _as_actions(self, actions) -> np.ndarray:
        if (
            type(actions) is np.ndarray
            and actions.shape == self._action_shape
            and actions.dtype == self._action_dtype
            and actions.flags.c_contiguous
        ):
            return actions  # the common case, ready for C++ (which checks the values)
        a = np.asarray(actions)
        if self._discrete:
            if a.dtype.kind not in "iu":
                raise TypeError(f"step: actions must be integers for a Discrete action space, got dtype {a.dtype}")
            if a.dtype != np.int64:
                a = a.astype(np.int64)
            if a.shape != self.action_space.shape:  # the C++ check would take [N, 1] for a scalar action
                raise ValueError(f"step: actions must have shape {self.action_space.shape}, got {a.shape}")
        else:
            if a.dtype.kind not in "fiu":
                raise TypeError(f"step: actions must be real numbers, got dtype {a.dtype}")
            if a.dtype != np.float32:
                a = a.astype(np.float32)
        return np.ascontiguousarray(a)

    def _step_infos(self, num_done: int) -> dict[str, Any]:
        """The infos of the last call; num_done: how many envs finished an episode in it (from C++, so that
        the common call without one costs no array scan)."""
        infos: dict[str, Any] = {}
        out = self._out
        for name, mask_name, column in self._info_cols:
            infos[name] = out(column)
            infos[mask_name] = self._all
        if num_done:
            mask = out(self._ep_done)
            infos["episode"] = {"r": out(self._ep_return), "l": out(self._ep_length), "_r": mask, "_l": mask}
            infos["_episode"] = mask
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                final_obs = np.full(self.num_envs, None, dtype=object)
                dense = self._core.final_obs
                for i in np.flatnonzero(mask):
                    final_obs[i] = dense[i].copy()
                final_info: dict[str, Any] = {}
                fi = self._core.final_infos
                for k, name in enumerate(self._info_names):
                    final_info[name] = fi[:, k].copy()
                    final_info["_" + name] = mask
                infos["final_obs"], infos["_final_obs"] = final_obs, mask
                infos["final_info"], infos["_final_info"] = final_info, mask
        return infos


class Env(SingleRendering, gym.Env):
    """One copy of a compiled env as a Gymnasium Env (`gym.make("nextrl/...")`, `check_env`). It runs the
    vector env with num_envs=1 and autoreset disabled, so env i of a vector env reset with seed s behaves
    exactly like this env reset with seed s + i. `render_mode` and `metadata` (render_modes, render_fps)
    are the vector env's: render() returns env 0's frame ("rgb_array"), its text ("ansi"), or draws it in a
    window on every reset and step ("human")."""

    vector_cls: type[VectorEnv]
    metadata: ClassVar[dict] = {"render_modes": [], "render_fps": 30}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "vector_cls" in cls.__dict__:  # gym.make reads the class's metadata before building the env
            vector_metadata = cls.vector_cls.metadata
            cls.metadata = {
                "render_modes": list(vector_metadata["render_modes"]),
                "render_fps": vector_metadata["render_fps"],
            }

    def __init__(self, render_mode: str | None = None, **kwargs):
        self._init_render(render_mode)
        self._vec = self.vector_cls(num_envs=1, autoreset_mode=AutoresetMode.DISABLED, copy=True, **kwargs)
        self.observation_space = self._vec.single_observation_space
        self.action_space = self._vec.single_action_space
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options is not None and "reset_mask" in options:
            raise ValueError("reset: reset_mask is an option of vector envs, not of a single env")
        obs, infos = self._vec.reset(seed=seed, options=options)
        self._done = False
        self._render_human()
        return obs[0], self._single(infos)

    def step(self, action):
        if self._done:
            raise RuntimeError("step: the episode has ended (or reset() was never called); call reset() first")
        a = np.asarray(action)
        if a.shape != self.action_space.shape:
            raise ValueError(f"step: action must have shape {self.action_space.shape}, got {a.shape}")
        obs, r, term, trunc, infos = self._vec.step(a[None])
        self._done = bool(term[0] or trunc[0])
        self._render_human()
        return obs[0], float(r[0]), bool(term[0]), bool(trunc[0]), self._single(infos)

    def close(self) -> None:
        self._close_render()

    def get_state(self) -> np.ndarray:
        """The env's full state: [state_bytes] uint8 (see VectorEnv.get_state); a row of a vector env of the
        same type and config restores here too."""
        return self._vec.get_state()[0]

    def set_state(self, state: np.ndarray) -> None:
        """Restores the env from `state` ([state_bytes] uint8, from get_state); the env then continues bit
        for bit. Its current observation is `observation`."""
        if not isinstance(state, np.ndarray):
            raise TypeError(f"set_state: state must be a numpy array, got {type(state).__name__}")
        if state.ndim != 1:
            raise ValueError(f"set_state: state must be 1-D ({self._vec._core.state_bytes},), got shape {state.shape}")
        self._vec.set_state(state[None])
        self._done = bool(self._vec._core.needs_reset[0])

    @property
    def observation(self):
        return self._vec.observations[0]

    @staticmethod
    def _single(infos: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in infos.items():
            if key.startswith("_") or key == "episode":  # episode statistics are a vector-env feature
                continue
            if isinstance(value, dict):
                out[key] = {k: v[0].item() for k, v in value.items() if not k.startswith("_")}
            else:
                out[key] = value[0].item() if isinstance(value, np.ndarray) else value
        return out


__all__ = ["Env", "VectorEnv", "as_int", "check_options", "reset_arguments", "set_ints", "unknown_name_error"]
