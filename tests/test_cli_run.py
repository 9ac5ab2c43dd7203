"""`nextrl run`: --list names the experiments; a tiny run writes its folder and prints the table of what
metrics.json holds; every bad input is a usage error (exit 2) that says what to do, before anything trains."""

from __future__ import annotations

import json
import re

import pytest
import torch

from nextrl.cli import main
from nextrl.experiments import rl_core
from nextrl.experiments.runner import EXPERIMENTS

torch.set_num_threads(1)


def test_list(capsys):
    assert main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    assert "rl-core" in out and "Pendulum" in out and all(name in out for name in EXPERIMENTS)
    assert "rl-core: settings" in out and "cartpole_ppo_steps" in out and "500000" in out


def test_run_writes_folder_and_prints_table(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "run",
            "rl-core",
            "--quick",
            "--seeds",
            "2",
            "--set",
            "cases=cartpole/dqn",
            "--set",
            "cartpole_dqn_steps=300",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert {p.name for p in out.iterdir()} >= {"report.md", "metrics.json", "curves_nextrl_cartpole_v1.png"}
    m = json.loads((out / "metrics.json").read_text())
    assert m["seeds"] == [0, 1] and m["config"]["cartpole_dqn_steps"] == 300
    assert m["config"]["eval_episodes"] == rl_core.QUICK["eval_episodes"]
    printed = capsys.readouterr().out
    dqn = next(s for s in m["scores"] if s["agent"] == "dqn" and s["metric"] == "eval return")
    assert "nextrl run rl-core: 2 seeds" in printed and f"run folder: {out}" in printed
    row = next(line for line in printed.splitlines() if " dqn " in line and "eval return" in line)
    assert f"{dqn['iqm']['point']:.1f}" in row and f"[{dqn['iqm']['low']:.1f}, {dqn['iqm']['high']:.1f}]" in row
    md = (out / "report.md").read_text()
    assert (
        f"command: nextrl run rl-core --seeds 2 --quick --set cases=cartpole/dqn --set cartpole_dqn_steps=300 "
        f"--out {out}" in md
    )


@pytest.mark.parametrize(
    "argv,match",
    [
        (["run"], r"give an experiment NAME or --list; experiments: " + re.escape(", ".join(sorted(EXPERIMENTS)))),
        (
            ["run", "rl-cor"],
            r"unknown experiment 'rl-cor'; did you mean 'rl-core'\?.*Valid choices: "
            + re.escape(", ".join(sorted(EXPERIMENTS))),
        ),
        (["run", "rl-core", "--seeds", "0"], r"seeds must be an integer >= 1, got 0"),
        (["run", "rl-core", "--seeds", "two"], r"argument --seeds: invalid int value: 'two'"),
        (["run", "rl-core", "--threads", "0"], r"--threads must be >= 1, got 0"),
        (["run", "rl-core", "--set", "cartpole_ppo_steps"], r"--set must be key=value, got 'cartpole_ppo_steps'"),
        (["run", "rl-core", "--set", "lol=1"], r"unknown Config key 'lol'.*Valid choices: cases, cartpole_ppo_steps"),
        (["run", "rl-core", "--set", "cases=mountaincar/ppo"], r"rl-core: cases must be a non-empty list from"),
    ],
)
def test_errors(argv, match, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err


def test_non_empty_out_is_refused(tmp_path, capsys):
    (tmp_path / "report.md").write_text("an earlier run")
    with pytest.raises(SystemExit) as e:
        main(["run", "rl-core", "--quick", "--out", str(tmp_path)])
    assert e.value.code == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "report.md").read_text() == "an earlier run"
