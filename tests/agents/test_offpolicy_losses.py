"""Every loss and target of the off-policy agents (DQN, DDPG, TD3, SAC, discrete SAC) on tiny batches,
against values computed by hand (written out in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nextrl.agents import ddpg, dqn, sac, sac_discrete, td3
from nextrl.agents.offpolicy_nets import EnsembleMLP, TanhActor, soft_update


def t(x):
    return torch.tensor(x, dtype=torch.float32)


# ---------------------------------------------------------------------------------------- DQN
def test_dqn_targets_double_and_vanilla():
    next_online = t([[1, 5, 2], [0, -1, 3]])  # argmax: action 1, action 2
    next_target = t([[10, 4, 7], [2, 8, 6]])  # max: 10, 8; at the online argmax: 4, 6
    rewards, terms, discounts = t([1.0, 0.5]), t([0.0, 1.0]), t([0.9, 0.81])
    double = dqn.dqn_targets(next_online, next_target, rewards, terms, discounts, double_q=True)
    np.testing.assert_allclose(double.numpy(), [1 + 0.9 * 4, 0.5], rtol=1e-6)  # row 2 terminated
    vanilla = dqn.dqn_targets(next_online, next_target, rewards, terms, discounts, double_q=False)
    np.testing.assert_allclose(vanilla.numpy(), [1 + 0.9 * 10, 0.5], rtol=1e-6)


def test_dqn_loss_huber_and_squared_with_weights():
    q_values, actions = t([[1, 2, 3], [4, 5, 6]]), torch.tensor([2, 0])  # Q(s, a) = 3, 4
    targets, weights = t([4.6, 0.5]), t([1.0, 0.5])  # td = 1.6, -3.5
    loss, td = dqn.dqn_loss(q_values, actions, targets, weights, huber=True)
    np.testing.assert_allclose(td.numpy(), [1.6, -3.5], rtol=1e-6)
    # huber(1.6) = 1.6 - 0.5 = 1.1, huber(3.5) = 3.0; weighted mean (1.1 + 0.5 * 3.0) / 2
    np.testing.assert_allclose(loss.item(), (1.1 + 1.5) / 2, rtol=1e-6)
    loss, _ = dqn.dqn_loss(q_values, actions, targets, weights, huber=False)
    np.testing.assert_allclose(loss.item(), (1.6**2 + 0.5 * 3.5**2) / 2, rtol=1e-6)


def test_dueling_head_is_value_plus_centred_advantage():
    net = dqn.DuelingQNetwork(3, 4, (8, 8))
    x = torch.randn(5, 3)
    h = torch.relu(net.trunk(x))
    a, v = net.advantage(h), net.value(h)
    np.testing.assert_allclose(net(x).detach().numpy(), (v + a - a.mean(1, keepdim=True)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(net(x).mean(1).detach().numpy(), v[:, 0].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_linear_schedule():
    assert dqn.linear_schedule(1.0, 0.1, 100, 0) == 1.0
    assert dqn.linear_schedule(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert dqn.linear_schedule(1.0, 0.1, 100, 1000) == pytest.approx(0.1)


# ------------------------------------------------------------------------------ DDPG and TD3
def test_ddpg_targets_and_losses():
    next_q, rewards, terms, discounts = t([[3.0], [5.0]]), t([1.0, 2.0]), t([0.0, 1.0]), t([0.9, 0.9])
    np.testing.assert_allclose(
        ddpg.critic_targets(next_q, rewards, terms, discounts).numpy(), [1 + 2.7, 2.0], rtol=1e-6
    )
    np.testing.assert_allclose(ddpg.critic_loss(t([[1.0], [4.0]]), t([2.0, 2.0])).item(), (1 + 4) / 2, rtol=1e-6)
    np.testing.assert_allclose(ddpg.actor_loss(t([[1.0], [4.0]])).item(), -2.5, rtol=1e-6)


def test_td3_target_smoothing_clips_noise_and_actions():
    cfg = td3.TD3Config(policy_noise=0.2, noise_clip=0.5)
    low, high = t([-2.0]), t([2.0])  # half-range 2
    next_actions, noise = t([[1.9], [0.0], [-1.0], [0.3]]), t([[1.0], [5.0], [-3.0], [-1.5]])
    # eps = clip(0.2 * noise, +-0.5) * 2 = 0.4, 1.0, -1.0, -0.6; then clip to [-2, 2]
    got = td3.smoothed_target_actions(next_actions, noise, cfg, low, high)
    np.testing.assert_allclose(got.numpy()[:, 0], [2.0, 1.0, -2.0, -0.3], rtol=1e-6)


def test_td3_target_takes_min_of_twins_and_actor_uses_first_critic():
    next_q = t([[1.0, 3.0], [5.0, 2.0]])  # min: 1, 2
    got = td3.critic_targets(next_q, t([0.5, 1.0]), t([0.0, 0.0]), t([0.99, 0.5]))
    np.testing.assert_allclose(got.numpy(), [0.5 + 0.99 * 1, 1 + 0.5 * 2], rtol=1e-6)
    q, targets = t([[1.0, 2.0], [3.0, 4.0]]), t([1.0, 5.0])  # twin 1: (0 + 4) / 2, twin 2: (1 + 1) / 2
    np.testing.assert_allclose(td3.critic_loss(q, targets).item(), 2.0 + 1.0, rtol=1e-6)
    np.testing.assert_allclose(td3.actor_loss(t([[1.0, -9.0], [3.0, -9.0]])).item(), -2.0, rtol=1e-6)


# --------------------------------------------------------------------------------------- SAC
def test_squashed_gaussian_at_zero_noise_by_hand():
    mean, log_std, noise = t([[0.0]]), t([[0.0]]), t([[0.0]])
    scale, bias = t([2.0]), t([0.5])
    a, logp = sac.squashed_gaussian(mean, log_std, noise, scale, bias)
    # u = 0: a = bias; density N(0; 0, 1) / (scale * (1 - tanh(0)^2)) = (2 pi)^-1/2 / 2
    np.testing.assert_allclose(a.numpy(), [[0.5]])
    np.testing.assert_allclose(logp.item(), -0.5 * math.log(2 * math.pi) - math.log(2.0), rtol=1e-6)


def test_squashed_gaussian_log_prob_matches_change_of_variables(rng):
    b, d = 64, 3  # drawn from the test's seeded rng: torch's global generator made the test flaky
    mean, log_std = torch.from_numpy(rng.standard_normal((b, d))), torch.from_numpy(rng.standard_normal((b, d)) * 0.5)
    noise = torch.from_numpy(rng.standard_normal((b, d)) * 2)
    scale = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    bias = torch.tensor([0.0, -1.0, 3.0], dtype=torch.float64)
    a, logp = sac.squashed_gaussian(mean, log_std, noise, scale, bias)
    u = mean + log_std.exp() * noise
    # torch's transforms as the reference, with their caches, so that log_prob inverts a_ref by the cached u
    # instead of atanh (which loses every digit where tanh saturates: |u| of 6 and more occur here)
    td = torch.distributions
    squash = td.ComposeTransform([td.TanhTransform(cache_size=1), td.AffineTransform(bias, scale, cache_size=1)])
    ref = td.TransformedDistribution(td.Normal(mean, log_std.exp()), [squash])
    a_ref = squash(u)
    np.testing.assert_allclose(a.numpy(), a_ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(logp.numpy(), ref.log_prob(a_ref).sum(-1).numpy(), rtol=1e-6, atol=1e-6)
    # and the density integrates to 1 over the action interval (1-D, midpoint rule in a)
    m, ls = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([[-0.2]], dtype=torch.float64)
    grid = torch.linspace(-1, 1, 200_001, dtype=torch.float64)[1:-1]
    u = torch.atanh(grid)
    _, lp = sac.squashed_gaussian(
        m.expand(len(u), 1),
        ls.expand(len(u), 1),
        ((u - 0.3) / math.exp(-0.2))[:, None],
        torch.ones(1, dtype=torch.float64),
        torch.zeros(1, dtype=torch.float64),
    )
    np.testing.assert_allclose(torch.trapezoid(lp.exp(), grid).item(), 1.0, atol=1e-4)


def test_gaussian_params_bounds_log_std():
    mean, log_std = sac.gaussian_params(t([[1.0, -100.0], [2.0, 100.0], [3.0, 0.0]]))
    np.testing.assert_allclose(mean.numpy()[:, 0], [1, 2, 3])
    np.testing.assert_allclose(log_std.numpy()[:, 0], [sac.LOG_STD_MIN, sac.LOG_STD_MAX, -1.5], rtol=1e-6)


def test_sac_entropy_regularized_target_and_losses():
    next_q, next_logp = t([[1.0, 3.0], [5.0, 2.0]]), t([0.5, -1.0])  # min: 1, 2
    # soft V = min Q - alpha log pi = 1 - 0.1 = 0.9 and 2 + 0.2 = 2.2
    got = sac.critic_targets(next_q, next_logp, t([1.0, 0.0]), t([0.0, 1.0]), t([0.99, 0.99]), alpha=0.2)
    np.testing.assert_allclose(got.numpy(), [1 + 0.99 * 0.9, 0.0], rtol=1e-6)
    np.testing.assert_allclose(sac.critic_loss(t([[1.0, 2.0], [3.0, 4.0]]), t([1.0, 5.0])).item(), 3.0, rtol=1e-6)
    # mean(alpha log pi - min Q) = mean(0.1 - 1, -0.2 - 2)
    np.testing.assert_allclose(sac.actor_loss(next_q, next_logp, 0.2).item(), (-0.9 - 2.2) / 2, rtol=1e-6)


def test_sac_alpha_loss_value_and_gradient_sign():
    log_alpha = torch.tensor(math.log(0.5), requires_grad=True)
    log_prob, target_entropy = t([0.5, -1.0]), -1.0
    loss = sac.alpha_loss(log_alpha, log_prob, target_entropy)
    # -log(0.5) * mean(0.5 - 1, -1 - 1) = -log(0.5) * -1.25
    np.testing.assert_allclose(loss.item(), -math.log(0.5) * -1.25, rtol=1e-6)
    loss.backward()
    # entropy estimate -mean(log pi) = 0.25 > target -1: the gradient +1.25 makes descent shrink alpha
    np.testing.assert_allclose(log_alpha.grad.item(), 1.25, rtol=1e-6)


# ------------------------------------------------------------------------------ discrete SAC
def test_sac_discrete_target_exact_expectation():
    probs = [0.25, 0.75]
    next_logp = torch.log(t([probs]))
    next_q = t([[[1.0, 2.0], [3.0, 0.0]]])  # [B=1, twins, actions]: min over twins per action = 1, 0
    alpha = 0.5
    soft_v = 0.25 * (1 - alpha * math.log(0.25)) + 0.75 * (0 - alpha * math.log(0.75))
    got = sac_discrete.critic_targets(next_q, next_logp, t([1.0]), t([0.0]), t([0.9]), alpha)
    np.testing.assert_allclose(got.item(), 1 + 0.9 * soft_v, rtol=1e-6)
    got = sac_discrete.critic_targets(next_q, next_logp, t([1.0]), t([1.0]), t([0.9]), alpha)
    np.testing.assert_allclose(got.item(), 1.0, rtol=1e-6)


def test_sac_discrete_losses_by_hand():
    q = t([[[1.0, 2.0], [3.0, 0.0]], [[0.0, 4.0], [1.0, 5.0]]])  # [B=2, 2, A=2]
    actions, targets = torch.tensor([0, 1]), t([2.0, 4.0])
    # Q(s,a): row 1 twins (1, 3), row 2 twins (4, 5); twin 1 errors (-1, 0), twin 2 errors (1, 1)
    np.testing.assert_allclose(sac_discrete.critic_loss(q, actions, targets).item(), 0.5 + 1.0, rtol=1e-6)
    logp = torch.log(t([[0.25, 0.75], [0.5, 0.5]]))
    alpha = 0.5
    # min over twins: row 1 (1, 0), row 2 (0, 4)
    row1 = 0.25 * (alpha * math.log(0.25) - 1) + 0.75 * (alpha * math.log(0.75) - 0)
    row2 = 0.5 * (alpha * math.log(0.5) - 0) + 0.5 * (alpha * math.log(0.5) - 4)
    np.testing.assert_allclose(sac_discrete.actor_loss(q, logp, alpha).item(), (row1 + row2) / 2, rtol=1e-6)
    log_alpha = torch.tensor(math.log(alpha), requires_grad=True)
    te = 0.3
    inner1 = 0.25 * (math.log(0.25) + te) + 0.75 * (math.log(0.75) + te)
    inner2 = math.log(0.5) + te
    loss = sac_discrete.alpha_loss(log_alpha, logp, te)
    np.testing.assert_allclose(loss.item(), -math.log(alpha) * (inner1 + inner2) / 2, rtol=1e-6)


# ---------------------------------------------------------------------------- network blocks
def test_ensemble_mlp_members_are_independent_mlps():
    torch.manual_seed(0)
    net = EnsembleMLP(5, 3, num_members=2, hidden=(7, 6))
    x = torch.randn(4, 5)
    out = net(x)
    assert out.shape == (4, 6)
    for k in range(2):
        h = x
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            h = h @ w[k] + b[k, 0]
            h = torch.relu(h) if i < len(net.weights) - 1 else h
        np.testing.assert_allclose(out[:, 3 * k : 3 * k + 3].detach().numpy(), h.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"EnsembleMLP: in_dim, out_dim and num_members must be >= 1, got 5, 3, 0"):
        EnsembleMLP(5, 3, num_members=0)


def test_tanh_actor_stays_in_box_and_soft_update():
    actor = TanhActor(torch.nn.Linear(2, 2), t([-1.0, 0.0]), t([1.0, 4.0]))
    a = actor(torch.randn(100, 2) * 100)
    assert torch.all(a[:, 0] >= -1) and torch.all(a[:, 0] <= 1) and torch.all(a[:, 1] >= 0) and torch.all(a[:, 1] <= 4)
    src, dst = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    before = dst.weight.detach().clone()
    soft_update(dst, src, 0.25)
    np.testing.assert_allclose(
        dst.weight.detach().numpy(), (0.75 * before + 0.25 * src.weight).detach().numpy(), rtol=1e-6
    )
