"""`nextrl train`: main([...]) with a tiny budget writes the run folder with consistent contents; every
misspelling gets an error that lists the valid choices."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from nextrl.cli import main
from nextrl.experiments import train as runner

torch.set_num_threads(1)


def test_train_writes_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "ppo",
            "--env",
            "CartPole-v1",
            "--set",
            "total_timesteps=512",
            "--set",
            "num_envs=4",
            "--set",
            "num_steps=32",
            "--set",
            "hidden=16,16",
            "--set",
            "anneal_lr=false",
            "--seed",
            "7",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "metrics.csv",
        "episodes.csv",
        "metrics.json",
        "learning_curve.png",
        "final.pt",
    }
    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "ppo" and config["env"] == "CartPole-v1" and config["seed"] == 7
    assert config["config"]["total_timesteps"] == 512 and config["config"]["hidden"] == [16, 16]
    # PRESETS[ppo, CartPole-v1]
    assert config["config"]["anneal_lr"] is False and config["config"]["learning_rate"] == 1e-3
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    assert [int(r["global_step"]) for r in rows] == [128, 256, 384, 512]  # 512 / (4 envs * 32 steps) updates
    assert all(float(r["charts/learning_rate"]) == 1e-3 for r in rows)
    episodes = list(csv.DictReader((out / "episodes.csv").read_text().splitlines()))
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(episodes) == len(metrics["episodes"]) == metrics["summary"]["episodes"] > 0
    # CartPole pays 1 per step: every return equals its length
    assert all(float(e["return"]) == int(e["length"]) for e in episodes)
    last = [float(e["return"]) for e in episodes][-20:]
    assert metrics["summary"]["mean_return_last_20"] == pytest.approx(sum(last) / len(last))
    assert metrics["summary"]["global_steps"] == 512 and len(metrics["updates"]) == 4
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    final = metrics["evaluations"][-1]
    assert metrics["summary"]["eval_episodes"] == 10 and len(final["returns"]) == 10 and final["global_step"] == 512
    assert metrics["summary"]["eval_mean_return"] == pytest.approx(sum(final["returns"]) / 10)
    printed = capsys.readouterr().out
    assert "nextrl train" in printed and "mean return (last 20)" in printed and f"run folder: {out}" in printed
    assert f"{final['mean_return']:.2f} +-" in next(ln for ln in printed.splitlines() if "greedy return" in ln)


def test_default_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.run("a2c", "CartPole-v1", overrides=["total_timesteps=64", "num_envs=2", "num_steps=8"], seed=3)
    assert res.run_dir.parent == __import__("pathlib").Path("runs") and (tmp_path / res.run_dir).is_dir()
    assert res.run_dir.name.startswith("a2c-CartPole-v1-3-") and (res.run_dir / "metrics.json").exists()
    assert res.summary["global_steps"] == 64


def test_parse_overrides_types():
    from nextrl.agents.ppo import PPOConfig

    got = runner.parse_overrides(
        PPOConfig, ["total_timesteps=1e5", "learning_rate=3e-4", "norm_adv=no", "target_kl=0.02", "hidden=(32, 32)"]
    )
    assert got == {
        "total_timesteps": 100000,
        "learning_rate": 3e-4,
        "norm_adv": False,
        "target_kl": 0.02,
        "hidden": (32, 32),
    }
    assert runner.parse_overrides(PPOConfig, ["target_kl=None"]) == {"target_kl": None}


@pytest.mark.parametrize(
    "argv,match",
    [
        (
            ["train", "ppoo", "--env", "CartPole-v1"],
            r"unknown algorithm 'ppoo'; did you mean 'ppo'.*Valid choices: a2c, "
            r"ddpg, dqn, i2a, ppo, reinforce, sac, sac_discrete, td3, trpo, vae_planner",
        ),
        (["train", "ppo", "--env", "CartPol-v1"], r"unknown env id 'CartPol-v1'; did you mean 'CartPole-v1'"),
        (
            ["train", "ppo", "--env", "CartPole-v1", "--set", "lerning_rate=1"],
            r"unknown PPOConfig key 'lerning_rate'; did you mean 'learning_rate'\?.*Valid choices: total_timesteps",
        ),
        (
            ["train", "ppo", "--env", "CartPole-v1", "--set", "learning_rate=fast"],
            r"--set learning_rate: must be float, "
            r"got 'fast'",
        ),
        (["train", "ppo", "--env", "CartPole-v1", "--set", "num_steps=1.5"], "--set num_steps: must be int, got '1.5'"),
        (["train", "ppo", "--env", "CartPole-v1", "--set", "norm_adv=maybe"], "--set norm_adv: must be true or false"),
        (["train", "ppo", "--env", "CartPole-v1", "--set", "num_steps"], "--set must be key=value, got 'num_steps'"),
        (
            ["train", "ppo", "--env", "CartPole-v1", "--set", "num_minibatches=0"],
            "PPOConfig: num_steps, num_minibatches and update_epochs must be >= 1",
        ),
        (["train", "ppo", "--env", "CartPole-v1", "--threads", "0"], "--threads must be >= 1, got 0"),
    ],
)
def test_errors(argv, match, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    import re

    err = capsys.readouterr().err
    assert re.search(match, err), err


def test_runner_errors():
    with pytest.raises(ValueError, match="unknown algorithm 'sacc'.*Valid choices"):
        runner.resolve_algorithm("sacc")
    with pytest.raises(ValueError, match="unknown env id 'nope'"):
        runner.make_env("nope", 1)
    with pytest.raises(ValueError, match="PPOConfig: gamma and gae_lambda must be in"):
        runner.run("ppo", "CartPole-v1", overrides=["gamma=2"])
