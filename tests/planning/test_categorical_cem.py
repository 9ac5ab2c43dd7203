"""Categorical CEM (csrc/planning/categorical_cem.h, nextrl.planning.CategoricalCEM) against the slow NumPy
reference (tests/reference/categorical_cem.py) on CartPole's and FrozenLake's exact models, the torch path against
the C++ path on the same model and seed, MPC-style control of CartPole with it, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl import _core
from nextrl.envs import CartPoleVectorEnv, PendulumVectorEnv
from nextrl.planning import CategoricalCEM, ExactModel
from reference import categorical_cem as cref
from reference import planning as ref


def _cartpole(num_envs=2, seed=3):
    env = CartPoleVectorEnv(num_envs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        env.step(rng.integers(2, size=num_envs))
    return env


def test_uniforms_equal_the_numpy_philox():
    got = _core._planning_uniforms(7, 3, 1, 2, 5, 50)
    want = cref.uniforms(7, 3, 1, 2, 55)[5:]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_update_equals_numpy_reference(alpha):
    env = _cartpole()
    model = ExactModel(env)
    model.sync()
    planner = CategoricalCEM(horizon=6, population=30, num_elites=5, iterations=3, alpha=alpha, gamma=0.97)
    probs = np.tile(np.array([0.3, 0.7]), (2, 6, 1))
    res = planner.plan(model, probs=probs, seed=5, round=2, record=True)
    states = env.get_state()
    want = cref.categorical_cem(
        lambda b, X: ref.env_returns(lambda n: CartPoleVectorEnv(n), states[b], X, 0.97),
        probs,
        population=30,
        num_elites=5,
        iterations=3,
        alpha=alpha,
        seed=5,
        round=2,
    )
    np.testing.assert_allclose(res.std, want["probs"], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(res.elite_rows, want["elite_rows"])
    np.testing.assert_array_equal(res.returns, want["returns"])
    np.testing.assert_array_equal(res.elites, want["elites"])
    np.testing.assert_array_equal(res.best, want["best"])
    np.testing.assert_array_equal(res.best_return, want["best_return"])
    np.testing.assert_array_equal(res.actions[..., 0], want["probs"].argmax(-1))


def test_three_actions_follow_the_probabilities():
    """Sampling frequencies of a 3-way categorical: one iteration with every candidate an elite (a constant
    objective, torch path), so the refit p equals the sample frequencies; 20000 samples: 5 sd < 0.02."""
    p = np.array([0.2, 0.5, 0.3])
    res = CategoricalCEM(horizon=2, population=20000, num_elites=20000, iterations=1, alpha=0.0).plan(
        lambda a: torch.zeros(a.shape[0], dtype=a.dtype), probs=np.tile(p, (1, 2, 1)), seed=1
    )
    np.testing.assert_allclose(res.std[0].numpy(), np.tile(p, (2, 1)), atol=0.015)


def test_torch_path_equals_the_cpp_path():
    env = _cartpole()
    model = ExactModel(env)
    model.sync()
    planner = CategoricalCEM(horizon=5, population=24, num_elites=4, iterations=3, alpha=0.2)

    def objective(actions):
        a = actions.reshape(2, -1, 5, 1).numpy()
        return torch.as_tensor(model.evaluate(a)).reshape(-1)

    got = planner.plan(model, seed=4, record=True)
    want = planner.plan(objective, num_actions=2, num_problems=2, seed=4, record=True)
    np.testing.assert_allclose(got.std, want.std.numpy(), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(got.elites, want.elites.numpy())
    np.testing.assert_array_equal(got.best_return, want.best_return.numpy())
    np.testing.assert_array_equal(got.actions, want.actions.numpy())


def test_keeps_cartpole_up_for_200_steps():
    """Receding horizon with the exact model, the plan's most probable first action each step: 2 envs (reset seed
    0), horizon 25, 100 candidates, 3 iterations. Measured: the first termination of either env at step 330 (reset
    seed 0) and 289 (seed 1) -- it does not reach 500 like the Gaussian relaxation with horizon 100
    (test_mpc.py); a random policy falls after about 22 steps."""
    env = CartPoleVectorEnv(2)
    env.reset(seed=0)
    model = ExactModel(env)
    planner = CategoricalCEM(horizon=25, population=100, num_elites=10, iterations=3, alpha=0.1)
    for t in range(200):
        model.sync()
        res = planner.plan(model, seed=0, round=t)
        _, _, term, _, _ = env.step(res.actions[:, 0, 0].astype(np.int64))
        assert not term.any(), t


def test_errors():
    env = _cartpole()
    model = ExactModel(env)
    planner = CategoricalCEM(horizon=4, population=10, num_elites=2)
    with pytest.raises(ValueError, match="no start states"):
        planner.plan(model)
    model.sync()
    with pytest.raises(ValueError, match="sum to 1"):
        planner.plan(model, probs=np.full((2, 4, 2), 0.6))
    with pytest.raises(ValueError, match="probs must have shape"):
        planner.plan(model, probs=np.full((2, 3, 2), 0.5))
    with pytest.raises(ValueError, match="num_elites must be <= population"):
        CategoricalCEM(population=4, num_elites=5)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        CategoricalCEM(horizon=0)
    with pytest.raises(ValueError, match="num_actions"):
        planner.plan(lambda a: a.sum((1, 2)))
    pend = PendulumVectorEnv(1)
    pend.reset(seed=0)
    pm = ExactModel(pend)
    pm.sync()
    with pytest.raises(ValueError, match="num_actions"):  # a continuous model has no action count
        planner.plan(pm)
    with pytest.raises(ValueError, match="sum to 1"):  # the C++ check, past the Python one
        _core._plan_categorical_cem(model.core, np.full((2, 4, 2), 0.6), 10, 2, 1, 0.1, 1.0, 0)
    with pytest.raises(ValueError, match="returned NaN"):
        planner.plan(lambda a: torch.full((a.shape[0],), float("nan"), dtype=a.dtype), num_actions=2)
