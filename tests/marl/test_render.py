"""Rendering of every multi-agent env (nextrl.envs.render): frames of the batched envs and of the PettingZoo
ParallelEnvs on the registry of tests/env_harness.py (a new env without rendering fails here), drawings
that follow the state (PredatorPrey's predators from the observations, MatrixGame's joint action,
TargetCollection's text), and the errors."""

from __future__ import annotations

import numpy as np
import pytest

from env_harness import MULTI_AGENT, random_actions
from nextrl.envs import render
from nextrl.marl import (
    MatrixGameVectorEnv,
    PredatorPreyVectorEnv,
    TargetCollectionVectorEnv,
    matrix_games,
    predator_prey,
)
from nextrl.marl.parallel import MarlParallelEnv


@pytest.mark.parametrize("case", MULTI_AGENT, ids=str)
def test_rgb_array_frames_follow_the_state(case):
    env = case.make_vec(2, render_mode="rgb_array")
    assert {"rgb_array", "human"} <= set(env.metadata["render_modes"]) and env.metadata["render_fps"] > 0
    env.reset(seed=3)
    before = env.render()
    assert isinstance(before, tuple) and len(before) == 2
    assert all(f.ndim == 3 and f.shape[2] == 3 and f.dtype == np.uint8 for f in before)
    assert before[0].shape == before[1].shape and before[0].shape[0] % 2 == 0 and before[0].shape[1] % 2 == 0
    rng = np.random.default_rng(0)
    changed = False
    for _ in range(30):
        env.step(random_actions(rng, env.single_action_space, (2, env.num_agents), overshoot=1.0))
        after = env.render()
        if not np.array_equal(before[0], after[0]):
            changed = True
            break
    assert changed, f"{case}: the frame did not change in 30 steps"
    # the ParallelEnv draws what a batch of one draws
    par = MarlParallelEnv(case.vec_cls, render_mode="rgb_array", **case.config)  # what every parallel_env builds
    assert par.metadata["render_modes"] == env.metadata["render_modes"]
    par.reset(seed=3)
    one = case.make_vec(1, render_mode="rgb_array")
    one.reset(seed=3)
    np.testing.assert_array_equal(par.render(), one.render()[0])
    np.testing.assert_array_equal(par.render(), before[0])


def test_predators_are_drawn_in_their_observed_cells():
    env = PredatorPreyVectorEnv(3, render_mode="rgb_array", num_predators=3, num_prey=1, grid_size=6)
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(2)
    for _ in range(5):
        for i, frame in enumerate(env.render()):
            cell = frame.shape[0] // 6
            for k in range(3):  # observations start with the agent's own [x / G, y / G]
                x, y = (round(float(v) * 6) for v in obs[i, k, :2])
                assert tuple(frame[(5 - y) * cell + cell // 2, x * cell + cell // 2]) == render.RED
            text = env.render_env(i, mode="ansi").splitlines()
            for k in range(3):
                x, y = (round(float(v) * 6) for v in obs[i, k, :2])
                assert text[5 - y][x] == "P"
        obs, *_ = env.step(rng.integers(5, size=(3, 3)))


def test_matrix_game_frames_the_last_joint_action():
    env = MatrixGameVectorEnv(1, render_mode="rgb_array", game="penalty", rounds=3)
    env.reset(seed=0)
    (first,) = env.render()
    cell = first.shape[0] // 3
    assert not np.any(np.all(first == render.BLACK, axis=-1))  # no round played yet: no frame
    env.step(np.array([[2, 0]]))  # player 0 plays c (row 2), player 1 plays a (column 0)
    (frame,) = env.render()
    black = np.all(frame == render.BLACK, axis=-1)
    rows, cols = np.nonzero(black)
    assert rows.min() == 2 * cell and rows.max() == 3 * cell - 1 and cols.min() == 0 and cols.max() == cell - 1
    # penalty game: (c, a) pays k = -10 to both (the table's lowest), (a, a) pays 10 (the highest)
    assert tuple(frame[2 * cell + cell // 2, cell // 4]) == render.RED
    assert tuple(frame[cell // 2, cell // 4]) == render.GREEN


def test_target_collection_ansi_names_agents_and_targets():
    env = TargetCollectionVectorEnv(1, render_mode="ansi", grid_size=4, num_agents=2, num_targets=1)
    obs, _ = env.reset(seed=1)
    (text,) = env.render()
    lines = text.splitlines()
    assert len(lines) == 4 and all(len(line) == 4 for line in lines) and text.endswith("\n")
    for k in range(2):
        x, y = (round(float(v) * 4) for v in obs[0, k, :2])
        assert lines[3 - y][x] == str(k)
    assert text.count("T") == 1
    # the target's cell: own [x, y] / G plus its offset [dx, dy] / G (after own 2 and the other agent's 2)
    tx, ty = (round(float(obs[0, 0, i] + obs[0, 0, 4 + i]) * 4) for i in range(2))
    assert lines[3 - ty][tx] == "T"


def test_bad_render_mode_names_the_valid_modes():
    with pytest.raises(
        ValueError, match=r"MatrixGameVectorEnv: render_mode must be None or one of 'rgb_array', 'human',"
    ):
        MatrixGameVectorEnv(1, render_mode="ansi")
    with pytest.raises(ValueError, match=r"MarlParallelEnv: .* 'rgb_array', 'human', 'ansi', got 'svg'"):
        predator_prey.parallel_env(render_mode="svg")


def test_parallel_env_factories_take_render_mode():
    env = matrix_games.two_step_parallel_env(render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (128, 384, 3)
    assert predator_prey.parallel_env(grid_size=4).render() is None


def test_parallel_env_human_mode(monkeypatch):
    pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    env = predator_prey.parallel_env(render_mode="human", grid_size=4)
    env.reset(seed=0)
    assert env._window is not None and env.render() is None
    env.step(dict.fromkeys(env.agents, 0))
    env.close()
    assert env._window is None
