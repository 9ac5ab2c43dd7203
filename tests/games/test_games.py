"""nextrl.games against nashpy (equilibria), closed forms and the linear programs' constraints."""

from __future__ import annotations

import warnings

import nashpy
import numpy as np
import pytest

from nextrl.games import (
    BimatrixGame,
    best_response,
    best_responses,
    ce_constraints,
    ce_violation,
    correlated_equilibrium,
    exploitability,
    fictitious_play,
    is_nash_equilibrium,
    lemke_howson,
    pareto_optimal_profiles,
    pure_nash_equilibria,
    regret_matching,
    social_optima,
    social_welfare,
    support_enumeration,
    zero_sum_value,
)
from nextrl.marl import GAMES


def key(equilibria):
    return sorted((tuple(np.round(x, 6) + 0.0), tuple(np.round(y, 6) + 0.0)) for x, y in equilibria)


def nashpy_equilibria(game: BimatrixGame, method: str):
    with warnings.catch_warnings():  # nashpy warns on an even number of equilibria
        warnings.simplefilter("ignore")
        return list(getattr(nashpy.Game(game.row, game.col), method)())


def document_games() -> dict[str, BimatrixGame]:
    games = {name: BimatrixGame.named(name) for name in GAMES}
    games["penalty_k0"] = BimatrixGame.named("penalty", penalty=0.0)
    seed_pd = np.array([[-1, -3], [0, -2]])  # CA12's prisoner's dilemma and coordination game
    games["ca12_prisoners_dilemma"] = BimatrixGame(seed_pd, seed_pd.T)
    games["ca12_coordination"] = BimatrixGame([[2, 0], [0, 1]], [[2, 0], [0, 1]])
    games["two_step_2B"] = BimatrixGame.two_step_stage("2B")
    return games


@pytest.mark.parametrize("seed", [0, 1])
def test_support_enumeration_equals_nashpy_on_random_games(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        m, n = rng.integers(2, 6, size=2)
        game = BimatrixGame(rng.normal(size=(m, n)), rng.normal(size=(m, n)))
        ours = support_enumeration(game)
        assert len(ours) % 2 == 1  # a nondegenerate game has an odd number of equilibria
        assert key(ours) == key(nashpy_equilibria(game, "vertex_enumeration"))
        # nashpy's support enumeration compares floats exactly and may miss some; what it finds we find
        assert set(key(nashpy_equilibria(game, "support_enumeration"))) <= set(key(ours))
        for label in range(m + n):
            x, y = lemke_howson(game, label)
            if m <= n:
                ref_x, ref_y = nashpy.Game(game.row, game.col).lemke_howson(initial_dropped_label=label)
            else:  # nashpy 0.0.43 returns a non-equilibrium when the row player has more actions: swap players
                swapped = nashpy.Game(game.col.T, game.row.T)
                ref_y, ref_x = swapped.lemke_howson(initial_dropped_label=n + label if label < m else label - m)
            np.testing.assert_allclose(x, ref_x, rtol=0, atol=1e-9)
            np.testing.assert_allclose(y, ref_y, rtol=0, atol=1e-9)
            assert is_nash_equilibrium(game, x, y)


@pytest.mark.parametrize("name", sorted(document_games()))
def test_nash_equilibria_of_the_documents_games(name):
    game = document_games()[name]
    ours = support_enumeration(game)
    assert key(ours) == key(nashpy_equilibria(game, "vertex_enumeration"))
    pure = [(int(np.argmax(x)), int(np.argmax(y))) for x, y in ours if x.max() == 1 and y.max() == 1]
    assert sorted(pure) == pure_nash_equilibria(game)
    for label in range(sum(game.shape)):  # Lemke-Howson ends at an equilibrium from every label
        assert is_nash_equilibrium(game, *lemke_howson(game, label))


def test_known_equilibria_and_welfare():
    pd = BimatrixGame.named("prisoners_dilemma")
    assert pure_nash_equilibria(pd) == [(1, 1)]  # defect, defect
    assert (1, 1) not in pareto_optimal_profiles(pd)
    assert pareto_optimal_profiles(pd) == [(0, 0), (0, 1), (1, 0)]
    assert social_optima(pd) == [(0, 0)]
    ((x, y),) = support_enumeration(BimatrixGame.named("matching_pennies"))
    np.testing.assert_allclose([x, y], [[0.5, 0.5], [0.5, 0.5]], rtol=0, atol=1e-12)
    stag = BimatrixGame.named("stag_hunt")  # mixed equilibrium: stag with probability 2/3
    mixed = [e for e in support_enumeration(stag) if 0 < e[0][0] < 1]
    np.testing.assert_allclose(mixed[0][0], [2 / 3, 1 / 3], rtol=0, atol=1e-12)
    climbing = BimatrixGame.named("climbing")
    assert pure_nash_equilibria(climbing) == [(0, 0), (1, 1)] and social_optima(climbing) == [(0, 0)]
    assert social_welfare(pd, [1, 0], [1, 0]) == 6.0
    assert social_welfare(pd, [1, 0], [0, 1], "egalitarian") == 0.0
    assert social_welfare(pd, [0.5, 0.5], [1, 0], "nash") == 4.0 * 1.5  # u0 = (3 + 5) / 2, u1 = (3 + 0) / 2
    np.testing.assert_array_equal(best_response(pd.row, [0.3, 0.7]), [0.0, 1.0])
    np.testing.assert_array_equal(best_responses(BimatrixGame.named("coordination").row, [0.5, 0.5]), [0, 1])


@pytest.mark.parametrize("seed", [0, 1])
def test_zero_sum_value_by_linear_programming(seed):
    assert zero_sum_value(BimatrixGame.named("matching_pennies"))[0] == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        a = rng.normal(size=rng.integers(2, 6, size=2))
        value, x, y = zero_sum_value(a)
        # minimax: x guarantees at least the value, y concedes at most the value
        assert (x @ a).min() >= value - 1e-7 and (a @ y).max() <= value + 1e-7
        # and every Nash equilibrium of the zero-sum game pays the value
        for ex, ey in support_enumeration(BimatrixGame(a, -a)):
            np.testing.assert_allclose(ex @ a @ ey, value, rtol=0, atol=1e-7)


def test_correlated_equilibrium_of_chicken_is_the_known_one():
    chicken = BimatrixGame([[0, 7], [2, 6]], [[0, 2], [7, 6]])  # (dare, chicken)
    p = correlated_equilibrium(chicken)
    np.testing.assert_allclose(p, [[0, 0.25], [0.25, 0.5]], rtol=0, atol=1e-8)
    assert (p * (chicken.row + chicken.col)).sum() == pytest.approx(10.5)


@pytest.mark.parametrize("seed", [0, 1])
def test_correlated_equilibria_satisfy_every_incentive_constraint(seed):
    rng = np.random.default_rng(seed)
    for _ in range(10):
        m, n = rng.integers(2, 5, size=2)
        game = BimatrixGame(rng.normal(size=(m, n)), rng.normal(size=(m, n)))
        p = correlated_equilibrium(game)
        assert p.min() >= 0 and p.sum() == pytest.approx(1.0)
        assert (ce_constraints(game) @ p.ravel()).max() <= 1e-8
        # check each constraint from its definition: a player told an action gains nothing by switching
        for i in range(m):
            for i2 in range(m):
                assert p[i] @ (game.row[i2] - game.row[i]) <= 1e-8
        for j in range(n):
            for j2 in range(n):
                assert p[:, j] @ (game.col[:, j2] - game.col[:, j]) <= 1e-8
        # welfare at least that of every Nash equilibrium (each one is a correlated equilibrium)
        welfare = (p * (game.row + game.col)).sum()
        for x, y in support_enumeration(game):
            assert ce_violation(game, np.outer(x, y)) <= 1e-8
            assert welfare >= social_welfare(game, x, y) - 1e-8


SHAPLEY = BimatrixGame([[0, 1, 0], [0, 0, 1], [1, 0, 0]], [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize("seed", [0, 1])
def test_regret_matching_joint_play_approaches_the_correlated_equilibria(seed):
    # Shapley's game: no pure equilibrium, fictitious play cycles; joint play converges to the CE set
    result = regret_matching(SHAPLEY, 20_000, seed=seed)
    early = regret_matching(SHAPLEY, 500, seed=seed)
    # measured: 0.11 / 0.14 after 500 rounds, 0.036 / 0.046 after 20,000, 0.021 / 0.015 after 80,000 (seeds 0, 1)
    assert ce_violation(SHAPLEY, result.joint) < 0.06
    assert ce_violation(SHAPLEY, result.joint) < 0.5 * ce_violation(SHAPLEY, early.joint)
    rng = np.random.default_rng(seed)
    game = BimatrixGame(rng.normal(size=(3, 3)), rng.normal(size=(3, 3)))
    assert ce_violation(game, regret_matching(game, 20_000, seed=seed).joint) < 0.06


@pytest.mark.parametrize("seed", [0, 1])
def test_fictitious_play_and_regret_matching_reach_nash_in_zero_sum_games(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(4, 5))
    game = BimatrixGame(a, -a)
    value = zero_sum_value(game)[0]
    fp = fictitious_play(game, 20_000)
    assert exploitability(game, fp.row_strategy, fp.col_strategy) < 0.02
    assert fp.row_strategy @ a @ fp.col_strategy == pytest.approx(value, abs=0.02)
    early = exploitability(game, fp.row_history[99], fp.col_history[99])
    assert exploitability(game, fp.row_strategy, fp.col_strategy) < early
    rm = regret_matching(game, 20_000, seed=seed, conditional=False)
    assert exploitability(game, rm.row_strategy, rm.col_strategy) < 0.05
    pennies = BimatrixGame.named("matching_pennies")
    fp = fictitious_play(pennies, 20_000)
    np.testing.assert_allclose(fp.row_strategy, [0.5, 0.5], rtol=0, atol=0.01)


def test_errors():
    with pytest.raises(ValueError, match="BimatrixGame: row and col must be non-empty matrices of one shape"):
        BimatrixGame(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"BimatrixGame.from_table: table must have shape \(m, n, 2\)"):
        BimatrixGame.from_table(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="unknown game 'prisoner_dilemma'; did you mean 'prisoners_dilemma'"):
        BimatrixGame.named("prisoner_dilemma")
    with pytest.raises(ValueError, match="BimatrixGame.two_step_stage: unknown stage '2C'"):
        BimatrixGame.two_step_stage("2C")
    pd = BimatrixGame.named("prisoners_dilemma")
    with pytest.raises(ValueError, match="is_nash_equilibrium: x must be a probability vector of length 2"):
        is_nash_equilibrium(pd, [0.5, 0.6], [1, 0])
    with pytest.raises(ValueError, match="zero_sum_value: game must be zero-sum"):
        zero_sum_value(pd)
    with pytest.raises(IndexError, match=r"lemke_howson: initial_dropped_label must be in \[0, 4\)"):
        lemke_howson(pd, 4)
    with pytest.raises(ValueError, match="correlated_equilibrium: unknown objective 'max'"):
        correlated_equilibrium(pd, "max")
    with pytest.raises(ValueError, match="social_welfare: unknown kind 'rawls'"):
        social_welfare(pd, [1, 0], [1, 0], "rawls")
    with pytest.raises(ValueError, match="fictitious_play: iterations must be >= 1"):
        fictitious_play(pd, 0)
    with pytest.raises(ValueError, match="ce_violation: joint must be a probability table of shape"):
        ce_violation(pd, np.ones((2, 2)))
