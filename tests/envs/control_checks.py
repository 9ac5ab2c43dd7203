"""Checks shared by the control and quantum env tests: Gymnasium's env checker, determinism, batch of N
= N single envs seeded seed + i, thread-count invariance, observations inside their spaces, time limits."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import nextrl


def random_actions(rng: np.random.Generator, space: gym.Space, num_envs: int | None = None) -> np.ndarray:
    """Actions of `space` for num_envs envs (or one); Box actions reach 1.5x the bounds to exercise clipping."""
    shape = () if num_envs is None else (num_envs,)
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(space.n, size=shape).astype(np.int64)
    lo, hi = space.low.astype(np.float64), space.high.astype(np.float64)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    return (mid + 1.5 * half * rng.uniform(-1, 1, size=shape + space.shape)).astype(np.float32)


# Advice that check_env gives for Gymnasium's own CartPole and Pendulum too: unbounded observation
# components (velocities) and a non-normalized action box (Pendulum's torque in [-2, 2]).
UNBOUNDED_OBS = r".*A Box observation space (minimum|maximum) value is (-)?infinity"
UNNORMALIZED_ACTIONS = r".*For Box action spaces, we recommend using a symmetric and normalized space"


def run_check_env(env_id: str, allow: tuple[str, ...] = (), **kwargs) -> None:
    """Gymnasium's env checker on the unwrapped env; `allow` lists warning messages (regexes) to accept."""
    env = gym.make(env_id, **kwargs)
    with warnings.catch_warnings():
        for message in allow:
            warnings.filterwarnings("ignore", message=message)
        check_env(env.unwrapped, skip_render_check=True)
    env.close()


def rollout(make_vec, num_envs: int, seed: int, steps: int, action_seed: int = 0) -> dict[str, np.ndarray]:
    """obs [T + 1, N, ...], rewards / terminations / truncations [T, N] of random actions."""
    env = make_vec(num_envs)
    rng = np.random.default_rng(action_seed)
    obs, _ = env.reset(seed=seed)
    out = {"obs": [obs], "rewards": [], "terminations": [], "truncations": []}
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(random_actions(rng, env.single_action_space, num_envs))
        out["obs"].append(obs)
        out["rewards"].append(r)
        out["terminations"].append(term)
        out["truncations"].append(trunc)
    env.close()
    return {k: np.stack(v) for k, v in out.items()}


def check_determinism(make_vec, num_envs: int = 8, steps: int = 300) -> None:
    a = rollout(make_vec, num_envs, seed=3, steps=steps)
    b = rollout(make_vec, num_envs, seed=3, steps=steps)
    c = rollout(make_vec, num_envs, seed=4, steps=steps)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["obs"], c["obs"])


def check_batch_equals_singles(make_vec, make_single, num_envs: int = 5, steps: int = 400, seed: int = 11) -> None:
    """The NEXT_STEP batch against single envs seeded seed + i that are reset (unseeded) after each episode."""
    vec = make_vec(num_envs)
    singles = [make_single() for _ in range(num_envs)]
    rng = np.random.default_rng(5)
    obs, _ = vec.reset(seed=seed)
    for i, env in enumerate(singles):
        o, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(o, obs[i])
    done = np.zeros(num_envs, dtype=bool)
    episodes = 0
    for _ in range(steps):
        actions = random_actions(rng, vec.single_action_space, num_envs)
        obs, r, term, trunc, _ = vec.step(actions)
        for i, env in enumerate(singles):
            if done[i]:
                o, _ = env.reset()
                assert r[i] == 0.0 and not term[i] and not trunc[i]
            else:
                o, ri, ti, tri, _ = env.step(actions[i])
                assert (ri, ti, tri) == (r[i], term[i], trunc[i])
            np.testing.assert_array_equal(o, obs[i])
        episodes += int(np.sum(term | trunc))
        done = term | trunc
    assert episodes >= 1  # autoreset was exercised


def check_thread_invariance(make_vec, restore_threads, num_envs: int = 4100, steps: int = 20) -> None:
    """Bitwise-equal rollouts with 1 and 2 OpenMP threads; num_envs > kMinParallelEnvs (2048) so the
    parallel path runs."""
    results = []
    for threads in (1, 2):
        nextrl.set_num_threads(threads)
        results.append(rollout(make_vec, num_envs, seed=21, steps=steps))
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key])


def check_obs_in_space(make_vec, num_envs: int = 32, steps: int = 600) -> np.ndarray:
    """All observations of a random rollout (autoresets included) lie in the single observation space."""
    out = rollout(make_vec, num_envs, seed=9, steps=steps)
    env = make_vec(1)
    space = env.single_observation_space
    flat = out["obs"].reshape((-1,) + space.shape)
    assert flat.dtype == space.dtype
    assert np.all(flat >= space.low) and np.all(flat <= space.high)
    return out["obs"]


def check_time_limit(make_vec, max_steps: int, num_envs: int = 16, steps: int = 700) -> None:
    """truncation[i] exactly when env i's episode reaches max_steps steps (also when it terminates on that step,
    as Gymnasium's TimeLimit reports)."""
    out = rollout(make_vec, num_envs, seed=17, steps=steps)
    length = np.zeros(num_envs, dtype=np.int64)
    done = np.zeros(num_envs, dtype=bool)
    for t in range(steps):
        term, trunc = out["terminations"][t], out["truncations"][t]
        length = np.where(done, 0, length + 1)  # a done env's step is its reset (NEXT_STEP)
        np.testing.assert_array_equal(trunc, ~done & (length == max_steps))
        done = term | trunc
    assert out["truncations"].any()


def check_against_reference(env, reference_step, actions_fn, steps: int, seed: int = 1) -> int:
    """Steps `env` (NEXT_STEP) and, for every env not resetting, `reference_step(i, state, action)` ->
    (next_state, reward, terminated) from the env's previous exact state. Returns the number of terminations."""
    n = env.num_envs
    env.reset(seed=seed)
    prev, done = env.states(), np.zeros(n, dtype=bool)
    terminated = 0
    for _ in range(steps):
        a = actions_fn()
        obs, r, term, trunc, _ = env.step(a)
        s = env.states()
        live = np.flatnonzero(~done)
        expected = [reference_step(i, prev[i], a[i]) for i in live]
        np.testing.assert_allclose(s[live], np.array([e[0] for e in expected]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(r[live], np.array([e[1] for e in expected]), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(term[live], np.array([e[2] for e in expected]))
        np.testing.assert_array_equal(obs, s.astype(np.float32))
        terminated += int(term.sum())
        prev, done = s, term | trunc
    return terminated
