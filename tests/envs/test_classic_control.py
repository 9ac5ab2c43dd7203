"""CartPole and Pendulum (csrc/envs/classic_control.h) against Gymnasium's CartPole-v1 and Pendulum-v1:
both take the same actions, Gymnasium's env put in our state after every reset (Pendulum: its trajectory
is then bit-for-bit ours) or before every step (CartPole: its sin / cos are common/simd_math.h's, within
1 ulp of libm's, and the pole's instability would grow a 1-ulp difference over an episode). CartPole's
vectorized StepBlock against its own Step, bit for bit, and its engine bookkeeping in every autoreset mode
against Gymnasium's SyncVectorEnv."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from env_harness import check_masked_resets_lockstep
from nextrl import _core
from nextrl.envs import CartPoleEnv, CartPoleVectorEnv, PendulumVectorEnv


def lockstep(
    env_id: str,
    gym_id: str,
    policy,
    steps: int,
    seed: int = 0,
    sync_every_step: bool = False,
    rtol: float = 1e-12,
    atol: float = 1e-12,
) -> dict[str, int]:
    """Steps our env and Gymnasium's in lockstep; returns counts of terminations and truncations and of
    steps whose new state is bit-identical."""
    ours, theirs = gym.make(env_id), gym.make(gym_id)
    counts = {"terminated": 0, "truncated": 0, "identical": 0}

    def state():
        return ours.unwrapped._vec.states()[0].copy()

    def sync(obs_ours):
        theirs.reset(seed=seed)  # restarts Gymnasium's TimeLimit counter
        theirs.unwrapped.state = state()
        return obs_ours

    obs = sync(ours.reset(seed=seed)[0])
    for _ in range(steps):
        action = policy(obs)
        if sync_every_step:
            theirs.unwrapped.state = state()  # (the TimeLimit counter keeps running)
        o1, r1, te1, tr1, _ = ours.step(action)
        o2, r2, te2, tr2, _ = theirs.step(action)
        np.testing.assert_allclose(o1, o2, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(state(), theirs.unwrapped.state, rtol=rtol, atol=atol)
        counts["identical"] += bool(np.array_equal(state(), np.asarray(theirs.unwrapped.state)))
        np.testing.assert_allclose(r1, r2, rtol=1e-6, atol=1e-6)
        assert (te1, tr1) == (te2, tr2)
        counts["terminated"] += te1
        counts["truncated"] += tr1
        if te1 or tr1:
            obs = sync(ours.reset()[0])
        else:
            obs = o1
    return counts


# CartPole from synced states: every step's new state within rtol 1e-12 of Gymnasium's (atol 1e-15 for
# components crossing 0); most steps are bit-identical (when our sin / cos round like libm's).
CARTPOLE_TOL = dict(sync_every_step=True, rtol=1e-12, atol=1e-15)


def test_cartpole_matches_gymnasium_random():
    rng = np.random.default_rng(0)
    counts = lockstep("nextrl/CartPole-v1", "CartPole-v1", lambda obs: int(rng.integers(2)), 1000, **CARTPOLE_TOL)
    assert counts["terminated"] >= 20
    assert counts["identical"] >= 990  # measured: 999


def test_cartpole_matches_gymnasium_time_limit():
    """A balancing policy with 10% random actions: episodes reach the 500-step limit."""
    rng = np.random.default_rng(1)

    def policy(obs):
        if rng.random() < 0.1:
            return int(rng.integers(2))
        return int(obs[2] + 0.5 * obs[3] + 0.01 * obs[0] + 0.1 * obs[1] > 0)

    counts = lockstep("nextrl/CartPole-v1", "CartPole-v1", policy, 1100, **CARTPOLE_TOL)
    assert counts["truncated"] >= 1
    assert counts["identical"] >= 1090  # measured: 1100


def _block_vs_step(env: CartPoleVectorEnv, actions: np.ndarray, init: float = 0.05) -> None:
    """One vector step (StepBlock) against CartPole::Step from the same states, env by env, bit for bit;
    envs waiting for their NEXT_STEP reset are skipped by StepBlock and must come back reset."""
    core = env._core
    before, waiting = core.states(), core.needs_reset.copy()
    ref_state, ref_obs, ref_r, ref_term = _core._cartpole_step(core.config, before, actions)
    obs, r, term, _, _ = env.step(actions)
    stepped = ~waiting
    assert core.states()[stepped].tobytes() == ref_state[stepped].tobytes()
    assert obs[stepped].tobytes() == ref_obs[stepped].tobytes()
    np.testing.assert_array_equal(r[stepped], ref_r[stepped])
    np.testing.assert_array_equal(term[stepped], ref_term[stepped])
    np.testing.assert_array_equal(r[waiting], 0.0)
    assert np.all(np.abs(core.states()[waiting]) <= init)  # freshly reset


@pytest.mark.parametrize("num_envs", [1, 3, 64, 257, 1000])
def test_cartpole_block_step_equals_step(num_envs):
    """Block sizes that leave tails of every length (runs of 8, groups of 4), resets in between."""
    env = CartPoleVectorEnv(num_envs, copy=False)
    env.reset(seed=7)
    rng = np.random.default_rng(num_envs)
    for _ in range(60):
        _block_vs_step(env, rng.integers(0, 2, num_envs))


@pytest.mark.parametrize("init", [0.7, 1.0, 3.0, 100.0, 1e7])
def test_cartpole_block_step_equals_step_beyond_small_angles(init):
    """Initial angles near and past kSinCosSmallArg = 0.75 (runs of 8 envs with one past it step env by env
    through Step: SinCos with its reduction, and libm past kSinCosMaxArg); with init 0.7 and 1.0 vectorized
    and env-by-env runs alternate inside blocks, and most envs terminate, so resets interleave."""
    env = CartPoleVectorEnv(300, init_low=-init, init_high=init, copy=False)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(3):
        _block_vs_step(env, rng.integers(0, 2, 300), init)


def test_cartpole_large_angles_match_gymnasium():
    """One step from angles up to 1e7 rad (our reduction, and libm beyond 8e5) against Gymnasium's."""
    rng = np.random.default_rng(3)
    states = np.column_stack(
        [
            rng.uniform(-1, 1, 2000),
            rng.uniform(-1, 1, 2000),
            np.exp(rng.uniform(np.log(0.1), np.log(1e7), 2000)) * rng.choice([-1, 1], 2000),
            rng.uniform(-2, 2, 2000),
        ]
    )
    actions = rng.integers(0, 2, 2000)
    ours = _core._cartpole_step(_core._CartPoleConfig(), states, actions)[0]
    theirs = gym.make("CartPole-v1").unwrapped
    theirs.reset(seed=0)
    for k in range(2000):
        theirs.state = states[k].copy()
        theirs.steps_beyond_terminated = None
        theirs.step(int(actions[k]))
        np.testing.assert_allclose(ours[k], theirs.state, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_cartpole_autoreset_matches_gymnasium_sync_vector_env(mode):
    """The engine's bookkeeping after StepBlock (rewards, flags, final obs, episode statistics) against
    SyncVectorEnv and RecordEpisodeStatistics over our single env (max_steps 15: truncations too)."""
    num_envs = 5
    ours = CartPoleVectorEnv(num_envs, autoreset_mode=mode, max_steps=15)
    theirs = RecordEpisodeStatistics(
        SyncVectorEnv([lambda: CartPoleEnv(max_steps=15) for _ in range(num_envs)], autoreset_mode=mode)
    )
    np.testing.assert_array_equal(ours.reset(seed=4)[0], theirs.reset(seed=4)[0])
    rng = np.random.default_rng(5)
    counts = {"terminated": 0, "truncated": 0}
    for _ in range(300):
        actions = rng.integers(0, 2, num_envs)
        r1, r2 = ours.step(actions), theirs.step(actions)
        for a, b in zip(r1[:4], r2[:4]):
            np.testing.assert_array_equal(a, b)
        i1, i2 = r1[4], r2[4]
        assert ("episode" in i1) == ("episode" in i2)
        if "episode" in i2:
            mask = i2["_episode"]
            np.testing.assert_array_equal(i1["_episode"], mask)
            np.testing.assert_allclose(i1["episode"]["r"][mask], i2["episode"]["r"][mask])
            np.testing.assert_array_equal(i1["episode"]["l"][mask], i2["episode"]["l"][mask])
        if mode == AutoresetMode.SAME_STEP and "final_obs" in i2:
            for k in np.flatnonzero(i2["_final_obs"]):
                np.testing.assert_array_equal(i1["final_obs"][k], i2["final_obs"][k])
        counts["terminated"] += int(r1[2].sum())
        counts["truncated"] += int(r1[3].sum())
    assert counts["terminated"] >= 20 and counts["truncated"] >= 5


def test_cartpole_disabled_autoreset_with_masked_resets():
    num_envs = 4
    mode = AutoresetMode.DISABLED
    ours = CartPoleVectorEnv(num_envs, autoreset_mode=mode, max_steps=15)
    theirs = SyncVectorEnv([lambda: CartPoleEnv(max_steps=15) for _ in range(num_envs)], autoreset_mode=mode)
    resets = check_masked_resets_lockstep(ours, theirs, np.random.default_rng(6), num_actions=2)
    assert resets >= 20


def test_cartpole_sutton_barto_reward():
    env = CartPoleVectorEnv(2, sutton_barto_reward=True)
    env.reset(seed=0)
    rewards, terms = [], []
    for _ in range(60):
        _, r, term, _, _ = env.step(np.ones(2, dtype=np.int64))
        rewards.append(r.copy())
        terms.append(term.copy())
    rewards, terms = np.array(rewards), np.array(terms)
    assert terms.any()
    np.testing.assert_array_equal(rewards[terms], -1.0)
    np.testing.assert_array_equal(rewards[~terms], 0.0)


def test_pendulum_matches_gymnasium():
    """1000 random torques in [-3, 3] (clipped to [-2, 2]): 5 episodes truncated at 200 steps."""
    rng = np.random.default_rng(0)
    counts = lockstep(
        "nextrl/Pendulum-v1", "Pendulum-v1", lambda obs: rng.uniform(-3, 3, size=1).astype(np.float32), 1000
    )
    assert counts == {"terminated": 0, "truncated": 5, "identical": 1000}


def test_spaces_match_gymnasium():
    for vec_cls, gym_id in ((CartPoleVectorEnv, "CartPole-v1"), (PendulumVectorEnv, "Pendulum-v1")):
        ours, theirs = vec_cls(1), gym.make(gym_id)
        assert ours.single_observation_space == theirs.observation_space
        assert ours.single_action_space == theirs.action_space


def test_pendulum_reset_distribution():
    obs, _ = PendulumVectorEnv(4000).reset(seed=0)
    theta = np.arctan2(obs[:, 1], obs[:, 0])
    np.testing.assert_allclose(np.abs(theta).mean(), np.pi / 2, rtol=0.05)
    assert np.abs(obs[:, 2]).max() <= 1.0


def test_bad_actions_and_config():
    cp = CartPoleVectorEnv(2)
    cp.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[1\] must be 0 or 1"):
        cp.step(np.array([0, 2]))
    with pytest.raises(TypeError, match="actions must be integers for a Discrete action space"):
        cp.step(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"actions must have shape \(2,\), got \(3,\)"):
        cp.step(np.array([0, 1, 1]))
    pd = PendulumVectorEnv(2)
    pd.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[0\] must be finite, got NaN or inf"):
        pd.step(np.array([[np.inf], [0.0]], dtype=np.float32))
    with pytest.raises(ValueError, match=r"actions must have shape \(2,\), got \(2, 2\)"):
        pd.step(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="init_low and init_high must be finite with init_low <= init_high"):
        CartPoleVectorEnv(1, init_low=0.1, init_high=0.0)
    with pytest.raises(ValueError, match="Pendulum: g must be finite"):
        PendulumVectorEnv(1, g=float("nan"))
    with pytest.raises(TypeError, match="CartPole: sutton_barto_reward must be bool, got int"):
        CartPoleVectorEnv(1, sutton_barto_reward=1)
