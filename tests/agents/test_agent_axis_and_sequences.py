"""Storage ready for many agents and for sequences: Rollout and ReplayBuffer with an agent axis
([T, N, A, ...]: each agent's column equals a single-agent stream of its own), the return scans over
[T, N, A] (equal to the scans of each agent's [T, N] slice), and SequenceReplayBuffer windows checked
against a scripted env whose observation is the step index inside its episode (so the first, final and
terminal observations are known by value)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.agents import returns
from nextrl.agents.common import EpisodeTracker
from nextrl.agents.replay import ReplayBuffer, SequenceReplayBuffer
from nextrl.agents.rollout import Rollout


def _random_stream(rng, T, N, A):
    rewards = rng.normal(size=(T, N, A))
    values = rng.normal(size=(T, N, A))
    next_values = rng.normal(size=(T, N, A))
    terms = rng.random((T, N, A)) < 0.1
    truncs = (rng.random((T, N, A)) < 0.1) & ~terms
    return rewards, values, next_values, terms, truncs


def test_return_scans_over_an_agent_axis_equal_per_agent_scans(rng):
    T, N, A = 9, 3, 4
    r, v, nv, te, tr = _random_stream(rng, T, N, A)
    log_rhos = rng.normal(size=(T, N, A)) * 0.3
    adv, ret = returns.gae(r, v, nv, te, tr, gamma=0.9, lam=0.8)
    g = returns.discounted_returns(r, te, tr, gamma=0.9, next_values=nv)
    n = returns.nstep_returns(r, nv, te, tr, gamma=0.9, n_steps=3)
    vs, pg = returns.vtrace(r, v, nv, te, tr, log_rhos, gamma=0.9)
    assert adv.shape == ret.shape == g.shape == n.shape == vs.shape == pg.shape == (T, N, A)
    for a in range(A):
        s = (slice(None), slice(None), a)
        adv_a, ret_a = returns.gae(r[s], v[s], nv[s], te[s], tr[s], gamma=0.9, lam=0.8)
        np.testing.assert_allclose(adv[s], adv_a, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ret[s], ret_a, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            g[s], returns.discounted_returns(r[s], te[s], tr[s], gamma=0.9, next_values=nv[s]), rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(
            n[s], returns.nstep_returns(r[s], nv[s], te[s], tr[s], gamma=0.9, n_steps=3), rtol=1e-12, atol=1e-12
        )
        vs_a, pg_a = returns.vtrace(r[s], v[s], nv[s], te[s], tr[s], log_rhos[s], gamma=0.9)
        np.testing.assert_allclose(vs[s], vs_a, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(pg[s], pg_a, rtol=1e-12, atol=1e-12)
    # torch in, torch out, same shape
    adv_t, _ = returns.gae(*(torch.from_numpy(x) for x in (r, v, nv, te, tr)), gamma=0.9, lam=0.8)
    assert isinstance(adv_t, torch.Tensor) and adv_t.shape == (T, N, A)
    np.testing.assert_allclose(adv_t.numpy(), adv, rtol=1e-12)
    with pytest.raises(ValueError, match=r"gae: values must have shape \(9, 3, 4\) like rewards, got \(9, 3\)"):
        returns.gae(r, v[:, :, 0], nv, te, tr, gamma=0.9, lam=0.8)


def test_rollout_with_an_agent_axis(rng):
    T, N, A = 5, 2, 3
    obs_space, act_space = gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(5)
    ro = Rollout(T, N, obs_space, act_space, num_agents=A)
    assert ro.obs.shape == (T, N, A, 4) and ro.actions.shape == (T, N, A) and ro.actions.dtype == torch.int64
    assert ro.rewards.shape == ro.valid.shape == (T, N, A) and ro.last_value.shape == (N, A)
    rows = []
    for _ in range(T):
        row = (
            rng.normal(size=(N, A, 4)).astype(np.float32),
            rng.integers(0, 5, (N, A)),
            rng.normal(size=(N, A)).astype(np.float32),
            rng.normal(size=(N, A)).astype(np.float32),
            rng.normal(size=(N, A)),
            rng.random((N, A)) < 0.2,
            rng.random((N, A)) < 0.2,
            rng.random((N, A)) < 0.7,
        )
        rows.append(row)
        ro.add(*row)
    ro.last_value = torch.from_numpy(rng.normal(size=(N, A)).astype(np.float32))
    nv = ro.next_values()
    np.testing.assert_array_equal(nv[:-1].numpy(), ro.values[1:].numpy())
    np.testing.assert_array_equal(nv[-1].numpy(), ro.last_value.numpy())
    b_obs, b_act, b_rew = ro.flat(ro.obs, ro.actions, ro.rewards)
    valid = np.stack([r[7] for r in rows])
    expected_obs = np.stack([r[0] for r in rows])[valid]  # (step, env, agent) order, valid entries only
    np.testing.assert_array_equal(b_obs.numpy(), expected_obs)
    np.testing.assert_array_equal(b_act.numpy(), np.stack([r[1] for r in rows])[valid])
    np.testing.assert_allclose(b_rew.numpy(), np.stack([r[4] for r in rows]).astype(np.float32)[valid])
    with pytest.raises(ValueError, match=r"Rollout: num_agents must be an integer >= 1 or None, got 2.5"):
        Rollout(T, N, obs_space, act_space, num_agents=2.5)
    with pytest.raises(ValueError, match=r"Rollout: num_agents must be an integer >= 1 or None, got 0"):
        Rollout(T, N, obs_space, act_space, num_agents=0)


def test_replay_with_an_agent_axis_stores_joint_transitions(rng):
    E, A = 3, 2
    buf = ReplayBuffer(100, (4,), (), num_envs=E, action_dtype=np.int64, num_agents=A, gamma=0.9)
    kept = []
    for step in range(6):
        obs, next_obs = rng.normal(size=(E, A, 4)), rng.normal(size=(E, A, 4))
        actions, rewards = rng.integers(0, 3, (E, A)), rng.normal(size=(E, A))
        terms, truncs = rng.random((E, A)) < 0.3, np.zeros((E, A), bool)
        valid = np.array([True, step % 2 == 0, True])
        buf.add(obs, actions, rewards, next_obs, terms, truncs, valid)
        kept += [(obs[i], actions[i], rewards[i], next_obs[i], terms[i]) for i in np.flatnonzero(valid)]
    assert len(buf) == len(kept) == 15
    for k, (o, a, r, no, te) in enumerate(kept):
        np.testing.assert_allclose(buf.obs[k], o, rtol=1e-6)
        np.testing.assert_array_equal(buf.actions[k], a)
        np.testing.assert_allclose(buf.rewards[k], r, rtol=1e-6)
        np.testing.assert_allclose(buf.next_obs[k], no, rtol=1e-6)
        np.testing.assert_array_equal(buf.terminations[k], te.astype(np.float32))
    batch = buf.sample(7, np.random.default_rng(0))
    assert batch.obs.shape == (7, A, 4) and batch.actions.shape == (7, A) and batch.rewards.shape == (7, A)
    assert batch.terminations.shape == (7, A) and batch.discounts.shape == (7,)
    np.testing.assert_allclose(batch.discounts.numpy(), 0.9, rtol=1e-6)
    with pytest.raises(ValueError, match=r"ReplayBuffer.add: rewards must have shape \(3, 2\), got \(3,\)"):
        buf.add(obs, actions, rewards[:, 0], next_obs, terms, truncs, valid)
    with pytest.raises(ValueError, match="ReplayBuffer: n_step must be 1 with num_agents"):
        ReplayBuffer(10, (4,), num_envs=1, num_agents=2, n_step=3)
    with pytest.raises(ValueError, match="ReplayBuffer: num_agents must be >= 1 or None, got 0"):
        ReplayBuffer(10, (4,), num_envs=1, num_agents=0)


class EpisodeIndexEnv(gym.Env):
    """obs = [index of the step inside the episode, episode number]; reward = index + 1 (paid for the
    action taken at obs index); an episode of env instance k has length 2 + (episode number + k) % 3 and
    terminates (or, for every third episode, truncates)."""

    observation_space = gym.spaces.Box(0, 1e6, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, k: int):
        self.k, self.episode, self.t = k, -1, 0

    def _obs(self):
        return np.array([self.t, self.episode], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        reward = float(self.t + 1)
        self.t += 1
        done = self.t == 2 + (self.episode + self.k) % 3
        trunc = done and self.episode % 3 == 2
        return self._obs(), reward, done and not trunc, trunc, {}


def _fill_sequences(capacity: int, num_steps: int, num_envs: int = 3) -> SequenceReplayBuffer:
    env = gym.vector.SyncVectorEnv([lambda k=k: EpisodeIndexEnv(k) for k in range(num_envs)])
    buf = SequenceReplayBuffer(capacity, (2,), (), num_envs=num_envs, action_dtype=np.int64)
    tracker = EpisodeTracker(num_envs)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(num_steps):
        actions = rng.integers(0, 2, num_envs)
        next_obs, rewards, terms, truncs, _ = env.step(actions)
        valid = tracker.step(rewards, terms, truncs)
        buf.add(obs, actions, rewards, terms, truncs, valid)
        obs = next_obs
    return buf


def _check_windows(batch, buf):
    obs = batch.obs.numpy()
    idx, ep = obs[..., 0], obs[..., 1]
    B, L = idx.shape
    for b in range(B):
        for k in range(L):
            final = k > 0 and batch.valid[b, k - 1] and (batch.terminations[b, k - 1] or batch.truncations[b, k - 1])
            # is_first exactly where the observation is an episode's first
            assert bool(batch.is_first[b, k]) == (idx[b, k] == 0 and bool(batch.valid[b, k]))
            if not batch.valid[b, k]:  # the final observation, kept from the reset step
                assert batch.rewards[b, k] == 0 and not batch.terminations[b, k] and not batch.truncations[b, k]
                if k > 0:
                    assert final and ep[b, k] == ep[b, k - 1] and idx[b, k] == idx[b, k - 1] + 1
            else:
                assert batch.rewards[b, k] == idx[b, k] + 1
            if k > 0 and batch.valid[b, k - 1] and not final:  # consecutive steps of one episode
                assert ep[b, k] == ep[b, k - 1] and idx[b, k] == idx[b, k - 1] + 1
            if k > 0 and not batch.valid[b, k - 1]:  # after the reset step: a new episode begins
                assert batch.is_first[b, k] and ep[b, k] == ep[b, k - 1] + 1
        # episode lengths follow the env's rule
        env_k = int(batch.env_ids[b])
        for k in range(L):
            if batch.terminations[b, k] or batch.truncations[b, k]:
                e = int(ep[b, k])
                assert idx[b, k] + 1 == 2 + (e + env_k) % 3
                assert bool(batch.truncations[b, k]) == (e % 3 == 2)


def test_sequence_windows_mark_episode_starts_and_final_observations():
    buf = _fill_sequences(capacity=3 * 200, num_steps=60)
    assert len(buf) == 180
    batch = buf.sample(64, 12, np.random.default_rng(0))
    assert batch.obs.shape == (64, 12, 2) and batch.actions.shape == (64, 12) and batch.is_first.shape == (64, 12)
    assert batch.is_first.any() and (~batch.valid).any()
    _check_windows(batch, buf)
    # the very first row of each env starts an episode
    assert buf.is_first[0].all()


def test_sequence_windows_stay_inside_the_stored_stream_after_wrapping():
    buf = _fill_sequences(capacity=3 * 20, num_steps=57)  # 57 steps per env into 20 slots per env
    assert len(buf) == 60 and buf.total == 57
    batch = buf.sample(400, 8, np.random.default_rng(2))
    _check_windows(batch, buf)
    # every start is among the 20 - 8 + 1 windows of the last 20 steps, and all of them are drawn
    assert set(batch.starts.tolist()) == set(range(57 - 20, 57 - 8 + 1))
    assert set(batch.env_ids.tolist()) == {0, 1, 2}


def test_sequence_replay_with_an_agent_axis_and_errors():
    buf = SequenceReplayBuffer(8, (3,), (2,), num_envs=2, num_agents=4)
    for t in range(5):
        buf.add(
            np.full((2, 4, 3), t, np.float32),
            np.zeros((2, 4, 2), np.float32),
            np.full((2, 4), t, np.float32),
            np.zeros((2, 4), bool),
            np.zeros((2, 4), bool),
            np.array([True, t != 2]),
        )
    batch = buf.sample(5, 3, np.random.default_rng(0))
    assert batch.obs.shape == (5, 3, 4, 3) and batch.actions.shape == (5, 3, 4, 2) and batch.rewards.shape == (5, 3, 4)
    assert batch.is_first.shape == batch.valid.shape == (5, 3)
    # 4 slots per env: slot 0 now holds t = 4; env 1's reset step t = 2 stores reward 0
    np.testing.assert_array_equal(buf.rewards[:, 1, 0], [4, 1, 0, 3])
    np.testing.assert_array_equal(buf.is_first[:, 1], [False, False, False, True])  # t = 3 follows a reset step
    with pytest.raises(
        ValueError,
        match=r"SequenceReplayBuffer.sample: seq_len must be <= the steps stored per env "
        r"\(4\), got 5",
    ):
        buf.sample(1, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="SequenceReplayBuffer.sample: batch_size must be >= 1, got 0"):
        buf.sample(0, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="SequenceReplayBuffer.sample: seq_len must be >= 1, got 0"):
        buf.sample(2, 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="SequenceReplayBuffer.sample: seq_len must be an int, got float 2.0"):
        buf.sample(2, 2.0, np.random.default_rng(0))
    # with replacement, a batch may be larger than what is stored; a huge one is refused before allocating
    with pytest.raises(
        MemoryError,
        match=r"^SequenceReplayBuffer.sample: batch_size 1099511627776 x seq_len 2 need \d+ bytes \([\d.e+]+ GiB\), "
        r"but only \d+ bytes are available; refused before allocating$",
    ):
        buf.sample(2**40, 2, np.random.default_rng(0))
    assert buf.sample(100, 2, np.random.default_rng(0)).obs.shape == (100, 2, 4, 3)
    with pytest.raises(ValueError, match=r"SequenceReplayBuffer.add: rewards must have shape \(2, 4\), got \(2,\)"):
        buf.add(np.zeros((2, 4, 3)), np.zeros((2, 4, 2)), np.zeros(2), np.zeros((2, 4), bool), np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match=r"SequenceReplayBuffer: capacity must be >= num_envs \(4\), got 3"):
        SequenceReplayBuffer(3, (3,), num_envs=4)
    with pytest.raises(ValueError, match="SequenceReplayBuffer: num_envs must be >= 1, got 0"):
        SequenceReplayBuffer(3, (3,), num_envs=0)
    with pytest.raises(ValueError, match="SequenceReplayBuffer: num_agents must be >= 1 or None, got 0"):
        SequenceReplayBuffer(3, (3,), num_envs=1, num_agents=0)
    with pytest.raises(TypeError, match="SequenceReplayBuffer: capacity must be an int, got float 8.5"):
        SequenceReplayBuffer(8.5, (3,), num_envs=1)
    with pytest.raises(TypeError, match="SequenceReplayBuffer: num_agents must be an int, got float 2.0"):
        SequenceReplayBuffer(8, (3,), num_envs=1, num_agents=2.0)
    for capacity, num_envs, num_agents in [(2**60, 1, None), (2**40, 4, 3), (8, 4, 2**60)]:
        with pytest.raises(
            MemoryError,
            match=rf"^SequenceReplayBuffer: capacity {capacity} with num_envs {num_envs} need \d+ bytes "
            r"\([\d.e+]+ GiB\), but only \d+ bytes are available; refused before allocating$",
        ):
            SequenceReplayBuffer(capacity, (3,), num_envs=num_envs, num_agents=num_agents)
