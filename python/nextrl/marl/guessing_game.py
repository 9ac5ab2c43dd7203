"""A guessing game where communication is needed (the referential games of Lazaridou et al. 2017 and DIAL's
experiments, reduced to one step), batched in NumPy.

Each of `num_agents` agents privately draws a digit d_i in {0, .., num_digits - 1} and observes only
onehot(d_i); agent i must name the digit of agent (i + 1) mod num_agents. Reward per agent: 1 for a right
guess, else 0. Without communication no policy beats 1 / num_digits in expectation (its guess is independent
of the digit it must name); with it, every agent can be right.

Every step is a whole episode: rewards are given, every agent terminates, and the observation returned is
the first of a new episode with fresh digits (nothing of the old episode remains to reset, so there are no
reset steps). Arrays follow nextrl.marl's [num_envs, num_agents, ...] API: obs [N, A, num_digits] float32,
rewards [N, A] float32, terminations [N, A] bool (all True), truncations [N, A] bool (all False), infos
"state" [N, A * num_digits] (every agent's observation), "active" [N, A] (all True) and, after a step,
"final_obs" [N, A, num_digits] (the observations of the episode that ended, with the mask "_final_obs").

Each env draws from its own random stream: env i of a batch reset with seed s behaves exactly like a single
env (or `parallel_env()`, a PettingZoo ParallelEnv) reset with seed s + i; an unseeded reset continues them.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from nextrl.envs.core import reset_arguments


class GuessingGameVectorEnv:
    """`num_envs` copies of the guessing game (module docstring)."""

    _reset_options: frozenset[str] = frozenset()

    def __init__(self, num_envs: int = 1, *, num_agents: int = 2, num_digits: int = 4):
        for name, value, low in (
            ("num_envs", num_envs, 1),
            ("num_agents", num_agents, 2),
            ("num_digits", num_digits, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"GuessingGameVectorEnv: {name} must be an integer >= {low}, got {value!r}")
        self.num_envs, self.num_agents, self.num_digits = int(num_envs), int(num_agents), int(num_digits)
        self.obs_size = self.num_digits
        self.possible_agents = [f"agent_{i}" for i in range(self.num_agents)]
        self.single_observation_space = spaces.Box(0.0, 1.0, (self.num_digits,), np.float32)
        self.single_action_space = spaces.Discrete(self.num_digits)
        self.state_space = spaces.Box(0.0, 1.0, (self.num_agents * self.num_digits,), np.float32)
        self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]
        self._seeded = False
        self.digits = np.zeros((self.num_envs, self.num_agents), dtype=np.int64)

    @property
    def state(self) -> np.ndarray:
        """Global state [num_envs, num_agents * num_digits]: every agent's observation."""
        return np.eye(self.num_digits, dtype=np.float32)[self.digits].reshape(self.num_envs, -1)

    def _draw(self) -> np.ndarray:
        return np.stack([rng.integers(0, self.num_digits, size=self.num_agents) for rng in self._rngs])

    def _observe(self):
        obs = np.eye(self.num_digits, dtype=np.float32)[self.digits]
        infos = {"state": obs.reshape(self.num_envs, -1).copy(), "active": np.ones(self.digits.shape, dtype=bool)}
        return obs, infos

    def reset(self, *, seed: int | None = None, options=None):
        """(obs, infos); env i is seeded with seed + i."""
        _, seed, _ = reset_arguments(self, seed, options)
        if seed is not None:
            self._rngs = [np.random.default_rng(seed + i) for i in range(self.num_envs)]
        self.digits = self._draw()
        return self._observe()

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, self.num_agents) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"GuessingGameVectorEnv.step: actions must be integers of shape ({self.num_envs}, {self.num_agents}), "
                f"got {actions.dtype} {actions.shape}"
            )
        if actions.min() < 0 or actions.max() >= self.num_digits:
            raise ValueError(
                f"GuessingGameVectorEnv.step: actions must be in [0, {self.num_digits}), "
                f"got {actions.min()}..{actions.max()}"
            )
        target = np.roll(self.digits, -1, axis=1)  # agent i names the digit of agent i + 1
        rewards = (actions == target).astype(np.float32)
        terms = np.ones(self.digits.shape, dtype=bool)
        truncs = np.zeros(self.digits.shape, dtype=bool)
        final_obs = np.eye(self.num_digits, dtype=np.float32)[self.digits]
        self.digits = self._draw()
        obs, infos = self._observe()
        infos["final_obs"], infos["_final_obs"] = final_obs, np.ones(self.num_envs, dtype=bool)
        return obs, rewards, terms, truncs, infos


def parallel_env(**config):
    """PettingZoo ParallelEnv of one guessing game (keyword arguments as GuessingGameVectorEnv). Every step
    ends the episode (agents becomes empty); reset() without a seed then starts the next one, continuing the
    env's random stream as the vector env does inside its step."""
    from nextrl.marl.parallel import NumpyMarlParallelEnv

    return NumpyMarlParallelEnv(GuessingGameVectorEnv, **config)


__all__ = ["GuessingGameVectorEnv", "parallel_env"]
