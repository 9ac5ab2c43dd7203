"""Copyable env state (csrc/envs/env_state.h) of every single-agent env: get_state, step k times, set_state,
step the same k actions again -> identical observations, rewards, flags and infos, bit for bit (RNG stream
position, autoresets and episode counters included); rows restore into other envs of the same config, tile
(planning copies) and into single envs; bad rows are refused before any env changes."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from nextrl.envs import ENVS

# Short episodes so that k steps go through terminations, truncations and autoresets.
_SHORT = {
    "nextrl/PointMass-v0": {"max_steps": 15},
    "nextrl/CausalThrust-v0": {"max_steps": 15},
    "nextrl/HeteroPointMass-v0": {"max_steps": 15},
    "nextrl/CartPole-v1": {"max_steps": 15},
    "nextrl/Pendulum-v1": {"max_steps": 15},
    "nextrl/QuantumStatePrep-v0": {"max_steps": 5},
    "nextrl/QuantumStatePrepGHZ3-v0": {"max_steps": 5},
    "nextrl/QuantumStatePrepRandom-v0": {"max_steps": 5},
    "nextrl/GridWorld-v0": {"max_steps": 12},
    "nextrl/GridWorld8x8-v0": {"max_steps": 12},
    "nextrl/FrozenLake-v0": {"max_steps": 12},
    "nextrl/FrozenLake8x8-v0": {"max_steps": 12},
    "nextrl/CliffWalking-v0": {"max_steps": 12},
    "nextrl/CliffWalkingSlippery-v0": {"max_steps": 12},
    "nextrl/SafeGridWorld-v0": {"max_steps": 12},
    "nextrl/RobustGridWorld-v0": {"max_steps": 12},
    "nextrl/GoalGridWorld-v0": {"max_steps": 12},
}
_MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP]


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def make_vec(env_id: str, num_envs: int, mode=AutoresetMode.NEXT_STEP):
    _, vector, kwargs = ENVS[env_id]
    return _load(vector)(num_envs=num_envs, autoreset_mode=mode, **{**kwargs, **_SHORT[env_id]})


def make_single(env_id: str):
    single, _, kwargs = ENVS[env_id]
    return _load(single)(**{**kwargs, **_SHORT[env_id]})


def assert_same(a, b, where: str) -> None:
    """Exact equality of step outputs: arrays (same dtype, NaN-free bits), dicts, scalars."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype == object:
            for x, y in zip(a, b):
                assert (x is None) == (y is None), where
                if x is not None:
                    assert_same(x, y, where)
        else:
            np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert type(a) is type(b) and a == b, where


def tile_row(x, i: int, n: int):
    """Row i of a batch (an array or a dict of arrays) repeated n times."""
    if isinstance(x, dict):
        return {k: tile_row(v, i, n) for k, v in x.items()}
    return np.repeat(x[i : i + 1], n, axis=0)


def rollout(env, actions) -> list:
    out = []
    for a in actions:
        *step, infos = env.step(a)
        if "final_info" in infos:  # only the entries of the envs that finished are defined (the _ masks)
            mask = infos["_final_info"]
            infos["final_info"] = {k: v[mask] for k, v in infos["final_info"].items()}
        out.append((*step, infos))
    return out


def sample_actions(env, k: int, seed: int) -> list[np.ndarray]:
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(k)]


@pytest.mark.parametrize("mode", _MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_vector_state_round_trip(env_id, mode):
    n, k = 6, 60
    env = make_vec(env_id, n, mode)
    env.reset(seed=123)
    for a in sample_actions(env, 7, seed=1):
        env.step(a)
    snap = env.get_state()
    assert snap.dtype == np.uint8 and snap.shape == (n, env._core.state_bytes)
    obs_at_snap = env.observations
    actions = sample_actions(env, k, seed=2)
    first = rollout(env, actions)
    episodes = sum(int(np.count_nonzero(out[2] | out[3])) for out in first)
    assert episodes > 0, "the rollout must go through episode ends"
    assert not np.array_equal(env.get_state(), snap)  # the state moved on

    env.set_state(snap)
    np.testing.assert_array_equal(env.get_state(), snap)
    np.testing.assert_array_equal(env.observations, obs_at_snap)
    second = rollout(env, actions)
    for t, (x, y) in enumerate(zip(first, second)):
        assert_same(x, y, f"{env_id} step {t}")

    # Into a fresh env of the same config (another object, never reset), and tiled: every copy of env 2's
    # row replays env 2's trajectory, as a planner's copies do.
    fresh = make_vec(env_id, n, mode)
    fresh.set_state(snap)
    for t, (x, y) in enumerate(zip(first, rollout(fresh, actions))):
        assert_same(x, y, f"{env_id} fresh step {t}")
    tiled = make_vec(env_id, n, mode)
    tiled.set_state(np.ascontiguousarray(np.repeat(snap[2:3], n, axis=0)))
    same = [np.repeat(a[2:3], n, axis=0) for a in actions]
    env.set_state(snap)
    reference = rollout(env, same)
    for t, (x, y) in enumerate(zip(reference, rollout(tiled, same))):
        for field in range(4):
            assert_same(y[field], tile_row(x[field], 2, n), f"{env_id} tiled {t}")


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_single_state_round_trip_and_rows_of_vector_envs(env_id):
    k = 40
    env = make_single(env_id)
    env.reset(seed=7)
    for a in sample_actions(env, 3, seed=3):
        if env._done:
            env.reset()
        env.step(a)
    snap = env.get_state()
    assert snap.ndim == 1

    def run(e, actions):
        out = []
        for a in actions:
            if e._done:
                out.append(("reset", e.reset()))
            out.append(e.step(a))
        return out

    actions = sample_actions(env, k, seed=4)
    first = run(env, actions)
    env.set_state(snap)
    second = run(env, actions)
    for t, (x, y) in enumerate(zip(first, second)):
        for u, v in zip(x, y):
            assert_same(u, v, f"{env_id} single step {t}")
    # batch = singles: env 3 of a vector env seeded s is the single env seeded s + 3; its row restores here.
    vec = make_vec(env_id, 4, AutoresetMode.DISABLED)
    vec.reset(seed=20)
    single = make_single(env_id)
    single.reset(seed=23)
    single.set_state(vec.get_state()[3])
    np.testing.assert_array_equal(single.get_state(), vec.get_state()[3])
    a = sample_actions(single, 1, seed=5)[0]
    obs, r, te, tr, _ = single.step(a)
    vec_actions = np.stack([a] * 4)
    v_obs, v_r, v_te, v_tr, _ = vec.step(vec_actions)
    if isinstance(v_obs, dict):  # goal-conditioned envs: one array per key
        for key in v_obs:
            np.testing.assert_array_equal(np.asarray(obs[key]), v_obs[key][3])
    else:
        np.testing.assert_array_equal(np.asarray(obs), v_obs[3])
    assert (r, te, tr) == (float(v_r[3]), bool(v_te[3]), bool(v_tr[3]))


def test_set_state_refuses_bad_rows_before_changing_anything():
    env = make_vec("nextrl/GridWorld-v0", 3)
    env.reset(seed=0)
    good = env.get_state()
    with pytest.raises(TypeError, match="set_state: states must have dtype uint8"):
        env.set_state(good.astype(np.int64))
    with pytest.raises(ValueError, match=r"set_state: states must have shape \(3, \d+\), got \(2, \d+\)"):
        env.set_state(good[:2])
    with pytest.raises(TypeError, match="set_state: states must be a numpy array, got list"):
        env.set_state(good.tolist())
    bad = good.copy()
    bad[2, :8] = np.frombuffer(np.int64(10**6).tobytes(), np.uint8)  # GridWorld's cell index: off the grid
    env.step(np.zeros(3, np.int64))
    before = env.get_state()
    with pytest.raises(
        ValueError,
        match=r"set_state: states\[2\] must be a row of get_state\(\) of an env of this "
        r"type and config, got one that has a cell outside the grid",
    ):
        env.set_state(bad)
    np.testing.assert_array_equal(env.get_state(), before)  # nothing restored, rows 0 and 1 included
    bad = good.copy()
    bytes_env_rng = 8 + 8 * 3 + 16 + 4 + 1 + 8  # cell, Rng seed / stream / counter, block, left, spare flag, spare
    bad[1, bytes_env_rng] = 2  # the engine's needs_reset flag
    with pytest.raises(ValueError, match=r"states\[1\] .* flag byte that is neither 0 nor 1"):
        env.set_state(bad)
    # Another config: a row of an 8x8 grid does not fit a 5x5 one.
    big = make_vec("nextrl/GridWorld8x8-v0", 3)
    with pytest.raises(ValueError, match="set_state: states must have shape"):
        env.set_state(big.get_state())
