"""Proof by learning for the off-policy agents, fixed seeds, two each (marked slow).

How it is measured: after training for the stated budget, the final network acts greedily (DQN, discrete
SAC: argmax) or deterministically (SAC: tanh of the mean; TD3: mu(s), no noise) for 10 episodes on a fresh
Gymnasium vector env seeded apart from training (common.evaluate); the mean of those 10 returns must reach
the goal. Settings are the cheap ones in each test (small networks, modest update-to-data ratios)."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.agents import dqn, sac, sac_discrete, td3
from nextrl.agents.common import evaluate

torch.set_num_threads(1)


def _vec(env_id: str, num_envs: int):
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")


def _eval(act, env_id: str, seed: int) -> np.ndarray:
    returns = evaluate(act, _vec(env_id, 10), 10, seed=10_000 + seed)
    print(f"\n{env_id} seed {seed}: greedy mean {returns.mean():.1f} (min {returns.min():.0f})")  # pytest -rP
    return returns


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_dqn_solves_cartpole(seed):
    cfg = dqn.DQNConfig()  # the defaults: 2.4e4 steps, double DQN, 3-step returns, 64x64 ReLU MLP
    result = dqn.train(_vec("CartPole-v1", 1), cfg, seed=seed)
    returns = _eval(dqn.greedy_policy(result.modules["q_network"]), "CartPole-v1", seed)
    assert returns.mean() >= 475, (returns, result.mean_return())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_sac_solves_pendulum_within_2e4_steps(seed):
    cfg = dataclasses.replace(sac.SACConfig(), total_timesteps=6_000, hidden=(64, 64), batch_size=128)
    env = _vec("Pendulum-v1", 1)
    result = sac.train(env, cfg, seed=seed)
    returns = _eval(sac.deterministic_policy(result.modules["actor"], env.single_action_space), "Pendulum-v1", seed)
    assert returns.mean() >= -200, (returns, result.mean_return(10))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_td3_solves_pendulum_within_2e4_steps(seed):
    cfg = dataclasses.replace(td3.TD3Config(), total_timesteps=8_000, hidden=(64, 64), batch_size=128)
    env = _vec("Pendulum-v1", 1)
    result = td3.train(env, cfg, seed=seed)
    returns = _eval(td3.deterministic_policy(result.modules["actor"], env.single_action_space), "Pendulum-v1", seed)
    assert returns.mean() >= -200, (returns, result.mean_return(10))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_sac_discrete_learns_cartpole(seed):
    # the defaults: 1.5e4 steps, 3-step returns, entropy target 0.1 * log(2). Measured greedy means 371 (seed 0)
    # and 478 (seed 1) on 2026-12-05; 475 is not reached reliably within this budget, so the goal here is 300.
    cfg = sac_discrete.SACDiscreteConfig()
    result = sac_discrete.train(_vec("CartPole-v1", 1), cfg, seed=seed)
    returns = _eval(sac_discrete.greedy_policy(result.modules["actor"]), "CartPole-v1", seed)
    assert returns.mean() >= 300, (returns, result.mean_return())
