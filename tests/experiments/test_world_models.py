"""The world-models experiment at its --quick budget (one seed), end to end through the runner: the run folder, the
report's scores and curves recomputed from the raw per-seed records in metrics.json, one agent re-trained directly
giving the same episodes, the learning curve by hand, bad settings refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nextrl.agents.common import TrainResult
from nextrl.experiments import runner
from nextrl.experiments import world_models as wm


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("world-models") / "run"
    units = []
    try:
        res = runner.run("world-models", seeds=1, out_dir=out, quick=True, progress=lambda n, d: units.append(n))
    finally:
        torch.set_num_threads(threads)
    return res, units, json.loads((out / "metrics.json").read_text()), out


def test_quick_run_reports_the_raw_per_seed_results(quick_run):
    res, units, metrics, out = quick_run
    files = {p.name for p in out.iterdir()}
    assert {"report.md", "metrics.json", "horizon_sweep.png", "prediction_error.png"} <= files
    cfg = wm.Config(**wm.QUICK).resolved()
    assert sum(units) == wm.total_work(cfg, [0])
    raw = metrics["extra"]["per_seed"]
    scores = {(s.task, s.agent): s for s in res.result.scores}
    grid = np.linspace(cfg.train_steps / cfg.curve_points, cfg.train_steps, cfg.curve_points).astype(int)
    curves = {(c.task, c.agent): c for c in res.result.curves}
    for agent in cfg.agents:
        (returns,), (ends,) = raw["control"][agent]["returns"], raw["control"][agent]["ends"]
        assert ends[-1] <= cfg.train_steps and len(returns) >= cfg.final_episodes
        assert scores[("PointMass", agent)].values == (float(np.mean(returns[-cfg.final_episodes :])),)
        for j, g in enumerate(grid):  # curve point: mean of the last final_episodes returns ended by step g
            done = [r for r, e in zip(returns, ends) if e <= g][-cfg.final_episodes :]
            expected = np.mean(done) if done else np.nan
            np.testing.assert_allclose(curves[("PointMass", agent)].values[0, j], expected, rtol=1e-12)
    for name in ("exact-model MPC", "random"):
        assert scores[("PointMass", name)].values == tuple(raw["references"][name])
    mpc, rnd = raw["references"]["exact-model MPC"][0], raw["references"]["random"][0]
    assert mpc > rnd  # planning on the true dynamics beats random actions
    assert len(raw["horizon_sweep"]) == 2 * len(cfg.horizons)
    for key, vals in raw["horizon_sweep"].items():
        assert scores[("PointMass horizon sweep", f"vae-planner {key}")].values == tuple(vals)
    for model in ("vae", "rssm"):
        (errs,) = raw["prediction_error"][model]
        assert len(errs) == cfg.prediction_horizon and all(e > 0 for e in errs)
        assert scores[("PointMass prediction", f"{model} 1 steps")].values == (100.0 * errs[0],)
    for agent in wm.GRID_AGENTS:
        assert scores[("pit gridworld", agent)].values == tuple(raw["gridworld"][agent]["final"])
    report = (out / "report.md").read_text()
    assert "| PointMass | vae-planner |" in report and "## Findings" in report


def test_an_agent_retrained_directly_gives_the_reported_episodes(quick_run):
    _, _, metrics, _ = quick_run
    cfg = wm.Config(**wm.QUICK)
    fn, c = wm.agent_config("vae-planner", cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = fn(wm.make_env(cfg), c, seed=0)
    finally:
        torch.set_num_threads(threads)
    (reported,) = metrics["extra"]["per_seed"]["control"]["vae-planner"]["returns"]
    assert [float(x) for x in res.episode_returns] == reported
    # the sweep re-evaluated from these modules: the same returns at the first horizon with the value
    h = cfg.horizons[0]
    r = wm.planner_returns(res.modules["model"], res.modules["value"], cfg, h, 0)
    assert metrics["extra"]["per_seed"]["horizon_sweep"][f"H={h} + value"] == [float(r.mean())]


def test_curve_by_hand():
    r = TrainResult(config=None, modules={})
    r.episode_returns = [1.0, 2.0, 3.0, 4.0]
    r.episode_end_steps = [10, 20, 30, 40]
    c = wm.curve(r, np.array([5, 20, 35, 100]), 2)
    assert np.isnan(c[0])
    np.testing.assert_allclose(c[1:], [1.5, 2.5, 3.5])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"agents on task pointmass must be one or more of planet, dreamer"):
        wm.Config(agents=("muzero",))
    with pytest.raises(ValueError, match=r"world-models: horizons must be one or more ints >= 1, got \(0,\)"):
        wm.Config(horizons=(0,))
    with pytest.raises(ValueError, match="world-models: task must be one of pointmass, pendulum, cartpole, got 'acro'"):
        wm.Config(task="acro")
    with pytest.raises(ValueError, match="world-models: train_steps must be an int >= 400, got 10"):
        wm.Config(train_steps=10)
    with pytest.raises(ValueError, match="world-models: i2a_steps must be 0 or >= 800, got 100"):
        wm.Config(i2a_steps=100)
    with pytest.raises(ValueError, match="world-models: agent must be one of"):
        wm.agent_config("muzero", wm.Config())
    with pytest.raises(ValueError, match="world-models: grid agent must be one of i2a, a2c"):
        wm.train_grid_agent("dqn", wm.Config(**wm.QUICK), 0)
