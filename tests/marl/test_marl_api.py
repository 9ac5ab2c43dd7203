"""The batched multi-agent API (csrc/marl/vec_marl_env.h, python/nextrl/marl/core.py): SAME_STEP / DISABLED
autoreset, NEXT_STEP episode statistics, FlattenAgents, group views, and the errors. PettingZoo's tests,
seeding, batch of N = N single envs seeded seed + i and thread invariance run on every env in
tests/marl/test_standard_checks.py (tests/env_harness.py)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from nextrl.marl import (
    FlattenAgents,
    PredatorPreyVectorEnv,
    TargetCollectionVectorEnv,
    TwoStepGameVectorEnv,
    predator_prey,
)
from nextrl.marl.parallel import MarlParallelEnv


def test_parallel_env_agents_leave_and_infos():
    env = predator_prey.parallel_env(grid_size=3, num_predators=2, num_prey=2, prey_policy="learning", max_steps=200)
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(env.possible_agents) and obs["prey_1"].shape == env.observation_space("prey_1").shape
    np.testing.assert_array_equal(infos["predator_0"]["action_mask"].shape, (5,))
    assert env.state().shape == env.state_space.shape
    gen = np.random.default_rng(0)
    left = []
    while env.agents:
        live = list(env.agents)
        _, rew, te, tr, _ = env.step({a: int(gen.integers(5)) for a in live})
        assert set(rew) == set(live)
        left += [a for a in live if te[a] or tr[a]]
    assert sorted(left) == sorted(env.possible_agents)
    with pytest.raises(RuntimeError, match="every agent has finished"):
        env.step({})


def test_missing_pettingzoo_names_the_extra(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "pettingzoo", None)
    monkeypatch.delitem(sys.modules, "nextrl.marl.parallel", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'nextrl\[marl\]'"):
        importlib.import_module("nextrl.marl.parallel")
    monkeypatch.undo()
    importlib.import_module("nextrl.marl.parallel")


def test_same_step_autoreset_reports_final_obs():
    env = PredatorPreyVectorEnv(
        4, grid_size=4, num_predators=2, num_prey=1, max_steps=5, autoreset_mode=AutoresetMode.SAME_STEP
    )
    ref = PredatorPreyVectorEnv(
        4, grid_size=4, num_predators=2, num_prey=1, max_steps=5, autoreset_mode=AutoresetMode.DISABLED
    )
    env.reset(seed=2)
    ref.reset(seed=2)
    gen = np.random.default_rng(0)
    seen = 0
    for _ in range(12):
        a = gen.integers(0, 5, (4, 2))
        o, r, te, tr, infos = env.step(a)
        ro, rr, rte, rtr, rinfos = ref.step(a)
        np.testing.assert_array_equal(r, rr)
        np.testing.assert_array_equal(te, rte)
        np.testing.assert_array_equal(tr, rtr)
        done = rinfos.get("_episode", np.zeros(4, bool))
        if done.any():
            seen += done.sum()
            np.testing.assert_array_equal(infos["_final_obs"], done)
            np.testing.assert_array_equal(infos["final_obs"][done], ro[done])
            np.testing.assert_array_equal(infos["final_state"][done], rinfos["state"][done])
            np.testing.assert_array_equal(infos["episode"]["r"][done], rinfos["episode"]["r"][done])
            ro, _ = ref.reset(options={"reset_mask": done})  # the reset continues each env's stream
        np.testing.assert_array_equal(o, ro)
    assert seen >= 4


def test_next_step_autoreset_and_episode_stats():
    env = TwoStepGameVectorEnv(2)
    env.reset(seed=0)
    env.step(np.array([[1, 0], [0, 0]]))
    _, r, te, _, infos = env.step(np.array([[1, 1], [0, 1]]))
    np.testing.assert_array_equal(r, [[8, 8], [7, 7]])
    np.testing.assert_array_equal(infos["episode"]["r"], [[8, 8], [7, 7]])
    np.testing.assert_array_equal(infos["episode"]["l"], [2, 2])
    assert not infos["active"].any()
    obs, r, te, tr, infos = env.step(np.array([[5, 5], [5, 5]]))  # ignored: this step resets
    np.testing.assert_array_equal(obs[:, :, 0], 1)
    assert not r.any() and not te.any() and infos["active"].all() and "episode" not in infos


def test_flatten_agents():
    marl = TargetCollectionVectorEnv(3, grid_size=4, num_agents=2, num_targets=2, max_steps=10)
    flat = FlattenAgents(marl)
    assert flat.num_envs == 6 and flat.single_observation_space.shape == (marl.obs_size,)
    obs, infos = flat.reset(seed=0)
    twin = TargetCollectionVectorEnv(3, grid_size=4, num_agents=2, num_targets=2, max_steps=10)
    tobs, _ = twin.reset(seed=0)
    np.testing.assert_array_equal(obs, tobs.reshape(6, -1))
    gen = np.random.default_rng(0)
    for _ in range(12):
        a = gen.integers(0, 5, 6)
        o, r, te, tr, infos = flat.step(a)
        to, tr_, tte, ttr, tinfos = twin.step(a.reshape(3, 2))
        np.testing.assert_array_equal(o, to.reshape(6, -1))
        np.testing.assert_array_equal(r, tr_.reshape(-1))
        np.testing.assert_array_equal(te | tr, (tte | ttr).reshape(-1))
        np.testing.assert_array_equal(infos["active"], tinfos["active"].reshape(-1))
        np.testing.assert_array_equal(infos["collisions"], np.repeat(tinfos["collisions"], 2))
        if "episode" in tinfos:
            np.testing.assert_array_equal(infos["episode"]["r"], tinfos["episode"]["r"].reshape(-1))
    with pytest.raises(ValueError, match=r"step: actions must have shape \(6,\), got \(3, 2\)"):
        flat.step(np.zeros((3, 2), np.int64))
    with pytest.raises(TypeError, match="FlattenAgents: env must be a MarlVectorEnv"):
        FlattenAgents(flat)


def test_group_views_pad_layout():
    env = PredatorPreyVectorEnv(2, num_predators=2, num_prey=1, prey_policy="learning")
    obs, _ = env.reset(seed=0)
    prey = env.group_obs(obs, "prey")
    assert prey.shape == (2, 1, env.observation_space("prey_0").shape[0])
    assert np.shares_memory(prey, obs)


def test_api_errors():
    env = PredatorPreyVectorEnv(2, num_predators=2, num_prey=1, prey_policy="learning")
    with pytest.raises(ValueError, match="unknown agent 'predator_7'; did you mean 'predator_1'"):
        env.agent_index("predator_7")
    with pytest.raises(ValueError, match="unknown group 'prey_'; did you mean 'prey'"):
        env.group_obs(np.zeros((2, 3, env.obs_size)), "prey_")
    with pytest.raises(ValueError, match="unknown option 'reset_msk'; did you mean 'reset_mask'"):
        env.reset(seed=0, options={"reset_msk": None})
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\), got -1"):
        env.reset(seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        env.reset(seed=1.5)
    with pytest.raises(ValueError, match=r"reset_mask'\] must have shape \(2,\), got \(3,\)"):
        env.reset(options={"reset_mask": np.ones(3, bool)})
    with pytest.raises(ValueError, match="num_envs must be >= 1, got 0"):
        PredatorPreyVectorEnv(0)
    with pytest.raises(ValueError, match="'bogus' is not a valid AutoresetMode"):
        PredatorPreyVectorEnv(1, autoreset_mode="bogus")
    d = PredatorPreyVectorEnv(1, max_steps=1, autoreset_mode=AutoresetMode.DISABLED)
    d.reset(seed=0)
    d.step(np.zeros((1, 2), np.int64))
    with pytest.raises(ValueError, match="env 0 has finished its episode and autoreset is disabled"):
        d.step(np.zeros((1, 2), np.int64))
    par = predator_prey.parallel_env(num_prey=1)
    par.reset(seed=0)
    with pytest.raises(ValueError, match="unknown agent 'predator_2'; did you mean 'predator_[01]'"):
        par.step({"predator_0": 0, "predator_1": 0, "predator_2": 0})
    with pytest.raises(ValueError, match="missing live agent"):
        par.step({"predator_0": 0})
    with pytest.raises(ValueError, match=r"action of agent 'predator_0' must have shape \(\)"):
        par.step({"predator_0": [0, 1], "predator_1": 0})
    with pytest.raises(ValueError, match=r"actions\[0, 1\] \(agent 'predator_1'\) must be in \[0, 5\)"):
        par.step({"predator_0": 0, "predator_1": 9})
    with pytest.raises(TypeError, match="actions must be a dict"):
        par.step([0, 0])
    assert isinstance(par, MarlParallelEnv)
