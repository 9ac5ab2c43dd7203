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
"state" [N, A * num_digits] (every agent's observation) and "active" [N, A] (all True).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


class GuessingGameVectorEnv:
    """`num_envs` copies of the guessing game (module docstring)."""

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
        self._rng = np.random.default_rng()
        self.digits = np.zeros((self.num_envs, self.num_agents), dtype=np.int64)

    def _observe(self):
        obs = np.eye(self.num_digits, dtype=np.float32)[self.digits]
        infos = {"state": obs.reshape(self.num_envs, -1).copy(), "active": np.ones(self.digits.shape, dtype=bool)}
        return obs, infos

    def reset(self, *, seed: int | None = None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.digits = self._rng.integers(0, self.num_digits, size=(self.num_envs, self.num_agents))
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
        self.digits = self._rng.integers(0, self.num_digits, size=(self.num_envs, self.num_agents))
        obs, infos = self._observe()
        return obs, rewards, terms, truncs, infos


__all__ = ["GuessingGameVectorEnv"]
