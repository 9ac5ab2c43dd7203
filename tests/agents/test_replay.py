"""Replay buffers (python/nextrl/agents/replay.py): n-step transitions from a NEXT_STEP-autoreset vector
env against direct per-episode sums (tests/reference/nstep.py), circular overwrite, prioritized sampling
frequencies and importance weights against Schaul et al.'s formulas in NumPy, and every input error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from nextrl.agents.replay import PrioritizedReplayBuffer, ReplayBuffer
from reference.nstep import nstep_targets


def _run_vector_stream(buffer, rng, num_envs, num_steps, p_term=0.08, p_trunc=0.05):
    """Feeds `buffer` a random NEXT_STEP stream: after a done, an env's next step is an (invalid) reset step.
    obs[:, 0] is a unique id. Returns the per-env episodes for the reference."""
    next_id = 0
    cur_obs = np.zeros((num_envs, 2), dtype=np.float32)
    for i in range(num_envs):
        cur_obs[i] = [next_id, rng.normal()]
        next_id += 1
    prev_done = np.zeros(num_envs, dtype=bool)
    running = [[] for _ in range(num_envs)]
    episodes = []
    for _ in range(num_steps):
        actions = rng.integers(0, 4, size=num_envs)
        rewards = rng.normal(size=num_envs).round(3)
        terms = rng.random(num_envs) < p_term
        truncs = (rng.random(num_envs) < p_trunc) & ~terms
        valid = ~prev_done
        terms &= valid
        truncs &= valid
        next_obs = np.zeros_like(cur_obs)
        for i in range(num_envs):
            next_obs[i] = [next_id, rng.normal()]
            next_id += 1
            if valid[i]:
                running[i].append(
                    dict(
                        obs_id=int(cur_obs[i, 0]),
                        action=int(actions[i]),
                        reward=float(rewards[i]),
                        next_obs_id=int(next_obs[i, 0]),
                        terminated=bool(terms[i]),
                    )
                )
                if terms[i] or truncs[i]:
                    episodes.append((running[i], True))
                    running[i] = []
        buffer.add(cur_obs, actions, rewards, next_obs, terms, truncs, valid)
        prev_done = terms | truncs
        cur_obs = next_obs
    episodes += [(steps, False) for steps in running if steps]
    return episodes


def _stored(buffer):
    out = {}
    for s in range(len(buffer)):
        out[int(buffer.obs[s, 0])] = (
            int(buffer.actions[s]),
            float(buffer.rewards[s]),
            int(buffer.next_obs[s, 0]),
            bool(buffer.terminations[s]),
            float(buffer.discounts[s]),
        )
    return out


@pytest.mark.parametrize("n_step", [1, 2, 3, 5])
def test_nstep_transitions_match_direct_sums(n_step, rng):
    gamma, num_envs = 0.9, 4
    buffer = ReplayBuffer(10_000, (2,), num_envs=num_envs, action_dtype=np.int64, n_step=n_step, gamma=gamma)
    episodes = _run_vector_stream(buffer, rng, num_envs, 400)
    expected = nstep_targets(episodes, n_step, gamma)
    got = _stored(buffer)
    assert len(buffer) == len(expected) and set(got) == set(expected)
    assert sum(e[3] for e in expected.values()) > 10  # terminations really occur
    for key, (action, ret, next_id, term, disc) in expected.items():
        g = got[key]
        assert g[0] == action and g[2] == next_id and g[3] == term, key
        np.testing.assert_allclose(g[1], ret, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(g[4], disc, rtol=1e-6, atol=0)


def test_circular_overwrite_keeps_newest_in_order():
    buffer = ReplayBuffer(5, (1,), (2,), num_envs=3)
    for t in range(4):  # 12 transitions, env-major within a step
        obs = np.arange(3 * t, 3 * t + 3, dtype=np.float32)[:, None]
        buffer.add(obs, np.tile(obs, (1, 2)), obs[:, 0], obs + 100, np.zeros(3, bool), np.zeros(3, bool))
    assert len(buffer) == 5 and buffer.pos == 12 % 5
    np.testing.assert_array_equal(np.sort(buffer.obs[:, 0]), [7, 8, 9, 10, 11])
    np.testing.assert_array_equal(buffer.obs[:, 0], [10, 11, 7, 8, 9])
    np.testing.assert_array_equal(buffer.next_obs[:, 0], buffer.obs[:, 0] + 100)
    np.testing.assert_array_equal(buffer.actions[:, 1], buffer.obs[:, 0])
    np.testing.assert_allclose(buffer.discounts, 0.99)
    big = ReplayBuffer(2, (1,), num_envs=3)  # one add larger than the capacity
    big.add(np.arange(3.0)[:, None], np.zeros(3), np.zeros(3), np.zeros((3, 1)), np.zeros(3, bool), np.zeros(3, bool))
    np.testing.assert_array_equal(np.sort(big.obs[:, 0]), [1, 2])


def test_uniform_sample_returns_stored_rows(rng):
    buffer = ReplayBuffer(100, (3,), num_envs=2, action_dtype=np.int64)
    for _ in range(30):
        obs = rng.normal(size=(2, 3))
        buffer.add(obs, rng.integers(0, 2, size=2), rng.normal(size=2), obs + 1, rng.random(2) < 0.2, np.zeros(2, bool))
    batch = buffer.sample(4000, rng)
    assert batch.obs.dtype == torch.float32 and batch.actions.dtype == torch.int64 and batch.obs.shape == (4000, 3)
    np.testing.assert_array_equal(batch.obs.numpy(), buffer.obs[batch.indices])
    np.testing.assert_array_equal(batch.terminations.numpy(), buffer.terminations[batch.indices])
    np.testing.assert_array_equal(batch.weights.numpy(), np.ones(4000))
    counts = np.bincount(batch.indices, minlength=60)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_prioritized_new_at_max_and_priorities_from_td_errors(rng):
    alpha, eps = 0.7, 1e-3
    buffer = PrioritizedReplayBuffer(8, (1,), num_envs=2, alpha=alpha, eps=eps)
    z = np.zeros(2, bool)
    for t in range(3):
        buffer.add(np.full((2, 1), t), np.zeros(2), np.zeros(2), np.zeros((2, 1)), z, z)
    np.testing.assert_array_equal(buffer.tree.priorities(), [1, 1, 1, 1, 1, 1, 0, 0])
    td = np.array([0.5, -3.0, 0.0])
    buffer.update_priorities(np.array([0, 1, 2]), torch.tensor(td))
    expected = (np.abs(td) + eps) ** alpha
    np.testing.assert_allclose(buffer.tree.priorities()[:3], expected, rtol=1e-12)
    assert buffer.max_priority == pytest.approx(expected.max())
    buffer.add(np.full((2, 1), 9), np.zeros(2), np.zeros(2), np.zeros((2, 1)), z, z)
    np.testing.assert_allclose(buffer.tree.priorities()[6:], [expected.max()] * 2, rtol=1e-12)


def test_prioritized_weights_and_frequencies_match_formulas(rng):
    alpha, beta, n = 0.6, 0.5, 40
    buffer = PrioritizedReplayBuffer(64, (1,), num_envs=1, alpha=alpha)
    z = np.zeros(1, bool)
    for t in range(n):
        buffer.add(np.full((1, 1), t), np.zeros(1), np.zeros(1), np.zeros((1, 1)), z, z)
    td = rng.exponential(size=n)
    buffer.update_priorities(np.arange(n), td)
    p = (np.abs(td) + buffer.eps) ** alpha
    prob = p / p.sum()
    w_all = (n * prob) ** -beta
    batch_size, counts = 32, np.zeros(n)
    for _ in range(500):
        batch = buffer.sample(batch_size, rng, beta=beta)
        np.testing.assert_allclose(batch.weights.numpy(), w_all[batch.indices] / w_all.max(), rtol=1e-5)
        np.testing.assert_array_equal(batch.obs.numpy()[:, 0], batch.indices)
        counts += np.bincount(batch.indices, minlength=n)
    assert stats.chisquare(counts, counts.sum() * prob).pvalue > 1e-3
    assert stats.chisquare(counts).pvalue < 1e-6  # not uniform


def test_errors():
    with pytest.raises(ValueError, match=r"ReplayBuffer: capacity must be >= 1, got 0"):
        ReplayBuffer(0, (2,), num_envs=1)
    with pytest.raises(ValueError, match=r"ReplayBuffer: num_envs must be >= 1, got 0"):
        ReplayBuffer(5, (2,), num_envs=0)
    with pytest.raises(ValueError, match=r"ReplayBuffer: n_step must be >= 1, got 0"):
        ReplayBuffer(5, (2,), num_envs=1, n_step=0)
    with pytest.raises(ValueError, match=r"ReplayBuffer: gamma must be in \[0, 1\], got 1.5"):
        ReplayBuffer(5, (2,), num_envs=1, gamma=1.5)
    with pytest.raises(ValueError, match=r"PrioritizedReplayBuffer: alpha must be >= 0, got -1"):
        PrioritizedReplayBuffer(5, (2,), num_envs=1, alpha=-1)
    with pytest.raises(ValueError, match=r"PrioritizedReplayBuffer: eps must be > 0, got 0"):
        PrioritizedReplayBuffer(5, (2,), num_envs=1, eps=0)
    buffer = PrioritizedReplayBuffer(5, (2,), num_envs=2)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"ReplayBuffer.sample: the buffer is empty"):
        ReplayBuffer.sample(buffer, 2, rng)
    with pytest.raises(ValueError, match=r"PrioritizedReplayBuffer.sample: the buffer is empty"):
        buffer.sample(2, rng)
    z = np.zeros(2, bool)
    with pytest.raises(ValueError, match=r"ReplayBuffer.add: obs must have shape \(2, 2\), got \(2, 3\)"):
        buffer.add(np.zeros((2, 3)), np.zeros(2), np.zeros(2), np.zeros((2, 2)), z, z)
    with pytest.raises(ValueError, match=r"ReplayBuffer.add: valid must have shape \(2,\), got \(3,\)"):
        buffer.add(np.zeros((2, 2)), np.zeros(2), np.zeros(2), np.zeros((2, 2)), z, z, np.ones(3, bool))
    buffer.add(np.zeros((2, 2)), np.zeros(2), np.zeros(2), np.zeros((2, 2)), z, z)
    with pytest.raises(ValueError, match=r"ReplayBuffer.sample: batch_size must be >= 1, got 0"):
        ReplayBuffer.sample(buffer, 0, rng)
    with pytest.raises(ValueError, match=r"PrioritizedReplayBuffer.sample: batch_size must be >= 1, got 0"):
        buffer.sample(0, rng)
    with pytest.raises(ValueError, match=r"PrioritizedReplayBuffer.sample: beta must be in \[0, 1\], got 2"):
        buffer.sample(2, rng, beta=2)
    with pytest.raises(
        ValueError, match=r"update_priorities: td_errors must have shape \(2,\) like indices, got \(3,\)"
    ):
        buffer.update_priorities(np.array([0, 1]), np.zeros(3))
    with pytest.raises(ValueError, match=r"update_priorities: td_errors must be finite, got nan"):
        buffer.update_priorities(np.array([0, 1]), np.array([0.0, np.nan]))
    with pytest.raises(IndexError, match=r"SumTree.update: index 7 out of range for capacity 5"):
        buffer.update_priorities(np.array([7]), np.array([1.0]))


_REFUSED = r"need \d+ bytes \([\d.e+]+ GiB\), but only \d+ bytes are available; refused before allocating$"


@pytest.mark.parametrize(
    "make, prefix",
    [
        (lambda: ReplayBuffer(2**60, (4,), num_envs=1), "ReplayBuffer: capacity 1152921504606846976"),
        (lambda: ReplayBuffer(2**40, (84, 84), num_envs=8), "ReplayBuffer: capacity 1099511627776"),
        (lambda: ReplayBuffer(2**40, (4,), num_envs=1, num_agents=3), "ReplayBuffer: capacity 1099511627776"),
        (lambda: ReplayBuffer(10, (4,), num_envs=2**60), "ReplayBuffer: capacity 10 with num_envs 1152921504606846976"),
        (
            lambda: ReplayBuffer(10, (4,), num_envs=1, n_step=2**60),
            "ReplayBuffer: capacity 10 with num_envs 1 and n_step",
        ),
        (lambda: ReplayBuffer(10, (2**62,), num_envs=1), "ReplayBuffer: capacity 10"),
        (
            lambda: PrioritizedReplayBuffer(2**60, (4,), num_envs=1),
            "PrioritizedReplayBuffer: capacity 1152921504606846976",
        ),
        (lambda: PrioritizedReplayBuffer(2**36, (1,), num_envs=1), "PrioritizedReplayBuffer: capacity 68719476736"),
    ],
)
def test_huge_buffers_are_refused_before_allocating(make, prefix):
    # the MemoryError of the C++ envs (csrc/common/memory.h), not NumPy's "array is too big" or its MemoryError
    with pytest.raises(MemoryError, match="^" + prefix + ".* " + _REFUSED):
        make()


def test_huge_batches_are_refused_before_allocating():
    # sampling is with replacement, so a batch larger than the stored size is legal, until it cannot fit
    rng = np.random.default_rng(0)
    z = np.zeros(1, bool)
    for buffer in (ReplayBuffer(10, (4,), num_envs=1), PrioritizedReplayBuffer(10, (4,), num_envs=1)):
        buffer.add(np.zeros((1, 4)), np.zeros(1), np.zeros(1), np.zeros((1, 4)), z, z)
        assert buffer.sample(1000, rng).obs.shape == (1000, 4)
        for batch_size in (2**40, 2**62):
            with pytest.raises(
                MemoryError, match=rf"^{type(buffer).__name__}.sample: batch_size {batch_size} " + _REFUSED
            ):
                buffer.sample(batch_size, rng)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ReplayBuffer(2.5, (4,), num_envs=1), "ReplayBuffer: capacity must be an int, got float 2.5"),
        (lambda: ReplayBuffer(10, (4,), num_envs=1.0), "ReplayBuffer: num_envs must be an int, got float 1.0"),
        (lambda: ReplayBuffer(10, (4,), num_envs=1, n_step=True), "ReplayBuffer: n_step must be an int, got bool True"),
        (lambda: ReplayBuffer(10, (4.0,), num_envs=1), r"ReplayBuffer: obs_shape\[0\] must be an int, got float 4.0"),
        (lambda: ReplayBuffer(10, 4, num_envs=1), "ReplayBuffer: obs_shape must be a sequence of ints, got int 4"),
        (lambda: ReplayBuffer(10, (4,), num_envs=1, num_agents=2.0), "ReplayBuffer: num_agents must be an int"),
        (lambda: PrioritizedReplayBuffer(1e3, (4,), num_envs=1), "ReplayBuffer: capacity must be an int, got float"),
    ],
)
def test_non_int_sizes_are_refused(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_non_int_batch_size_is_refused():
    buffer = ReplayBuffer(10, (4,), num_envs=1)
    z = np.zeros(1, bool)
    buffer.add(np.zeros((1, 4)), np.zeros(1), np.zeros(1), np.zeros((1, 4)), z, z)
    with pytest.raises(TypeError, match="ReplayBuffer.sample: batch_size must be an int, got float 2.5"):
        buffer.sample(2.5, np.random.default_rng(0))
    assert buffer.sample(np.int64(3), np.random.default_rng(0)).obs.shape == (3, 4)
