"""MAAC: the attention critic against a NumPy re-implementation written from the paper's equations (per-agent
encoders, shared multi-head attention over the other active agents, per-agent heads), the critic and actor
losses against NumPy on a random batch with fixed sampled actions (soft target through the target networks,
counterfactual baseline sum_b pi(b) Q(b, a_-i), inactive agents left out), learning, and errors.

Learning (predator-prey of test_predator_prey: 2 predators, capture needs both within distance 1; 16 envs,
15,000 env steps, MAACConfig defaults, 1 torch thread): greedy MAAC predators capture far more often than random
ones. Measured (200 episodes) on 2026-12-06: 1.0 on seeds 0 and 1 against random 0.175 / 0.14, 19-23 s per run
at load 8. At 10,000 steps, the budget this test first had, the same build gives 0.755 / 0.685 with 1 torch
thread (0.685 on seed 1 with 2 threads too, the code before and after the actor_critic_update refactor alike),
not the 0.985 / 0.805 first recorded, so the budget was raised rather than the bar lowered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl.agents.multi import common, maac
from nextrl.agents.multi.maac import MAACConfig, MAACNetworks
from nextrl.agents.replay import ReplayBatch
from nextrl.marl import PointMassTeamVectorEnv, PredatorPreyVectorEnv, SimpleSpreadVectorEnv

OBS, N, A = 3, 4, 3  # obs size, actions, agents


def np_leaky(x):
    return np.where(x > 0, x, 0.01 * x)


def np_ensemble(ens, x):
    """AgentEnsemble in NumPy: x [B, A, in] -> [B, A, out], ReLU between layers."""
    ws = [w.detach().double().numpy() for w in ens.weights]
    bs = [b.detach().double().numpy() for b in ens.biases]
    out = []
    for i in range(x.shape[1]):
        h = x[:, i]
        for k, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w[i] + b[i, 0]
            if k < len(ws) - 1:
                h = np.maximum(h, 0)
        out.append(h)
    return np.stack(out, axis=1)


def np_critic(critic, obs, actions, active):
    """Q_i(o, (b, a_-i)) for every b: [B, A, N], from the module docstring's equations, loop by loop."""
    b_size, a, heads, d = obs.shape[0], critic.num_agents, critic.heads, critic.d
    onehot = np.eye(critic.num_actions)[actions]
    e = np_leaky(np_ensemble(critic.sa_encoder, np.concatenate([obs, onehot], -1)))
    s = np_leaky(np_ensemble(critic.s_encoder, obs))
    wq, wk = critic.query.weight.detach().double().numpy(), critic.key.weight.detach().double().numpy()
    wv, bv = critic.value.weight.detach().double().numpy(), critic.value.bias.detach().double().numpy()
    x = np.zeros((b_size, a, critic.hidden))
    for n in range(b_size):
        for i in range(a):
            others = [j for j in range(a) if j != i and active[n, j]]
            for h in range(heads):
                rows = slice(h * d, (h + 1) * d)
                q = wq[rows] @ s[n, i]
                if not others:
                    continue
                logits = np.array([q @ (wk[rows] @ e[n, j]) / np.sqrt(d) for j in others])
                w = np.exp(logits - logits.max())
                w /= w.sum()
                x[n, i, rows] = sum(wj * np_leaky(wv[rows] @ e[n, j] + bv[rows]) for wj, j in zip(w, others))
    return np_ensemble(critic.head, np.concatenate([s, x], -1))


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def random_batch(seed=0, b=5):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(b, A, OBS + 1, generator=g)
    obs[..., -1] = 1.0
    obs[1, 2, -1] = 0.0  # agent 2 inactive in transition 1
    obs[3, :2, -1] = 0.0  # only agent 2 active in transition 3: no one to attend to
    next_obs = torch.randn(b, A, OBS + 1, generator=g)
    next_obs[..., -1] = 1.0
    next_obs[2, 0, -1] = 0.0
    return ReplayBatch(
        obs=obs,
        actions=torch.randint(0, N, (b, A), generator=g),
        rewards=torch.randn(b, A, generator=g),
        next_obs=next_obs,
        terminations=(torch.rand(b, A, generator=g) < 0.3).float(),
        discounts=torch.full((b,), 0.9),
        weights=torch.ones(b),
        indices=np.arange(b),
    )


def nets_with_distinct_targets(seed=0):
    torch.manual_seed(seed)
    nets = MAACNetworks(OBS, N, A, MAACConfig(critic_hidden=8, attention_heads=2, policy_hidden=(6,)))
    with torch.no_grad():  # targets differ from the online networks, so the test sees which one is used
        for p in list(nets.critic_target.parameters()) + list(nets.policy_target.parameters()):
            p.add_(0.3 * torch.randn(p.shape))
    return nets


def test_attention_critic_matches_numpy():
    nets = nets_with_distinct_targets()
    batch = random_batch()
    obs, active = batch.obs[..., :-1], batch.obs[..., -1]
    q, logits = nets.critic(obs, torch.nn.functional.one_hot(batch.actions, N).float(), active)
    want = np_critic(nets.critic, obs.double().numpy(), batch.actions.numpy(), active.numpy())
    np.testing.assert_allclose(q.detach().numpy(), want, rtol=1e-5, atol=1e-5)
    assert logits.shape == (5, 2, A, A)
    assert torch.isinf(logits[:, :, range(A), range(A)]).all()  # no agent attends to itself
    assert torch.isinf(logits[1, :, :2, 2]).all()  # nor to an inactive agent


def test_attention_output_depends_on_the_other_agents_only_through_attention():
    # agent 0's Q does not change when agent 0's own action changes (it is the output index), but does when an
    # active other agent's action changes, and not when an inactive agent's action does
    nets = nets_with_distinct_targets()
    obs = torch.randn(1, A, OBS)
    a = torch.tensor([[0, 1, 2]])
    active = torch.tensor([[1.0, 1.0, 0.0]])
    q = lambda acts: nets.critic(obs, torch.nn.functional.one_hot(acts, N).float(), active)[0][0, 0]
    torch.testing.assert_close(q(a), q(torch.tensor([[3, 1, 2]])))
    torch.testing.assert_close(q(a), q(torch.tensor([[0, 1, 0]])))
    assert not torch.allclose(q(a), q(torch.tensor([[0, 3, 2]])))


def test_critic_loss_matches_numpy():
    nets = nets_with_distinct_targets()
    batch = random_batch()
    cfg = MAACConfig(alpha=0.2, attention_reg=0.0)
    next_actions = torch.randint(0, N, (5, A), generator=torch.Generator().manual_seed(7))
    loss, stats = maac.critic_loss(nets, batch, cfg, next_actions=next_actions)
    o, act = batch.obs[..., :-1].double().numpy(), batch.obs[..., -1].numpy()
    o2, act2 = batch.next_obs[..., :-1].double().numpy(), batch.next_obs[..., -1].numpy()
    na = next_actions.numpy()
    next_q = np_critic(nets.critic_target, o2, na, act2)
    next_logp = np_log_softmax(np_ensemble(nets.policy_target, o2))
    pick = lambda x, idx: np.take_along_axis(x, idx[..., None], -1)[..., 0]
    soft = pick(next_q, na) - 0.2 * pick(next_logp, na)
    y = batch.rewards.numpy() + 0.9 * (1 - batch.terminations.numpy()) * soft
    q = pick(np_critic(nets.critic, o, batch.actions.numpy(), act), batch.actions.numpy())
    want = (act * (q - y) ** 2).sum() / act.sum()
    assert float(loss.detach()) == pytest.approx(want, rel=1e-4)
    assert stats["losses/critic"] == pytest.approx(want, rel=1e-4)
    # the attention regularizer adds attention_reg times the mean squared finite logit
    reg_loss, _ = maac.critic_loss(nets, batch, MAACConfig(alpha=0.2, attention_reg=0.5), next_actions=next_actions)
    onehot = torch.nn.functional.one_hot(batch.actions, N).float()
    _, logits = nets.critic(batch.obs[..., :-1], onehot, batch.obs[..., -1])
    finite = logits[torch.isfinite(logits)].detach().double().numpy()
    assert float(reg_loss.detach()) == pytest.approx(want + 0.5 * (finite**2).mean(), rel=1e-4)


def test_actor_loss_matches_numpy_and_its_gradient_is_the_baselined_policy_gradient():
    nets = nets_with_distinct_targets()
    batch = random_batch()
    cfg = MAACConfig(alpha=0.1, policy_reg=0.0)
    actions = torch.randint(0, N, (5, A), generator=torch.Generator().manual_seed(3))
    loss, stats = maac.actor_loss(nets, batch, cfg, actions=actions)
    o, act = batch.obs[..., :-1].double().numpy(), batch.obs[..., -1].numpy()
    a = actions.numpy()
    q_all = np_critic(nets.critic, o, a, act)  # every agent's action from the current policies
    logp_all = np_log_softmax(np_ensemble(nets.policy, o))
    pi = np.exp(logp_all)
    baseline = (pi * q_all).sum(-1)  # counterfactual: agent i's own action marginalized, the others' fixed
    pick = lambda x: np.take_along_axis(x, a[..., None], -1)[..., 0]
    logp, q = pick(logp_all), pick(q_all)
    want = (act * logp * (0.1 * logp - (q - baseline))).sum() / act.sum()
    assert float(loss.detach()) == pytest.approx(want, rel=1e-4)
    assert stats["losses/actor"] == pytest.approx(want, rel=1e-4)
    # gradient: only through log pi(a_i), weighted by the detached (alpha log pi - A_i); the critic gets none
    nets.zero_grad()
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in nets.critic.parameters())
    weight = torch.as_tensor(act * (0.1 * logp - (q - baseline)) / act.sum(), dtype=torch.float32)
    policy_copy = MAACNetworks(OBS, N, A, MAACConfig(critic_hidden=8, attention_heads=2, policy_hidden=(6,))).policy
    policy_copy.load_state_dict(nets.policy.state_dict())
    ref = torch.log_softmax(policy_copy(batch.obs[..., :-1]), -1).gather(-1, actions[..., None])[..., 0]
    (ref * weight).sum().backward()
    for p, r in zip(nets.policy.parameters(), policy_copy.parameters()):
        torch.testing.assert_close(p.grad, r.grad, rtol=1e-4, atol=1e-6)


def test_policy_regularizer():
    nets = nets_with_distinct_targets()
    batch = random_batch()
    actions = torch.zeros(5, A, dtype=torch.int64)
    base, _ = maac.actor_loss(nets, batch, MAACConfig(policy_reg=0.0), actions=actions)
    reg, _ = maac.actor_loss(nets, batch, MAACConfig(policy_reg=0.3), actions=actions)
    logits = nets.policy(batch.obs[..., :-1]).detach()
    assert float((reg - base).detach()) == pytest.approx(0.3 * float((logits**2).mean()), rel=1e-4)


def test_same_seed_same_run():
    cfg = MAACConfig(total_timesteps=2 * 30, learning_starts=20, batch_size=8, critic_hidden=8, attention_heads=2)
    a = maac.train(SimpleSpreadVectorEnv(2), cfg, seed=3).modules["networks"].state_dict()
    b = maac.train(SimpleSpreadVectorEnv(2), cfg, seed=3).modules["networks"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


ENV = dict(grid_size=6, max_steps=20, capture_radius=1, capture_min_predators=2)


def capture_rate(act, seed: int) -> float:
    returns = common.evaluate_team(act, PredatorPreyVectorEnv(20, **ENV), 200, seed=seed)
    return float(np.mean(returns > 0))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_maac_predators_capture_more_often_than_random(seed):
    torch.set_num_threads(1)
    result = maac.train(PredatorPreyVectorEnv(16, **ENV), MAACConfig(total_timesteps=15_000), seed=seed)
    rng = np.random.default_rng(seed)
    random_rate = capture_rate(lambda obs, mask: rng.integers(0, 5, size=obs.shape[:2]), seed=100 + seed)
    trained_rate = capture_rate(maac.act_fn(result.modules["networks"]), seed=100 + seed)
    assert random_rate < 0.3
    assert trained_rate >= 0.7 and trained_rate >= random_rate + 0.4, (trained_rate, random_rate)


def test_errors():
    with pytest.raises(TypeError, match="maac.train: env must have a Discrete action space"):
        maac.train(PointMassTeamVectorEnv(2), MAACConfig(total_timesteps=10), seed=0)
    with pytest.raises(TypeError, match="maac.train: env must be a nextrl.marl.MarlVectorEnv"):
        maac.train("spread", MAACConfig(total_timesteps=10), seed=0)
    nets = MAACNetworks(5, 5, 3)
    with pytest.raises(ValueError, match="maac.train: env must have 3 agents"):
        maac.train(PredatorPreyVectorEnv(2, **ENV), MAACConfig(total_timesteps=10), seed=0, nets=nets)
    with pytest.raises(ValueError, match="maac.act_fn: env must have obs_size 5"):
        maac.act_fn(nets, SimpleSpreadVectorEnv(2))
    with pytest.raises(TypeError, match="maac.train: nets must be MAACNetworks"):
        maac.train(SimpleSpreadVectorEnv(2), MAACConfig(total_timesteps=10), seed=0, nets=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="MAACConfig: critic_hidden must be >= 1 and divisible by attention_heads"):
        MAACConfig(critic_hidden=10, attention_heads=4)
    with pytest.raises(ValueError, match="MAACConfig: alpha must be >= 0"):
        MAACConfig(alpha=-1.0)
    with pytest.raises(ValueError, match="MAACConfig: reward_reduction must be"):
        MAACConfig(reward_reduction="max")
    with pytest.raises(ValueError, match="AttentionCritic: num_agents must be >= 2"):
        maac.AttentionCritic(3, 2, 1)
