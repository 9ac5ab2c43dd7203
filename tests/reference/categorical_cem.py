"""Slow NumPy reference of categorical CEM (csrc/planning/categorical_cem.h), problem by problem and candidate by
candidate: uniforms from the NumPy Philox, inverse-CDF sampling with a running float64 sum, stable top-K elites,
the frequency refit with momentum, the best candidate."""

from __future__ import annotations

import math

import numpy as np

from . import planning as ref


def uniforms(seed: int, round: int, problem: int, iteration: int, count: int) -> np.ndarray:
    w = ref.philox(
        seed, (round << 32) | problem, (np.uint64(iteration) << np.uint64(32)) + np.arange(count, dtype=np.uint64)
    )
    return ref.unit(w[0], w[1])


def sample(p: np.ndarray, u: float) -> int:
    c = 0.0
    for k in range(len(p) - 1):
        c += p[k]
        if u < c:
            return k
    return len(p) - 1


def categorical_cem(evaluate, probs, *, population, num_elites, iterations, alpha, seed, round=0) -> dict:
    probs = np.array(probs, dtype=np.float64)
    B, H, n = probs.shape
    out = {k: [] for k in ("probs", "best", "best_return", "elites", "elite_rows", "returns")}
    for b in range(B):
        p = probs[b].copy()
        best, best_ret = p.argmax(-1).astype(np.float64)[:, None], -math.inf
        rows, rets = [], []
        for i in range(iterations):
            u = uniforms(seed, round, b, i, population * H).reshape(population, H)
            X = np.array([[[sample(p[h], u[r, h])] for h in range(H)] for r in range(population)], dtype=np.float64)
            R = np.asarray(evaluate(b, X), dtype=np.float64)
            order = np.argsort(-R, kind="stable")[:num_elites]
            elites = X[order]
            freq = np.zeros((H, n))
            for e in elites:
                for h in range(H):
                    freq[h, int(e[h, 0])] += 1.0
            p = alpha * p + (1 - alpha) * (freq / num_elites)
            if R[order[0]] > best_ret:
                best_ret, best = R[order[0]], X[order[0]].copy()
            rows.append(order)
            rets.append(R)
        for key, value in (
            ("probs", p),
            ("best", best),
            ("best_return", best_ret),
            ("elites", elites),
            ("elite_rows", rows),
            ("returns", rets),
        ):
            out[key].append(value)
    return {k: np.array(v) for k, v in out.items()}
