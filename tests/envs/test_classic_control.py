"""CartPole and Pendulum (csrc/envs/classic_control.h) against Gymnasium's CartPole-v1 and Pendulum-v1:
Gymnasium's env is put in our state after every reset, then both take the same actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from envs import control_checks as cc
from nextrl.envs import CartPoleEnv, CartPoleVectorEnv, PendulumEnv, PendulumVectorEnv

ENVS = {"cartpole": (CartPoleVectorEnv, CartPoleEnv, "nextrl/CartPole-v1", 500),
        "pendulum": (PendulumVectorEnv, PendulumEnv, "nextrl/Pendulum-v1", 200)}


def lockstep(env_id: str, gym_id: str, policy, steps: int, seed: int = 0) -> dict[str, int]:
    """Steps our env and Gymnasium's in lockstep; returns counts of terminations and truncations."""
    ours, theirs = gym.make(env_id), gym.make(gym_id)
    counts = {"terminated": 0, "truncated": 0}

    def sync(obs_ours):
        theirs.reset(seed=seed)  # restarts Gymnasium's TimeLimit counter
        theirs.unwrapped.state = ours.unwrapped._vec.states()[0].copy()
        return obs_ours

    obs = sync(ours.reset(seed=seed)[0])
    for _ in range(steps):
        action = policy(obs)
        o1, r1, te1, tr1, _ = ours.step(action)
        o2, r2, te2, tr2, _ = theirs.step(action)
        np.testing.assert_allclose(o1, o2, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(ours.unwrapped._vec.states()[0], theirs.unwrapped.state, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(r1, r2, rtol=1e-6, atol=1e-6)
        assert (te1, tr1) == (te2, tr2)
        counts["terminated"] += te1
        counts["truncated"] += tr1
        if te1 or tr1:
            obs = sync(ours.reset()[0])
        else:
            obs = o1
    return counts


def test_cartpole_matches_gymnasium_random():
    rng = np.random.default_rng(0)
    counts = lockstep("nextrl/CartPole-v1", "CartPole-v1", lambda obs: int(rng.integers(2)), 1000)
    assert counts["terminated"] >= 20


def test_cartpole_matches_gymnasium_time_limit():
    """A balancing policy with 10% random actions: episodes reach the 500-step limit."""
    rng = np.random.default_rng(1)

    def policy(obs):
        if rng.random() < 0.1:
            return int(rng.integers(2))
        return int(obs[2] + 0.5 * obs[3] + 0.01 * obs[0] + 0.1 * obs[1] > 0)

    counts = lockstep("nextrl/CartPole-v1", "CartPole-v1", policy, 1100)
    assert counts["truncated"] >= 1


def test_cartpole_sutton_barto_reward():
    env = CartPoleVectorEnv(2, sutton_barto_reward=True)
    env.reset(seed=0)
    rewards, terms = [], []
    for _ in range(60):
        _, r, term, _, _ = env.step(np.ones(2, dtype=np.int64))
        rewards.append(r.copy())
        terms.append(term.copy())
    rewards, terms = np.array(rewards), np.array(terms)
    assert terms.any()
    np.testing.assert_array_equal(rewards[terms], -1.0)
    np.testing.assert_array_equal(rewards[~terms], 0.0)


def test_pendulum_matches_gymnasium():
    """1000 random torques in [-3, 3] (clipped to [-2, 2]): 5 episodes truncated at 200 steps."""
    rng = np.random.default_rng(0)
    counts = lockstep("nextrl/Pendulum-v1", "Pendulum-v1",
                      lambda obs: rng.uniform(-3, 3, size=1).astype(np.float32), 1000)
    assert counts == {"terminated": 0, "truncated": 5}


def test_spaces_match_gymnasium():
    for key, gym_id in (("cartpole", "CartPole-v1"), ("pendulum", "Pendulum-v1")):
        vec_cls = ENVS[key][0]
        ours, theirs = vec_cls(1), gym.make(gym_id)
        assert ours.single_observation_space == theirs.observation_space
        assert ours.single_action_space == theirs.action_space


@pytest.mark.parametrize("key", ENVS)
def test_check_env(key):
    allow = (cc.UNBOUNDED_OBS,) if key == "cartpole" else (cc.UNNORMALIZED_ACTIONS,)
    cc.run_check_env(ENVS[key][2], allow=allow)


@pytest.mark.parametrize("key", ENVS)
def test_determinism(key):
    cc.check_determinism(ENVS[key][0])


@pytest.mark.parametrize("key", ENVS)
def test_batch_equals_singles(key):
    cc.check_batch_equals_singles(ENVS[key][0], ENVS[key][1], steps=450)


@pytest.mark.parametrize("key", ENVS)
def test_thread_invariance(key, restore_threads):
    cc.check_thread_invariance(ENVS[key][0], restore_threads)


@pytest.mark.parametrize("key", ENVS)
def test_obs_in_space_and_time_limit(key):
    cc.check_obs_in_space(ENVS[key][0])
    cc.check_time_limit(lambda n: ENVS[key][0](n, max_steps=30), max_steps=30, steps=100)


def test_pendulum_reset_distribution():
    obs, _ = PendulumVectorEnv(4000).reset(seed=0)
    theta = np.arctan2(obs[:, 1], obs[:, 0])
    np.testing.assert_allclose(np.abs(theta).mean(), np.pi / 2, rtol=0.05)
    assert np.abs(obs[:, 2]).max() <= 1.0


def test_bad_actions_and_config():
    cp = CartPoleVectorEnv(2)
    cp.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[1\] must be 0 or 1"):
        cp.step(np.array([0, 2]))
    with pytest.raises(TypeError, match="actions must be integers for a Discrete action space"):
        cp.step(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"actions must have shape \(2,\), got \(3,\)"):
        cp.step(np.array([0, 1, 1]))
    pd = PendulumVectorEnv(2)
    pd.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[0\] must be finite, got NaN or inf"):
        pd.step(np.array([[np.inf], [0.0]], dtype=np.float32))
    with pytest.raises(ValueError, match=r"actions must have shape \(2,\), got \(2, 2\)"):
        pd.step(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="init_low and init_high must be finite with init_low <= init_high"):
        CartPoleVectorEnv(1, init_low=0.1, init_high=0.0)
    with pytest.raises(ValueError, match="Pendulum: g must be finite"):
        PendulumVectorEnv(1, g=float("nan"))
    with pytest.raises(TypeError, match="CartPole: sutton_barto_reward must be bool, got int"):
        CartPoleVectorEnv(1, sutton_barto_reward=1)
