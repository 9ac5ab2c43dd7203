"""agents.common: evaluation without the short-episode bias, the episode tracker, and checkpoints that load
with torch.load(weights_only=True).

The bias: keeping the first n episodes to end over several envs favours short episodes. Two references
pin the fix: a vector env whose envs have fixed, different episode lengths (exact answer), and a fixed
CartPole policy evaluated by a plain loop over single Gymnasium envs (statistical answer)."""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

from nextrl.agents.common import EpisodeTracker, episode_quotas, evaluate, seeded


class FixedLengthEnvs(VectorEnv):
    """Env i pays reward 1 per step and ends its episodes after lengths[i] steps (NEXT_STEP autoreset),
    so an episode's return equals its length."""

    metadata: ClassVar[dict] = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, lengths):
        self.lengths = np.asarray(lengths)
        self.num_envs = len(lengths)
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)

    def reset(self, *, seed=None, options=None):
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        self.done = np.zeros(self.num_envs, dtype=bool)
        return self.t[:, None].astype(np.float32), {}

    def step(self, actions):
        rewards = np.where(self.done, 0.0, 1.0)
        self.t = np.where(self.done, 0, self.t + 1)
        ended = ~self.done & (self.t == self.lengths)
        self.done = ended
        return self.t[:, None].astype(np.float32), rewards, ended, np.zeros(self.num_envs, bool), {}


def _first_to_end(act, env, num_episodes, seed):
    """The biased estimator the fix replaced: the first `num_episodes` episodes to end over all envs."""
    obs, _ = env.reset(seed=seed)
    tracker = EpisodeTracker(env.num_envs)
    while len(tracker.finished_returns) < num_episodes:
        obs, rewards, terms, truncs, _ = env.step(act(obs))
        tracker.step(rewards, terms, truncs)
    return np.asarray(tracker.finished_returns[:num_episodes])


def test_episode_quotas_are_fixed_and_even():
    assert episode_quotas(10, 4).tolist() == [2, 2, 3, 3]
    assert episode_quotas(3, 5).tolist() == [0, 0, 1, 1, 1]
    assert episode_quotas(8, 8).tolist() == [1] * 8


def test_evaluate_counts_a_fixed_quota_per_env_exactly():
    env = FixedLengthEnvs([1, 10])
    zero = lambda obs: np.zeros(len(obs), dtype=np.int64)
    returns = evaluate(zero, env, 4, seed=0)
    assert sorted(returns.tolist()) == [1.0, 1.0, 10.0, 10.0]  # two episodes of each env: mean 5.5
    # the first four to end are all short ones (env 0 ends one every second step)
    assert _first_to_end(zero, env, 4, seed=0).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert sorted(evaluate(zero, FixedLengthEnvs([3, 5, 7]), 5, seed=0).tolist()) == [3, 5, 5, 7, 7]


def _lean_policy(obs: np.ndarray) -> np.ndarray:
    """A fixed CartPole policy with widely spread episode lengths (mean about 17): push toward the pole's
    lean, biased by the cart's velocity."""
    return (obs[:, 2] + 0.05 * obs[:, 1] > 0).astype(np.int64)


def _single_env_returns(policy, num_episodes: int) -> np.ndarray:
    """Independent reference: one Gymnasium CartPole, one episode per seed, stepped in a plain loop."""
    env = gym.make("CartPole-v1")
    out = []
    for k in range(num_episodes):
        obs, _ = env.reset(seed=k)
        total, done = 0.0, False
        while not done:
            obs, reward, term, trunc, _ = env.step(int(policy(obs[None])[0]))
            total += reward
            done = term or trunc
        out.append(total)
    return np.asarray(out)


def test_evaluate_is_unbiased_on_cartpole_against_single_env_episodes():
    reference = _single_env_returns(_lean_policy, 400)
    env = gym.make_vec("CartPole-v1", num_envs=10, vectorization_mode="sync")
    # 40 evaluations of 10 episodes on 10 envs, seeds disjoint (env i of a vector env gets seed + i)
    ours = np.concatenate([evaluate(_lean_policy, env, 10, seed=1_000 + 10 * s) for s in range(40)])
    biased = np.concatenate([_first_to_end(_lean_policy, env, 10, seed=1_000 + 10 * s) for s in range(40)])
    se = np.hypot(reference.std() / np.sqrt(len(reference)), ours.std() / np.sqrt(len(ours)))
    assert abs(ours.mean() - reference.mean()) <= 4 * se, (ours.mean(), reference.mean(), se)
    # the test has teeth: the first-to-end estimator it replaced is far outside the same band
    assert reference.mean() - biased.mean() > 4 * se, (biased.mean(), reference.mean(), se)


def test_evaluate_errors():
    env = FixedLengthEnvs([5, 5])
    zero = lambda obs: np.zeros(len(obs), dtype=np.int64)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="evaluate: num_episodes must be an integer >= 1"):
            evaluate(zero, env, bad, seed=0)
    with pytest.raises(RuntimeError, match="evaluate: only 2 of 4 episodes ended within 8 steps"):
        evaluate(zero, env, 4, seed=0, max_steps=8)


def test_tracker_records_which_env_ended_each_episode():
    tracker = EpisodeTracker(3)
    tracker.step([1, 1, 1], [False, True, False], [False, False, False])
    tracker.step([2, 5, 3], [False, True, True], [True, False, False])  # env 1 resets: its step is not counted
    assert tracker.finished_envs == [1, 0, 2]
    assert tracker.finished_returns == [1.0, 3.0, 4.0] and tracker.finished_lengths == [1, 2, 2]


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (2**64, ValueError, r"^ppo.train: seed must be in \[0, 2\*\*64\), got 18446744073709551616$"),
        (-1, ValueError, r"^ppo.train: seed must be in \[0, 2\*\*64\), got -1$"),
        (True, TypeError, "^ppo.train: seed must be an int, got bool True$"),
        (0.5, TypeError, "^ppo.train: seed must be an int, got float 0.5$"),
    ],
)
def test_seeded_refuses_seeds_outside_uint64(seed, error, match):
    # torch.manual_seed would fail on 2**64 with its own overflow RuntimeError and wrap -1 silently
    with pytest.raises(error, match=match):
        with seeded(seed, "ppo.train"):
            pass
    with seeded(2**64 - 1) as gen:
        assert gen.initial_seed() == 2**64 - 1
