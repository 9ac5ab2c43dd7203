"""Market coordination: assigning tasks to agents by auctions with one winner per task and real payments, with
the welfare measured against the optimal assignment (scipy.optimize.linear_sum_assignment).

values[i, t] is agent i's value for doing task t (e.g. minus its distance to a landmark). Each agent does at
most one task and each task goes to at most one agent (unit demand).

- `sequential_vickrey`: the tasks are sold one after the other (in `order`) by sealed-bid second-price
  (Vickrey 1961) auctions among the agents still without a task; each agent bids its value for the task
  (truthful bidding, the dominant strategy of a single second-price auction); the highest bid wins (ties: lowest
  agent index) and pays the second-highest bid (the reserve price when it is the only bidder). A task whose
  highest bid is below the reserve stays unsold. Greedy: its welfare can be below the optimum.
- `bertsekas_auction`: Bertsekas' (1988) auction algorithm: unassigned agents bid for their best task at its
  current price, raising it by their margin over the second-best task plus epsilon; the task goes to the last
  bidder and its price is what the winner pays. Ends with every agent assigned (when tasks >= agents) and the
  welfare within num_agents * epsilon of the optimum (exactly optimal for integer values with
  epsilon < 1 / num_agents).

Both return an Assignment: task of each agent (-1: none), payments, welfare = sum of the winners' values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Assignment:
    task_of: np.ndarray
    """[num_agents] int64: the task each agent won, -1 for none"""
    payments: np.ndarray
    """[num_agents] float64: what each agent pays (0 without a task)"""
    welfare: float
    """sum over assigned agents of values[agent, task]"""

    def utilities(self, values: np.ndarray) -> np.ndarray:
        """[num_agents]: value of the won task minus the payment (0 without a task)."""
        won = self.task_of >= 0
        u = np.zeros(len(self.task_of))
        u[won] = values[np.flatnonzero(won), self.task_of[won]] - self.payments[won]
        return u


def _check(fn: str, values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or min(values.shape) < 1:
        raise ValueError(f"{fn}: values must be a 2-D array [num_agents, num_tasks], got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{fn}: values must be finite")
    return values


def optimal_assignment(values) -> Assignment:
    """The welfare-maximizing assignment (scipy's linear_sum_assignment), no payments."""
    from scipy.optimize import linear_sum_assignment

    values = _check("optimal_assignment", values)
    rows, cols = linear_sum_assignment(values, maximize=True)
    task_of = np.full(values.shape[0], -1, dtype=np.int64)
    task_of[rows] = cols
    return Assignment(task_of, np.zeros(values.shape[0]), float(values[rows, cols].sum()))


def sequential_vickrey(values, order=None, reserve: float = -np.inf) -> Assignment:
    """Sequential sealed-bid second-price auctions (module docstring); `order` of the tasks (default 0, 1, ..)."""
    values = _check("sequential_vickrey", values)
    num_agents, num_tasks = values.shape
    order = np.arange(num_tasks) if order is None else np.asarray(order)
    if sorted(order.tolist()) != list(range(num_tasks)):
        raise ValueError(f"sequential_vickrey: order must be a permutation of the {num_tasks} tasks, got {order}")
    task_of = np.full(num_agents, -1, dtype=np.int64)
    payments = np.zeros(num_agents)
    for t in order:
        bidders = np.flatnonzero(task_of < 0)
        if bidders.size == 0:
            break
        bids = values[bidders, t]
        if bids.max() < reserve:
            continue
        ranked = np.argsort(-bids, kind="stable")  # highest first, ties to the lower index
        winner = bidders[ranked[0]]
        second = bids[ranked[1]] if bidders.size > 1 else -np.inf
        task_of[winner] = t
        payments[winner] = max(second, reserve) if np.isfinite(max(second, reserve)) else 0.0
    won = task_of >= 0
    return Assignment(task_of, payments, float(values[np.flatnonzero(won), task_of[won]].sum()))


def bertsekas_auction(values, epsilon: float | None = None, max_rounds: int = 1_000_000) -> Assignment:
    """Bertsekas' auction algorithm (module docstring); epsilon defaults to 1 / (num_agents + 1) (exact for
    integer values). Needs num_tasks >= num_agents."""
    values = _check("bertsekas_auction", values)
    num_agents, num_tasks = values.shape
    if num_tasks < num_agents:
        raise ValueError(f"bertsekas_auction: needs num_tasks >= num_agents, got {num_tasks} < {num_agents}")
    eps = 1.0 / (num_agents + 1) if epsilon is None else float(epsilon)
    if eps <= 0:
        raise ValueError(f"bertsekas_auction: epsilon must be > 0, got {eps}")
    prices = np.zeros(num_tasks)
    owner = np.full(num_tasks, -1, dtype=np.int64)
    task_of = np.full(num_agents, -1, dtype=np.int64)
    for _ in range(max_rounds):
        free = np.flatnonzero(task_of < 0)
        if free.size == 0:
            break
        i = free[0]
        net = values[i] - prices
        best = int(np.argmax(net))
        second = np.partition(net, -2)[-2] if num_tasks > 1 else net[best] - eps
        prices[best] += net[best] - second + eps
        if owner[best] >= 0:
            task_of[owner[best]] = -1
        owner[best], task_of[i] = i, best
    else:
        raise RuntimeError(f"bertsekas_auction: no assignment after {max_rounds} bids")
    payments = prices[task_of]
    return Assignment(task_of, payments, float(values[np.arange(num_agents), task_of].sum()))


__all__ = ["Assignment", "bertsekas_auction", "optimal_assignment", "sequential_vickrey"]
