"""The learned rollout model (csrc/planning/learned_model.h, nextrl.planning.ensemble): its float32 forward against
torch's and a float64 NumPy reference (tests/reference/learned_model.py), on both dense kernels (AVX2 + FMA and the
generic one); particle rollouts (TS-1, TS-inf, Gaussian noise, every named reward, termination, discount) against
the NumPy reference and against the same rollouts in PyTorch; a CEM plan through it against the torch path;
thread-count invariance; and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nextrl
from nextrl import _core
from nextrl.planning import CEM, MPPI, GaussianEnsemble, LearnedModel
from nextrl.planning.ensemble import torch_returns
from reference import learned_model as ref


def _ensemble(S=3, A=1, *, members=3, hidden=(24, 20), activation="silu", gaussian=True, reward_head=False, seed=0):
    ens = GaussianEnsemble(
        S,
        A,
        members=members,
        hidden=hidden,
        activation=activation,
        gaussian=gaussian,
        reward_head=reward_head,
        seed=seed,
    )
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        ens.in_mean.copy_(torch.randn(S + A, generator=g) * 0.3)
        ens.in_std.copy_(torch.rand(S + A, generator=g) + 0.5)
        for b in ens.biases:
            b.copy_(torch.randn(b.shape, generator=g) * 0.1)
        if gaussian:
            ens.max_logvar.copy_(torch.full_like(ens.max_logvar, -1.0))
            ens.min_logvar.copy_(torch.full_like(ens.min_logvar, -6.0))
    return ens


def _params(ens: GaussianEnsemble, particles: int) -> dict:
    f = lambda t: t.detach().double().numpy()
    p = dict(
        weights=[f(w) for w in ens.weights],
        biases=[f(b) for b in ens.biases],
        activation=ens.activation,
        gaussian=ens.gaussian,
        outputs=ens.outputs,
        in_mean=f(ens.in_mean),
        in_std=f(ens.in_std),
        members=ens.members,
        particles=particles,
        state_dim=ens.state_dim,
    )
    if ens.gaussian:
        p.update(max_logvar=f(ens.max_logvar), min_logvar=f(ens.min_logvar))
    return p


# ----------------------------------------------------------------------------------------------------- forward
@pytest.mark.parametrize("activation", ["silu", "relu", "tanh"])
@pytest.mark.parametrize("gaussian,reward_head", [(True, False), (False, False), (True, True)])
@pytest.mark.parametrize("generic", [False, True])
def test_forward_equals_torch_and_numpy(activation, gaussian, reward_head, generic):
    ens = _ensemble(
        4, 2, members=3, hidden=(200, 33, 7), activation=activation, gaussian=gaussian, reward_head=reward_head
    )
    model = LearnedModel.from_torch(
        ens,
        low=[-1, -1],
        high=[1, 1],
        reward="head" if reward_head else "quadratic",
        q=np.ones(4),
        r=np.zeros(2),
        generic=generic,
    )
    assert model.isa in (("generic",) if generic else ("avx512", "avx2", "generic"))
    rng = np.random.default_rng(1)
    s = rng.normal(size=(23, 4)).astype(np.float32)
    a = rng.uniform(-1, 1, size=(23, 2))
    with torch.no_grad():
        tm, tl = ens(torch.as_tensor(s)[None], torch.as_tensor(a, dtype=torch.float32)[None])
    p = _params(ens, 1)
    for e in range(3):
        mean, lv = model.predict(s, a, e)
        np.testing.assert_allclose(mean, tm[e].numpy(), rtol=0, atol=1e-5)
        want = np.stack([ref.forward(p, e, s[i].astype(np.float64), a[i])[0] for i in range(23)])
        np.testing.assert_allclose(mean, want, rtol=1e-5, atol=1e-5)
        if gaussian:
            np.testing.assert_allclose(lv, tl[e].numpy(), rtol=0, atol=1e-5)
            want_lv = np.stack([ref.forward(p, e, s[i].astype(np.float64), a[i])[1] for i in range(23)])
            np.testing.assert_allclose(lv, want_lv, rtol=1e-5, atol=1e-5)
        else:
            assert lv is None


def test_kernels_agree_with_each_other():
    ens = _ensemble(5, 3, members=2, hidden=(64, 64, 64))
    rng = np.random.default_rng(2)
    s = rng.normal(size=(50, 5)).astype(np.float32)
    a = rng.uniform(-1, 1, size=(50, 3))
    kw = dict(low=-np.ones(3), high=np.ones(3), reward="quadratic", q=np.ones(5), r=np.zeros(3))
    fast = LearnedModel.from_torch(ens, **kw).predict(s, a, 1)
    slow = LearnedModel.from_torch(ens, generic=True, **kw).predict(s, a, 1)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast[1], slow[1], rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------------------------------- rollouts
CASES = [
    # S, A, reward, gaussian, reward_head, propagation, gamma, kw
    (3, 1, "pendulum", True, False, "ts1", 0.9, {}),
    (3, 1, "pendulum", False, False, "tsinf", 1.0, {}),
    (2, 1, "quadratic", True, False, "tsinf", 0.95, dict(q=[0.3, 0.1], r=[0.05], max_norm=1.8)),
    (4, 1, "cartpole", True, False, "ts1", 1.0, {}),
    (3, 2, "head", True, True, "ts1", 0.8, {}),
]


@pytest.mark.parametrize("S,A,reward,gaussian,reward_head,propagation,gamma,kw", CASES)
def test_rollouts_equal_the_numpy_reference(S, A, reward, gaussian, reward_head, propagation, gamma, kw):
    ens = _ensemble(S, A, members=3, hidden=(16, 16), gaussian=gaussian, reward_head=reward_head, seed=S + A)
    if reward == "cartpole":  # bigger steps so that some particles terminate
        with torch.no_grad():
            ens.biases[-1][:, :S].add_(torch.tensor([0.3, 0.0, 0.02, 0.0]))
    P = 5
    model = LearnedModel.from_torch(
        ens, low=-np.ones(A), high=np.ones(A), reward=reward, particles=P, propagation=propagation, **kw
    )
    rng = np.random.default_rng(3)
    starts = rng.normal(size=(2, S)).astype(np.float32) * 0.5
    model.set_states(starts, seed=11, round=4)
    actions = rng.uniform(-1, 1, size=(2, 6, 7, A))
    got = model.evaluate(actions, gamma)
    p = _params(ens, P)
    want = np.stack(
        [
            ref.returns(
                p,
                starts[b].astype(np.float64),
                actions[b],
                seed=11,
                round=4,
                problem=b,
                gamma=gamma,
                propagation=propagation,
                reward_name=reward,
                **{k: (np.asarray(v, dtype=np.float64) if k != "max_norm" else v) for k, v in kw.items()},
            )
            for b in range(2)
        ]
    )
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    if reward == "cartpole":
        assert want.min() < 7 - 0.5  # some particles terminated, so termination was checked
    torch_got = torch_returns(ens, model, torch.as_tensor(actions), gamma=gamma, reward=reward, **kw)
    np.testing.assert_allclose(got, torch_got.numpy(), rtol=1e-4, atol=1e-4)


def test_ts1_members_are_uniform_and_tsinf_blocks_are_balanced():
    ens = _ensemble(3, 1, members=5)
    ts1 = LearnedModel.from_torch(ens, low=[-1], high=[1], reward="pendulum", particles=40)
    ts1.set_states(np.zeros((1, 3)), seed=5)
    m = ts1.core.members_of(0, 200)
    counts = np.bincount(m.ravel(), minlength=5)
    assert abs(counts - 1600).max() < 5 * math.sqrt(1600 * 0.8)  # 8000 draws, p = 0.2 each: 5 sd
    assert (m[0] != m[1]).any()  # redrawn every step
    tsinf = LearnedModel.from_torch(ens, low=[-1], high=[1], reward="pendulum", particles=10, propagation="tsinf")
    tsinf.set_states(np.zeros((1, 3)))
    m = tsinf.core.members_of(0, 3)
    np.testing.assert_array_equal(m, np.tile(np.repeat(np.arange(5), 2), (3, 1)))


def test_rollouts_do_not_depend_on_threads_or_the_population_split():
    ens = _ensemble(3, 1, members=4, hidden=(32, 32))
    model = LearnedModel.from_torch(ens, low=[-2], high=[2], reward="pendulum", particles=8)
    model.set_states(np.random.default_rng(0).normal(size=(3, 3)), seed=2)
    acts = np.random.default_rng(1).uniform(-2, 2, size=(3, 300, 10, 1))
    old = nextrl.get_num_threads()
    try:
        outs = []
        for threads in (1, 2, 3):
            nextrl.set_num_threads(threads)
            outs.append(model.evaluate(acts))
            outs.append(np.concatenate([model.evaluate(acts[:, :7]), model.evaluate(acts[:, 7:])], axis=1))
    finally:
        nextrl.set_num_threads(old)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


# ------------------------------------------------------------------------------------------------ planning
@pytest.mark.parametrize(
    "planner",
    [
        CEM(horizon=6, population=40, num_elites=6, iterations=3),
        MPPI(horizon=6, population=40, iterations=2, temperature=0.5),
    ],
)
def test_plan_through_the_learned_model_equals_the_torch_path(planner):
    ens = _ensemble(3, 1, members=3, hidden=(16, 16))
    model = LearnedModel.from_torch(ens, low=[-2], high=[2], reward="pendulum", particles=4)
    starts = np.random.default_rng(4).normal(size=(2, 3)).astype(np.float32)
    model.set_states(starts, seed=9, round=1)
    got = planner.plan(model, seed=3)

    def objective(actions):  # [2 * rows, H, A] problem-major
        a = actions.reshape(2, -1, *actions.shape[1:])
        return torch_returns(ens, model, a, reward="pendulum").reshape(-1)

    want = planner.plan(objective, low=[-2.0], high=[2.0], mean=np.zeros((2, 6, 1)), seed=3)
    np.testing.assert_allclose(got.actions, want.actions.numpy(), rtol=1e-5, atol=1e-5)
    assert got.best_return.max() > -math.inf


# --------------------------------------------------------------------------------------------------- errors
def test_errors():
    ens = _ensemble(3, 1)
    kw = dict(low=[-2], high=[2], reward="pendulum")
    with pytest.raises(ValueError, match="reward must be one of"):
        LearnedModel.from_torch(ens, low=[-2], high=[2], reward="pong")
    with pytest.raises(ValueError, match="propagation must be"):
        LearnedModel.from_torch(ens, propagation="ts2", **kw)
    with pytest.raises(ValueError, match="particles must be >= 1"):
        LearnedModel.from_torch(ens, particles=0, **kw)
    with pytest.raises(ValueError, match="needs a model with a reward head"):
        LearnedModel.from_torch(ens, low=[-2], high=[2], reward="head")
    with pytest.raises(ValueError, match="needs q and r"):
        LearnedModel.from_torch(ens, low=[-2], high=[2], reward="quadratic")
    with pytest.raises(ValueError, match="low and high must have shape"):
        LearnedModel.from_torch(ens, low=[-2, -2], high=[2, 2], reward="pendulum")
    with pytest.raises(ValueError, match="needs state_dim 3"):
        LearnedModel.from_torch(_ensemble(2, 1), **kw)
    bad = _ensemble(3, 1)
    with torch.no_grad():
        bad.weights[1][0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="weights must be finite"):
        LearnedModel.from_torch(bad, **kw)
    with pytest.raises(ValueError, match=r"weights\[1\] must be finite"):  # the C++ check, past the Python one
        _core._MlpEnsembleModel(
            [w.detach().numpy() for w in bad.weights],
            [b.detach().numpy() for b in bad.biases],
            "silu",
            True,
            False,
            3,
            1,
            np.zeros(4, np.float32),
            np.ones(4, np.float32),
            np.zeros(3, np.float32),
            -np.ones(3, np.float32),
            reward="pendulum",
        )
    w = [x.detach().numpy() for x in ens.weights]
    b = [x.detach().numpy() for x in ens.biases]
    args = ("silu", True, False, 3, 1, np.zeros(4, np.float32), np.ones(4, np.float32))
    lv = dict(max_logvar=np.zeros(3, np.float32), min_logvar=-np.ones(3, np.float32), reward="pendulum")
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(3, 24, 4\)"):
        _core._MlpEnsembleModel([w[0][:, :, :3].copy(), *w[1:]], b, *args, **lv)
    with pytest.raises(ValueError, match="the last layer must have 6"):
        _core._MlpEnsembleModel(w[:-1], b[:-1], *args, **lv)
    with pytest.raises(ValueError, match="in_std must be > 0"):
        _core._MlpEnsembleModel(w, b, *args[:-1], np.zeros(4, np.float32), **lv)
    with pytest.raises(ValueError, match="min_logvar must be < max_logvar"):
        _core._MlpEnsembleModel(
            w, b, *args, max_logvar=np.zeros(3, np.float32), min_logvar=np.zeros(3, np.float32), reward="pendulum"
        )
    with pytest.raises(ValueError, match="activation must be relu, silu or tanh"):
        _core._MlpEnsembleModel(w, b, "gelu", *args[1:], **lv)
    with pytest.raises(TypeError, match="dtype float32"):
        _core._MlpEnsembleModel([x.astype(np.float64) for x in w], b, *args, **lv)
    model = LearnedModel.from_torch(ens, **kw)
    with pytest.raises(ValueError, match="no start states"):
        CEM(horizon=3, population=8, num_elites=2).plan(model)
    with pytest.raises(ValueError, match=r"states must have shape \(2, 3\)"):
        model.set_states(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="states must be finite"):
        model.set_states(np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match=r"member must be in \[0, 3\)"):
        model.predict(np.zeros((1, 3)), np.zeros((1, 1)), 3)
    model.set_states(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="mean must have shape"):
        CEM(horizon=3, population=8, num_elites=2).plan(model, mean=np.zeros((1, 3, 1)))
    with pytest.raises(ValueError, match="num_elites must be <= population"):
        CEM(horizon=3, population=8, num_elites=9)
    huge = _ensemble(3, 1, gaussian=False)
    with torch.no_grad():  # overflows to inf - inf = NaN in the model's output
        huge.weights[0].fill_(1e30)
        huge.weights[1][:, ::2].fill_(1e30)
        huge.weights[1][:, 1::2].fill_(-1e30)
        huge.weights[2].fill_(1e30)
    m = LearnedModel.from_torch(huge, **kw)
    m.set_states(np.ones((1, 3)))
    with pytest.raises(ValueError, match="returned NaN"):
        CEM(horizon=3, population=8, num_elites=2).plan(m)
