"""The federated experiment at its --quick budget: the run folder, per-seed scores equal to the federated loop and
the evaluation called directly, and bad settings refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nextrl.agents.common import evaluate
from nextrl.experiments import federated, runner
from nextrl.federated import client as fc


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
    scores = {(s.agent, s.metric): s for s in res.result.scores}
    for m in federated.METHODS:
        mats = [np.array(x) for x in returns[m]]
        np.testing.assert_allclose(scores[(m, "all-envs return")].values, [x.mean() for x in mats], rtol=1e-12)
        own_vals = [np.diagonal(x).mean() if x.shape[0] > 1 else x.mean() for x in mats]
        np.testing.assert_allclose(scores[(m, "own-env return")].values, own_vals, rtol=1e-12)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"federated: num_clients must be >= 2, got 1"):
        federated.Config(num_clients=1)
    with pytest.raises(ValueError, match=r"federated: init_spread must be in \(0, 0.05\], got 0.2"):
        federated.Config(init_spread=0.2)
    with pytest.raises(ValueError, match=r"federated: ppo_steps must be >= 512, got 100"):
        federated.Config(ppo_steps=100)
    with pytest.raises(ValueError, match=r"federated: method must be one of"):
        federated.run_method("fedprox", federated.Config(**federated.QUICK), 0)
