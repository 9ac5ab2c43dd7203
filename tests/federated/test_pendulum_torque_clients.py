"""Federated Pendulum clients of different max torque (experiments/federated.py, task pendulum-g, torque_spread):
each client's env holds its own max torque and clips to it (the closed-form Pendulum step, NumPy float64), the
centralized baseline's PooledVectorEnv pools them under the union of their action boxes and steps each env exactly as
stepping it alone, PPO clients train on them, and bad settings are refused with clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nextrl.envs import PendulumVectorEnv
from nextrl.experiments import federated
from nextrl.federated import client as fc

CFG = federated.Config(task="pendulum-g", num_clients=3, torque_spread=0.5, g_spread=0.2, ppo_steps=256, hidden=8)


def _speed_after(theta: float, theta_dot: float, torque: float, g: float, max_torque: float) -> float:
    """Gymnasium's Pendulum-v1 step: theta_dot' = clip(theta_dot + (3 g / 2 sin theta + 3 u) 0.05, -8, 8), with
    u = clip(torque, -max_torque, max_torque) in float32."""
    u = float(np.clip(np.float32(torque), np.float32(-max_torque), np.float32(max_torque)))
    return float(np.clip(theta_dot + (3 * g / 2 * np.sin(theta) + 3.0 * u) * 0.05, -8, 8))


def test_each_client_env_has_its_torque():
    envs = federated.make_envs(CFG)
    torques, gs = [e.config.max_torque for e in envs], [e.config.g for e in envs]
    np.testing.assert_allclose(torques, [1.0, 2.0, 3.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(gs, [8.0, 10.0, 12.0], rtol=0, atol=1e-15)
    for e, t in zip(envs, torques):
        np.testing.assert_array_equal(e.single_action_space.high, np.float32([t]))
        np.testing.assert_array_equal(e.single_action_space.low, np.float32([-t]))
    # a push of 10 is clipped to each client's own torque: the speed change is the closed form's with that torque
    for e, t, g in zip(envs, torques, gs):
        e.reset(seed=0)
        theta, theta_dot = e.states()[0]
        e.step(np.full((4, 1), 10.0, np.float32))
        assert e.states()[0, 1] == pytest.approx(_speed_after(theta, theta_dot, 10.0, g, t), rel=1e-12, abs=1e-14)
        if t != 2.0:  # the client's torque, not Gymnasium's default, was applied (3 |t - 2| 0.05 apart)
            assert abs(e.states()[0, 1] - _speed_after(theta, theta_dot, 10.0, g, 2.0)) > 0.1
    # the default spread keeps Gymnasium's torque for every client (the runs recorded before the field existed)
    assert [e.config.max_torque for e in federated.make_envs(dataclasses.replace(CFG, torque_spread=0.0))] == [2.0] * 3
    assert "max torque 2 +-0.5" in federated.task_label(CFG)


def test_pooled_env_of_different_torques_steps_each_env_as_alone():
    clients = federated.make_task(CFG)[1]
    pooled = fc.PooledVectorEnv([c.env for c in clients])
    np.testing.assert_array_equal(pooled.single_action_space.low, np.float32([-3.0]))
    np.testing.assert_array_equal(pooled.single_action_space.high, np.float32([3.0]))
    alone = federated.make_envs(CFG)
    pooled.reset(seed=4)
    for i, e in enumerate(alone):
        e.reset(seed=4 + 7919 * i)
    rng = np.random.default_rng(1)
    for _ in range(30):
        actions = rng.uniform(-3.5, 3.5, size=(12, 1)).astype(np.float32)
        obs, rew, _, _, _ = pooled.step(actions)
        parts = [e.step(a) for e, a in zip(alone, np.split(actions, 3))]
        np.testing.assert_array_equal(obs, np.concatenate([p[0] for p in parts]))
        np.testing.assert_array_equal(rew, np.concatenate([p[1] for p in parts]))
    # still refused: different observation spaces (max_speed) or action shapes
    with pytest.raises(ValueError, match="PooledVectorEnv: env 1 has spaces"):
        fc.PooledVectorEnv([PendulumVectorEnv(1), PendulumVectorEnv(1, max_speed=5.0)])


def test_ppo_clients_train_on_their_torques():
    """A PPO client trains the global model in place for ppo_steps env steps on its own env; the centralized
    trainer runs on the pooled env of the three torques."""
    torch.manual_seed(0)
    make_model, clients = federated.make_task(CFG)
    model = make_model()
    before = [p.detach().clone() for p in model.parameters()]
    assert clients[2].train(clients[2].env, model, 0) == 256
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    pooled = fc.PooledVectorEnv([c.env for c in clients])
    assert federated.make_trainer(CFG, 12 * 64)(pooled, make_model(), 0) == 12 * 64


def test_bad_torque_settings():
    with pytest.raises(ValueError, match=r"federated: torque_spread must be in \[0, 1\), got 1.0"):
        federated.Config(task="pendulum-g", torque_spread=1.0)
    with pytest.raises(ValueError, match=r"federated: torque_spread must be in \[0, 1\), got -0.1"):
        federated.Config(task="pendulum-g", torque_spread=-0.1)
    with pytest.raises(ValueError, match="federated: agent 'sac' needs one action box for every client"):
        federated.Config(task="pendulum-g", agent="sac", torque_spread=0.3)
