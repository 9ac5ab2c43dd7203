"""Equilibria of bimatrix games (normal_form.BimatrixGame): mixed Nash equilibria by support enumeration and
by the Lemke-Howson algorithm, the value of a zero-sum game by linear programming, and correlated equilibria
of maximum welfare by linear programming (scipy.optimize.linprog, HiGHS).

Support enumeration (Nisan et al. 2007, ch. 3) tries every pair of supports of equal size k, solves the
indifference conditions and keeps the solutions that are probability vectors with no better reply outside
the support: all equilibria of a nondegenerate game (as nashpy's default). Lemke-Howson (Lemke and Howson
1964; von Stengel 2002) follows complementary pivots from the artificial equilibrium after dropping one label
and finds one equilibrium per label.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog

from nextrl.games.normal_form import BimatrixGame, check_strategy


def _solve_indifference(m: np.ndarray) -> np.ndarray | None:
    """The probability vector p with m @ p constant and sum(p) = 1 (m [k, k]), or None when it is not unique."""
    k = m.shape[0]
    lhs = np.zeros((k + 1, k + 1))
    lhs[:k, :k] = m
    lhs[:k, k] = -1.0  # m p - v = 0
    lhs[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    try:
        sol = np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        return None
    if not np.allclose(lhs @ sol, rhs, rtol=0, atol=1e-9):
        return None
    return sol[:k]


def is_nash_equilibrium(game: BimatrixGame, x, y, *, atol: float = 1e-8) -> bool:
    """No player gains more than atol by a unilateral deviation from the mixed profile (x, y)."""
    x = check_strategy("is_nash_equilibrium", "x", x, game.shape[0])
    y = check_strategy("is_nash_equilibrium", "y", y, game.shape[1])
    u0, u1 = x @ game.row @ y, x @ game.col @ y
    return bool((game.row @ y).max() <= u0 + atol and (x @ game.col).max() <= u1 + atol)


def support_enumeration(game: BimatrixGame, *, atol: float = 1e-10) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every Nash equilibrium (x [m], y [n]) with supports of equal size, in the order of the supports (size,
    then lexicographic; one found again on another support pair is listed once): all equilibria of a
    nondegenerate game. Degenerate games may have equilibria with supports of different sizes, or continua,
    that this does not list."""
    a, b = game.row, game.col
    m, n = game.shape
    found = []
    for k in range(1, min(m, n) + 1):
        for rows in itertools.combinations(range(m), k):
            for cols in itertools.combinations(range(n), k):
                ri, ci = list(rows), list(cols)
                y_s = _solve_indifference(a[np.ix_(ri, ci)])  # y makes the row player indifferent on rows
                x_s = _solve_indifference(b[np.ix_(ri, ci)].T)  # x makes the column player indifferent on cols
                if y_s is None or x_s is None or (y_s < -atol).any() or (x_s < -atol).any():
                    continue
                x, y = np.zeros(m), np.zeros(n)
                x[ri], y[ci] = np.clip(x_s, 0, None), np.clip(y_s, 0, None)
                x, y = x / x.sum(), y / y.sum()
                seen = any(np.allclose(x, fx, atol=1e-9) and np.allclose(y, fy, atol=1e-9) for fx, fy in found)
                if not seen and is_nash_equilibrium(game, x, y, atol=1e-9):
                    found.append((x, y))
    return found


def _pivot(tableau: np.ndarray, basis: list[int], column: int) -> int:
    """Brings `column` into the basis by the minimum-ratio test; returns the label that leaves."""
    col = tableau[:, column]
    ratios = np.full(len(basis), np.inf)
    pos = col > 1e-12
    ratios[pos] = tableau[pos, -1] / col[pos]
    row = int(np.argmin(ratios))
    if not np.isfinite(ratios[row]):
        raise RuntimeError("lemke_howson: unbounded pivot (the game is degenerate)")
    tableau[row] /= tableau[row, column]
    for r in range(len(basis)):
        if r != row:
            tableau[r] -= tableau[r, column] * tableau[row]
    leaving, basis[row] = basis[row], column
    return leaving


def lemke_howson(game: BimatrixGame, initial_dropped_label: int = 0, *, max_pivots: int = 10_000):
    """One Nash equilibrium (x [m], y [n]) by complementary pivoting after dropping `initial_dropped_label`
    (0..m-1: a row action, m..m+n-1: a column action). Labels as von Stengel 2002: payoffs are shifted to be
    positive, P = {x >= 0: col^T x <= 1} and Q = {y >= 0: row y <= 1}; column c of either tableau is the
    variable of label c. Needs a nondegenerate game."""
    m, n = game.shape
    if not 0 <= initial_dropped_label < m + n:
        raise IndexError(f"lemke_howson: initial_dropped_label must be in [0, {m + n}), got {initial_dropped_label}")
    shift = 1.0 - min(game.row.min(), game.col.min())
    a, b = game.row + shift, game.col + shift
    # P: rows = column actions j; variables x_i (labels 0..m-1) then slacks s_j (labels m..m+n-1)
    p_tab = np.hstack([b.T, np.eye(n), np.ones((n, 1))])
    p_basis = list(range(m, m + n))
    # Q: rows = row actions i; variables slacks r_i (labels 0..m-1) then y_j (labels m..m+n-1)
    q_tab = np.hstack([np.eye(m), a, np.ones((m, 1))])
    q_basis = list(range(m))
    entering = initial_dropped_label
    in_p = entering < m
    for _ in range(max_pivots):
        leaving = _pivot(p_tab, p_basis, entering) if in_p else _pivot(q_tab, q_basis, entering)
        if leaving == initial_dropped_label:
            break
        entering, in_p = leaving, not in_p
    else:
        raise RuntimeError(f"lemke_howson: no equilibrium within {max_pivots} pivots")
    x, y = np.zeros(m), np.zeros(n)
    for r, v in enumerate(p_basis):
        if v < m:
            x[v] = p_tab[r, -1]
    for r, v in enumerate(q_basis):
        if v >= m:
            y[v - m] = q_tab[r, -1]
    return x / x.sum(), y / y.sum()


def zero_sum_value(game_or_matrix) -> tuple[float, np.ndarray, np.ndarray]:
    """(value, x, y) of the zero-sum game with row-player payoff matrix A [m, n] (a BimatrixGame's row; its col
    must be -row): x maximizes min_j (x^T A)_j and y minimizes max_i (A y)_i, each by one linear program."""
    if isinstance(game_or_matrix, BimatrixGame):
        if not game_or_matrix.is_zero_sum():
            raise ValueError("zero_sum_value: game must be zero-sum (col == -row)")
        a = game_or_matrix.row
    else:
        a = np.asarray(game_or_matrix, dtype=np.float64)
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"zero_sum_value: the payoff matrix must be a non-empty matrix, got shape {a.shape}")
    m, n = a.shape
    # row player: max v s.t. A^T x >= v, sum x = 1, x >= 0; variables [x, v]
    res_x = linprog(
        np.r_[np.zeros(m), -1.0],
        A_ub=np.hstack([-a.T, np.ones((n, 1))]),
        b_ub=np.zeros(n),
        A_eq=np.r_[np.ones(m), 0.0][None],
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
        method="highs",
    )
    # column player: min w s.t. A y <= w, sum y = 1, y >= 0; variables [y, w]
    res_y = linprog(
        np.r_[np.zeros(n), 1.0],
        A_ub=np.hstack([a, -np.ones((m, 1))]),
        b_ub=np.zeros(m),
        A_eq=np.r_[np.ones(n), 0.0][None],
        b_eq=[1.0],
        bounds=[(0, None)] * n + [(None, None)],
        method="highs",
    )
    if res_x.status != 0 or res_y.status != 0:
        raise RuntimeError(f"zero_sum_value: linprog failed: {res_x.message} / {res_y.message}")
    x, y = np.clip(res_x.x[:m], 0, None), np.clip(res_y.x[:n], 0, None)
    return float(-res_x.fun), x / x.sum(), y / y.sum()


def ce_constraints(game: BimatrixGame) -> np.ndarray:
    """The incentive constraints of a correlated equilibrium as rows G [m(m-1) + n(n-1), m * n]: a joint
    distribution p (flattened row-major) is a correlated equilibrium iff G p <= 0, i.e. for every recommended
    action and every deviation, the expected gain of deviating, over the profiles that recommend it, is <= 0."""
    a, b = game.row, game.col
    m, n = game.shape
    rows = []
    for i, i2 in itertools.permutations(range(m), 2):  # row player told i, deviates to i2
        g = np.zeros((m, n))
        g[i] = a[i2] - a[i]
        rows.append(g.ravel())
    for j, j2 in itertools.permutations(range(n), 2):  # column player told j, deviates to j2
        g = np.zeros((m, n))
        g[:, j] = b[:, j2] - b[:, j]
        rows.append(g.ravel())
    return np.array(rows).reshape(-1, m * n)


def ce_violation(game: BimatrixGame, joint) -> float:
    """The largest expected gain of a deviation from a recommendation under the joint distribution `joint`
    [m, n] (0 or less for a correlated equilibrium)."""
    p = np.asarray(joint, dtype=np.float64)
    if p.shape != game.shape or (p < -1e-9).any() or abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"ce_violation: joint must be a probability table of shape {game.shape}, got {p.shape}")
    g = ce_constraints(game)
    return float((g @ p.ravel()).max()) if len(g) else 0.0


def correlated_equilibrium(game: BimatrixGame, objective: str = "welfare") -> np.ndarray:
    """A correlated equilibrium [m, n] (joint distribution over profiles) maximizing the expected utilitarian
    welfare row + col ("welfare") or the row player's ("row") or column player's ("col") payoff, by linear
    programming over the incentive constraints (ce_constraints)."""
    weights = {"welfare": game.row + game.col, "row": game.row, "col": game.col}
    if objective not in weights:
        from nextrl.envs.core import unknown_name_error

        raise unknown_name_error("correlated_equilibrium", "objective", objective, weights)
    m, n = game.shape
    g = ce_constraints(game)
    res = linprog(
        -weights[objective].ravel(),
        A_ub=g if len(g) else None,
        b_ub=np.zeros(len(g)) if len(g) else None,
        A_eq=np.ones((1, m * n)),
        b_eq=[1.0],
        bounds=[(0, None)] * (m * n),
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"correlated_equilibrium: linprog failed: {res.message}")
    p = np.clip(res.x, 0, None)
    return (p / p.sum()).reshape(m, n)


__all__ = [
    "ce_constraints",
    "ce_violation",
    "correlated_equilibrium",
    "is_nash_equilibrium",
    "lemke_howson",
    "support_enumeration",
    "zero_sum_value",
]
