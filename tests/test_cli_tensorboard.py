"""`nextrl train --tensorboard`: event files in the run folder hold every logged scalar at its global step, read
back with TensorBoard's EventAccumulator; without TensorBoard installed the flag is a one-line error that names
the extra."""

from __future__ import annotations

import csv
import json
import sys

import pytest
import torch

from nextrl.cli import main

torch.set_num_threads(1)
pytest.importorskip("tensorboard")


def _scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep every event
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize(
    "algo,env_id,sets",
    [
        ("a2c", "CartPole-v1", ["total_timesteps=256", "num_envs=2", "num_steps=16", "hidden=8"]),
        ("dqn", "CartPole-v1", ["total_timesteps=300", "learning_starts=100", "buffer_size=500", "hidden=8"]),
    ],
)
def test_event_files_hold_the_logged_scalars(algo, env_id, sets, tmp_path):
    out = tmp_path / "run"
    argv = ["train", algo, "--env", env_id, *[a for kv in sets for a in ("--set", kv)], "--out", str(out)]
    assert main([*argv, "--tensorboard", "--eval-episodes", "2", "--eval-every", "128"]) == 0
    assert list(out.glob("events.out.tfevents.*"))
    scalars = _scalars(out)
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    keys = [k for k in rows[0] if k != "global_step"]
    assert {"charts/sps", "charts/episode_return", "eval/mean_return"} <= set(scalars)
    for key in keys:  # every update's metric at its step (float32 in the event file)
        expected = [(int(r["global_step"]), float(r[key])) for r in rows if r[key] != ""]
        assert [s for s, _ in scalars[key]] == [s for s, _ in expected], key
        assert [v for _, v in scalars[key]] == pytest.approx([v for _, v in expected], rel=1e-6), key
    if algo == "dqn":  # the off-policy loop logs each finished episode (episodes.csv), not a mean per update
        episodes = list(csv.DictReader((out / "episodes.csv").read_text().splitlines()))
        assert scalars["charts/episode_return"] == [(int(e["end_step"]), float(e["return"])) for e in episodes]
    evals = json.loads((out / "metrics.json").read_text())["evaluations"]
    assert [s for s, _ in scalars["eval/mean_return"]] == [e["global_step"] for e in evals]
    assert [v for _, v in scalars["eval/mean_return"]] == pytest.approx([e["mean_return"] for e in evals], rel=1e-6)


def test_missing_tensorboard_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when not installed
    out = tmp_path / "run"
    argv = ["train", "a2c", "--env", "CartPole-v1", "--set", "total_timesteps=64", "--out", str(out), "--tensorboard"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'nextrl[tensorboard]'" in err, err
    assert not out.exists()  # nothing trained or written
