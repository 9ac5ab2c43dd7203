"""SafeGridWorld: step-for-step against the pure-Python reference, costs in infos, and the default budget
proven feasible (and binding) by exact dynamic programming on the env's own tabular model."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.envs.dp import value_iteration
from nextrl.envs.safe_grid import DEFAULT_LAYOUT, SafeGridWorldVectorEnv
from reference.grid_envs import SafeGrid, min_cost_to_goal

DEFAULT_HAZARDS = {(x, 6 - row) for row, r in enumerate(DEFAULT_LAYOUT) for x, ch in enumerate(r) if ch == "H"}


def _min_cost(env: SafeGridWorldVectorEnv, horizon: int) -> float:
    p, nxt, _, terminal = env.transition_table()
    g = env.config.grid
    start = g.start_y * g.width + g.start_x
    return min_cost_to_goal(
        p.tolist(),
        nxt.tolist(),
        terminal.tolist(),
        env.cost_table().tolist(),
        goal=g.goal_y * g.width + g.goal_x,
        start=start,
        horizon=horizon,
    )


def test_default_budget_is_feasible_and_binds():
    env = SafeGridWorldVectorEnv(1)
    assert env.cost_budget == 0.5 and env.config.grid.max_steps == 50
    # Feasible: within the 50-step limit the cheapest way to the goal costs 0.3 (three border cells).
    assert _min_cost(env, horizon=50) == pytest.approx(0.3, abs=1e-12)
    assert _min_cost(env, horizon=50) <= env.cost_budget
    # Binding: every shortest path (12 steps, the reward-optimal length) costs at least 1.3.
    assert np.isinf(_min_cost(env, horizon=11))
    assert _min_cost(env, horizon=12) == pytest.approx(1.3, abs=1e-12)
    # The unconstrained optimum (value iteration on rewards) run in the env itself breaks the budget.
    policy = value_iteration(env.transition_table(), gamma=1.0).policy
    env.reset(seed=0)
    total_cost, steps, done = 0.0, 0, False
    while not done:
        _, _, term, trunc, info = env.step(policy[env.state_ids()])
        total_cost, steps, done = total_cost + info["cost"][0], steps + 1, bool(term[0] or trunc[0])
    assert term[0] and steps == 12 and total_cost >= 1.3 - 1e-12 and total_cost > env.cost_budget


def test_documents_default_was_infeasible():
    """The seed's SafeEnvironment (6 x 6, hazards (2,2), (3,1), (1,3), (4,3), threshold 0.1): DP finds 0.6."""
    env = SafeGridWorldVectorEnv(
        1,
        layout=None,
        width=6,
        height=6,
        start=(0, 0),
        goal=(5, 5),
        hazards=[(2, 2), (3, 1), (1, 3), (4, 3)],
        cost_budget=0.1,
    )
    assert _min_cost(env, horizon=50) == pytest.approx(0.6, abs=1e-12)
    assert _min_cost(env, horizon=50) > env.cost_budget


def test_matches_reference_step_for_step():
    env = SafeGridWorldVectorEnv(4)
    refs = [SafeGrid(7, 7, (0, 0), (6, 6), DEFAULT_HAZARDS, 1.0, 0.1, 10.0, 0.1, 50) for _ in range(4)]
    obs, info = env.reset(seed=0)
    for i, ref in enumerate(refs):
        pos, ref_info = ref.reset()
        np.testing.assert_array_equal(obs[i], pos)
    rng = np.random.default_rng(2)
    done = np.zeros(4, bool)
    bias = np.array([0.4, 0.1, 0.1, 0.4])  # towards the goal, so episodes end by both goal and limit
    ends = np.zeros(2, int)
    for t in range(400):
        a = rng.choice(4, size=4, p=bias)
        obs, r, term, trunc, info = env.step(a)
        for i, ref in enumerate(refs):
            if done[i]:
                pos, ref_r, ref_term, ref_trunc, ref_info = (*ref.reset()[:1], 0.0, False, False, ref.reset()[1])
            else:
                pos, ref_r, ref_term, ref_trunc, ref_info = ref.step(int(a[i]))
            np.testing.assert_array_equal(obs[i], pos, err_msg=f"env {i} step {t}")
            assert (r[i], term[i], trunc[i]) == (np.float32(ref_r), ref_term, ref_trunc)
            assert info["cost"][i] == pytest.approx(ref_info["cost"], abs=1e-12)
            assert info["hazard"][i] == ref_info["hazard"]
        done = term | trunc
        ends += [term.sum(), trunc.sum()]
    assert ends.min() > 0


def test_cost_table_and_onehot():
    env = SafeGridWorldVectorEnv(1, obs_mode="onehot")
    costs = env.state_costs()
    assert costs[0] == pytest.approx(0.1)  # (0, 0): border
    assert costs[1 * 7 + 2] == pytest.approx(1.0)  # (2, 1): interior hazard
    assert costs[0 * 7 + 2] == pytest.approx(1.1)  # (2, 0): hazard on the border
    assert costs[3 * 7 + 3] == 0.0  # (3, 3): interior, free
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, 49) and obs[0, 0] == 1.0 and obs.sum() == 1.0


def test_registered():
    import gymnasium as gym

    env = gym.make("nextrl/SafeGridWorld-v0")
    assert env.unwrapped.cost_budget == 0.5
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(3)
    assert info["cost"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hazards=[(7, 0)]), r"hazard \(7, 0\) is outside the 7 x 7 grid"),
        (dict(obs_mode="image"), "obs_mode must be 'coords' or 'onehot'"),
        (dict(hazard_cost=-1.0), "hazard_cost and boundary_cost must be finite and >= 0, got -1"),
        (dict(boundary_cost=float("inf")), "hazard_cost and boundary_cost must be finite and >= 0"),
        (dict(cost_budget=-0.5), "cost_budget must be finite and >= 0, got -0.5"),
        (dict(layout=["S.Q", "..G"]), "layout character 'Q'"),
        (dict(max_steps=-1), "max_steps must be >= 0"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SafeGridWorldVectorEnv(2, **kwargs)
