"""A slow, obviously correct GridWorld in pure Python: the reference for csrc/envs/gridworld.h.
Cells: "." free, "#" wall, "X" pit; coordinates x right, y up; actions up, down, left, right."""

from __future__ import annotations

MOVES = {0: (0, 1), 1: (0, -1), 2: (-1, 0), 3: (1, 0)}


class GridWorldRef:
    def __init__(
        self,
        width,
        height,
        walls=(),
        pits=(),
        goal=None,
        goal_reward=1.0,
        step_penalty=0.1,
        pit_reward=-1.0,
        max_steps=100,
    ):
        self.width, self.height = width, height
        self.walls, self.pits = set(walls), set(pits)
        self.goal = goal if goal is not None else (width - 1, height - 1)
        self.goal_reward, self.step_penalty, self.pit_reward = goal_reward, step_penalty, pit_reward
        self.max_steps = max_steps

    def blocked(self, x, y):
        return not (0 <= x < self.width and 0 <= y < self.height) or (x, y) in self.walls

    def reset(self, start):
        self.pos, self.t = tuple(start), 0
        return self.pos

    def step(self, action):
        dx, dy = MOVES[action]
        x, y = self.pos[0] + dx, self.pos[1] + dy
        if not self.blocked(x, y):
            self.pos = (x, y)
        self.t += 1
        if self.pos == self.goal:
            reward, terminated = self.goal_reward, True
        elif self.pos in self.pits:
            reward, terminated = self.pit_reward, True
        else:
            reward, terminated = -self.step_penalty, False
        truncated = self.t >= self.max_steps  # Gymnasium TimeLimit: terminated or not
        return self.pos, reward, terminated, truncated

    def onehot(self):
        v = [0.0] * (self.width * self.height)
        v[self.pos[1] * self.width + self.pos[0]] = 1.0
        return v

    def image(self, r):
        """[3][2r+1][2r+1]: wall (border included), goal, pit; row 0 is the top (largest y)."""
        side = 2 * r + 1
        planes = [[[0.0] * side for _ in range(side)] for _ in range(3)]
        for row in range(side):
            for col in range(side):
                gx, gy = self.pos[0] + col - r, self.pos[1] + r - row
                planes[0][row][col] = 1.0 if self.blocked(gx, gy) else 0.0
                planes[1][row][col] = 1.0 if (gx, gy) == self.goal else 0.0
                planes[2][row][col] = 1.0 if (gx, gy) in self.pits else 0.0
        return planes
