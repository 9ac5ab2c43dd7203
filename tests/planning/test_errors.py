"""Every error a user can reach in nextrl.planning (and the bindings' own checks behind it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl import _core
from nextrl.envs import CartPoleVectorEnv, PendulumVectorEnv, PointMassVectorEnv
from nextrl.planning import CEM, ICEM, MPC, MPPI, ExactModel


@pytest.fixture
def model():
    env = PendulumVectorEnv(2)
    env.reset(seed=0)
    m = ExactModel(env)
    m.sync()
    return m


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: CEM(horizon=0), ValueError, "CEM: horizon must be >= 1, got 0"),
        (lambda: CEM(population=0), ValueError, "CEM: population must be >= 1, got 0"),
        (lambda: CEM(population=10, num_elites=11), ValueError, "num_elites must be <= population = 10, got 11"),
        (lambda: CEM(num_elites=0), ValueError, "num_elites must be >= 1"),
        (lambda: CEM(iterations=0), ValueError, "iterations must be >= 1"),
        (lambda: CEM(alpha=1.5), ValueError, r"alpha must be finite and in \[0.0, 1.0\]"),
        (lambda: CEM(gamma=float("nan")), ValueError, "gamma must be finite"),
        (lambda: CEM(horizon=2.5), TypeError, "horizon must be an int"),
        (lambda: ICEM(population_decay=0.5), ValueError, "population_decay must be finite and in"),
        (lambda: ICEM(noise_beta=-1.0), ValueError, "noise_beta must be finite"),
        (lambda: ICEM(keep_fraction=2.0), ValueError, "keep_fraction"),
        (lambda: MPPI(temperature=0.0), ValueError, r"temperature must be finite and in \(0.0"),
        (lambda: MPPI(smoothing=1.0), ValueError, "smoothing"),
        (lambda: MPPI(population=0), ValueError, "population must be >= 1"),
        (lambda: MPPI(horizon=0), ValueError, "horizon must be >= 1"),
    ],
)
def test_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_bad_bounds(model):
    p = CEM(horizon=3, population=8, num_elites=2, iterations=1)
    with pytest.raises(ValueError, match=r"low and high must have shape \(1,\)"):
        p.plan(model, low=[-1.0, -1.0], high=[1.0, 1.0])
    with pytest.raises(ValueError, match="low must be <= high"):
        p.plan(model, low=[1.0], high=[-1.0])
    with pytest.raises(ValueError, match="low and high must be finite"):
        p.plan(model, low=[np.nan], high=[1.0])
    with pytest.raises(ValueError, match="low and high .* are required"):
        p.plan(lambda a: a.sum((1, 2)))


def test_bad_mean_std_and_nan(model):
    p = CEM(horizon=3, population=8, num_elites=2, iterations=1)
    with pytest.raises(ValueError, match=r"mean must have shape .* = \(2, 3, 1\), got \(2, 4, 1\)"):
        p.plan(model, mean=np.zeros((2, 4, 1)))
    with pytest.raises(ValueError, match="mean must be finite"):
        p.plan(model, mean=np.full((2, 3, 1), np.nan))
    with pytest.raises(ValueError, match=r"std must have shape \(2, 3, 1\)"):
        p.plan(model, std=np.ones((1, 3, 1)))
    with pytest.raises(ValueError, match="std must be >= 0"):
        p.plan(model, std=-np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="std must be finite"):
        p.plan(model, std=np.full((2, 3, 1), np.inf))
    with pytest.raises(ValueError, match="prev_elites must have shape"):
        ICEM(horizon=3, population=8, num_elites=4, iterations=1).plan(model, prev_elites=np.zeros((2, 0, 3, 1)))
    with pytest.raises(TypeError, match="seed must be an int"):
        p.plan(model, seed=1.5)
    with pytest.raises(ValueError, match=r"round must be < 2\*\*32"):
        p.plan(model, round=2**32)


def test_bad_model_and_states():
    p = CEM(horizon=3, population=8, num_elites=2, iterations=1)
    with pytest.raises(TypeError, match="model must be an ExactModel, a C\\+\\+ rollout model or a torch objective"):
        p.plan(42)
    with pytest.raises(TypeError, match="ExactModel: env must be a nextrl single-agent vector env"):
        ExactModel(object())
    env = CartPoleVectorEnv(2)
    env.reset(seed=0)
    m = ExactModel(env)
    with pytest.raises(ValueError, match="the model has no start states; call model.sync"):
        p.plan(m)
    with pytest.raises(ValueError, match=r"set_states: states must have shape \(num_problems >= 1, \d+\)"):
        m.set_states(env.get_state()[:, :-1].copy())
    with pytest.raises(TypeError, match="states must have dtype uint8"):
        m.set_states(env.get_state().astype(np.int16))
    with pytest.raises(TypeError, match="states must be a numpy array"):
        m.set_states([[0]])
    with pytest.raises(ValueError, match=r"states must have shape"):  # a start state of another env's layout
        m.set_states(PendulumVectorEnv(2).get_state())
    grid = __import__("nextrl.envs", fromlist=["GridWorldVectorEnv"]).GridWorldVectorEnv(1)
    grid.reset(seed=0)
    gm = ExactModel(grid)
    bad = grid.get_state()
    bad[0, :8] = np.frombuffer(np.int64(10**6).tobytes(), dtype=np.uint8)  # a cell outside the grid
    with pytest.raises(ValueError, match=r"set_states: states\[0\] must be a row of get_state\(\)"):
        gm.set_states(bad)
    with pytest.raises(ValueError, match="evaluate: the model has no start states"):
        gm.evaluate(np.zeros((1, 1, 1, 1)))
    gm.sync()
    with pytest.raises(ValueError, match=r"evaluate: actions must have shape \(1, count, horizon, 1\)"):
        gm.evaluate(np.zeros((1, 1, 1, 2)))


def test_nan_from_the_model_is_an_error():
    """A model that returns NaN (here: PointMass from a state whose s1 is inf: s0 + 0.05 sin(inf) is NaN) stops the
    plan, on the C++ path and on the torch path."""
    env = PointMassVectorEnv(1)
    env.reset(seed=0)
    states = env.get_state()
    states[0, 8:16] = np.frombuffer(np.float64(np.inf).tobytes(), dtype=np.uint8)
    m = ExactModel(env)
    m.set_states(states)
    for planner in (CEM(horizon=2, population=4, num_elites=2, iterations=1), MPPI(horizon=2, population=4)):
        with pytest.raises(ValueError, match="the model returned NaN for a candidate of problem 0"):
            planner.plan(m)
    nan_objective = lambda a: torch.full((a.shape[0],), float("nan"), dtype=a.dtype)
    for planner in (CEM(horizon=2, population=4, num_elites=2, iterations=1), MPPI(horizon=2, population=4)):
        with pytest.raises(ValueError, match="the model returned NaN for a candidate of problem 0"):
            planner.plan(nan_objective, low=[-1.0], high=[1.0])
    with pytest.raises(ValueError, match=r"must return one value per candidate, shape \(4,\), got \(4, 1\)"):
        CEM(horizon=2, population=4, num_elites=2, iterations=1).plan(lambda a: a.sum(1), low=[-1.0], high=[1.0])
    with pytest.raises(TypeError, match="the objective must return a tensor"):
        CEM(horizon=2, population=4, num_elites=2, iterations=1).plan(
            lambda a: a.numpy().sum((1, 2)), low=[-1.0], high=[1.0]
        )


def test_binding_checks(model):
    """The C++ side refuses what the Python layer would never pass."""
    cm = model.core
    mean, std, lo, hi = np.zeros((2, 3, 1)), np.ones((2, 3, 1)), np.array([-2.0]), np.array([2.0])
    kw = dict(population=4, num_elites=2, iterations=1, alpha=0.1, gamma=1.0, seed=0)
    with pytest.raises(ValueError, match=r"num_elites must be in \[1, population\]"):
        _core._plan_cem(cm, mean, std, lo, hi, **{**kw, "num_elites": 5})
    with pytest.raises(TypeError, match="mean must have dtype float64"):
        _core._plan_cem(cm, mean.astype(np.float32), std, lo, hi, **kw)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        _core._plan_cem(cm, np.zeros((2, 0, 1)), np.zeros((2, 0, 1)), lo, hi, **kw)
    with pytest.raises(ValueError, match="num_keep must be in"):
        _core._plan_cem(cm, mean, std, lo, hi, **kw, num_keep=3)
    with pytest.raises(ValueError, match="prev_elites must hold at least num_keep"):
        _core._plan_cem(cm, mean, std, lo, hi, **kw, num_keep=2, prev_elites=np.zeros((2, 1, 3, 1)))
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\)"):
        _core._plan_cem(cm, mean, std, lo, hi, **{**kw, "seed": -1})
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        _core._plan_mppi(
            cm, mean, np.ones(1), lo, hi, population=4, iterations=1, temperature=0.0, smoothing=0.0, gamma=1.0, seed=0
        )


def test_mpc_errors():
    env = PendulumVectorEnv(1)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="planner must be a CEM, ICEM or MPPI"):
        MPC(env, "cem")
    with pytest.raises(ValueError, match=r"replan_every must be in \[1, horizon\] = \[1, 5\], got 6"):
        MPC(env, CEM(horizon=5), replan_every=6)
    with pytest.raises(ValueError, match="low and high .* are required with an objective"):
        MPC(env, CEM(horizon=5), objective=lambda obs, a: a.sum((1, 2)))
