"""Smoke runs of every on-policy algorithm with a tiny budget (discrete CartPole and continuous Pendulum):
the result record, the log callback, determinism under a seed, user-supplied modules (a QuantumLayer
included) and checkpoints."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from nextrl.agents import a2c, common, ppo, reinforce, trpo
from nextrl.agents.rollout import act_fn

torch.set_num_threads(1)

ALGOS = {
    "ppo": (ppo, ppo.PPOConfig(num_steps=16, num_minibatches=2, update_epochs=2)),
    "a2c": (a2c, a2c.A2CConfig(num_steps=8)),
    "reinforce": (reinforce, reinforce.ReinforceConfig(num_steps=16)),
    "trpo": (trpo, trpo.TRPOConfig(num_steps=16, vf_epochs=2)),
}


def _vec(env_id: str, n: int = 4):
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="sync")


@pytest.mark.parametrize("name", ALGOS)
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_smoke(name, env_id):
    module, cfg0 = ALGOS[name]
    cfg = type(cfg0)(**{**cfg0.__dict__, "total_timesteps": 3 * cfg0.num_steps * 4})
    logged = []
    res = module.train(_vec(env_id), cfg, seed=3, log=lambda step, m: logged.append((step, m)))
    assert res.global_steps == 3 * cfg.num_steps * 4
    assert len(res.metrics) == 3 and [s for s, _ in logged] == [cfg.num_steps * 4 * k for k in (1, 2, 3)]
    assert all(np.isfinite(v) for m in res.metrics for v in m.values())
    assert set(res.time_breakdown_s) == {"env", "inference", "update"}
    assert 0 < sum(res.time_breakdown_s.values()) <= res.wall_time_s
    if env_id == "CartPole-v1":
        assert res.episode_returns and all(r == n for r, n in zip(res.episode_returns, res.episode_lengths))
    else:  # Pendulum episodes last 200 steps: none ends in 48 steps per env, and returns are negative
        assert res.episode_returns == []
    # the trained policy acts within the action space
    env = _vec(env_id, 2)
    actions = act_fn(res.modules["policy"], env.single_action_space)(env.reset(seed=0)[0])
    assert all(env.single_action_space.contains(a) for a in actions)


@pytest.mark.parametrize("name", ALGOS)
def test_same_seed_same_run_other_seed_differs(name):
    module, cfg0 = ALGOS[name]
    cfg = type(cfg0)(**{**cfg0.__dict__, "total_timesteps": 2 * cfg0.num_steps * 4})
    a, b, c = (module.train(_vec("CartPole-v1"), cfg, seed=s) for s in (5, 5, 6))
    pa, pb, pc = (torch.cat([p.detach().reshape(-1) for p in r.modules["policy"].parameters()]) for r in (a, b, c))
    assert torch.equal(pa, pb) and a.episode_returns == b.episode_returns
    assert not torch.equal(pa, pc)


@pytest.mark.parametrize("name", ["ppo", "a2c", "reinforce", "trpo"])
def test_user_modules(name):
    module, cfg0 = ALGOS[name]
    cfg = type(cfg0)(**{**cfg0.__dict__, "total_timesteps": 2 * cfg0.num_steps * 4})
    torch.manual_seed(0)
    actor, critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)), nn.Linear(4, 1)
    before = actor[0].weight.detach().clone()
    res = module.train(_vec("CartPole-v1"), cfg, seed=0, actor=actor, critic=critic)
    assert res.modules["policy"].actor is actor and res.modules["policy"].critic is critic
    assert not torch.equal(actor[0].weight, before)  # trained in place


def test_quantum_actor_with_ppo():
    from nextrl.quantum import QuantumLayer
    from nextrl.quantum.ansatz import skolik_reuploading

    layer = QuantumLayer(skolik_reuploading(4, 2), output_scaling=True, generator=torch.Generator().manual_seed(0))
    assert layer.num_outputs == 2
    before = layer.weights.detach().clone()
    res = ppo.train(
        _vec("CartPole-v1", 2),
        ppo.PPOConfig(total_timesteps=64, num_steps=16, num_minibatches=2, update_epochs=1),
        seed=0,
        actor=layer,
    )
    assert res.modules["policy"].actor is layer and not torch.equal(layer.weights.detach(), before)


def test_checkpoint_roundtrip(tmp_path):
    res = ppo.train(_vec("CartPole-v1"), ppo.PPOConfig(total_timesteps=64, num_steps=16), seed=0)
    common.save_checkpoint(tmp_path / "ppo.pt", res)
    fresh = ppo.train(_vec("CartPole-v1"), ppo.PPOConfig(total_timesteps=64, num_steps=16), seed=1)
    out = common.load_checkpoint(tmp_path / "ppo.pt", fresh.modules)
    assert out["config"]["num_steps"] == 16
    for p, q in zip(res.modules["policy"].parameters(), fresh.modules["policy"].parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("name", ALGOS)
def test_train_refuses_non_vector_env(name):
    module, cfg = ALGOS[name]
    with pytest.raises(TypeError, match=f"{name}.train: env must be a gymnasium.vector.VectorEnv"):
        module.train(gym.make("CartPole-v1"), cfg, seed=0)
