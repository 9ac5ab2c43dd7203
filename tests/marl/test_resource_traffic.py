"""ResourceAllocation and Traffic (CA12) against pure-Python references written from their definitions:
proportional rationing, utilities, the three social welfares, ring-road car following, collisions as
crossings (including a follower that jumps through its leader in one step), the safety cost; errors."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.marl import ResourceAllocationVectorEnv, TrafficVectorEnv


def _ra_reference(caps, w, steps_actions, threshold):
    """Yields (rewards, allocations, remaining, terminated) for each [N, R] action."""
    N, R = w.shape
    alloc, remaining = np.zeros((N, R)), np.array(caps, float)
    for a in steps_actions:
        x = np.clip(a.astype(float), 0, 1) * remaining
        for r in range(R):
            if x[:, r].sum() > remaining[r]:
                x[:, r] *= remaining[r] / x[:, r].sum()
        remaining = np.maximum(0.0, remaining - x.sum(0))
        alloc += x
        yield (x * w).sum(1), alloc.copy(), remaining.copy(), bool((remaining <= threshold).all())


def test_resource_allocation_matches_reference(rng):
    caps = [20.0, 15.0]
    env = ResourceAllocationVectorEnv(1, num_agents=3, num_resources=2, capacities=caps, max_steps=30)
    obs, infos = env.reset(seed=4)
    N, R = 3, 2
    w = infos["state"][0, N * R + R :].reshape(N, R).astype(float) * 2
    np.testing.assert_allclose(obs[0, :, 3 * R :], w / 2, atol=1e-7)
    actions = [rng.uniform(-0.2, 1.2, (N, R)).astype(np.float32) for _ in range(30)]
    rationed = False
    for t, (rr, alloc, remaining, term) in enumerate(_ra_reference(caps, w, actions, 0.1)):
        o, r, te, tr, infos = env.step(actions[t][None])
        np.testing.assert_allclose(r[0], rr, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(o[0, :, :R], alloc / caps, atol=1e-6)
        np.testing.assert_allclose(o[0, 0, R : 2 * R], remaining / caps, atol=1e-6)
        np.testing.assert_allclose(o[0, 0, 2 * R : 3 * R], alloc.sum(0) / caps, atol=1e-6)
        u = (alloc * w).sum(1)
        np.testing.assert_allclose(infos["utilitarian"][0], u.sum(), rtol=1e-6)
        np.testing.assert_allclose(infos["egalitarian"][0], u.min(), rtol=1e-6)
        np.testing.assert_allclose(infos["nash"][0], np.prod(u) ** (1 / N), rtol=1e-6)
        rationed |= bool((np.clip(actions[t], 0, 1).sum(0) > 1).any())
        assert te[0].all() == term
        if term:
            break
    assert rationed and term


def test_resource_allocation_hand_case():
    env = ResourceAllocationVectorEnv(1, num_agents=2, num_resources=1, capacities=[10.0])
    _, infos = env.reset(seed=0)
    w = infos["state"][0, 3:].astype(float) * 2
    # both ask for everything: rationed to 5 each
    _, r, te, _, infos = env.step(np.ones((1, 2, 1), np.float32))
    np.testing.assert_allclose(r[0], 5 * w, rtol=1e-6)
    assert te.all()  # nothing left
    np.testing.assert_allclose(infos["egalitarian"][0], 5 * w.min(), rtol=1e-6)


def _traffic_reference(state, actions, c):
    """s unwrapped from the reset state; yields (rewards, terminated, cost, obs)."""
    N, L = c["num_vehicles"], c["road_length"]
    s = state[:, 0].astype(float) * L
    v = state[:, 1].astype(float) * c["v_max"]
    target = state[:, 2].astype(float) * c["v_max"]
    for a in actions:
        v = np.clip(v + np.clip(a[:, 0].astype(float), -1, 1) * c["max_accel"] * c["dt"], 0, c["v_max"])
        s = s + v * c["dt"]
        lead = np.append(s[1:], s[0] + L)
        gap = lead - s - c["vehicle_length"]
        collided = np.zeros(N, bool)
        for k in range(N):
            if gap[k] < 0:
                collided[k] = collided[(k + 1) % N] = True
        unsafe = gap < c["min_gap"]
        r = -0.1 * np.abs(v - target) + 0.05 * v - c["safety_penalty"] * unsafe - c["collision_penalty"] * collided
        yield r, collided.any(), int((unsafe | collided).sum()), gap


def test_traffic_matches_reference(rng):
    c = dict(
        num_vehicles=5,
        road_length=60.0,
        vehicle_length=4.0,
        min_gap=2.0,
        dt=0.1,
        max_accel=3.0,
        v_max=25.0,
        safety_penalty=1.0,
        collision_penalty=10.0,
    )
    crashes = unsafe_steps = 0
    for seed in range(6):
        env = TrafficVectorEnv(1, max_steps=300, **c)
        _, infos = env.reset(seed=seed)
        state = infos["state"][0].reshape(5, 3)
        actions = [rng.uniform(-1.5, 1.5, (5, 1)).astype(np.float32) for _ in range(300)]
        for t, (rr, crash, cost, gap) in enumerate(_traffic_reference(state, actions, c)):
            o, r, te, tr, infos = env.step(actions[t][None])
            np.testing.assert_allclose(r[0], rr, rtol=1e-5, atol=1e-4)
            np.testing.assert_allclose(o[0, :, 2], gap / c["road_length"], atol=1e-4)
            assert infos["cost"][0] == cost and te[0].all() == crash
            unsafe_steps += cost > 0
            if crash:
                crashes += 1
                break
    assert crashes >= 2 and unsafe_steps > 0


def test_traffic_detects_a_jump_through():
    # two vehicles on a long ring, max_accel huge: the follower passes its leader within one step
    env = TrafficVectorEnv(1, num_vehicles=2, road_length=1000.0, max_accel=1e4, v_max=1e4, dt=1.0, min_gap=0.0)
    _, infos = env.reset(seed=3)
    s = infos["state"][0].reshape(2, 3)[:, 0] * 1000.0
    assert s[1] - s[0] > 100  # a wide gap to cross
    _, r, te, _, infos = env.step(np.array([[[1.0], [-1.0]]], np.float32))
    assert te.all() and infos["collisions"][0] == 2 and (r[0] < -9).all()


def test_errors():
    with pytest.raises(ValueError, match="capacities must have num_resources = 3 entries, got 2"):
        ResourceAllocationVectorEnv(1, capacities=[1.0, 2.0])
    with pytest.raises(ValueError, match="capacities must be finite and > 0"):
        ResourceAllocationVectorEnv(1, num_resources=1, capacities=[0.0])
    with pytest.raises(ValueError, match="road_length / num_vehicles must exceed vehicle_length"):
        TrafficVectorEnv(1, num_vehicles=20, road_length=100.0)
    env = TrafficVectorEnv(1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[0, 2\] \(agent 'vehicle_2'\) must be finite"):
        env.step(np.array([[[0.0], [0.0], [np.inf], [0.0]]], np.float32))
