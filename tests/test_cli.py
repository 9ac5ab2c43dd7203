"""The `nextrl` command."""

import json
import subprocess
import sys

import pytest

import nextrl
from nextrl.cli import main


def test_info_json_matches_build_info(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info == json.loads(json.dumps(nextrl.build_info()))
    assert info["simd"] in info["simd_compiled"]
    assert info["threads"] >= 1


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "nextrl.cli", "info", "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["version"] == nextrl.__version__


def test_unknown_command_lists_choices(capsys):
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert "invalid choice" in capsys.readouterr().err


def test_bench_rejects_bad_threads(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--threads", "0"])
    assert "--threads must be >= 1" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"nextrl {nextrl.__version__}\n"


def test_list_algos_envs_experiments(capsys):
    from nextrl.experiments.runner import EXPERIMENTS
    from nextrl.experiments.train import ALGORITHMS

    assert main(["list", "algos"]) == 0
    out = capsys.readouterr().out
    lines = {name: next((ln for ln in out.splitlines() if f" {name} " in ln), "") for name in ALGORITHMS}
    assert all(lines.values()), out
    assert "Discrete" in lines["dqn"] and "Box" not in lines["dqn"] and "Box" in lines["sac"]
    assert main(["list", "envs"]) == 0
    out = capsys.readouterr().out
    for env_id in ("nextrl/CartPole-v1", "nextrl/GridWorld8x8-v0", "nextrl/FrozenLake-v0"):
        assert env_id in out
    assert "CartPole-v1 " not in out.replace("nextrl/CartPole-v1", "")  # Gymnasium's own ids only with --all
    assert main(["list", "envs", "--all"]) == 0
    assert " Pendulum-v1 " in capsys.readouterr().out
    assert main(["list", "experiments"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPERIMENTS)


def test_train_algo_help_lists_config_keys(capsys):
    import dataclasses

    from nextrl.agents.dqn import DQNConfig

    with pytest.raises(SystemExit) as e:
        main(["train", "dqn", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--eval-episodes" in out and "dqn settings (DQNConfig; --set KEY=VALUE)" in out
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in out.splitlines() if ln.count("│") == 4]
    rows = {c[0]: c for c in cells if c[0]}
    assert list(rows) == [f.name for f in dataclasses.fields(DQNConfig)]
    for f in dataclasses.fields(DQNConfig):
        default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else str(f.default)
        assert rows[f.name][1] == default, (f.name, rows[f.name])
    assert rows["learning_rate"][2].startswith("Adam")  # the field's docstring, first line


def test_train_help_shows_presets(capsys):
    with pytest.raises(SystemExit):
        main(["train", "ppo", "--env", "nextrl/CartPole-v1", "--help"])
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if " total_timesteps " in ln)
    assert "│ 100000 (preset) │" in row
    assert "preset on CartPole-v1" in out
    with pytest.raises(SystemExit):
        main(["train", "ppo", "--help"])  # without --env: the class default, presets listed below
    out = capsys.readouterr().out
    assert "500000" in next(ln for ln in out.splitlines() if " total_timesteps " in ln)
