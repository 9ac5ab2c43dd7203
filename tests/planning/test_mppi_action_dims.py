"""MPPI (csrc/planning/mppi.h) with two action dimensions of different noise scales and box bounds, against the NumPy
reference (tests/reference/planning.py): the per-element noise scale and clip are indexed by the action dimension
(e = h A + a), which a one-dimensional action (the Pendulum reference test) cannot tell apart."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.envs import PointMassVectorEnv
from nextrl.planning import MPPI, ExactModel
from reference import planning as ref


@pytest.mark.parametrize("smoothing", [0.0, 0.35])
def test_mppi_two_action_dims_equal_numpy_reference(smoothing):
    make = lambda n: PointMassVectorEnv(n)
    env = make(2)
    env.reset(seed=3)
    env.step(np.random.default_rng(3).uniform(-1, 1, size=(2, 2)).astype(np.float32))
    model = ExactModel(env)
    model.sync()
    low, high = np.array([-1.0, -0.3]), np.array([0.5, 1.0])  # different widths and centres per dimension
    planner = MPPI(horizon=5, population=40, iterations=3, temperature=0.5, noise_std=0.4, smoothing=smoothing)
    mean = np.random.default_rng(4).uniform(-0.3, 0.3, size=(2, 5, 2))
    res = planner.plan(model, mean=mean, low=low, high=high, seed=11, record=True)
    states = env.get_state()
    want = ref.mppi(
        lambda b, X: ref.env_returns(make, states[b], X, planner.gamma),
        mean,
        0.4 * (high - low),
        low,
        high,
        population=40,
        iterations=3,
        temperature=0.5,
        smoothing=smoothing,
        seed=11,
    )
    np.testing.assert_array_equal(res.returns, want["returns"])
    np.testing.assert_allclose(res.mean, want["mean"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.best, want["best"], rtol=0, atol=1e-12)
    # the box per dimension was applied: the best sequence and the mean lie in the box of their dimension
    assert res.best[..., 1].min() >= -0.3 and res.best[..., 0].max() <= 0.5
    assert np.all(res.mean[..., 0] <= 0.5) and np.all(res.mean[..., 1] >= -0.3)
