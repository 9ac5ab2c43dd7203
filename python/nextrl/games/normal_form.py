"""Two-player normal-form (bimatrix) games: payoffs, best responses, pure equilibria, Pareto optima and
social welfare. A game is two payoff matrices of the same shape [m, n]: `row[i, j]` and `col[i, j]` are the
payoffs of the row player (player 0, action i) and of the column player (player 1, action j). A mixed
strategy is a probability vector; a pure profile is a pair (i, j).

The matrix-game envs' tables (nextrl.marl.matrix_games, [n, n, 2] with table[a0, a1, p]) convert with
`BimatrixGame.from_table`, a named one with `BimatrixGame.named`, and the QMIX two-step game's second stages
with `BimatrixGame.two_step_stage`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextrl.envs.core import unknown_name_error
from nextrl.marl.matrix_games import TWO_STEP_PAYOFFS, payoff_table


@dataclass(frozen=True)
class BimatrixGame:
    """Payoff matrices of the row and column players, float64 [m, n] each (copied and checked)."""

    row: np.ndarray
    col: np.ndarray

    def __post_init__(self):
        row, col = np.array(self.row, dtype=np.float64), np.array(self.col, dtype=np.float64)
        if row.ndim != 2 or row.shape != col.shape or row.size == 0:
            raise ValueError(
                f"BimatrixGame: row and col must be non-empty matrices of one shape, got {row.shape} and {col.shape}"
            )
        if not (np.isfinite(row).all() and np.isfinite(col).all()):
            raise ValueError("BimatrixGame: payoffs must be finite")
        row.flags.writeable = col.flags.writeable = False
        object.__setattr__(self, "row", row)
        object.__setattr__(self, "col", col)

    @property
    def shape(self) -> tuple[int, int]:
        """(actions of the row player, actions of the column player)."""
        return self.row.shape

    @classmethod
    def from_table(cls, table) -> BimatrixGame:
        """From a payoff table [m, n, 2] with table[i, j, p] the payoff of player p (the matrix-game envs')."""
        t = np.asarray(table, dtype=np.float64)
        if t.ndim != 3 or t.shape[2] != 2:
            raise ValueError(f"BimatrixGame.from_table: table must have shape (m, n, 2), got {t.shape}")
        return cls(t[..., 0], t[..., 1])

    @classmethod
    def named(cls, game: str, *, penalty: float = -10.0) -> BimatrixGame:
        """A named matrix game of nextrl.marl.matrix_games (GAMES; ValueError naming the valid ones)."""
        return cls.from_table(payoff_table(game, penalty=penalty))

    @classmethod
    def two_step_stage(cls, stage: str) -> BimatrixGame:
        """A second stage of the QMIX two-step game, "2A" or "2B" (common payoff)."""
        if stage not in TWO_STEP_PAYOFFS:
            raise unknown_name_error("BimatrixGame.two_step_stage", "stage", stage, TWO_STEP_PAYOFFS)
        m = TWO_STEP_PAYOFFS[stage]
        return cls(m, m)

    def is_zero_sum(self, atol: float = 1e-12) -> bool:
        """row + col == 0 everywhere."""
        return bool(np.allclose(self.row + self.col, 0.0, rtol=0.0, atol=atol))

    def expected_payoffs(self, x, y) -> tuple[float, float]:
        """(x^T row y, x^T col y) for mixed strategies x [m] and y [n]."""
        x, y = (
            check_strategy("expected_payoffs", "x", x, self.shape[0]),
            check_strategy("expected_payoffs", "y", y, self.shape[1]),
        )
        return float(x @ self.row @ y), float(x @ self.col @ y)


def check_strategy(fn: str, name: str, s, n: int, atol: float = 1e-9) -> np.ndarray:
    """`s` as a float64 probability vector of length n (ValueError otherwise)."""
    s = np.asarray(s, dtype=np.float64)
    if s.shape != (n,) or (s < -atol).any() or abs(s.sum() - 1.0) > 1e-6:
        raise ValueError(f"{fn}: {name} must be a probability vector of length {n}, got {np.array2string(s)}")
    return s


def best_responses(payoffs: np.ndarray, opponent_strategy, *, atol: float = 1e-9) -> np.ndarray:
    """The pure best responses (action indices, ascending) of a player with payoff matrix `payoffs` [own
    actions, opponent actions] to the opponent's mixed strategy: argmax of payoffs @ opponent_strategy, ties
    within atol included. For the column player pass game.col.T."""
    payoffs = np.asarray(payoffs, dtype=np.float64)
    y = check_strategy("best_responses", "opponent_strategy", opponent_strategy, payoffs.shape[1])
    values = payoffs @ y
    return np.flatnonzero(values >= values.max() - atol)


def best_response(payoffs: np.ndarray, opponent_strategy) -> np.ndarray:
    """One best response as a one-hot mixed strategy [own actions] (the lowest-index best action)."""
    out = np.zeros(np.shape(payoffs)[0])
    out[best_responses(payoffs, opponent_strategy)[0]] = 1.0
    return out


def pure_nash_equilibria(game: BimatrixGame, *, atol: float = 1e-12) -> list[tuple[int, int]]:
    """Profiles (i, j) where neither player gains by deviating alone: row[i, j] = max_i' row[i', j] and
    col[i, j] = max_j' col[i, j']; row-major order."""
    ok = (game.row >= game.row.max(axis=0, keepdims=True) - atol) & (
        game.col >= game.col.max(axis=1, keepdims=True) - atol
    )
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(ok))]


def pareto_optimal_profiles(game: BimatrixGame) -> list[tuple[int, int]]:
    """Pure profiles that no other profile Pareto-dominates (at least as good for both players, better for
    one); row-major order."""
    pay = np.stack([game.row.ravel(), game.col.ravel()], axis=1)  # [m * n, 2]
    weakly = (pay[None, :, :] >= pay[:, None, :]).all(axis=2)  # [p, q]: q at least as good as p for both
    strictly = (pay[None, :, :] > pay[:, None, :]).any(axis=2)
    dominated = (weakly & strictly).any(axis=1)
    n = game.shape[1]
    return [(int(k // n), int(k % n)) for k in np.flatnonzero(~dominated)]


def social_welfare(game: BimatrixGame, x, y, kind: str = "utilitarian") -> float:
    """Welfare of the mixed profile (x, y) from the expected payoffs (u0, u1): "utilitarian" u0 + u1,
    "egalitarian" min(u0, u1) or "nash" u0 * u1 (Nash welfare, meaningful for non-negative payoffs)."""
    u0, u1 = game.expected_payoffs(x, y)
    if kind == "utilitarian":
        return u0 + u1
    if kind == "egalitarian":
        return min(u0, u1)
    if kind == "nash":
        return u0 * u1
    raise unknown_name_error("social_welfare", "kind", kind, ("utilitarian", "egalitarian", "nash"))


def social_optima(game: BimatrixGame) -> list[tuple[int, int]]:
    """Pure profiles of maximum utilitarian welfare row + col."""
    w = game.row + game.col
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(w >= w.max() - 1e-12))]


__all__ = [
    "BimatrixGame",
    "best_response",
    "best_responses",
    "check_strategy",
    "pareto_optimal_profiles",
    "pure_nash_equilibria",
    "social_optima",
    "social_welfare",
]
