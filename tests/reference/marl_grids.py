"""Slow, obviously correct pure-Python versions of the multi-agent gridworlds (csrc/marl/predator_prey.h,
csrc/marl/target_collection.h) and of the Philox stream they draw from (csrc/common/rng.h), so that a
reference env seeded like C++ env i (Rng(seed + i, 0)) draws the same starts and the same scripted moves."""

from __future__ import annotations

import numpy as np

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
MOVES = [(0, 0), (0, 1), (0, -1), (-1, 0), (1, 0)]  # stay, up, down, left, right


def philox(seed: int, stream: int, counter: int) -> list[int]:
    """Philox4x32-10 (Salmon et al. 2011) keyed by seed, counter (c0, c1) and stream (c2, c3)."""
    c = [counter & M32, counter >> 32 & M32, stream & M32, stream >> 32 & M32]
    k0, k1 = seed & M32, seed >> 32 & M32
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & M32, (p0 >> 32) ^ c[3] ^ k1, p0 & M32]
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c


class Rng:
    def __init__(self, seed: int, stream: int = 0):
        self.seed, self.stream, self.counter, self.block = seed, stream, 0, []

    def u32(self) -> int:
        if not self.block:
            self.block = philox(self.seed, self.stream, self.counter)
            self.counter += 1
        return self.block.pop(0)

    def u64(self) -> int:
        hi = self.u32()
        return hi << 32 | self.u32()

    def below(self, n: int) -> int:
        """Lemire's multiply-shift with rejection, as Rng::Below."""
        m = self.u64() * n
        if m & M64 < n:
            threshold = (2**64 - n) % n
            while m & M64 < threshold:
                m = self.u64() * n
        return m >> 64


def _f(v) -> np.float32:
    return np.float32(v)


def _place(rng: Rng, g: int, count: int) -> list[tuple[int, int]]:
    cells: list[tuple[int, int]] = []
    for _ in range(count):
        while True:
            c = rng.below(g * g)
            xy = (c % g, c // g)
            if xy not in cells:
                break
        cells.append(xy)
    return cells


def _move(p, a, g):
    dx, dy = MOVES[a]
    return (min(max(p[0] + dx, 0), g - 1), min(max(p[1] + dy, 0), g - 1))


class PredatorPreyRef:
    def __init__(
        self,
        num_predators=2,
        num_prey=1,
        grid_size=10,
        max_steps=100,
        prey_policy="random",
        capture_radius=0,
        capture_min_predators=1,
        capture_reward=10.0,
        shaping=0.0,
    ):
        self.P, self.M, self.G, self.max_steps = num_predators, num_prey, grid_size, max_steps
        self.learning = prey_policy == "learning"
        self.radius, self.min_pred = capture_radius, capture_min_predators
        self.capture_reward, self.shaping = np.float32(capture_reward), np.float32(shaping)
        self.A = self.P + (self.M if self.learning else 0)

    def reset(self, rng: Rng):
        self.rng = rng
        self.pos = _place(rng, self.G, self.P + self.M)
        self.alive = [True] * (self.P + self.M)
        self.t = 0
        self.obs = [self._obs(k) for k in range(self.A)]
        return np.array(self.obs, np.float32)

    def _near(self, e):
        others = range(self.P, self.P + self.M) if e < self.P else range(self.P)
        d = [
            abs(self.pos[f][0] - self.pos[e][0]) + abs(self.pos[f][1] - self.pos[e][1]) for f in others if self.alive[f]
        ]
        return min(d) if d else 0

    def _obs(self, k):
        inv = _f(1.0) / _f(self.G)
        x, y = self.pos[k]
        o = [_f(x) * inv, _f(y) * inv]
        for e in range(self.P + self.M):
            if e == k:
                continue
            if self.alive[e]:
                o += [_f(self.pos[e][0] - x) * inv, _f(self.pos[e][1] - y) * inv, 1.0]
            else:
                o += [0.0, 0.0, 0.0]
        return o

    def step(self, actions):
        """actions: one per agent (ignored for finished agents) -> (obs, rewards, terminated, truncated)."""
        E = self.P + self.M
        move = [0] * E
        for q in range(self.P, E):
            if self.alive[q]:
                move[q] = actions[q] if self.learning else self.rng.below(5)
        for p in range(self.P):
            move[p] = actions[p]
        before = [self._near(e) for e in range(E)]
        for e in range(E):
            if self.alive[e]:
                self.pos[e] = _move(self.pos[e], move[e], self.G)
        rewards = [0.0] * self.A
        active = [self.alive[k] for k in range(self.A)]
        for e in range(self.A):
            if self.alive[e] and self.shaping != 0:
                diff = before[e] - self._near(e)
                rewards[e] += float(self.shaping) * diff * (1 if e < self.P else -1)
        term = [False] * self.A
        captures = 0
        for q in range(self.P, E):
            if not self.alive[q]:
                continue
            near = sum(
                abs(self.pos[p][0] - self.pos[q][0]) + abs(self.pos[p][1] - self.pos[q][1]) <= self.radius
                for p in range(self.P)
            )
            if near >= self.min_pred:
                self.alive[q] = False
                captures += 1
                if self.learning:
                    rewards[q] -= float(self.capture_reward)
                    term[q] = True
        for p in range(self.P):
            rewards[p] += captures * float(self.capture_reward)
        if not any(self.alive[self.P :]):
            term = [True] * self.A
        self.t += 1
        trunc = [self.t >= self.max_steps for k in range(self.A)]  # Gymnasium TimeLimit: terminated or not
        for k in range(self.A):
            if self.alive[k]:
                self.obs[k] = self._obs(k)
            if not active[k]:
                rewards[k], term[k], trunc[k] = 0.0, False, False
        self.captures = captures
        return np.array(self.obs, np.float32), np.array(rewards, np.float32), term, trunc, active


class TargetCollectionRef:
    def __init__(
        self,
        grid_size=8,
        num_agents=4,
        num_targets=3,
        max_steps=100,
        target_reward=10.0,
        team_bonus=2.0,
        step_penalty=0.1,
        collision_penalty=0.5,
    ):
        self.G, self.N, self.T, self.max_steps = grid_size, num_agents, num_targets, max_steps
        self.target_reward, self.team_bonus = target_reward, team_bonus
        self.step_penalty, self.collision_penalty = step_penalty, collision_penalty

    def reset(self, rng: Rng):
        self.rng = rng
        cells = _place(rng, self.G, self.N + self.T)
        self.pos, self.targets = cells[: self.N], cells[self.N :]
        self.present = [True] * self.T
        self.collected, self.t = 0, 0
        return self.observe()

    def observe(self):
        inv = _f(1.0) / _f(self.G)
        out = []
        for k, (x, y) in enumerate(self.pos):
            o = [_f(x) * inv, _f(y) * inv]
            for m, (mx, my) in enumerate(self.pos):
                if m != k:
                    o += [_f(mx - x) * inv, _f(my - y) * inv]
            for t, (tx, ty) in enumerate(self.targets):
                o += [_f(tx - x) * inv, _f(ty - y) * inv, 1.0] if self.present[t] else [0.0, 0.0, 0.0]
            out.append(o)
        return np.array(out, np.float32)

    @staticmethod
    def resolve(pos, wanted):
        """The collision rule, written as its definition: repeat until nothing changes."""
        dest, cancelled = list(wanted), [False] * len(pos)
        while True:
            bad = set()
            for i in range(len(pos)):
                if dest[i] == pos[i]:
                    continue
                for j in range(len(pos)):
                    if j != i and (dest[j] == dest[i] or (dest[j] == pos[i] and pos[j] == dest[i])):
                        bad.add(i)
            if not bad:
                return dest, cancelled
            for i in bad:
                dest[i], cancelled[i] = pos[i], True

    def step(self, actions):
        wanted = [_move(p, a, self.G) for p, a in zip(self.pos, actions)]
        self.pos, cancelled = self.resolve(self.pos, wanted)
        rewards = np.zeros(self.N, np.float32)
        newly = 0
        for k in range(self.N):
            rewards[k] = -np.float32(self.step_penalty)
            if cancelled[k]:
                rewards[k] -= np.float32(self.collision_penalty)
            for t in range(self.T):
                if self.present[t] and self.targets[t] == self.pos[k]:
                    self.present[t] = False
                    rewards[k] += np.float32(self.target_reward)
                    newly += 1
        self.collected += newly
        rewards += np.float32(self.team_bonus) * np.float32(newly) / np.float32(self.N)
        self.t += 1
        done = self.collected == self.T
        self.collisions = sum(cancelled)
        trunc = self.t >= self.max_steps  # Gymnasium TimeLimit: terminated or not
        return self.observe(), rewards, [done] * self.N, [trunc] * self.N
