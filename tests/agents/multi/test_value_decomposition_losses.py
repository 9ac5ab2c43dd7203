"""IQL / VDN / QMIX math against hand-computed values on tiny batches, QMIX monotonicity by gradient, masked
action selection, and the errors a user can reach."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.agents.multi import common, iql, qmix, vdn
from nextrl.agents.multi.common import AgentQNetwork, Transitions
from nextrl.marl import PointMassTeamVectorEnv, PredatorPreyVectorEnv, TwoStepGameVectorEnv


def identity_agent_network() -> AgentQNetwork:
    """Q(o) = o: 2 agents, obs_size 2, 2 actions, no hidden layer, no agent ids."""
    net = AgentQNetwork(2, 2, 2, hidden=(), agent_ids=False)
    with torch.no_grad():
        net.net[0].weight.copy_(torch.eye(2))
        net.net[0].bias.zero_()
    return net


def set_mixer(mixer: qmix.QMixer, w1, b1: float, w2: float, b2_bias: float) -> qmix.QMixer:
    """A 2-agent, embed-1, state-size-1 mixer with single-layer hypernets: W1 = |w1 * s|, b1, W2 = |w2 * s|,
    b2 = relu(s) + b2_bias."""
    with torch.no_grad():
        mixer.hyper_w1.weight.copy_(torch.tensor(w1).view(2, 1))
        mixer.hyper_w1.bias.zero_()
        mixer.hyper_b1.weight.zero_()
        mixer.hyper_b1.bias.fill_(b1)
        mixer.hyper_w2.weight.fill_(w2)
        mixer.hyper_w2.bias.zero_()
        mixer.hyper_b2[0].weight.fill_(1.0)
        mixer.hyper_b2[0].bias.zero_()
        mixer.hyper_b2[2].weight.fill_(1.0)
        mixer.hyper_b2[2].bias.fill_(b2_bias)
    return mixer


def tiny_batch() -> Transitions:
    """Two transitions of 2 agents; with Q(o) = o the taken actions' values are [2, 1] and [3, -1], and the
    next greedy values [1, -1] and [2, 2]."""
    return Transitions(
        obs=torch.tensor([[[2.0, 0.0], [5.0, 1.0]], [[3.0, 7.0], [-1.0, 4.0]]]),
        state=torch.tensor([[1.0], [1.0]]),
        actions=torch.tensor([[0, 1], [0, 0]]),
        rewards=torch.tensor([[1.0, 1.0], [0.0, 0.0]]),
        terminations=torch.tensor([[0.0, 0.0], [1.0, 1.0]]),
        active=torch.ones(2, 2),
        team_terminal=torch.tensor([0.0, 1.0]),
        next_obs=torch.tensor([[[1.0, 0.0], [-1.0, -2.0]], [[2.0, 9.0], [2.0, 0.0]]]),
        next_state=torch.tensor([[1.0], [1.0]]),
        # agent 0 of the second transition may not take action 1 (worth 9): its next value is 2
        next_mask=torch.tensor([[[True, True], [True, True]], [[True, False], [True, True]]]),
        next_alive=torch.tensor([[1.0, 1.0], [0.0, 0.0]]),
        weights=torch.ones(2),
    )


def test_chosen_and_next_q_respect_masks_and_activity():
    net = identity_agent_network()
    chosen, next_q = common.chosen_and_next_q(net, net, tiny_batch(), double_q=False)
    np.testing.assert_allclose(chosen.detach().numpy(), [[2.0, 1.0], [3.0, -1.0]], rtol=0, atol=1e-6)
    np.testing.assert_allclose(next_q.numpy(), [[1.0, -1.0], [0.0, 0.0]], rtol=0, atol=1e-6)
    batch = tiny_batch()
    batch.next_alive = torch.ones(2, 2)
    _, next_q = common.chosen_and_next_q(net, net, batch, double_q=True)
    np.testing.assert_allclose(next_q.numpy(), [[1.0, -1.0], [2.0, 2.0]], rtol=0, atol=1e-6)


def test_vdn_loss_hand_computed():
    net = identity_agent_network()
    cfg = vdn.VDNConfig(gamma=0.5)
    value, _ = vdn.loss(tiny_batch(), net, net, cfg)
    # targets: 1 + 0.5 * (1 + -1) = 1 and 0 (terminal); Q_tot: 2 + 1 = 3 and 3 + -1 = 2
    np.testing.assert_allclose(value.item(), ((1 - 3) ** 2 + (0 - 2) ** 2) / 2, rtol=1e-6)
    np.testing.assert_allclose(
        vdn.vdn_targets(torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([[2.0, 3.0]]), 0.9),
        [1 + 0.9 * 5],
        rtol=1e-6,
    )


def test_iql_loss_hand_computed():
    net = identity_agent_network()
    value, _ = iql.loss(tiny_batch(), net, net, iql.IQLConfig(gamma=0.5))
    # per agent: targets [1 + 0.5, 1 - 0.5] and [0, 0] against [2, 1] and [3, -1]
    expected = ((1.5 - 2) ** 2 + (0.5 - 1) ** 2 + (0 - 3) ** 2 + (0 + 1) ** 2) / 4
    np.testing.assert_allclose(value.item(), expected, rtol=1e-6)


def test_qmix_target_goes_through_the_target_mixer():
    target_mixer = set_mixer(qmix.QMixer(2, 1, embed_dim=1, hypernet_hidden=0), [2.0, -3.0], 0.5, -1.0, 0.25)
    online_mixer = set_mixer(qmix.QMixer(2, 1, embed_dim=1, hypernet_hidden=0), [1.0, 1.0], 0.0, 1.0, 0.0)
    # next_q [1, -1], s' = 1: W1 = [2, 3], h = elu(2 - 3 + 0.5) = exp(-0.5) - 1, W2 = 1, b2 = relu(1) + 0.25
    q_next = math.exp(-0.5) - 1 + 1.25
    targets = qmix.qmix_targets(
        torch.tensor([1.0, 1.0]),
        torch.tensor([0.0, 1.0]),
        torch.tensor([[1.0, -1.0]] * 2),
        torch.tensor([[1.0], [1.0]]),
        target_mixer,
        0.5,
    )
    np.testing.assert_allclose(targets.numpy(), [1 + 0.5 * q_next, 1.0], rtol=1e-6)
    # the whole loss: online Q_tot of chosen [2, 1] at s = 1 is elu(3) + 1 = 4
    net = identity_agent_network()
    batch = tiny_batch()
    batch.weights = torch.tensor([1.0, 0.0])  # only the first transition
    value, _ = qmix.loss(batch, net, net, online_mixer, target_mixer, qmix.QMIXConfig(gamma=0.5))
    np.testing.assert_allclose(value.item(), (1 + 0.5 * q_next - 4.0) ** 2, rtol=1e-6)
    # with the online mixer in the target instead, the value would differ
    wrong, _ = qmix.loss(batch, net, net, online_mixer, online_mixer, qmix.QMIXConfig(gamma=0.5))
    assert abs(wrong.item() - value.item()) > 0.1


@pytest.mark.parametrize("seed", [0, 1])
def test_qmix_mixer_is_monotonic_in_every_agent_q(seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mixer = qmix.QMixer(4, 6, embed_dim=8, hypernet_hidden=16)
    q = (3 * torch.randn(256, 4, generator=gen)).requires_grad_(True)
    state = torch.randn(256, 6, generator=gen)
    (grad,) = torch.autograd.grad(mixer(q, state).sum(), q)
    assert grad.min().item() >= 0.0
    assert grad.max().item() > 0.0
    # and so the per-agent argmax maximizes Q_tot: raising one agent's Q never lowers Q_tot
    base = mixer(q.detach(), state)
    bumped = mixer(q.detach() + torch.eye(4)[seed] * 0.5, state)
    assert torch.all(bumped >= base - 1e-6)


def test_mixer_biases_depend_on_the_state():
    mixer = qmix.QMixer(2, 3, embed_dim=4)
    q = torch.zeros(2, 2)
    out = mixer(q, torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]]))
    assert abs(out[0].item() - out[1].item()) > 1e-4


def test_action_masks_respected_by_greedy_and_exploration():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(64, 3, 5))
    mask = rng.random((64, 3, 5)) < 0.4
    mask[..., 2] |= ~mask.any(axis=-1)  # every row but [0, 0] allows some action
    mask[0, 0] = False  # no allowed action: every action counts as allowed
    for eps in (0.0, 1.0):
        actions = common.epsilon_greedy(q, mask, eps, rng)
        allowed = np.take_along_axis(mask, actions[..., None], -1)[..., 0]
        allowed[0, 0] = True
        assert allowed.all()
    greedy = common.greedy_actions(torch.as_tensor(q), torch.as_tensor(mask)).numpy()
    np.testing.assert_array_equal(greedy[1:], np.where(mask, q, -np.inf).argmax(-1)[1:])
    # uniform over the allowed actions
    mask = np.zeros((20000, 1, 5), dtype=bool)
    mask[..., [1, 3]] = True
    counts = np.bincount(common.epsilon_greedy(np.zeros((20000, 1, 5)), mask, 1.0, rng).ravel(), minlength=5)
    assert counts[[0, 2, 4]].sum() == 0 and abs(counts[1] - counts[3]) < 600


def test_agent_network_appends_one_hot_ids():
    net = AgentQNetwork(3, 2, 4, hidden=(8,))
    assert net.net[0].in_features == 7
    q = net(torch.zeros(5, 4, 3))
    assert q.shape == (5, 4, 2)
    assert not torch.allclose(q[:, 0], q[:, 1])  # same obs, different ids
    with pytest.raises(ValueError, match=r"AgentQNetwork: obs must end in \(4, 3\)"):
        net(torch.zeros(5, 3, 3))


@pytest.mark.parametrize("module", [iql, vdn, qmix])
def test_errors(module):
    cfg_cls = {iql: iql.IQLConfig, vdn: vdn.VDNConfig, qmix: qmix.QMIXConfig}[module]
    fn = module.__name__.rsplit(".", 1)[1] + ".train"
    cfg = cfg_cls(total_timesteps=8)
    with pytest.raises(TypeError, match=f"{fn}: env must have a Discrete action space"):
        module.train(PointMassTeamVectorEnv(2), cfg, seed=0)
    with pytest.raises(TypeError, match=f"{fn}: env must be a nextrl.marl.MarlVectorEnv"):
        module.train(gym.make_vec("CartPole-v1", num_envs=1), cfg, seed=0)
    with pytest.raises(ValueError, match=f"{fn}: env must have 3 agents"):
        module.train(TwoStepGameVectorEnv(2), cfg, seed=0, agent_network=AgentQNetwork(3, 2, 3))
    with pytest.raises(ValueError, match=f"{fn}: agent_network must take obs_size 3"):
        module.train(TwoStepGameVectorEnv(2), cfg, seed=0, agent_network=AgentQNetwork(8, 2, 2))
    with pytest.raises(ValueError, match=f"{cfg_cls.__name__}: reward_reduction must be"):
        cfg_cls(reward_reduction="max")
    with pytest.raises(ValueError, match=f"{cfg_cls.__name__}: gamma must be in"):
        cfg_cls(gamma=1.5)


def test_qmix_mixer_agent_count_mismatch():
    with pytest.raises(ValueError, match=r"qmix.train: mixer must mix 2 agents on a state of size 3"):
        qmix.train(TwoStepGameVectorEnv(2), qmix.QMIXConfig(total_timesteps=8), seed=0, mixer=qmix.QMixer(3, 3))
    with pytest.raises(ValueError, match=r"QMixer: agent_q must end in 3"):
        qmix.QMixer(3, 3)(torch.zeros(4, 2), torch.zeros(4, 3))


def test_evaluation_agent_count_mismatch():
    net = AgentQNetwork(8, 5, 3)
    with pytest.raises(ValueError, match="evaluate_team: env must have 3 agents"):
        common.evaluate_team(net, PredatorPreyVectorEnv(2), 4, seed=0)
    with pytest.raises(ValueError, match="greedy_policy: env must have 3 agents"):
        common.greedy_policy(net, PredatorPreyVectorEnv(2))


@pytest.mark.parametrize("module", [iql, vdn, qmix])
def test_smoke_train_records_episodes_and_metrics(module):
    cfg_cls = {iql: iql.IQLConfig, vdn: vdn.VDNConfig, qmix: qmix.QMIXConfig}[module]
    cfg = cfg_cls(total_timesteps=400, learning_starts=100, batch_size=8, hidden=(16,), double_q=True)
    result = module.train(PredatorPreyVectorEnv(4, max_steps=10), cfg, seed=0)
    assert result.global_steps == 400
    assert len(result.episode_returns) >= 4 * (400 // 4 // 11)
    assert len(result.metrics) == 400 // 4 - 100 // 4 + 1
    assert all(np.isfinite(m["losses/td_loss"]) for m in result.metrics)
    assert set(result.modules) >= {"agent_network", "target_network"}


class MaskCheckingPredatorPrey(PredatorPreyVectorEnv):
    """Counts the actions of active agents that the last infos["action_mask"] disallowed."""

    def reset(self, **kwargs):
        obs, infos = super().reset(**kwargs)
        self.last_infos, self.illegal, self.masked_slots = infos, 0, 0
        return obs, infos

    def step(self, actions):
        mask, active = self.last_infos["action_mask"], self.last_infos["active"]
        taken = np.take_along_axis(mask, np.asarray(actions)[..., None], -1)[..., 0]
        self.illegal += int((~taken & active).sum())
        self.masked_slots += int((~mask.all(-1) & active).sum())
        out = super().step(actions)
        self.last_infos = out[-1]
        return out


@pytest.mark.parametrize("module", [iql, qmix])
def test_training_never_takes_a_masked_action(module):
    cfg_cls = {iql: iql.IQLConfig, qmix: qmix.QMIXConfig}[module]
    env = MaskCheckingPredatorPrey(4, grid_size=4, max_steps=10)
    module.train(env, cfg_cls(total_timesteps=800, learning_starts=200, batch_size=8, hidden=(16,)), seed=0)
    assert env.masked_slots > 50  # border cells mask moves off the grid
    assert env.illegal == 0


def test_same_seed_same_run():
    cfg = qmix.QMIXConfig(total_timesteps=200, learning_starts=80, batch_size=8, hidden=(8,))
    runs = [qmix.train(PredatorPreyVectorEnv(4, max_steps=10), cfg, seed=s) for s in (3, 3, 4)]
    for name in ("agent_network", "mixer"):
        a, b, c = (dict(r.modules[name].named_parameters()) for r in runs)
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert not all(torch.equal(a[k], c[k]) for k in a)
    assert runs[0].episode_returns == runs[1].episode_returns
