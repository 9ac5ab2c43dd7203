"""Slow NumPy float64 reference of the learned rollout model (csrc/planning/learned_model.h): the ensemble's forward
from its raw weights, the soft log-variance bounds, PETS particles (TS-1 members from the NumPy Philox, TS-inf
blocks), Gaussian sampling with the planners' normals, the named rewards, discounting and termination. Written from
the header's statement, one particle and one candidate at a time."""

from __future__ import annotations

import math

import numpy as np

from . import planning as ref

MEMBER_KEY = 0x9E3779B97F4A7C15


def act(x: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "silu":
        return x / (1.0 + np.exp(-x))
    return np.tanh(x)


def softplus(x):
    return np.log1p(np.exp(-abs(x))) + np.maximum(x, 0.0)


def forward(p: dict, member: int, s: np.ndarray, a: np.ndarray):
    """(mean [O], bounded logvar [O] or None) of member `member` at one (s, a); p: the ensemble as float64 arrays."""
    x = (np.concatenate([s, a]) - p["in_mean"]) / p["in_std"]
    n = len(p["weights"])
    for i, (w, b) in enumerate(zip(p["weights"], p["biases"])):
        x = w[member] @ x + b[member]
        if i < n - 1:
            x = act(x, p["activation"])
    n_out = p["outputs"]
    if not p["gaussian"]:
        return x, None
    lv = p["max_logvar"] - softplus(p["max_logvar"] - x[n_out:])
    lv = p["min_logvar"] + softplus(lv - p["min_logvar"])
    return x[:n_out], lv


def member(p: dict, seed: int, stream: int, t: int, k: int, propagation: str) -> int:
    E, P = p["members"], p["particles"]
    if propagation == "tsinf":
        return k * E // P
    w = ref.philox(seed ^ MEMBER_KEY, stream, np.array([(t << 32) | k], dtype=np.uint64))
    return min(int(ref.unit(w[0], w[1])[0] * E), E - 1)


def reward(name: str, s, a, s2, q=None, r=None, max_norm=math.inf):
    if name == "pendulum":
        th = math.atan2(s[1], s[0])
        u = min(2.0, max(-2.0, a[0]))
        return -(th * th + 0.1 * s[2] ** 2 + 0.001 * u * u), False
    if name == "cartpole":
        return 1.0, abs(s2[0]) > 2.4 or abs(s2[2]) > 12.0 * 2.0 * math.pi / 360.0
    return -(np.dot(q, s2**2) + np.dot(r, a**2)), bool(np.linalg.norm(s2) > max_norm)


def returns(p: dict, start, actions, *, seed, round, problem, gamma, propagation, reward_name, **kw) -> np.ndarray:
    """Mean particle returns [N] of actions [N, H, A] from `start` [S] (problem `problem`)."""
    N, H, _ = actions.shape
    S, n_out, P = p["state_dim"], p["outputs"], p["particles"]
    stream = (round << 32) | problem
    out = np.zeros(N)
    for c in range(N):
        total = 0.0
        for k in range(P):
            s = np.asarray(start, dtype=np.float64).copy()
            ret, done, disc = 0.0, False, 1.0
            for t in range(H):
                a = actions[c, t]
                e = member(p, seed, stream, t, k, propagation)
                mean, lv = forward(p, e, s, a)
                y = mean
                if p["gaussian"]:
                    y = mean + np.exp(0.5 * lv) * ref.normals(seed, stream, t << 32, k * n_out, n_out)
                s2 = s + y[:S]
                if reward_name == "head":
                    rew, term = y[S], False
                else:
                    rew, term = reward(reward_name, s, a, s2, **kw)
                if not done:
                    ret += disc * rew
                    done = term
                s, disc = s2, disc * gamma
            total += ret
        out[c] = total / P
    return out
