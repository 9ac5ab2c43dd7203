"""PointMass (csrc/envs/point_mass.h): the documents' 4-D point mass against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

from env_harness import check_against_reference, random_actions
from nextrl.envs import PointMassEnv, PointMassVectorEnv
from reference.control_envs import point_mass_step


def make(n, **kw):
    return PointMassVectorEnv(n, **kw)


def test_spaces():
    env = make(3)
    assert env.single_observation_space.shape == (4,) and env.single_action_space.shape == (2,)
    np.testing.assert_array_equal(env.single_action_space.low, [-1, -1])
    assert env.observation_space.shape == (3, 4) and env.action_space.shape == (3, 2)


def test_noise_free_dynamics_match_reference():
    """Every step of 32 envs (clipped actions, terminations, autoresets) against point_mass_step."""
    env = make(32, noise_std=0.0, nuisance_std=0.0, init_range=1.5)
    rng = np.random.default_rng(0)
    terminated = check_against_reference(
        env,
        lambda i, s, a: point_mass_step(s, a, np.zeros(5)),
        lambda: random_actions(rng, env.single_action_space, 32),
        steps=250,
    )
    assert terminated > 0


def test_noise_scales():
    """One step from reset with zero action: residuals s' - f(s) have std noise_std (dims 0-2) and
    sqrt(noise_std^2 + (0.1 nuisance_std)^2) (dim 3), mean 0."""
    n = 10000
    env = make(n, noise_std=0.02, nuisance_std=0.1)
    env.reset(seed=2)
    s0 = env.states()
    env.step(np.zeros((n, 2), dtype=np.float32))
    det = np.stack([point_mass_step(s, np.zeros(2), np.zeros(5))[0] for s in s0])
    res = env.states() - det
    expected = np.array([0.02, 0.02, 0.02, np.hypot(0.02, 0.01)])
    np.testing.assert_allclose(res.std(axis=0), expected, rtol=0.03)
    np.testing.assert_allclose(res.mean(axis=0), 0.0, atol=4 * expected.max() / np.sqrt(n))


def test_reset_distribution():
    env = make(5000, init_range=1.0)
    obs, _ = env.reset(seed=0)
    assert obs.min() >= -1 and obs.max() <= 1
    np.testing.assert_allclose(obs.std(axis=0), 1 / np.sqrt(3), rtol=0.05)


def test_bad_actions():
    env = make(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 2\), got \(2, 3\)"):
        env.step(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"actions\[1\] must be finite, got NaN or inf"):
        env.step(np.array([[0, 0], [np.nan, 0]], dtype=np.float32))
    with pytest.raises(ValueError, match=r"actions\[0\] must be finite"):
        env.step(np.array([[np.inf, 0], [0, 0]]))
    with pytest.raises(TypeError, match="actions must be real numbers"):
        env.step(np.zeros((2, 2), dtype=np.complex64))
    single = PointMassEnv()
    single.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(2,\), got \(1,\)"):
        single.step(np.zeros(1, dtype=np.float32))


def test_bad_config():
    with pytest.raises(ValueError, match="noise_std and nuisance_std must be finite and >= 0"):
        make(1, noise_std=-0.1)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        make(1, max_norm=0.0)
    with pytest.raises(ValueError, match="max_steps must be >= 0"):
        make(1, max_steps=-1)
    with pytest.raises(ValueError, match="unknown argument 'noise'; did you mean 'noise_std'"):
        make(1, noise=0.1)
    with pytest.raises(TypeError, match="PointMass: noise_std must be float, got str"):
        make(1, noise_std="0.1")
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        make(0)


def test_copies_of_one_state_step_as_single_envs():
    # The batched step copies the draws of an env whose rng is in the previous env's state (csrc/envs/point_mass.h,
    # StepBlock): rows that are copies of one state, interleaved with another, against each row stepped alone.
    src = make(2)
    src.reset(seed=4)
    src.step(np.zeros((2, 2), dtype=np.float32))
    rows = src.get_state()[[0, 0, 1, 0, 0, 1, 1]]
    batch = make(len(rows))
    batch.reset(seed=0)
    batch.set_state(rows)
    singles = [make(1) for _ in rows]
    for env, row in zip(singles, rows):
        env.reset(seed=0)
        env.set_state(row[None])
    rng = np.random.default_rng(0)
    for _ in range(6):
        a = rng.uniform(-1, 1, size=(len(rows), 2)).astype(np.float32)
        obs, r, term, _, _ = batch.step(a)
        for i, env in enumerate(singles):
            o1, r1, t1, _, _ = env.step(a[i : i + 1])
            np.testing.assert_array_equal(obs[i], o1[0])
            assert r[i] == r1[0] and term[i] == t1[0]
    np.testing.assert_array_equal(batch.get_state(), np.concatenate([env.get_state() for env in singles]))
