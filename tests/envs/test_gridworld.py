"""GridWorld against the pure-Python reference (tests/reference/gridworld.py): step for step over
random actions with autoreset, every observation mode, the tabular model and its DP optimum."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nextrl  # noqa: F401  registers nextrl/ ids
from nextrl.envs.dp import value_iteration
from nextrl.envs.gridworld import GridWorldEnv, GridWorldVectorEnv, parse_layout
from reference.gridworld import GridWorldRef

LAYOUT = [
    "...#..G",
    ".#.#.X.",
    ".#...#.",
    "S..X...",
]


def _ref_from_layout(layout, **kw):
    width, height, cells, _, goal = parse_layout(layout)
    cells = cells.reshape(height, width)
    walls = [(x, y) for y in range(height) for x in range(width) if cells[y, x] == 1]
    pits = [(x, y) for y in range(height) for x in range(width) if cells[y, x] == 2]
    return GridWorldRef(width, height, walls, pits, goal, **kw)


@pytest.mark.parametrize("obs_mode", ["coords", "onehot", "image"])
def test_matches_reference_step_for_step(obs_mode, rng):
    kw = dict(goal_reward=2.0, step_penalty=0.05, pit_reward=-3.0, max_steps=30)
    num_envs = 6
    env = GridWorldVectorEnv(num_envs, layout=LAYOUT, start=None, obs_mode=obs_mode, view_radius=2, **kw)
    refs = [_ref_from_layout(LAYOUT, **kw) for _ in range(num_envs)]
    width = refs[0].width
    obs, _ = env.reset(seed=3)

    def ref_obs(ref):
        if obs_mode == "coords":
            return np.array(ref.pos, np.float32)
        if obs_mode == "onehot":
            return np.array(ref.onehot(), np.float32)
        return np.array(ref.image(2), np.float32)

    ids = env.state_ids()
    for i, ref in enumerate(refs):
        ref.reset((ids[i] % width, ids[i] // width))
    pending_reset = np.zeros(num_envs, bool)
    episodes = 0
    for _ in range(1000):
        actions = rng.integers(0, 4, num_envs)
        obs, rewards, terms, truncs, infos = env.step(actions)
        ids = env.state_ids()
        for i, ref in enumerate(refs):
            if pending_reset[i]:  # NEXT_STEP: this step reset env i; the start is random, so take it from ours
                ref.reset((ids[i] % width, ids[i] // width))
                assert rewards[i] == 0.0 and not terms[i] and not truncs[i]
            else:
                _, r, te, tr = ref.step(int(actions[i]))
                assert rewards[i] == pytest.approx(r, abs=1e-6)
                assert (terms[i], truncs[i]) == (te, tr)
            np.testing.assert_array_equal(obs[i], ref_obs(ref))
        pending_reset = terms | truncs
        episodes += int(pending_reset.sum())
        assert env.observation_space.contains(obs)
    assert episodes > 50  # the walk really crossed many episode ends, goals, pits and truncations


def test_transition_table_matches_reference():
    env = GridWorldVectorEnv(1, layout=LAYOUT)
    p, nxt, reward, terminal = env.transition_table()
    ref = _ref_from_layout(LAYOUT)
    S = ref.width * ref.height
    assert p.shape == (S, 4, 1)
    np.testing.assert_array_equal(p[..., 0], 1.0)
    for s in range(S):
        for a in range(4):
            ref.reset((s % ref.width, s // ref.width))
            (x, y), r, te, _ = ref.step(a)
            assert nxt[s, a, 0] == y * ref.width + x
            assert reward[s, a, 0] == pytest.approx(r)
            assert terminal[s, a, 0] == te


@pytest.mark.parametrize("size", [5, 8, 12])
def test_dp_optimum_on_open_grid_is_the_manhattan_path(size):
    penalty = 0.01
    env = GridWorldVectorEnv(1, width=size, height=size, step_penalty=penalty)
    sol = value_iteration(env.transition_table())
    steps = 2 * (size - 1)  # shortest path from (0, 0) to (size-1, size-1)
    assert sol.values[0] == pytest.approx(1.0 - (steps - 1) * penalty, abs=1e-6)
    # following the greedy policy reaches the goal in exactly that many steps
    obs, _ = env.reset(seed=0)
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(sol.policy[env.state_ids()])
    assert term[0] and r[0] == pytest.approx(1.0)


def test_registered_ids_build_both_apis():
    single = gym.make("nextrl/GridWorld8x8-v0")
    assert isinstance(single.unwrapped, GridWorldEnv)
    vec = gym.make_vec("nextrl/GridWorld8x8-v0", num_envs=7)
    assert isinstance(vec, GridWorldVectorEnv) and vec.num_envs == 7
    assert vec.single_observation_space.shape == (64,)


def test_walls_block_and_border_holds():
    env = GridWorldEnv(layout=["S#G"])
    env.reset(seed=0)
    obs, r, term, trunc, _ = env.step(3)  # into the wall: stays
    np.testing.assert_array_equal(obs, [0.0, 0.0])
    obs, *_ = env.step(2)  # into the border: stays
    np.testing.assert_array_equal(obs, [0.0, 0.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(width=0), "width and height"),
        (dict(goal=(9, 9)), "goal"),
        (dict(start=(5, 0)), "start"),
        (dict(layout=["S.", "#"]), "equal length"),
        (dict(layout=["S?G"]), "layout character"),
        (dict(width=3, height=1, start=(2, 0), goal=(2, 0)), "start cell must be free and differ"),
        (dict(max_steps=-1), "max_steps"),
        (dict(view_radius=40), "view_radius"),
        (dict(goal_reward=float("nan")), "finite"),
    ],
)
def test_bad_config_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GridWorldVectorEnv(2, **kwargs)


def test_unknown_obs_mode_names_the_choices():
    with pytest.raises(ValueError, match="unknown obs_mode 'onehto'; did you mean 'onehot'"):
        GridWorldVectorEnv(2, obs_mode="onehto")
