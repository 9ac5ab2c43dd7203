"""CausalThrust (csrc/envs/point_mass.h): the documents' thrust / velocity / force task, its causal graph,
do(force) interventions, the working step limit and [1]-shaped / 0-d actions."""

from __future__ import annotations

import numpy as np
import pytest

from env_harness import check_against_reference, random_actions, rollout, stack
from nextrl.envs import CausalThrustEnv, CausalThrustVectorEnv
from reference.control_envs import causal_thrust_step


def make(n, **kw):
    return CausalThrustVectorEnv(n, **kw)


def test_velocity_clip_is_reached():
    """The observations of check_obs_in_space's rollout (tests/env_harness.py) reach the velocity clip."""
    obs = stack(rollout(make(32), seed=9, steps=600)["obs"])
    assert np.abs(obs[..., 1]).max() == pytest.approx(2.0)


def test_step_limit_fires_at_200():
    """The document's 200-step limit never fired; here it truncates every episode at exactly 200 steps."""
    env = make(4, force_init_std=0.0, force_walk_std=0.0)
    env.reset(seed=0)
    zeros = np.zeros((4, 1), dtype=np.float32)
    for t in range(1, 201):
        _, r, term, trunc, info = env.step(zeros)
        assert not term.any()
        assert trunc.all() == (t == 200)
    np.testing.assert_array_equal(info["episode"]["l"], 200)
    np.testing.assert_array_equal(r, 0.0)


def test_noise_free_dynamics_match_reference():
    env = make(32, force_walk_std=0.0, force_init_std=0.5)
    rng = np.random.default_rng(0)
    bias = rng.uniform(-1, 1, size=(32, 1)).astype(np.float32)  # drives |vel| into its clip and |pos| past 5
    terminated = check_against_reference(
        env,
        lambda i, s, a: causal_thrust_step(s, a, 0.0),
        lambda: (bias + random_actions(rng, env.single_action_space, 32)).astype(np.float32),
        steps=300,
    )
    assert terminated > 0


def test_noise_scales():
    n = 10000
    env = make(n)
    obs, _ = env.reset(seed=3)
    np.testing.assert_allclose(obs[:, 2].std(), 0.1, rtol=0.03)
    np.testing.assert_array_equal(obs[:, :2], 0.0)
    before = env.states()
    env.step(np.zeros(n, dtype=np.float32))
    walk = env.states()[:, 2] - before[:, 2]
    np.testing.assert_allclose(walk.std(), 0.05, rtol=0.03)


def test_scalar_and_flat_actions():
    """The document's step indexed a 0-d action (IndexError): a 0-d, a (1,) action and (N,) batches all work."""
    single = CausalThrustEnv(force_init_std=0.0, force_walk_std=0.0)
    single.reset(seed=0)
    o0, *_ = single.step(np.float32(0.5))
    o1, *_ = single.step(np.array([0.5], dtype=np.float32))
    np.testing.assert_allclose([o0[1], o1[1]], [0.05, 0.1], rtol=1e-6)
    o2, *_ = single.step(0.5)
    np.testing.assert_allclose(o2[1], 0.15, rtol=1e-6)
    env = make(3, force_init_std=0.0, force_walk_std=0.0)
    env.reset(seed=0)
    obs, *_ = env.step(np.array([1.0, -1.0, 3.0]))
    np.testing.assert_allclose(obs[:, 1], [0.1, -0.1, 0.1], rtol=1e-6)  # clipped to [-1, 1]


def test_causal_graph_matches_dynamics():
    """The declared time-lagged graph is exactly the dependency pattern of the dynamics: perturbing a cause
    at t changes its effects at t+1 and nothing else (checked on the reference, which matches the env)."""
    names, adj = CausalThrustVectorEnv.causal_graph(temporal=True)
    assert names == ("pos[t]", "vel[t]", "force[t]", "action[t]", "pos[t+1]", "vel[t+1]", "force[t+1]")
    base = np.array([0.3, 0.2, -0.1, 0.4])  # inside every clip
    noise = 0.7

    def step(x):
        return causal_thrust_step(x[:3], x[3:], noise)[0]

    # total effect of each input at t on each output at t+1 (vel[t+1] -> pos[t+1] makes pos depend on all)
    depends = np.zeros((4, 3), dtype=bool)
    for j in range(4):
        dx = np.zeros(4)
        dx[j] = 1e-3
        depends[j] = np.abs(step(base + dx) - step(base)) > 1e-9
    lagged = adj[:4, 4:]
    instant = adj[4:, 4:]
    expected_instant = np.zeros((3, 3), dtype=bool)
    expected_instant[1, 0] = True  # vel[t+1] -> pos[t+1] only
    np.testing.assert_array_equal(instant, expected_instant)
    # total effects = direct lagged edges, plus those through vel[t+1] -> pos[t+1]
    total = lagged.copy()
    total[:, 0] |= lagged[:, 1]
    np.testing.assert_array_equal(depends, total)
    summary_names, summary = CausalThrustVectorEnv.causal_graph()
    assert summary_names == ("pos", "vel", "force", "action")
    edges = {(summary_names[i], summary_names[j]) for i, j in zip(*np.nonzero(summary))}
    assert edges == {("action", "vel"), ("force", "vel"), ("vel", "pos")}
    # the summary graph is the lagged graph without self-loops
    lag_edges = {(a, b) for a, b, _ in CausalThrustVectorEnv.TEMPORAL_EDGES if a != b}
    assert lag_edges == edges


def test_force_intervention():
    env = make(4)
    obs, info = env.reset(seed=0, options={"force": 0.5})
    np.testing.assert_array_equal(obs[:, 2], 0.5)
    np.testing.assert_array_equal(info["force_intervened"], 1.0)
    vel = np.zeros(4)
    for _ in range(250):  # through an autoreset: the intervention holds
        obs, _, term, trunc, info = env.step(np.zeros(4, dtype=np.float32))
        np.testing.assert_array_equal(obs[:, 2], 0.5)
        vel = np.where(term | trunc, 0.0, np.clip(vel + 0.05 * 0.5, -2, 2))
    # a reset without the option is observational again; per-env values with NaN; masks
    obs, info = env.reset(seed=1)
    np.testing.assert_array_equal(info["force_intervened"], 0.0)
    assert len(set(obs[:, 2])) == 4
    obs, info = env.reset(seed=2, options={"force": np.array([np.nan, -1.0, 0.0, np.nan])})
    np.testing.assert_array_equal(info["force_intervened"], [0, 1, 1, 0])
    np.testing.assert_array_equal(obs[1:3, 2], [-1.0, 0.0])
    mask = np.array([True, False, False, False])
    _, info = env.reset(options={"reset_mask": mask, "force": 0.25})
    np.testing.assert_array_equal(info["force_intervened"], [1, 1, 1, 0])
    single = CausalThrustEnv()
    o, i = single.reset(seed=0, options={"force": -0.2})
    assert o[2] == np.float32(-0.2) and i["force_intervened"] == 1.0


def test_intervention_effect_on_velocity():
    """do(force = f) with zero thrust: vel grows by exactly 0.05 f per step (force -> vel)."""
    env = make(3, force_walk_std=0.3)
    env.reset(seed=0, options={"force": np.array([0.4, -0.8, 0.0])})
    for t in range(1, 11):
        env.step(np.zeros(3, dtype=np.float32))
        np.testing.assert_allclose(env.states()[:, 1], t * 0.05 * np.array([0.4, -0.8, 0.0]), atol=1e-12)


def test_bad_options_and_config():
    env = make(3)
    with pytest.raises(ValueError, match=r"options\['force'\] must be in \[-max_force, max_force\]"):
        env.reset(seed=0, options={"force": 1.5})
    with pytest.raises(ValueError, match=r"options\['force'\] must be a float or an array of shape \(3,\)"):
        env.reset(seed=0, options={"force": [0.1, 0.2]})
    with pytest.raises(ValueError, match="unknown option 'forc'; did you mean 'force'"):
        env.reset(seed=0, options={"forc": 0.1})
    with pytest.raises(ValueError, match="max_speed and max_position must be > 0"):
        make(1, max_speed=0.0)
    with pytest.raises(ValueError, match="force_init_std and force_walk_std must be finite and >= 0"):
        make(1, force_walk_std=float("nan"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[2\] must be finite"):
        env.step(np.array([0.0, 0.0, np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match=r"actions must have shape \(3,\), got \(3, 2\)"):
        env.step(np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"action must have shape \(1,\), got \(2,\)"):
        c = CausalThrustEnv()
        c.reset(seed=0)
        c.step(np.zeros(2, dtype=np.float32))


def test_regimes_differ_only_through_the_force():
    """From the same seed, do(force = 0.3) keeps the force at 0.3 while the observational force walks."""
    forces = {}
    for name, opts in {"obs": None, "do": {"force": 0.3}}.items():
        env = make(2)
        env.reset(seed=5, options=opts)
        forces[name] = np.array([env.step(np.zeros(2, dtype=np.float32))[0][:, 2] for _ in range(5)])
    np.testing.assert_array_equal(forces["do"], np.float32(0.3))
    assert np.all(np.diff(forces["obs"], axis=0) != 0)
