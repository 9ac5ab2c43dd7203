"""The MPC agent on causal world models: the planner's choice on a known problem, and learning: from 2000
random-policy transitions, the agent on a linear causal model keeps CausalThrust near the origin (return >= -1.5
over 100 steps, where doing nothing scores about -100), in the observational env and under do(force = 0.6)."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.causal.causal_agent import CausalAgentConfig, MPCConfig, constant_policy, evaluate_thrust, plan, train
from nextrl.causal.counterfactual import collect_episodes
from nextrl.causal.world_model import (
    adjacency_graph,
    causal_thrust_model,
    causal_thrust_terminated,
)
from nextrl.envs import CausalThrustVectorEnv

GOAL = -1.5


def true_graph():
    names, adj = CausalThrustVectorEnv.causal_graph(temporal=True)
    return adjacency_graph(names, adj)


def test_plan_picks_the_best_action():
    model = causal_thrust_model()
    rng = np.random.default_rng(0)
    cfg = MPCConfig(horizon=1, num_candidates=256, num_elites=16, iterations=2)
    # with reward -(pos')^2 and pos' = pos + 0.1 (vel + 0.1 a + 0.05 force) the best thrust is -100 pos (clipped)
    sq = lambda s, a, s2: -(s2[:, 0] ** 2)
    a = plan(model, np.array([[0.005, 0.0, 0.0], [-0.003, 0.0, 0.0], [0.05, 0.0, 0.0]]), sq, cfg, rng)
    np.testing.assert_allclose(a[:, 0], [-0.5, 0.3, -1.0], atol=0.02)
    # the same through the termination mask: a plan is scored only until its predicted termination
    a = plan(model, np.array([[0.005, 0.0, 0.0]]), sq, cfg, rng, terminated_fn=causal_thrust_terminated)
    np.testing.assert_allclose(a[:, 0], [-0.5], atol=0.02)


@pytest.mark.parametrize("seed", [0, 1])
def test_agent_on_a_learned_causal_model_reaches_the_goal(seed):
    cfg = CausalAgentConfig(
        num_transitions=2000,
        mechanism="linear",
        max_steps=100,
        mpc=MPCConfig(horizon=10, num_candidates=64, num_elites=8, iterations=2),
    )
    result = train(cfg, true_graph(), seed=seed, eval_episodes=4)
    assert result.eval_returns.mean() >= GOAL, result.eval_returns
    shifted = evaluate_thrust(result.model, cfg, 4, seed=100 + seed, force=0.6)
    assert shifted.mean() >= GOAL, shifted
    idle = collect_episodes(
        "nextrl/CausalThrust-v0",
        constant_policy(0.0),
        4,
        seed=100 + seed,
        env_kwargs={"max_steps": 100},
        reset_options={"force": 0.6},
    ).returns()
    assert idle.mean() < 10 * GOAL  # the task is not trivial: doing nothing under do(force) drifts away


def test_config_errors():
    with pytest.raises(ValueError, match="MPCConfig: num_elites must be <= num_candidates, got 9 > 8"):
        MPCConfig(num_candidates=8, num_elites=9)
    with pytest.raises(ValueError, match="MPCConfig: horizon must be >= 1, got 0"):
        MPCConfig(horizon=0)
    with pytest.raises(ValueError, match="CausalAgentConfig: mechanism must be 'linear' or 'mlp', got 'gp'"):
        CausalAgentConfig(mechanism="gp")
    assert causal_thrust_terminated(np.array([[5.1, 0, 0], [4.9, 0, 0]])).tolist() == [True, False]
