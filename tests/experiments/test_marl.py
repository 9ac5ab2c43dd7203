"""The marl experiment at its --quick budget: the run folder, progress units, every score equal to the per-seed
raw results, those equal to the learners and evaluations called directly, the self-play curve equal to the
league's ratings, the games table against nashpy and closed forms, and bad settings refused."""

from __future__ import annotations

import json
import warnings

import nashpy
import numpy as np
import pytest
import torch

from nextrl import games
from nextrl.agents.multi import common, league, maddpg, mappo, vdn
from nextrl.agents.multi.commnet import CommNet
from nextrl.experiments import marl, runner
from nextrl.marl import MatrixGameVectorEnv, PredatorPreyVectorEnv, SimpleSpreadVectorEnv
from nextrl.marl.matrix_games import GAMES


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("marl") / "run"
    units = []
    res = runner.run("marl", seeds=2, out_dir=out, quick=True, progress=lambda n, d: units.append(n))
    return res, units, json.loads((out / "metrics.json").read_text()), out


def test_quick_run_writes_the_folder_and_reports_all_progress(quick_run):
    res, units, metrics, out = quick_run
    assert {"report.md", "metrics.json", "curves_self_play_rps.png"} <= {p.name for p in out.iterdir()}
    assert sum(units) == marl.total_work(marl.Config(**marl.QUICK), [0, 1])
    assert metrics["extra"]["per_seed"] == res.result.extra["per_seed"]
    report = (out / "report.md").read_text()
    assert "matrix game climbing: pure Nash [(0, 0), (1, 1)]" in report


def test_scores_equal_the_per_seed_results(quick_run):
    res, _, _, _ = quick_run
    cfg = marl.Config(**marl.QUICK)
    extra = res.result.extra
    scores = {(s.task, s.agent, s.metric): s for s in res.result.scores}
    for p in ("random", "no-op", *cfg.spread_algos):
        s = scores[("simple_spread (3 agents)", p, "team return")]
        want = [extra["per_seed"]["spread"][k][p] for k in (0, 1)]
        assert list(s.values) == want
        assert s.mean == pytest.approx(np.mean(want), rel=1e-12)
        assert s.std == pytest.approx(np.std(want, ddof=1), rel=1e-12)
    for p in ("random", *cfg.prey_algos):
        s = scores[("predator-prey 6x6 (2 predators)", p, "capture rate")]
        assert list(s.values) == [extra["per_seed"]["prey"][k][p] for k in (0, 1)]
    comm, off = (scores[("simple_spread (3 agents)", p, "team return")].iqm for p in cfg.spread_algos[2:4])
    assert cfg.spread_algos[2:4] == ("maddpg-commnet", "maddpg-commnet-off")
    verdict = "beats" if comm.low > off.high else "falls below" if comm.high < off.low else "the 95% intervals overlap"
    (finding,) = [f.text for f in res.result.findings if "maddpg-commnet-off" in f.text and "commnet " in f.text]
    assert finding.startswith("simple_spread: maddpg-commnet") and verdict in finding
    plays = extra["self_play"]
    assert list(scores[("self-play RPS+", "learner", "final Elo")].values) == [p["ratings"][-1] for p in plays]
    curve = res.result.curves[0]
    np.testing.assert_array_equal(curve.values, [p["ratings"] for p in plays])
    np.testing.assert_allclose(curve.point, np.mean([p["ratings"] for p in plays], axis=0), rtol=1e-12)
    for name in GAMES:
        s = scores[("matrix games", f"regret matching, {name}", "CE violation")]
        assert list(s.values) == [extra["regret_matching_ce_violation"][k][name] for k in (0, 1)]


def test_per_seed_results_equal_the_learners_called_directly(quick_run):
    torch.set_num_threads(1)
    res, _, _, _ = quick_run
    extra = res.result.extra
    for seed in (0, 1):
        spread = lambda act: common.evaluate_team(act, SimpleSpreadVectorEnv(20), 8, seed=10_000 + seed).mean()
        rng = np.random.default_rng(seed)
        assert extra["per_seed"]["spread"][seed]["random"] == spread(
            lambda obs, mask: rng.integers(0, 5, size=obs.shape[:2])
        )
        assert extra["per_seed"]["spread"][seed]["no-op"] == spread(lambda obs, mask: np.zeros((20, 3), np.int64))
        policy = mappo.train(SimpleSpreadVectorEnv(4), mappo.MAPPOConfig(total_timesteps=400), seed=seed)
        assert extra["per_seed"]["spread"][seed]["mappo"] == spread(mappo.act_fn(policy.modules["policy"]))
        env = SimpleSpreadVectorEnv(4)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            actor = maddpg.CommActor(CommNet(18, 5, 3, hidden=64, rounds=2))
            nets = maddpg.MADDPGNetworks(18, env.single_action_space, 3, actor=actor)
        comm = maddpg.train(env, maddpg.MADDPGConfig(total_timesteps=400), seed=seed, nets=nets)
        assert extra["per_seed"]["spread"][seed]["maddpg-commnet"] == spread(maddpg.act_fn(comm.modules["networks"]))
        net = vdn.train(PredatorPreyVectorEnv(4, **marl.PREY_ENV), vdn.VDNConfig(total_timesteps=400), seed=seed)
        prey = common.evaluate_team(
            net.modules["agent_network"], PredatorPreyVectorEnv(20, **marl.PREY_ENV), 8, seed=10_000 + seed
        )
        assert extra["per_seed"]["prey"][seed]["vdn"] == np.mean(prey > 0)
    sp = league.self_play(
        MatrixGameVectorEnv(64, payoffs=np.stack([marl.RPS_PLUS, -marl.RPS_PLUS], -1)),
        league.SelfPlayConfig(iterations=4, snapshot_every=2),
        seed=1,
    )
    assert extra["self_play"][1]["ratings"] == sp.ratings
    g = games.BimatrixGame.named("climbing")
    rm = games.regret_matching(g, 200, seed=1).joint
    assert extra["regret_matching_ce_violation"][1]["climbing"] == games.ce_violation(g, rm)


def test_seeds_in_processes_give_the_same_results(quick_run):
    extra = quick_run[0].result.extra
    cfg = marl.Config(**{**marl.QUICK, "workers": 2})
    units = []
    (spawned,) = marl.run_seeds_in_processes(cfg, [1], progress=lambda n, d: units.append(n))
    assert units == [marl.total_work(cfg, [1])]
    assert spawned["tasks"] == {"spread": extra["per_seed"]["spread"][1], "prey": extra["per_seed"]["prey"][1]}
    assert spawned["self_play"] == extra["self_play"][1]
    assert spawned["regret_matching"] == extra["regret_matching_ce_violation"][1]


def test_games_table_against_nashpy_and_closed_forms(quick_run):
    table = quick_run[0].result.extra["games"]
    assert set(table) == set(GAMES)
    for name in GAMES:
        g = games.BimatrixGame.named(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nashpy warns on an even number of equilibria
            # vertex enumeration: nashpy's support enumeration compares floats exactly and misses the penalty
            # game's (0, 5/6, 1/6) pair and one of the climbing game's (tests/games)
            theirs = list(nashpy.Game(g.row, g.col).vertex_enumeration())
        ours = table[name]["mixed_nash"]
        for x, y in theirs:  # the table holds nashpy's equilibria, and only those
            assert any(np.allclose(x, a, atol=1e-9) and np.allclose(y, b, atol=1e-9) for a, b in ours), name
        for x, y in ours:  # and every one in the table is an equilibrium: no pure deviation gains
            x, y = np.array(x), np.array(y)
            assert (g.row @ y).max() <= x @ g.row @ y + 1e-9 and (x @ g.col).max() <= x @ g.col @ y + 1e-9
        assert len(ours) == len(theirs), name
        ce = np.array(table[name]["ce"])
        assert games.ce_violation(g, ce) <= 1e-7
        # the best correlated equilibrium is at least as good as the best Nash equilibrium (every NE is a CE)
        assert table[name]["ce_welfare"] >= table[name]["nash_welfare_max"] - 1e-7
        assert table[name]["optimum_welfare"] == (g.row + g.col).max()
    # closed forms: matching pennies has value 0 at (1/2, 1/2); the climbing game's only Pareto optimum is
    # (0, 0) with welfare 22; the prisoner's dilemma's only equilibrium is mutual defection (welfare 2 of 6)
    mp = table["matching_pennies"]
    assert mp["zero_sum_value"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(mp["mixed_nash"], [[[0.5, 0.5], [0.5, 0.5]]], atol=1e-12)
    assert table["climbing"]["pareto_optimal"] == [[0, 0]] and table["climbing"]["optimum_welfare"] == 22
    pd = table["prisoners_dilemma"]
    assert pd["pure_nash"] == [[1, 1]] and pd["nash_welfare_max"] == 2 and pd["optimum_welfare"] == 6
    assert all(table[n]["zero_sum_value"] is None for n in GAMES if n != "matching_pennies")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"marl: spread_algos must be distinct names of"):
        marl.Config(spread_algos=("mappo", "dqn"))
    with pytest.raises(ValueError, match=r"marl: spread_algos must be distinct names of"):
        marl.Config(spread_algos=("maddpg-dial",))
    with pytest.raises(ValueError, match=r"marl: prey_algos must be distinct names of"):
        marl.Config(prey_algos=("vdn", "vdn"))
    with pytest.raises(ValueError, match=r"marl: spread_steps must be >= 100, got 10"):
        marl.Config(spread_steps=10)
    with pytest.raises(ValueError, match=r"marl: workers must be >= 1, got 0"):
        marl.Config(workers=0)
    with pytest.raises(ValueError, match=r"marl: eval_episodes must be >= 1, got 0"):
        marl.Config(eval_episodes=0)
    with pytest.raises(ValueError, match=r"marl: seeds must not be empty"):
        marl.run(marl.Config(**marl.QUICK), [])
    with pytest.raises(ValueError, match="unknown"):
        runner.plan("marl", overrides=["spread_stepz=1"])
