"""Every user error of the `nextrl` command is exactly one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

from nextrl.cli import main
from nextrl.experiments import train as runner

torch.set_num_threads(1)

CARTPOLE = ["train", "ppo", "--env", "CartPole-v1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "a2c"
    runner.run(
        "a2c",
        "CartPole-v1",
        overrides=["total_timesteps=64", "num_envs=2", "num_steps=8"],
        out_dir=out,
        eval_episodes=1,
    )
    return out


CASES = [
    ([], r"nextrl: error: the following arguments are required: command"),
    (["frobnicate"], r"invalid choice: 'frobnicate'"),
    (["list"], r"the following arguments are required: what"),
    (["list", "env"], r"argument what: invalid choice: 'env'"),
    (["train", "ppo"], r"the following arguments are required: --env"),
    (
        ["train", "ppoo", "--env", "CartPole-v1"],
        r"unknown algorithm 'ppoo'; did you mean 'ppo' or 'trpo'\? Valid choices: a2c,",
    ),
    (["train", "ppoo", "--help"], r"unknown algorithm 'ppoo'"),
    (["train", "ppo", "--env", "CartPol-v1"], r"unknown env id 'CartPol-v1'; did you mean 'CartPole-v1'"),
    (["train", "dqn", "--env", "Pendulum-v1"], r"dqn needs a Discrete action space; Pendulum-v1 has Box\(-2.0, 2.0"),
    (["train", "sac", "--env", "CartPole-v1"], r"sac needs a Box action space; CartPole-v1 has Discrete\(2\)"),
    (["train", "td3", "--env", "nextrl/GridWorld8x8-v0"], r"td3 needs a Box action space"),
    ([*CARTPOLE, "--set", "lerning_rate=1"], r"unknown PPOConfig key 'lerning_rate'; did you mean 'learning_rate'"),
    ([*CARTPOLE, "--set", "learning_rate=fast"], r"--set learning_rate: must be float, got 'fast'"),
    ([*CARTPOLE, "--set", "num_steps"], r"--set must be key=value, got 'num_steps'"),
    ([*CARTPOLE, "--set", "num_minibatches=0"], r"PPOConfig: num_steps, num_minibatches and update_epochs must be"),
    ([*CARTPOLE, "--set", "gamma=2"], r"PPOConfig: gamma and gae_lambda must be in \[0, 1\]"),
    ([*CARTPOLE, "--seed", "x"], r"argument --seed: invalid int value: 'x'"),
    ([*CARTPOLE, "--seed", "-1"], r"--seed: seed must be in \[0, 2\*\*64\), got -1"),
    (["eval", "{run}", "--seed", "-1"], r"--seed: seed must be in \[0, 2\*\*64\), got -1"),
    ([*CARTPOLE, "--threads", "0"], r"--threads must be >= 1, got 0"),
    ([*CARTPOLE, "--eval-episodes", "-1"], r"--eval-episodes must be >= 0, got -1"),
    ([*CARTPOLE, "--eval-every", "0"], r"--eval-every must be >= 1 env steps, got 0"),
    ([*CARTPOLE, "--eval-every", "100", "--eval-episodes", "0"], r"--eval-every needs --eval-episodes >= 1"),
    (["eval"], r"the following arguments are required: RUN_DIR"),
    (["eval", "{tmp}/nowhere"], r"nowhere has no config.json: give a run folder written by nextrl train"),
    (["eval", "{run}", "--checkpoint", "best"], r"has no best.pt \(best.pt is written only with --eval-every\)"),
    (["eval", "{run}", "--episodes", "0"], r"--episodes must be >= 1, got 0"),
    (["eval", "{run}", "--checkpoint", "last"], r"argument --checkpoint: invalid choice: 'last'"),
    (["bench", "--threads", "0"], r"--threads must be >= 1, got 0"),
    (["run", "rl-cor"], r"unknown experiment 'rl-cor'"),
]


@pytest.mark.parametrize("argv,match", CASES, ids=[" ".join(a) or "(none)" for a, _ in CASES])
def test_one_line_error(argv, match, run_dir, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{run}", str(run_dir)) for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.endswith("\n"), (out, err)
    assert re.search(match, err), err
    assert "Traceback" not in err


def test_checkpoint_that_does_not_fit(run_dir, tmp_path, capsys):
    """A run folder whose config no longer matches its checkpoint (hidden sizes edited): one line, exit 2."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "final.pt").write_bytes((run_dir / "final.pt").read_bytes())
    info = json.loads((run_dir / "config.json").read_text())
    info["config"]["hidden"] = [7]
    (bad / "config.json").write_text(json.dumps(info))
    with pytest.raises(SystemExit) as e:
        main(["eval", str(bad)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "final.pt does not fit a2c's networks" in err, err


def test_console_script_error_is_one_line():
    """The installed entry point, as a user types it: no traceback reaches the terminal."""
    p = subprocess.run(
        [sys.executable, "-m", "nextrl.cli", "train", "dqn", "--env", "Pendulum-v1"], capture_output=True, text=True
    )
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [
        "nextrl train: error: dqn needs a Discrete action space; Pendulum-v1 has Box(-2.0, 2.0, (1,), float32)"
    ]
