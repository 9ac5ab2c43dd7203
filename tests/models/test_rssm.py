"""RSSM math against independent references: KL of Gaussians and categoricals against torch.distributions, KL
balancing's values and stop-gradient split against hand-computed values and reference gradients, free nats, the
index alignment of replay windows on a hand-made stream, is_first resets, straight-through categorical samples and
errors. Learning (one-step and open-loop prediction on PointMass) is in test_rssm_learning.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import distributions as D

from nextrl.agents.replay import SequenceReplayBuffer
from nextrl.models.rssm import RSSM, RSSMConfig, categorical_kl, gaussian_kl, model_batch, symexp, symlog

SMALL = dict(deter=16, hidden=16, embed=16, stoch=4, groups=3, classes=5, layers=1)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randn(7, 5, generator=g, dtype=torch.float64)
    s1 = torch.rand(7, 5, generator=g, dtype=torch.float64) + 0.1
    s2 = torch.rand(7, 5, generator=g, dtype=torch.float64) + 0.1
    ref = D.kl_divergence(D.Normal(m1, s1), D.Normal(m2, s2)).sum(-1)
    np.testing.assert_allclose(gaussian_kl(m1, s1, m2, s2).numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    assert (gaussian_kl(m1, s1, m2, s2) >= 0).all()  # the CA18 form log(s2/s1) without the factor 2 goes negative
    np.testing.assert_allclose(gaussian_kl(m1, s1, m1, s1).numpy(), 0.0, atol=1e-12)


def test_categorical_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    p = torch.softmax(torch.randn(4, 3, 6, generator=g, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(4, 3, 6, generator=g, dtype=torch.float64), -1)
    ref = D.kl_divergence(D.Categorical(probs=p), D.Categorical(probs=q)).sum(-1)
    np.testing.assert_allclose(categorical_kl(p.log(), q.log()).numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


def _gauss_states(kl_target_rows):
    """post / prior Gaussian statistics [B=4, T=1, 3] as leaves; row 0 has a tiny KL (below free nats)."""
    g = torch.Generator().manual_seed(2)
    leaf = lambda x: x.clone().requires_grad_(True)
    m1 = torch.randn(4, 1, 3, generator=g, dtype=torch.float64) * kl_target_rows
    m2 = torch.randn(4, 1, 3, generator=g, dtype=torch.float64) * kl_target_rows
    s1 = torch.rand(4, 1, 3, generator=g, dtype=torch.float64) + 0.5
    s2 = torch.rand(4, 1, 3, generator=g, dtype=torch.float64) + 0.5
    m2[0], s2[0] = m1[0] + 0.01, s1[0]
    return leaf(m1), leaf(s1), leaf(m2), leaf(s2)


def test_kl_balancing_values_and_stop_gradient_split():
    cfg = RSSMConfig(**SMALL, kl_mode="balanced", dyn_scale=1.0, rep_scale=0.1, free_nats=1.0)
    model = RSSM(3, 1, cfg).double()
    m1, s1, m2, s2 = _gauss_states(torch.tensor([0.0, 2.0, 2.0, 2.0], dtype=torch.float64)[:, None, None])
    loss, info = model.kl_loss({"mean": m1, "std": s1}, {"mean": m2, "std": s2})
    ref_kl = D.kl_divergence(D.Normal(m1, s1), D.Normal(m2, s2)).sum(-1)  # [4, 1]
    kl = ref_kl.detach()
    assert kl[0] < 1.0 and (kl[1:] > 1.0).all()
    expected = 1.0 * kl.clamp_min(1.0).mean() + 0.1 * kl.clamp_min(1.0).mean()  # hand-computed on fixed tensors
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(info["kl"], kl.mean().item(), rtol=1e-12)
    loss.backward()
    # reference: d mean_t KL / d theta, rows below free nats masked out; prior gets dyn_scale, posterior rep_scale
    mask = (kl > 1.0).double()
    grads = torch.autograd.grad((ref_kl * mask).mean(), [m1, s1, m2, s2])
    np.testing.assert_allclose(m1.grad.numpy(), 0.1 * grads[0].numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(s1.grad.numpy(), 0.1 * grads[1].numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(m2.grad.numpy(), 1.0 * grads[2].numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(s2.grad.numpy(), 1.0 * grads[3].numpy(), rtol=1e-10, atol=1e-14)
    assert (m1.grad[0] == 0).all() and (m2.grad[0] == 0).all()  # under free nats: no gradient at all


def test_planet_free_nats_on_the_mean_kl():
    model = RSSM(3, 1, RSSMConfig(**SMALL, kl_mode="free_nats", free_nats=3.0)).double()
    m1, s1, m2, s2 = _gauss_states(torch.tensor([0.0, 2.0, 2.0, 2.0], dtype=torch.float64)[:, None, None])
    loss, info = model.kl_loss({"mean": m1, "std": s1}, {"mean": m2, "std": s2})
    kl = D.kl_divergence(D.Normal(m1, s1), D.Normal(m2, s2)).sum(-1).mean()
    np.testing.assert_allclose(loss.item(), max(3.0, kl.item()), rtol=1e-12)
    np.testing.assert_allclose(info["kl"], kl.item(), rtol=1e-12)
    # above free nats: the full KL and its gradient flow to both sides
    assert kl.item() > 3.0
    loss.backward()
    g = torch.autograd.grad(kl, [m1, m2])
    np.testing.assert_allclose(m1.grad.numpy(), g[0].numpy(), rtol=1e-10)
    np.testing.assert_allclose(m2.grad.numpy(), g[1].numpy(), rtol=1e-10)
    # below free nats: no gradient
    small = RSSM(3, 1, RSSMConfig(**SMALL, kl_mode="free_nats", free_nats=1e3)).double()
    m1.grad = None
    small.kl_loss({"mean": m1, "std": s1}, {"mean": m2, "std": s2})[0].backward()
    assert m1.grad is None or (m1.grad == 0).all()


def test_categorical_unimix_and_straight_through():
    cfg = RSSMConfig(**{**SMALL, "groups": 3, "classes": 5}, latent="categorical", unimix=0.01)
    model = RSSM(3, 2, cfg)
    raw = torch.randn(6, 15, requires_grad=True) * 20  # very peaked logits
    raw.retain_grad()
    d = model._dist(raw, torch.Generator().manual_seed(0), sample=True)
    probs = d["logp"].exp()
    assert probs.min().item() >= 0.01 / 5 - 1e-7  # the uniform mixture bounds every class away from 0
    np.testing.assert_allclose(probs.sum(-1).detach().numpy(), 1.0, rtol=1e-6)
    s = d["stoch"].reshape(6, 3, 5)
    np.testing.assert_allclose(s.detach().sum(-1).numpy(), 1.0, atol=1e-6)
    assert set(np.unique(np.round(s.detach().numpy(), 5))) <= {0.0, 1.0}  # one-hot values
    (s * torch.arange(5.0)).sum().backward()  # straight-through: the gradient reaches the logits
    assert raw.grad.abs().sum() > 0


def test_is_first_resets_the_state():
    torch.manual_seed(0)
    model = RSSM(3, 2, RSSMConfig(**SMALL))
    g = torch.Generator().manual_seed(3)
    obs = torch.randn(2, 6, 3, generator=g)
    acts = torch.randn(2, 6, 2, generator=g)
    obs[1, :3] += 5.0  # different histories before the reset at t = 3
    acts[1, :3] -= 1.0
    first = torch.zeros(2, 6, dtype=torch.bool)
    first[:, 3] = True
    with torch.no_grad():
        post, _ = model.observe(obs, acts, first, generator=g)
        # h_3 = GRU(0, img_in([0, 0])) whatever came before: both rows agree, and equal a start from the zero state
        np.testing.assert_allclose(post["deter"][0, 3].numpy(), post["deter"][1, 3].numpy(), rtol=0, atol=1e-6)
        init = model.initial(1)
        fresh = model.img_step(init, torch.zeros(1, 2), sample=False)["deter"]
        np.testing.assert_allclose(post["deter"][0, 3].numpy(), fresh[0].numpy(), atol=1e-6)
        assert not np.allclose(post["deter"][0, 2].numpy(), post["deter"][1, 2].numpy(), atol=1e-3)
        # obs_step: a reset row ignores its incoming state and action
        st = {"deter": torch.randn(2, 16, generator=g), "stoch": torch.randn(2, 4, generator=g)}
        e = model.encode(obs[:, 0])
        a, _ = model.obs_step(st, acts[:, 0], e, torch.tensor([True, True]), sample=False)
        b, _ = model.obs_step(model.initial(2), torch.zeros(2, 2), e, None, sample=False)
        np.testing.assert_allclose(a["stoch"].numpy(), b["stoch"].numpy(), atol=1e-6)


def test_index_alignment_of_replay_windows():
    """A hand-made NEXT_STEP stream of one env: episode A (o0 -a0-> o1 -a1-> o2, terminated), reset step
    (its row holds the final obs o2), episode B (p0 -b0-> p1 ...). Values encode their step."""
    buf = SequenceReplayBuffer(64, (1,), (1,), num_envs=1)
    rows = [  # obs, action, reward (of that action), termination, valid
        (10.0, 0.5, 1.0, False, True),  # o0, a0 -> r1 = 1
        (11.0, 0.6, 2.0, True, True),  # o1, a1 -> r2 = 2, terminated at o2
        (12.0, 0.7, 0.0, False, False),  # o2 (final obs), reset step: action ignored
        (20.0, 0.8, 3.0, False, True),  # p0 (first of B), b0 -> 3
        (21.0, 0.9, 4.0, False, True),  # p1
        (22.0, 1.0, 5.0, False, True),  # p2
    ]
    for o, a, r, term, valid in rows:
        buf.add([[o]], [[a]], [r], [term], [False], [valid])
    seq = buf.sample(1, 6, np.random.default_rng(0))
    b = model_batch(seq, action_dim=1)
    np.testing.assert_array_equal(b["obs"][0, :, 0].numpy(), [11.0, 12.0, 20.0, 21.0, 22.0])
    np.testing.assert_array_equal(b["prev_actions"][0, :, 0].numpy(), np.float32([0.5, 0.6, 0.0, 0.8, 0.9]))
    np.testing.assert_array_equal(b["rewards"][0].numpy(), [1.0, 2.0, 0.0, 3.0, 4.0])
    np.testing.assert_array_equal(b["conts"][0].numpy(), [1.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b["is_first"][0].numpy(), [False, False, True, False, False])


def test_imagine_returns_reads_reward_after_the_action():
    """imagine_returns = sum_h gamma^h prod_{k<=h} c_k r_{h}, with r and c read off the state after action h,
    checked against a step-by-step recomputation."""
    torch.manual_seed(0)
    model = RSSM(3, 2, RSSMConfig(**SMALL))
    g = torch.Generator().manual_seed(4)
    st = {"deter": torch.randn(5, 16, generator=g), "stoch": torch.randn(5, 4, generator=g)}
    acts = torch.randn(5, 4, 2, generator=g)
    with torch.no_grad():
        got = model.imagine_returns(st, acts, gamma=0.9)
        ref, alive, s = np.zeros(5), np.ones(5), st
        for h in range(4):
            s = model.img_step(s, acts[:, h], sample=False)
            f = model.features(s)
            ref += 0.9**h * alive * model.reward(f).numpy()
            alive *= model.cont(f).numpy()
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_symlog_inverse():
    x = torch.tensor([-100.0, -1.0, 0.0, 0.5, 1e3], dtype=torch.float64)
    np.testing.assert_allclose(symexp(symlog(x)).numpy(), x.numpy(), rtol=1e-12)
    np.testing.assert_allclose(symlog(x).numpy(), np.sign(x.numpy()) * np.log(1 + np.abs(x.numpy())), rtol=1e-12)


def test_loss_terms_finite_and_decrease_on_a_fixed_batch():
    torch.manual_seed(0)
    for latent in ("gaussian", "categorical"):
        model = RSSM(3, 2, RSSMConfig(**SMALL, latent=latent, symlog=latent == "categorical"))
        g = torch.Generator().manual_seed(5)
        batch = {
            "obs": torch.randn(4, 6, 3, generator=g),
            "prev_actions": torch.randn(4, 6, 2, generator=g),
            "rewards": torch.randn(4, 6, generator=g),
            "conts": torch.ones(4, 6),
            "is_first": torch.zeros(4, 6, dtype=torch.bool),
        }
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        first = None
        for _ in range(60):
            loss, info, _ = model.loss(batch, generator=g)
            opt.zero_grad()
            loss.backward()
            opt.step()
            first = info if first is None else first
        assert info["recon"] < 0.5 * first["recon"], (latent, first, info)
        assert info["cont"] < 0.5 * first["cont"], (latent, first, info)


# ------------------------------------------------------------------------------------------------ errors
def test_errors():
    with pytest.raises(ValueError, match="latent must be 'gaussian' or 'categorical', got 'beta'"):
        RSSMConfig(latent="beta")
    with pytest.raises(ValueError, match="kl_mode must be"):
        RSSMConfig(kl_mode="sum")
    with pytest.raises(ValueError, match="unimix must be in"):
        RSSMConfig(unimix=1.0)
    with pytest.raises(ValueError, match="deter must be an int >= 1"):
        RSSMConfig(deter=0)
    with pytest.raises(ValueError, match="obs_dim must be an int >= 1"):
        RSSM(0, 1)
    model = RSSM(3, 2, RSSMConfig(**SMALL))
    first = torch.zeros(2, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"obs must have shape \[B, T, 3\], got \(2, 4, 5\)"):
        model.observe(torch.zeros(2, 4, 5), torch.zeros(2, 4, 2), first)
    with pytest.raises(ValueError, match=r"prev_actions must have shape \(2, 4, 2\)"):
        model.observe(torch.zeros(2, 4, 3), torch.zeros(2, 4, 1), first)
    with pytest.raises(ValueError, match=r"is_first must have shape \(2, 4\)"):
        model.observe(torch.zeros(2, 4, 3), torch.zeros(2, 4, 2), first[:, :3])
    with pytest.raises(ValueError, match="obs must be finite"):
        model.observe(torch.full((2, 4, 3), float("nan")), torch.zeros(2, 4, 2), first)
    buf = SequenceReplayBuffer(16, (3,), (2,), num_envs=1)
    for _ in range(3):
        buf.add(np.zeros((1, 3)), np.zeros((1, 2)), [0.0], [False], [False])
    with pytest.raises(ValueError, match="seq_len must be <= the steps stored per env"):
        buf.sample(1, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="actions must have 3 dims per step, got 2"):
        model_batch(buf.sample(1, 3, np.random.default_rng(0)), action_dim=3)
    with pytest.raises(ValueError, match="L >= 1"):
        model_batch(buf.sample(1, 1, np.random.default_rng(0)), action_dim=2)
