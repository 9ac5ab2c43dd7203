"""Copyable env state of the multi-agent envs: PettingZoo actions of the wrong type are refused (nothing
moves), wrong-typed counts and huge batches are refused, and a termination on the time-limit step is also a
truncation. The round trip (vector, fresh, tiled and ParallelEnv, rows of vector envs) runs on every env as
check_state_round_trip of tests/env_harness.py."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.parametrize(
    "cls",
    [
        matrix_games.MatrixGameVectorEnv,
        matrix_games.TwoStepGameVectorEnv,
        mpe.SimpleSpreadVectorEnv,
        mpe.SimpleTagVectorEnv,
        point_mass_team.PointMassTeamVectorEnv,
        predator_prey.PredatorPreyVectorEnv,
        resource_allocation.ResourceAllocationVectorEnv,
        smart_grid.SmartGridVectorEnv,
        target_collection.TargetCollectionVectorEnv,
        traffic.TrafficVectorEnv,
    ],
    ids=lambda cls: cls.__name__,
)
def test_num_envs_that_is_not_an_int_is_refused(cls):
    with pytest.raises(TypeError, match=rf"^{cls.__name__}: num_envs must be an int, got float 2.5$"):
        cls(num_envs=2.5)
    with pytest.raises(TypeError, match=rf"^{cls.__name__}: num_envs must be an int, got bool True$"):
        cls(True)


def test_parallel_env_refuses_batch_arguments():
    with pytest.raises(TypeError, match=r"^parallel_env: num_envs cannot be set \(a ParallelEnv is one env"):
        predator_prey.parallel_env(num_envs=2)
    with pytest.raises(TypeError, match=r"^parallel_env: autoreset_mode, copy cannot be set"):
        mpe.simple_spread_parallel_env(copy=False, autoreset_mode="next_step")


def test_parallel_env_refuses_a_missing_agent_action():
    par = predator_prey.parallel_env()
    par.reset(seed=0)
    with pytest.raises(ValueError, match=r"^step: actions is missing live agent\(s\) 'predator_1'$"):
        par.step({"predator_0": 0})


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
