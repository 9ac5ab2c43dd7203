"""Smoke runs of the off-policy agents on Gymnasium vector envs with tiny budgets: results are complete
and finite, a fixed seed reproduces a run exactly, user modules (a QuantumLayer included) replace the
built-in networks, and bad inputs raise."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.agents import ddpg, dqn, sac, sac_discrete, td3
from nextrl.agents.common import evaluate, load_checkpoint, save_checkpoint

torch.set_num_threads(1)

TINY = dict(total_timesteps=300, learning_starts=100, batch_size=16, hidden=(16, 16))
CASES = {
    "dqn": (dqn, dqn.DQNConfig(**TINY, train_frequency=4, gradient_steps=2, target_network_frequency=5), "CartPole-v1"),
    "dqn_variants": (
        dqn,
        dqn.DQNConfig(
            **TINY,
            train_frequency=4,
            gradient_steps=2,
            dueling=True,
            n_step=3,
            prioritized=True,
            double_q=False,
            huber=False,
            tau=0.5,
        ),
        "CartPole-v1",
    ),
    "ddpg": (ddpg, ddpg.DDPGConfig(**TINY, train_frequency=2), "Pendulum-v1"),
    "td3": (td3, td3.TD3Config(**TINY, train_frequency=2, n_step=2), "Pendulum-v1"),
    "sac": (sac, sac.SACConfig(**TINY, train_frequency=2, policy_frequency=2), "Pendulum-v1"),
    "sac_fixed_alpha": (sac, sac.SACConfig(**TINY, train_frequency=2, autotune=False), "Pendulum-v1"),
    "sac_discrete": (sac_discrete, sac_discrete.SACDiscreteConfig(**TINY, train_frequency=2), "CartPole-v1"),
}


def make(env_id, num_envs=2):
    """Pendulum episodes are cut to 50 steps so that tiny runs see several truncations."""
    kwargs = {"max_episode_steps": 50} if env_id == "Pendulum-v1" else {}
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)


@pytest.mark.parametrize("name", list(CASES))
def test_smoke_run_is_complete_and_reproducible(name):
    module, cfg, env_id = CASES[name]
    logged = []
    r1 = module.train(make(env_id), cfg, seed=3, log=lambda step, m: logged.append((step, m)))
    assert r1.global_steps == cfg.total_timesteps
    assert len(r1.episode_returns) >= 2 and len(r1.episode_returns) == len(r1.episode_lengths)
    expected_rounds = len(
        [
            i
            for i in range(cfg.total_timesteps // 2)
            if 2 * (i + 1) > cfg.learning_starts and i % cfg.train_frequency == 0
        ]
    )
    assert len(r1.metrics) == expected_rounds
    assert all(np.isfinite(v) for m in r1.metrics for v in m.values())
    assert any("losses/" in k for k in r1.metrics[-1])
    assert sum("charts/episode_return" in m for _, m in logged) == len(r1.episode_returns)
    assert set(r1.time_breakdown_s) == {"env", "inference", "update"}
    r2 = module.train(make(env_id), cfg, seed=3)
    assert r2.episode_returns == r1.episode_returns
    assert [m["losses/critic" if "losses/critic" in m else "losses/td_loss"] for m in r2.metrics] == [
        m["losses/critic" if "losses/critic" in m else "losses/td_loss"] for m in r1.metrics
    ]
    r3 = module.train(make(env_id), cfg, seed=4)
    assert r3.episode_returns != r1.episode_returns


def test_user_modules_replace_networks(tmp_path):
    q = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    r = dqn.train(make("CartPole-v1"), CASES["dqn"][1], seed=0, q_network=q)
    assert r.modules["q_network"] is q
    save_checkpoint(tmp_path / "dqn.pt", r)
    fresh = {
        "q_network": torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
        "target_network": torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
    }
    info = load_checkpoint(tmp_path / "dqn.pt", fresh)
    assert info["config"]["n_step"] == 3
    x = torch.randn(3, 4)
    torch.testing.assert_close(fresh["q_network"](x), q(x))
    returns = evaluate(dqn.greedy_policy(fresh["q_network"]), make("CartPole-v1"), 3, seed=0)
    assert returns.shape == (3,) and np.all(returns >= 1)

    critic = torch.nn.Sequential(torch.nn.Linear(3 + 1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    actor = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    r = sac.train(make("Pendulum-v1"), CASES["sac"][1], seed=0, actor=actor, critic=critic)
    assert r.modules["actor"] is actor and r.modules["critic"] is critic
    a = sac.deterministic_policy(actor, make("Pendulum-v1").single_action_space)(np.zeros((5, 3), np.float32))
    assert a.shape == (5, 1) and np.all(np.abs(a) <= 2.0)


def test_quantum_layer_as_q_network():
    from nextrl.quantum import QuantumLayer
    from nextrl.quantum.ansatz import skolik_reuploading

    layer, target = (QuantumLayer(skolik_reuploading(4, 2), output_scaling=True) for _ in range(2))
    cfg = dataclasses.replace(CASES["dqn"][1], total_timesteps=160, target_network_frequency=1000)
    before = [p.detach().clone() for p in layer.parameters()]
    # a QuantumLayer deep-copies (tests/quantum/test_layer_pickle.py), so q_network_target= is optional; a second
    # instance passed as the target is loaded with the online weights
    r = dqn.train(make("CartPole-v1"), cfg, seed=0, q_network=layer, q_network_target=target)
    assert r.modules["q_network"] is layer and r.modules["target_network"] is target and len(r.metrics) > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, layer.parameters()))  # it learned something
    for b, p in zip(before, target.parameters()):  # the target holds the initial weights (no sync yet)
        torch.testing.assert_close(p, b)


def test_errors():
    with pytest.raises(TypeError, match=r"dqn.train: env must have a Discrete action space, got Box"):
        dqn.train(make("Pendulum-v1"), CASES["dqn"][1], seed=0)
    with pytest.raises(ValueError, match=r"dqn.train: n_step, batch_size and train_frequency must be >= 1"):
        dqn.train(make("CartPole-v1"), dataclasses.replace(CASES["dqn"][1], n_step=0), seed=0)
    with pytest.raises(TypeError, match=r"sac.train: env must have a Box action space, got Discrete\(2\)"):
        sac.train(make("CartPole-v1"), CASES["sac"][1], seed=0)
    with pytest.raises(TypeError, match=r"td3.train: env must have a Box action space"):
        td3.train(make("CartPole-v1"), CASES["td3"][1], seed=0)
    with pytest.raises(TypeError, match=r"ddpg.train: env must have a Box action space"):
        ddpg.train(make("CartPole-v1"), CASES["ddpg"][1], seed=0)
    with pytest.raises(TypeError, match=r"sac_discrete.train: env must have a Discrete action space"):
        sac_discrete.train(make("Pendulum-v1"), CASES["sac_discrete"][1], seed=0)
    with pytest.raises(ValueError, match=r"sac_discrete.train: target_entropy_scale must be in \(0, 1\), got 1.5"):
        sac_discrete.train(
            make("CartPole-v1"), dataclasses.replace(CASES["sac_discrete"][1], target_entropy_scale=1.5), seed=0
        )
    unbounded = gym.vector.SyncVectorEnv([lambda: _UnboundedEnv()])
    for module, cfg in [(sac, CASES["sac"][1]), (td3, CASES["td3"][1]), (ddpg, CASES["ddpg"][1])]:
        name = module.__name__.split(".")[-1]
        with pytest.raises(ValueError, match=rf"{name}.train: the action space must be bounded"):
            module.train(unbounded, cfg, seed=0)


class _UnboundedEnv(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, False, False, {}
