"""The planners of csrc/planning/ against the NumPy reference (tests/reference/planning.py): the noise and its
spectrum, each optimizer's update on a fixed seed (elites, mean, std, MPPI weights), exact-dynamics rollouts
against stepping the env itself, thread-count invariance, and the torch path against the C++ path."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import nextrl
from nextrl import _core
from nextrl.envs import ENVS, CartPoleVectorEnv, PendulumVectorEnv, PointMassVectorEnv
from nextrl.planning import CEM, ICEM, MPPI, ExactModel
from reference import planning as ref

# ------------------------------------------------------------------------------------------------------ noise


@pytest.mark.parametrize(
    "seed,round,problem,iteration,index0,count",
    [(0, 0, 0, 0, 0, 101), (7, 3, 2, 5, 13, 64), (2**64 - 1, 2**32 - 1, 2**31, 9, 1, 7)],
)
def test_noise_equals_the_numpy_philox_box_muller(seed, round, problem, iteration, index0, count):
    got = _core._planning_normals(seed, round, problem, iteration, index0, count)
    want = ref.normals(seed, (round << 32) | problem, iteration << 32, index0, count)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


def test_noise_is_standard_normal():
    z = _core._planning_normals(1, 0, 0, 0, 0, 200_000)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 0.01  # the two halves of a Box-Muller pair


@pytest.mark.parametrize("H,beta", [(1, 2.0), (15, 0.0), (15, 2.0), (16, 2.5), (30, 1.0)])
def test_colored_noise_matrix_equals_fft_filtering(H, beta):
    z = np.random.default_rng(0).standard_normal((50, H))
    C = _core._colored_noise_matrix(H, beta)
    np.testing.assert_allclose(z @ C.T, ref.colored(z, beta), rtol=0, atol=1e-12)
    np.testing.assert_allclose((C**2).sum(axis=1), 1.0, rtol=1e-12)  # unit variance at every step


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_colored_noise_spectrum_follows_the_power_law(beta):
    """The iCEM noise spectrum: the averaged periodogram of the colored noise falls as f^-beta."""
    H = 64
    z = _core._planning_normals(3, 0, 0, 0, 0, 4000 * H).reshape(4000, H)
    y = z @ _core._colored_noise_matrix(H, beta).T
    psd = (np.abs(np.fft.rfft(y, axis=1)) ** 2).mean(axis=0)
    f = np.fft.rfftfreq(H)[1:-1]
    slope = np.polyfit(np.log(f), np.log(psd[1:-1]), 1)[0]
    assert abs(slope + beta) < 0.1
    assert abs(y.var() - 1) < 0.05


# ----------------------------------------------------------------------------------------- rollouts vs stepping


def _vector_env(env_id, **extra):
    _, vector, kwargs = ENVS[env_id]
    module, name = vector.split(":")
    cls = getattr(importlib.import_module(module), name)
    return lambda n: cls(n, **{**kwargs, **extra})


SINGLE_AGENT = [
    "nextrl/GridWorld-v0",
    "nextrl/GridWorld8x8-v0",
    "nextrl/FrozenLake-v0",
    "nextrl/CliffWalkingSlippery-v0",
    "nextrl/SafeGridWorld-v0",
    "nextrl/RobustGridWorld-v0",
    "nextrl/GoalGridWorld-v0",
    "nextrl/PointMass-v0",
    "nextrl/CausalThrust-v0",
    "nextrl/HeteroPointMass-v0",
    "nextrl/CartPole-v1",
    "nextrl/Pendulum-v1",
    "nextrl/QuantumStatePrepRandom-v0",
]


def _mid_episode_states(make, num_envs, seed, steps=2):
    env = make(num_envs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.step(_random_actions(env, rng))
    return env


def _random_actions(env, rng):
    space = env.single_action_space
    if hasattr(space, "n"):
        return rng.integers(space.n, size=env.num_envs)
    return rng.uniform(space.low, space.high, size=(env.num_envs, *space.shape)).astype(np.float32)


@pytest.mark.parametrize("env_id", SINGLE_AGENT)
def test_exact_rollouts_equal_stepping_the_env(env_id):
    make = _vector_env(env_id)
    env = _mid_episode_states(make, 3, seed=5)
    model = ExactModel(env)
    model.sync()
    H, N, gamma = 6, 9, 0.9
    x = np.random.default_rng(1).uniform(model.low, model.high, size=(3, N, H, model.action_dim))
    got = model.evaluate(x, gamma)
    states = env.get_state()
    for b in range(3):
        want = ref.env_returns(make, states[b], x[b], gamma)
        np.testing.assert_array_equal(got[b], want)


# ----------------------------------------------------------------------------------------- optimizers vs NumPy


def _env_evaluate(make, states, gamma):
    return lambda b, X: ref.env_returns(make, states[b], X, gamma)


def _compare(got, want, keys, atol=1e-12):
    for key in keys:
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize(
    "make,steps",
    [(lambda n: PendulumVectorEnv(n), 3), (lambda n: CartPoleVectorEnv(n), 2), (lambda n: PointMassVectorEnv(n), 1)],
    ids=["pendulum", "cartpole", "pointmass"],
)
def test_cem_update_equals_numpy_reference(make, steps):
    env = _mid_episode_states(make, 2, seed=3, steps=steps)
    model = ExactModel(env)
    model.sync()
    planner = CEM(horizon=7, population=40, num_elites=6, iterations=3, alpha=0.2, gamma=0.95)
    std = np.broadcast_to(0.3 * (model.high - model.low), (2, 7, model.action_dim)) * np.linspace(0.5, 1.5, 7)[:, None]
    mean = np.broadcast_to((model.low + model.high) / 2, std.shape) + 0.1 * (model.high - model.low)
    res = planner.plan(model, mean=mean, std=std, seed=11, round=4, record=True)
    want = ref.cem(
        _env_evaluate(make, env.get_state(), 0.95),
        mean,
        std,
        model.low,
        model.high,
        population=40,
        num_elites=6,
        iterations=3,
        alpha=0.2,
        seed=11,
        round=4,
    )
    got = dict(
        mean=res.mean,
        std=res.std,
        best=res.best,
        best_return=res.best_return,
        elites=res.elites,
        elite_rows=res.elite_rows,
    )
    _compare(got, want, ["mean", "std", "best", "best_return", "elites"])
    np.testing.assert_array_equal(res.elite_rows, want["elite_rows"])
    np.testing.assert_array_equal(res.returns, np.array(want["returns"]))
    np.testing.assert_array_equal(res.actions, res.mean)


def test_random_shooting_is_the_best_sample():
    env = _mid_episode_states(lambda n: PendulumVectorEnv(n), 2, seed=0)
    model = ExactModel(env)
    model.sync()
    res = CEM.random_shooting(horizon=5, population=64).plan(model, seed=2, record=True)
    assert np.all(res.best_return == res.returns[:, 0].max(axis=1))
    np.testing.assert_array_equal(res.actions, res.best)
    np.testing.assert_array_equal(model.evaluate(res.actions[:, None])[:, 0], res.best_return)


def test_icem_equals_numpy_reference():
    make = lambda n: PointMassVectorEnv(n)
    env = _mid_episode_states(make, 2, seed=8)
    model = ExactModel(env)
    model.sync()
    H, A = 8, 2
    planner = ICEM(
        horizon=H,
        population=30,
        num_elites=6,
        iterations=4,
        alpha=0.1,
        gamma=0.9,
        noise_beta=2.0,
        population_decay=1.5,
        keep_fraction=0.5,
        add_mean=True,
    )
    prev = np.random.default_rng(0).uniform(-1, 1, size=(2, 6, H, A))
    res = planner.plan(model, seed=5, round=1, prev_elites=prev, record=True)
    std = np.full((2, H, A), 0.25 * 2.0)
    want = ref.cem(
        _env_evaluate(make, env.get_state(), 0.9),
        np.zeros((2, H, A)),
        std,
        model.low,
        model.high,
        population=30,
        num_elites=6,
        iterations=4,
        alpha=0.1,
        seed=5,
        round=1,
        noise_beta=2.0,
        population_decay=1.5,
        num_keep=3,
        add_mean=True,
        prev_elites=prev,
    )
    got = dict(mean=res.mean, std=res.std, best=res.best, best_return=res.best_return, elites=res.elites)
    _compare(got, want, ["mean", "std", "best", "best_return", "elites"], atol=1e-10)
    np.testing.assert_array_equal(res.elite_rows, want["elite_rows"])
    for b in range(2):
        for i, r in enumerate(want["returns"][b]):
            np.testing.assert_allclose(res.returns[b, i, : len(r)], r, rtol=0, atol=1e-9)
    # rows per iteration: 30, 20, 13, max(8, 2 K = 12) sampled, + 3 kept elites, + the mean in the last
    assert [int(np.sum(~np.isnan(res.returns[0, i]))) for i in range(4)] == [33, 23, 16, 16]
    np.testing.assert_array_equal(res.actions, res.best)


def test_mppi_update_and_weights_equal_numpy_reference():
    make = lambda n: PendulumVectorEnv(n)
    env = _mid_episode_states(make, 2, seed=4)
    model = ExactModel(env)
    model.sync()
    planner = MPPI(horizon=6, population=50, iterations=2, temperature=3.0, noise_std=0.3, smoothing=0.4, gamma=0.97)
    mean = np.random.default_rng(2).uniform(-1, 1, size=(2, 6, 1))
    res = planner.plan(model, mean=mean, seed=9, record=True)
    sigma = 0.3 * (model.high - model.low)
    want = ref.mppi(
        _env_evaluate(make, env.get_state(), 0.97),
        mean,
        sigma,
        model.low,
        model.high,
        population=50,
        iterations=2,
        temperature=3.0,
        smoothing=0.4,
        seed=9,
    )
    np.testing.assert_array_equal(res.returns, want["returns"])
    np.testing.assert_allclose(res.mean, want["mean"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.best, want["best"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.best_return, want["best_return"])
    # the weights of the last iteration, from the C++ returns, are the reference's
    R = res.returns[:, -1]
    w = np.exp((R - R.max(axis=1, keepdims=True)) / 3.0)
    np.testing.assert_allclose(w / w.sum(axis=1, keepdims=True), want["weights"], rtol=1e-12, atol=0)
    assert want["weights"].max() < 0.5  # several candidates share the weight


# ------------------------------------------------------------------------------------------- threads, paths


def test_plans_do_not_depend_on_the_thread_count():
    env = _mid_episode_states(lambda n: PointMassVectorEnv(n), 3, seed=1)
    model = ExactModel(env)
    model.sync()
    planners = [
        CEM(horizon=10, population=150, num_elites=15, iterations=3),
        ICEM(horizon=10, population=150, num_elites=15, iterations=3),
        MPPI(horizon=10, population=150),
    ]
    outs = {}
    for threads in (1, 2, 3):
        nextrl.set_num_threads(threads)
        outs[threads] = [p.plan(model, seed=3, record=True) for p in planners]
    for threads in (2, 3):
        for a, b in zip(outs[1], outs[threads]):
            assert a.mean.tobytes() == b.mean.tobytes() and a.best.tobytes() == b.best.tobytes()
            assert np.array_equal(a.returns, b.returns, equal_nan=True)


@pytest.mark.parametrize(
    "planner",
    [
        CEM(horizon=8, population=40, num_elites=5, iterations=3),
        ICEM(horizon=8, population=40, num_elites=6, iterations=3),
        MPPI(horizon=8, population=40, iterations=2, temperature=2.0, smoothing=0.2),
    ],
    ids=["cem", "icem", "mppi"],
)
def test_torch_path_equals_the_cpp_path(planner):
    """The same model as a torch objective (candidates [M, H, A] -> returns [M], problem-major) gives the same plan."""
    env = _mid_episode_states(lambda n: PendulumVectorEnv(n), 2, seed=6)
    model = ExactModel(env)
    model.sync()

    def objective(actions: torch.Tensor) -> torch.Tensor:
        x = actions.numpy().reshape(2, -1, *actions.shape[1:])
        return torch.from_numpy(model.evaluate(x, planner.gamma).reshape(-1))

    cpp = planner.plan(model, seed=4, round=2, record=True)
    tch = planner.plan(objective, low=model.low, high=model.high, num_problems=2, seed=4, round=2, record=True)
    for key in ("actions", "mean", "std", "best", "best_return", "elites", "returns", "elite_rows"):
        a, b = getattr(cpp, key), getattr(tch, key)
        if a is None:
            assert b is None
            continue
        np.testing.assert_allclose(b.numpy(), a, rtol=0, atol=1e-12, err_msg=key)


def test_torch_path_float32_on_a_torch_objective():
    """A model written in torch (a 1-D point mass, tensor ops only) plans in float32: the plan drives it home."""

    def objective(actions: torch.Tensor) -> torch.Tensor:  # pos starts at 1, vel += a, pos += vel
        pos = torch.ones(actions.shape[0], dtype=actions.dtype)
        vel = torch.zeros_like(pos)
        ret = torch.zeros_like(pos)
        for h in range(actions.shape[1]):
            vel = vel + actions[:, h, 0]
            pos = pos + vel
            ret = ret - pos**2
        return ret

    res = CEM(horizon=10, population=200, num_elites=20, iterations=5).plan(
        objective, low=[-0.5], high=[0.5], seed=0, dtype=torch.float32
    )
    assert res.mean.dtype == torch.float32 and res.mean.shape == (1, 10, 1)
    assert float(res.best_return[0]) > -2.0  # the zero plan gives -10
