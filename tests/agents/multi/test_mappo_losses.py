"""MAPPO / IPPO math against hand-computed values on tiny batches (clipped surrogate, clipped value loss,
value normalization), IPPO without its extras against single-agent PPO on the flattened env, action masks,
continuous actions, and the errors a user can reach."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.agents import ppo
from nextrl.agents.multi import common, mappo
from nextrl.agents.multi.mappo import AgentMLP, MAPPOConfig, MultiAgentActorCritic, ValueNorm
from nextrl.marl import SimpleSpreadVectorEnv, TwoStepGameVectorEnv


def test_value_norm_hand_computed():
    vn = ValueNorm(beta=0.5)
    mean, var = vn.mean_var()
    assert float(mean) == 0.0 and float(var) == pytest.approx(1e-2)  # nothing seen: var at its floor
    vn.update(torch.tensor([1.0, 2.0, 3.0, 4.0]))  # m = 0.5 * 2.5, q = 0.5 * 7.5, d = 0.5
    mean, var = vn.mean_var()
    assert float(mean) == pytest.approx(2.5) and float(var) == pytest.approx(7.5 - 2.5**2)
    vn.update(torch.tensor([10.0, 10.0]))  # m = 0.25 * 2.5 + 0.5 * 10, q = 0.25 * 7.5 + 0.5 * 100, d = 0.75
    m, q = (0.625 + 5.0) / 0.75, (1.875 + 50.0) / 0.75
    mean, var = vn.mean_var()
    assert float(mean) == pytest.approx(m) and float(var) == pytest.approx(q - m**2)
    x = torch.tensor([0.0, 7.5, -3.0])
    np.testing.assert_allclose(vn.normalize(x).numpy(), ((x - m) / math.sqrt(q - m**2)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(vn.denormalize(vn.normalize(x)).numpy(), x.numpy(), rtol=1e-5, atol=1e-5)
    assert vn.normalize(x).dtype == torch.float32
    assert set(vn.state_dict()) == {"running_mean", "running_mean_sq", "debiasing_term"}


def test_value_targets_update_then_normalize():
    values, rets = torch.tensor([0.3, -0.1, 0.0, 2.0]), torch.tensor([1.0, 2.0, 3.0, 4.0])
    old, target = mappo.value_targets(values, rets, None)
    assert old is values and target is rets
    vn = ValueNorm()
    old, target = mappo.value_targets(values, rets, vn)
    assert old is values  # the critic's outputs at collection, already in its output space
    np.testing.assert_allclose(target.numpy(), ((rets - 2.5) / math.sqrt(1.25)).numpy(), rtol=1e-5)


def constant_policy(value: float) -> MultiAgentActorCritic:
    """2 agents, obs and state size 3, Discrete(5): uniform actor (log pi = -log 5), critic = `value`."""
    policy = MultiAgentActorCritic(3, 3, gym.spaces.Discrete(5), 2, centralized=True, hidden=(4,))
    with torch.no_grad():
        for net, bias in ((policy.actor.net, 0.0), (policy.critic.net, value)):
            net[-1].weight.zero_()
            net[-1].bias.fill_(bias)
    return policy


def test_entry_loss_hand_computed():
    cfg = MAPPOConfig(norm_adv=False, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5)
    policy = constant_policy(1.0)
    log5 = math.log(5.0)
    ratios = torch.tensor([1.5, 0.5, 1.0])
    loss, stats = mappo.entry_loss(
        policy,
        obs=torch.randn(3, 3),
        state=torch.randn(3, 3),
        agent=torch.tensor([0, 1, 0]),
        action_mask=None,
        actions=torch.tensor([0, 3, 4]),
        old_log_probs=-log5 - ratios.log(),  # ratio = pi / pi_old
        advantages=torch.tensor([1.0, 1.0, -2.0]),
        old_values=torch.tensor([0.5, 1.0, 2.0]),
        returns_=torch.tensor([3.0, 1.0, 0.0]),
        cfg=cfg,
    )
    # surrogate: max(-A r, -A clip(r, 0.8, 1.2)) = -1.2, -0.5, 2.0
    pg = (-1.2 - 0.5 + 2.0) / 3
    # value: V = 1 everywhere; clipped V = old + clip(V - old, +-0.2) = 0.7, 1.0, 1.8;
    # max((V - R)^2, (clipped - R)^2) = 5.29, 0, 3.24
    v = 0.5 * (5.29 + 0.0 + 3.24) / 3
    assert stats["losses/policy"] == pytest.approx(pg, abs=1e-6)
    assert stats["losses/value"] == pytest.approx(v, abs=1e-6)
    assert stats["losses/entropy"] == pytest.approx(log5, abs=1e-6)
    assert float(loss.detach()) == pytest.approx(pg - 0.01 * log5 + 0.5 * v, abs=1e-6)
    assert stats["losses/clipfrac"] == pytest.approx(2 / 3)


def test_entry_loss_gradient_stops_at_the_clip():
    """A ratio beyond 1 + eps with a positive advantage (and a value already moved by more than eps toward a
    worse target) gives no gradient to the actor's logits."""
    cfg = MAPPOConfig(norm_adv=False, ent_coef=0.0, vf_coef=0.0)
    policy = constant_policy(0.0)
    loss, _ = mappo.entry_loss(
        policy,
        torch.zeros(1, 3),
        torch.zeros(1, 3),
        torch.tensor([0]),
        None,
        torch.tensor([2]),
        torch.tensor([-math.log(5.0) - math.log(1.5)]),
        torch.tensor([1.0]),
        torch.zeros(1),
        torch.zeros(1),
        cfg,
    )
    # mb of one entry works here because norm_adv is off
    loss.backward()
    assert float(policy.actor.net[-1].bias.grad.abs().sum()) == 0.0


def test_policy_shapes_ids_masks_and_centralized_value():
    policy = MultiAgentActorCritic(3, 4, gym.spaces.Discrete(5), 2, centralized=True, hidden=(8,))
    obs, state = torch.zeros(6, 2, 3), torch.randn(6, 4)
    logits = policy.actor(obs)
    assert logits.shape == (6, 2, 5) and not torch.allclose(logits[:, 0], logits[:, 1])  # same obs, other ids
    mask = torch.tensor([True, False, True, False, False]).expand(6, 2, 5)
    probs = policy.dist(obs, mask).probs
    assert torch.all(probs[..., [1, 3, 4]] == 0) and torch.allclose(probs.sum(-1), torch.ones(6, 2))
    v = policy.value(torch.randn(6, 2, 3), state)
    assert v.shape == (6, 2)
    assert torch.allclose(v, policy.value(torch.randn(6, 2, 3), state))  # MAPPO: the state, not obs
    # flattened rows with their agent index give the same outputs as the agent axis
    rows = policy.value(obs.reshape(12, 3), state.repeat_interleave(2, 0), torch.tensor([0, 1] * 6))
    assert torch.allclose(rows, v.reshape(12), atol=1e-6)
    ippo = MultiAgentActorCritic(3, 4, gym.spaces.Discrete(5), 2, centralized=False, hidden=(8,))
    o = torch.randn(6, 2, 3)
    assert not torch.allclose(ippo.value(o, state), ippo.value(o + 1.0, state))  # IPPO: the own obs
    with pytest.raises(ValueError, match=r"AgentMLP: input must end in \(2, 3\)"):
        policy.actor(torch.zeros(6, 3, 3))
    with pytest.raises(ValueError, match="AgentMLP: input must end in 3"):
        policy.actor(torch.zeros(6, 3), torch.zeros(5, dtype=torch.int64))
    assert AgentMLP(3, 1, 2, hidden=(), agent_ids=False).net[0].in_features == 3


def test_ippo_without_extras_is_single_agent_ppo_on_flattened_agents():
    """IPPO with no agent ids, no value normalization, each agent's own reward and CleanRL's truncation
    bootstrap is PPO with parameter sharing: the same seed gives the same networks as agents.ppo.train on the
    flattened env (an independent implementation of the same algorithm)."""
    kw = dict(num_steps=16, learning_rate=7e-4, update_epochs=2, num_minibatches=2, anneal_lr=False)
    kw.update(ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, hidden=(16,))
    cfg = mappo.ippo_config(
        total_timesteps=4 * 16 * 3,
        agent_ids=False,
        value_norm=False,
        reward_reduction="none",
        bootstrap_truncation=True,
        **kw,
    )
    ours = mappo.train(SimpleSpreadVectorEnv(4), cfg, seed=3).modules["policy"]
    ref = ppo.train(SimpleSpreadVectorEnv(4), ppo.PPOConfig(total_timesteps=4 * 3 * 16 * 3, **kw), seed=3)
    ref_policy = ref.modules["policy"]
    for a, b in ((ours.actor.net, ref_policy.actor), (ours.critic.net, ref_policy.critic)):
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-5)
    assert not torch.allclose(ours.actor.net[0].bias, torch.zeros(16))  # it did train


def test_continuous_actions_train_and_evaluate():
    env = SimpleSpreadVectorEnv(2, continuous_actions=True)
    cfg = MAPPOConfig(total_timesteps=2 * 8 * 2, num_steps=8, update_epochs=1, hidden=(8,))
    result = mappo.train(env, cfg, seed=0)
    policy = result.modules["policy"]
    assert not policy.discrete and policy.head.log_std.shape == (5,)
    assert [m["global_step"] for m in result.metrics] == [16.0, 32.0]
    act = mappo.act_fn(policy, SimpleSpreadVectorEnv(3, continuous_actions=True), deterministic=False)
    a = act(np.zeros((3, 3, 18), np.float32), None)
    assert a.shape == (3, 3, 5) and a.min() >= 0.0 and a.max() <= 1.0
    returns = common.evaluate_team(act, SimpleSpreadVectorEnv(2, continuous_actions=True), 2, seed=0)
    assert returns.shape == (2,) and np.all(returns < 0)
    assert isinstance(result.modules["value_norm"], ValueNorm)
    assert float(result.modules["value_norm"].debiasing_term) > 0


def test_same_seed_same_run():
    cfg = MAPPOConfig(total_timesteps=2 * 8 * 2, num_steps=8, update_epochs=2, hidden=(8,))
    a = mappo.train(TwoStepGameVectorEnv(2), cfg, seed=5).modules["policy"].state_dict()
    b = mappo.train(TwoStepGameVectorEnv(2), cfg, seed=5).modules["policy"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_agent_rewards():
    r = np.array([[1.0, 3.0], [0.0, -2.0]], np.float32)
    np.testing.assert_array_equal(mappo.agent_rewards(r, "none"), r)
    np.testing.assert_array_equal(mappo.agent_rewards(r, "mean"), [[2.0, 2.0], [-1.0, -1.0]])
    np.testing.assert_array_equal(mappo.agent_rewards(r, "sum"), [[4.0, 4.0], [-2.0, -2.0]])


def test_errors():
    fn = "mappo.train"
    cfg = MAPPOConfig(total_timesteps=8, num_steps=4)
    with pytest.raises(TypeError, match=f"{fn}: env must be a nextrl.marl.MarlVectorEnv"):
        mappo.train(gym.make_vec("CartPole-v1", num_envs=1), cfg, seed=0)
    discrete3 = MultiAgentActorCritic(18, 54, gym.spaces.Discrete(5), 3)
    with pytest.raises(ValueError, match=f"{fn}: env must have 3 agents \\(the policy's\\), got 2"):
        mappo.train(SimpleSpreadVectorEnv(2, N=2), cfg, seed=0, policy=discrete3)
    with pytest.raises(TypeError, match=f"{fn}: env's action space must be the policy's Discrete\\(5\\)"):
        mappo.train(SimpleSpreadVectorEnv(2, continuous_actions=True), cfg, seed=0, policy=discrete3)
    box3 = MultiAgentActorCritic(18, 54, gym.spaces.Box(0.0, 1.0, (5,), np.float32), 3)
    with pytest.raises(TypeError, match=f"{fn}: env's action space must be the policy's Box"):
        mappo.train(SimpleSpreadVectorEnv(2), cfg, seed=0, policy=box3)
    with pytest.raises(ValueError, match=f"{fn}: env must have obs_size 18 and state_size 54"):
        mappo.train(
            TwoStepGameVectorEnv(2), cfg, seed=0, policy=MultiAgentActorCritic(18, 54, gym.spaces.Discrete(2), 2)
        )
    with pytest.raises(ValueError, match=f"{fn}: policy.centralized must be cfg.centralized_critic"):
        mappo.train(SimpleSpreadVectorEnv(2), mappo.ippo_config(total_timesteps=8), seed=0, policy=discrete3)
    with pytest.raises(TypeError, match=f"{fn}: policy must be a MultiAgentActorCritic"):
        mappo.train(SimpleSpreadVectorEnv(2), cfg, seed=0, policy=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=f"{fn}: env must use NEXT_STEP autoreset"):
        mappo.train(SimpleSpreadVectorEnv(2, autoreset_mode="SameStep"), cfg, seed=0)
    with pytest.raises(ValueError, match="mappo.act_fn: env must have 3 agents"):
        mappo.act_fn(discrete3, SimpleSpreadVectorEnv(2, N=2))
    with pytest.raises(ValueError, match='MAPPOConfig: reward_reduction must be "none", "mean" or "sum"'):
        MAPPOConfig(reward_reduction="max")
    with pytest.raises(ValueError, match="MAPPOConfig: gamma and gae_lambda must be in"):
        MAPPOConfig(gamma=1.5)
    with pytest.raises(ValueError, match="MAPPOConfig: num_steps must be >= 1"):
        MAPPOConfig(num_steps=0)
    with pytest.raises(ValueError, match=r"MAPPOConfig: value_norm_beta must be in \(0, 1\)"):
        MAPPOConfig(value_norm_beta=1.0)
