"""PredatorPrey against the pure-Python reference (tests/reference/marl_grids.py), step for step through
autoresets, for scripted and learning prey; capture rule, shaping, observations and errors by hand."""

from __future__ import annotations

import numpy as np
import pytest

from env_harness import check_marl_against_reference
from nextrl.marl import PredatorPreyVectorEnv
from reference.marl_grids import PredatorPreyRef

CONFIGS = [
    dict(num_predators=2, num_prey=1, grid_size=4, max_steps=25),
    dict(num_predators=3, num_prey=2, grid_size=5, max_steps=30, prey_policy="learning", shaping=0.5),
    dict(
        num_predators=3,
        num_prey=3,
        grid_size=5,
        max_steps=20,
        capture_radius=1,
        capture_min_predators=2,
        shaping=0.25,
        capture_reward=5.0,
    ),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_reference(config, rng):
    env = PredatorPreyVectorEnv(6, **config)
    episodes = check_marl_against_reference(env, lambda: PredatorPreyRef(**config), seed=11, steps=150, rng=rng)
    assert episodes >= 6  # the run went through resets


def test_layout_and_groups():
    env = PredatorPreyVectorEnv(1, num_predators=2, num_prey=2, prey_policy="learning", grid_size=7)
    assert env.possible_agents == ["predator_0", "predator_1", "prey_0", "prey_1"]
    assert env.groups == {"predator": slice(0, 2), "prey": slice(2, 4)}
    assert env.obs_size == 2 + 3 * 3 and env.state_space.shape == (12,)
    obs, infos = env.reset(seed=3)
    state = infos["state"][0].reshape(4, 3)
    np.testing.assert_allclose(obs[0, :, :2], state[:, :2], atol=0)
    # predator_0 sees predator_1, prey_0, prey_1 relative to itself, each with alive = 1
    rel = obs[0, 0, 2:].reshape(3, 3)
    np.testing.assert_allclose(rel[:, :2], state[1:, :2] - state[0, :2], atol=1e-6)
    np.testing.assert_array_equal(rel[:, 2], 1)
    cells = {tuple(np.round(s[:2] * 7).astype(int)) for s in state}
    assert len(cells) == 4  # distinct starts
    scripted = PredatorPreyVectorEnv(1, num_predators=2, num_prey=3)
    assert scripted.possible_agents == ["predator_0", "predator_1"] and scripted.obs_size == 2 + 3 * 4


def test_capture_terminates_prey_and_pays_team():
    # By hand: in an env whose start has prey_0 just right of predator_0, predator_0 steps onto it.
    env = PredatorPreyVectorEnv(
        1000, num_predators=2, num_prey=2, prey_policy="learning", grid_size=6, capture_reward=10.0
    )
    obs, infos = env.reset(seed=5)
    s = np.round(infos["state"].reshape(1000, 4, 3)[..., :2] * 6).astype(int)
    i = next(i for i in range(1000) if s[i, 2, 1] == s[i, 0, 1] and s[i, 2, 0] == s[i, 0, 0] + 1)
    actions = np.zeros((1000, 4), np.int64)
    actions[i, 0] = 4  # predator_0 steps right onto prey_0; everyone else stays
    obs2, r, te, tr, infos = env.step(actions)
    np.testing.assert_array_equal(r[i], [10, 10, -10, 0])
    np.testing.assert_array_equal(te[i], [False, False, True, False])
    np.testing.assert_array_equal(infos["active"][i], [True, True, False, True])
    assert infos["captures"][i] == 1 and infos["prey_left"][i] == 1
    np.testing.assert_array_equal(obs2[i, 0, 2 + 3 : 2 + 6], 0)  # prey_0 is gone from predator_0's view
    frozen = obs2[i, 2].copy()
    obs3, r, te, _, _ = env.step(actions * 0 + 1)  # everybody up; prey_0 is out and its action is ignored
    np.testing.assert_array_equal(obs3[i, 2], frozen)
    assert r[i, 2] == 0 and not te[i, 2]


def test_shaping_is_a_potential_difference():
    env = PredatorPreyVectorEnv(
        1, num_predators=1, num_prey=1, grid_size=8, prey_policy="learning", shaping=0.5, capture_reward=0.0
    )
    _, infos = env.reset(seed=2)
    p, q = np.round(infos["state"][0].reshape(2, 3)[:, :2] * 8).astype(int)
    d0 = abs(p - q).sum()
    # predator moves toward the prey along x (or y), prey stays
    a = (4 if q[0] > p[0] else 3) if q[0] != p[0] else (1 if q[1] > p[1] else 2)
    _, r, _, _, infos = env.step(np.array([[a, 0]]))
    p2 = np.round(infos["state"][0].reshape(2, 3)[0, :2] * 8).astype(int)
    d1 = abs(p2 - q).sum()
    assert d1 == d0 - 1
    np.testing.assert_allclose(r[0], [0.5, -0.5])


def test_scripted_prey_move_uniformly():
    env = PredatorPreyVectorEnv(2000, num_predators=1, num_prey=1, grid_size=64, capture_reward=0.0)
    _, infos = env.reset(seed=0)
    before = infos["state"].reshape(-1, 2, 3)[:, 1, :2] * 64
    _, _, _, _, infos = env.step(np.zeros((2000, 1), np.int64))
    d = np.round(infos["state"].reshape(-1, 2, 3)[:, 1, :2] * 64 - before).astype(int)
    inner = (before.min(1) >= 1) & (before.max(1) <= 62)
    moves = {(0, 0): 0, (0, 1): 1, (0, -1): 2, (-1, 0): 3, (1, 0): 4}
    counts = np.bincount([moves[tuple(v)] for v in d[inner]], minlength=5)
    expected = inner.sum() / 5
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 18.5  # chi-square, 4 dof, p = 0.001


def test_predator_prey_errors():
    with pytest.raises(ValueError, match="unknown prey_policy 'learnin'; did you mean 'learning'"):
        PredatorPreyVectorEnv(1, prey_policy="learnin")
    with pytest.raises(ValueError, match="do not fit on distinct cells"):
        PredatorPreyVectorEnv(1, num_predators=3, num_prey=2, grid_size=2)
    with pytest.raises(ValueError, match=r"capture_min_predators must be in \[1, num_predators = 2\], got 3"):
        PredatorPreyVectorEnv(1, capture_min_predators=3)
    with pytest.raises(ValueError, match="grid_size must be in"):
        PredatorPreyVectorEnv(1, grid_size=1)
    env = PredatorPreyVectorEnv(3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[2, 1\] \(agent 'predator_1'\) must be in \[0, 5\)"):
        env.step(np.array([[0, 0], [0, 0], [0, 5]]))
