"""Offline datasets from nextrl's vector envs (D4RL / Minari-style columns), collected with a random, an
expert (exact dynamic programming on the env's tabular model), a mixed (epsilon-expert) or any callable
policy, and saved to / loaded from .npz.

Transitions are those of real steps: the reset steps of NEXT_STEP autoreset are dropped, and at an
episode end `next_observations` holds the real final observation (so truncated transitions can be
bootstrapped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from nextrl.envs.core import unknown_name_error
from nextrl.envs.dp import value_iteration

COLUMNS = ("observations", "actions", "rewards", "terminations", "truncations", "next_observations")
POLICIES = ("random", "expert", "mixed")


@dataclass
class Dataset:
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    next_observations: np.ndarray
    env_id: str = ""
    policy: str = ""
    seed: int = 0
    episode_ids: np.ndarray | None = None
    """[num_transitions] int64: which episode each transition belongs to (unique over envs)"""

    def __len__(self) -> int:
        return len(self.rewards)

    def episode_returns(self) -> np.ndarray:
        """Returns of the episodes that end inside the dataset (per env stream, in collection order)."""
        if self.episode_ids is None:
            raise ValueError("episode_returns: this dataset has no episode ids")
        ends = np.flatnonzero(self.terminations | self.truncations)
        ids = self.episode_ids
        return np.bincount(ids, weights=self.rewards)[ids[ends]]

    def save(self, path: str | Path) -> None:
        extra = {} if self.episode_ids is None else {"episode_ids": self.episode_ids}
        np.savez(
            Path(path),
            **{c: getattr(self, c) for c in COLUMNS},
            env_id=np.str_(self.env_id),
            policy=np.str_(self.policy),
            seed=np.int64(self.seed),
            **extra,
        )

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        with np.load(Path(path), allow_pickle=False) as f:
            missing = [c for c in COLUMNS if c not in f.files]
            if missing:
                raise ValueError(f"Dataset.load: {path} lacks column(s) {missing}")
            return cls(
                **{c: f[c] for c in COLUMNS},
                env_id=str(f["env_id"]),
                policy=str(f["policy"]),
                seed=int(f["seed"]),
                episode_ids=f["episode_ids"] if "episode_ids" in f.files else None,
            )


def expert_policy(env, gamma: float = 1.0) -> np.ndarray:
    """The optimal policy [S] of a tabular env by value iteration on its exact model."""
    return value_iteration(env.transition_table(), gamma).policy


def _put(column: np.ndarray, sl: slice, values: np.ndarray, rows: np.ndarray | None) -> None:
    """column[sl] = values[rows] (rows: indices, None for all), written in place without a temporary."""
    if rows is None:
        column[sl] = values
    else:
        np.take(values, rows, axis=0, out=column[sl])


def collect_dataset(
    env_id: str,
    policy: str | Callable[[np.ndarray], np.ndarray] = "random",
    num_transitions: int = 100_000,
    seed: int = 0,
    *,
    num_envs: int = 1024,
    epsilon: float = 0.3,
    gamma: float = 1.0,
    env_kwargs: dict | None = None,
) -> Dataset:
    """Collects `num_transitions` transitions from `num_envs` copies of `env_id`.

    policy: "random" (uniform actions), "expert" (greedy optimal policy of the exact model; tabular envs),
    "mixed" (expert, replaced by a uniform action with probability `epsilon`), or a callable mapping a batch
    of observations to a batch of actions. Envs are seeded seed, seed + 1, ...; action noise draws from a
    separate stream of `seed`."""
    if num_transitions < 1:
        raise ValueError(f"collect_dataset: num_transitions must be >= 1, got {num_transitions}")
    if num_envs < 1:
        raise ValueError(f"collect_dataset: num_envs must be >= 1, got {num_envs}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"collect_dataset: epsilon must be in [0, 1], got {epsilon}")
    if isinstance(policy, str) and policy not in POLICIES:
        raise unknown_name_error("collect_dataset", "policy", policy, POLICIES)
    if env_id not in gym.registry:
        raise unknown_name_error(
            "collect_dataset", "env id", env_id, [k for k in gym.registry if k.startswith("nextrl/")]
        )
    env = gym.make_vec(env_id, num_envs=num_envs, **(env_kwargs or {}))
    table = None
    if policy in ("expert", "mixed"):
        if not getattr(env, "is_tabular", False):
            raise ValueError(
                f"collect_dataset: policy {policy!r} needs an env with an exact tabular model "
                f"(the grid envs); {env_id} has none. Pass a callable policy instead."
            )
        table = expert_policy(env, gamma)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6E657874]))
    n_act = env.single_action_space.n if isinstance(env.single_action_space, gym.spaces.Discrete) else None

    def random_action_blocks(block: int = 64):
        while True:  # drawn 64 steps at a time: one generator call instead of 64
            yield from rng.integers(0, n_act, (block, num_envs))

    random_actions = random_action_blocks()

    def act(obs: np.ndarray) -> np.ndarray:
        if callable(policy):
            return np.asarray(policy(obs))
        if policy == "random":
            if n_act is None:
                space = env.single_action_space
                return rng.uniform(space.low, space.high, (num_envs, *space.shape)).astype(np.float32)
            return next(random_actions)
        a = table[env.state_ids()]
        if policy == "mixed":
            flip = rng.random(num_envs) < epsilon
            a = np.where(flip, rng.integers(0, n_act, num_envs), a)
        return a

    obs_space, act_space = env.single_observation_space, env.single_action_space
    out = {
        "observations": np.empty((num_transitions, *obs_space.shape), obs_space.dtype),
        "next_observations": np.empty((num_transitions, *obs_space.shape), obs_space.dtype),
        "actions": np.empty((num_transitions, *act_space.shape), act_space.dtype),
        "rewards": np.empty(num_transitions, np.float32),
        "terminations": np.empty(num_transitions, bool),
        "truncations": np.empty(num_transitions, bool),
    }
    episode_id = np.empty(num_transitions, np.int64)
    current_episode = np.arange(num_envs, dtype=np.int64)
    next_episode = num_envs
    if hasattr(env, "_core"):
        env.copy = False  # zero-copy views: each step's rows are copied into the dataset before the next step
    obs, _ = env.reset(seed=seed)
    valid = np.ones(num_envs, bool)
    filled = 0
    while filled < num_transitions:
        actions = np.asarray(act(obs))
        k = min(int(np.count_nonzero(valid)), num_transitions - filled)
        rows = None if k == num_envs else np.flatnonzero(valid)[:k]
        sl = slice(filled, filled + k)
        _put(out["observations"], sl, obs, rows)
        _put(out["actions"], sl, actions, rows)
        _put(episode_id, sl, current_episode, rows)
        obs, rewards, terms, truncs, _ = env.step(actions)
        _put(out["next_observations"], sl, obs, rows)
        _put(out["rewards"], sl, rewards, rows)
        _put(out["terminations"], sl, terms, rows)
        _put(out["truncations"], sl, truncs, rows)
        filled += k
        done = terms | truncs
        n_done = int(np.count_nonzero(done))
        if n_done:
            current_episode[done] = np.arange(next_episode, next_episode + n_done)
            next_episode += n_done
        valid = ~done
    env.close()
    return Dataset(
        **out,
        env_id=env_id,
        policy=policy if isinstance(policy, str) else "callable",
        seed=seed,
        episode_ids=episode_id,
    )


__all__ = ["COLUMNS", "Dataset", "collect_dataset", "expert_policy"]
