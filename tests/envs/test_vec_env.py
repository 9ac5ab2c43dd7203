"""The VecEnv driver (csrc/envs/vec_env.h) and its Python side (nextrl/envs/core.py), with GridWorld as the
vehicle: autoreset semantics against Gymnasium's own SyncVectorEnv over the single env, episode
statistics against Gymnasium's RecordEpisodeStatistics, seeding, batch = singles, thread-count
invariance, zero-copy views, and every error a user can reach."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

import nextrl
from env_harness import check_masked_resets_lockstep
from nextrl.envs.gridworld import GridWorldEnv, GridWorldVectorEnv

# small, random start, short limit: many terminations and truncations in a few hundred steps
KW = dict(width=4, height=3, start=None, max_steps=7, layout=None)
KW.pop("layout")


def _assert_infos_equal(ours: dict, theirs: dict) -> None:
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    for key, value in theirs.items():
        if isinstance(value, dict):
            _assert_infos_equal(ours[key], value)
        elif value.dtype == object:
            for a, b in zip(ours[key], value):
                assert (a is None and b is None) or np.array_equal(a, b)
        else:
            np.testing.assert_array_equal(ours[key], value)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_autoreset_matches_gymnasium_sync_vector_env(mode, rng):
    num_envs = 5
    ours = GridWorldVectorEnv(num_envs, autoreset_mode=mode, **KW)
    theirs = SyncVectorEnv([lambda: GridWorldEnv(**KW) for _ in range(num_envs)], autoreset_mode=mode)
    o1, i1 = ours.reset(seed=11)
    o2, i2 = theirs.reset(seed=11)
    np.testing.assert_array_equal(o1, o2)
    dones = 0
    for _ in range(300):
        actions = rng.integers(0, 4, num_envs)
        r1 = ours.step(actions)
        r2 = theirs.step(actions)
        for a, b in zip(r1[:4], r2[:4]):
            np.testing.assert_array_equal(a, b)
        info1 = {k: v for k, v in r1[4].items() if k not in ("episode", "_episode")}
        _assert_infos_equal(info1, r2[4])
        dones += int((r1[2] | r1[3]).sum())
    assert dones > 100


def test_disabled_autoreset_matches_gymnasium_with_masked_resets(rng):
    num_envs = 4
    mode = AutoresetMode.DISABLED
    ours = GridWorldVectorEnv(num_envs, autoreset_mode=mode, **KW)
    theirs = SyncVectorEnv([lambda: GridWorldEnv(**KW) for _ in range(num_envs)], autoreset_mode=mode)
    assert check_masked_resets_lockstep(ours, theirs, rng, num_actions=4) > 0


def test_next_step_reset_step_ignores_the_action_and_reports_zero():
    env = GridWorldVectorEnv(1, layout=["SG"])
    env.reset(seed=0)
    obs, r, term, trunc, infos = env.step(np.array([3]))
    assert term[0] and r[0] == pytest.approx(1.0)
    np.testing.assert_array_equal(obs[0], [1.0, 0.0])  # the final observation, at the goal
    assert infos["episode"]["r"][0] == pytest.approx(1.0) and infos["episode"]["l"][0] == 1
    obs, r, term, trunc, infos = env.step(np.array([3]))
    np.testing.assert_array_equal(obs[0], [0.0, 0.0])  # reset, the action was not applied
    assert r[0] == 0.0 and not term[0] and not trunc[0] and "episode" not in infos


def test_same_step_final_obs_and_reset_obs():
    env = GridWorldVectorEnv(2, layout=["SG"], autoreset_mode="SameStep")
    env.reset(seed=0)
    obs, r, term, trunc, infos = env.step(np.array([3, 2]))
    assert list(term) == [True, False]
    np.testing.assert_array_equal(obs[0], [0.0, 0.0])  # already reset
    np.testing.assert_array_equal(infos["final_obs"][0], [1.0, 0.0])
    assert infos["final_obs"][1] is None and list(infos["_final_obs"]) == [True, False]


def test_episode_statistics_match_record_episode_statistics(rng):
    num_envs = 6
    ours = GridWorldVectorEnv(num_envs, **KW)
    theirs = RecordEpisodeStatistics(SyncVectorEnv([lambda: GridWorldEnv(**KW) for _ in range(num_envs)]))
    ours.reset(seed=2)
    theirs.reset(seed=2)
    seen = 0
    for _ in range(200):
        actions = rng.integers(0, 4, num_envs)
        i1, i2 = ours.step(actions)[4], theirs.step(actions)[4]
        assert ("episode" in i1) == ("episode" in i2)
        if "episode" in i2:
            mask = i2["_episode"]
            np.testing.assert_array_equal(i1["_episode"], mask)
            np.testing.assert_allclose(i1["episode"]["r"][mask], i2["episode"]["r"][mask], rtol=1e-6)
            np.testing.assert_array_equal(i1["episode"]["l"][mask], i2["episode"]["l"][mask])
            seen += int(mask.sum())
    assert seen > 50


def _rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, r, te, tr, _ = env.step(a)
        out += [obs, r, te, tr]
    return out


def test_same_seed_same_trajectory_other_seed_differs(rng):
    actions = rng.integers(0, 4, (100, 16))
    a = _rollout(GridWorldVectorEnv(16, **KW), 7, actions)
    b = _rollout(GridWorldVectorEnv(16, **KW), 7, actions)
    c = _rollout(GridWorldVectorEnv(16, **KW), 8, actions)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_batch_equals_single_envs_with_derived_seeds(rng):
    num_envs, seed = 5, 40
    actions = rng.integers(0, 4, (60, num_envs))
    batch = _rollout(GridWorldVectorEnv(num_envs, **KW), seed, actions)
    for i in range(num_envs):
        env = GridWorldEnv(**KW)
        obs, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(batch[0][i], obs)
        for t, a in enumerate(actions[:, i]):
            obs, r, te, tr, _ = env.step(a)
            k = 1 + 4 * t
            np.testing.assert_array_equal(batch[k][i], obs)
            assert (batch[k + 1][i], batch[k + 2][i], batch[k + 3][i]) == (np.float32(r), te, tr)
            if te or tr:
                break


def test_results_do_not_depend_on_thread_count(restore_threads, rng):
    num_envs = 6000  # above kMinParallelEnvs, so OpenMP splits the envs
    actions = rng.integers(0, 4, (40, num_envs))
    nextrl.set_num_threads(1)
    one = _rollout(GridWorldVectorEnv(num_envs, **KW), 3, actions)
    nextrl.set_num_threads(2)
    two = _rollout(GridWorldVectorEnv(num_envs, **KW), 3, actions)
    assert all(np.array_equal(x, y) for x, y in zip(one, two))


def test_unseeded_reset_continues_the_stream_and_first_reset_draws_entropy():
    a = GridWorldVectorEnv(64, **KW)
    b = GridWorldVectorEnv(64, **KW)
    assert not np.array_equal(a.reset()[0], b.reset()[0])  # fresh entropy each
    a.reset(seed=1)
    first = a.reset()[0]
    a.reset(seed=1)
    np.testing.assert_array_equal(a.reset()[0], first)  # seed, then continue: reproducible


def test_copy_false_returns_live_views():
    env = GridWorldVectorEnv(3, copy=False, width=6, height=6)
    obs, _ = env.reset(seed=0)
    obs2, rewards, *_ = env.step(np.array([0, 3, 3]))
    assert obs2 is not None and np.shares_memory(obs, obs2)
    np.testing.assert_array_equal(obs, [[0, 1], [1, 0], [1, 0]])
    copied = GridWorldVectorEnv(3, width=6, height=6)
    o, _ = copied.reset(seed=0)
    o2, *_ = copied.step(np.array([0, 3, 3]))
    assert not np.shares_memory(o, o2)


def test_torch_and_int32_actions_are_accepted():
    torch = pytest.importorskip("torch")
    env = GridWorldVectorEnv(3, width=6, height=6)
    env.reset(seed=0)
    obs, *_ = env.step(torch.tensor([0, 3, 3]))
    obs2, *_ = env.step(np.array([0, 3, 3], dtype=np.int32))
    np.testing.assert_array_equal(obs2, [[0, 2], [2, 0], [2, 0]])


# ------------------------------------------------------------------------------------------ errors
DISCRETE_IDS = [
    "nextrl/GridWorld-v0",
    "nextrl/CartPole-v1",
    "nextrl/QuantumStatePrep-v0",
    "nextrl/FrozenLake-v0",
    "nextrl/CliffWalking-v0",
    "nextrl/SafeGridWorld-v0",
    "nextrl/RobustGridWorld-v0",
    "nextrl/GoalGridWorld-v0",
]


@pytest.mark.parametrize("env_id", DISCRETE_IDS)
def test_quick_action_check_finds_every_bad_action(env_id):
    """The engine's quick pass (AllActionsValid: one vectorized range test) lets every valid batch through and
    stops every batch with one bad action, wherever it stands (first env, around a block boundary, last env),
    naming that env; nothing moves."""
    num_envs = 300
    env = gym.make_vec(env_id, num_envs=num_envs, copy=True)
    n = int(env.single_action_space.n)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    good = rng.integers(0, n, num_envs)
    before = env.unwrapped._core.obs.copy()
    for where in (0, 255, 256, num_envs - 1):
        for bad in (-1, n, 2**62, np.iinfo(np.int64).min):
            actions = good.copy()
            actions[where] = bad
            with pytest.raises(ValueError, match=rf"actions\[{where}\] must be"):
                env.step(actions)
    np.testing.assert_array_equal(env.unwrapped._core.obs, before)
    env.step(good)  # all valid: accepted
    env.step(np.full(num_envs, n - 1))


def test_bad_actions_are_refused_and_nothing_moves():
    env = GridWorldVectorEnv(3, width=6, height=6)
    before, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[1\] must be in \[0, 4\)"):
        env.step(np.array([0, 4, 0]))
    with pytest.raises(ValueError, match=r"actions\[2\] must be in \[0, 4\)"):
        env.step(np.array([0, 0, -1]))
    with pytest.raises(ValueError, match=r"actions must have shape \(3,\), got \(2,\)"):
        env.step(np.array([0, 0]))
    with pytest.raises(ValueError, match=r"actions must have shape \(3,\), got \(3, 1\)"):
        env.step(np.zeros((3, 1), dtype=np.int64))
    with pytest.raises(TypeError, match="must be integers for a Discrete action space, got dtype float64"):
        env.step(np.array([0.0, 1.0, np.nan]))
    with pytest.raises(TypeError, match="must be integers"):
        env.step(np.array([True, False, True]))
    obs, *_ = env.step(np.array([0, 0, 0]))
    np.testing.assert_array_equal(obs, before + [0, 1])  # the refused calls moved nothing


def test_disabled_mode_refuses_to_step_a_finished_env():
    env = GridWorldVectorEnv(2, layout=["SG"], autoreset_mode=AutoresetMode.DISABLED)
    env.reset(seed=0)
    env.step(np.array([3, 2]))
    with pytest.raises(ValueError, match="env 0 has finished its episode and autoreset is disabled"):
        env.step(np.array([3, 2]))
    env.reset(options={"reset_mask": np.array([True, False])})
    env.step(np.array([3, 2]))


@pytest.mark.parametrize(
    "options, exc, match",
    [
        ({"reset_mask": [True, False]}, TypeError, "must be a numpy array"),
        ({"reset_mask": np.array([1, 0])}, TypeError, "must have dtype bool"),
        ({"reset_mask": np.array([True])}, ValueError, r"must have shape \(2,\)"),
        ({"reset_msk": np.array([True, False])}, ValueError, "unknown option 'reset_msk'; did you mean 'reset_mask'"),
        ("reset_mask", TypeError, "options must be a dict"),
    ],
)
def test_bad_reset_options(options, exc, match):
    env = GridWorldVectorEnv(2)
    with pytest.raises(exc, match=match):
        env.reset(seed=0, options=options)


@pytest.mark.parametrize(
    "seed, exc, match",
    [
        (1.5, TypeError, "seed must be an int"),
        (-3, ValueError, r"seed must be in \[0, 2\*\*64\), got -3"),
        (True, TypeError, "seed must be an int"),
    ],
)
def test_bad_seed(seed, exc, match):
    with pytest.raises(exc, match=match):
        GridWorldVectorEnv(2).reset(seed=seed)


def test_bad_num_envs_and_autoreset_mode():
    with pytest.raises(ValueError, match="num_envs must be >= 1, got 0"):
        GridWorldVectorEnv(0)
    with pytest.raises(ValueError, match="is not a valid AutoresetMode"):
        GridWorldVectorEnv(2, autoreset_mode="sometimes")


def test_single_env_errors():
    env = GridWorldEnv()
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(\)"):
        env.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="reset_mask is an option of vector envs"):
        env.reset(options={"reset_mask": np.array([True])})


def test_make_vec_passes_kwargs():
    env = gym.make_vec("nextrl/GridWorld-v0", num_envs=3, width=9, height=2)
    assert env.config.width == 9 and env.num_envs == 3


# ------------------------------------------------------------------------------- StepBlock = Step
# FrozenLake, CliffWalking and GridWorld step through their Env::StepBlock; the test-only `_...Stepwise`
# cores are the same envs driven one env at a time through Env::Step. Both must agree on every buffer.
def _step_block_cases():
    from nextrl._core import (
        _CliffWalking,
        _CliffWalkingConfig,
        _CliffWalkingStepwise,
        _FrozenLake,
        _FrozenLakeStepwise,
        _GridWorld,
        _GridWorldStepwise,
    )
    from nextrl.envs.gridworld import make_config
    from nextrl.envs.toy_text import frozen_lake_config

    cliff = _CliffWalkingConfig()
    cliff.is_slippery, cliff.max_steps = True, 20
    multi_start = frozen_lake_config(desc=["SFSF", "FHFH", "SFFH", "HFSG"], success_rate=0.5, max_steps=9)
    layout = ["S..#.", ".#..X", "..X..", "#...G"]  # walls #, pits X
    anywhere = [row.replace("S", ".") for row in layout]  # no S: the start is drawn at every reset
    return {
        "frozenlake": (_FrozenLake, _FrozenLakeStepwise, frozen_lake_config(max_steps=12)),
        "frozenlake-multistart": (_FrozenLake, _FrozenLakeStepwise, multi_start),
        "frozenlake-deterministic": (_FrozenLake, _FrozenLakeStepwise, frozen_lake_config(is_slippery=False)),
        "cliffwalking-slippery": (_CliffWalking, _CliffWalkingStepwise, cliff),
        "grid-coords": (_GridWorld, _GridWorldStepwise, make_config(layout=anywhere, start=None, max_steps=8)),
        "grid-onehot": (_GridWorld, _GridWorldStepwise, make_config(layout=layout, obs_mode="onehot", max_steps=6)),
        "grid-image": (_GridWorld, _GridWorldStepwise, make_config(layout=anywhere, start=None, obs_mode="image")),
    }


def _buffers(core, mode):
    done = core.episode_done.copy()
    out = [
        core.obs.copy(),
        core.rewards.copy(),
        core.terminations.copy(),
        core.truncations.copy(),
        core.infos.copy(),
        done,
        core.needs_reset.copy(),
        core.episode_return[done],
        core.episode_length[done],
        core.num_done,
    ]
    if mode == 1:
        out += [core.final_obs[done], core.final_infos[done]]
    if hasattr(core, "state_ids"):
        out.append(core.state_ids())
    return out


@pytest.mark.parametrize("case", list(_step_block_cases()))
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_step_block_equals_step_per_env(case, mode, rng):
    block_cls, stepwise_cls, config = _step_block_cases()[case]
    num_envs = 600  # blocks of 256, 256 and 88 envs
    block, stepwise = block_cls(num_envs, config, mode), stepwise_cls(num_envs, config, mode)
    block.reset(9, None)
    stepwise.reset(9, None)
    finished = 0
    for _ in range(60):
        actions = rng.integers(0, 4, num_envs)
        assert block.step(actions) == stepwise.step(actions)
        for a, b in zip(_buffers(block, mode), _buffers(stepwise, mode)):
            np.testing.assert_array_equal(a, b)
        finished += block.num_done
        if mode == 2:  # autoreset disabled: reset the finished envs by mask
            mask = block.needs_reset.copy()
            block.reset(None, mask)
            stepwise.reset(None, mask)
            np.testing.assert_array_equal(block.obs, stepwise.obs)
    assert finished > num_envs  # many episodes ended (terminations and truncations) in every case


def test_step_block_results_do_not_depend_on_thread_count(restore_threads, rng):
    from nextrl._core import _FrozenLake
    from nextrl.envs.toy_text import frozen_lake_config

    num_envs = 5000  # 20 blocks: split between threads
    actions = rng.integers(0, 4, (30, num_envs))
    runs = []
    for threads in (1, 2):
        nextrl.set_num_threads(threads)
        core = _FrozenLake(num_envs, frozen_lake_config(), 0)
        core.reset(4, None)
        trace = []
        for a in actions:
            trace.append(core.step(a))
            trace += [core.obs.copy(), core.rewards.copy(), core.terminations.copy(), core.truncations.copy()]
        runs.append(trace)
    assert all(np.array_equal(x, y) for x, y in zip(*runs))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
def test_episode_statistics_match_summed_rewards(mode, rng):
    """info["episode"] against returns and lengths summed in Python from the stepped rewards and flags."""
    num_envs = 300
    env = GridWorldVectorEnv(num_envs, autoreset_mode=mode, **KW)
    env.reset(seed=6)
    ret, length, fresh = np.zeros(num_envs), np.zeros(num_envs, np.int64), np.zeros(num_envs, bool)
    seen = 0
    for _ in range(80):
        _, r, term, trunc, infos = env.step(rng.integers(0, 4, num_envs))
        live = ~fresh  # NEXT_STEP: the reset step after an episode end is no step of any episode
        ret[live] += r[live]
        length[live] += 1
        done = term | trunc
        assert ("episode" in infos) == done.any()
        if done.any():
            np.testing.assert_array_equal(infos["_episode"], done)
            np.testing.assert_allclose(infos["episode"]["r"][done], ret[done], rtol=1e-6)
            np.testing.assert_array_equal(infos["episode"]["l"][done], length[done])
            seen += int(done.sum())
        ret[done], length[done] = 0.0, 0
        fresh = done if mode == AutoresetMode.NEXT_STEP else np.zeros(num_envs, bool)
        if mode == AutoresetMode.DISABLED and done.any():
            _, infos = env.reset(options={"reset_mask": done})
            assert "episode" not in infos  # the reset envs were the only ones that finished
    assert seen > 500


def test_non_contiguous_and_other_integer_actions_take_the_slow_path():
    env = GridWorldVectorEnv(3, width=6, height=6)
    env.reset(seed=0)
    wide = np.array([[0, 9], [3, 9], [3, 9]])
    obs, *_ = env.step(wide[:, 0])  # a strided view
    np.testing.assert_array_equal(obs, [[0, 1], [1, 0], [1, 0]])
    obs, *_ = env.step(np.array([0, 3, 3], dtype=np.uint8))
    np.testing.assert_array_equal(obs, [[0, 2], [2, 0], [2, 0]])


def test_an_env_due_for_reset_ignores_its_action_but_others_are_checked():
    env = GridWorldVectorEnv(3, layout=["SG"])
    env.reset(seed=0)
    env.step(np.array([3, 2, 2]))  # env 0 reaches the goal
    with pytest.raises(ValueError, match=r"actions\[2\] must be in \[0, 4\)"):
        env.step(np.array([7, 0, 5]))  # env 0's action is ignored (reset step); env 2's is not
    obs, r, term, *_ = env.step(np.array([7, 2, 2]))  # nothing moved above; now env 0 resets
    np.testing.assert_array_equal(obs, [[0, 0], [0, 0], [0, 0]])
    assert list(term) == [False, False, False]
