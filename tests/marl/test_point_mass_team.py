"""PointMassTeam (CA18, fixed) against a pure-Python reference without noise, for the three reward modes,
with agents leaving the disc (masking) and out-of-range actions (clipping); teams, noise, errors."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.marl import PointMassTeamVectorEnv


def _reference_step(x, active, a, mode, num_teams, bound):
    """x [n, 4] float64 states, active [n] bool, a [n, 2] -> (x, rewards, terminated)."""
    n = len(x)
    x = x.copy()
    for k in range(n):
        if active[k]:
            u = np.clip(a[k].astype(np.float64), -1, 1)
            x[k, 2:] = (x[k, 2:] + 0.1 * u) * 0.9
            x[k, :2] += 0.1 * x[k, 2:]
    norm = np.hypot(x[:, 0], x[:, 1])
    dist = np.hypot(x[:, None, 0] - x[None, :, 0], x[:, None, 1] - x[None, :, 1])
    live = [j for j in range(n) if active[j]]
    r = np.zeros(n)
    for i in range(n):
        others = [j for j in live if j != i]
        if mode == "cooperative":
            r[i] = -norm[i] - 0.05 * sum(dist[i, j] for j in others)
        elif mode == "competitive":
            r[i] = 1.0 if i == min(live, key=lambda j: (norm[j], j)) else -0.1
        else:
            mates = [j for j in others if j % num_teams == i % num_teams]
            opps = [j for j in others if j % num_teams != i % num_teams]
            r[i] = -0.1 * sum(dist[i, j] for j in mates) - 0.05 * sum(max(0.0, 2.0 - dist[i, j]) for j in opps)
    return x, r, norm > bound


@pytest.mark.parametrize("mode", ["cooperative", "competitive", "mixed"])
def test_matches_reference(mode, rng):
    n, teams, bound = 4, 2, 2.6
    env = PointMassTeamVectorEnv(
        3, num_agents=n, num_teams=teams, reward=mode, bound=bound, noise_std=0.0, obs_noise_std=0.0, max_steps=60
    )
    obs, infos = env.reset(seed=8)
    xs = infos["state"].reshape(3, n, 4).astype(np.float64)
    np.testing.assert_array_equal(obs, infos["state"].reshape(3, n, 4))
    active = np.ones((3, n), bool)
    finished_some = False
    for _ in range(60):
        a = rng.uniform(-1.5, 1.5, (3, n, 2)).astype(np.float32)
        _, r, te, tr, infos = env.step(a)
        for i in range(3):
            if not active[i].any():
                continue
            xs[i], rr, term = _reference_step(xs[i], active[i], a[i], mode, teams, bound)
            np.testing.assert_allclose(infos["state"][i].reshape(n, 4), xs[i], rtol=0, atol=1e-5)
            np.testing.assert_allclose(r[i], np.where(active[i], rr, 0.0), rtol=0, atol=1e-5)
            np.testing.assert_array_equal(te[i], active[i] & term)
            active[i] &= ~(term | tr[i])
            finished_some |= bool(te[i].any())
            np.testing.assert_array_equal(infos["active"][i], active[i])
        if not active.any():
            break
    assert finished_some  # masking was exercised


def test_mixed_teams_and_proximity_sign():
    env = PointMassTeamVectorEnv(1, num_agents=3, num_teams=2, reward="mixed", noise_std=0.0, obs_noise_std=0.0)
    _, infos = env.reset(seed=0)
    _, r, _, _, infos = env.step(np.zeros((1, 3, 2), np.float32))
    x = infos["state"].reshape(3, 4)[:, :2].astype(np.float64)
    d = lambda i, j: float(np.hypot(*(x[i] - x[j])))
    # teams {0, 2} and {1}: agent 1 has no teammate, only the proximity penalty (<= 0)
    np.testing.assert_allclose(r[0, 1], -0.05 * (max(0, 2 - d(1, 0)) + max(0, 2 - d(1, 2))), atol=1e-5)
    np.testing.assert_allclose(r[0, 0], -0.1 * d(0, 2) - 0.05 * max(0, 2 - d(0, 1)), atol=1e-5)


def test_noise_statistics():
    env = PointMassTeamVectorEnv(4000, num_agents=1, num_teams=1, noise_std=0.0, obs_noise_std=0.1)
    obs, infos = env.reset(seed=1)
    err = (obs[:, 0] - infos["state"]).ravel()
    assert abs(err.mean()) < 0.003 and abs(err.std() - 0.1) < 0.003


def test_point_mass_errors():
    with pytest.raises(ValueError, match="unknown reward 'mixd'; did you mean 'mixed'"):
        PointMassTeamVectorEnv(1, reward="mixd")
    with pytest.raises(ValueError, match=r"num_teams must be in \[1, num_agents = 3\], got 4"):
        PointMassTeamVectorEnv(1, num_teams=4)
    env = PointMassTeamVectorEnv(2)
    env.reset(seed=0)
    a = np.zeros((2, 3, 2), np.float32)
    a[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"actions\[1, 0\] \(agent 'agent_0'\) must be finite"):
        env.step(a)
