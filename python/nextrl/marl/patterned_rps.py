"""Repeated rock-paper-scissors against a scripted opponent of a hidden type, batched in NumPy: a game where a
model of the other agent matters (its next action is predictable from its past ones, but only once its type
is inferred from them).

Per env and episode the opponent's type is drawn uniformly among three patterns over its own last action b:
"repeat" (plays b again), "cycle up" (b + 1 mod 3) and "cycle down" (b - 1 mod 3), each followed with
probability `determinism`, else a uniform action; its first two actions are uniform. Actions 0 rock, 1 paper,
2 scissors; the learner's reward is +1 for a win (a = b + 1 mod 3), -1 for a loss, 0 for a draw, and its
actions do not influence the opponent. Observation (one agent): [onehot(opponent's action 1 step ago),
onehot(2 steps ago)] (zeros before the episode's first actions), 6 floats; infos "opponent_action" [N] is the
opponent's action of the step. Episodes last `episode_length` steps; every episode's reset happens inside
the step that ends it (the returned observation starts the next episode, truncations mark the end).
A learner that ignores the opponent's history gets 0 in expectation (each type is equally likely and the
first actions are uniform); one that predicts the type wins about determinism of the time after two steps.

The agent is named "player"; infos also hold "final_obs" [N, 1, 6] (the last observation of the episodes
that ended, mask "_final_obs"), and `state` [N, 6] is the observation. Each env draws from its own random
stream: env i of a batch reset with seed s behaves exactly like a single env (or `parallel_env()`, a
PettingZoo ParallelEnv) reset with seed s + i; an unseeded reset continues them.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from nextrl.envs.core import reset_arguments

PATTERNS = ("repeat", "cycle up", "cycle down")


class PatternedRPSVectorEnv:
    """`num_envs` repeated RPS games against patterned opponents (module docstring)."""

    _reset_options: frozenset[str] = frozenset()

    def __init__(self, num_envs: int = 1, *, episode_length: int = 20, determinism: float = 0.9):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"PatternedRPSVectorEnv: num_envs must be an integer >= 1, got {num_envs!r}")
        if isinstance(episode_length, bool) or not isinstance(episode_length, (int, np.integer)) or episode_length < 1:
            raise ValueError(f"PatternedRPSVectorEnv: episode_length must be an integer >= 1, got {episode_length!r}")
        if not 0.0 <= determinism <= 1.0:
            raise ValueError(f"PatternedRPSVectorEnv: determinism must be in [0, 1], got {determinism}")
        self.num_envs, self.num_agents = int(num_envs), 1
        self.episode_length, self.determinism = int(episode_length), float(determinism)
        self.obs_size = 6
        self.possible_agents = ["player"]
        self.single_observation_space = spaces.Box(0.0, 1.0, (6,), np.float32)
        self.single_action_space = spaces.Discrete(3)
        self.state_space = self.single_observation_space
        self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]
        self._seeded = False
        self.types = np.zeros(self.num_envs, dtype=np.int64)
        self.history = np.full((self.num_envs, 2), -1, dtype=np.int64)  # [1 step ago, 2 steps ago]
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        self._new_episodes(np.ones(self.num_envs, dtype=bool))

    def _new_episodes(self, mask: np.ndarray) -> None:
        for i in np.flatnonzero(mask):
            self.types[i] = self._rngs[i].integers(0, 3)
        self.history[mask] = -1
        self.t[mask] = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, 1, 6), dtype=np.float32)
        for k in range(2):
            seen = self.history[:, k] >= 0
            obs[np.flatnonzero(seen), 0, 3 * k + self.history[seen, k]] = 1.0
        return obs

    @property
    def state(self) -> np.ndarray:
        """Global state [num_envs, 6]: the observation."""
        return self._obs()[:, 0]

    def reset(self, *, seed: int | None = None, options=None):
        """(obs, infos); env i is seeded with seed + i."""
        _, seed, _ = reset_arguments(self, seed, options)
        if seed is not None:
            self._rngs = [np.random.default_rng(seed + i) for i in range(self.num_envs)]
        self._new_episodes(np.ones(self.num_envs, dtype=bool))
        return self._obs(), {}

    def opponent_actions(self) -> np.ndarray:
        """Draws the opponent's actions of this step [N] from its type and history."""
        last = self.history[:, 0]
        shift = np.array([0, 1, -1])[self.types]
        planned = (last + shift) % 3
        uniform = np.empty(self.num_envs, dtype=np.int64)
        coin = np.empty(self.num_envs)
        for i, rng in enumerate(self._rngs):
            uniform[i], coin[i] = rng.integers(0, 3), rng.random()
        follow = (self.history[:, 1] >= 0) & (coin < self.determinism)
        return np.where(follow, planned, uniform)

    def step(self, actions):
        actions = np.asarray(actions).reshape(-1)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"PatternedRPSVectorEnv.step: actions must be {self.num_envs} integers ([N] or [N, 1]), "
                f"got {np.asarray(actions).dtype} {np.asarray(actions).shape}"
            )
        if actions.min() < 0 or actions.max() > 2:
            raise ValueError("PatternedRPSVectorEnv.step: actions must be in {0, 1, 2}")
        b = self.opponent_actions()
        diff = (actions - b) % 3
        rewards = np.where(diff == 1, 1.0, np.where(diff == 2, -1.0, 0.0)).astype(np.float32)
        self.history = np.stack([b, self.history[:, 0]], axis=1)
        self.t += 1
        ended = self.t >= self.episode_length
        final_obs = self._obs()
        self._new_episodes(ended)
        infos = {"opponent_action": b, "final_obs": final_obs, "_final_obs": ended.copy()}
        truncs = ended[:, None].copy()
        return self._obs(), rewards[:, None], np.zeros_like(truncs), truncs, infos


def parallel_env(**config):
    """PettingZoo ParallelEnv of one patterned RPS game (keyword arguments as PatternedRPSVectorEnv); its one
    agent is "player". After the episode's last step (truncation) reset() without a seed starts the next
    episode, continuing the env's random stream as the vector env does inside its step."""
    from nextrl.marl.parallel import NumpyMarlParallelEnv

    return NumpyMarlParallelEnv(PatternedRPSVectorEnv, **config)


__all__ = ["PATTERNS", "PatternedRPSVectorEnv", "parallel_env"]
