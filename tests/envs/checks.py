"""Checks every grid env of tests/envs/test_<env>.py runs (EnvPool's env checks): Gymnasium's env checker,
determinism, a batch of N against N single envs seeded seed + i, thread-count invariance, observations
inside their spaces, and the errors of bad actions. `make_vec(num_envs, **kw)` / `make_single()` build
the env under test. `check_masked_resets_lockstep` (any env) steps ours and Gymnasium's SyncVectorEnv side by
side with autoreset disabled."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import nextrl

PARALLEL_ENVS = 2500  # above csrc/envs/vec_env.h kMinParallelEnvs = 2048, so OpenMP splits the batch


def flat(obs) -> np.ndarray:
    """Observations (array or Dict of arrays) as one float64 array [num_envs, -1]."""
    if isinstance(obs, dict):
        return np.concatenate([np.asarray(obs[k], np.float64).reshape(len(obs[k]), -1) for k in sorted(obs)], axis=1)
    a = np.asarray(obs, np.float64)
    return a.reshape(len(a), -1)


def rollout(env, seed: int, num_steps: int, action_seed: int = 0, reset_options=None):
    """(obs [T+1, N, d], rewards, terminations, truncations [T, N], infos {name: [T+1, N]}) under random actions."""
    actions = np.random.default_rng(action_seed).integers(0, env.single_action_space.n, (num_steps, env.num_envs))
    obs, info = env.reset(seed=seed, options=reset_options)
    names = sorted(k for k, v in info.items() if not k.startswith("_") and isinstance(v, np.ndarray))
    all_obs, all_info = [flat(obs)], {k: [info[k].copy()] for k in names}
    rewards, terms, truncs = [], [], []
    for t in range(num_steps):
        obs, r, term, trunc, info = env.step(actions[t])
        all_obs.append(flat(obs))
        rewards.append(r.copy()), terms.append(term.copy()), truncs.append(trunc.copy())
        for k in names:
            all_info[k].append(info[k].copy())
    return (
        np.stack(all_obs),
        np.stack(rewards),
        np.stack(terms),
        np.stack(truncs),
        {k: np.stack(v) for k, v in all_info.items()},
    )


def assert_rollouts_equal(a, b) -> None:
    for x, y in zip(a[:4], b[:4]):
        np.testing.assert_array_equal(x, y)
    assert a[4].keys() == b[4].keys()
    for k in a[4]:
        np.testing.assert_array_equal(a[4][k], b[4][k], err_msg=k)


def check_gymnasium(make_vec, make_single) -> None:
    env = make_single()
    check_env(env.unwrapped, skip_render_check=True)


def check_determinism(make_vec, make_single, num_steps: int = 200) -> None:
    a = rollout(make_vec(16), seed=3, num_steps=num_steps)
    assert_rollouts_equal(a, rollout(make_vec(16), seed=3, num_steps=num_steps))
    other = rollout(make_vec(16), seed=4, num_steps=num_steps)
    assert any(not np.array_equal(x, y) for x, y in zip(a[:2], other[:2])), "seed 4 reproduced seed 3"


def check_batch_equals_singles(make_vec, make_single, num_envs: int = 6, seed: int = 11, num_steps: int = 150) -> None:
    """Env i of a NEXT_STEP batch reset with `seed` equals a single env reset with seed + i, whose
    episodes restart (unseeded, continuing its stream) on the step after each end, as NEXT_STEP does."""
    obs, rewards, terms, truncs, infos = rollout(make_vec(num_envs), seed=seed, num_steps=num_steps)
    actions = np.random.default_rng(0).integers(0, make_single().action_space.n, (num_steps, num_envs))
    for i in range(num_envs):
        env = make_single()
        o, info = env.reset(seed=seed + i)
        np.testing.assert_array_equal(flat(_batch1(o))[0], obs[0, i])
        done = False
        for t in range(num_steps):
            if done:
                o, info = env.reset()
                r, term, trunc = 0.0, False, False
            else:
                o, r, term, trunc, info = env.step(actions[t, i])
            done = term or trunc
            np.testing.assert_array_equal(flat(_batch1(o))[0], obs[t + 1, i], err_msg=f"env {i} step {t}")
            assert (np.float32(r), term, trunc) == (rewards[t, i], terms[t, i], truncs[t, i]), f"env {i} step {t}"
            for k in infos:
                assert info[k] == infos[k][t + 1, i], f"info[{k!r}] env {i} step {t}"


def _batch1(o):
    return {k: np.asarray(v)[None] for k, v in o.items()} if isinstance(o, dict) else np.asarray(o)[None]


def check_thread_invariance(make_vec, make_single, num_steps: int = 40) -> None:
    """Needs the restore_threads fixture."""
    results = []
    for threads in (1, 2):
        nextrl.set_num_threads(threads)
        results.append(rollout(make_vec(PARALLEL_ENVS), seed=5, num_steps=num_steps))
    assert_rollouts_equal(*results)


def check_obs_in_space(make_vec, make_single, num_steps: int = 300) -> None:
    env = make_vec(32)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    rng = np.random.default_rng(1)
    for _ in range(num_steps):
        obs, *_ = env.step(rng.integers(0, env.single_action_space.n, env.num_envs))
        assert env.observation_space.contains(obs)


def check_bad_actions(make_vec, make_single) -> None:
    env = make_vec(4)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(4,\), got \(5,\)"):
        env.step(np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"actions must have shape \(4,\), got \(4, 2\)"):
        env.step(np.zeros((4, 2), np.int64))
    with pytest.raises(TypeError, match="actions must be integers"):
        env.step(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="actions must be integers"):
        env.step(np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"actions\[2\] must be in \[0, 4\)"):
        env.step(np.array([0, 1, 4, 0]))
    with pytest.raises(ValueError, match=r"actions\[0\] must be in \[0, 4\)"):
        env.step(np.array([-1, 1, 2, 0]))
    single = make_single()
    single.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(\), got \(2,\)"):
        single.step(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"actions\[0\] must be in \[0, 4\)"):
        single.step(7)


COMMON_CHECKS = [
    check_gymnasium,
    check_determinism,
    check_batch_equals_singles,
    check_thread_invariance,
    check_obs_in_space,
    check_bad_actions,
]


def check_masked_resets_lockstep(
    ours, theirs, rng: np.random.Generator, num_actions: int, steps: int = 200, seed: int = 5
) -> int:
    """Steps two DISABLED-autoreset vector envs with the same random Discrete actions, resetting the finished
    envs of both with the same reset_mask; asserts equal observations, rewards and flags throughout and
    returns the number of masked resets."""
    np.testing.assert_array_equal(ours.reset(seed=seed)[0], theirs.reset(seed=seed)[0])
    resets = 0
    for _ in range(steps):
        actions = rng.integers(0, num_actions, ours.num_envs)
        r1, r2 = ours.step(actions), theirs.step(actions)
        for a, b in zip(r1[:4], r2[:4]):
            np.testing.assert_array_equal(a, b)
        done = r1[2] | r1[3]
        if done.any():
            resets += int(done.sum())
            o1, _ = ours.reset(options={"reset_mask": done.copy()})
            o2, _ = theirs.reset(options={"reset_mask": done.copy()})
            np.testing.assert_array_equal(o1, o2)
    return resets
