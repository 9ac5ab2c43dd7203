"""Slow, obviously correct NumPy references for the aggregators (loops over coordinates and clients)."""

from __future__ import annotations

import numpy as np


def fedavg(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return sum(wi * xi for wi, xi in zip(w, x)) / sum(w)


def median(x: np.ndarray) -> np.ndarray:
    return np.array([np.median(x[:, j]) for j in range(x.shape[1])])


def trimmed_mean(x: np.ndarray, k: int) -> np.ndarray:
    n = x.shape[0]
    return np.array([np.mean(sorted(x[:, j])[k : n - k]) for j in range(x.shape[1])])


def krum_scores(x: np.ndarray, f: int) -> np.ndarray:
    n = x.shape[0]
    scores = []
    for i in range(n):
        d = sorted(float(np.sum((x[i] - x[j]) ** 2)) for j in range(n) if j != i)
        scores.append(sum(d[: n - f - 2]))
    return np.array(scores)
