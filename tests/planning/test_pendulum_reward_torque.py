"""The learned model's known "pendulum" reward with a configurable max torque (issue 14): the C++ reward
(csrc/planning/learned_model.h) and the torch one (nextrl.planning.ensemble) against Gymnasium's Pendulum reward in
closed form, -(angle_normalize(th)^2 + 0.1 th_dot^2 + 0.001 u^2), u = clip(a, -max_torque, max_torque), and against
Gymnasium's own PendulumEnv with the same max_torque; C++ rollouts against the torch path; MBPO and PETS taking the
env's max torque (or the user's); and the errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from nextrl import _core
from nextrl.agents import sac
from nextrl.agents.model_based import mbpo
from nextrl.agents.model_based.pets import PETS, PETSConfig
from nextrl.agents.replay import ReplayBuffer
from nextrl.envs import PendulumVectorEnv
from nextrl.planning import GaussianEnsemble, LearnedModel
from nextrl.planning.ensemble import _named_reward, env_max_torque, torch_returns


def closed_form(th, thdot, a, max_torque):
    """Gymnasium's Pendulum-v1 reward of a step from (th, thdot) with torque a."""
    u = np.clip(a, -max_torque, max_torque)
    th_n = ((th + np.pi) % (2 * np.pi)) - np.pi  # gymnasium.envs.classic_control.pendulum.angle_normalize
    return -(th_n**2 + 0.1 * thdot**2 + 0.001 * u**2)


def _states(n, seed):
    """(th, thdot) with th over several turns and thdot within max_speed; observations (cos, sin, thdot) as float32
    (the model's states) and th, thdot as those float32 observations give them back (th = atan2(sin, cos))."""
    rng = np.random.default_rng(seed)
    th = rng.uniform(-3 * np.pi, 3 * np.pi, n)
    obs = np.stack([np.cos(th), np.sin(th), rng.uniform(-8, 8, n)], 1).astype(np.float32)
    o = obs.astype(np.float64)
    return obs, np.arctan2(o[:, 1], o[:, 0]), o[:, 2], th


def _ensemble(seed=0, gaussian=False):
    ens = GaussianEnsemble(3, 1, members=3, hidden=(16, 16), gaussian=gaussian, seed=seed)
    if gaussian:
        with torch.no_grad():
            ens.max_logvar.fill_(-1.0)
            ens.min_logvar.fill_(-6.0)
    return ens


@pytest.mark.parametrize("max_torque", [2.0, 3.0])
def test_rewards_equal_gymnasiums_closed_form_and_env(max_torque):
    n = 400
    obs, th, thdot, th_raw = _states(n, seed=int(max_torque))
    a = np.random.default_rng(7).uniform(-5, 5, n)  # beyond both torques: the clip matters
    a[:4] = [max_torque, -max_torque, 0.99 * max_torque, 1.01 * max_torque]
    want = closed_form(th, thdot, a, max_torque)
    # the closed form on the unnormalized angle is the same (angle_normalize), and the clip changed some costs
    np.testing.assert_allclose(closed_form(th_raw, thdot, a, max_torque), want, rtol=1e-6, atol=1e-6)
    assert np.any(np.abs(want - closed_form(th, thdot, a, 1e9)) > 1e-3)
    # Gymnasium's own PendulumEnv with that max_torque, stepped from each state
    env = gym.make("Pendulum-v1").unwrapped
    env.reset(seed=0)
    env.max_torque = max_torque
    gym_r = []
    for i in range(n):
        env.state = np.array([th[i], thdot[i]])
        gym_r.append(env.step(np.array([a[i]]))[1])
    np.testing.assert_allclose(gym_r, want, rtol=1e-12, atol=1e-12)
    # torch
    s, act = torch.as_tensor(obs), torch.as_tensor(a[:, None])
    kw = {} if max_torque == 2.0 else {"max_torque": max_torque}  # the default is 2
    got, term = _named_reward("pendulum", s, act, s, None, None, math.inf, **kw)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    assert not term.any()
    # C++: a horizon-1 return is the reward of (start, action), whatever the network (1 particle: no averaging)
    model = LearnedModel.from_torch(
        _ensemble(), low=[-max_torque], high=[max_torque], reward="pendulum", particles=1, **kw
    )
    model.set_states(obs, seed=0)
    cpp = model.evaluate(a.reshape(n, 1, 1, 1))[:, 0]
    np.testing.assert_allclose(cpp, want, rtol=1e-12, atol=1e-12)


def test_default_is_gymnasiums_two():
    obs, th, thdot, _ = _states(50, seed=3)
    a = np.linspace(-4, 4, 50)
    ens = _ensemble()
    got = []
    for kw in ({}, {"max_torque": 2.0}, {"max_torque": 2}):
        model = LearnedModel.from_torch(ens, low=[-2], high=[2], reward="pendulum", particles=1, **kw)
        model.set_states(obs, seed=0)
        got.append(model.evaluate(a.reshape(50, 1, 1, 1))[:, 0])
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0], got[2])
    np.testing.assert_allclose(got[0], closed_form(th, thdot, a, 2.0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("max_torque,propagation", [(2.0, "ts1"), (3.0, "tsinf"), (0.5, "ts1")])
def test_cpp_rollouts_equal_the_torch_path(max_torque, propagation):
    ens = _ensemble(seed=int(4 * max_torque), gaussian=True)
    model = LearnedModel.from_torch(
        ens,
        low=[-max_torque],
        high=[max_torque],
        reward="pendulum",
        max_torque=max_torque,
        particles=4,
        propagation=propagation,
    )
    rng = np.random.default_rng(5)
    obs = _states(3, seed=9)[0]
    model.set_states(obs, seed=2, round=1)
    actions = rng.uniform(-4, 4, size=(3, 6, 5, 1))
    got = model.evaluate(actions, 0.95)
    want = torch_returns(ens, model, torch.as_tensor(actions), gamma=0.95, reward="pendulum", max_torque=max_torque)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)
    other = torch_returns(ens, model, torch.as_tensor(actions), gamma=0.95, reward="pendulum", max_torque=100.0)
    assert np.abs(got - other.numpy()).max() > 1e-3  # the torque is what the two paths agree on


class _Box1D:
    """A minimal vector env: Pendulum's observations, a 1-D action box [low, high], no config."""

    num_envs = 1
    autoreset_mode = "AutoresetMode.NEXT_STEP"

    def __init__(self, low, high):
        self.single_action_space = spaces.Box(low, high, (1,), np.float32)
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (3,), np.float32)


def test_env_max_torque():
    assert env_max_torque("f", PendulumVectorEnv(1, max_torque=3.0)) == 3.0
    assert env_max_torque("f", PendulumVectorEnv(1, max_torque=2.1)) == 2.1  # the config's float64, not float32
    assert env_max_torque("f", PendulumVectorEnv(1)) == 2.0
    assert env_max_torque("f", PendulumVectorEnv(1, max_torque=3.0), 2.5) == 2.5  # the user's wins
    assert env_max_torque("f", gym.make_vec("Pendulum-v1", num_envs=1, vectorization_mode="sync")) == 2.0
    assert env_max_torque("f", _Box1D(-1.5, 1.5)) == 1.5
    with pytest.raises(ValueError, match=r"f: reward 'pendulum' clips the torque at max_torque.*set max_torque"):
        env_max_torque("f", _Box1D(-1.0, 2.0))
    assert env_max_torque("f", _Box1D(-1.0, 2.0), 1.0) == 1.0


def test_pets_takes_the_envs_max_torque_or_the_users():
    env = PendulumVectorEnv(2, max_torque=3.0)
    cfg = PETSConfig(members=2, hidden=(8,), updates=2, particles=1)
    assert PETS(env, cfg).max_torque == 3.0
    assert PETS(env, PETSConfig(members=2, max_torque=2.5)).max_torque == 2.5
    assert PETS(_Box1D(-1.5, 1.5), cfg).max_torque == 1.5
    # the refit model's reward clips at 3: a horizon-1 return is the closed form with max_torque 3
    agent = PETS(env, cfg)
    obs, th, thdot, _ = _states(20, seed=1)
    agent.observe(obs, np.zeros((20, 1)), obs, np.zeros(20))
    agent.refit()
    a = np.linspace(-4, 4, 20)
    agent.model.set_states(obs, seed=0)
    got = agent.model.evaluate(a.reshape(20, 1, 1, 1))[:, 0]
    np.testing.assert_allclose(got, closed_form(th, thdot, a, 3.0), rtol=1e-12, atol=1e-12)


def test_mbpo_rollout_rewards_clip_at_max_torque():
    buf = ReplayBuffer(100, (3,), (1,), num_envs=1)
    obs = _states(30, seed=4)[0]
    for s in obs:
        buf.add(s[None], np.zeros((1, 1)), [0.0], s[None], [False], [False])
    ens = _ensemble(seed=1, gaussian=True)
    for max_torque in (2.0, 3.0):
        actions = torch.linspace(-4, 4, 16)[:, None]
        ro = mbpo.branched_rollouts(
            ens,
            lambda s: actions,
            buf,
            16,
            1,
            rng=np.random.default_rng(0),
            generator=torch.Generator().manual_seed(0),
            reward="pendulum",
            max_torque=max_torque,
        )
        o = ro.obs[0].double().numpy()
        th = np.arctan2(o[:, 1], o[:, 0])
        want = closed_form(th, o[:, 2], actions[:, 0].double().numpy(), max_torque)
        np.testing.assert_allclose(ro.rewards[0].double().numpy(), want, rtol=1e-6, atol=1e-5)


def test_mbpo_train_passes_the_envs_max_torque(monkeypatch):
    seen = []
    original = mbpo.branched_rollouts

    def spy(*args, **kwargs):
        seen.append(kwargs["max_torque"])
        return original(*args, **kwargs)

    monkeypatch.setattr(mbpo, "branched_rollouts", spy)
    sc = sac.SACConfig(total_timesteps=110, learning_starts=100, hidden=(8,), batch_size=16)
    kw = dict(
        sac=sc, model_hidden=(8,), model_updates=2, rollout_batch_size=4, reward="pendulum", members=2, num_elites=2
    )
    mbpo.train(PendulumVectorEnv(1, max_torque=3.0), mbpo.MBPOConfig(**kw), seed=0)
    mbpo.train(PendulumVectorEnv(1, max_torque=3.0), mbpo.MBPOConfig(**kw, max_torque=2.5), seed=0)
    mbpo.train(PendulumVectorEnv(1), mbpo.MBPOConfig(**kw), seed=0)
    assert seen == [3.0, 2.5, 2.0]


BAD = [0.0, -1.0, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("bad", BAD)
def test_bad_max_torque_is_refused(bad):
    ens = _ensemble()
    msg = f"max_torque must be a finite number > 0, got {bad!r}"
    with pytest.raises(ValueError, match=rf"LearnedModel.from_torch: {msg}"):
        LearnedModel.from_torch(ens, low=[-2], high=[2], reward="pendulum", max_torque=bad)
    with pytest.raises(ValueError, match=rf"MBPOConfig: {msg}"):
        mbpo.MBPOConfig(reward="pendulum", max_torque=bad)
    with pytest.raises(ValueError, match=rf"PETS: {msg}"):
        PETS(PendulumVectorEnv(1), PETSConfig(max_torque=bad))
    with pytest.raises(ValueError, match=rf"f: {msg}"):
        env_max_torque("f", PendulumVectorEnv(1), bad)
    p = ens.export_params()
    with pytest.raises(ValueError, match="MlpEnsembleModel: max_torque must be finite and > 0"):
        _core._MlpEnsembleModel(
            [w.numpy() for w in p["weights"]],
            [b.numpy() for b in p["biases"]],
            "silu",
            False,
            False,
            3,
            1,
            ens.in_mean.numpy(),
            ens.in_std.numpy(),
            reward="pendulum",
            max_torque=bad,
        )


def test_non_number_max_torque_is_refused():
    for bad in ("2", True, [2.0]):
        with pytest.raises(ValueError, match=r"LearnedModel.from_torch: max_torque must be a finite number > 0"):
            LearnedModel.from_torch(_ensemble(), low=[-2], high=[2], reward="pendulum", max_torque=bad)
        with pytest.raises(ValueError, match=r"MBPOConfig: max_torque must be a finite number > 0"):
            mbpo.MBPOConfig(max_torque=bad)
    # None means "the env's" in the agents' configs; from_torch needs a number
    with pytest.raises(ValueError, match=r"LearnedModel.from_torch: max_torque must be a finite number > 0, got None"):
        LearnedModel.from_torch(_ensemble(), low=[-2], high=[2], reward="pendulum", max_torque=None)
