"""FrozenLake and CliffWalking against Gymnasium 1.4's own envs: identical trajectories in deterministic
mode (through autoresets and time limits), chi-square transition frequencies in slippery mode, and the
transition table equal to Gymnasium's P."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from scipy import stats

from env_harness import rollout
from nextrl.envs.toy_text import (
    CliffWalkingVectorEnv,
    FrozenLakeVectorEnv,
    generate_random_map,
)

CUSTOM = ["SFFHF", "FHFFF", "FFSHF", "HFFFG"]  # two starts, non-square
# (our kwargs, Gymnasium id, Gymnasium kwargs)
CASES = {
    "fl4": (dict(map_name="4x4"), "FrozenLake-v1", {}),
    "fl8": (dict(map_name="8x8"), "FrozenLake8x8-v1", {}),
    "fl_custom": (
        dict(desc=CUSTOM, success_rate=0.6, reward_schedule=(2.0, -1.0, -0.01)),
        "FrozenLake-v1",
        dict(desc=CUSTOM, success_rate=0.6, reward_schedule=(2.0, -1.0, -0.01)),
    ),
    "cliff": ({}, "CliffWalking-v1", {}),
}


def ours(case: str, num_envs: int, slippery: bool, **kw):
    kwargs, _, _ = CASES[case]
    cls = CliffWalkingVectorEnv if case == "cliff" else FrozenLakeVectorEnv
    return cls(num_envs, is_slippery=slippery, **kwargs, **kw)


def theirs(case: str, slippery: bool):
    _, env_id, kwargs = CASES[case]
    return gym.make(env_id, is_slippery=slippery, **kwargs)


# ------------------------------------------------------------------------------ Gymnasium equivalence
@pytest.mark.parametrize("case", ["fl4", "fl8", "cliff"])
def test_deterministic_trajectories_match_gymnasium(case):
    """Many random action sequences through NEXT_STEP autoresets and time limits: our batch against
    Gymnasium's SyncVectorEnv of gym.make (TimeLimit included), step for step."""
    num_envs, num_steps = 8, 600
    kwargs = {} if case != "cliff" else {"max_steps": 30}  # CliffWalking-v1 has no limit; test one anyway
    env = ours(case, num_envs, False, **kwargs)
    make = (
        (lambda: gym.make("CliffWalking-v1", max_episode_steps=30))
        if case == "cliff"
        else (lambda: theirs(case, False))
    )
    ref = gym.vector.SyncVectorEnv([make for _ in range(num_envs)])
    rng = np.random.default_rng(7)
    # Biased action sequences reach goals, holes and time limits within a few hundred steps.
    bias = rng.dirichlet(np.ones(4) * 0.5, size=num_envs)
    obs, info = env.reset(seed=0)
    ref_obs, ref_info = ref.reset(seed=0)
    np.testing.assert_array_equal(obs, ref_obs)
    np.testing.assert_array_equal(info["prob"], ref_info["prob"])
    ends = np.zeros(3, int)
    for t in range(num_steps):
        a = np.array([rng.choice(4, p=bias[i]) for i in range(num_envs)])
        out, ref_out = env.step(a), ref.step(a)
        for x, y in zip(out[:4], ref_out[:4]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        np.testing.assert_array_equal(out[4]["prob"], ref_out[4]["prob"])
        ends += [(out[2] & (out[1] > 0)).sum(), (out[2] & (out[1] <= 0)).sum(), out[3].sum()]
    if case != "cliff":
        assert ends.min() > 0, f"goals, holes, truncations reached: {ends}"  # all kinds of ending were compared
    else:
        assert ends[1] + ends[2] > 0


@pytest.mark.parametrize("case", ["fl4", "fl_custom", "cliff"])
@pytest.mark.parametrize("slippery", [False, True])
def test_transition_table_equals_gymnasium_P(case, slippery):
    env = ours(case, 1, slippery)
    p, nxt, reward, terminal = env.transition_table()
    P = theirs(case, slippery).unwrapped.P
    assert p.shape[:2] == (len(P), 4)
    for s in range(len(P)):
        for a in range(4):
            entries = P[s][a]
            k = len(entries)
            assert np.all(p[s, a, k:] == 0.0)
            for j, (pj, sj, rj, tj) in enumerate(entries):
                assert (p[s, a, j], nxt[s, a, j], reward[s, a, j], terminal[s, a, j]) == (pj, sj, rj, tj), (s, a, j)
    starts = np.flatnonzero(theirs(case, slippery).unwrapped.initial_state_distrib)
    assert env.start_states() == starts.tolist()


def _transitions(env, num_steps: int, seed: int) -> np.ndarray:
    """[M, 5] rows (state, action, next, reward, terminal) of a random rollout, NEXT_STEP reset steps left out."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    fresh = np.ones(env.num_envs, bool)  # the next step is a real transition (not a NEXT_STEP reset step)
    rows = []
    for _ in range(num_steps):
        a = rng.integers(0, 4, env.num_envs)
        nxt, r, term, trunc, _ = env.step(a)
        rows.append(np.stack([obs, a, nxt, r, term], 1)[fresh])
        fresh = ~(term | trunc)
        obs = nxt
    return np.concatenate(rows)


def _chi_square(data: np.ndarray, P) -> tuple[list[float], set[int]]:
    """Chi-square p-values of the outcome counts of every (state, action) with enough draws, and the
    states seen; asserts that no outcome outside P occurs."""
    order = np.argsort(data[:, 0] * 4 + data[:, 1], kind="stable")
    data = data[order]
    groups = np.split(data, np.flatnonzero(np.diff(data[:, 0] * 4 + data[:, 1])) + 1)
    pvalues, covered = [], set()
    for sel in groups:
        s, a = int(sel[0, 0]), int(sel[0, 1])
        covered.add(s)
        expected: dict[tuple, float] = {}
        for pj, sj, rj, tj in P[s][a]:
            key = (sj, float(np.float32(rj)), bool(tj))  # step rewards are float32
            expected[key] = expected.get(key, 0.0) + pj
        keys = [k for k, v in expected.items() if v > 0]
        codes = {k: j for j, k in enumerate(keys)}
        idx = np.array([codes.get((int(n), float(rw), bool(t)), -1) for n, rw, t in np.unique(sel[:, 2:], axis=0)])
        assert np.all(idx >= 0), f"outcomes not in P from ({s}, {a})"
        probs = np.array([expected[k] for k in keys])
        if len(keys) < 2 or len(sel) * probs.min() < 5:
            continue  # one outcome (checked above) or too few draws for chi-square
        observed = np.array(
            [np.sum((sel[:, 2] == k[0]) & (sel[:, 3] == np.float32(k[1])) & (sel[:, 4] == k[2])) for k in keys]
        )
        pvalues.append(stats.chisquare(observed, len(sel) * probs).pvalue)
    return pvalues, covered


@pytest.mark.parametrize("case", ["fl4", "fl_custom", "cliff"])
def test_slippery_frequencies_chi_square(case):
    """Random rollouts of a batch; from every visited (state, action), the empirical distribution of the
    (next state, reward, terminal) outcomes passes a chi-square goodness-of-fit test against Gymnasium's P
    (entries with the same outcome merged); the smallest p-value is Bonferroni-corrected."""
    data = _transitions(ours(case, 512, True), num_steps=300, seed=123)
    pvalues, covered = _chi_square(data, theirs(case, True).unwrapped.P)
    reachable = {"fl4": 10, "fl_custom": 14, "cliff": 30}[case]
    assert len(covered) >= reachable and len(pvalues) >= 3 * reachable, (len(covered), len(pvalues))
    assert min(pvalues) * len(pvalues) > 1e-3, min(pvalues)


def test_chi_square_detects_a_wrong_success_rate():
    """The test above can fail: success_rate 0.5 against Gymnasium's 1/3."""
    data = _transitions(FrozenLakeVectorEnv(512, map_name="4x4", success_rate=0.5), num_steps=300, seed=123)
    pvalues, _ = _chi_square(data, theirs("fl4", True).unwrapped.P)
    assert min(pvalues) * len(pvalues) < 1e-6


def test_random_map_and_reset_info():
    desc = generate_random_map(size=6, seed=3)
    assert desc == generate_random_map(size=6, seed=3)
    env = FrozenLakeVectorEnv(2, desc=desc, is_slippery=False)
    p, nxt, reward, terminal = env.transition_table()
    ref = gym.make("FrozenLake-v1", desc=desc, is_slippery=False).unwrapped.P
    assert all(
        (p[s, a, 0], nxt[s, a, 0], reward[s, a, 0], terminal[s, a, 0]) == ref[s][a][0]
        for s in range(36)
        for a in range(4)
    )
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs, [0, 0])
    np.testing.assert_array_equal(info["prob"], [1.0, 1.0])


@pytest.mark.parametrize(
    "env_id, limit", [("nextrl/FrozenLake-v0", 100), ("nextrl/FrozenLake8x8-v0", 200), ("nextrl/CliffWalking-v0", None)]
)
def test_registered_time_limits(env_id, limit):
    """Gymnasium's: FrozenLake-v1 100 steps, FrozenLake8x8-v1 200, CliffWalking-v1 none. Pushing into the
    top-left corner (left in FrozenLake, up in CliffWalking after one step up) never ends an episode."""
    env = gym.make(env_id, is_slippery=False)
    env.reset(seed=0)
    action = 0  # FrozenLake: left from (0, 0); CliffWalking: up along column 0
    for t in range(1, 401):  # noqa: B007  (t is read after the loop)
        _, _, term, trunc, _ = env.step(action)
        assert not term
        if trunc:
            break
    assert (t if trunc else None) == limit


def test_rollout_reaches_episode_ends():
    """The standard checks (tests/env_harness.py) compare episodes that end: a random 8x8 batch terminates."""
    out = rollout(FrozenLakeVectorEnv(16, map_name="8x8"), seed=3, steps=200)
    assert np.sum(out["terminations"]) > 10 and np.sum(out["rewards"]) >= 0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(desc=["SFF", "FH"]), ValueError, "desc must be non-empty rows of equal length"),
        (dict(desc=["SFX", "FHG"]), ValueError, "map letters must be S, F, H or G, got 'X'"),
        (dict(desc=["FFF", "FHG"]), ValueError, "at least one start tile S"),
        (dict(success_rate=1.5), ValueError, r"success_rate must be in \[0, 1\], got 1.5"),
        (dict(reward_schedule=(1, 0)), ValueError, r"reward_schedule must be \(goal, hole, frozen\)"),
        (dict(reward_schedule=(float("nan"), 0, 0)), ValueError, "reward_schedule must be finite"),
        (dict(map_name="5x5"), ValueError, "unknown map_name '5x5'"),
        (dict(map_name=None), ValueError, "pass desc or map_name"),
        (dict(max_steps=-1), ValueError, "max_steps must be >= 0, got -1"),
    ],
)
def test_frozen_lake_config_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        FrozenLakeVectorEnv(2, **kwargs)


def test_cliff_walking_config_errors():
    with pytest.raises(ValueError, match="CliffWalking: max_steps must be >= 0, got -3"):
        CliffWalkingVectorEnv(2, max_steps=-3)
    with pytest.raises(ValueError, match="num_envs must be >= 1, got 0"):
        CliffWalkingVectorEnv(0)
