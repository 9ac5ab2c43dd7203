"""RobustGridWorld: parameters drawn per env from their ranges or fixed through reset options and reported
in infos, the goal always reachable, dynamics against the pure-Python reference, noise statistics."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from scipy import stats

from nextrl.envs.robust_grid import RobustGridWorldEnv, RobustGridWorldVectorEnv
from reference.grid_envs import RobustGrid


def _reachable(blocked: np.ndarray, size: int) -> bool:
    """BFS from (0, 0) to (size - 1, size - 1) over the unblocked cells of blocked[y, x]."""
    seen, todo = {(0, 0)}, deque([(0, 0)])
    while todo:
        x, y = todo.popleft()
        if (x, y) == (size - 1, size - 1):
            return True
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < size and 0 <= ny < size and not blocked[ny, nx] and (nx, ny) not in seen:
                seen.add((nx, ny))
                todo.append((nx, ny))
    return False


def test_obstacles_interior_and_goal_reachable():
    """Up to a full interior ((size - 2)^2 obstacles): obstacles only inside, exactly num_obstacles of
    them, none outside the episode's grid, and BFS always finds the goal."""
    env = RobustGridWorldVectorEnv(400, size=(3, 8), num_obstacles=(0, 36))
    for seed in range(5):
        _, info = env.reset(seed=seed)
        blocked = env.obstacles()
        for i in range(env.num_envs):
            s, k = int(info["size"][i]), int(info["num_obstacles"][i])
            assert k == min(k, (s - 2) ** 2) and blocked[i].sum() == k
            assert not blocked[i, 0, :].any() and not blocked[i, :, 0].any()
            assert not blocked[i, s - 1 :, :].any() and not blocked[i, :, s - 1 :].any()
            assert _reachable(blocked[i], s)
    # Dense draws happen: some grids have a completely filled interior.
    assert any(info["num_obstacles"][i] == (info["size"][i] - 2) ** 2 > 0 for i in range(env.num_envs))


def test_draws_cover_their_ranges():
    env = RobustGridWorldVectorEnv(
        3000,
        size=(4, 6),
        obs_noise=(0.1, 0.2),
        action_failure_prob=(0.0, 0.3),
        reward_noise=(0.5, 0.5),
        num_obstacles=(1, 3),
    )
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(np.unique(info["size"]), [4, 5, 6])
    np.testing.assert_array_equal(np.unique(info["num_obstacles"]), [1, 2, 3])
    assert stats.chisquare(np.bincount(info["size"].astype(int))[4:]).pvalue > 1e-3
    for name, lo, hi in (("obs_noise", 0.1, 0.2), ("action_failure_prob", 0.0, 0.3)):
        assert lo <= info[name].min() and info[name].max() < hi
        assert stats.kstest((info[name] - lo) / (hi - lo), "uniform").pvalue > 1e-3
    np.testing.assert_array_equal(info["reward_noise"], 0.5)
    # Redrawn at every reset.
    _, info2 = env.reset()
    assert not np.array_equal(info["obs_noise"], info2["obs_noise"])


def test_reset_options_fix_params_per_env():
    env = RobustGridWorldVectorEnv(4)
    sizes = np.array([3, 5, 6, 7])
    _, info = env.reset(seed=0, options={"params": {"size": sizes, "obs_noise": 0.0, "num_obstacles": [0, 1, 2, 3]}})
    np.testing.assert_array_equal(info["size"], sizes)
    np.testing.assert_array_equal(info["obs_noise"], 0.0)
    np.testing.assert_array_equal(info["num_obstacles"], [0, 1, 2, 3])
    assert np.all((info["action_failure_prob"] >= 0) & (info["action_failure_prob"] < 0.1))  # still drawn
    # Reported at every step, and used: with obs_noise 0 the observation is exact.
    obs, _, _, _, info = env.step(np.zeros(4, np.int64))
    np.testing.assert_array_equal(info["size"], sizes)
    np.testing.assert_allclose(obs[:, 4], sizes / 10, rtol=1e-6)
    # Only the masked envs take options, and only for one reset.
    mask = np.array([True, False, True, False])
    _, info = env.reset(options={"params": {"size": 4}, "reset_mask": mask})
    np.testing.assert_array_equal(info["size"][mask], 4)
    np.testing.assert_array_equal(info["size"][~mask], sizes[~mask])
    _, info = env.reset(seed=1)
    assert not np.all(info["obs_noise"] == 0.0)
    # The single env takes scalars.
    single = RobustGridWorldEnv()
    _, info = single.reset(seed=0, options={"params": {"size": 6, "reward_noise": 0.25}})
    assert (info["size"], info["reward_noise"]) == (6.0, 0.25)


def test_matches_reference_noise_free():
    """No noise, no failures: every step equals the reference on the env's own obstacle map."""
    env = RobustGridWorldVectorEnv(
        8, size=(4, 8), num_obstacles=(0, 6), obs_noise=0.0, action_failure_prob=0.0, reward_noise=0.0, max_steps=60
    )
    rng = np.random.default_rng(0)
    ends = 0
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        blocked = env.obstacles()
        refs = [
            RobustGrid(int(info["size"][i]), {(int(x), int(y)) for y, x in zip(*np.nonzero(blocked[i]))})
            for i in range(env.num_envs)
        ]
        for i, ref in enumerate(refs):
            np.testing.assert_allclose(obs[i], ref.obs(), rtol=1e-6)
        alive = np.ones(env.num_envs, bool)
        for t in range(60):
            a = rng.choice(4, size=env.num_envs, p=[0.4, 0.1, 0.1, 0.4])
            obs, r, term, trunc, _ = env.step(a)
            for i in np.flatnonzero(alive):
                ref_obs, ref_r, ref_term = refs[i].step(int(a[i]))
                np.testing.assert_allclose(obs[i], ref_obs, rtol=1e-6, atol=1e-7, err_msg=f"env {i} step {t}")
                assert r[i] == pytest.approx(ref_r, rel=1e-6) and term[i] == ref_term
                assert trunc[i] == (not ref_term and t == 59)
            ends += int(term[alive].sum())
            alive &= ~(term | trunc)
    assert ends > 5


def test_failures_and_noise_statistics():
    """action_failure_prob = 0.3: the fraction of 'right' actions that leave the agent in place is
    binomial(0.3); obs and reward noise have the configured standard deviations."""
    n = 4000
    env = RobustGridWorldVectorEnv(n, size=6, num_obstacles=0, obs_noise=0.0, reward_noise=0.0, action_failure_prob=0.3)
    env.reset(seed=0)
    env.step(np.full(n, 3))
    stayed = int((env.positions()[:, 0] == 0).sum())
    assert stats.binomtest(stayed, n, 0.3).pvalue > 1e-3
    sigma_o, sigma_r = 0.2, 0.7
    env = RobustGridWorldVectorEnv(
        n, size=6, num_obstacles=0, obs_noise=sigma_o, reward_noise=sigma_r, action_failure_prob=0.0
    )
    env.reset(seed=1)
    obs, r, *_ = env.step(np.full(n, 3))  # all move to (1, 0)
    clean = np.array(RobustGrid(6, set()).step(3)[0])
    noise = (obs - clean).ravel()
    assert stats.kstest(noise / sigma_o, "norm").pvalue > 1e-3
    assert stats.kstest((r - (-0.1 - 0.01 * 9)) / sigma_r, "norm").pvalue > 1e-3


@pytest.mark.parametrize(
    "params, exc, match",
    [
        ({"sizes": 5}, ValueError, "unknown options\\['params'\\] key 'sizes'; did you mean 'size'"),
        ({"size": 2}, ValueError, r"env 0: size must be in \[3, max_size\]"),
        ({"size": 8}, ValueError, r"env 0: size must be in \[3, max_size\]"),
        ({"size": 4.0}, TypeError, r"options\['params'\]\['size'\] must be integers"),
        ({"size": [5, 6]}, ValueError, r"must be a scalar or have shape \(3,\), got \(2,\)"),
        ({"obs_noise": -0.1}, ValueError, "env 0: obs_noise must be finite and >= 0"),
        ({"obs_noise": np.nan}, ValueError, r"options\['params'\]\['obs_noise'\] must be finite"),
        ({"action_failure_prob": [0.1, 1.5, 0.0]}, ValueError, r"env 1: action_failure_prob must be in \[0, 1\]"),
        ({"reward_noise": "big"}, TypeError, "must be real numbers"),
        ({"num_obstacles": 10}, ValueError, r"num_obstacles must be in \[0, \(size - 2\)\^2\] \(the size is drawn"),
        ({"size": 4, "num_obstacles": 5}, ValueError, r"env 0: num_obstacles must be in \[0, \(size - 2\)\^2\]"),
    ],
)
def test_reset_option_errors(params, exc, match):
    env = RobustGridWorldVectorEnv(3)
    with pytest.raises(exc, match=match):
        env.reset(seed=0, options={"params": params})
    with pytest.raises(TypeError, match=r"options\['params'\] must be a dict"):
        env.reset(seed=0, options={"params": [1, 2]})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=(6, 5)), r"size range must satisfy 3 <= min_size <= max_size <= 64, got \[6, 5\]"),
        (dict(size=(2, 5)), "size range must satisfy"),
        (dict(size=(4.5, 6)), "size range must hold integers"),
        (dict(obs_noise=(-0.1, 0.2)), r"obs_noise range must satisfy 0 <= min <= max, got \[-0.1, 0.2\]"),
        (dict(action_failure_prob=(0.0, 1.2)), r"action_failure_prob range must satisfy 0 <= min <= max <= 1"),
        (dict(num_obstacles=(10, 12)), r"num_obstacles range must satisfy .* min <= \(min_size - 2\)\^2 = 9"),
        (dict(goal_reward=float("inf")), "rewards must be finite"),
        (dict(max_steps=-2), "max_steps must be >= 0, got -2"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RobustGridWorldVectorEnv(2, **kwargs)
