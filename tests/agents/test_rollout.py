"""Rollout storage and collection over NEXT_STEP autoreset, on a scripted env whose episodes last exactly
3 steps with rewards 1, 2, 3: the valid mask, the stored rewards and flags, next_values, and GAE over
them against a hand computation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from torch import nn

from nextrl.agents import returns
from nextrl.agents.networks import default_actor_critic
from nextrl.agents.rollout import Collector, Rollout, check_env, collect


class ThreeSteps(gym.Env):
    """obs = [step index]; reward = step index + 1; terminates after 3 steps (or truncates, if asked)."""

    observation_space = gym.spaces.Box(0, 10, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, truncate: bool = False):
        self.t, self.truncate = 0, truncate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.t == 3
        return (np.array([self.t], np.float32), float(self.t), done and not self.truncate, done and self.truncate, {})


class ObsValue(nn.Module):
    """critic V(s) = 10 * obs, so values are readable."""

    def forward(self, obs):
        return 10.0 * obs


def _collect(truncate: bool, num_steps: int = 8):
    env = gym.vector.SyncVectorEnv([lambda: ThreeSteps(truncate) for _ in range(2)])
    policy = default_actor_critic(env.single_observation_space, env.single_action_space, critic=ObsValue())
    rollout = Rollout(num_steps, 2, env.single_observation_space, env.single_action_space)
    c = Collector.start(env, seed=0)
    collect(policy, rollout, c)
    return rollout, c


@pytest.mark.parametrize("truncate", [False, True])
def test_collect_masks_reset_steps(truncate):
    rollout, c = _collect(truncate)
    # steps 0..2 are an episode, step 3 is the reset step (action ignored, reward 0), then 4..6, reset at 7
    np.testing.assert_array_equal(rollout.valid[:, 0].numpy(), [1, 1, 1, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(rollout.rewards[:, 0].numpy(), [1, 2, 3, 0, 1, 2, 3, 0])
    np.testing.assert_array_equal(rollout.obs[:, 0, 0].numpy(), [0, 1, 2, 3, 0, 1, 2, 3])  # 3 = final obs
    done = (rollout.truncations if truncate else rollout.terminations)[:, 0].numpy()
    np.testing.assert_array_equal(done, [0, 0, 1, 0, 0, 0, 1, 0])
    assert c.global_step == 16 and c.tracker.finished_returns == [6.0] * 4
    # next_values: values shifted; at the done step t = 2 it is V(final obs 3) = 30
    nv = rollout.next_values()[:, 0].numpy()
    np.testing.assert_array_equal(nv, [10, 20, 30, 0, 10, 20, 30, 0])
    (b_obs,) = rollout.flat(rollout.obs)
    assert b_obs.shape == (12, 1)


@pytest.mark.parametrize("truncate", [False, True])
def test_gae_over_collected_rollout(truncate):
    rollout, _ = _collect(truncate)
    adv, _ = returns.gae(
        rollout.rewards,
        rollout.values,
        rollout.next_values(),
        rollout.terminations,
        rollout.truncations,
        gamma=0.5,
        lam=1.0,
    )
    a = adv[:, 0].numpy()
    # V = 10 obs. Episode: deltas d0 = 1 + 0.5*10 - 0 = 6, d1 = 2 + 0.5*20 - 10 = 2,
    # d2 = 3 + 0.5*(0 if terminated else 30) - 20 = -17 (or -2); A = suffix sums with factor 0.5
    d2 = -2.0 if truncate else -17.0
    expected = [6 + 0.5 * (2 + 0.5 * d2), 2 + 0.5 * d2, d2]
    np.testing.assert_allclose(a[:3], expected, rtol=1e-6)
    np.testing.assert_allclose(a[4:7], expected, rtol=1e-6)  # the masked reset step does not leak into t = 2


def test_rollout_errors():
    space = gym.spaces.Box(0, 1, (1,))
    with pytest.raises(ValueError, match="Rollout: num_steps and num_envs must be >= 1, got 0, 2"):
        Rollout(0, 2, space, gym.spaces.Discrete(2))
    r = Rollout(1, 1, space, gym.spaces.Discrete(2))
    row = (
        np.zeros((1, 1)),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1),
        np.zeros(1, bool),
        np.zeros(1, bool),
        np.ones(1, bool),
    )
    r.add(*row)
    with pytest.raises(IndexError, match=r"Rollout.add: storage is full \(1 steps\); call reset\(\) first"):
        r.add(*row)


def test_check_env_errors():
    with pytest.raises(TypeError, match=r"ppo.train: env must be a gymnasium.vector.VectorEnv .*got ThreeSteps"):
        check_env("ppo.train", ThreeSteps())
    env = gym.vector.SyncVectorEnv([ThreeSteps], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    with pytest.raises(ValueError, match="ppo.train: env must use NEXT_STEP autoreset"):
        check_env("ppo.train", env)
