"""Exact dynamic programming on the tabular model of a grid env (its `transition_table()`): the optimal
values, Q-values and a greedy policy, used for expert datasets and to check what a task allows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Solution:
    values: np.ndarray
    """[S] optimal state values (0 for states that are only ever left through a termination)"""
    q: np.ndarray
    """[S, A] optimal action values"""
    policy: np.ndarray
    """[S] int64 greedy action (lowest index among ties)"""
    iterations: int


def value_iteration(
    table,
    gamma: float = 1.0,
    *,
    reward_weights: tuple[float, ...] | None = None,
    tol: float = 1e-10,
    max_iterations: int = 100_000,
) -> Solution:
    """Value iteration on (p, next, reward, terminal), each [S, A, K]. With gamma = 1 the task must be
    proper (every policy of interest reaches a termination); values then are expected undiscounted returns.
    Terminal transitions do not bootstrap. Returns when the largest update is below `tol`."""
    p, nxt, reward, terminal = (np.asarray(t) for t in table)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"value_iteration: gamma must be in [0, 1], got {gamma}")
    cont = p * (~terminal)
    v = np.zeros(p.shape[0])
    for it in range(1, max_iterations + 1):
        q = (p * reward).sum(-1) + gamma * (cont * v[nxt]).sum(-1)
        v_new = q.max(1)
        delta = np.max(np.abs(v_new - v)) if v.size else 0.0
        v = v_new
        if delta < tol:
            return Solution(values=v, q=q, policy=q.argmax(1).astype(np.int64), iterations=it)
    raise RuntimeError(
        f"value_iteration: no convergence within {max_iterations} iterations (last change {delta:.3g}); "
        "with gamma = 1 some policy may never terminate"
    )


__all__ = ["Solution", "value_iteration"]
