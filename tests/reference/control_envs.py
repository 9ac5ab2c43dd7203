"""Slow, obviously-correct NumPy versions of one step of the documents' control tasks (no nextrl import).

Written from the seed inventories (CA18 ContinuousControlEnv, CA17 CausalEnvironment / BaseEnvironment,
with the documented bug fixes). Each `*_step(state, action, noise, cfg)` returns
(next_state, reward, terminated); `noise` holds the standard-normal draws that the env scales (zeros
give the deterministic part), so the tests compare the dynamics without reproducing the C++ RNG.
"""

from __future__ import annotations

import numpy as np


def point_mass_step(s, a, noise, *, noise_std=0.02, nuisance_std=0.1, max_norm=3.0, action_cost=0.01):
    """noise: [5] standard normals (the nuisance draw, then one per state dim)."""
    a = np.clip(np.asarray(a, dtype=np.float64), -1.0, 1.0)
    s = np.asarray(s, dtype=np.float64)
    nxt = np.array(
        [
            s[0] + 0.1 * a[0] + 0.05 * np.sin(s[1]),
            s[1] + 0.1 * a[1] + 0.02 * s[0] * s[2],
            0.9 * s[2] + 0.1 * np.tanh(a[0] + a[1]),
            0.95 * s[3] + 0.1 * nuisance_std * noise[0],
        ]
    )
    nxt = nxt + noise_std * np.asarray(noise[1:5])
    reward = -np.sum(nxt**2) - action_cost * np.sum(a**2)
    return nxt, reward, bool(np.linalg.norm(nxt) > max_norm)


def causal_thrust_step(
    s,
    a,
    noise,
    *,
    force_walk_std=0.05,
    max_speed=2.0,
    max_force=1.0,
    max_position=5.0,
    action_cost=0.01,
    intervened=False,
):
    """s = [pos, vel, force]; noise: one standard normal (the force's random walk)."""
    pos, vel, force = (float(x) for x in s)
    a = float(np.clip(np.asarray(a, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
    vel = float(np.clip(vel + 0.1 * a + 0.05 * force, -max_speed, max_speed))
    pos = pos + 0.1 * vel
    if not intervened:
        force = float(np.clip(force + force_walk_std * noise, -max_force, max_force))
    reward = -abs(pos) - action_cost * abs(a)
    return np.array([pos, vel, force]), reward, abs(pos) > max_position


def hetero_point_mass_step(s, a, noise, *, variant=0, noise_std=0.1, max_norm=5.0, action_cost=0.01):
    """s = [px, py, vx, vy], a 2-D double integrator; noise: [4] standard normals."""
    a = np.clip(np.asarray(a, dtype=np.float64), -1.0, 1.0)
    s = np.asarray(s, dtype=np.float64)
    v = s[2:] + 0.1 * a
    p = s[:2] + 0.1 * v
    nxt = np.concatenate([p, v]) + noise_std * (1 + 0.2 * variant) * np.asarray(noise)
    norm = np.linalg.norm(nxt)
    cost = action_cost * np.sum(a**2)
    if variant == 0:
        reward = -(norm**2) - cost
    elif variant == 1:
        reward = np.sum(nxt) - norm**2 - cost
    elif variant == 2:
        reward = 1.0 if norm < 0.5 else -0.1 * norm
    else:
        reward = np.sin(np.sum(nxt)) - cost
    return nxt, reward, bool(norm > max_norm)
