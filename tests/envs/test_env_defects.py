"""Defects of issue 12, item 6, checked against Gymnasium itself: truncation on a time-limit step that also
terminates, Python types of the single toy-text envs (gymnasium.utils.env_match), wrong-typed arguments
refused instead of truncated, seeds outside [0, 2**64) and sizes that cannot fit in memory."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.utils.env_match import check_environments_match
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import TimeLimit

from nextrl import _core
from nextrl.envs.control import CartPoleEnv as NextrlCartPole
from nextrl.envs.control import CartPoleVectorEnv
from nextrl.envs.gridworld import GridWorldVectorEnv
from nextrl.envs.toy_text import CliffWalkingEnv, CliffWalkingVectorEnv, FrozenLakeEnv, FrozenLakeVectorEnv

# Shortest paths to the goal: FrozenLake 4x4 (1 down, 2 right) and CliffWalking (0 up, 1 right, 2 down).
_FROZEN_PATH = [1, 1, 2, 1, 2, 2]
_CLIFF_PATH = [0] + [1] * 11 + [2]


def gym_flags(env: gym.Env, actions) -> list[tuple[bool, bool]]:
    env.reset(seed=0)
    return [tuple(bool(f) for f in env.step(a)[2:4]) for a in actions]


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda m: m.value)
@pytest.mark.parametrize("name", ["FrozenLake", "CliffWalking"])
def test_goal_on_the_time_limit_step_is_terminated_and_truncated_as_gymnasium(name, mode):
    path = _FROZEN_PATH if name == "FrozenLake" else _CLIFF_PATH
    limit = len(path)
    if name == "FrozenLake":
        expected = gym_flags(gym.make("FrozenLake-v1", is_slippery=False, max_episode_steps=limit), path)
        vec = FrozenLakeVectorEnv(2, is_slippery=False, max_steps=limit, autoreset_mode=mode)
        single = FrozenLakeEnv(is_slippery=False, max_steps=limit)
    else:
        expected = gym_flags(gym.make("CliffWalking-v1", max_episode_steps=limit), path)
        vec = CliffWalkingVectorEnv(2, max_steps=limit, autoreset_mode=mode)
        single = CliffWalkingEnv(max_steps=limit)
    assert expected[-1] == (True, True)  # Gymnasium's TimeLimit: the goal on the last step is both
    vec.reset(seed=0)
    got = [(bool(te[0]), bool(tr[0])) for te, tr in (vec.step(np.full(2, a))[2:4] for a in path)]
    assert got == expected
    single.reset(seed=0)
    assert [tuple(single.step(a)[2:4]) for a in path] == expected
    # One step short of the goal: truncated only.
    vec = type(vec)(
        1, **({"is_slippery": False} if name == "FrozenLake" else {}), max_steps=limit - 1, autoreset_mode=mode
    )
    vec.reset(seed=0)
    flags = [vec.step(np.full(1, a))[2:4] for a in path[:-1]]
    assert (bool(flags[-1][0][0]), bool(flags[-1][1][0])) == (False, True)


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda m: m.value)
def test_cartpole_falling_on_the_time_limit_step_matches_gymnasium_time_limit(mode):
    # Find an episode that terminates, then set the time limit to its length: Gymnasium's CartPole under
    # TimeLimit, started from the same state (set through `state`), reports terminated and truncated.
    probe = NextrlCartPole(max_steps=500)
    probe.reset(seed=5)
    start = probe._vec._core.states()[0].copy()
    actions, done = [], False
    rng = np.random.default_rng(1)
    while not done:
        actions.append(int(rng.integers(2)))
        done = probe.step(actions[-1])[2]
    limit = len(actions)
    ref = TimeLimit(CartPoleEnv(), max_episode_steps=limit)
    ref.reset(seed=0)
    ref.unwrapped.state = start.copy()
    expected = [tuple(bool(f) for f in ref.step(a)[2:4]) for a in actions]
    assert expected[-1] == (True, True)
    vec = CartPoleVectorEnv(8, max_steps=limit, autoreset_mode=mode)  # 8 envs: the 4-lane SIMD path too
    vec.reset(seed=5)
    vec.set_state(np.repeat(vec.get_state()[:1], 8, axis=0))  # every env on env 0's episode: all end together
    got = [(bool(te[0]), bool(tr[0])) for te, tr in (vec.step(np.full(8, a))[2:4] for a in actions)]
    assert got == expected


@pytest.mark.parametrize(
    "make",
    [
        lambda: (FrozenLakeEnv(is_slippery=False), gym.make("FrozenLake-v1", is_slippery=False)),
        lambda: (
            FrozenLakeEnv(map_name="8x8", is_slippery=False),
            gym.make("FrozenLake-v1", map_name="8x8", is_slippery=False, max_episode_steps=200),
        ),
        lambda: (CliffWalkingEnv(), gym.make("CliffWalking-v1", max_episode_steps=None)),
    ],
    ids=["frozen_lake_4x4", "frozen_lake_8x8", "cliff_walking"],
)
def test_toy_text_single_envs_match_gymnasium_strictly(make):
    ours, theirs = make()
    # Deterministic (non-slippery) dynamics and one start tile: Gymnasium's strict check (types included).
    check_environments_match(ours, theirs, num_steps=300, seed=3, skip_render=True)
    obs, info = ours.reset(seed=0)
    assert type(obs) is int and info == {"prob": 1} and type(info["prob"]) is int
    _, reward, *_ = ours.step(1)
    assert type(reward) is int


def test_frozen_lake_float_reward_schedule_gives_float_rewards():
    env = FrozenLakeEnv(is_slippery=False, reward_schedule=(1.0, 0.0, -0.5))
    env.reset(seed=0)
    _, reward, *_ = env.step(2)
    assert type(reward) is float and reward == -0.5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: GridWorldVectorEnv(2, width=2.5), "GridWorld: width must be an int, got float 2.5"),
        (lambda: GridWorldVectorEnv(2, height=np.float64(4.0)), "GridWorld: height must be an int, got float64 4.0"),
        (lambda: GridWorldVectorEnv(2, max_steps=True), "GridWorld: max_steps must be an int, got bool True"),
        (lambda: FrozenLakeVectorEnv(2, max_steps=10.5), "FrozenLake: max_steps must be an int, got float 10.5"),
        (lambda: CliffWalkingVectorEnv(2, max_steps=1.5), "CliffWalking: max_steps must be an int, got float 1.5"),
    ],
)
def test_wrong_typed_sizes_are_refused_not_truncated(call, match):
    with pytest.raises(TypeError, match=match):
        call()


_NEXTRL_IDS = sorted(k for k in gym.registry if k.startswith("nextrl/"))


@pytest.mark.parametrize("env_id", _NEXTRL_IDS)
@pytest.mark.parametrize("num_envs", [2.5, 2.0, True, "2"], ids=["float", "integral_float", "bool", "str"])
def test_make_vec_refuses_a_num_envs_that_is_not_an_int(env_id, num_envs):
    # the class name and the argument, not pybind11's "incompatible constructor arguments" (nor True taken as 1)
    name = type(num_envs).__name__
    with pytest.raises(TypeError, match=rf"^\w+VectorEnv: num_envs must be an int, got {name} {num_envs}$"):
        gym.make_vec(env_id, num_envs=num_envs)
    assert gym.make_vec(env_id, num_envs=np.int64(2)).num_envs == 2


def test_reset_seed_outside_uint64_is_a_value_error():
    env = FrozenLakeVectorEnv(2)
    env.reset(seed=2**64 - 2)  # the largest seed whose env 1 still fits: seeds wrap as uint64 (seed + i)
    for seed in (2**64, 2**70):
        with pytest.raises(ValueError, match=r"reset: seed must be in \[0, 2\*\*64\), got " + str(seed)):
            env.reset(seed=seed)
        with pytest.raises(ValueError, match=r"reset: seed must be in \[0, 2\*\*64\), got " + str(seed)):
            env._core.reset(seed, None)  # the binding itself, not pybind11's RuntimeError
    with pytest.raises(ValueError, match=r"reset: seed must be in \[0, 2\*\*64\), got -1"):
        env._core.reset(-1, None)
    with pytest.raises(TypeError, match="reset: seed must be an int, got float"):
        env._core.reset(1.5, None)


def test_huge_num_envs_is_refused_before_allocating():
    with pytest.raises(
        MemoryError,
        match=r"VecEnv: 1099511627776 envs need \d+ bytes \(.* GiB\), but only \d+ "
        r"bytes are available; refused before allocating",
    ):
        FrozenLakeVectorEnv(2**40)
    with pytest.raises(MemoryError, match="refused before allocating"):
        _core._CartPole(2**40, _core._CartPoleConfig(), 0)


def test_huge_sum_tree_is_refused_before_allocating():
    with pytest.raises(
        MemoryError,
        match=r"SumTree: capacity 1152921504606846976 need [\d.e+]+ bytes .* refused before "
        r"allocating",
    ):
        _core.SumTree(2**60)
    assert _core.SumTree(1000).capacity == 1000
