"""Copyable env state of every multi-agent env (csrc/envs/env_state.h through VecMarlEnv): get_state, step k
times, set_state, step the same actions again -> identical observations, rewards, flags and infos, bit for
bit, through agent exits and autoresets; rows restore into fresh and tiled envs and into the PettingZoo
ParallelEnv; PettingZoo actions of the wrong type are refused."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl.marl import (
    matrix_games,
    mpe,
    point_mass_team,
    predator_prey,
    resource_allocation,
    smart_grid,
    target_collection,
    traffic,
)

# name -> (vector env class, short-episode config, parallel_env factory)
ENVS = {
    "matrix_game": (matrix_games.MatrixGameVectorEnv, {"rounds": 3}, matrix_games.parallel_env),
    "two_step": (matrix_games.TwoStepGameVectorEnv, {}, lambda: matrix_games.two_step_parallel_env()),
    "simple_spread": (mpe.SimpleSpreadVectorEnv, {"max_cycles": 9}, mpe.simple_spread_parallel_env),
    "simple_spread_continuous": (
        mpe.SimpleSpreadVectorEnv,
        {"max_cycles": 9, "continuous_actions": True},
        mpe.simple_spread_parallel_env,
    ),
    "simple_tag": (mpe.SimpleTagVectorEnv, {"max_cycles": 9}, mpe.simple_tag_parallel_env),
    "point_mass_team": (point_mass_team.PointMassTeamVectorEnv, {"max_steps": 9}, point_mass_team.parallel_env),
    "predator_prey": (predator_prey.PredatorPreyVectorEnv, {"max_steps": 9}, predator_prey.parallel_env),
    "resource_allocation": (
        resource_allocation.ResourceAllocationVectorEnv,
        {"max_steps": 9},
        resource_allocation.parallel_env,
    ),
    "smart_grid": (smart_grid.SmartGridVectorEnv, {"step_hours": 3.0}, smart_grid.parallel_env),
    "target_collection": (
        target_collection.TargetCollectionVectorEnv,
        {"max_steps": 9},
        target_collection.parallel_env,
    ),
    "traffic": (traffic.TrafficVectorEnv, {"max_steps": 9}, traffic.parallel_env),
}


def make(name: str, num_envs: int, mode=AutoresetMode.NEXT_STEP):
    cls, config, _ = ENVS[name]
    return cls(num_envs, autoreset_mode=mode, **config)


def sample_actions(env, k: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    space = env.single_action_space
    if isinstance(space, spaces.Discrete):
        return [rng.integers(0, space.n, (env.num_envs, env.num_agents)) for _ in range(k)]
    return [
        rng.uniform(space.low, space.high, (env.num_envs, env.num_agents, *space.shape)).astype(np.float32)
        for _ in range(k)
    ]


def assert_same(a, b, where: str) -> None:
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
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert type(a) is type(b) and a == b, where


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=lambda m: m.value)
@pytest.mark.parametrize("name", sorted(ENVS))
def test_vector_state_round_trip(name, mode):
    n, k = 5, 30
    env = make(name, n, mode)
    env.reset(seed=31)
    for a in sample_actions(env, 4, seed=1):
        env.step(a)
    snap = env.get_state()
    assert snap.dtype == np.uint8 and snap.shape == (n, env._core.state_bytes)
    obs_at_snap = env.observations
    actions = sample_actions(env, k, seed=2)
    first = [env.step(a) for a in actions]
    assert sum(int(out[4].get("_episode", np.zeros(n, bool)).sum()) for out in first) > 0, "no episode ended"
    assert not np.array_equal(env.get_state(), snap)

    env.set_state(snap)
    np.testing.assert_array_equal(env.get_state(), snap)
    np.testing.assert_array_equal(env.observations, obs_at_snap)
    for t, (x, y) in enumerate(zip(first, [env.step(a) for a in actions])):
        assert_same(x, y, f"{name} step {t}")

    fresh = make(name, n, mode)
    fresh.set_state(snap)
    for t, (x, y) in enumerate(zip(first, [fresh.step(a) for a in actions])):
        assert_same(x, y, f"{name} fresh step {t}")

    # Tiled: every copy of env 1's row, given env 1's actions, replays env 1.
    tiled = make(name, n, mode)
    tiled.set_state(np.ascontiguousarray(np.repeat(snap[1:2], n, axis=0)))
    same = [np.ascontiguousarray(np.repeat(a[1:2], n, axis=0)) for a in actions]
    env.set_state(snap)
    for t, a in enumerate(same):
        x, y = env.step(a), tiled.step(a)
        for field in range(4):
            np.testing.assert_array_equal(y[field], np.repeat(x[field][1:2], n, axis=0), err_msg=f"{name} {t}")


@pytest.mark.parametrize("name", sorted(ENVS))
def test_parallel_env_state_round_trip_and_vector_rows(name):
    cls, config, factory = ENVS[name]
    kwargs = dict(config)
    par = factory(**kwargs) if name != "two_step" else factory()
    par.reset(seed=4)
    rng = np.random.default_rng(0)

    def act():
        return {
            a: par.action_space(a).sample()
            if not isinstance(par.action_space(a), spaces.Discrete)
            else int(rng.integers(par.action_space(a).n))
            for a in par.agents
        }

    par.action_space(par.possible_agents[0]).seed(0)
    par.step(act())
    snap = par.get_state()
    agents = list(par.agents)
    plan = []
    outs = []
    while par.agents:
        plan.append(act())
        outs.append(par.step(plan[-1]))
    par.set_state(snap)
    assert par.agents == agents
    for t, (actions, out) in enumerate(zip(plan, outs)):
        assert_same(out, par.step(actions), f"{name} parallel step {t}")
    assert par.agents == []

    # A row of a vector env (env 2 of a batch seeded 10) restores into the ParallelEnv.
    vec = make(name, 3, AutoresetMode.DISABLED)
    vec.reset(seed=10)
    par.set_state(vec.get_state()[2])
    np.testing.assert_array_equal(par.get_state(), vec.get_state()[2])
    assert par.agents == par.possible_agents
    obs = par.observations()
    for agent, o in obs.items():
        size = o.shape[0]
        np.testing.assert_array_equal(o, vec.observations[2, vec.agent_index(agent), :size])


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (1.5, TypeError, r"step: action of agent '\w+' must be an int for Discrete\(2\), got float 1.5"),
        (None, TypeError, r"step: action of agent '\w+' must be an int for Discrete\(2\), got NoneType None"),
        (np.float32(1.0), TypeError, "must be an int"),
        (True, TypeError, "must be an int"),
    ],
)
def test_parallel_env_refuses_wrong_typed_actions(bad, error, match):
    par = matrix_games.parallel_env()
    par.reset(seed=0)
    agents = list(par.agents)
    before = par.get_state()
    with pytest.raises(error, match=match):
        par.step({agents[0]: bad, agents[1]: 0})
    np.testing.assert_array_equal(par.get_state(), before)  # nothing moved


def test_continuous_parallel_env_refuses_none():
    par = mpe.simple_spread_parallel_env(continuous_actions=True)
    par.reset(seed=0)
    actions = {a: np.zeros(5, np.float32) for a in par.agents}
    actions[par.agents[0]] = None
    with pytest.raises(TypeError, match="must be real numbers"):
        par.step(actions)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: point_mass_team.PointMassTeamVectorEnv(2, num_agents=2.7),
            "PointMassTeam: num_agents must be an int, got float 2.7",
        ),
        (lambda: predator_prey.PredatorPreyVectorEnv(2, grid_size=5.5), "PredatorPrey: grid_size must be an int"),
        (lambda: mpe.SimpleSpreadVectorEnv(2, N=2.0), "simple_spread: N must be an int, got float 2.0"),
        (lambda: traffic.TrafficVectorEnv(2, num_vehicles=3.5), "Traffic: num_vehicles must be an int"),
        (lambda: target_collection.TargetCollectionVectorEnv(2, num_agents=np.float32(2)), "must be an int"),
    ],
)
def test_wrong_typed_counts_are_refused(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_huge_num_envs_is_refused_before_allocating():
    with pytest.raises(MemoryError, match="VecMarlEnv: 1099511627776 envs need .* refused before allocating"):
        mpe.SimpleSpreadVectorEnv(2**40)


def test_marl_termination_on_the_time_limit_step_is_also_truncation():
    # Gymnasium's TimeLimit (and mpe2 / PettingZoo's max_cycles): truncated on the last step, terminated or
    # not. ResourceAllocation with a threshold above every capacity terminates on step 1; max_steps = 1.
    env = resource_allocation.ResourceAllocationVectorEnv(2, max_steps=1, done_threshold=1e9)
    env.reset(seed=0)
    _, _, te, tr, _ = env.step(np.zeros((2, env.num_agents, *env.single_action_space.shape), np.float32))
    assert te.all() and tr.all()
    env = resource_allocation.ResourceAllocationVectorEnv(2, max_steps=2, done_threshold=1e9)
    env.reset(seed=0)
    _, _, te, tr, _ = env.step(np.zeros((2, env.num_agents, *env.single_action_space.shape), np.float32))
    assert te.all() and not tr.any()
    env = matrix_games.MatrixGameVectorEnv(2, rounds=1)  # no time limit: terminated only
    env.reset(seed=0)
    _, _, te, tr, _ = env.step(np.zeros((2, 2), np.int64))
    assert te.all() and not tr.any()
