"""The Python side of every compiled multi-agent env: a batched API over a C++ `VecMarlEnv<Env>`
(csrc/marl/vec_marl_env.h) and a wrapper that flattens agents into the batch for single-agent trainers.

Arrays are shaped [num_envs, num_agents, ...], agents in the order of `agents` (groups are contiguous):
  obs [N, A, obs_size] float32 (an agent of a group with a smaller obs_size uses the first
  group_obs_size entries of its row, the rest are 0; `group_obs(obs, group)` is the unpadded view),
  rewards [N, A] float32, terminations / truncations [N, A] bool, and in infos: "state" [N, state_size]
  (global state for centralized critics), "action_mask" [N, A, num_actions] bool (Discrete actions;
  advisory: a masked action is legal and does what the env documents), "active" [N, A] bool (agents
  still in their episode after this call), each env scalar with Gymnasium's `_key` mask, and
  "episode" = {"r": [N, A] per-agent returns, "l": [N]} for the envs that finished an episode.

An agent finishes on the step where its termination or truncation flag is set; afterwards its reward
and flags are 0 and its actions are ignored. An env's episode ends when all its agents have finished;
autoreset then follows Gymnasium (NEXT_STEP: the next step resets it and ignores its actions;
SAME_STEP: reset in the same step, with infos "final_obs" / "final_state" / "final_info"; DISABLED:
reset it with reset(options={"reset_mask": mask})).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl.envs.core import VectorEnv as _SingleAgentVectorEnv
from nextrl.envs.core import reset_arguments, unknown_name_error
from nextrl.envs.render import BatchRendering


class MarlVectorEnv(BatchRendering):
    """Base of nextrl's batched multi-agent envs. Subclasses build the C++ core and the per-group
    observation spaces, then call `_setup`. Rendering as the single-agent vector envs
    (nextrl.envs.render.BatchRendering): `metadata` (render_modes, render_fps), `render_mode` at
    construction, `render()` one frame per env of `render_envs`, drawn by the subclass's `_render_frame`."""

    metadata: ClassVar[dict] = {"render_modes": [], "render_fps": 30}

    _reset_options: frozenset[str] = frozenset({"reset_mask"})
    _mode_code = staticmethod(_SingleAgentVectorEnv._mode_code)
    _num_envs_arg = _SingleAgentVectorEnv._num_envs_arg

    def _setup(
        self,
        core,
        group_spaces: dict[str, spaces.Box],
        action_space: gym.Space,
        state_space: spaces.Box,
        autoreset_mode: AutoresetMode | str,
        copy: bool,
        render_mode: str | None = None,
    ) -> None:
        mode = autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else AutoresetMode(autoreset_mode)
        self._core = core
        self.num_envs, self.num_agents = core.num_envs, core.num_agents
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self._init_render(render_mode)
        self.copy = bool(copy)
        self.possible_agents = list(core.agent_names)
        self.agents = list(self.possible_agents)
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.groups: dict[str, slice] = {}
        self._group_of: list[str] = []
        first = 0
        for name, count, _ in core.groups:
            self.groups[name] = slice(first, first + count)
            self._group_of += [name] * count
            first += count
        self._group_spaces = dict(group_spaces)
        self.obs_size = core.obs_size
        low = np.zeros(self.obs_size, np.float32)
        high = np.zeros(self.obs_size, np.float32)
        for space in group_spaces.values():
            n = space.shape[0]
            low[:n] = np.minimum(low[:n], space.low)
            high[:n] = np.maximum(high[:n], space.high)
        self.single_observation_space = spaces.Box(low, high, (self.obs_size,), np.float32)
        self.single_action_space = action_space
        self.state_space = state_space
        self._discrete = isinstance(action_space, spaces.Discrete)
        self._seeded = False

    # ------------------------------------------------------------------------------ spaces, names
    def observation_space(self, agent: str) -> spaces.Box:
        """The unpadded observation space of one agent (that of its group)."""
        return self._group_spaces[self._group_of[self.agent_index(agent)]]

    def action_space(self, agent: str) -> gym.Space:
        self.agent_index(agent)
        return self.single_action_space

    def agent_index(self, agent: str) -> int:
        """Position of an agent in the agent axis."""
        if agent not in self._index:
            raise unknown_name_error("agent_index", "agent", agent, self.possible_agents)
        return self._index[agent]

    def group_obs(self, obs: np.ndarray, group: str) -> np.ndarray:
        """The agents of one group with their own obs_size: a view obs[:, group, :group_obs_size]."""
        if group not in self.groups:
            raise unknown_name_error("group_obs", "group", group, self.groups)
        return obs[:, self.groups[group], : self._group_spaces[group].shape[0]]

    @property
    def state(self) -> np.ndarray:
        """Global state [num_envs, state_size] after the last call."""
        return self._out(self._core.state)

    # ------------------------------------------------------------------------------ batched API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """(obs [N, A, obs_size], infos)."""
        _, seed, mask = reset_arguments(self, seed, options)
        self._core.reset(seed, mask)
        if self.render_mode == "human":
            self.render()
        return self._out(self._core.obs), self._infos()

    def step(self, actions):
        """actions [N, A] (Discrete) or [N, A, action_size] -> (obs, rewards, terminations, truncations, infos)."""
        self._core.step(self._as_actions(actions))
        if self.render_mode == "human":
            self.render()
        c = self._core
        return (
            self._out(c.obs),
            self._out(c.rewards),
            self._out(c.terminations),
            self._out(c.truncations),
            self._infos(),
        )

    def close(self) -> None:
        self._close_render()

    # ------------------------------------------------------------------------------ copyable state
    def get_state(self) -> np.ndarray:
        """Every env's full state: [num_envs, state_bytes] uint8 rows (dynamics, random stream position,
        episode counters, per-agent activity and the last outputs; csrc/envs/env_state.h). `set_state` of
        a row into any env of the same type and config continues bit for bit."""
        return self._core.get_state()

    def set_state(self, states: np.ndarray) -> None:
        """Restores every env from rows of `get_state` ([num_envs, state_bytes] uint8), each checked before
        any env changes; the restored observations are in `observations`."""
        if not isinstance(states, np.ndarray):
            raise TypeError(f"set_state: states must be a numpy array, got {type(states).__name__}")
        self._core.set_state(states)
        self._seeded = True

    @property
    def observations(self) -> np.ndarray:
        """The last observations [num_envs, num_agents, obs_size] (after reset, step or set_state), a copy."""
        return self._core.obs.copy()

    # --------------------------------------------------------------------------------- helpers
    def _out(self, a: np.ndarray) -> np.ndarray:
        return a.copy() if self.copy else a

    def _as_actions(self, actions) -> np.ndarray:
        a = np.asarray(actions)
        if self._discrete:
            if a.dtype.kind not in "iu":
                raise TypeError(f"step: actions must be integers for a Discrete action space, got dtype {a.dtype}")
            a, shape = a.astype(np.int64, copy=False), (self.num_envs, self.num_agents)
        else:
            if a.dtype.kind not in "fiu":
                raise TypeError(f"step: actions must be real numbers, got dtype {a.dtype}")
            a = a.astype(np.float32, copy=False)
            shape = (self.num_envs, self.num_agents, *self.single_action_space.shape)
        if a.shape != shape:
            raise ValueError(f"step: actions must have shape {shape}, got {a.shape}")
        return np.ascontiguousarray(a)

    def _infos(self) -> dict[str, Any]:
        c = self._core
        infos: dict[str, Any] = {"state": c.state.copy(), "active": c.active.copy()}
        if self._discrete:
            infos["action_mask"] = c.action_masks.copy()
        every = np.ones(self.num_envs, dtype=bool)
        buf = c.infos
        for k, name in enumerate(c.info_names):
            infos[name], infos["_" + name] = buf[:, k].copy(), every
        done = c.episode_done
        if done.any():
            mask = done.copy()
            infos["episode"] = {"r": c.episode_return.copy(), "l": c.episode_length.copy(), "_r": mask, "_l": mask}
            infos["_episode"] = mask
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                final_info: dict[str, Any] = {}
                for k, name in enumerate(c.info_names):
                    final_info[name], final_info["_" + name] = c.final_infos[:, k].copy(), mask
                infos["final_obs"], infos["_final_obs"] = c.final_obs.copy(), mask
                infos["final_state"], infos["_final_state"] = c.final_state.copy(), mask
                infos["final_info"], infos["_final_info"] = final_info, mask
        return infos


class FlattenAgents(_SingleAgentVectorEnv):
    """A Gymnasium VectorEnv over a MarlVectorEnv whose agents share one action space: slot
    i * num_agents + a is agent a of env i, so num_envs = N * A and a single-agent trainer (parameter
    sharing) sees padded observations [N * A, obs_size]. infos["active"] [N * A] marks the slots whose
    transition is real: after an agent has finished and before its env resets, its slot reports reward 0
    and no flags, and a trainer should mask it out. Episode statistics are per slot (that agent's return)."""

    def __init__(self, env: MarlVectorEnv):
        if not isinstance(env, MarlVectorEnv):
            raise TypeError(f"FlattenAgents: env must be a MarlVectorEnv, got {type(env).__name__}")
        self.env = env
        self.num_envs = env.num_envs * env.num_agents
        self.autoreset_mode = env.autoreset_mode
        self.metadata = dict(env.metadata)
        self.render_mode = env.render_mode
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._discrete = env._discrete

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        return obs.reshape(self.num_envs, -1), self._flat_infos(infos)

    def render(self):
        """The wrapped env's render(): one frame per multi-agent env of its `render_envs` (not per slot)."""
        return self.env.render()

    def step(self, actions):
        a = self._as_actions(actions)
        n, k = self.env.num_envs, self.env.num_agents
        obs, r, te, tr, infos = self.env.step(a.reshape(n, k, *a.shape[1:]))
        return obs.reshape(self.num_envs, -1), r.reshape(-1), te.reshape(-1), tr.reshape(-1), self._flat_infos(infos)

    def _flat_infos(self, infos: dict[str, Any]) -> dict[str, Any]:
        k = self.env.num_agents
        out: dict[str, Any] = {"active": infos["active"].reshape(-1)}
        out["_active"] = np.ones(self.num_envs, dtype=bool)
        if "action_mask" in infos:
            out["action_mask"], out["_action_mask"] = infos["action_mask"].reshape(self.num_envs, -1), out["_active"]
        for key, value in infos.items():
            if key in (
                "state",
                "active",
                "action_mask",
                "episode",
                "final_obs",
                "final_state",
                "final_info",
            ) or key.startswith("_"):
                continue
            out[key], out["_" + key] = np.repeat(value, k), out["_active"]  # env scalars, one per slot
        if "episode" in infos:
            mask = np.repeat(infos["_episode"], k)
            ep = infos["episode"]
            out["episode"] = {"r": ep["r"].reshape(-1), "l": np.repeat(ep["l"], k), "_r": mask, "_l": mask}
            out["_episode"] = mask
            if "final_obs" in infos:
                final_obs = np.full(self.num_envs, None, dtype=object)
                dense = infos["final_obs"].reshape(self.num_envs, -1)
                for i in np.flatnonzero(mask):
                    final_obs[i] = dense[i]
                out["final_obs"], out["_final_obs"] = final_obs, mask
        return out


__all__ = ["FlattenAgents", "MarlVectorEnv"]
