"""Dyna-Q on Sutton & Barto's Dyna Maze (Figure 8.2): planning finds the 14-step optimum within a few episodes where
one-step Q-learning (n = 0) needs many more.

Measured on seeds 0-7 (greedy policy after each episode, in the exact model): with n = 50 every run has a greedy path
of <= 16 steps by episode 3 and 3 of 8 have the 14-step optimum by episode 4 (the others settle on the 16-step route
over the top: the first episode's random walk decides which corridor the model knows, and epsilon = 0.1 rarely
revisits the other); with n = 0 no run reaches the goal greedily before episode 18 and the optimum comes at episode
25-40 when it comes at all."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.agents.model_based import dyna_q as dq
from nextrl.envs import dp


def _first(result, at_most):
    return next((i + 1 for i, g in enumerate(result.greedy_lengths) if g is not None and g <= at_most), None)


def test_dyna_maze_shortest_path_is_14():
    env = dq.dyna_maze()
    table = env.transition_table()
    q = dp.value_iteration(table, 0.95).q
    assert dq.greedy_length(table, env._core.start_states(env.config)[0], q) == 14


def test_dyna_q_n50_against_n0_over_8_seeds():
    planned = [dq.train(dq.dyna_maze(), dq.DynaQConfig(num_episodes=5, planning_steps=50), seed=s) for s in range(8)]
    plain = [dq.train(dq.dyna_maze(), dq.DynaQConfig(num_episodes=15, planning_steps=0), seed=s) for s in range(8)]
    assert all(_first(r, 16) <= 3 for r in planned)  # near-optimal greedy path within 3 episodes, every run
    assert sum(_first(r, 14) is not None for r in planned) >= 3  # the optimum within 5 episodes in 3 of 8
    assert all(_first(r, 16) is None for r in plain)  # n = 0: no near-optimal greedy path in 15 episodes
    assert np.mean([r.episode_lengths[4] for r in planned]) < 0.2 * np.mean([r.episode_lengths[4] for r in plain])


def test_dyna_q_plus_and_table_model_run():
    """Dyna-Q+ (kappa = 1e-3, n = 50) found the optimum within 10 episodes on each of seeds 0-7 (at episodes 2-10)."""
    r = dq.train(dq.dyna_maze(), dq.DynaQConfig(num_episodes=10, planning_steps=50, kappa=1e-3), seed=2)
    assert _first(r, 14) is not None
    t = dq.train(dq.dyna_maze(), dq.DynaQConfig(num_episodes=4, planning_steps=20, model="table"), seed=0)
    assert t.greedy_lengths[-1] is not None and t.greedy_lengths[-1] <= 20


def test_dyna_q_errors():
    with pytest.raises(ValueError, match="planning_steps must be >= 0"):
        dq.train(dq.dyna_maze(), dq.DynaQConfig(planning_steps=-1), seed=0)
    with pytest.raises(ValueError, match="model must be 'learned' or 'table'"):
        dq.train(dq.dyna_maze(), dq.DynaQConfig(model="ensemble"), seed=0)
    with pytest.raises(ValueError, match="need 0 < alpha <= 1"):
        dq.train(dq.dyna_maze(), dq.DynaQConfig(alpha=0.0), seed=0)
    with pytest.raises(ValueError, match="num_envs = 1"):
        dq.train(dq.dyna_maze(2), dq.DynaQConfig(), seed=0)
    from nextrl.envs import PendulumVectorEnv

    with pytest.raises(TypeError, match="must be a tabular nextrl vector env"):
        dq.train(PendulumVectorEnv(1), dq.DynaQConfig(), seed=0)
