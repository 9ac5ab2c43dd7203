"""TargetCollection against the pure-Python reference, the collision rule on hand-built cases (same cell,
swap, move into a staying agent, chains, rotations, cascades), declared = real observation size, and
agent permutation symmetry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from env_harness import check_marl_against_reference
from nextrl import _core
from nextrl.marl import TargetCollectionVectorEnv
from reference.marl_grids import MOVES, TargetCollectionRef

CONFIGS = [
    dict(grid_size=4, num_agents=4, num_targets=3, max_steps=30),
    dict(grid_size=3, num_agents=5, num_targets=2, max_steps=20, collision_penalty=1.5, team_bonus=3.0),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_reference(config, rng):
    env = TargetCollectionVectorEnv(6, **config)
    episodes = check_marl_against_reference(env, lambda: TargetCollectionRef(**config), seed=4, steps=150, rng=rng)
    assert episodes >= 6


def test_collision_rule_by_hand():
    res = TargetCollectionRef.resolve
    # same destination: both stay
    assert res([(0, 0), (2, 0)], [(1, 0), (1, 0)]) == ([(0, 0), (2, 0)], [True, True])
    # swap: both stay
    assert res([(0, 0), (1, 0)], [(1, 0), (0, 0)]) == ([(0, 0), (1, 0)], [True, True])
    # into an agent that stays: the mover stays
    assert res([(0, 0), (1, 0)], [(1, 0), (1, 0)]) == ([(0, 0), (1, 0)], [True, False])
    # a train moves, a rotation of 4 moves
    assert res([(0, 0), (1, 0), (2, 0)], [(1, 0), (2, 0), (3, 0)]) == ([(1, 0), (2, 0), (3, 0)], [False] * 3)
    rot = [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert res(rot, rot[1:] + rot[:1]) == (rot[1:] + rot[:1], [False] * 4)
    # cascade: the head of a train is blocked, so the whole train stays
    assert res([(0, 0), (1, 0), (2, 0), (4, 0)], [(1, 0), (2, 0), (3, 0), (3, 0)]) == (
        [(0, 0), (1, 0), (2, 0), (4, 0)],
        [True] * 4,
    )


def test_no_two_agents_share_a_cell(rng):
    env = TargetCollectionVectorEnv(200, grid_size=3, num_agents=6, num_targets=1, max_steps=50)
    _, infos = env.reset(seed=1)
    for _ in range(60):
        _, _, _, _, infos = env.step(rng.integers(0, 5, (200, 6)))
        cells = np.round(infos["state"][:, :12].reshape(200, 6, 2) * 3).astype(int)
        codes = cells[..., 0] * 3 + cells[..., 1]
        for row in codes:
            assert len(set(row)) == 6


def test_declared_observation_size_is_real():
    for n, t in [(4, 3), (1, 1), (6, 5)]:
        env = TargetCollectionVectorEnv(1, grid_size=8, num_agents=n, num_targets=t)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (1, n, 2 + 2 * (n - 1) + 3 * t)
        assert env.observation_space("agent_0").shape == obs.shape[2:]
        assert env.single_observation_space.contains(obs[0, 0])


def test_agent_permutation_symmetry(rng):
    """Relabelling agents permutes every output the same way: simulate with the reference under a
    permutation and compare with the C++ env (which is itself checked against the reference)."""
    cfg = dict(grid_size=4, num_agents=3, num_targets=2, max_steps=40)
    env = TargetCollectionVectorEnv(1, **cfg)
    obs, infos = env.reset(seed=7)
    base = np.round(infos["state"][0] * 4).astype(int)
    pos = [tuple(base[2 * k : 2 * k + 2]) for k in range(3)]
    targets = [tuple(base[6 + 3 * t : 8 + 3 * t]) for t in range(2)]
    for perm in itertools.permutations(range(3)):
        ref = TargetCollectionRef(**cfg)
        ref.pos, ref.targets, ref.present, ref.collected, ref.t = (
            [pos[p] for p in perm],
            list(targets),
            [True] * 2,
            0,
            0,
        )
        env = TargetCollectionVectorEnv(1, **cfg)
        env.reset(seed=7)
        gen = np.random.default_rng(3)
        for _ in range(25):
            a = gen.integers(0, 5, 3)
            o, r, te, _, _ = env.step(a[None])
            ro, rr, rte, _ = ref.step([a[p] for p in perm])
            np.testing.assert_allclose(rr, r[0][list(perm)], atol=1e-6)
            # own position and targets are label-free; the other agents' block is reordered
            np.testing.assert_allclose(ro[:, :2], o[0][list(perm), :2], atol=1e-6)
            np.testing.assert_allclose(ro[:, 6:], o[0][list(perm), 6:], atol=1e-6)
            if te.any():
                break


def test_target_collection_errors():
    with pytest.raises(ValueError, match="do not fit on distinct cells"):
        TargetCollectionVectorEnv(1, grid_size=2, num_agents=3, num_targets=2)
    with pytest.raises(ValueError, match=r"num_agents must be in \[1, 64\], got 0"):
        TargetCollectionVectorEnv(1, num_agents=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_agent'"):
        TargetCollectionVectorEnv(1, num_agent=3)
    env = TargetCollectionVectorEnv(2, num_agents=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[0, 1\] \(agent 'agent_1'\) must be in \[0, 5\)"):
        env.step(np.array([[0, -1], [0, 0]]))
    assert MOVES[1] == (0, 1) and _core._TargetCollection.info_names == ["targets_collected", "collisions"]
