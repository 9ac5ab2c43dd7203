"""simple_spread and simple_tag against mpe2 1.1 itself: the same world state (copied from nextrl into
mpe2's world) and the same actions give the same observations, rewards, truncations and global state to
1e-5 over whole episodes, with discrete and continuous actions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nextrl.marl.mpe import SimpleSpreadVectorEnv, SimpleTagVectorEnv

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from mpe2 import simple_spread_v3, simple_tag_v3

CASES = {
    "spread": (SimpleSpreadVectorEnv, simple_spread_v3, dict(N=3)),
    "spread5": (SimpleSpreadVectorEnv, simple_spread_v3, dict(N=5, local_ratio=0.25)),
    "tag": (SimpleTagVectorEnv, simple_tag_v3, dict(num_good=1, num_adversaries=3, num_obstacles=2)),
    "tag2": (SimpleTagVectorEnv, simple_tag_v3, dict(num_good=2, num_adversaries=2, num_obstacles=1)),
}


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_matches_mpe2(case, continuous):
    cls, module, kw = CASES[case]
    max_cycles = 50
    gen = np.random.default_rng(0)
    collisions = 0
    for seed in (1, 2, 3, 4):
        ours = cls(1, continuous_actions=continuous, max_cycles=max_cycles, **kw)
        obs, infos = ours.reset(seed=seed)
        theirs = module.parallel_env(continuous_actions=continuous, max_cycles=max_cycles, **kw)
        theirs.reset(seed=0)
        assert theirs.possible_agents == ours.possible_agents
        world = theirs.unwrapped.world
        ws = ours.world_state()[0]
        for e, entity in enumerate(world.entities):
            entity.state.p_pos = ws[e, :2].copy()
            entity.state.p_vel = ws[e, 2:].copy()
        for agent in ours.possible_agents:
            k = ours.agent_index(agent)
            want = theirs.unwrapped.observe(agent)
            assert ours.observation_space(agent).shape == theirs.observation_space(agent).shape
            np.testing.assert_allclose(obs[0, k, : want.shape[0]], want, rtol=0, atol=1e-6)
            np.testing.assert_array_equal(obs[0, k, want.shape[0] :], 0)
        np.testing.assert_allclose(infos["state"][0], theirs.unwrapped.state(), rtol=0, atol=1e-6)
        for t in range(max_cycles):
            A = ours.num_agents
            a = gen.random((A, 5)).astype(np.float32) if continuous else gen.integers(0, 5, A)
            if "tag" in case:  # adversaries chase good agent 0, so that they catch it now and then
                a = _chase(a, ours.world_state()[0], kw["num_adversaries"], continuous)
            o2, r2, te2, tr2, _ = theirs.step({agent: a[k] for k, agent in enumerate(ours.possible_agents)})
            o, r, te, tr, infos = ours.step(a[None])
            for k, agent in enumerate(ours.possible_agents):
                n = o2[agent].shape[0]
                np.testing.assert_allclose(o[0, k, :n], o2[agent], rtol=0, atol=1e-5, err_msg=f"{agent} t={t}")
                np.testing.assert_allclose(r[0, k], r2[agent], rtol=0, atol=1e-5, err_msg=f"{agent} t={t}")
                assert tr[0, k] == tr2[agent] and te[0, k] == te2[agent]
                collisions += r2[agent] <= -1.0 if "spread" in case else abs(r2[agent]) >= 10
            if t < max_cycles - 1:
                np.testing.assert_allclose(infos["state"][0], theirs.unwrapped.state(), rtol=0, atol=1e-5)
        assert tr.all()
    if case in ("spread", "tag"):
        assert collisions > 0  # the runs exercised the contact forces / collision rewards


def _chase(a, ws, num_adversaries, continuous):
    a = a.copy()
    for v in range(num_adversaries):
        d = ws[num_adversaries, :2] - ws[v, :2]
        axis = int(abs(d[1]) > abs(d[0]))
        k = 1 + 2 * axis + int(d[axis] > 0)  # 1 -x, 2 +x, 3 -y, 4 +y
        if continuous:
            a[v] = 0.0
            a[v, k] = 1.0
        else:
            a[v] = k
    return a


def test_heterogeneous_groups_in_tag():
    env = SimpleTagVectorEnv(4)
    assert env.groups == {"adversary": slice(0, 3), "agent": slice(3, 4)}
    assert env.observation_space("adversary_0").shape == (16,) and env.observation_space("agent_0").shape == (14,)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 4, 16) and env.group_obs(obs, "agent").shape == (4, 1, 14)
    np.testing.assert_array_equal(obs[:, 3, 14:], 0)


def test_continuous_action_errors():
    env = SimpleSpreadVectorEnv(2, continuous_actions=True)
    env.reset(seed=0)
    bad = np.full((2, 3, 5), 0.5, np.float32)
    bad[1, 2, 3] = 1.5
    with pytest.raises(ValueError, match=r"actions\[1, 2\] \(agent 'agent_2'\) must have 5 entries in \[0, 1\]"):
        env.step(bad)
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 3, 5\), got \(2, 3\)"):
        env.step(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"local_ratio must be in \[0, 1\], got 2"):
        SimpleSpreadVectorEnv(1, local_ratio=2.0)
