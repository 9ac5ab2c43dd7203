"""The one env test harness: the standard checks every env passes, single- and multi-agent, and the registry
of envs they run on (tests/envs/test_standard_checks.py, tests/marl/test_standard_checks.py).

Adding an env means adding one entry to the registry: `registered("nextrl/MyEnv-v0", ...)` (a Gymnasium id) or
`single_agent(...)` (another configuration) in `_single_agent_registry()`, `multi_agent(...)` in
`_multi_agent_registry()`. Every entry of REGISTRY runs every check in CHECKS:

  check_api                   Gymnasium's check_env on the single env / PettingZoo's parallel_api_test and
                              parallel_seed_test on the ParallelEnv
  check_seeding               same seed -> the same rollout (observations, rewards, flags, infos); another seed
                              -> other observations (an entry with seeded=False: the same rollout)
  check_batch_equals_singles  env i of a NEXT_STEP batch reset with seed equals a single env reset with seed + i
                              (restarted unseeded after each episode), through many episodes
  check_thread_invariance     bitwise-equal rollouts with 1 and 2 threads, above the parallel threshold
  check_obs_in_space          every observation (and global state) inside its space, with its dtype
  check_bad_actions           wrong shapes, dtypes and values are refused with their messages; nothing moves
  check_time_limit            truncated exactly on the step that reaches max_steps, also when it terminates
                              there (Gymnasium's TimeLimit); an env without a limit never truncates
  check_state_round_trip      get_state / set_state continue bit for bit (both autoreset modes, fresh and tiled
                              envs, single / parallel envs and rows of vector envs)

Helpers for env-specific tests: rollout, random_actions, assert_same, check_against_reference (a single-agent
batch against a pure step function on exact states), check_marl_against_reference (a multi-agent batch
against stateful pure-Python references), check_masked_resets_lockstep (DISABLED autoreset against
Gymnasium's SyncVectorEnv)."""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import nextrl
from nextrl import envs as _envs
from nextrl.envs.safe_grid import DEFAULT_LAYOUT as _SAFE_LAYOUT
from nextrl.marl import (
    MatrixGameVectorEnv,
    PointMassTeamVectorEnv,
    PredatorPreyVectorEnv,
    ResourceAllocationVectorEnv,
    SimpleSpreadVectorEnv,
    SimpleTagVectorEnv,
    SmartGridVectorEnv,
    TargetCollectionVectorEnv,
    TrafficVectorEnv,
    TwoStepGameVectorEnv,
    matrix_games,
    mpe,
    point_mass_team,
    predator_prey,
    resource_allocation,
    smart_grid,
    target_collection,
    traffic,
)

PARALLEL_ENVS = 4100  # above csrc/envs/vec_env.h kMinParallelEnvs = 2048 (VecMarlEnv's too): OpenMP splits the batch

# Advice that check_env gives for Gymnasium's own CartPole and Pendulum too: unbounded observation
# components (velocities) and a non-normalized action box (Pendulum's torque in [-2, 2]).
UNBOUNDED_OBS = r".*A Box observation space (minimum|maximum) value is (-)?infinity"
UNNORMALIZED_ACTIONS = r".*For Box action spaces, we recommend using a symmetric and normalized space"


# ------------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class EnvCase:
    """One registry entry: an env in one configuration.

    vec_cls(num_envs, **config) builds the vector env (a gymnasium VectorEnv or a MarlVectorEnv);
    single_cls(**config) the single-agent Gymnasium Env (None for multi-agent envs); parallel(**config) the
    multi-agent PettingZoo ParallelEnv (None for single-agent envs). per_env(i) -> config of env i of a
    batch (a heterogeneous batch: the vector env takes each key as an array over its envs). seeded: the
    env draws random numbers (False: its rollouts do not depend on the seed). short: config that ends
    episodes within a few steps (state round trip). limit: (config, max_steps) of the time-limit check,
    None for an env without a time limit. allow: check_env warnings (regexes) accepted. action_error:
    regex of the message of an out-of-range action after "must " (default: "be in \\[0, n\\)" for
    Discrete(n), "be finite" for Box actions)."""

    name: str
    vec_cls: Callable[..., Any]
    single_cls: Callable[..., Any] | None = None
    parallel: Callable[..., Any] | None = None
    config: dict = field(default_factory=dict)
    per_env: Callable[[int], dict] | None = None
    seeded: bool = True
    short: dict = field(default_factory=dict)
    limit: tuple[dict, int] | None = None
    allow: tuple[str, ...] = ()
    action_error: str | None = None

    @property
    def multi_agent(self) -> bool:
        return self.single_cls is None

    def make_vec(self, num_envs: int, **overrides):
        config = {**self.config, **overrides}
        if self.per_env is not None:
            rows = [self.per_env(i) for i in range(num_envs)]
            config.update({key: np.array([row[key] for row in rows]) for key in rows[0]})
        return self.vec_cls(num_envs, **config)

    def make_single(self, i: int = 0, **overrides):
        """The single env that env i of a batch equals (reset with seed + i)."""
        return self.single_cls(**{**self.config, **(self.per_env(i) if self.per_env else {}), **overrides})

    def make_parallel(self, **overrides):
        return self.parallel(**{**self.config, **overrides})

    def __str__(self) -> str:
        return self.name


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def registered(env_id: str, config: dict | None = None, **fields) -> EnvCase:
    """A Gymnasium id of nextrl.envs.ENVS with its registered kwargs (and `config` on top)."""
    single, vector, kwargs = _envs.ENVS[env_id]
    return EnvCase(env_id, _load(vector), _load(single), config={**kwargs, **(config or {})}, **fields)


def single_agent(name: str, vec_cls, single_cls, config: dict | None = None, **fields) -> EnvCase:
    return EnvCase(name, vec_cls, single_cls, config=dict(config or {}), **fields)


def multi_agent(name: str, vec_cls, parallel, config: dict | None = None, **fields) -> EnvCase:
    return EnvCase(name, vec_cls, None, parallel, config=dict(config or {}), **fields)


GRID_LAYOUT = ["...#..G", ".#.#.X.", ".#...#.", "...X..."]  # walls #, pits X, no S (tests/envs/test_gridworld.py)
GOAL_LAYOUT = ["..#...", "..#.#.", "S...#.", "..#..."]  # tests/envs/test_goal_grid.py
SAFE_LAYOUT_ANY_START = [row.replace("S", ".") for row in _SAFE_LAYOUT]


def _single_agent_registry() -> list[EnvCase]:
    from nextrl.envs.goal_grid import GoalGridWorldEnv, GoalGridWorldVectorEnv
    from nextrl.envs.gridworld import GridWorldEnv, GridWorldVectorEnv
    from nextrl.envs.safe_grid import SafeGridWorldEnv, SafeGridWorldVectorEnv

    def steps(n: int) -> dict:  # episodes of n steps for the state round trip and the time-limit check
        return {"short": {"max_steps": n}, "limit": ({"max_steps": n}, n)}

    unbounded = {"allow": (UNBOUNDED_OBS,)}
    hetero = (_envs.HeteroPointMassVectorEnv, _envs.HeteroPointMassEnv)
    quantum = {"action_error": r"be in \[0, num_actions\)"}
    return [
        registered("nextrl/GridWorld-v0", seeded=False, **steps(12)),
        registered("nextrl/GridWorld8x8-v0", seeded=False, **steps(12)),
        *(
            single_agent(
                f"GridWorld(pits, start=None, obs_mode={mode})",
                GridWorldVectorEnv,
                GridWorldEnv,
                {"layout": GRID_LAYOUT, "start": None, "obs_mode": mode},
                **steps(12),
            )
            for mode in ("coords", "onehot", "image")
        ),
        registered(
            "nextrl/PointMass-v0",
            short={"max_steps": 15},
            # noise-free, small actions: episodes run to the limit unless the drift leaves ||s|| <= 3
            limit=({"noise_std": 0.0, "nuisance_std": 0.0, "init_range": 0.3, "max_steps": 200}, 200),
            **unbounded,
        ),
        registered("nextrl/CausalThrust-v0", short={"max_steps": 15}, limit=({}, 200), **unbounded),
        registered("nextrl/HeteroPointMass-v0", short={"max_steps": 15}, limit=({"noise_std": 0.0}, 150), **unbounded),
        *(
            single_agent(f"HeteroPointMass(variant={v})", *hetero, {"variant": v}, **steps(15), **unbounded)
            for v in (1, 2, 3)
        ),
        single_agent(
            "HeteroPointMass(variant=i % 4)", *hetero, per_env=lambda i: {"variant": i % 4}, **steps(15), **unbounded
        ),
        registered(
            "nextrl/CartPole-v1",
            short={"max_steps": 15},
            limit=({"max_steps": 30}, 30),
            action_error="be 0 or 1",
            **unbounded,
        ),
        registered(
            "nextrl/Pendulum-v1", short={"max_steps": 15}, limit=({"max_steps": 30}, 30), allow=(UNNORMALIZED_ACTIONS,)
        ),
        registered("nextrl/QuantumStatePrep-v0", seeded=False, **steps(5), **quantum),
        registered("nextrl/QuantumStatePrepGHZ3-v0", seeded=False, **steps(5), **quantum),
        registered("nextrl/QuantumStatePrepRandom-v0", **steps(5), **quantum),
        single_agent(
            "QuantumStatePrep(num_qubits=3, target=random, target_depth=6)",
            _envs.QuantumStatePrepVectorEnv,
            _envs.QuantumStatePrepEnv,
            {"num_qubits": 3, "target": "random", "target_depth": 6},
            short={"max_steps": 5},
            limit=({"target_depth": 8, "max_steps": 12}, 12),
            **quantum,
        ),
        registered("nextrl/FrozenLake-v0", **steps(12)),
        registered("nextrl/FrozenLake8x8-v0", **steps(12)),
        # CliffWalking has no time limit by default: 60 steps, so that episodes end (autoreset is exercised)
        registered("nextrl/CliffWalking-v0", config={"max_steps": 60}, seeded=False, **steps(12)),
        registered("nextrl/CliffWalkingSlippery-v0", config={"max_steps": 60}, **steps(12)),
        registered("nextrl/SafeGridWorld-v0", seeded=False, **steps(12)),
        single_agent(
            "SafeGridWorld(start=None)",  # the start drawn at every reset, so that seeds matter
            SafeGridWorldVectorEnv,
            SafeGridWorldEnv,
            {"layout": SAFE_LAYOUT_ANY_START, "start": None},
            **steps(12),
        ),
        registered("nextrl/RobustGridWorld-v0", **steps(12)),
        registered("nextrl/GoalGridWorld-v0", **steps(12)),
        single_agent(
            "GoalGridWorld(walls, start=None)",
            GoalGridWorldVectorEnv,
            GoalGridWorldEnv,
            {"layout": GOAL_LAYOUT, "start": None},
            **steps(12),
        ),
    ]


def _multi_agent_registry() -> list[EnvCase]:
    steps9 = {"max_steps": 9}
    cycles9 = {"max_cycles": 9}
    continuous = r"have 5 entries in \[0, 1\]"
    return [
        multi_agent(
            "MatrixGame(penalty, rounds=3)",
            MatrixGameVectorEnv,
            matrix_games.parallel_env,
            {"game": "penalty", "rounds": 3},
            seeded=False,
            action_error=r"be in \[0, num_actions\)",
        ),
        multi_agent(
            "TwoStepGame",
            TwoStepGameVectorEnv,
            lambda: matrix_games.two_step_parallel_env(),
            seeded=False,
            action_error="be 0 or 1",
        ),
        multi_agent(
            "PredatorPrey(learning prey)",
            PredatorPreyVectorEnv,
            predator_prey.parallel_env,
            dict(num_predators=3, num_prey=2, grid_size=6, max_steps=15, prey_policy="learning", shaping=0.1),
            short=steps9,
            limit=({}, 15),
        ),
        multi_agent(
            "PredatorPrey(scripted prey)",
            PredatorPreyVectorEnv,
            predator_prey.parallel_env,
            dict(grid_size=5, num_prey=2, max_steps=40),
            short=steps9,
            limit=(steps9, 9),
        ),
        multi_agent(
            "TargetCollection",
            TargetCollectionVectorEnv,
            target_collection.parallel_env,
            dict(grid_size=4, num_agents=3, num_targets=2, max_steps=12),
            short=steps9,
            limit=({}, 12),
        ),
        multi_agent(
            "SimpleSpread(discrete)",
            SimpleSpreadVectorEnv,
            mpe.simple_spread_parallel_env,
            short=cycles9,
            limit=(cycles9, 9),
        ),
        multi_agent(
            "SimpleSpread(continuous)",
            SimpleSpreadVectorEnv,
            mpe.simple_spread_parallel_env,
            dict(max_cycles=10, continuous_actions=True),
            short=cycles9,
            limit=({}, 10),
            action_error=continuous,
        ),
        multi_agent(
            "SimpleTag(discrete)",
            SimpleTagVectorEnv,
            mpe.simple_tag_parallel_env,
            dict(max_cycles=10),
            short=cycles9,
            limit=({}, 10),
        ),
        multi_agent(
            "SimpleTag(continuous)",
            SimpleTagVectorEnv,
            mpe.simple_tag_parallel_env,
            dict(continuous_actions=True),
            short=cycles9,
            limit=(cycles9, 9),
            action_error=continuous,
        ),
        *(
            multi_agent(
                f"PointMassTeam({reward})",
                PointMassTeamVectorEnv,
                point_mass_team.parallel_env,
                config,
                short=steps9,
                limit=(steps9, 9),
            )
            for reward, config in (
                ("mixed", dict(reward="mixed", num_agents=4, bound=2.5, max_steps=15)),
                ("cooperative", {}),
                ("competitive", dict(reward="competitive")),
            )
        ),
        multi_agent(
            "ResourceAllocation",
            ResourceAllocationVectorEnv,
            resource_allocation.parallel_env,
            dict(max_steps=8),
            short=steps9,
            limit=({"max_steps": 2}, 2),  # random demands exhaust the resources (terminate) within 3 steps
        ),
        multi_agent(
            "Traffic",
            TrafficVectorEnv,
            traffic.parallel_env,
            dict(num_vehicles=5, road_length=50.0, max_steps=20),
            short=steps9,
            limit=({}, 20),
        ),
        multi_agent(
            "SmartGrid",
            SmartGridVectorEnv,
            smart_grid.parallel_env,
            dict(step_hours=2.0),
            short={"step_hours": 3.0},
            limit=({}, 12),  # one day of 2-hour steps
        ),
    ]


REGISTRY: dict[str, EnvCase] = {case.name: case for case in _single_agent_registry() + _multi_agent_registry()}
SINGLE_AGENT = [case for case in REGISTRY.values() if not case.multi_agent]
MULTI_AGENT = [case for case in REGISTRY.values() if case.multi_agent]


# ------------------------------------------------------------------------------------------------- helpers
def random_actions(rng: np.random.Generator, space: gym.Space, batch=None, overshoot: float = 1.5) -> np.ndarray:
    """Actions of `space` for a batch (an int num_envs, a shape such as (num_envs, num_agents), or None for
    one action); Box actions reach `overshoot` times the bounds (1.5 exercises clipping)."""
    shape = () if batch is None else ((batch,) if isinstance(batch, int) else tuple(batch))
    if isinstance(space, spaces.Discrete):
        return rng.integers(space.n, size=shape).astype(np.int64)
    lo, hi = space.low.astype(np.float64), space.high.astype(np.float64)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    return (mid + overshoot * half * rng.uniform(-1, 1, size=shape + space.shape)).astype(np.float32)


def _batch_actions(env, rng: np.random.Generator) -> np.ndarray:
    if isinstance(env, gym.vector.VectorEnv):
        return random_actions(rng, env.single_action_space, env.num_envs)
    # PettingZoo / mpe2 bounds are part of the action's meaning (simple_spread's [0, 1]): stay inside them
    return random_actions(rng, env.single_action_space, (env.num_envs, env.num_agents), overshoot=1.0)


def _copy(x):
    if isinstance(x, dict):
        return {k: _copy(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return x.copy()
    return x


def rollout(env, seed: int, steps: int, action_seed: int = 0) -> dict[str, list]:
    """Random actions from reset(seed): {"actions": [T], "obs": [T + 1], "rewards", "terminations",
    "truncations": [T], "infos": [T + 1]}, lists of copies of what the env returned."""
    rng = np.random.default_rng(action_seed)
    obs, infos = env.reset(seed=seed)
    out = {"actions": [], "obs": [_copy(obs)], "rewards": [], "terminations": [], "truncations": [], "infos": []}
    out["infos"].append(_copy(infos))
    for _ in range(steps):
        actions = _batch_actions(env, rng)
        obs, r, term, trunc, infos = env.step(actions)
        out["actions"].append(actions)
        out["obs"].append(_copy(obs))
        out["rewards"].append(r.copy())
        out["terminations"].append(term.copy())
        out["truncations"].append(trunc.copy())
        out["infos"].append(_copy(infos))
    return out


def stack(items: list):
    """A list of arrays (or of dicts of arrays) as one array (dict of arrays) with a leading time axis."""
    if isinstance(items[0], dict):
        return {k: np.stack([x[k] for x in items]) for k in items[0]}
    return np.stack(items)


def assert_same(a, b, where: str) -> None:
    """Exact equality of env outputs: arrays (same dtype and shape, equal elements), dicts, sequences, scalars."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype == object:
            for x, y in zip(a, b):
                assert (x is None) == (y is None), where
                if x is not None:
                    assert_same(x, y, where)
        elif not np.array_equal(a, b):  # (the fast path; assert_array_equal also takes equal NaNs, and explains)
            np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert type(a) is type(b) and a == b, where


def env_row(x, i: int):
    """Env i's part of a batched output (an array or a dict of arrays)."""
    return {k: v[i] for k, v in x.items()} if isinstance(x, dict) else x[i]


def env_infos(infos: dict, i: int) -> dict:
    """Env i's infos: every entry whose `_key` mask (if any) holds for env i, masks dropped."""
    out = {}
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get("_" + key)
        if mask is not None and not mask[i]:
            continue
        out[key] = env_infos(value, i) if isinstance(value, dict) else value[i]
    return out


def _assert_values_equal(a, b, where: str) -> None:
    """Equal values, of any numeric types (a single env's Python scalars against a batch's numpy rows)."""
    if isinstance(a, dict) or isinstance(b, dict):
        assert isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys(), f"{where}: {a} != {b}"
        for key in a:
            _assert_values_equal(a[key], b[key], f"{where}[{key!r}]")
    elif not np.array_equal(a, b):
        np.testing.assert_array_equal(a, b, err_msg=where)


def _episode_ends(out: dict) -> int:
    return sum(int(np.count_nonzero(info.get("_episode", False))) for info in out["infos"])


# --------------------------------------------------------------------------------------- standard checks
def check_api(case: EnvCase) -> None:
    """Gymnasium's env checker on the single env (case.allow: warnings accepted); PettingZoo's parallel API
    and seed tests on the multi-agent ParallelEnv."""
    if not case.multi_agent:
        env = case.make_single()
        with warnings.catch_warnings():
            for message in case.allow:
                warnings.filterwarnings("ignore", message=message)
            check_env(env, skip_render_check=True)
        env.close()
        return
    with warnings.catch_warnings():  # pettingzoo.test imports a classic env through its deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        from pettingzoo.test import parallel_api_test, parallel_seed_test
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        parallel_api_test(case.make_parallel(), num_cycles=200)
    assert "Passed Parallel API test" in printed.getvalue(), printed.getvalue()
    parallel_seed_test(case.make_parallel, num_cycles=500)


def check_seeding(case: EnvCase, num_envs: int = 16, steps: int = 300) -> None:
    """The same seed reproduces everything; another seed changes the observations (seeded envs) or nothing
    (envs without randomness)."""
    a = rollout(case.make_vec(num_envs), seed=3, steps=steps)
    assert_same(a, rollout(case.make_vec(num_envs), seed=3, steps=steps), f"{case}: seed 3 twice")
    other = rollout(case.make_vec(num_envs), seed=4, steps=steps)
    if case.seeded:
        assert not all(np.array_equal(x, y) for x, y in zip(_flat_obs(a["obs"]), _flat_obs(other["obs"]))), (
            f"{case}: seed 4 reproduced seed 3's observations"
        )
    else:
        assert_same(a, other, f"{case}: an env without randomness depends on the seed")


def _flat_obs(obs: list) -> list[np.ndarray]:
    return [np.concatenate([o[k].ravel() for k in sorted(o)]) if isinstance(o, dict) else o.ravel() for o in obs]


def check_batch_equals_singles(case: EnvCase, num_envs: int = 6, steps: int = 450, seed: int = 11) -> None:
    """Env i of a NEXT_STEP batch reset with `seed` equals a single env reset with seed + i: the Gymnasium Env
    (restarted unseeded, continuing its stream, on the step after each episode end, as NEXT_STEP does) or,
    for multi-agent envs, a batch of one. Observations, rewards, flags and env i's infos, every step."""
    out = rollout(case.make_vec(num_envs), seed=seed, steps=steps, action_seed=5)
    assert _episode_ends(out) >= 1, f"{case}: no episode ended, autoreset was not exercised"
    for i in range(num_envs):
        if case.multi_agent:
            _marl_single_matches(case, out, i, seed)
            continue
        env = case.make_single(i)
        o, info = env.reset(seed=seed + i)
        _assert_values_equal(o, env_row(out["obs"][0], i), f"{case}: env {i} reset obs")
        _assert_values_equal(info, env_infos(out["infos"][0], i), f"{case}: env {i} reset infos")
        done = False
        for t in range(steps):
            where = f"{case}: env {i} step {t}"
            if done:
                o, info = env.reset()
                r, term, trunc = 0.0, False, False
            else:
                o, r, term, trunc, info = env.step(out["actions"][t][i])
            _assert_values_equal(o, env_row(out["obs"][t + 1], i), f"{where} obs")
            assert (r, term, trunc) == (
                out["rewards"][t][i],
                out["terminations"][t][i],
                out["truncations"][t][i],
            ), where
            batch_info = env_infos(out["infos"][t + 1], i)
            batch_info.pop("episode", None)  # episode statistics are a vector-env feature
            _assert_values_equal(info, batch_info, f"{where} infos")
            done = term or trunc


def _marl_single_matches(case: EnvCase, out: dict, i: int, seed: int) -> None:
    env = case.make_vec(1)
    obs, infos = env.reset(seed=seed + i)
    assert_same(obs[0], out["obs"][0][i], f"{case}: env {i} reset obs")
    assert_same(env_infos(infos, 0), env_infos(out["infos"][0], i), f"{case}: env {i} reset infos")
    for t, actions in enumerate(out["actions"]):
        where = f"{case}: env {i} step {t}"
        obs, r, term, trunc, infos = env.step(actions[i : i + 1])
        assert_same(obs[0], out["obs"][t + 1][i], f"{where} obs")
        assert_same(r[0], out["rewards"][t][i], f"{where} rewards")
        assert_same(term[0], out["terminations"][t][i], f"{where} terminations")
        assert_same(trunc[0], out["truncations"][t][i], f"{where} truncations")
        assert_same(env_infos(infos, 0), env_infos(out["infos"][t + 1], i), f"{where} infos")


def check_thread_invariance(case: EnvCase, num_envs: int = PARALLEL_ENVS, steps: int = 40) -> None:
    """Bitwise-equal rollouts (everything the env returns) with 1 and 2 threads, num_envs above the parallel
    threshold; the thread count is restored afterwards."""
    before = nextrl.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            nextrl.set_num_threads(threads)
            runs.append(rollout(case.make_vec(num_envs), seed=5, steps=steps))
    finally:
        nextrl.set_num_threads(before)
    assert_same(runs[0], runs[1], f"{case}: 1 thread against 2")


def _leaves(space: gym.Space, obs) -> list[tuple[str, gym.Space, np.ndarray]]:
    if isinstance(space, spaces.Dict):
        return [(key, space[key], np.asarray(obs[key])) for key in space.spaces]
    return [("", space, np.asarray(obs))]


def check_obs_in_space(case: EnvCase, num_envs: int = 32, steps: int = 600, seed: int = 9) -> None:
    """Every observation of a random rollout (autoresets included) lies in its space with the space's dtype;
    multi-agent: each agent's unpadded observation in its own space (padding 0) and the global state in
    state_space."""
    env = case.make_vec(num_envs)
    out = rollout(env, seed=seed, steps=steps)
    for t, (obs, infos) in enumerate(zip(out["obs"], out["infos"])):
        where = f"{case}: call {t}"
        if not case.multi_agent:
            assert env.observation_space.contains(obs), where
            for key, space, leaf in _leaves(env.observation_space, obs):
                assert leaf.dtype == space.dtype, f"{where} {key}: {leaf.dtype} != {space.dtype}"
            continue
        for k, agent in enumerate(env.possible_agents):
            space = env.observation_space(agent)
            size = space.shape[0]
            assert obs.dtype == space.dtype, where
            own = obs[:, k, :size]
            assert np.all(own >= space.low) and np.all(own <= space.high), f"{where} agent {agent}"
            assert not obs[:, k, size:].any(), f"{where} agent {agent}: padding"
        state = infos["state"]
        assert state.dtype == env.state_space.dtype and state.shape[1:] == env.state_space.shape, where
        assert np.all(state >= env.state_space.low) and np.all(state <= env.state_space.high), f"{where} state"


def check_bad_actions(case: EnvCase) -> None:
    """Actions of the wrong shape, dtype or value are refused with messages that name the env (and agent)
    at fault, before anything moves."""
    n = 4
    env = case.make_vec(n)
    env.reset(seed=0)
    before = env.get_state()
    space = env.single_action_space
    discrete = isinstance(space, spaces.Discrete)
    tail = case.action_error or (rf"be in \[0, {space.n}\)" if discrete else "be finite")
    if case.multi_agent:
        _marl_bad_actions(env, space, discrete, tail)
    elif discrete:
        with _raises(ValueError, r"actions must have shape \(4,\), got \(5,\)"):
            env.step(np.zeros(5, np.int64))
        with _raises(ValueError, r"actions must have shape \(4,\), got \(4, 2\)"):
            env.step(np.zeros((4, 2), np.int64))
        with _raises(TypeError, "actions must be integers"):
            env.step(np.zeros(4, np.float32))
        with _raises(TypeError, "actions must be integers"):
            env.step(np.array([0.0, np.nan, 0.0, 0.0]))
        with _raises(ValueError, rf"actions\[2\] must {tail}"):
            env.step(np.array([0, 1, space.n, 0]))
        with _raises(ValueError, rf"actions\[0\] must {tail}"):
            env.step(np.array([-1, 1, 0, 0]))
    else:
        size = int(np.prod(space.shape))
        with _raises(ValueError, rf"actions must have shape \(4[^)]*\), got \(4, {size + 1}\)"):
            env.step(np.zeros((4, size + 1), np.float32))
        with _raises(TypeError, "actions must be real numbers"):
            env.step(np.zeros((4, *space.shape), np.complex64))
        bad = np.zeros((4, *space.shape), np.float32)
        bad[1].flat[0] = np.nan
        with _raises(ValueError, rf"actions\[1\] must {tail}"):
            env.step(bad)
        bad[1].flat[0], bad[3].flat[-1] = 0.0, np.inf
        with _raises(ValueError, rf"actions\[3\] must {tail}"):
            env.step(bad)
    np.testing.assert_array_equal(env.get_state(), before, err_msg=f"{case}: a refused step moved an env")
    if case.multi_agent:
        return
    single = case.make_single()
    single.reset(seed=0)
    if discrete:
        with _raises(ValueError, r"action must have shape \(\), got \(2,\)"):
            single.step(np.array([1, 2]))
        with _raises(ValueError, rf"actions\[0\] must {tail}"):
            single.step(space.n)
    else:
        with _raises(ValueError, rf"action must have shape \({space.shape[0]},\), got \({space.shape[0] + 1},\)"):
            single.step(np.zeros(space.shape[0] + 1, np.float32))
        with _raises(ValueError, rf"actions\[0\] must {tail}"):
            single.step(np.full(space.shape, np.nan, np.float32))


def _marl_bad_actions(env, space, discrete: bool, tail: str) -> None:
    n, agents = env.num_envs, env.num_agents
    shape = (n, agents) if discrete else (n, agents, *space.shape)
    with _raises(ValueError, rf"step: actions must have shape {re.escape(str(shape))}, got \({n},\)"):
        env.step(np.zeros(n, np.int64 if discrete else np.float32))
    agent = re.escape(env.possible_agents[0])
    if discrete:
        with _raises(TypeError, "actions must be integers"):
            env.step(np.zeros(shape, np.float32))
        bad = np.zeros(shape, np.int64)
        bad[1, 0] = space.n
        with _raises(ValueError, rf"actions\[1, 0\] \(agent '{agent}'\) must {tail}"):
            env.step(bad)
        bad[1, 0] = -1
        with _raises(ValueError, rf"actions\[1, 0\] \(agent '{agent}'\) must {tail}"):
            env.step(bad)
    else:
        with _raises(TypeError, "actions must be real numbers"):
            env.step(np.zeros(shape, np.complex64))
        bad = np.broadcast_to((space.low + space.high) / 2, shape).astype(np.float32)
        bad[1, 0].flat[0] = np.nan
        with _raises(ValueError, rf"actions\[1, 0\] \(agent '{agent}'\) must {tail}"):
            env.step(bad)


@contextlib.contextmanager
def _raises(exc: type[Exception], match: str):
    try:
        yield
    except exc as e:
        assert re.search(match, str(e)), f"{str(e)!r} does not match {match!r}"
    else:
        raise AssertionError(f"{exc.__name__} matching {match!r} not raised")


def check_time_limit(case: EnvCase, num_envs: int = 16) -> None:
    """truncation[i] exactly when env i's episode reaches max_steps steps (also when it terminates on that
    step, as Gymnasium's TimeLimit reports; multi-agent: for the agents still active); an env without a
    time limit never truncates."""
    if case.limit is None:
        out = rollout(case.make_vec(num_envs), seed=17, steps=300)
        assert not np.any(out["truncations"]), f"{case}: an env without a time limit truncated"
        return
    config, max_steps = case.limit
    steps = max(100, 4 * max_steps)
    out = rollout(case.make_vec(num_envs, **config), seed=17, steps=steps)
    length = np.zeros(num_envs, dtype=np.int64)
    done = np.zeros(num_envs, dtype=bool)
    active = out["infos"][0].get("active")  # multi-agent: the agents still in their episode before each step
    for t in range(steps):
        length = np.where(done, 0, length + 1)  # a done env's step is its reset (NEXT_STEP)
        reached = ~done & (length == max_steps)
        trunc, infos = out["truncations"][t], out["infos"][t + 1]
        if case.multi_agent:
            np.testing.assert_array_equal(trunc, reached[:, None] & active, err_msg=f"{case}: step {t}")
            done = infos.get("_episode", np.zeros(num_envs, dtype=bool))
            active = infos["active"]
        else:
            np.testing.assert_array_equal(trunc, reached, err_msg=f"{case}: step {t}")
            done = out["terminations"][t] | trunc
    assert np.any(out["truncations"]), f"{case}: no episode reached the time limit"


def check_state_round_trip(case: EnvCase) -> None:
    """Copyable env state (csrc/envs/env_state.h): get_state, step k times, set_state, step the same k
    actions again -> identical observations, rewards, flags and infos, bit for bit (random stream position,
    autoresets and episode counters included), in NEXT_STEP and SAME_STEP modes; rows restore into a fresh
    env of the same config and tiled (every copy of one row replays that env, as a planner's copies do);
    the single env (PettingZoo ParallelEnv) round-trips too and takes rows of vector envs."""
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        _vector_round_trip(case, mode)
    if case.multi_agent:
        _parallel_round_trip(case)
    else:
        _single_round_trip(case)


def _sample_actions(env, k: int, seed: int) -> list[np.ndarray]:
    if not hasattr(env, "num_agents"):
        env.action_space.seed(seed)
        return [env.action_space.sample() for _ in range(k)]
    rng = np.random.default_rng(seed)
    return [_batch_actions(env, rng) for _ in range(k)]


def _state_rollout(env, actions) -> list:
    out = []
    for a in actions:
        *step, infos = env.step(a)
        if "final_info" in infos:  # only the entries of the envs that finished are defined (the _ masks)
            mask = infos["_final_info"]
            infos["final_info"] = {k: v[mask] for k, v in infos["final_info"].items()}
            for key in ("final_obs", "final_state"):
                if key in infos and infos[key].dtype != object:  # multi-agent: dense rows, stale where unmasked
                    infos[key] = infos[key][mask]
        out.append(_copy((*step, infos)))
    return out


def _tile_row(x, i: int, n: int):
    if isinstance(x, dict):
        return {k: _tile_row(v, i, n) for k, v in x.items()}
    return np.repeat(x[i : i + 1], n, axis=0)


def _vector_round_trip(case: EnvCase, mode: AutoresetMode) -> None:
    n, k, tile = (5, 30, 1) if case.multi_agent else (6, 60, 2)
    name = f"{case} {mode.value}"
    env = case.make_vec(n, autoreset_mode=mode, **case.short)
    env.reset(seed=31 if case.multi_agent else 123)
    for a in _sample_actions(env, 4 if case.multi_agent else 7, seed=1):
        env.step(a)
    snap = env.get_state()
    assert snap.dtype == np.uint8 and snap.shape == (n, env._core.state_bytes), name
    obs_at_snap = env.observations
    actions = _sample_actions(env, k, seed=2)
    first = _state_rollout(env, actions)
    if case.multi_agent:
        ends = sum(int(np.count_nonzero(out[4].get("_episode", False))) for out in first)
    else:
        ends = sum(int(np.count_nonzero(out[2] | out[3])) for out in first)
    assert ends > 0, f"{name}: the rollout must go through episode ends"
    assert not np.array_equal(env.get_state(), snap), f"{name}: the state did not move on"

    env.set_state(snap)
    np.testing.assert_array_equal(env.get_state(), snap)
    assert_same(env.observations, obs_at_snap, f"{name} restored observations")
    assert_same(first, _state_rollout(env, actions), f"{name} replay")

    fresh = case.make_vec(n, autoreset_mode=mode, **case.short)  # another object, never reset
    fresh.set_state(snap)
    assert_same(first, _state_rollout(fresh, actions), f"{name} fresh env")

    tiled = case.make_vec(n, autoreset_mode=mode, **case.short)
    tiled.set_state(np.ascontiguousarray(np.repeat(snap[tile : tile + 1], n, axis=0)))
    same = [np.ascontiguousarray(np.repeat(a[tile : tile + 1], n, axis=0)) for a in actions]
    env.set_state(snap)
    reference = _state_rollout(env, same)
    for t, (x, y) in enumerate(zip(reference, _state_rollout(tiled, same))):
        for f in range(4):
            assert_same(y[f], _tile_row(x[f], tile, n), f"{name} tiled step {t}")


def _single_round_trip(case: EnvCase) -> None:
    k = 40
    env = case.make_single(**case.short)
    env.reset(seed=7)
    for a in _sample_actions(env, 3, seed=3):
        if env._done:
            env.reset()
        env.step(a)
    snap = env.get_state()
    assert snap.ndim == 1

    def run(e, actions):
        out = []
        for a in actions:
            if e._done:
                out.append(("reset", e.reset()))
            out.append(e.step(a))
        return out

    actions = _sample_actions(env, k, seed=4)
    first = run(env, actions)
    env.set_state(snap)
    assert_same(first, run(env, actions), f"{case} single env replay")
    # batch = singles: env 3 of a vector env seeded s is the single env seeded s + 3; its row restores here.
    vec = case.make_vec(4, autoreset_mode=AutoresetMode.DISABLED, **case.short)
    vec.reset(seed=20)
    single = case.make_single(3, **case.short)
    single.reset(seed=23)
    single.set_state(vec.get_state()[3])
    np.testing.assert_array_equal(single.get_state(), vec.get_state()[3])
    a = _sample_actions(single, 1, seed=5)[0]
    obs, r, te, tr, _ = single.step(a)
    v_obs, v_r, v_te, v_tr, _ = vec.step(np.stack([a] * 4))
    _assert_values_equal(obs, env_row(v_obs, 3), f"{case} row 3 in a single env")
    assert (r, te, tr) == (float(v_r[3]), bool(v_te[3]), bool(v_tr[3])), case


def _parallel_round_trip(case: EnvCase) -> None:
    par = case.make_parallel(**case.short)
    par.reset(seed=4)
    rng = np.random.default_rng(0)

    def act():
        return {
            a: int(rng.integers(par.action_space(a).n))
            if isinstance(par.action_space(a), spaces.Discrete)
            else par.action_space(a).sample()
            for a in par.agents
        }

    par.action_space(par.possible_agents[0]).seed(0)
    par.step(act())
    snap = par.get_state()
    agents = list(par.agents)
    plan, outs = [], []
    while par.agents:
        plan.append(act())
        outs.append(par.step(plan[-1]))
    par.set_state(snap)
    assert par.agents == agents
    for t, (actions, out) in enumerate(zip(plan, outs)):
        assert_same(out, par.step(actions), f"{case} parallel step {t}")
    assert par.agents == []

    # A row of a vector env (env 2 of a batch seeded 10) restores into the ParallelEnv.
    vec = case.make_vec(3, autoreset_mode=AutoresetMode.DISABLED, **case.short)
    vec.reset(seed=10)
    par.set_state(vec.get_state()[2])
    np.testing.assert_array_equal(par.get_state(), vec.get_state()[2])
    assert par.agents == par.possible_agents
    for agent, o in par.observations().items():
        np.testing.assert_array_equal(o, vec.observations[2, vec.agent_index(agent), : o.shape[0]])


CHECKS = [
    check_api,
    check_seeding,
    check_batch_equals_singles,
    check_thread_invariance,
    check_obs_in_space,
    check_bad_actions,
    check_time_limit,
    check_state_round_trip,
]


# ------------------------------------------------------------------------------- env-specific helpers
def check_against_reference(env, reference_step, actions_fn, steps: int, seed: int = 1) -> int:
    """Steps a single-agent `env` (NEXT_STEP) and, for every env not resetting, `reference_step(i, state,
    action)` -> (next_state, reward, terminated) from the env's previous exact state (env.states()).
    Returns the number of terminations."""
    n = env.num_envs
    env.reset(seed=seed)
    prev, done = env.states(), np.zeros(n, dtype=bool)
    terminated = 0
    for _ in range(steps):
        a = actions_fn()
        obs, r, term, trunc, _ = env.step(a)
        s = env.states()
        live = np.flatnonzero(~done)
        expected = [reference_step(i, prev[i], a[i]) for i in live]
        np.testing.assert_allclose(s[live], np.array([e[0] for e in expected]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(r[live], np.array([e[1] for e in expected]), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(term[live], np.array([e[2] for e in expected]))
        np.testing.assert_array_equal(obs, s.astype(np.float32))
        terminated += int(term.sum())
        prev, done = s, term | trunc
    return terminated


def check_marl_against_reference(
    env, make_ref, seed: int, steps: int, rng: np.random.Generator, num_actions: int = 5
) -> int:
    """Steps a batched multi-agent env against N pure-Python references (tests/reference/marl_grids.py)
    seeded Rng(seed + i, 0), through NEXT_STEP autoresets. Returns the number of episodes finished, so
    callers can check that the run went through resets."""
    from reference.marl_grids import Rng

    n, A = env.num_envs, env.num_agents
    refs = [make_ref() for _ in range(n)]
    obs, infos = env.reset(seed=seed)
    for i, ref in enumerate(refs):
        np.testing.assert_allclose(obs[i], ref.reset(Rng(seed + i)), rtol=0, atol=1e-6)
    finished = np.zeros((n, A), bool)
    pending = np.zeros(n, bool)
    episodes = 0
    for _ in range(steps):
        actions = rng.integers(0, num_actions, (n, A))
        obs, rewards, terms, truncs, infos = env.step(actions)
        for i, ref in enumerate(refs):
            if pending[i]:  # NEXT_STEP: this step reset env i and ignored its actions
                np.testing.assert_allclose(obs[i], ref.reset(ref.rng), rtol=0, atol=1e-6)
                assert not rewards[i].any() and not terms[i].any() and not truncs[i].any()
                assert infos["active"][i].all()
                pending[i], finished[i] = False, False
                continue
            out = ref.step(list(actions[i]))
            r_obs, r_rew, r_term, r_trunc = out[:4]
            np.testing.assert_allclose(obs[i], r_obs, rtol=0, atol=1e-6)
            np.testing.assert_allclose(rewards[i], r_rew, rtol=1e-6, atol=1e-5)
            np.testing.assert_array_equal(terms[i], r_term)
            np.testing.assert_array_equal(truncs[i], r_trunc)
            finished[i] |= np.asarray(r_term) | np.asarray(r_trunc)
            np.testing.assert_array_equal(infos["active"][i], ~finished[i])
            if finished[i].all():
                pending[i] = True
                episodes += 1
                assert infos["_episode"][i]
    return episodes


def check_masked_resets_lockstep(
    ours, theirs, rng: np.random.Generator, num_actions: int, steps: int = 200, seed: int = 5
) -> int:
    """Steps two DISABLED-autoreset vector envs with the same random Discrete actions, resetting the finished
    envs of both with the same reset_mask; asserts equal observations, rewards and flags throughout and
    returns the number of masked resets."""
    np.testing.assert_array_equal(ours.reset(seed=seed)[0], theirs.reset(seed=seed)[0])
    resets = 0
    for _ in range(steps):
        actions = rng.integers(0, num_actions, ours.num_envs)
        r1, r2 = ours.step(actions), theirs.step(actions)
        for a, b in zip(r1[:4], r2[:4]):
            np.testing.assert_array_equal(a, b)
        done = r1[2] | r1[3]
        if done.any():
            resets += int(done.sum())
            o1, _ = ours.reset(options={"reset_mask": done.copy()})
            o2, _ = theirs.reset(options={"reset_mask": done.copy()})
            np.testing.assert_array_equal(o1, o2)
    return resets
