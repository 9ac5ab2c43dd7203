"""DQN (the MLP Q-network, deep Q-learning) learns gate sequences on the QuantumStatePrep env: from |00> its
greedy policy reaches fidelity >= 0.99 with the two-qubit targets |++> and the Bell state (|00> + |11>) / sqrt 2
(two gates each), 2 seeds, 10,000 env steps (slow: 9 to 29 s per run on 2 busy cores). Measured but not held
here: a depth-4 target (H0, CX01, S1, H1) is not learned at this budget (greedy fidelity 0.93 and 0.43)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import nextrl  # noqa: F401  (registers nextrl/QuantumStatePrep-v0)
from nextrl.agents import dqn

torch.set_num_threads(1)


def _prep(target: str, num_envs: int):
    return gym.make_vec(
        "nextrl/QuantumStatePrep-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        num_qubits=2,
        target=target,
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("target", ["plus", "ghz"])
def test_dqn_prepares_two_qubit_targets(target, seed):
    cfg = dqn.DQNConfig(total_timesteps=10_000, learning_starts=500, exploration_fraction=0.3, gamma=0.95)
    result = dqn.train(_prep(target, 4), cfg, seed=seed)
    act = dqn.greedy_policy(result.modules["q_network"])
    env = _prep(target, 1)
    obs, _ = env.reset(seed=1)
    fidelities = []
    for _ in range(30):  # the env truncates at 30 steps
        obs, _, terminations, truncations, info = env.step(act(obs))
        fidelities.append(float(info["fidelity"][0]))
        if terminations[0] or truncations[0]:
            break
    assert terminations[0] and fidelities[-1] >= 0.99
    assert len(fidelities) == 2  # the shortest sequence: two gates
    np.testing.assert_allclose(fidelities[-1], 1.0, atol=1e-9)
