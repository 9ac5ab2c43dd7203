"""Slow pure-Python references of the grid envs' dynamics (csrc/envs/safe_grid.h, robust_grid.h, goal_grid.h),
written from their docstrings, one env and one step at a time."""

from __future__ import annotations

import math

MOVES = {0: (0, 1), 1: (0, -1), 2: (-1, 0), 3: (1, 0)}  # up, down, left, right


class SafeGrid:
    """Cells: set of hazards (x, y); deterministic moves; cost on the cell after the move."""

    def __init__(
        self, width, height, start, goal, hazards, hazard_cost, boundary_cost, goal_reward, step_penalty, max_steps
    ):
        self.__dict__.update(locals())

    def reset(self):
        self.pos, self.t = self.start, 0
        return self.pos, {"cost": 0.0, "hazard": 0.0}

    def step(self, a):
        x, y = self.pos
        dx, dy = MOVES[a]
        if 0 <= x + dx < self.width and 0 <= y + dy < self.height:
            x, y = x + dx, y + dy
        self.pos, self.t = (x, y), self.t + 1
        hazard = (x, y) in self.hazards
        border = x in (0, self.width - 1) or y in (0, self.height - 1)
        cost = self.hazard_cost * hazard + self.boundary_cost * border
        term = (x, y) == self.goal
        reward = self.goal_reward if term else -self.step_penalty
        trunc = self.t >= self.max_steps  # Gymnasium TimeLimit: terminated or not
        return (x, y), reward, term, trunc, {"cost": cost, "hazard": float(hazard)}


class RobustGrid:
    """One episode with given parameters and obstacles (set of (x, y)), noise-free: the action-failure and
    noise draws belong to the C++ stream, so the reference takes `failed` per step instead."""

    def __init__(
        self, size, obstacles, goal_reward=10.0, obstacle_penalty=5.0, step_penalty=0.1, distance_penalty=0.01
    ):
        self.__dict__.update(locals())
        self.pos = (0, 0)

    def obs(self):
        s, (x, y) = self.size, self.pos
        return [x / s, y / s, (s - 1 - x) / s, (s - 1 - y) / s, s / 10, len(self.obstacles) / 10]

    def step(self, a, failed=False):
        s, (x, y) = self.size, self.pos
        goal = s - 1
        if failed:
            return self.obs(), -self.step_penalty - self.distance_penalty * (2 * goal - x - y), False
        dx, dy = MOVES[a]
        nx, ny = x + dx, y + dy
        if not (0 <= nx < s and 0 <= ny < s):
            nx, ny = x, y
        if (nx, ny) in self.obstacles:
            return self.obs(), -self.obstacle_penalty, False
        self.pos = (nx, ny)
        if self.pos == (goal, goal):
            return self.obs(), self.goal_reward, True
        return self.obs(), -self.step_penalty - self.distance_penalty * (2 * goal - nx - ny), False


def goal_reward(achieved, desired, dense: bool) -> float:
    """GoalGridWorld's reward for one pair of (x, y) cells."""
    d = abs(achieved[0] - desired[0]) + abs(achieved[1] - desired[1])
    return -float(d) if dense else (0.0 if d == 0 else -1.0)


def goal_step(pos, a, width, height, walls):
    """GoalGridWorld's move: walls (set of (x, y)) and the border block."""
    dx, dy = MOVES[a]
    nx, ny = pos[0] + dx, pos[1] + dy
    if 0 <= nx < width and 0 <= ny < height and (nx, ny) not in walls:
        return nx, ny
    return pos


def min_cost_to_goal(p, nxt, terminal, cost, goal: int, start: int, horizon: int) -> float:
    """Minimum expected episode cost of reaching `goal` within `horizon` steps (inf if impossible), by
    finite-horizon dynamic programming on a tabular model [S, A, K], one state at a time."""
    S, A, K = len(p), len(p[0]), len(p[0][0])
    J = [math.inf] * S  # J_0: no steps left and not at the goal
    for _ in range(horizon):
        new = []
        for s in range(S):
            best = math.inf
            for a in range(A):
                total = 0.0
                for k in range(K):
                    if p[s][a][k] == 0.0:
                        continue
                    n = nxt[s][a][k]
                    rest = (0.0 if n == goal else math.inf) if terminal[s][a][k] else J[n]
                    total += p[s][a][k] * (cost[s][a][k] + rest)
                best = min(best, total)
            new.append(best)
        J = new
    return J[start]
