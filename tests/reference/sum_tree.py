"""A flat-array stand-in for the prioritized-replay sum-tree: priorities in a NumPy array, prefix sums by
cumsum and searches by searchsorted (O(N) per call). Written independently of nextrl."""

from __future__ import annotations

import numpy as np


class SumTreeReference:
    def __init__(self, capacity: int):
        self.priorities = np.zeros(capacity, dtype=np.float64)
        self.was_set = np.zeros(capacity, dtype=bool)

    def update(self, indices, priorities) -> None:
        for i, p in zip(np.asarray(indices), np.asarray(priorities, dtype=np.float64)):  # later duplicates win
            self.priorities[i] = p
            self.was_set[i] = True

    def total(self) -> float:
        return float(self.priorities.sum())

    def min(self) -> float:
        return float(self.priorities[self.was_set].min()) if self.was_set.any() else float("inf")

    def find(self, masses) -> np.ndarray:
        """Smallest index whose inclusive prefix sum exceeds the mass."""
        cumsum = np.cumsum(self.priorities)
        idx = np.searchsorted(cumsum, np.asarray(masses, dtype=np.float64), side="right")
        last_positive = int(np.flatnonzero(self.priorities > 0)[-1])
        return np.minimum(idx, last_positive)

    def sample(self, uniforms) -> np.ndarray:
        u = np.asarray(uniforms, dtype=np.float64)
        n = len(u)
        return self.find((np.arange(n) + u) * (self.total() / n))
