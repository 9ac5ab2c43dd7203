"""`nextrl train` checkpoints and greedy evaluation, `nextrl eval`: the checkpoint reloads into the same
networks (same actions from the same observations), loads with weights_only=True, and `nextrl eval` reproduces
the training run's final evaluation; the evaluation itself is checked against episodes counted by hand."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from nextrl.cli import main
from nextrl.experiments import train as runner

torch.set_num_threads(1)

TINY = {
    "ppo": ("CartPole-v1", ["total_timesteps=256", "num_envs=2", "num_steps=32", "hidden=8"]),
    "dqn": ("CartPole-v1", ["total_timesteps=300", "learning_starts=100", "buffer_size=500", "hidden=8"]),
    "sac": ("Pendulum-v1", ["total_timesteps=200", "learning_starts=100", "buffer_size=500", "hidden=8"]),
}


class Countdown(gym.Env):
    """Deterministic: episode k (counted from the first reset) lasts 1 + k % 3 steps; action 1 pays 1 per step,
    action 0 pays 0. obs = [steps left]."""

    observation_space = gym.spaces.Box(0.0, 3.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.episode, self.left = -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        self.left = 1 + self.episode % 3
        return np.array([self.left], np.float32), {}

    def step(self, action):
        self.left -= 1
        return np.array([self.left], np.float32), float(action == 1), self.left == 0, False, {}


gym.register("nextrl_test/Countdown-v0", entry_point=Countdown)


def _q_network(preferred: int) -> nn.Module:
    """obs [N, 1] -> Q [N, 2] whose argmax is `preferred` for every obs >= 0."""
    net = nn.Linear(1, 2)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.copy_(torch.tensor([1.0, 0.0] if preferred == 0 else [0.0, 1.0]))
    return net


@pytest.mark.parametrize("preferred,expected", [(1, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]), (0, [0] * 10)])
def test_greedy_evaluation_matches_hand_count(preferred, expected):
    space = gym.spaces.Discrete(2)
    act = runner.deterministic_policy("dqn", {"q_network": _q_network(preferred)}, space)
    ev = runner.evaluate_policy(act, "nextrl_test/Countdown-v0", 10, seed=0)
    # one env, episodes in sequence: lengths 1, 2, 3, 1, ... in order; returns = lengths when acting 1
    assert ev["returns"] == [float(r) for r in expected]
    assert ev["mean_return"] == pytest.approx(np.mean(expected), abs=1e-12)
    assert ev["std_return"] == pytest.approx(np.std(expected), abs=1e-12)


def _train(algo, tmp_path, *extra):
    env_id, sets = TINY[algo]
    out = tmp_path / algo
    argv = ["train", algo, "--env", env_id, *[a for kv in sets for a in ("--set", kv)], "--out", str(out)]
    assert main([*argv, "--eval-episodes", "3", *extra]) == 0
    return out


@pytest.mark.parametrize("algo", list(TINY))
def test_checkpoint_round_trip(algo, tmp_path, capsys):
    out = _train(algo, tmp_path)
    metrics = json.loads((out / "metrics.json").read_text())
    data = torch.load(out / "final.pt", weights_only=True)
    assert data["extra"]["algo"] == algo and data["config"]["total_timesteps"] == int(TINY[algo][1][0].split("=")[1])
    assert data["extra"]["eval_mean_return"] == metrics["summary"]["eval_mean_return"]
    # rebuilt networks, loaded: every tensor equal to the saved one, and unlike freshly initialised ones
    info, module, cfg, modules = runner.load_run(out)
    for name, m in modules.items():
        for key, value in m.state_dict().items():
            torch.testing.assert_close(value, data["modules"][name][key], rtol=0, atol=0)
    env = runner.make_env(info["env"], 1)
    fresh = runner.build_modules(module, cfg, env)
    space, obs_shape = env.single_action_space, env.single_observation_space.shape
    env.close()
    name = next(iter(fresh))
    assert any(not torch.equal(a, b) for a, b in zip(fresh[name].parameters(), modules[name].parameters()))
    # same actions from the same observations when loaded again
    obs = np.random.default_rng(0).uniform(-0.5, 0.5, size=(64, *obs_shape)).astype(np.float32)
    _, _, _, again = runner.load_run(out)
    np.testing.assert_array_equal(
        runner.deterministic_policy(algo, again, space)(obs), runner.deterministic_policy(algo, modules, space)(obs)
    )
    # nextrl eval with the run's evaluation seed reproduces the run's final evaluation exactly
    capsys.readouterr()
    assert main(["eval", str(out), "--episodes", "3", "--json"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    got = json.loads(printed)
    assert got["returns"] == metrics["evaluations"][-1]["returns"]
    assert got["seed"] == metrics["summary"]["eval_seed"] == 10_000


def test_trained_actions_survive_reload(tmp_path):
    """Same actions from the same observations: the live trained policy against the reloaded checkpoint."""
    res = runner.run("ppo", "CartPole-v1", overrides=TINY["ppo"][1], out_dir=tmp_path / "r", eval_episodes=2)
    _, _, _, modules = runner.load_run(res.run_dir)
    space = gym.spaces.Discrete(2)
    obs = np.random.default_rng(1).uniform(-1, 1, size=(256, 4)).astype(np.float32)
    live = res.result.modules["policy"]
    loaded = modules["policy"]
    with torch.no_grad():
        torch.testing.assert_close(loaded.dist(torch.as_tensor(obs)).logits, live.dist(torch.as_tensor(obs)).logits)
    np.testing.assert_array_equal(
        runner.deterministic_policy("ppo", modules, space)(obs),
        runner.deterministic_policy("ppo", res.result.modules, space)(obs),
    )


def test_eval_every_keeps_best_and_does_not_change_training(tmp_path):
    sets = ["total_timesteps=512", "num_envs=2", "num_steps=16", "hidden=8"]
    plain = runner.run("a2c", "CartPole-v1", overrides=sets, out_dir=tmp_path / "plain", eval_episodes=2)
    res = runner.run("a2c", "CartPole-v1", overrides=sets, out_dir=tmp_path / "ev", eval_episodes=2, eval_every=128)
    # updates every 32 steps: evaluations at 128, 256, 384, 512, then the final one at 512
    assert [e["global_step"] for e in res.evaluations] == [128, 256, 384, 512, 512]
    assert res.result.episode_returns == plain.result.episode_returns  # evaluating between updates changed nothing
    for a, b in zip(
        res.result.modules["policy"].state_dict().values(), plain.result.modules["policy"].state_dict().values()
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    best = max(res.evaluations, key=lambda e: e["mean_return"])
    first_best = next(e for e in res.evaluations if e["mean_return"] == best["mean_return"])
    extra = torch.load(res.run_dir / "best.pt", weights_only=True)["extra"]
    assert extra["eval_mean_return"] == best["mean_return"] and extra["global_step"] == first_best["global_step"]
    assert res.summary["best_eval_mean_return"] == best["mean_return"]
    assert json.loads((res.run_dir / "metrics.json").read_text())["evaluations"] == res.evaluations
    assert not (plain.run_dir / "best.pt").exists()


def test_dqn_metrics_csv_global_step_is_int(tmp_path):
    out = _train("dqn", tmp_path)
    lines = (out / "metrics.csv").read_text().splitlines()
    steps = [line.split(",")[0] for line in lines[1:]]
    assert steps and all(s.isdigit() for s in steps), steps[:3]
    assert [u["global_step"] for u in json.loads((out / "metrics.json").read_text())["updates"]] == [
        int(s) for s in steps
    ]


def test_eval_video_on_env_that_cannot_render(tmp_path, capsys):
    res = runner.run(
        "dqn",
        "nextrl_test/Countdown-v0",
        overrides=["total_timesteps=20", "learning_starts=10", "buffer_size=50"],
        out_dir=tmp_path / "r",
        eval_episodes=1,
    )
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["eval", str(res.run_dir), "--video", str(tmp_path / "v")])
    assert e.value.code == 2
    assert capsys.readouterr().err == "eval: nextrl_test/Countdown-v0 cannot render yet\n"


def test_eval_video(tmp_path, capsys):
    """A Gymnasium env that renders: RecordVideo writes a file, or, without MoviePy, one line naming it."""
    import importlib.util

    out = _train("ppo", tmp_path)
    capsys.readouterr()
    argv = ["eval", str(out), "--episodes", "2", "--video", str(tmp_path / "video")]
    if importlib.util.find_spec("moviepy") is None or importlib.util.find_spec("pygame") is None:
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("moviepy" in err.lower() or "pygame" in err.lower()), err
    else:
        assert main(argv) == 0
        assert list((tmp_path / "video").glob("*.mp4"))
