"""Learning dynamics in bimatrix games (normal_form.BimatrixGame).

- `fictitious_play` (Brown 1951): each round both players best-respond to the empirical frequency of the
  other's past actions. In two-player zero-sum games the empirical frequencies converge to the set of Nash
  equilibria and the payoffs to the value (Robinson 1951); `exploitability` measures the distance.
- `regret_matching` (Hart and Mas-Colell 2000): each player, having played j, switches to k with probability
  proportional to the positive part of its conditional regret for not having played k whenever it played j
  (an inertia constant mu keeps a probability of staying); the empirical distribution of joint play
  converges almost surely to the set of correlated equilibria (equilibria.ce_violation -> 0). With
  `conditional=False` it is unconditional regret matching: play proportional to positive external regrets,
  whose joint play converges to the coarse correlated equilibria and, in zero-sum games, whose average
  strategies converge to Nash equilibria.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextrl.envs.core import as_int
from nextrl.games.normal_form import BimatrixGame, check_strategy


@dataclass
class DynamicsResult:
    """What a learning dynamic returns."""

    row_strategy: np.ndarray
    """[m] float64: the row player's empirical (average) strategy over all rounds"""
    col_strategy: np.ndarray
    """[n] float64: the column player's"""
    joint: np.ndarray
    """[m, n] float64: the empirical distribution of joint play"""
    row_history: np.ndarray
    """[T, m] float64: the row player's average strategy after each round"""
    col_history: np.ndarray
    """[T, n] float64"""


def exploitability(game: BimatrixGame, x, y) -> float:
    """Sum over players of what a best response gains against the other's strategy: max_i (A y)_i - x^T A y +
    max_j (x^T B)_j - x^T B y (0 exactly at a Nash equilibrium; in zero-sum games max_i (A y)_i - min_j
    (x^T A)_j, the duality gap)."""
    x = check_strategy("exploitability", "x", x, game.shape[0])
    y = check_strategy("exploitability", "y", y, game.shape[1])
    u0, u1 = x @ game.row @ y, x @ game.col @ y
    return float((game.row @ y).max() - u0 + (x @ game.col).max() - u1)


def _check(fn: str, iterations) -> int:
    iterations = as_int(fn, "iterations", iterations)
    if iterations < 1:
        raise ValueError(f"{fn}: iterations must be >= 1, got {iterations}")
    return iterations


def fictitious_play(game: BimatrixGame, iterations: int, *, initial: tuple[int, int] = (0, 0)) -> DynamicsResult:
    """Simultaneous fictitious play from the pure profile `initial`, `iterations` rounds (the initial profile
    counts as the first); best-response ties go to the lowest action index. Deterministic."""
    iterations = _check("fictitious_play", iterations)
    m, n = game.shape
    counts_x, counts_y = np.zeros(m), np.zeros(n)
    joint = np.zeros((m, n))
    hx, hy = np.empty((iterations, m)), np.empty((iterations, n))
    i, j = initial
    if not (0 <= i < m and 0 <= j < n):
        raise IndexError(f"fictitious_play: initial must be a profile in [0, {m}) x [0, {n}), got {initial}")
    for t in range(iterations):
        counts_x[i] += 1
        counts_y[j] += 1
        joint[i, j] += 1
        hx[t], hy[t] = counts_x / (t + 1), counts_y / (t + 1)
        i, j = int(np.argmax(game.row @ counts_y)), int(np.argmax(counts_x @ game.col))
    return DynamicsResult(hx[-1].copy(), hy[-1].copy(), joint / iterations, hx, hy)


def regret_matching(
    game: BimatrixGame, iterations: int, *, seed: int, conditional: bool = True, mu: float | None = None
) -> DynamicsResult:
    """`iterations` rounds of Hart and Mas-Colell's regret matching (conditional, the default) or of
    unconditional regret matching, both players sampling their actions from `seed`'s generator. `mu` is the
    inertia of the conditional procedure (default 2 * (actions - 1) * payoff range + 1, above the bound the
    theorem needs)."""
    iterations = _check("regret_matching", iterations)
    rng = np.random.default_rng(seed)
    a, b = game.row, game.col.T  # each player's payoffs as [own actions, opponent actions]
    m, n = game.shape
    sizes = (m, n)
    if mu is None:
        span = max(np.ptp(a), np.ptp(b), 1e-12)
        mu = 2.0 * (max(m, n) - 1) * span + 1.0
    elif mu <= 0:
        raise ValueError(f"regret_matching: mu must be > 0, got {mu}")
    # conditional regrets D[p][j, k]: summed gains of having played k in the rounds where p played j;
    # unconditional: R[p][k] = summed gains of k over the actions played
    regrets = [np.zeros((m, m)), np.zeros((n, n))] if conditional else [np.zeros(m), np.zeros(n)]
    actions = [int(rng.integers(m)), int(rng.integers(n))]
    counts = [np.zeros(m), np.zeros(n)]
    joint = np.zeros((m, n))
    hx, hy = np.empty((iterations, m)), np.empty((iterations, n))
    for t in range(iterations):
        i, j = actions
        counts[0][i] += 1
        counts[1][j] += 1
        joint[i, j] += 1
        hx[t], hy[t] = counts[0] / (t + 1), counts[1] / (t + 1)
        payoffs = [a[:, j], b[:, i]]  # each player's payoff of every own action against the opponent's play
        new = []
        for p in (0, 1):
            own = actions[p]
            if conditional:
                regrets[p][own] += payoffs[p] - payoffs[p][own]
                probs = np.maximum(regrets[p][own], 0.0) / ((t + 1) * mu)
                probs[own] = 0.0
                probs[own] = 1.0 - probs.sum()
            else:
                regrets[p] += payoffs[p] - payoffs[p][own]
                pos = np.maximum(regrets[p], 0.0)
                probs = pos / pos.sum() if pos.sum() > 0 else np.full(sizes[p], 1.0 / sizes[p])
            new.append(int(rng.choice(sizes[p], p=probs)))
        actions = new
    return DynamicsResult(hx[-1].copy(), hy[-1].copy(), joint / iterations, hx, hy)


__all__ = ["DynamicsResult", "exploitability", "fictitious_play", "regret_matching"]
