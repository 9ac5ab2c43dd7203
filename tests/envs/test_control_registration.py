"""The control and quantum env ids: gym.make gives the single env, gym.make_vec builds the C++ vector env
directly, with the registered defaults."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nextrl  # noqa: F401  registers the ids
from nextrl.envs import (
    ENVS,
    CartPoleVectorEnv,
    CausalThrustVectorEnv,
    HeteroPointMassVectorEnv,
    PendulumVectorEnv,
    PointMassVectorEnv,
    QuantumStatePrepVectorEnv,
)

IDS = {
    "nextrl/PointMass-v0": PointMassVectorEnv,
    "nextrl/CausalThrust-v0": CausalThrustVectorEnv,
    "nextrl/HeteroPointMass-v0": HeteroPointMassVectorEnv,
    "nextrl/CartPole-v1": CartPoleVectorEnv,
    "nextrl/Pendulum-v1": PendulumVectorEnv,
    "nextrl/QuantumStatePrep-v0": QuantumStatePrepVectorEnv,
    "nextrl/QuantumStatePrepGHZ3-v0": QuantumStatePrepVectorEnv,
    "nextrl/QuantumStatePrepRandom-v0": QuantumStatePrepVectorEnv,
}


@pytest.mark.parametrize("env_id", IDS)
def test_make_and_make_vec(env_id):
    assert env_id in ENVS and env_id in gym.registry
    vec = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    assert type(vec) is IDS[env_id] and vec.num_envs == 3
    single = gym.make(env_id)
    assert single.observation_space == vec.single_observation_space
    assert single.action_space == vec.single_action_space
    obs, _ = vec.reset(seed=0)
    o, _ = single.reset(seed=0)
    np.testing.assert_array_equal(o, obs[0])


def test_registered_defaults():
    assert (
        gym.make_vec("nextrl/QuantumStatePrepGHZ3-v0", num_envs=1, vectorization_mode="vector_entry_point").num_qubits
        == 3
    )
    env = gym.make_vec("nextrl/QuantumStatePrepRandom-v0", num_envs=1, vectorization_mode="vector_entry_point")
    assert env.single_observation_space.shape == (16,)  # psi and target, real and imaginary parts
