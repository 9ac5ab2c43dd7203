"""The C++ latent rollout model (csrc/planning/latent_model.h) with discrete actions (one action index per step, fed
one-hot to the RSSM) and with DreamerV3's categorical latents (the prior's mode, or Gumbel-max samples), against the
torch RSSM it is exported from (nextrl.models.rssm): rollouts step by step and candidate returns (RSSM.imagine_returns
on one-hot actions) to 1e-5; sampled classes against the prior's probabilities; CategoricalCEM through the C++ model
against the planners' torch path over the same weights (same elites, same plan); bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.functional import one_hot

from nextrl import _core
from nextrl.models.rssm import RSSM, RSSMConfig
from nextrl.planning import CategoricalCEM
from nextrl.planning.latent import LatentModel, torch_returns

from .test_latent_model import _evaluate_equals_torch, _states
from .test_latent_model import _model as _rssm

GAUSS = RSSMConfig(deter=21, hidden=18, embed=8, stoch=5, layers=1)  # widths that are not multiples of the tiles
CATEG = RSSMConfig(deter=19, hidden=17, embed=8, latent="categorical", groups=4, classes=5, layers=2)
N_ACT = 3


def _model(cfg: RSSMConfig, action_dim: int = N_ACT, seed: int = 0) -> RSSM:
    """test_latent_model's RSSM (non-trivial LayerNorms and biases) with N_ACT actions by default."""
    return _rssm(cfg, action_dim, seed)


def _indices(shape, seed: int) -> torch.Tensor:
    return torch.randint(0, N_ACT, shape, generator=torch.Generator().manual_seed(seed)).double()


@pytest.mark.parametrize("cfg", [GAUSS, CATEG], ids=["gaussian", "categorical"])
@pytest.mark.parametrize("generic", [False, True], ids=["isa", "generic"])
def test_discrete_rollout_equals_torch(cfg, generic):
    """Every step of a rollout under action indices equals RSSM.img_step (mode) under their one-hot vectors."""
    model = _model(cfg)
    latent = LatentModel.from_rssm(model, num_actions=N_ACT, generic=generic)
    assert (latent.action_dim, latent.num_actions, latent.core.action_dim) == (1, N_ACT, 1)
    n, H = 9, 10
    start = _states(cfg, n, seed=2)
    actions = _indices((n, H, 1), 3)
    states, rewards, conts = latent.rollout(start, actions)
    s = start
    with torch.no_grad():
        for t in range(H):
            s = model.img_step(s, one_hot(actions[:, t, 0].long(), N_ACT).float(), sample=False)
            feat = model.features(s)
            np.testing.assert_allclose(states[:, t], feat.numpy(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(rewards[:, t], model.reward(feat).numpy(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(conts[:, t], model.cont(feat).numpy(), rtol=1e-5, atol=1e-5)
            s = {
                "deter": torch.as_tensor(states[:, t, : cfg.deter]),
                "stoch": torch.as_tensor(states[:, t, cfg.deter :]),
            }
    if cfg.latent == "categorical":  # one-hot per group, and the mode moves with the actions
        z = states[:, :, cfg.deter :].reshape(n, H, cfg.groups, cfg.classes)
        np.testing.assert_array_equal(z.sum(-1), 1.0)
        assert len({tuple(r) for r in z.argmax(-1).reshape(-1, cfg.groups)}) > 3


def test_categorical_latent_with_continuous_actions_equals_torch():
    """Categorical latents without discrete actions: returns equal torch_returns and RSSM.imagine_returns."""
    _, _, ours = _evaluate_equals_torch(_model(CATEG, action_dim=2), CATEG, 2, 23, 7, 0.95)
    assert np.ptp(ours) > 0.05  # the candidates differ


@pytest.mark.parametrize("cfg", [GAUSS, CATEG], ids=["gaussian", "categorical"])
def test_discrete_evaluate_equals_imagine_returns(cfg):
    """Candidate returns of action-index sequences equal RSSM.imagine_returns on their one-hot vectors (PlaNet's
    torch objective) with a discount, and do not depend on the other candidates evaluated with them."""
    model = _model(cfg)
    B, N, H, gamma = 3, 41, 6, 0.9
    state = _states(cfg, B)
    latent = LatentModel.from_rssm(model, num_actions=N_ACT)
    latent.set_states(state)
    actions = _indices((B, N, H, 1), 5)
    ours = latent.evaluate(actions.numpy(), gamma)
    with torch.no_grad():
        for b in range(B):
            s = {k: v[b : b + 1].expand(N, -1) for k, v in state.items()}
            a = one_hot(actions[b, :, :, 0].long(), N_ACT).float()
            theirs = model.imagine_returns(s, a, gamma=gamma)
            np.testing.assert_allclose(ours[b], theirs.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours, torch_returns(model, latent, state, actions, gamma=gamma), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(latent.evaluate(actions[:, 3:8].numpy(), gamma), ours[:, 3:8])
    assert np.ptp(ours) > 0.05


@pytest.mark.parametrize("cfg", [GAUSS, CATEG], ids=["gaussian", "categorical"])
def test_categorical_cem_through_the_latent_model_equals_the_torch_path(cfg):
    """The same CategoricalCEM (seed, draws, elites) on the C++ latent model and on a torch objective over the same
    weights (action indices one-hot into RSSM.imagine_returns): the same candidates and returns every iteration, the
    same elites (up to the order of exact ties), the same plan."""
    model = _model(cfg)
    B = 2
    state = _states(cfg, B)
    latent = LatentModel.from_rssm(model, num_actions=N_ACT)
    latent.set_states(state)
    planner = CategoricalCEM(horizon=6, population=80, num_elites=8, iterations=4, alpha=0.1, gamma=0.97)
    ours = planner.plan(latent, seed=11, round=1, record=True)  # num_actions from the model

    def objective(actions):  # [B * R, H, 1] action indices, problem-major
        rows = actions.shape[0] // B
        s = {k: v.repeat_interleave(rows, 0) for k, v in state.items()}
        return model.imagine_returns(s, one_hot(actions[..., 0].long(), N_ACT).float(), gamma=planner.gamma)

    with torch.no_grad():
        theirs = planner.plan(objective, num_actions=N_ACT, num_problems=B, seed=11, round=1, record=True)
    r_ours, r_theirs = ours.returns, np.asarray(theirs.returns)  # [B, iterations, population]
    np.testing.assert_allclose(r_ours, r_theirs, rtol=1e-5, atol=1e-5)
    # the same elites up to the order of tied candidates (repeated sequences of 3 actions tie exactly)
    e_ours, e_theirs = ours.elite_rows, np.asarray(theirs.elite_rows)
    elite_returns = lambda r, e: np.sort(np.take_along_axis(r, e, -1), -1)
    np.testing.assert_allclose(elite_returns(r_ours, e_ours), elite_returns(r_ours, e_theirs), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.actions, np.asarray(theirs.actions))
    assert ours.actions.shape == (B, 6, 1)
    # the plan is the best sequence found: its return is at least that of every constant-action sequence
    const = np.stack([np.full((B, 1, 6, 1), float(k)) for k in range(N_ACT)], 1)[:, :, 0]
    best = latent.evaluate(ours.actions[:, None], planner.gamma)[:, 0]
    assert np.all(best >= latent.evaluate(const, planner.gamma).max(1) - 1e-6)


def test_sampled_categorical_latents_equal_torch():
    """Sampled categorical latents (Gumbel-max with the planners' counter-based uniforms, particles averaged):
    returns equal torch_returns' rollouts with the same uniforms, differ from the mode's, and follow the seed."""
    model = _model(CATEG)
    B, N, H = 2, 13, 5
    state = _states(CATEG, B)
    latent = LatentModel.from_rssm(model, sample=True, particles=3, num_actions=N_ACT)
    latent.set_states(state, seed=9, round=2)
    actions = _indices((B, N, H, 1), 6)
    ours = latent.evaluate(actions.numpy(), 0.95)
    np.testing.assert_allclose(ours, torch_returns(model, latent, state, actions, gamma=0.95), rtol=1e-5, atol=1e-5)
    mode = LatentModel.from_rssm(model, num_actions=N_ACT)
    mode.set_states(state)
    assert np.abs(ours - mode.evaluate(actions.numpy(), 0.95)).max() > 1e-3  # the noise matters
    latent.set_states(state, seed=10, round=2)
    assert np.abs(ours - latent.evaluate(actions.numpy(), 0.95)).max() > 1e-3  # and follows the seed


def test_sampled_categorical_classes_follow_the_prior():
    """The first step's sampled classes over 6000 noise streams (problems) have the frequencies of the prior's
    probabilities (1 - unimix) softmax(logits) + unimix / K, within 4.5 standard errors per class."""
    cfg = RSSMConfig(deter=19, hidden=17, embed=8, latent="categorical", groups=4, classes=5, layers=1, unimix=0.3)
    model = _model(cfg)
    with torch.no_grad():
        model.prior_net[-1].weight.mul_(3.0)  # spread the probabilities
    start = _states(cfg, 1)
    latent = LatentModel.from_rssm(model, sample=True, num_actions=N_ACT)
    latent.set_states(start, seed=3)
    n = 6000
    counts = np.zeros((cfg.groups, cfg.classes))
    a = np.ones((1, 1, 1))
    for problem in range(n):
        states, _, _ = latent.rollout(start, a, problem=problem)
        counts += states[0, 0, cfg.deter :].reshape(cfg.groups, cfg.classes)
    with torch.no_grad():
        prior = model.img_step(start, one_hot(torch.ones(1, dtype=torch.long), N_ACT).float(), sample=False)
    probs = prior["logp"][0].exp().numpy()
    freq = counts / n
    np.testing.assert_array_equal(counts.sum(-1), n)
    assert np.all(np.abs(freq - probs) < 4.5 * np.sqrt(probs * (1 - probs) / n)), (freq, probs)
    assert probs.max() > 0.35 and probs.min() < 0.1  # not uniform


def test_bad_input():
    gauss, categ = _model(GAUSS), _model(CATEG)
    with pytest.raises(ValueError, match=r"num_actions \(4\) must equal the RSSM's action_dim \(3\)"):
        LatentModel.from_rssm(gauss, num_actions=4)
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="num_actions must be an int >= 1 or None"):
            LatentModel.from_rssm(gauss, num_actions=bad)
    latent = LatentModel.from_rssm(categ, num_actions=N_ACT)
    start = _states(CATEG, 2)
    for bad in (3.0, -1.0, 0.5):
        with pytest.raises(ValueError, match=r"rollout: actions must be action indices in \{0, ..., 2\}"):
            latent.rollout(start, np.full((2, 4, 1), bad))
    with pytest.raises(ValueError, match=r"rollout: actions must have shape \(2, 4, 1\), got \(2, 4, 3\)"):
        latent.rollout(start, np.zeros((2, 4, 3)))  # one-hot actions are not the C++ model's input
    latent.set_states(start)
    with pytest.raises(ValueError, match=r"evaluate: actions must be action indices in \{0, ..., 2\}"):
        latent.evaluate(np.full((2, 5, 4, 1), 3.0))
    with pytest.raises(ValueError, match="the model must take one discrete action per step, got action_dim 2"):
        cont = LatentModel.from_rssm(_model(GAUSS, action_dim=2))
        cont.set_states(_states(GAUSS, 1))
        CategoricalCEM(horizon=3, population=8, num_elites=2).plan(cont, num_actions=2)
    # the raw constructor's checks
    from nextrl.planning.latent import export_stack

    ops = dict(
        img_in=export_stack(categ.img_in, "img_in"),
        gru=tuple(
            t.detach().numpy() for t in (categ.gru.weight_ih, categ.gru.weight_hh, categ.gru.bias_ih, categ.gru.bias_hh)
        ),
        prior=export_stack(categ.prior_net, "prior_net"),
        reward=export_stack(categ.reward_head, "reward_head"),
        cont=export_stack(categ.cont_head, "cont_head"),
        deter=CATEG.deter,
        stoch=CATEG.stoch_size,
        action_dim=1,
        num_actions=N_ACT,
        groups=CATEG.groups,
        classes=CATEG.classes,
    )
    _core._LatentModel(**ops)  # valid
    with pytest.raises(ValueError, match="action_dim must be 1, got 3"):
        _core._LatentModel(**{**ops, "action_dim": 3})
    with pytest.raises(ValueError, match="groups and classes must both be 0"):
        _core._LatentModel(**{**ops, "classes": 0})
    with pytest.raises(ValueError, match="needs stoch = groups \\* classes = 20, got 21"):
        _core._LatentModel(**{**ops, "stoch": 21})
    with pytest.raises(ValueError, match=r"unimix must be in \[0, 1\), got 1"):
        _core._LatentModel(**{**ops, "unimix": 1.0})
    with pytest.raises(ValueError, match="num_actions must be >= 0"):
        _core._LatentModel(**{**ops, "num_actions": -1})
    with pytest.raises(ValueError, match=r"img_in\[0\] must be a weight of shape \(out, 24\), got \(17, 23\)"):
        _core._LatentModel(**{**ops, "num_actions": 4})
    with pytest.raises(ValueError, match=r"prior must output 20 values \(groups \* classes logits\), got 40"):
        wide = ("linear", np.zeros((40, CATEG.hidden), np.float32), np.zeros(40, np.float32))
        _core._LatentModel(**{**ops, "prior": [*ops["prior"][:-1], wide]})  # a Gaussian head's mean and std
