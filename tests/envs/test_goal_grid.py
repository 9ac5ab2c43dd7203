"""GoalGridWorld: GoalEnv Dict observations, rewards equal compute_reward (checked against the pure-Python
reference, also for relabelled goals), goals drawn uniformly over free cells, dynamics with walls."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from scipy import stats

from nextrl.envs.goal_grid import GoalGridWorldVectorEnv, compute_reward
from reference.grid_envs import goal_reward, goal_step

LAYOUT = ["..#...", "..#.#.", "S...#.", "..#..."]
WALLS = {(x, 3 - row) for row, r in enumerate(LAYOUT) for x, ch in enumerate(r) if ch == "#"}


@pytest.mark.parametrize("reward_type", ["sparse", "dense"])
def test_compute_reward_matches_reference(reward_type, rng):
    achieved = rng.integers(0, 4, (64, 7, 2)).astype(np.float32)
    desired = rng.integers(0, 4, (64, 7, 2)).astype(np.float32)
    got = compute_reward(achieved, desired, None, reward_type=reward_type)
    expected = [
        [goal_reward(achieved[b, t], desired[b, t], reward_type == "dense") for t in range(7)] for b in range(64)
    ]
    assert got.dtype == np.float32 and got.shape == (64, 7)
    np.testing.assert_array_equal(got, expected)
    assert (got == 0).any() and (got < 0).any()


@pytest.mark.parametrize("reward_type", ["sparse", "dense"])
def test_steps_match_reference_and_compute_reward(reward_type):
    env = GoalGridWorldVectorEnv(16, layout=LAYOUT, reward_type=reward_type, max_steps=40)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(1)
    pos = [tuple(p) for p in obs["observation"].astype(int)]
    goals = obs["desired_goal"].copy()
    done = np.zeros(16, bool)
    successes = 0
    for t in range(300):
        a = rng.integers(0, 4, 16)
        obs, r, term, trunc, info = env.step(a)
        np.testing.assert_array_equal(obs["observation"], obs["achieved_goal"])
        # The GoalEnv invariant: the reward is compute_reward of the new achieved / desired goals (except on
        # NEXT_STEP reset steps, whose reward is 0).
        live = ~done
        np.testing.assert_array_equal(
            r[live], env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)[live]
        )
        np.testing.assert_array_equal(
            term[live], env.compute_terminated(obs["achieved_goal"], obs["desired_goal"], info)[live]
        )
        for i in range(16):
            if done[i]:  # NEXT_STEP reset step: a new goal, start (0, 1)
                pos[i], goals[i] = (0, 1), obs["desired_goal"][i]
                assert r[i] == 0 and not term[i]
                continue
            pos[i] = goal_step(pos[i], int(a[i]), 6, 4, WALLS)
            np.testing.assert_array_equal(obs["achieved_goal"][i], pos[i], err_msg=f"env {i} step {t}")
            np.testing.assert_array_equal(obs["desired_goal"][i], goals[i])
            assert r[i] == goal_reward(pos[i], goals[i], reward_type == "dense")
            assert info["is_success"][i] == float(tuple(goals[i]) == pos[i]) == float(term[i])
        successes += int(term.sum())
        done = term | trunc
    assert successes > 5


def test_goals_uniform_over_free_cells():
    env = GoalGridWorldVectorEnv(6000, layout=LAYOUT)
    obs, _ = env.reset(seed=0)
    goals = obs["desired_goal"].astype(int)
    free = [(x, y) for y in range(4) for x in range(6) if (x, y) not in WALLS and (x, y) != (0, 1)]
    counts = np.array([np.sum((goals[:, 0] == x) & (goals[:, 1] == y)) for x, y in free])
    assert counts.sum() == 6000  # never on a wall or on the start
    assert stats.chisquare(counts).pvalue > 1e-3


def test_hindsight_relabelling_and_same_step_final_obs():
    env = GoalGridWorldVectorEnv(8, width=3, height=3, autoreset_mode=AutoresetMode.SAME_STEP, max_steps=4)
    obs, _ = env.reset(seed=3)
    traj = [obs]
    for _ in range(4):
        obs, r, term, trunc, info = env.step(np.full(8, 3))
        traj.append(obs)
    achieved = np.stack([o["achieved_goal"] for o in traj[1:]], 1)  # [8, T, 2]
    # Relabelling with the final achieved goal rewards the last step of every env with 0.
    relabelled = env.compute_reward(achieved, np.repeat(achieved[:, -1:], 4, 1), None)
    assert np.all(relabelled[:, -1] == 0)
    assert "final_obs" in info and set(info["final_obs"][np.flatnonzero(info["_final_obs"])[0]]) == {
        "observation",
        "achieved_goal",
        "desired_goal",
    }


def test_registered():
    import gymnasium as gym

    env = gym.make("nextrl/GoalGridWorld-v0")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    assert env.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}) == -1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(layout=["S#.", ".#.", ".#."]), "free cells must be connected"),
        (dict(layout=["S.Q"]), "layout character 'Q'"),
        (dict(layout=["S.", "."]), "layout must be non-empty rows of equal length"),
        (dict(width=1, height=1), "needs at least 2 free cells, got 1"),
        (dict(start=(9, 0)), r"start \(9, 0\) must be a free cell"),
        (dict(reward_type="shaped"), "unknown reward_type 'shaped'"),
        (dict(max_steps=-1), "max_steps must be >= 0"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GoalGridWorldVectorEnv(2, **kwargs)


def test_compute_reward_errors():
    with pytest.raises(ValueError, match=r"same shape \(\.\.\., 2\), got \(3, 2\) and \(3, 3\)"):
        compute_reward(np.zeros((3, 2)), np.zeros((3, 3)))
