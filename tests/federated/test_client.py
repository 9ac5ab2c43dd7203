"""The in-process federated loop: mechanics with scripted clients, the pooled env of the centralized baseline, SAC
clients against sac.train, and small federated PPO / SAC runs on CartPoles and point masses of different physics."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from nextrl.agents import ppo, sac
from nextrl.agents.networks import default_actor_critic
from nextrl.envs import CartPoleVectorEnv, HeteroPointMassVectorEnv, PendulumVectorEnv
from nextrl.federated import client as fc
from nextrl.federated import privacy
from nextrl.federated.strategies import flatten


def _make(env):
    return lambda: default_actor_critic(env.single_observation_space, env.single_action_space, (8,))


def _scripted(shift: float):
    """A TrainFn that adds `shift` to every parameter and reports 10 steps (no learning)."""

    def fn(env, model, seed):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(shift)
        return 10

    return fn


def _clients(shifts, envs):
    return [fc.Client(e, _scripted(s)) for e, s in zip(envs, shifts)]


def test_round_mechanics_nan_dropped():
    envs = [HeteroPointMassVectorEnv(2, variant=v, max_steps=5) for v in range(3)]
    make = _make(envs[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        x0, _ = flatten(dict(make().named_parameters()))
    res = fc.run(make, _clients([1.0, 3.0, float("nan")], envs), fc.FederatedConfig(rounds=2, eval_episodes=1), seed=0)
    assert res.dropped == [1, 1]  # the NaN client is dropped and counted, the round goes on
    x, _ = flatten(dict(res.model.named_parameters()))
    torch.testing.assert_close(x, x0 + 4.0)  # two rounds of the equal-weight mean shift (1 + 3) / 2
    d = x.numel()
    assert res.bytes_sent == [3 * 4 * d] * 2  # dense float32 updates
    assert len(res.eval_returns) == 3 and all(r.shape == (3,) for r in res.eval_returns)


def test_compressed_rounds_count_encoded_bytes_and_feed_back_errors():
    envs = [HeteroPointMassVectorEnv(2, variant=v, max_steps=5) for v in range(2)]
    make = _make(envs[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        x0, _ = flatten(dict(make().named_parameters()))
    d = x0.numel()
    k = -(-d // 2)
    res = fc.run(
        make, _clients([2.0, 2.0], envs), fc.FederatedConfig(rounds=2, eval_episodes=1, compress_ratio=0.5), seed=0
    )
    assert res.bytes_sent == [2 * (24 + 4 * k + 4 * k)] * 2  # header, int32 indices, float32 values per client
    # the local model is rebuilt from the global one each round, so each update is (shift 2 + residual): after two
    # rounds every coordinate has been sent once or twice, and the model moved by 2 or 4 on it
    moved = (flatten(dict(res.model.named_parameters()))[0] - x0).numpy()
    assert np.all(np.isclose(moved, 2.0, atol=1e-5) | np.isclose(moved, 4.0, atol=1e-5)), moved


def test_dp_rounds_report_opacus_epsilon():
    envs = [HeteroPointMassVectorEnv(1, variant=v, max_steps=5) for v in range(4)]
    clients = [fc.Client(e, _scripted(0.1)) for e in envs]
    cfg = fc.FederatedConfig(rounds=3, clients_per_round=2, dp_clip=0.5, dp_noise_multiplier=1.1, eval_episodes=1)
    res = fc.run(_make(envs[0]), clients, cfg, seed=1)
    expected = [privacy.epsilon(1.1, 0.5, r, 1e-5) for r in (1, 2, 3)]
    np.testing.assert_allclose(res.epsilons, expected, rtol=1e-12)


def test_bad_federated_inputs():
    env = HeteroPointMassVectorEnv(1, max_steps=5)
    with pytest.raises(ValueError, match=r"federated.run: clients must hold at least one Client"):
        fc.run(_make(env), [], fc.FederatedConfig(rounds=1), seed=0)
    with pytest.raises(ValueError, match=r"FederatedConfig: aggregator must be one of"):
        fc.FederatedConfig(aggregator="fedmean")
    with pytest.raises(ValueError, match=r"FederatedConfig: compress_ratio must be in \(0, 1\]"):
        fc.FederatedConfig(compress_ratio=0.0)
    with pytest.raises(ValueError, match=r"FederatedConfig: dp_delta must be in \(0, 1\)"):
        fc.FederatedConfig(dp_clip=1.0, dp_delta=1.0)
    with pytest.raises(ValueError, match=r"federated.run: clients_per_round must be in \[0, 1\], got 3"):
        fc.run(_make(env), [fc.Client(env, _scripted(0.0))], fc.FederatedConfig(rounds=1, clients_per_round=3), seed=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_federated_ppo_improves_global_policy_on_cartpole(seed):
    """Two CartPole clients (different initial-state ranges), 2 rounds of 2048 PPO steps each: the global policy's
    evaluation return on both clients' envs rises well above the initial one (measured: from 8-80 to 350-470)."""
    torch.set_num_threads(1)
    envs = [CartPoleVectorEnv(4, init_low=-0.05 * s, init_high=0.05 * s) for s in (1, 2)]
    ppo_cfg = ppo.PPOConfig(total_timesteps=2048, num_steps=128, learning_rate=2.5e-3, anneal_lr=False)
    clients = [fc.Client(e, fc.agent_trainer(ppo.train, ppo_cfg)) for e in envs]
    make = lambda: default_actor_critic(envs[0].single_observation_space, envs[0].single_action_space, (64, 64))
    res = fc.run(make, clients, fc.FederatedConfig(rounds=2, eval_episodes=4), seed=seed)
    first, last = res.eval_returns[0], res.eval_returns[-1]
    assert last.min() > 150 and last.mean() > first.mean() + 100, (first, last)


def test_gaussian_log_std_is_trained_by_clients_and_averaged():
    """Continuous actions: the ActorCritic's persistent log_std goes through ppo.train(head=...), so each client
    trains it and FedAvg averages it. Reference: the two clients' local PPO runs redone by hand (the same seeds
    run() uses, seed + 1000 r + i) from the same initial model, and their step-weighted mean."""
    torch.set_num_threads(1)
    envs = [HeteroPointMassVectorEnv(2, variant=v, max_steps=20) for v in (0, 2)]
    ppo_cfg = ppo.PPOConfig(total_timesteps=128, num_steps=32, learning_rate=0.05, anneal_lr=False, log_std_init=-0.5)
    make = _make(envs[0])
    res = fc.run(
        make,
        [fc.Client(e, fc.agent_trainer(ppo.train, ppo_cfg)) for e in envs],
        fc.FederatedConfig(rounds=1, eval_episodes=1),
        seed=3,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        start = make()
    trained, steps = [], []
    for i, e in enumerate(envs):
        local = copy.deepcopy(start)
        out = ppo.train(e, ppo_cfg, seed=3 + 1000 + i, actor=local.actor, critic=local.critic, head=local.head)
        trained.append(local.head.log_std.detach().clone())
        steps.append(out.global_steps)
    assert not torch.allclose(trained[0], start.head.log_std), "the clients trained log_std"
    assert not torch.allclose(trained[0], trained[1])
    w = torch.tensor(steps, dtype=torch.float32) / sum(steps)
    expected = w[0] * trained[0] + w[1] * trained[1]
    torch.testing.assert_close(res.model.head.log_std.detach(), expected, rtol=1e-5, atol=1e-6)


def test_agent_trainer_refuses_a_trainer_that_drops_log_std():
    env = HeteroPointMassVectorEnv(1, max_steps=5)

    def train(env, cfg, *, seed, actor=None, critic=None):  # no head argument
        raise AssertionError("not reached")

    fn = fc.agent_trainer(train, None)
    with pytest.raises(TypeError, match=r"agent_trainer: .*takes no `head` argument"):
        fn(env, _make(env)(), 0)
    from nextrl.agents.networks import CategoricalHead

    with pytest.raises(TypeError, match=r"default_actor_critic: head must be a DiagGaussianHead for Box"):
        ppo.train(env, ppo.PPOConfig(total_timesteps=8, num_steps=4), seed=0, head=CategoricalHead(2))


@pytest.mark.parametrize("seed", [0, 1])
def test_fedavg_beats_local_only_on_heterogeneous_point_mass_clients(seed):
    """4 HeteroPointMass clients (variant 0: regulate to the origin; process noise 0, 0.05, 0.1, 0.15), 4 rounds x
    1024 PPO env steps per client, the `nextrl run federated` defaults. The FedAvg global policy is at least 30%
    better than doing nothing (zero action, same evaluation episodes) on every client's env, and its mean own-env
    return beats local-only training (each client alone, same rounds and steps). Measured (8 episodes): FedAvg
    -15.6 / -31.7 / -69.8 / -145.5 (seed 0), -8.4 / -16.3 / -34.8 / -81.4 (seed 1) against zero action -97.8 /
    -130.1 / -182.5 / -244.2 (seed 0), -119.0 / -205.2 / -258.1 / -301.7 (seed 1); mean -65.6 / -35.2 against
    local-only -87.1 / -148.2. About 100 s per seed at load 11 on 2 cores (16k FedAvg + 16k local-only PPO env
    steps)."""
    from nextrl.agents.common import evaluate
    from nextrl.experiments import federated

    cfg = federated.Config()
    fed = federated.run_method("fedavg", cfg, seed)[0]
    local = np.diagonal(federated.run_method("local-only", cfg, seed))
    _, clients = federated.make_task(cfg)
    zero = np.array(
        [
            evaluate(
                lambda o: np.zeros((o.shape[0], 2), np.float32), c.env, cfg.eval_episodes, seed=10_000 + 100 * seed + j
            ).mean()
            for j, c in enumerate(clients)
        ]
    )
    assert np.all(fed > 0.7 * zero), (fed, zero)  # returns are negative: 30% less cost than zero action
    assert fed.mean() > local.mean(), (fed, local)


def test_pooled_vector_env_is_the_clients_envs_side_by_side():
    """PooledVectorEnv (the centralized baseline's env) against the clients' envs stepped one by one, env i reset
    with seed + 7919 i: the same observations, rewards and flags over 250 steps (episode ends included)."""
    pooled = fc.PooledVectorEnv([PendulumVectorEnv(2, g=8.0, max_steps=40), PendulumVectorEnv(3, g=12.0, max_steps=40)])
    refs = [PendulumVectorEnv(2, g=8.0, max_steps=40), PendulumVectorEnv(3, g=12.0, max_steps=40)]
    assert pooled.num_envs == 5 and pooled.action_space.shape == (5, 1)
    obs, _ = pooled.reset(seed=5)
    ref_obs = [e.reset(seed=5 + 7919 * i)[0] for i, e in enumerate(refs)]
    np.testing.assert_array_equal(obs, np.concatenate(ref_obs))
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(250):
        actions = rng.uniform(-2, 2, size=(5, 1)).astype(np.float32)
        got = pooled.step(actions)
        want = [refs[0].step(actions[:2]), refs[1].step(actions[2:])]
        for k in range(4):
            np.testing.assert_array_equal(got[k], np.concatenate([w[k] for w in want]))
        ends += int(got[3].sum())
    assert ends >= 5  # every env hit its 40-step limit at least once


def test_pooled_vector_env_refuses_mixed_spaces():
    with pytest.raises(ValueError, match=r"PooledVectorEnv: envs must hold at least one vector env"):
        fc.PooledVectorEnv([])
    with pytest.raises(ValueError, match=r"PooledVectorEnv: env 1 has spaces"):
        fc.PooledVectorEnv([PendulumVectorEnv(1), CartPoleVectorEnv(1)])


def _sac_make(env, hidden=(16, 16)):
    return lambda: fc.SACModel(env.single_observation_space, env.single_action_space, hidden)


def test_sac_round_equals_sac_train_called_directly():
    """One SAC client, one round: the global model is sac.train(env, cfg, seed=seed + 1000) run by hand on a copy
    of the initial model (actor and critic trained in place), and SACModel.act is sac.deterministic_policy."""
    torch.set_num_threads(1)
    env = PendulumVectorEnv(1, g=8.0)
    cfg = sac.SACConfig(total_timesteps=200, learning_starts=100, batch_size=32, hidden=(16, 16))
    make = _sac_make(env)
    res = fc.run(make, [fc.Client(env, fc.sac_trainer(cfg))], fc.FederatedConfig(rounds=1, eval_episodes=1), seed=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        local = make()
    start = copy.deepcopy(local)
    out = sac.train(env, cfg, seed=2 + 1000, actor=local.actor, critic=local.critic)
    assert out.global_steps == 200
    got, want = flatten(dict(res.model.named_parameters()))[0], flatten(dict(local.named_parameters()))[0]
    assert not torch.allclose(want, flatten(dict(start.named_parameters()))[0]), "the client trained"
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)  # x + (y - x) in float32
    obs = torch.randn(7, 3)
    act = sac.deterministic_policy(local.actor, env.single_action_space)(obs.numpy())
    np.testing.assert_allclose(res.model.act(obs).numpy(), act, rtol=1e-5, atol=1e-6)


def test_sac_clients_refuse_bad_models():
    env = PendulumVectorEnv(1)
    with pytest.raises(TypeError, match=r"sac_trainer: the model must be a federated.client.SACModel"):
        fc.sac_trainer(sac.SACConfig(total_timesteps=8))(env, _make(HeteroPointMassVectorEnv(1))(), 0)
    cart = CartPoleVectorEnv(1)
    with pytest.raises(TypeError, match=r"SACModel: action_space must be a gymnasium Box, got Discrete"):
        fc.SACModel(cart.single_observation_space, cart.single_action_space, (8,))
    with pytest.raises(ValueError, match=r"SACModel.act: only the deterministic policy"):
        _sac_make(env)().act(torch.zeros(1, 3), deterministic=False)


@pytest.mark.parametrize("seed", [0, 1])
def test_federated_sac_learns_heterogeneous_point_mass(seed):
    """Two SAC clients on HeteroPointMass variant 0 with process noise 0 and 0.15 (2 envs, 30-step episodes each),
    2 rounds of 600 SAC steps per client (100 random), FedAvg: the global policy costs less than half of what the
    zero action costs on both clients' envs (same evaluation episodes). Measured: -6.6 / -54.1 (seed 0), -4.9 / -59.8
    (seed 1) against zero action -27.9 / -164.1 and -27.2 / -185.0; initial policy -30 / -128 and -40 / -159.
    About 11 s per seed at load 10 on 2 cores, 17-26 s at load 14."""
    from nextrl.agents.common import evaluate

    torch.set_num_threads(1)
    envs = [HeteroPointMassVectorEnv(2, variant=0, noise_std=s, max_steps=30) for s in (0.0, 0.15)]
    cfg = sac.SACConfig(
        total_timesteps=600, learning_starts=100, hidden=(32, 32), batch_size=64, policy_lr=3e-3, q_lr=3e-3
    )
    clients = [fc.Client(e, fc.sac_trainer(cfg)) for e in envs]
    res = fc.run(_sac_make(envs[0], (32, 32)), clients, fc.FederatedConfig(rounds=2, eval_episodes=4), seed=seed)
    zero = np.array(
        [
            evaluate(lambda o: np.zeros((o.shape[0], 2), np.float32), e, 4, seed=seed + 7919 * 2 + i).mean()
            for i, e in enumerate(envs)
        ]
    )
    last = res.eval_returns[-1]
    assert np.all(last > 0.5 * zero), (last, zero)  # returns are negative costs


@pytest.mark.parametrize("seed", [0, 1])
def test_federated_ppo_learns_cartpoles_of_different_pole_lengths(seed):
    """Two CartPole clients with pole half-lengths 0.25 and 0.75 (Gymnasium's 0.5 -+ 50%), 2 rounds of 2048 PPO
    steps each: the global policy balances both poles (measured: 85 / 91 -> 340 / 220 (seed 0), 7 / 11 -> 419 / 356
    (seed 1)). About 4 s per seed at load 10 on 2 cores, 10 s at load 14."""
    torch.set_num_threads(1)
    envs = [CartPoleVectorEnv(4, length=length) for length in (0.25, 0.75)]
    assert [e.config.length for e in envs] == [0.25, 0.75]
    ppo_cfg = ppo.PPOConfig(total_timesteps=2048, num_steps=128, learning_rate=2.5e-3, anneal_lr=False)
    clients = [fc.Client(e, fc.agent_trainer(ppo.train, ppo_cfg)) for e in envs]
    make = lambda: default_actor_critic(envs[0].single_observation_space, envs[0].single_action_space, (64, 64))
    res = fc.run(make, clients, fc.FederatedConfig(rounds=2, eval_episodes=4), seed=seed)
    first, last = res.eval_returns[0], res.eval_returns[-1]
    assert last.min() > 150 and last.mean() > first.mean() + 100, (first, last)
