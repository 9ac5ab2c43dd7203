"""collect_dataset: columns consistent with the env's exact model, expert episodes optimal by DP, mixed
policies at the stated noise rate, npz round trip, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import nextrl  # noqa: F401
from nextrl.envs import Dataset, collect_dataset
from nextrl.envs.dp import value_iteration
from nextrl.envs.gridworld import GridWorldVectorEnv

ENV = "nextrl/GridWorld-v0"  # 5x5, coords, start (0, 0), goal (4, 4), step penalty 0.1, limit 100


def _cells(obs):
    return (obs[:, 1] * 5 + obs[:, 0]).astype(np.int64)


def test_random_transitions_follow_the_exact_model():
    ds = collect_dataset(ENV, "random", 20_000, seed=1, num_envs=64)
    assert len(ds) == 20_000
    assert ds.observations.shape == (20_000, 2) and ds.observations.dtype == np.float32
    assert ds.actions.dtype == np.int64 and set(np.unique(ds.actions)) == {0, 1, 2, 3}
    p, nxt, reward, terminal = GridWorldVectorEnv(1).transition_table()
    s, a, s2 = _cells(ds.observations), ds.actions, _cells(ds.next_observations)
    np.testing.assert_array_equal(s2, nxt[s, a, 0])
    np.testing.assert_allclose(ds.rewards, reward[s, a, 0], rtol=1e-6)
    np.testing.assert_array_equal(ds.terminations, terminal[s, a, 0])
    # within an episode, each next observation is the next transition's observation
    ids = ds.episode_ids
    order = np.argsort(ids, kind="stable")
    o_ids = ids[order]
    cont = o_ids[1:] == o_ids[:-1]
    np.testing.assert_array_equal(ds.next_observations[order][:-1][cont], ds.observations[order][1:][cont])
    assert cont.sum() > 15_000
    # every episode starts at the start cell, and truncations happen exactly at the step limit
    first = np.unique(ids, return_index=True)[1]
    np.testing.assert_array_equal(ds.observations[first], 0.0)
    lengths = np.bincount(ids)
    assert np.all(lengths[ids[ds.truncations]] == 100)


def test_expert_episodes_are_optimal():
    ds = collect_dataset(ENV, "expert", 5_000, seed=0, num_envs=32)
    sol = value_iteration(GridWorldVectorEnv(1).transition_table())
    returns = ds.episode_returns()
    assert len(returns) > 100
    np.testing.assert_allclose(returns, sol.values[0], atol=1e-5)  # 1 - 7 * 0.1 = 0.3
    assert sol.values[0] == pytest.approx(0.3)
    assert set(np.unique(ds.actions)) <= {0, 3}  # up and right only on the open grid
    assert not ds.truncations.any()


def test_mixed_policy_deviates_at_the_stated_rate():
    eps = 0.3
    ds = collect_dataset(ENV, "mixed", 40_000, seed=2, num_envs=128, epsilon=eps)
    policy = value_iteration(GridWorldVectorEnv(1).transition_table()).policy
    off = ds.actions != policy[_cells(ds.observations)]
    # a random replacement differs from the expert's action 3 times in 4
    rate = eps * 3 / 4
    lo, hi = stats.binom.interval(1 - 1e-6, len(ds), rate)
    assert lo <= off.sum() <= hi


def test_callable_policy_and_seed_reproducibility():
    always_right = lambda obs: np.full(len(obs), 3)
    ds = collect_dataset(ENV, always_right, 1_000, seed=0, num_envs=8)
    assert np.all(ds.actions == 3) and ds.policy == "callable"
    a = collect_dataset(ENV, "random", 3_000, seed=5, num_envs=16)
    b = collect_dataset(ENV, "random", 3_000, seed=5, num_envs=16)
    c = collect_dataset(ENV, "random", 3_000, seed=6, num_envs=16)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.observations, b.observations)
    assert not np.array_equal(a.actions, c.actions)


def test_npz_round_trip(tmp_path):
    ds = collect_dataset(ENV, "mixed", 2_000, seed=3, num_envs=16)
    path = tmp_path / "grid.npz"
    ds.save(path)
    back = Dataset.load(path)
    for col in (
        "observations",
        "actions",
        "rewards",
        "terminations",
        "truncations",
        "next_observations",
        "episode_ids",
    ):
        np.testing.assert_array_equal(getattr(back, col), getattr(ds, col))
    assert (back.env_id, back.policy, back.seed) == (ENV, "mixed", 3)


def test_load_refuses_a_file_without_the_columns(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, observations=np.zeros(3))
    with pytest.raises(ValueError, match="lacks column"):
        Dataset.load(path)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((ENV, "expret", 10), {}, "unknown policy 'expret'; did you mean 'expert'"),
        (("nextrl/GridWrld-v0", "random", 10), {}, "unknown env id 'nextrl/GridWrld-v0'"),
        ((ENV, "random", 0), {}, "num_transitions must be >= 1"),
        ((ENV, "mixed", 10), {"epsilon": 1.5}, r"epsilon must be in \[0, 1\]"),
        ((ENV, "random", 10), {"num_envs": 0}, "num_envs must be >= 1"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        collect_dataset(*args, **kwargs)


def test_expert_needs_a_tabular_env():
    with pytest.raises(ValueError, match="needs an env with an exact tabular model"):
        collect_dataset("CartPole-v1", "expert", 10, num_envs=2, env_kwargs={"vectorization_mode": "sync"})
