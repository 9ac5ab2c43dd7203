"""Each on-policy loss against values computed by hand on a tiny batch (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, kl_divergence

from nextrl.agents import a2c, ppo, reinforce, trpo


def t(*x):
    return torch.tensor(x, dtype=torch.float64)


# ratio = [1.5, 0.5], A = [1, -1], eps = 0.2:
#   sample 0: max(-1.5, -1.2) = -1.2;  sample 1: max(0.5, 0.8) = 0.8  -> pg = -0.2
# V = [1, 2], old V = [0.5, 2.5], R = [2, 1]: clipped V = [0.7, 2.3];
#   max((V - R)^2, (Vc - R)^2) = [max(1, 1.69), max(1, 1.69)] -> v = 0.5 * 1.69 = 0.845 (unclipped: 0.5)
# entropy mean 0.5; loss = pg - 0.01 * 0.5 + 0.5 * v
PPO_BATCH = dict(
    log_probs=t(math.log(1.5), math.log(0.5)),
    old_log_probs=t(0.0, 0.0),
    advantages=t(1.0, -1.0),
    values=t(1.0, 2.0),
    old_values=t(0.5, 2.5),
    returns_=t(2.0, 1.0),
    entropy=t(0.6, 0.4),
)


@pytest.mark.parametrize(
    "norm_adv,clip_vloss,pg,v",
    [
        (False, True, -0.2, 0.845),
        (False, False, -0.2, 0.5),
        (True, True, -0.2 / (math.sqrt(2) + 1e-8), 0.845),  # A normalized: [1, -1] / (std([1, -1]) + 1e-8)
    ],
)
def test_ppo_loss(norm_adv, clip_vloss, pg, v):
    cfg = ppo.PPOConfig(norm_adv=norm_adv, clip_vloss=clip_vloss, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5)
    loss, stats = ppo.ppo_loss(**PPO_BATCH, cfg=cfg)
    np.testing.assert_allclose(float(loss), pg - 0.01 * 0.5 + 0.5 * v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stats["losses/policy"], pg, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stats["losses/value"], v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stats["losses/entropy"], 0.5, rtol=0, atol=1e-12)
    # k3 estimator: mean((r - 1) - log r) = mean(0.5 - log 1.5, -0.5 - log 0.5)
    np.testing.assert_allclose(
        stats["losses/approx_kl"], ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5))) / 2, rtol=0, atol=1e-12
    )
    assert stats["losses/clipfrac"] == 1.0


def test_ppo_loss_gradient_is_zero_where_clipped():
    # A > 0 and ratio 1.5 > 1 + eps: the clipped branch is active, no policy gradient for sample 0;
    # A < 0 and ratio 0.5 < 1 - eps: clipped as well. Only the entropy (not a function of log_probs here) remains.
    lp = PPO_BATCH["log_probs"].clone().requires_grad_(True)
    cfg = ppo.PPOConfig(norm_adv=False)
    loss, _ = ppo.ppo_loss(**{**PPO_BATCH, "log_probs": lp}, cfg=cfg)
    loss.backward()
    np.testing.assert_array_equal(lp.grad.numpy(), [0.0, 0.0])
    # inside the trust region: d/dlogp of -mean(A r) = -A r / 2
    lp = t(math.log(1.1), math.log(0.9)).requires_grad_(True)
    loss, _ = ppo.ppo_loss(**{**PPO_BATCH, "log_probs": lp}, cfg=cfg)
    loss.backward()
    np.testing.assert_allclose(lp.grad.numpy(), [-1.0 * 1.1 / 2, 1.0 * 0.9 / 2], rtol=1e-12)


def test_a2c_loss():
    # pg = -mean([-0.5 * 2, -1 * 1]) = 1;  v = mean((3 - 1)^2, (-1 - 0)^2) = 2.5;  loss = 1 + 0.5 * 2.5 - 0.01 * 0.5
    cfg = a2c.A2CConfig(vf_coef=0.5, ent_coef=0.01)
    loss, stats = a2c.a2c_loss(t(-0.5, -1.0), t(2.0, 1.0), t(1.0, 0.0), t(3.0, -1.0), t(0.6, 0.4), cfg)
    np.testing.assert_allclose(float(loss), 1.0 + 1.25 - 0.005, rtol=0, atol=1e-12)
    assert stats["losses/policy"] == pytest.approx(1.0, abs=1e-12)
    assert stats["losses/value"] == pytest.approx(2.5, abs=1e-12)
    # normalized A = [2, 1] -> [0.5, -0.5] / (std + 1e-8), std = sqrt(0.5): pg = -mean(-0.5 a, a) = -0.25 a
    loss, stats = a2c.a2c_loss(
        t(-0.5, -1.0), t(2.0, 1.0), t(1.0, 0.0), t(3.0, -1.0), t(0.6, 0.4), a2c.A2CConfig(norm_adv=True, ent_coef=0.0)
    )
    assert stats["losses/policy"] == pytest.approx(-0.25 * 0.5 / (math.sqrt(0.5) + 1e-8), abs=1e-12)


def test_reinforce_loss_and_stop_gradient():
    # G = [3, 2], b = [1, 2]: A = [2, 0]; pg = -mean(-0.5 * 2, 0) = 0.5; baseline = mean(4, 0) = 2
    cfg = reinforce.ReinforceConfig(norm_adv=False, baseline_coef=0.5, ent_coef=0.0)
    b = t(1.0, 2.0).requires_grad_(True)
    lp = t(-0.5, -1.0).requires_grad_(True)
    loss, stats = reinforce.reinforce_loss(lp, t(3.0, 2.0), b, t(0.6, 0.4), cfg)
    np.testing.assert_allclose(float(loss.detach()), 0.5 + 0.5 * 2.0, rtol=0, atol=1e-12)
    assert stats["losses/baseline"] == pytest.approx(2.0, abs=1e-12)
    loss.backward()
    # the baseline gets only the regression gradient 0.5 * d mean((G - b)^2) / db = -0.5 (G - b) = [-1, 0]
    np.testing.assert_allclose(b.grad.numpy(), [-1.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(lp.grad.numpy(), [-1.0, 0.0], rtol=0, atol=1e-12)  # -A / B


def test_trpo_surrogate_and_value_loss():
    # ratios [2, 0.5], A = [1, 2]: mean(2, 1) = 1.5
    assert float(trpo.surrogate(t(math.log(2), math.log(0.5)), t(0.0, 0.0), t(1.0, 2.0))) == pytest.approx(1.5)
    assert float(trpo.value_loss(t(1.0, 2.0), t(2.0, 4.0))) == pytest.approx(0.5 * (1 + 4) / 2)


def test_conjugate_gradient_solves_spd_system(rng):
    a = rng.normal(size=(6, 6))
    f = a @ a.T + 6 * np.eye(6)
    b = rng.normal(size=6)
    x = trpo.conjugate_gradient(lambda v: torch.from_numpy(f) @ v, torch.from_numpy(b), iters=6)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(f, b), rtol=1e-8, atol=1e-10)
    # early stop on a tiny residual: the exact answer for the identity after one step
    x = trpo.conjugate_gradient(lambda v: v, torch.from_numpy(b), iters=50)
    np.testing.assert_allclose(x.numpy(), b, rtol=1e-12)


def test_fisher_vector_product_is_softmax_fisher(rng):
    # For a categorical over logits z, the Hessian of KL(p_old || softmax(z)) at z = z_old is diag(p) - p p^T.
    z_old = torch.tensor(rng.normal(size=4))
    p = torch.softmax(z_old, 0).numpy()
    z = torch.nn.Parameter(z_old.clone())
    old = Categorical(logits=z_old)
    fvp = trpo.fisher_vector_product(lambda: kl_divergence(old, Categorical(logits=z)), [z], damping=0.1)
    v = rng.normal(size=4)
    np.testing.assert_allclose(
        fvp(torch.from_numpy(v)).numpy(), (np.diag(p) - np.outer(p, p)) @ v + 0.1 * v, rtol=1e-10, atol=1e-12
    )


def test_line_search():
    # KL grows as 0.04 frac^2: with max_kl 0.01 the first accepted fraction is 0.5
    assert (
        trpo.line_search(lambda f: (f, 0.04 * f * f), 1.0, 0.01, backtrack=0.5, max_steps=10, accept_ratio=0.1) == 0.5
    )
    # improvement below accept_ratio * predicted: 0.05 f < 0.1 f, never accepted
    assert trpo.line_search(lambda f: (0.05 * f, 0.0), 1.0, 0.01, backtrack=0.5, max_steps=10, accept_ratio=0.1) == 0.0
    # no improvement: rejected; nan KL: rejected
    assert trpo.line_search(lambda f: (-1.0, 0.0), 1.0, 0.01, backtrack=0.5, max_steps=4, accept_ratio=0.0) == 0.0
    assert (
        trpo.line_search(lambda f: (1.0, float("nan")), 1.0, 0.01, backtrack=0.5, max_steps=4, accept_ratio=0.0) == 0.0
    )
    calls = []
    trpo.line_search(lambda f: calls.append(f) or (-1.0, 0.0), 1.0, 0.01, backtrack=0.8, max_steps=3, accept_ratio=0)
    np.testing.assert_allclose(calls, [1.0, 0.8, 0.64])


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: ppo.PPOConfig(num_minibatches=0), "num_steps, num_minibatches and update_epochs must be >= 1"),
        (lambda: ppo.PPOConfig(gamma=1.5), r"gamma and gae_lambda must be in \[0, 1\]"),
        (lambda: a2c.A2CConfig(optimizer="sgd"), "optimizer must be 'rmsprop' or 'adam', got 'sgd'"),
        (lambda: a2c.A2CConfig(num_steps=0), "A2CConfig: num_steps must be >= 1, got 0"),
        (lambda: reinforce.ReinforceConfig(num_steps=0), "ReinforceConfig: num_steps must be >= 1, got 0"),
        (lambda: trpo.TRPOConfig(max_kl=0.0), "TRPOConfig: max_kl must be > 0"),
        (lambda: trpo.TRPOConfig(backtrack=1.0), r"TRPOConfig: backtrack must be in \(0, 1\), got 1.0"),
    ],
)
def test_config_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
