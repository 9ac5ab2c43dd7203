"""HeteroPointMass (csrc/envs/point_mass.h): the federated clients' 4-variant task on a 2-D double integrator
(the document added a 2-D action to a 4-D state)."""

from __future__ import annotations

import numpy as np
import pytest

from env_harness import check_against_reference, random_actions
from nextrl.envs import HeteroPointMassEnv, HeteroPointMassVectorEnv
from reference.control_envs import hetero_point_mass_step


def make(n, **kw):
    return HeteroPointMassVectorEnv(n, **kw)


def test_noise_free_dynamics_match_reference():
    """A heterogeneous batch (variants 0..3) against hetero_point_mass_step, every step."""
    n = 32
    variants = np.arange(n) % 4
    env = make(n, variant=variants, noise_std=0.0, init_range=2.0)
    rng = np.random.default_rng(0)
    bias = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    terminated = check_against_reference(
        env,
        lambda i, s, a: hetero_point_mass_step(s, a, np.zeros(4), variant=variants[i]),
        lambda: (bias + random_actions(rng, env.single_action_space, n)).astype(np.float32),
        steps=250,
    )
    assert terminated > 0
    np.testing.assert_array_equal(env.variants(), variants)


def test_noise_scales_per_variant():
    """sigma = 0.1 (1 + 0.2 variant) on every state dim, one step from reset with zero action."""
    n = 4 * 3000
    variants = np.arange(n) % 4
    env = make(n, variant=variants)
    env.reset(seed=2)
    s0 = env.states()
    env.step(np.zeros((n, 2), dtype=np.float32))
    det = s0.copy()
    det[:, :2] += 0.1 * det[:, 2:]
    res = env.states() - det
    for v in range(4):
        np.testing.assert_allclose(res[variants == v].std(axis=0), 0.1 * (1 + 0.2 * v), rtol=0.04)


def test_double_integrator_is_controllable():
    """A PD controller a = clip(-2 p - 3 v) brings the noise-free state to the origin from any start."""
    env = make(32, noise_std=0.0, init_range=0.5)
    obs, _ = env.reset(seed=0)
    for _ in range(149):
        a = np.clip(-2 * obs[:, :2] - 3 * obs[:, 2:], -1, 1).astype(np.float32)
        obs, _, term, trunc, _ = env.step(a)
        assert not (term | trunc).any()
    assert np.linalg.norm(obs, axis=1).max() < 1e-3


def test_variant_reset_options():
    env = make(4, variant=[0, 1, 2, 3])
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["variant"], [0, 1, 2, 3])
    _, info = env.reset(seed=0, options={"variant": 2})
    np.testing.assert_array_equal(info["variant"], 2)
    np.testing.assert_array_equal(env.variants(), 2)
    # the variant holds through autoresets
    for _ in range(151):
        _, _, _, _, info = env.step(np.zeros((4, 2), dtype=np.float32))
    np.testing.assert_array_equal(info["variant"], 2)
    mask = np.array([False, True, False, True])
    _, info = env.reset(options={"reset_mask": mask, "variant": np.array([0, 0, 1, 1])})
    np.testing.assert_array_equal(info["variant"], [2, 0, 2, 1])
    _, info = env.reset(seed=1)  # an explicit reset without the option: the constructor's variants
    np.testing.assert_array_equal(info["variant"], [0, 1, 2, 3])
    single = HeteroPointMassEnv(variant=3)
    _, i = single.reset(seed=0)
    assert i["variant"] == 3.0


def test_bad_variants_and_config():
    with pytest.raises(ValueError, match=r"variant must be in \[0, 4\)"):
        make(2, variant=4)
    with pytest.raises(ValueError, match=r"variant must be in \[0, 4\)"):
        make(2, variant=[0, -1])
    with pytest.raises(ValueError, match="variant must be an int or 2 ints"):
        make(2, variant=[0, 1, 2])
    with pytest.raises(ValueError, match="variant must be an int or 2 ints"):
        make(2, variant=0.5)
    env = make(2)
    with pytest.raises(ValueError, match=r"variant must be in \[0, 4\)"):
        env.reset(seed=0, options={"variant": 7})
    with pytest.raises(ValueError, match="noise_std must be finite and >= 0"):
        make(1, noise_std=-1.0)
    with pytest.raises(ValueError, match="init_range must be finite and >= 0"):
        make(1, init_range=float("inf"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[0\] must be finite"):
        env.step(np.array([[np.nan, 0], [0, 0]], dtype=np.float32))
