"""The runner and the rl-core experiment at a tiny budget: the run folder appears, every number in metrics.json
is the one the stats functions give for the per-seed values, two independently computed paths agree, runs are
reproducible from the seed, and every bad input is refused before training."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import scipy.stats
import torch

from nextrl.evaluation import stats
from nextrl.experiments import rl_core, runner

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

TINY = ["cases=cartpole/ppo,pendulum/sac", "cartpole_ppo_steps=1024", "pendulum_sac_steps=400", "curve_points=8"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rl_core") / "run"
    units = []
    res = runner.run(
        "rl-core", seeds=3, out_dir=out, overrides=TINY, quick=True, progress=lambda n, desc: units.append((n, desc))
    )
    return res, units, json.loads((out / "metrics.json").read_text())


def test_run_folder(tiny_run):
    res, _, m = tiny_run
    names = {p.name for p in res.run_dir.iterdir()}
    assert names == {
        "report.md",
        "metrics.json",
        "curves_nextrl_cartpole_v1.png",
        "curves_nextrl_pendulum_v1.png",
        "scores_eval_return.png",
        "scores_train_return.png",
    }
    assert {p.name for p in res.files} == names
    for name in names - {"report.md", "metrics.json"}:
        assert (res.run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert m["experiment"] == "rl-core" and m["seeds"] == [0, 1, 2]
    assert m["config"]["cases"] == ["cartpole/ppo", "pendulum/sac"] and m["config"]["cartpole_ppo_steps"] == 1024
    assert m["config"]["eval_episodes"] == rl_core.QUICK["eval_episodes"]  # --quick, then --set on top
    md = (res.run_dir / "report.md").read_text()
    for section in (
        "## Setup",
        "## Results",
        "### Aggregates",
        "## Findings",
        "What was found:",
        "What was not found:",
        "## References",
    ):
        assert section in md
    assert "SB3 zoo, DLR-RM/rl-baselines3-zoo benchmark.md" in md and "settings: --quick, cases=" in md


def test_metrics_match_the_stats_functions(tiny_run):
    _, _, m = tiny_run
    b = m["bootstrap"]
    assert b["reps"] == rl_core.QUICK["bootstrap_reps"] and b["confidence"] == 0.95
    keys = {(s["task"], s["agent"], s["metric"]) for s in m["scores"]}
    assert keys == {
        ("nextrl/CartPole-v1", "random", "eval return"),
        ("nextrl/Pendulum-v1", "random", "eval return"),
        ("nextrl/CartPole-v1", "ppo", "eval return"),
        ("nextrl/CartPole-v1", "ppo", "train return"),
        ("nextrl/Pendulum-v1", "sac", "eval return"),
        ("nextrl/Pendulum-v1", "sac", "train return"),
    }
    for s in m["scores"]:
        v = np.array(s["values"])
        assert len(v) == 3 and np.all(np.isfinite(v))
        iv = stats.stratified_bootstrap_ci(v, "iqm", reps=b["reps"], seed=b["seed"])
        assert (s["iqm"]["point"], s["iqm"]["low"], s["iqm"]["high"]) == (iv.point, iv.low, iv.high)
        np.testing.assert_allclose(s["iqm"]["point"], scipy.stats.trim_mean(v, 0.25), rtol=1e-12)
        np.testing.assert_allclose([s["mean"], s["std"]], [v.mean(), v.std(ddof=1)], rtol=1e-12)
        assert s["iqm"]["low"] <= s["iqm"]["point"] <= s["iqm"]["high"]
    # returns within the envs' ranges: CartPole pays 1 per step (<= 500), Pendulum at most 0 per step
    by = {(s["task"], s["agent"], s["metric"]): np.array(s["values"]) for s in m["scores"]}
    assert np.all(
        (by["nextrl/CartPole-v1", "ppo", "eval return"] >= 1) & (by["nextrl/CartPole-v1", "ppo", "eval return"] <= 500)
    )
    assert np.all(by["nextrl/Pendulum-v1", "sac", "eval return"] <= 0)


def test_curves_agree_with_train_return(tiny_run):
    # the last curve point (mean of the last 20 episodes ended by the budget) is the train return computed from
    # TrainResult.mean_return(20): two paths to the same number
    _, _, m = tiny_run
    scores = {(s["task"], s["agent"], s["metric"]): s for s in m["scores"]}
    for c in m["curves"]:
        assert (
            len(c["steps"]) == 8
            and c["steps"][-1] == m["config"][f"{c['task'].split('/')[1][:-3].lower()}_{c['agent']}_steps"]
        )
        last = [row[-1] for row in c["per_seed"]]
        np.testing.assert_allclose(last, scores[(c["task"], c["agent"], "train return")]["values"], rtol=1e-12)
        rows = np.array([[np.nan if x is None else x for x in row] for row in c["per_seed"]])
        point, low, high = stats.pointwise_bands(
            rows, statistic="mean", reps=m["bootstrap"]["reps"], seed=m["bootstrap"]["seed"]
        )
        np.testing.assert_array_equal(np.array([np.nan if x is None else x for x in c["mean"]]), point)
        np.testing.assert_array_equal(np.array([np.nan if x is None else x for x in c["low"]]), low)


def test_aggregate_is_normalized_by_random_and_reference(tiny_run):
    _, _, m = tiny_run
    by = {(s["task"], s["agent"], s["metric"]): s for s in m["scores"]}
    (agg,) = m["aggregates"]
    assert agg["tasks"] == ["ppo cartpole", "sac pendulum"]
    cols = []
    for task, agent in (("nextrl/CartPole-v1", "ppo"), ("nextrl/Pendulum-v1", "sac")):
        rand = np.mean(by[(task, "random", "eval return")]["values"])
        ref = by[(task, agent, "eval return")]["reference"]["value"]
        cols.append((np.array(by[(task, agent, "eval return")]["values"]) - rand) / (ref - rand))
    np.testing.assert_allclose(agg["scores"], np.stack(cols, axis=1), rtol=1e-12)
    iv = stats.stratified_bootstrap_ci(np.array(agg["scores"]), "iqm", reps=m["bootstrap"]["reps"], seed=0)
    assert (agg["iqm"]["point"], agg["iqm"]["low"], agg["iqm"]["high"]) == (iv.point, iv.low, iv.high)


def test_progress_covers_the_planned_work(tiny_run):
    _, units, m = tiny_run
    assert sum(n for n, _ in units) == 3 * (1024 + 400)
    assert all(n > 0 for n, _ in units) and any("ppo nextrl/CartPole-v1 seed 2" in d for _, d in units)


def test_reproducible_from_seed(tiny_run, tmp_path):
    _, _, m = tiny_run
    res = runner.run("rl-core", seeds=3, out_dir=tmp_path / "again", overrides=TINY[:1] + TINY[1:], quick=True)
    again = json.loads((res.run_dir / "metrics.json").read_text())
    assert again["scores"] == m["scores"] and again["curves"] == m["curves"]


def test_learning_curve_by_hand():
    end_steps, returns = [5, 12, 12, 30], [1.0, 2.0, 4.0, 8.0]
    got = rl_core.learning_curve(end_steps, returns, np.array([4, 5, 12, 29, 40]), window=2)
    np.testing.assert_array_equal(got, [np.nan, 1.0, 3.0, 3.0, 6.0])


def test_list_and_plan():
    listed = runner.list_experiments()
    assert [n for n, _ in listed] == sorted(runner.EXPERIMENTS) and ("rl-core", rl_core.DESCRIPTION) in listed
    p = runner.plan("rl-core", seeds=2, out_dir="/nonexistent/x", overrides=["cases=cartpole/dqn"])
    assert p.total_work == 2 * rl_core.Config().cartpole_dqn_steps and p.seeds == [0, 1]
    fields = {f for f, _, _ in runner.config_fields("rl-core")}
    assert {"cases", "cartpole_ppo_steps", "bootstrap_reps"} <= fields


@pytest.mark.parametrize(
    "kw,match",
    [
        (
            {"name": "rl-cor"},
            r"unknown experiment 'rl-cor'; did you mean 'rl-core'\?.*Valid choices: "
            + re.escape(", ".join(sorted(runner.EXPERIMENTS))),
        ),
        (
            {"name": "nope"},
            r"unknown experiment 'nope'.*Valid choices: " + re.escape(", ".join(sorted(runner.EXPERIMENTS))),
        ),
        ({"seeds": 0}, r"seeds must be an integer >= 1, got 0"),
        ({"seeds": -3}, r"seeds must be an integer >= 1, got -3"),
        ({"seeds": 2.5}, r"seeds must be an integer >= 1, got 2.5"),
        ({"seeds": True}, r"seeds must be an integer >= 1, got True"),
        (
            {"overrides": ["cartpole_ppo_step=10"]},
            r"unknown Config key 'cartpole_ppo_step'; did you mean "
            r"'cartpole_ppo_steps'",
        ),
        ({"overrides": ["cartpole_ppo_steps=ten"]}, "--set cartpole_ppo_steps: must be int, got 'ten'"),
        ({"overrides": ["cartpole_ppo_steps=0"]}, "rl-core: cartpole_ppo_steps must be >= 1, got 0"),
        ({"overrides": ["eval_episodes=0"]}, "rl-core: eval_episodes must be >= 1, got 0"),
        (
            {"overrides": ["cases=cartpole/sac"]},
            r"rl-core: cases must be a non-empty list from cartpole/ppo, .*got "
            r"cartpole/sac",
        ),
        ({"overrides": ["cases=cartpole/ppo,cartpole/ppo"]}, "rl-core: cases must not repeat"),
    ],
)
def test_bad_input_refused_before_training(kw, match, tmp_path):
    args = {"name": "rl-core", "seeds": 2, "out_dir": tmp_path / "x", "overrides": [], **kw}
    with pytest.raises(ValueError, match=match):
        runner.plan(args.pop("name"), **args)
    assert not (tmp_path / "x").exists()


def test_non_empty_out_refused(tmp_path):
    (tmp_path / "old.txt").write_text("a finished run")
    with pytest.raises(ValueError, match="exists and is not an empty folder"):
        runner.plan("rl-core", out_dir=tmp_path)
    with pytest.raises(ValueError, match="exists and is not an empty folder"):
        runner.plan("rl-core", out_dir=tmp_path / "old.txt")
    assert runner.plan("rl-core", out_dir=tmp_path / "new").out_dir == tmp_path / "new"


def test_run_rejects_empty_seed_list():
    with pytest.raises(ValueError, match="seeds must not be empty"):
        rl_core.run(rl_core.Config(), [])


def test_findings_follow_the_intervals():
    from nextrl.evaluation import Bootstrap, make_curve, make_score

    boot = Bootstrap(reps=200)
    cfg = rl_core.Config(cases=("cartpole/ppo", "cartpole/dqn", "cartpole/a2c"))
    task = "nextrl/CartPole-v1"
    ref = rl_core.REFERENCES
    scores = [
        make_score(task, "random", "eval return", [20.0, 22.0, 24.0], boot),
        make_score(
            task,
            "ppo",
            "eval return",
            [490.0, 500.0, 480.0, 500.0],
            boot,
            steps=9,
            reference=ref[("cartpole", "ppo", "eval return")],
        ),
        make_score(
            task,
            "dqn",
            "eval return",
            [100.0, 120.0, 90.0, 110.0],
            boot,
            steps=9,
            reference=ref[("cartpole", "dqn", "eval return")],
        ),
        make_score(task, "a2c", "eval return", [100.0, 500.0, 480.0, 500.0], boot, steps=9),
    ]
    steps = [1, 2, 3]
    curves = [
        make_curve(task, "ppo", "r", steps, [[100.0, 480.0, 470.0]] * 4, boot),  # holds its level
        make_curve(task, "dqn", "r", steps, [[100.0, 400.0, 150.0]] * 4, boot),  # falls back
        make_curve(task, "a2c", "r", steps, [[20.0, 30.0, 40.0]] * 4, boot),
    ]  # never halfway
    texts = rl_core._findings(cfg, scores, curves, {"cartpole": 475.0}, {})
    ppo = [f for f in texts if f.text.startswith("ppo")]
    assert ppo[0].found and "the whole interval is at or above the goal 475" in ppo[0].text
    assert ppo[1].found and "4 of 4 seeds reach the goal" in ppo[1].text
    dqn = [f for f in texts if f.text.startswith("dqn")]
    assert not dqn[0].found and "the whole interval is below the goal 475" in dqn[0].text
    assert not dqn[1].found and "below the published 500" in dqn[1].text
    a2c = [f for f in texts if f.text.startswith("a2c")]
    assert not a2c[0].found and "contains the goal 475 (not shown either way)" in a2c[0].text
    assert ppo[-1].found and "holds its best level: it ends at 470.0 against its peak 480.0" in ppo[-1].text
    assert not dqn[-1].found and "peaks at 400.0" in dqn[-1].text and "ends at 150.0" in dqn[-1].text
    assert not a2c[-1].found and "never gets halfway" in a2c[-1].text


def test_default_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = runner.plan("rl-core")
    assert p.out_dir.parent.name == "runs" and p.out_dir.name.startswith("rl-core-") and p.seeds == [0, 1, 2, 3, 4]
    assert p.config == rl_core.Config() and p.settings == "defaults"
    assert runner.plan("rl-core", quick=True).config == rl_core.Config(**rl_core.QUICK)
