"""`nextrl train i2a` and `nextrl train vae_planner`: a tiny run writes its run folder and evaluates its deterministic
policy; `nextrl eval` on the folder (networks rebuilt from config.json, nested configs included) gives the same
greedy returns; the deterministic policies equal the networks' own mode / plan computed directly; nested config
keys (`--set a2c.gamma=0.9`, `--set model.latent=4`) parse, list in `--help` and are refused when misspelled."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from nextrl.agents.model_based import i2a, vae_planner
from nextrl.cli import main
from nextrl.experiments import train as runner

torch.set_num_threads(1)


def _sets(items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", item)]


def _table_rows(out: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in out.splitlines() if ln.count("│") == 4]
    return {c[0]: c for c in cells if c[0]}


def test_i2a_run_folder_evaluates_and_reloads(tmp_path, capsys):
    out = tmp_path / "run"
    sets = ["a2c.total_timesteps=640", "a2c.num_envs=4", "a2c.num_steps=8", "rollout_length=2", "a2c.gamma=0.95"]
    rc = main(["train", "i2a", "--env", "nextrl/CartPole-v1", "--eval-episodes", "4", "--out", str(out), *_sets(sets)])
    assert rc == 0
    assert {"config.json", "metrics.json", "episodes.csv", "final.pt", "learning_curve.png"} <= {
        p.name for p in out.iterdir()
    }
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["rollout_length"] == 2 and config["a2c"]["gamma"] == 0.95 and config["a2c"]["num_envs"] == 4
    assert config["a2c"]["ent_coef"] == 0.01  # I2AConfig's own a2c default, not A2CConfig's
    metrics = json.loads((out / "metrics.json").read_text())
    summary = metrics["summary"]
    assert summary["global_steps"] == 640 and len(metrics["updates"]) == 640 // (4 * 8)
    (final,) = metrics["evaluations"]
    assert len(final["returns"]) == 4 and all(1 <= r <= 500 for r in final["returns"])
    assert summary["eval_mean_return"] == pytest.approx(np.mean(final["returns"]), rel=1e-12)
    capsys.readouterr()
    assert main(["eval", str(out), "--episodes", "4"]) == 0
    assert f"{summary['eval_mean_return']:.2f}" in capsys.readouterr().out
    info, _, cfg, modules = runner.load_run(out)
    assert isinstance(cfg, i2a.I2AConfig) and cfg.a2c.gamma == 0.95 and cfg.rollout_length == 2
    env = runner.make_env("nextrl/CartPole-v1", 1)
    act = runner.deterministic_policy("i2a", modules, env.single_action_space, cfg)
    obs = np.random.default_rng(0).normal(0, 0.5, (64, 4)).astype(np.float32)
    with torch.no_grad():
        mode = modules["policy"].logits(torch.as_tensor(obs)).argmax(-1).numpy()
    np.testing.assert_array_equal(act(obs), mode)


def test_vae_planner_run_folder_evaluates_and_reloads(tmp_path, capsys):
    out = tmp_path / "run"
    sets = ["total_timesteps=240", "seed_steps=120", "num_envs=2", "model.latent=4", "population=20", "num_elites=4"]
    args = ["train", "vae_planner", "--env", "nextrl/Pendulum-v1", "--eval-episodes", "1", "--out", str(out)]
    rc = main([*args, *_sets(sets)])
    assert rc == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"]["latent"] == 4 and config["model"]["hidden"] == 64 and config["num_envs"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["summary"]["global_steps"] == 240
    (final,) = metrics["evaluations"]
    assert len(final["returns"]) == 1 and -2000 < final["returns"][0] < 0  # 200 steps, reward in [-16.3, 0]
    capsys.readouterr()
    assert main(["eval", str(out), "--episodes", "1"]) == 0
    assert f"{final['returns'][0]:.2f}" in capsys.readouterr().out  # the reloaded networks plan the same episode
    _, _, cfg, modules = runner.load_run(out)
    assert cfg.model.latent == 4 and modules["model"].cfg.latent == 4
    space = runner.make_env("nextrl/Pendulum-v1", 1).single_action_space
    act = runner.deterministic_policy("vae_planner", modules, space, cfg)
    obs = np.random.default_rng(1).normal(0, 0.5, (3, 3)).astype(np.float32)
    planned = vae_planner.plan_actions(
        modules["model"], modules["value"], obs, cfg.planner(), space.low, space.high, seed=0, round=1
    )
    np.testing.assert_array_equal(act(obs), planned.astype(np.float32))  # no exploration noise
    with pytest.raises(ValueError, match="vae_planner needs the run's config"):
        runner.deterministic_policy("vae_planner", modules, space)


def test_nested_keys_parse_list_and_refuse(capsys):
    _, cfg = runner.make_config("i2a", "nextrl/CartPole-v1", ["a2c.gamma=0.9", "a2c.num_steps=7", "model_lr=0.01"])
    assert (cfg.a2c.gamma, cfg.a2c.num_steps, cfg.a2c.num_envs, cfg.a2c.ent_coef, cfg.model_lr) == (
        0.9, 7, 16, 0.01, 0.01,
    )  # fmt: skip
    assert runner.config_value(cfg, "total_timesteps") == cfg.a2c.total_timesteps
    assert runner.replace_value(cfg, "total_timesteps", 0).a2c == cfg.a2c.__class__(
        **{**cfg.a2c.__dict__, "total_timesteps": 0}
    )
    assert runner.config_from_dict(i2a.I2AConfig, json.loads(json.dumps(dataclasses.asdict(cfg)))) == cfg
    with pytest.raises(ValueError, match=r"I2AConfig key 'total_timesteps'; did you mean 'a2c.total_timesteps'"):
        runner.make_config("i2a", "nextrl/CartPole-v1", ["total_timesteps=100"])
    with pytest.raises(ValueError, match=r"--set a2c.gamma: must be float, got 'x'"):
        runner.make_config("i2a", "nextrl/CartPole-v1", ["a2c.gamma=x"])
    with pytest.raises(ValueError, match=r"i2a needs a Discrete action space; nextrl/Pendulum-v1 has Box"):
        runner.prepare("i2a", "nextrl/Pendulum-v1")
    with pytest.raises(ValueError, match=r"vae_planner needs a Box action space; nextrl/CartPole-v1 has Discrete"):
        runner.prepare("vae_planner", "nextrl/CartPole-v1")
    assert main(["list", "algos"]) == 0
    out = capsys.readouterr().out
    lines = {n: next((ln for ln in out.splitlines() if f" {n} " in ln), "") for n in ("i2a", "vae_planner")}
    assert "Discrete" in lines["i2a"] and "Box" not in lines["i2a"] and "Box" in lines["vae_planner"]
    with pytest.raises(SystemExit):
        main(["train", "vae_planner", "--help"])
    rows = _table_rows(capsys.readouterr().out)
    assert rows["model.latent"][1] == "8" and rows["horizon"][1] == "5" and "model" not in rows
    assert list(rows) == runner.setting_keys(vae_planner.VAEPlannerConfig)


def test_nested_keys_start_from_the_preset(monkeypatch):
    """A preset holding a nested config (i2a's a2c): `--set a2c.ent_coef=...` changes that key of the preset's a2c,
    keeping its other values (not the A2CConfig defaults); without a preset the field's default is the start. Errors
    name the full nested key."""
    a2c_cls = type(i2a.I2AConfig().a2c)
    tuned = a2c_cls(gamma=0.9, num_steps=7)
    monkeypatch.setitem(runner.PRESETS, ("i2a", "CartPole-v1"), {"a2c": tuned, "model_lr": 0.02})
    _, cfg = runner.make_config("i2a", "nextrl/CartPole-v1", ["a2c.ent_coef=0.05"])
    assert cfg.a2c == dataclasses.replace(tuned, ent_coef=0.05) and cfg.model_lr == 0.02
    _, cfg = runner.make_config("i2a", "nextrl/Acrobot-v1", ["a2c.ent_coef=0.05"])  # no preset: the defaults
    assert cfg.a2c == dataclasses.replace(i2a.I2AConfig().a2c, ent_coef=0.05)
    with pytest.raises(ValueError, match=r"--set a2c.norm_adv: must be true or false, got 'maybe'"):
        runner.parse_overrides(i2a.I2AConfig, ["a2c.norm_adv=maybe"])
    with pytest.raises(ValueError, match=r"--set a2c.num_steps: must be int, got '2.5'"):
        runner.parse_overrides(i2a.I2AConfig, ["a2c.num_steps=2.5"])
