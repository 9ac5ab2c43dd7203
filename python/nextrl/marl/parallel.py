"""A PettingZoo ParallelEnv over one copy of a compiled multi-agent env (the `marl` extra:
`pip install nextrl[marl]`). It runs the batched env with num_envs=1 and autoreset disabled, so env i of
a batch reset with seed s behaves exactly like this env reset with seed s + i.

Observations are each agent's unpadded group observation; infos[agent] holds its "action_mask"
(Discrete actions) and the env's scalar infos; `state()` is the global state. Agents leave `agents` on
the step where they terminate or are truncated.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.vector import AutoresetMode

try:
    from pettingzoo import ParallelEnv
except ImportError as exc:  # tests/marl/test_marl_api.py hides pettingzoo to reach this
    raise ImportError("nextrl.marl's PettingZoo envs need pettingzoo: pip install 'nextrl[marl]'") from exc

from nextrl.envs.core import unknown_name_error
from nextrl.envs.render import SingleRendering
from nextrl.marl.core import MarlVectorEnv


def _check_agents(actions, agents: list[str], possible_agents: list[str]) -> None:
    """step()'s checks of the actions dict: a dict, some agent still live, every key a live agent, none missing."""
    if not isinstance(actions, dict):
        raise TypeError(f"step: actions must be a dict agent -> action, got {type(actions).__name__}")
    if not agents:
        raise RuntimeError("step: every agent has finished (or reset() was never called); call reset() first")
    for agent in actions:
        if agent not in agents:
            if agent in possible_agents:
                raise ValueError(f"step: agent {agent!r} has finished its episode; it takes no more actions")
            raise unknown_name_error("step", "agent", agent, agents)
    missing = [a for a in agents if a not in actions]
    if missing:
        raise ValueError(f"step: actions is missing live agent(s) {', '.join(map(repr, missing))}")


class MarlParallelEnv(SingleRendering, ParallelEnv):
    """PettingZoo ParallelEnv of `vector_cls(num_envs=1, **config)`. `render_mode` (None, or one of the
    vector env's metadata["render_modes"]): render() returns the frame ("rgb_array"), the text ("ansi"),
    or draws it in a window on every reset and step ("human")."""

    metadata: ClassVar[dict] = {"render_modes": [], "is_parallelizable": True}

    def __init__(self, vector_cls: type[MarlVectorEnv], render_mode: str | None = None, **config):
        fixed = sorted({"num_envs", "autoreset_mode", "copy"} & set(config))
        if fixed:  # else Python's "got multiple values for keyword argument"
            raise TypeError(
                f"parallel_env: {', '.join(fixed)} cannot be set (a ParallelEnv is one env, num_envs=1, autoreset "
                f"disabled); pass only the env's config, or use {vector_cls.__name__} for a batch"
            )
        self._vec = vector_cls(num_envs=1, autoreset_mode=AutoresetMode.DISABLED, copy=True, **config)
        self.metadata = {
            "name": vector_cls.__name__.removesuffix("VectorEnv"),
            "render_modes": list(vector_cls.metadata["render_modes"]),
            "render_fps": vector_cls.metadata["render_fps"],
            "is_parallelizable": True,
        }
        self._init_render(render_mode)
        self.possible_agents = list(self._vec.possible_agents)
        self.agents: list[str] = []
        self.state_space = self._vec.state_space
        self._sizes = {a: self._vec.observation_space(a).shape[0] for a in self.possible_agents}

    def observation_space(self, agent: str):
        return self._vec.observation_space(agent)

    def action_space(self, agent: str):
        return self._vec.action_space(agent)

    def state(self) -> np.ndarray:
        return self._vec.state[0]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """`options` is accepted for the PettingZoo API and ignored (this env has no reset options)."""
        obs, infos = self._vec.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self._render_human()
        return self._obs(obs, self.agents), self._agent_infos(infos, self.agents)

    def step(self, actions: dict[str, Any]):
        _check_agents(actions, self.agents, self.possible_agents)
        vec = self._vec
        space = vec.single_action_space
        batch = np.zeros((1, vec.num_agents, *space.shape), dtype=np.int64 if vec._discrete else np.float32)
        kinds = "iu" if vec._discrete else "fiu"
        for agent, action in actions.items():
            a = np.asarray(action)
            if a.dtype.kind not in kinds or (a.dtype.kind == "b"):
                expected = "an int" if vec._discrete else "real numbers"
                raise TypeError(
                    f"step: action of agent {agent!r} must be {expected} for {space}, got "
                    f"{type(action).__name__} {action!r}"
                )
            if a.shape != space.shape:
                raise ValueError(f"step: action of agent {agent!r} must have shape {space.shape}, got {a.shape}")
            batch[0, vec.agent_index(agent)] = a
        obs, rewards, terms, truncs, infos = vec.step(batch)
        live = self.agents
        idx = {a: vec.agent_index(a) for a in live}
        out = (
            self._obs(obs, live),
            {a: float(rewards[0, i]) for a, i in idx.items()},
            {a: bool(terms[0, i]) for a, i in idx.items()},
            {a: bool(truncs[0, i]) for a, i in idx.items()},
            self._agent_infos(infos, live),
        )
        self.agents = [a for a in live if not (terms[0, idx[a]] or truncs[0, idx[a]])]
        self._render_human()
        return out

    def close(self) -> None:
        self._close_render()

    def get_state(self) -> np.ndarray:
        """The env's full state: [state_bytes] uint8 (see MarlVectorEnv.get_state)."""
        return self._vec.get_state()[0]

    def set_state(self, state: np.ndarray) -> None:
        """Restores the env from `state` (from get_state, or a row of a vector env's); `agents` becomes the
        agents still active in it, and the env continues bit for bit."""
        if not isinstance(state, np.ndarray):
            raise TypeError(f"set_state: state must be a numpy array, got {type(state).__name__}")
        if state.ndim != 1:
            raise ValueError(f"set_state: state must be 1-D ({self._vec._core.state_bytes},), got shape {state.shape}")
        self._vec.set_state(state[None])
        active = self._vec._core.active[0]
        self.agents = [a for a in self.possible_agents if active[self._vec.agent_index(a)]]

    def observations(self) -> dict[str, np.ndarray]:
        """The live agents' current observations."""
        return self._obs(self._vec.observations, self.agents)

    def _obs(self, obs: np.ndarray, agents: list[str]) -> dict[str, np.ndarray]:
        return {a: obs[0, self._vec.agent_index(a), : self._sizes[a]].copy() for a in agents}

    def _agent_infos(self, infos: dict[str, Any], agents: list[str]) -> dict[str, dict[str, Any]]:
        shared = {
            k: float(v[0])
            for k, v in infos.items()
            if isinstance(v, np.ndarray) and v.ndim == 1 and not k.startswith("_") and k != "active"
        }
        out = {}
        for a in agents:
            d = dict(shared)
            if "action_mask" in infos:
                d["action_mask"] = infos["action_mask"][0, self._vec.agent_index(a)].astype(np.int8)
            out[a] = d
        return out


class NumpyMarlParallelEnv(ParallelEnv):
    """PettingZoo ParallelEnv of `vector_cls(1, **config)` for nextrl's NumPy multi-agent envs
    (marl.guessing_game, marl.patterned_rps): they start each new episode inside the step that ends the last,
    giving the ended episode's observations in infos["final_obs"], and have no copyable state or rendering.
    The step that ends an episode returns those final observations and empties `agents`; reset() without a
    seed then starts the episode the vector env already drew, so the ParallelEnv reset with seed s + i
    follows env i of a batch reset with seed s episode after episode. infos[agent] holds "action_mask"
    (every action is legal) and the env's per-env scalar infos."""

    metadata: ClassVar[dict] = {"render_modes": [], "is_parallelizable": True}

    def __init__(self, vector_cls: type, render_mode: str | None = None, **config):
        if "num_envs" in config:
            raise TypeError(
                f"parallel_env: num_envs cannot be set (a ParallelEnv is one env); pass only the env's config, or "
                f"use {vector_cls.__name__} for a batch"
            )
        if render_mode is not None:
            raise ValueError(f"parallel_env: render_mode must be None ({vector_cls.__name__} does not render)")
        self.render_mode = None
        self._vec = vector_cls(1, **config)
        self.metadata = {
            "name": vector_cls.__name__.removesuffix("VectorEnv"),
            "render_modes": [],
            "is_parallelizable": True,
        }
        self.possible_agents = list(self._vec.possible_agents)
        self.agents: list[str] = []
        self.state_space = self._vec.state_space
        self._next: tuple | None = None  # the episode the vector env started in the step that ended the last

    def observation_space(self, agent: str):
        self._index(agent, "observation_space")
        return self._vec.single_observation_space

    def action_space(self, agent: str):
        self._index(agent, "action_space")
        return self._vec.single_action_space

    def state(self) -> np.ndarray:
        return self._vec.state[0]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """`options` is accepted for the PettingZoo API and ignored (this env has no reset options)."""
        if seed is None and self._next is not None:
            obs, infos = self._next
        else:
            obs, infos = self._vec.reset(seed=seed)
        self._next = None
        self.agents = list(self.possible_agents)
        return self._obs(obs), self._agent_infos(infos)

    def step(self, actions: dict[str, Any]):
        _check_agents(actions, self.agents, self.possible_agents)
        space = self._vec.single_action_space
        batch = np.zeros((1, len(self.possible_agents)), dtype=np.int64)
        for agent, action in actions.items():
            a = np.asarray(action)
            if a.dtype.kind not in "iu" or a.shape != ():
                got = f"{type(action).__name__} {action!r}"
                raise TypeError(f"step: action of agent {agent!r} must be an int for {space}, got {got}")
            if not 0 <= int(a) < space.n:
                raise ValueError(f"step: action of agent {agent!r} must be in [0, {space.n}), got {int(a)}")
            batch[0, self._index(agent, "step")] = a
        obs, rewards, terms, truncs, infos = self._vec.step(batch)
        done = bool((terms[0] | truncs[0]).any())  # these envs' agents all finish on the same step
        if done:
            self._next = (obs, infos)
            obs = infos["final_obs"]
        out = (
            self._obs(obs),
            {a: float(rewards[0, i]) for i, a in enumerate(self.possible_agents)},
            {a: bool(terms[0, i]) for i, a in enumerate(self.possible_agents)},
            {a: bool(truncs[0, i]) for i, a in enumerate(self.possible_agents)},
            self._agent_infos(infos),
        )
        self.agents = [] if done else list(self.possible_agents)
        return out

    def close(self) -> None:
        pass

    def _index(self, agent: str, func: str) -> int:
        if agent not in self.possible_agents:
            raise unknown_name_error(func, "agent", agent, self.possible_agents)
        return self.possible_agents.index(agent)

    def _obs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        return {a: obs[0, i].copy() for i, a in enumerate(self.possible_agents)}

    def _agent_infos(self, infos: dict[str, Any]) -> dict[str, dict[str, Any]]:
        shared = {
            k: v[0].item()
            for k, v in infos.items()
            if isinstance(v, np.ndarray) and v.shape == (1,) and not k.startswith("_")
        }
        mask = np.ones(self._vec.single_action_space.n, dtype=np.int8)
        return {a: {**shared, "action_mask": mask.copy()} for a in self.possible_agents}


__all__ = ["MarlParallelEnv", "NumpyMarlParallelEnv"]
