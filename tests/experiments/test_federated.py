"""The federated experiment at its --quick budget: the run folder and plots, per-seed scores and curve points equal to
the federated loop and the evaluation called directly, epsilon equal to Opacus's, bytes equal to the encoded message
sizes, and bad settings refused."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from nextrl.agents.common import evaluate
from nextrl.experiments import federated, runner
from nextrl.federated import client as fc
from nextrl.federated import compression, privacy


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("federated") / "run"
    units = []
    res = runner.run("federated", seeds=2, out_dir=out, quick=True, progress=lambda n, d: units.append(n))
    return res, units, json.loads((out / "metrics.json").read_text()), out


def _direct_returns(policy, clients, episodes, seed):
    """Mean deterministic return of `policy` on every client's env, through agents.common.evaluate."""

    def act(model):
        return lambda obs: model.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True).numpy()

    with torch.no_grad():
        return [
            float(evaluate(act(policy), c.env, episodes, seed=10_000 + 100 * seed + j).mean())
            for j, c in enumerate(clients)
        ]


def test_quick_run_scores_equal_the_loop_called_directly(quick_run):
    res, units, metrics, out = quick_run
    assert {"report.md", "metrics.json"} <= {p.name for p in out.iterdir()}
    cfg = federated.Config(**federated.QUICK)
    assert sum(units) == federated.total_work(cfg, [0, 1])
    returns = res.result.extra["returns"]
    assert metrics["extra"]["returns"] == returns
    for seed in (0, 1):
        make_model, clients = federated.make_task(cfg)
        fed = fc.FederatedConfig(rounds=cfg.rounds, eval_episodes=1)
        model = fc.run(make_model, clients, fed, seed=seed).model
        np.testing.assert_allclose(returns["fedavg"][seed], [_direct_returns(model, clients, 1, seed)], rtol=1e-12)
        own = [
            _direct_returns(fc.run(make_model, [c], fed, seed=seed + 101 * i).model, clients, 1, seed)
            for i, c in enumerate(clients)
        ]
        np.testing.assert_allclose(returns["local-only"][seed], own, rtol=1e-12)
        # centralized: one PPO run on the pooled envs for the clients' total steps, called directly
        from nextrl.agents import ppo
        from nextrl.agents.networks import default_actor_critic

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            central = default_actor_critic(
                clients[0].env.single_observation_space, clients[0].env.single_action_space, (cfg.hidden, cfg.hidden)
            )
        total = cfg.num_clients * cfg.rounds * cfg.ppo_steps
        ppo_cfg = ppo.PPOConfig(total_timesteps=total, num_steps=64, learning_rate=cfg.learning_rate, anneal_lr=False)
        pooled = fc.PooledVectorEnv([c.env for c in clients])
        ppo.train(pooled, ppo_cfg, seed=seed + 1000, actor=central.actor, critic=central.critic, head=central.head)
        expected = [_direct_returns(central, clients, 1, seed)]
        # the loop's global model is x + (y - x) in float32, one rounding away from the trained y
        np.testing.assert_allclose(returns["centralized"][seed], expected, rtol=1e-5)
    scores = {(s.agent, s.metric): s for s in res.result.scores}
    for m in federated.METHODS:
        mats = [np.array(x) for x in returns[m]]
        np.testing.assert_allclose(scores[(m, "all-envs return")].values, [x.mean() for x in mats], rtol=1e-12)
        own_vals = [np.diagonal(x).mean() if x.shape[0] > 1 else x.mean() for x in mats]
        np.testing.assert_allclose(scores[(m, "own-env return")].values, own_vals, rtol=1e-12)


def test_quick_run_curves_equal_the_loop_called_directly(quick_run):
    res, _, metrics, out = quick_run
    assert {"privacy_curve.png", "compression_curve.png"} <= {p.name for p in out.iterdir()}
    cfg = federated.Config(**federated.QUICK)
    curves = res.result.extra["curves"]
    assert set(curves) == {"dp z=1", "compress 0.1/16"}
    make_model, clients = federated.make_task(cfg)
    d = sum(p.numel() for p in make_model().parameters())
    msg = compression.encode(torch.randn(d), ratio=0.1, levels=16)
    assert len(msg.to_bytes()) == msg.nbytes
    scores = {(s.agent, s.metric): s for s in res.result.scores}
    for seed in (0, 1):
        dp = curves["dp z=1"][seed]
        assert dp["epsilon"] == pytest.approx(privacy.epsilon(1.0, 1.0, cfg.rounds, cfg.dp_delta), rel=1e-12)
        fed = fc.FederatedConfig(rounds=cfg.rounds, eval_episodes=1, dp_clip=cfg.dp_clip, dp_noise_multiplier=1.0)
        model = fc.run(make_model, clients, fed, seed=seed).model
        assert dp["return"] == pytest.approx(np.mean(_direct_returns(model, clients, 1, seed)), rel=1e-12)
        comp = curves["compress 0.1/16"][seed]
        assert comp["bytes_per_round"] == cfg.num_clients * msg.nbytes < cfg.num_clients * 4 * d / 5
        fed = fc.FederatedConfig(rounds=cfg.rounds, eval_episodes=1, compress_ratio=0.1, compress_levels=16)
        model = fc.run(make_model, clients, fed, seed=seed).model
        assert comp["return"] == pytest.approx(np.mean(_direct_returns(model, clients, 1, seed)), rel=1e-12)
    for label in curves:
        vals = [p["return"] for p in curves[label]]
        np.testing.assert_allclose(scores[(f"fedavg {label}", "own-env return")].values, vals, rtol=1e-12)


@pytest.mark.parametrize("task", federated.TASKS)
def test_tasks_build_heterogeneous_clients(task):
    cfg = federated.Config(task=task, num_clients=4)
    envs = federated.make_envs(cfg)
    assert len(envs) == 4
    if task == "pointmass-noise":
        np.testing.assert_allclose([e.config.noise_std for e in envs], [0.0, 0.05, 0.1, 0.15])
    elif task == "pointmass-variants":
        assert [int(e.variants()[0]) for e in envs] == [0, 1, 2, 3]
    elif task == "pendulum-g":
        np.testing.assert_allclose([e.config.g for e in envs], [7.0, 9.0, 11.0, 13.0])
    elif task == "cartpole-length":
        np.testing.assert_allclose([e.config.length for e in envs], [0.25, 5 / 12, 7 / 12, 0.75])
    else:
        np.testing.assert_allclose([e.config.init_high for e in envs], [0.05, 0.1, 0.15, 0.2])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"federated: num_clients must be >= 2, got 1"):
        federated.Config(num_clients=1)
    with pytest.raises(ValueError, match=r"federated: task must be one of"):
        federated.Config(task="cartpole-mass")
    with pytest.raises(ValueError, match=r"federated: ppo_steps must be >= 256, got 100"):
        federated.Config(ppo_steps=100)
    with pytest.raises(ValueError, match=r"federated: dp_delta must be in \(0, 1\), got 1.0"):
        federated.Config(dp_delta=1.0)
    with pytest.raises(ValueError, match=r"federated: dp_noise_multipliers must be > 0"):
        federated.Config(dp_noise_multipliers=(0.0,))
    with pytest.raises(ValueError, match=r"federated: a compression must be 'ratio/levels'"):
        federated.Config(compressions=("0.1",))
    with pytest.raises(ValueError, match=r"federated: compression '2/0' needs ratio in \(0, 1\]"):
        federated.Config(compressions=("2/0",))
    with pytest.raises(ValueError, match=r"federated: agent must be one of \['ppo', 'sac'\], got 'dqn'"):
        federated.Config(agent="dqn")
    with pytest.raises(ValueError, match=r"federated: agent 'sac' needs a Box-action task"):
        federated.Config(agent="sac", task="cartpole-length")
    with pytest.raises(ValueError, match=r"federated: length_spread must be in \[0, 1\), got 1.0"):
        federated.Config(length_spread=1.0)
    with pytest.raises(ValueError, match=r"federated: method must be one of"):
        federated.run_method("fedprox", federated.Config(**federated.QUICK), 0)


def test_sac_task_builds_sac_clients_and_the_pooled_centralized_env():
    """agent "sac": the global model is a client.SACModel and each client trains it with SAC for ppo_steps env steps;
    the centralized baseline's env pools every client's envs."""
    cfg = federated.Config(agent="sac", task="pendulum-g", num_clients=2, ppo_steps=256, hidden=8)
    make_model, clients = federated.make_task(cfg)
    model = make_model()
    assert isinstance(model, fc.SACModel)
    assert [c.env.config.g for c in clients] == [7.0, 13.0]
    before = [p.detach().clone() for p in model.parameters()]
    assert clients[0].train(clients[0].env, model, 0) == 256  # 256 uniform-random steps: learning starts after
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    pooled = fc.PooledVectorEnv([c.env for c in clients])
    assert pooled.num_envs == 8
    assert federated.make_trainer(dataclasses.replace(cfg, sac_learning_starts=0), 64)(pooled, model, 0) == 64
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
