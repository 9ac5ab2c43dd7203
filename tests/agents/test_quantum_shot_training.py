"""Training through shots: REINFORCE with the softmax-PQC policy whose circuit runs on ShotSimulator (100 shots per
Pauli string and circuit evaluation; every gradient by parameter shift on shot estimates) learns CartPole-v1,
slowly: 2 seeds, 12,288 env steps (12 updates of 16 envs x 64 steps), the greedy return of the learned
parameters above random play and the training returns rising. Measured at load ~6: greedy 73.3 and 56.4
(random ~22), last-20 training mean 39.9 / 41.1 against 16.6 / 16.4 for the first 20 episodes; the exact
simulator on the same budget: greedy 78.4 / 58.8. 7 to 8 s per seed at load 6 (about 9 CPU-s), 32 s at load 12."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import nextrl  # noqa: F401  (registers nextrl/CartPole-v1)
from nextrl.agents import reinforce
from nextrl.agents.common import evaluate
from nextrl.agents.networks import PRESET_PARAM_LRS
from nextrl.agents.quantum_policies import softmax_pqc_policy
from nextrl.agents.rollout import act_fn
from nextrl.quantum.backends.shots import ShotSimulator
from nextrl.quantum.backends.simulator import SIMULATOR


def _cartpole(num_envs: int):
    return gym.make_vec("nextrl/CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")


@pytest.mark.parametrize("seed", [0, 1])
def test_softmax_pqc_learns_cartpole_through_shots(seed):
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    shots = ShotSimulator(100, seed=seed)
    actor = softmax_pqc_policy(_cartpole(1).single_observation_space, 2, backend=shots)
    cfg = reinforce.ReinforceConfig(
        total_timesteps=12_288,
        num_envs=16,
        num_steps=64,
        learning_rate=0.01,
        param_lrs=PRESET_PARAM_LRS["softmax_pqc"]["actor_critic"],
    )
    result = reinforce.train(_cartpole(16), cfg, seed=seed, actor=actor)
    policy = result.modules["policy"]
    assert policy.actor.pqc.backend is shots
    # every update's gradient came through shots: 12 update batches of 1,024 samples x (1 + 2 x 60 shifted rows),
    # plus the acting calls (one batch of 16 rows per env step)
    assert shots.num_circuits >= 12 * 1024 * 121
    r = np.asarray(result.episode_returns)
    first, last = r[:20].mean(), r[-20:].mean()
    policy.actor.pqc.backend = SIMULATOR  # the learned parameters, read out exactly
    greedy = evaluate(act_fn(policy, gym.spaces.Discrete(2)), _cartpole(4), 10, seed=1000 + seed)
    msg = f"seed {seed}: greedy {greedy.mean():.1f}, training first 20 {first:.1f}, last 20 {last:.1f}"
    assert greedy.mean() >= 45, msg
    assert last >= first + 15, msg
