"""CommNet, DIAL and TarMAC: forward passes against NumPy re-implementations of the papers' equations, DIAL's
DRU (noisy sigmoid in training, threshold at execution), gradients reaching the sender through the message,
stored messages equal to the ones the loss recomputes, the guessing game, learning and errors.

Learning (GuessingGameVectorEnv: 2 agents, 4 digits, each names the other's private digit; chance 0.25;
64 envs, 20,000 env steps, comm_common.CommConfig defaults, greedy execution policy over 2,000 guesses; the env's
per-env streams, env i seeded seed + i): with communication CommNet, TarMAC and DIAL with 4 bits and channel noise
sigma 0.5 (discrete bits at execution) reach 1.0 on seeds 0, 1, 2; without communication every method stays at
chance (0.246-0.250, seed 0). DIAL with the paper's sigma 2 gets stuck at 0.59-0.84 (digits share codes) on most
seeds: 2 bits 0.764 / 0.594 (seeds 0 / 1; 0.764 / 0.746 after 40,000 steps), 4 bits 1.0 / 0.75, with ent_coef
0.05 2 bits 0.764 / 0.746 / 0.74 and 4 bits 1.0 / 1.0 / 0.841 (seeds 0-2); sigma 1 with 2 bits 0.764 / 0.746."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl.agents.multi import comm_common
from nextrl.agents.multi.comm_common import CommConfig
from nextrl.agents.multi.commnet import CommNet
from nextrl.agents.multi.dial import DIAL, dru
from nextrl.agents.multi.tarmac import TarMAC
from nextrl.marl.guessing_game import GuessingGameVectorEnv

OBS, N, A = 4, 4, 3


def np_lin(layer, x):
    w = layer.weight.detach().double().numpy()
    b = 0.0 if layer.bias is None else layer.bias.detach().double().numpy()
    return x @ w.T + b


def np_encode(net, obs):
    ids = np.broadcast_to(np.eye(net.num_agents), (obs.shape[0], net.num_agents, net.num_agents))
    return np.tanh(np_lin(net.encoder, np.concatenate([obs, ids], -1)))


def others(x, i):
    return [x[:, j] for j in range(x.shape[1]) if j != i]


def test_commnet_matches_numpy():
    torch.manual_seed(0)
    net = CommNet(OBS, N, A, hidden=8, rounds=2)
    obs = np.random.default_rng(0).normal(size=(5, A, OBS))
    logits, messages = net(torch.as_tensor(obs, dtype=torch.float32))
    h = np_encode(net, obs)
    sent = []
    for k in range(2):
        sent.append(h)
        c = np.stack([np.mean(others(h, i), axis=0) for i in range(A)], axis=1)  # mean of the other agents
        h = np.tanh(np_lin(net.self_layers[k], h) + np_lin(net.comm_layers[k], c))
    np.testing.assert_allclose(logits.detach().numpy(), np_lin(net.action_head, h), atol=1e-5)
    np.testing.assert_allclose(messages.detach().numpy(), np.concatenate(sent, -1), atol=1e-5)


def test_tarmac_matches_numpy():
    torch.manual_seed(1)
    net = TarMAC(OBS, N, A, hidden=8, key_size=3, value_size=5, rounds=2)
    obs = np.random.default_rng(1).normal(size=(5, A, OBS))
    logits, messages = net(torch.as_tensor(obs, dtype=torch.float32))
    h = np_encode(net, obs)
    for r in range(2):
        k, v, q = np_lin(net.keys[r], h), np_lin(net.values[r], h), np_lin(net.queries[r], h)
        c = np.zeros((5, A, 5))
        for i in range(A):
            scores = np.stack([(q[:, i] * kj).sum(-1) / np.sqrt(3) for kj in others(k, i)], axis=-1)
            alpha = np.exp(scores - scores.max(-1, keepdims=True))
            alpha /= alpha.sum(-1, keepdims=True)
            c[:, i] = sum(alpha[:, [n]] * vj for n, vj in enumerate(others(v, i)))
        h = np.tanh(np_lin(net.self_layers[r], h) + np_lin(net.comm_layers[r], c))
    np.testing.assert_allclose(logits.detach().numpy(), np_lin(net.action_head, h), atol=1e-5)
    assert messages.shape == (5, A, 2 * (3 + 5))
    np.testing.assert_allclose(net.last_attention.sum(-1).numpy(), 1.0, atol=1e-6)


def test_dial_dru_and_messages_match_numpy():
    torch.manual_seed(2)
    net = DIAL(OBS, N, A, hidden=8, message_bits=2, sigma=2.0)
    obs = np.random.default_rng(2).normal(size=(5, A, OBS))
    noise = torch.randn(5, A, 2)
    logits, messages = net(torch.as_tensor(obs, dtype=torch.float32), noise)
    h = np_encode(net, obs)
    m = np_lin(net.speak, h)
    sent = 1 / (1 + np.exp(-(m + 2.0 * noise.double().numpy())))  # training: sigmoid(m + sigma eps)
    received = np.stack([np.concatenate(others(sent, i), -1) for i in range(A)], axis=1)
    h2 = np.tanh(np_lin(net.self_layer, h) + np_lin(net.listen, received))
    np.testing.assert_allclose(messages.detach().numpy(), sent, atol=1e-5)
    np.testing.assert_allclose(logits.detach().numpy(), np_lin(net.action_head, h2), atol=1e-5)
    # execution: discrete bits 1[m > 0], no noise needed
    _, bits = net(torch.as_tensor(obs, dtype=torch.float32), execute=True)
    np.testing.assert_array_equal(bits.numpy(), (m > 0).astype(np.float32))
    x = torch.tensor([-3.0, 0.5])
    torch.testing.assert_close(dru(x, torch.tensor([1.0, -1.0]), 0.5, False), torch.sigmoid(torch.tensor([-2.5, 0.0])))
    torch.testing.assert_close(dru(x, None, 0.5, True), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("cls", [CommNet, DIAL, TarMAC], ids=["commnet", "dial", "tarmac"])
def test_receiver_loss_reaches_the_sender_only_through_messages(cls):
    torch.manual_seed(3)
    obs = torch.randn(6, A, OBS)
    for communicate in (True, False):
        net = cls(OBS, N, A, hidden=8, communicate=communicate)
        noise = net.sample_noise(6)
        logits, _ = net(obs, noise)
        # agent 0's logits as a function of agent 1's observation: nonzero only with communication
        obs_var = obs.clone().requires_grad_(True)
        logits, _ = net(obs_var, noise)
        (grad,) = torch.autograd.grad(logits[:, 0].sum(), obs_var)
        assert (grad[:, 1].abs().sum() > 0) == communicate
        assert grad[:, 0].abs().sum() > 0


def test_stored_messages_are_the_ones_the_loss_sees():
    env = GuessingGameVectorEnv(8, num_agents=2)
    net = DIAL(4, 4, 2, hidden=8)
    result = comm_common.train(env, net, CommConfig(total_timesteps=8 * 4 * 3), seed=0)
    assert len(result.metrics) == 3 and result.global_steps == 96
    assert all(m["charts/message_mismatch"] == 0.0 for m in result.metrics)
    # the loss on a stored batch: log pi recomputed from the stored obs and noise equals the stored log pi
    obs = torch.as_tensor(env.reset(seed=1)[0])
    noise = net.sample_noise(8)
    with torch.no_grad():
        logits, messages = net(obs, noise)
    actions = logits.argmax(-1)
    batch = comm_common.CommRollout(
        obs, noise, messages, actions, torch.log_softmax(logits, -1).gather(-1, actions[..., None])[..., 0], None
    )
    batch.rewards = torch.tensor([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4)
    total, stats, recomputed = comm_common.loss(net, batch, CommConfig(ent_coef=0.0))
    torch.testing.assert_close(recomputed, messages)
    adv = batch.rewards - batch.rewards.mean(0)
    assert stats["losses/policy"] == pytest.approx(float(-(adv * batch.log_probs).mean()), rel=1e-5)


def test_same_seed_same_run():
    cfg = CommConfig(total_timesteps=8 * 4 * 3)

    def metrics():
        torch.manual_seed(4)  # the network's initialization is the caller's
        net = DIAL(4, 4, 2, hidden=8)
        return comm_common.train(GuessingGameVectorEnv(8), net, cfg, seed=5).metrics

    a, b = metrics(), metrics()
    assert a == b and len(a) == 3


def test_guessing_game_rewards():
    env = GuessingGameVectorEnv(4, num_agents=3, num_digits=5)
    obs, infos = env.reset(seed=0)
    digits = obs.argmax(-1)
    np.testing.assert_array_equal(obs.sum(-1), 1.0)
    np.testing.assert_array_equal(infos["state"], obs.reshape(4, -1))
    right = np.roll(digits, -1, axis=1)  # agent i names agent i + 1's digit
    wrong = (right + 1) % 5
    actions = np.where(np.arange(3) == 1, wrong, right)
    obs2, rewards, terms, truncs, _ = env.step(actions)
    np.testing.assert_array_equal(rewards, np.tile([1.0, 0.0, 1.0], (4, 1)))
    assert terms.all() and not truncs.any()
    # chance: a policy that ignores the others' digits is right 1 / num_digits of the time
    env = GuessingGameVectorEnv(10_000, num_digits=4)
    obs, _ = env.reset(seed=1)
    _, rewards, *_ = env.step(obs.argmax(-1))  # name your own digit
    assert abs(rewards.mean() - 0.25) < 0.02  # std 0.005


def test_errors():
    with pytest.raises(ValueError, match="GuessingGameVectorEnv: num_agents must be an integer >= 2"):
        GuessingGameVectorEnv(2, num_agents=1)
    env = GuessingGameVectorEnv(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"GuessingGameVectorEnv.step: actions must be integers of shape \(2, 2\)"):
        env.step(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"GuessingGameVectorEnv.step: actions must be in \[0, 4\)"):
        env.step(np.full((2, 2), 4))
    with pytest.raises(ValueError, match="comm.train: env must have 3 agents, obs_size 4 and 4 actions"):
        comm_common.train(env, CommNet(4, 4, 3), CommConfig(total_timesteps=8), seed=0)
    with pytest.raises(TypeError, match="comm.train: net must be a CommNetwork"):
        comm_common.train(env, torch.nn.Linear(2, 2), CommConfig(total_timesteps=8), seed=0)
    with pytest.raises(ValueError, match=r"DIAL: obs must be \[B, 2, 4\]"):
        DIAL(4, 4, 2)(torch.zeros(3, 2, 5), torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match=r"DIAL: training needs noise \[B, 2, 2\]"):
        DIAL(4, 4, 2)(torch.zeros(3, 2, 4))
    with pytest.raises(ValueError, match="CommNet: num_agents must be an integer >= 2"):
        CommNet(4, 4, 1)
    with pytest.raises(ValueError, match="CommConfig: total_timesteps must be >= 1"):
        CommConfig(total_timesteps=0)
    with pytest.raises(ValueError, match="DIAL: sigma must be >= 0"):
        DIAL(4, 4, 2, sigma=-1.0)


METHODS = {"commnet": (CommNet, {}), "dial": (DIAL, {"message_bits": 4, "sigma": 0.5}), "tarmac": (TarMAC, {})}


def run(name: str, communicate: bool, seed: int) -> float:
    cls, kw = METHODS[name]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = cls(4, 4, 2, communicate=communicate, **kw)
    comm_common.train(GuessingGameVectorEnv(64), net, CommConfig(total_timesteps=20_000), seed=seed)
    return comm_common.evaluate(net, GuessingGameVectorEnv(100), 20, seed=99)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(METHODS))
def test_communication_solves_the_guessing_game_and_no_communication_does_not(name):
    without = run(name, False, 0)
    assert without <= 0.32, without  # chance is 0.25
    for seed in (0, 1):
        with_comm = run(name, True, seed)
        assert with_comm >= 0.9, (name, seed, with_comm)
