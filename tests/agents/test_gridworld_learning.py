"""Proof by learning on nextrl's own vector envs: PPO and DQN (dueling, prioritized) solve the 8x8 GridWorld
(nextrl/GridWorld8x8-v0: one-hot observations, goal reward 1, step penalty 0.01, 100-step limit): the
greedy final policy's mean return over 8 evaluation episodes is within 5% of the exact optimum from
dynamic programming (0.87 = 1 - 13 * 0.01)."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

import nextrl  # noqa: F401  registers nextrl/ ids
from nextrl.agents import common, dqn, ppo
from nextrl.agents.rollout import act_fn
from nextrl.envs.dp import value_iteration

ENV = "nextrl/GridWorld8x8-v0"


def _optimum() -> float:
    env = gym.make_vec(ENV, num_envs=1)
    return float(value_iteration(env.transition_table()).values[0])


def test_the_optimum_is_the_manhattan_path():
    assert _optimum() == pytest.approx(1.0 - 13 * 0.01, abs=1e-6)


def _greedy_return(policy, env, seed: int) -> float:
    eval_env = gym.make_vec(ENV, num_envs=4)
    return float(common.evaluate(act_fn(policy, env.single_action_space), eval_env, 8, seed=seed).mean())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_ppo_solves_gridworld_8x8(seed):
    torch.set_num_threads(1)
    env = gym.make_vec(ENV, num_envs=16)
    cfg = ppo.PPOConfig(
        total_timesteps=30_000,
        num_envs=16,
        num_steps=64,
        num_minibatches=2,
        update_epochs=4,
        learning_rate=2.5e-3,
        ent_coef=0.01,
        gamma=0.99,
        gae_lambda=0.9,
        clip_vloss=False,
    )
    res = ppo.train(env, cfg, seed=seed)
    ret = _greedy_return(res.modules["policy"], env, 100 + seed)
    assert ret >= 0.95 * _optimum(), f"PPO seed {seed}: greedy mean return {ret:.3f}, optimum {_optimum():.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_dueling_prioritized_dqn_solves_gridworld_8x8(seed):
    torch.set_num_threads(1)
    env = gym.make_vec(ENV, num_envs=4)
    cfg = dqn.DQNConfig(
        total_timesteps=8_000,
        num_envs=4,
        learning_starts=500,
        exploration_fraction=0.3,
        train_frequency=16,
        gradient_steps=8,
        prioritized=True,
        dueling=True,
    )
    res = dqn.train(env, cfg, seed=seed)
    eval_env = gym.make_vec(ENV, num_envs=4)
    ret = float(common.evaluate(dqn.greedy_policy(res.modules["q_network"]), eval_env, 8, seed=100 + seed).mean())
    assert ret >= 0.95 * _optimum(), f"DQN seed {seed}: greedy mean return {ret:.3f}, optimum {_optimum():.3f}"
