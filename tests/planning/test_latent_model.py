"""The recurrent latent rollout model (csrc/planning/latent_model.h, nextrl.planning.latent) against the torch RSSM
it is exported from (nextrl.models.rssm): one-step-at-a-time rollouts of the GRU state, the latent, the reward and
the continue probability to 1e-5; candidate returns against RSSM.imagine_returns (PlaNet's objective) and against
sampled-latent particle rollouts with the same noise; CEM through the C++ model against the planners' torch path
over the same weights (same elites, same plan); bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nextrl import _core
from nextrl.models.rssm import RSSM, RSSMConfig
from nextrl.planning import CEM
from nextrl.planning.latent import LatentModel, export_stack, torch_returns

PLANET = RSSMConfig(
    deter=200, hidden=200, embed=32, stoch=30, layers=2
)  # PlaNet's sizes (deterministic 200, stochastic 30)
SMALL = RSSMConfig(deter=21, hidden=18, embed=8, stoch=5, layers=1)  # widths that are not multiples of the tiles


def _model(cfg: RSSMConfig, action_dim: int = 2, seed: int = 0) -> RSSM:
    torch.manual_seed(seed)
    model = RSSM(6, action_dim, cfg)
    with torch.no_grad():  # non-trivial affine LayerNorms and biases (their defaults are 1 and 0)
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
            if isinstance(m, nn.Linear):
                m.bias.uniform_(-0.3, 0.3)
    return model


def _states(cfg: RSSMConfig, n: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """n start states: Gaussian stoch draws, or one-hot classes per group for categorical latents."""
    g = torch.Generator().manual_seed(seed)
    deter = torch.tanh(torch.randn(n, cfg.deter, generator=g))
    if cfg.latent == "gaussian":
        return {"deter": deter, "stoch": torch.randn(n, cfg.stoch, generator=g)}
    idx = torch.randint(0, cfg.classes, (n, cfg.groups), generator=g)
    return {"deter": deter, "stoch": torch.nn.functional.one_hot(idx, cfg.classes).float().flatten(1)}


@pytest.mark.parametrize("cfg", [PLANET, SMALL], ids=["planet", "small"])
@pytest.mark.parametrize("generic", [False, True], ids=["isa", "generic"])
@pytest.mark.parametrize("sample", [False, True], ids=["mean", "sampled"])
def test_rollout_equals_torch(cfg, generic, sample):
    model = _model(cfg)
    latent = LatentModel.from_rssm(model, sample=sample, generic=generic)
    latent.set_states(_states(cfg, 1), seed=7, round=3)  # the noise's address when sampling
    n, H = 9, 12
    start = _states(cfg, n, seed=2)
    actions = torch.rand(n, H, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2 - 1
    states, rewards, conts = latent.rollout(start, actions, problem=4)
    s = start
    with torch.no_grad():
        for t in range(H):
            x = model.img_in(torch.cat([s["stoch"], actions[:, t].float()], -1))
            deter = model.gru(x, s["deter"])
            mean, std = model.prior_net(deter).chunk(2, -1)
            stoch = mean
            if sample:  # particle 0 of problem 4: normals 0 .. stoch - 1 at step t
                eps = torch.as_tensor(_core._planning_normals(7, 3, 4, t, 0, cfg.stoch), dtype=torch.float32)
                stoch = mean + (nn.functional.softplus(std) + cfg.min_std) * eps
            s = {"deter": deter, "stoch": stoch}
            feat = model.features(s)
            np.testing.assert_allclose(states[:, t], feat.numpy(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(rewards[:, t], model.reward(feat).numpy(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(conts[:, t], model.cont(feat).numpy(), rtol=1e-5, atol=1e-5)
            s = {
                "deter": torch.as_tensor(states[:, t, : cfg.deter]),
                "stoch": torch.as_tensor(states[:, t, cfg.deter :]),
            }
    assert (latent.isa == "generic") == generic or latent.isa == "generic"  # generic on a CPU without AVX2 + FMA


def test_symlog_rewards_are_symexped():
    cfg = RSSMConfig(deter=16, hidden=16, embed=8, stoch=4, layers=1, symlog=True)
    model = _model(cfg)
    with torch.no_grad():
        model.reward_head[-1].bias.fill_(2.0)  # rewards around symexp(2) = 6.4
    latent = LatentModel.from_rssm(model)
    start = _states(cfg, 4)
    actions = torch.zeros(4, 3, 2, dtype=torch.float64)
    _, rewards, _ = latent.rollout(start, actions)
    s = start
    with torch.no_grad():
        for t in range(3):
            s = model.img_step(s, actions[:, t].float(), sample=False)
            np.testing.assert_allclose(rewards[:, t], model.reward(model.features(s)).numpy(), rtol=1e-5, atol=1e-5)
    assert rewards.max() > 3.0


def _evaluate_equals_torch(model, cfg, B: int, N: int, H: int, gamma: float):
    """Checks the C++ returns of B x N random 2-D action sequences of length H against RSSM.imagine_returns per
    problem and torch_returns (1e-5); returns (latent model, actions [B, N, H, 2] float64, C++ returns [B, N])."""
    state = _states(cfg, B)
    latent = LatentModel.from_rssm(model)
    latent.set_states(state)
    actions = torch.rand(B, N, H, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    ours = latent.evaluate(actions.numpy(), gamma)
    with torch.no_grad():
        for b in range(B):
            s = {k: v[b : b + 1].expand(N, -1) for k, v in state.items()}
            theirs = model.imagine_returns(s, actions[b].float(), gamma=gamma)
            np.testing.assert_allclose(ours[b], theirs.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        ours, torch_returns(model, latent, state, actions, gamma=gamma).numpy(), rtol=1e-5, atol=1e-5
    )
    return latent, actions, ours


@pytest.mark.parametrize("cfg", [PLANET, SMALL], ids=["planet", "small"])
def test_evaluate_equals_planet_objective(cfg):
    """Deterministic latents: the C++ returns equal RSSM.imagine_returns (PlaNet's torch objective) with gamma."""
    model = _model(cfg)
    latent, actions, ours = _evaluate_equals_torch(model, cfg, 3, 37, 6, 0.9)
    gamma = 0.9
    # a candidate's return does not depend on the others evaluated with it (chunks, padding rows): bit for bit
    np.testing.assert_array_equal(latent.evaluate(actions[:, 3:8].numpy(), gamma), ours[:, 3:8])
    assert np.ptp(ours) > 0.1  # the candidates differ


def test_sampled_particles_equal_torch():
    model = _model(SMALL)
    B, N, H = 2, 11, 5
    state = _states(SMALL, B)
    latent = LatentModel.from_rssm(model, sample=True, particles=3)
    latent.set_states(state, seed=9, round=2)
    actions = torch.rand(B, N, H, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 2 - 1
    ours = latent.evaluate(actions.numpy(), 0.95)
    theirs = torch_returns(model, latent, state, actions, gamma=0.95).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    mean_latent = LatentModel.from_rssm(model)
    mean_latent.set_states(state)
    assert np.abs(ours - mean_latent.evaluate(actions.numpy(), 0.95)).max() > 1e-3  # the noise matters
    latent.set_states(state, seed=10, round=2)
    assert np.abs(ours - latent.evaluate(actions.numpy(), 0.95)).max() > 1e-3  # and follows the seed


def test_cem_through_the_latent_model_equals_the_torch_path():
    """The same CEM (seed, noise, elites) on the C++ latent model and on the torch objective over the same weights:
    identical elites in every iteration, plans equal to float tolerance."""
    model = _model(SMALL)
    B = 2
    state = _states(SMALL, B)
    latent = LatentModel.from_rssm(model)
    latent.set_states(state)
    planner = CEM(horizon=6, population=96, num_elites=10, iterations=4, alpha=0.1, gamma=0.97, init_std=0.5)
    low, high = -np.ones(2), np.ones(2)
    ours = planner.plan(latent, low=low, high=high, seed=11, round=1, record=True)

    def objective(actions):  # [B * R, H, A], problem-major (as PlaNet's torch objective)
        rows = actions.shape[0] // B
        s = {k: v.repeat_interleave(rows, 0) for k, v in state.items()}
        return model.imagine_returns(s, actions.float(), gamma=planner.gamma)

    theirs = planner.plan(objective, low=low, high=high, num_problems=B, seed=11, round=1, record=True)
    np.testing.assert_array_equal(ours.elite_rows, theirs.elite_rows.numpy())
    np.testing.assert_allclose(ours.returns, theirs.returns.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.actions, theirs.actions.numpy(), rtol=1e-9, atol=1e-12)


def _ops(model):
    return dict(
        img_in=export_stack(model.img_in, "img_in"),
        gru=tuple(
            t.detach().numpy() for t in (model.gru.weight_ih, model.gru.weight_hh, model.gru.bias_ih, model.gru.bias_hh)
        ),
        prior=export_stack(model.prior_net, "prior_net"),
        reward=export_stack(model.reward_head, "reward_head"),
        cont=export_stack(model.cont_head, "cont_head"),
        deter=SMALL.deter,
        stoch=SMALL.stoch,
        action_dim=2,
    )


def test_bad_input():
    model = _model(SMALL)
    with pytest.raises(ValueError, match="particles must be an int >= 1"):
        LatentModel.from_rssm(model, sample=True, particles=0)
    bad = _model(SMALL)
    bad.reward_head = nn.Sequential(nn.Linear(26, 18), nn.GELU(), nn.Linear(18, 1))
    with pytest.raises(ValueError, match="reward_head has an unsupported layer GELU"):
        LatentModel.from_rssm(bad)
    bad.reward_head = nn.Sequential(nn.Linear(26, 18), nn.Dropout(0.1), nn.Linear(18, 1))
    with pytest.raises(ValueError, match="reward_head has an unsupported layer Dropout"):
        LatentModel.from_rssm(bad)
    # the C++ side's checks of an exported model
    ops = _ops(model)
    with pytest.raises(ValueError, match=r"reward\[1\]: unsupported layer 'gelu'"):
        _core._LatentModel(**{**ops, "reward": [ops["reward"][0], ("gelu",), *ops["reward"][1:]]})
    with pytest.raises(ValueError, match=r"prior\[0\]: an activation \(silu\) must follow a linear or layernorm"):
        _core._LatentModel(**{**ops, "prior": [("silu",), *ops["prior"]]})
    _, w_last, b_last = ops["prior"][-1]
    with pytest.raises(ValueError, match=r"prior must output 10 values \(2 \* stoch\), got 8"):
        _core._LatentModel(**{**ops, "prior": [*ops["prior"][:-1], ("linear", w_last[:8], b_last[:8])]})
    with pytest.raises(ValueError, match=r"gru weight_ih must have shape \(3 \* deter, input\) = \(63, input\)"):
        _core._LatentModel(**{**ops, "gru": (ops["gru"][1][:60], *ops["gru"][1:])})
    w = ops["reward"][0][1].copy()
    w[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"reward\[0\] must be finite"):
        _core._LatentModel(**{**ops, "reward": [("linear", w, ops["reward"][0][2]), *ops["reward"][1:]]})
    with pytest.raises(ValueError, match=r"img_in\[0\] must be a weight of shape \(out, 6\), got \(18, 7\)"):
        _core._LatentModel(**{**ops, "action_dim": 1})
    latent = LatentModel.from_rssm(model)
    with pytest.raises(ValueError, match="the model has no start states"):
        CEM(horizon=3, population=8, num_elites=2).plan(latent, low=-np.ones(2), high=np.ones(2))
    with pytest.raises(ValueError, match=r"set_states: states must have shape \(num_problems, deter \+ stoch = 26\)"):
        latent.set_states(torch.zeros(2, 25))
    with pytest.raises(ValueError, match="set_states: states must be finite"):
        latent.set_states(torch.full((2, 26), float("nan")))
    latent.set_states(_states(SMALL, 2))
    with pytest.raises(ValueError, match=r"rollout: actions must have shape \(3, 4, 2\), got \(3, 4, 1\)"):
        latent.rollout(_states(SMALL, 3), np.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match=r"evaluate: actions must have shape \(2, 5, 4, 2\)"):
        latent.evaluate(np.zeros((2, 5, 4, 3)))


def test_planet_plans_through_the_cpp_model_as_through_torch():
    """PlaNet's plan_actions: the C++ latent model (the default) and the torch path (float32) plan the same first
    actions from the same filtered states, seed and round."""
    from nextrl.agents.model_based import planet

    model = _model(SMALL)
    state = _states(SMALL, 3)
    planner = planet.PlaNetConfig(horizon=5, population=64, num_elites=8, iterations=3).planner()
    low, high = -np.ones(2), np.ones(2)
    latent = LatentModel.from_rssm(model)
    ours = planet.plan_actions(model, state, planner, low, high, seed=2, round=5, latent=latent)
    theirs = planet.plan_actions(model, state, planner, low, high, seed=2, round=5)
    assert ours.shape == theirs.shape == (3, 2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="planner_backend must be 'cpp' or 'torch', got 'cuda'"):
        planet.PlaNetConfig(planner_backend="cuda")


@pytest.mark.parametrize("activation", ["identity", "relu", "silu", "tanh"])
@pytest.mark.parametrize("shape", [(13, 37, 50), (8, 200, 600), (5, 3, 40), (17, 230, 1)])
def test_dense_kernels_agree(activation, shape):
    """The dense kernel of each instruction set (mlp_kernels.h: AVX-512 tiles of 8 rows x 32 columns with a 16-column
    remainder panel, AVX2 tiles of 4 x 16, the baseline) against float64 NumPy; AVX-512 and AVX2 bit for bit (the same
    FMA chain over the inputs). Kernels this CPU lacks are skipped by the hook (it returns None)."""
    rows, n_in, n_out = shape
    rng = np.random.default_rng(rows * n_out)
    x = rng.normal(size=(rows, n_in)).astype(np.float32)
    w = (rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
    b = rng.normal(size=n_out).astype(np.float32)
    z = x.astype(np.float64) @ w.T.astype(np.float64) + b
    ref = {"identity": z, "relu": np.maximum(z, 0), "silu": z / (1 + np.exp(-z)), "tanh": np.tanh(z)}[activation]
    out = {isa: _core._dense_forward(x, w, b, activation, isa) for isa in ("avx512", "avx2", "generic")}
    assert out["generic"] is not None
    for y in out.values():
        if y is not None:
            np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    if out["avx512"] is not None and out["avx2"] is not None:
        np.testing.assert_array_equal(out["avx512"], out["avx2"])


def test_plan_does_not_depend_on_the_thread_count():
    import nextrl

    model = _model(SMALL)
    latent = LatentModel.from_rssm(model, sample=True, particles=2)
    latent.set_states(_states(SMALL, 3), seed=4)
    planner = CEM(horizon=5, population=300, num_elites=20, iterations=2)
    threads = nextrl.get_num_threads()
    try:
        plans = []
        for n in (1, 2):
            nextrl.set_num_threads(n)
            plans.append(planner.plan(latent, low=-np.ones(2), high=np.ones(2), seed=1, record=True))
    finally:
        nextrl.set_num_threads(threads)
    np.testing.assert_array_equal(plans[0].returns, plans[1].returns)
    np.testing.assert_array_equal(plans[0].actions, plans[1].actions)
