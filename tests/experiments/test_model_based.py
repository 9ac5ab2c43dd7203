"""The model-based experiment at its --quick budget (two seeds): the run folder; every score equal to the statistic
recomputed by hand from the raw per-seed results in metrics.json; the Dyna-Q runs equal to dyna_q.train called
directly; SAC's last curve point equal to SAC trained and evaluated directly; PETS' curve equal to its training
episodes; the same results from worker processes; first_reaching and the grid by hand; bad settings refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nextrl.agents import sac
from nextrl.agents.common import evaluate
from nextrl.agents.model_based import dyna_q
from nextrl.envs import PendulumVectorEnv
from nextrl.evaluation.stats import iqm
from nextrl.experiments import model_based as mb
from nextrl.experiments import runner


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model-based") / "run"
    units = []
    res = runner.run("model-based", seeds=2, out_dir=out, quick=True, progress=lambda n, d: units.append(n))
    return res, units, json.loads((out / "metrics.json").read_text()), out


def test_quick_run_scores_match_the_per_seed_results(quick_run):
    res, units, metrics, out = quick_run
    assert {"report.md", "metrics.json", "dyna_maze.png", "curves_pendulum_v1.png"} <= {p.name for p in out.iterdir()}
    cfg = mb.Config(**mb.QUICK)
    assert sum(units) == mb.total_work(cfg, [0, 1]) == 2 * (3 * 2 + 3 * 400)
    extra = metrics["extra"]
    assert extra["grid"] == [200, 400]
    scores = {(s["agent"], s["metric"]): s for s in metrics["scores"]}
    for n in (0, 5):
        runs = extra["maze"][str(n)]
        eps = []
        for r in runs:
            hit = [i + 1 for i, g in enumerate(r["greedy_lengths"]) if g is not None and g <= 16]
            eps.append(hit[0] if hit else 4)
        assert scores[(f"dyna-q n={n}", "episodes to a <= 16-step greedy path")]["values"] == eps
        totals = [sum(r["episode_lengths"]) for r in runs]
        s = scores[(f"dyna-q n={n}", "env steps in 3 episodes")]
        assert s["values"] == totals and s["mean"] == pytest.approx(np.mean(totals))
    for agent in mb.PENDULUM_AGENTS:
        runs = extra["pendulum"][agent]
        final = [r["curve"][-1] for r in runs]
        s = scores[(agent, "final return")]
        assert s["values"] == pytest.approx(final) and s["iqm"]["point"] == pytest.approx(iqm(np.array(final)))
        reach = []
        for r in runs:
            hit = [p for p, v in zip([200, 400], r["curve"]) if v >= -200]
            reach.append(hit[0] if hit else 400)
        assert scores[(agent, "env steps to -200 (budget if never)")]["values"] == reach
        assert all(len(r["curve"]) == 2 and all(np.isfinite(r["curve"])) for r in runs)
    for r in extra["pendulum"]["pets"]:  # PETS' points are its training episodes ending there
        assert r["train_end_steps"] == [200, 400] and r["curve"] == r["train_returns"]
    curves = {c["agent"]: c for c in metrics["curves"]}
    np.testing.assert_allclose(curves["mbpo"]["per_seed"], [r["curve"] for r in extra["pendulum"]["mbpo"]])
    report = (out / "report.md").read_text()
    assert "model-based" in report and "dyna-q n=5" in report and "pets" in report


def test_dyna_and_sac_runs_equal_the_agents_called_directly(quick_run):
    _, _, metrics, _ = quick_run
    cfg = mb.Config(**mb.QUICK)
    direct = dyna_q.train(dyna_q.dyna_maze(), dyna_q.DynaQConfig(num_episodes=3, planning_steps=5), seed=1)
    assert metrics["extra"]["maze"]["5"][1]["episode_lengths"] == direct.episode_lengths
    torch.set_num_threads(1)
    sc = sac.SACConfig(total_timesteps=400, learning_starts=100, hidden=(16, 16), batch_size=32)
    result = sac.train(PendulumVectorEnv(1), sc, seed=0)
    env = PendulumVectorEnv(cfg.eval_episodes)
    act = sac.deterministic_policy(result.modules["actor"], env.single_action_space)
    final = float(evaluate(act, env, cfg.eval_episodes, seed=10_000).mean())
    assert metrics["extra"]["pendulum"]["sac"][0]["curve"][-1] == pytest.approx(final, rel=1e-12)
    assert metrics["extra"]["pendulum"]["sac"][0]["train_returns"] == result.episode_returns


def test_workers_give_the_same_results(quick_run):
    """Seed 1's jobs in two spawned processes equal the in-process run of the fixture (wall-clock aside)."""
    _, _, metrics, _ = quick_run
    done = mb.run_jobs(mb.Config(**mb.QUICK, workers=2), [1])
    assert {str(n): r for n, r in done["maze", 1].items()} == {n: v[1] for n, v in metrics["extra"]["maze"].items()}
    for agent in mb.PENDULUM_AGENTS:
        ours = {k: v for k, v in done[agent, 1].items() if k != "seconds"}
        assert ours == {k: v for k, v in metrics["extra"]["pendulum"][agent][1].items() if k != "seconds"}


def test_first_reaching_and_grid_by_hand():
    assert mb.first_reaching([200, 400, 600], [-900.0, -199.0, -150.0], -200.0) == 400
    assert mb.first_reaching([200, 400], [float("nan"), -201.0], -200.0) is None
    assert mb.first_reaching([200, 400], [-200.0, -100.0], -200.0) == 200
    assert mb.grid(mb.Config(pendulum_steps=1000, eval_every=400)).tolist() == [400, 800]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="model-based: eval_every must be a multiple of 200"):
        mb.Config(eval_every=300)
    with pytest.raises(ValueError, match="model-based: pendulum_steps must be an int >= 400, got 100"):
        mb.Config(pendulum_steps=100)
    with pytest.raises(ValueError, match=r"model-based: planning_steps must be one or more ints >= 0, got \(-1,\)"):
        mb.Config(planning_steps=(-1,))
    with pytest.raises(ValueError, match="model-based: pets_elites must be <= pets_population"):
        mb.Config(pets_elites=300)
    with pytest.raises(ValueError, match="model-based: learning_starts must be < pendulum_steps"):
        mb.Config(pendulum_steps=400, learning_starts=400)
    with pytest.raises(ValueError, match=r"model-based: hidden must be one or more ints >= 1, got \(\)"):
        mb.Config(hidden=())
    with pytest.raises(ValueError, match="model-based: workers must be an int >= 1, got 0"):
        mb.Config(workers=0)
    with pytest.raises(ValueError, match="model-based: agent must be one of sac, mbpo, pets, got 'ppo'"):
        mb.run_pendulum("ppo", mb.Config(**mb.QUICK), 0)
    with pytest.raises(ValueError, match="model-based: seeds must not be empty"):
        mb.run(mb.Config(**mb.QUICK), [])
