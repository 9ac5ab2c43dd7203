"""Game theory for two-player normal-form games: `normal_form` (BimatrixGame from the matrix-game envs'
payoff tables, best responses, pure equilibria, Pareto optima, social welfare), `equilibria` (mixed Nash
equilibria by support enumeration and Lemke-Howson, zero-sum values and correlated equilibria by linear
programming with HiGHS) and `dynamics` (fictitious play, regret matching)."""

from __future__ import annotations

from nextrl.games.dynamics import DynamicsResult, exploitability, fictitious_play, regret_matching
from nextrl.games.equilibria import (
    ce_constraints,
    ce_violation,
    correlated_equilibrium,
    is_nash_equilibrium,
    lemke_howson,
    support_enumeration,
    zero_sum_value,
)
from nextrl.games.normal_form import (
    BimatrixGame,
    best_response,
    best_responses,
    pareto_optimal_profiles,
    pure_nash_equilibria,
    social_optima,
    social_welfare,
)

__all__ = [
    "BimatrixGame",
    "DynamicsResult",
    "best_response",
    "best_responses",
    "ce_constraints",
    "ce_violation",
    "correlated_equilibrium",
    "exploitability",
    "fictitious_play",
    "is_nash_equilibrium",
    "lemke_howson",
    "pareto_optimal_profiles",
    "pure_nash_equilibria",
    "regret_matching",
    "social_optima",
    "social_welfare",
    "support_enumeration",
    "zero_sum_value",
]
