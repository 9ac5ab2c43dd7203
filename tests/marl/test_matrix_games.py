"""Matrix games: every joint action's rewards against the tables written from the papers, repeated-game
observations, and the QMIX two-step game (optimal return 8, VDN's greedy policy 7)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nextrl.marl import GAMES, MatrixGameVectorEnv, TwoStepGameVectorEnv, payoff_table

# Written out from the sources: row player's action first, (reward 0, reward 1).
TABLES = {
    # Axelrod (1984): T = 5, R = 3, P = 1, S = 0; actions (cooperate, defect).
    "prisoners_dilemma": {(0, 0): (3, 3), (0, 1): (0, 5), (1, 0): (5, 0), (1, 1): (1, 1)},
    "stag_hunt": {(0, 0): (4, 4), (0, 1): (1, 3), (1, 0): (3, 1), (1, 1): (3, 3)},
    "matching_pennies": {(0, 0): (1, -1), (0, 1): (-1, 1), (1, 0): (-1, 1), (1, 1): (1, -1)},
    "coordination": {(0, 0): (1, 1), (0, 1): (0, 0), (1, 0): (0, 0), (1, 1): (1, 1)},
    # Claus & Boutilier (1998), Tables 3 and 4 (common payoffs).
    "penalty": {
        (0, 0): 10,
        (0, 1): 0,
        (0, 2): -10,
        (1, 0): 0,
        (1, 1): 2,
        (1, 2): 0,
        (2, 0): -10,
        (2, 1): 0,
        (2, 2): 10,
    },
    "climbing": {
        (0, 0): 11,
        (0, 1): -30,
        (0, 2): 0,
        (1, 0): -30,
        (1, 1): 7,
        (1, 2): 6,
        (2, 0): 0,
        (2, 1): 0,
        (2, 2): 5,
    },
}


@pytest.mark.parametrize("game", GAMES)
def test_rewards_match_published_tables(game):
    table = TABLES[game]
    n = round(len(table) ** 0.5)
    joint = list(itertools.product(range(n), repeat=2))
    env = MatrixGameVectorEnv(len(joint), game=game)
    np.testing.assert_array_equal(env.payoffs.shape, (n, n, 2))
    env.reset(seed=0)
    actions = np.array(joint, dtype=np.int64)
    _, rewards, terms, truncs, infos = env.step(actions)
    want = np.array([table[j] if isinstance(table[j], tuple) else (table[j], table[j]) for j in joint], np.float32)
    np.testing.assert_array_equal(rewards, want)
    np.testing.assert_array_equal(env.payoffs[actions[:, 0], actions[:, 1]], want)
    assert terms.all() and not truncs.any()
    assert infos["episode"]["_r"].all()
    np.testing.assert_array_equal(infos["episode"]["r"], want)
    np.testing.assert_array_equal(infos["episode"]["l"], np.ones(len(joint)))


def test_penalty_parameter_and_custom_payoffs():
    t = payoff_table("penalty", penalty=-100.0)
    assert t[0, 2, 0] == -100 and t[2, 0, 1] == -100 and t[0, 0, 0] == 10
    custom = np.arange(18, dtype=np.float32).reshape(3, 3, 2)
    env = MatrixGameVectorEnv(1, payoffs=custom)
    env.reset(seed=1)
    _, r, _, _, _ = env.step(np.array([[2, 1]]))
    np.testing.assert_array_equal(r[0], custom[2, 1])


def test_repeated_game_observes_previous_actions():
    env = MatrixGameVectorEnv(2, game="prisoners_dilemma", rounds=3)
    obs, infos = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.tile([1, 0, 0, 0, 0], (2, 2, 1)))
    np.testing.assert_array_equal(infos["state"], obs[:, 0])
    obs, r, te, tr, _ = env.step(np.array([[0, 1], [1, 1]]))
    np.testing.assert_array_equal(obs[0, 0], [0, 1, 0, 0, 1])  # [first, a0 one-hot, a1 one-hot]
    np.testing.assert_array_equal(obs[1, 1], [0, 0, 1, 0, 1])
    assert not te.any()
    env.step(np.array([[0, 0], [0, 0]]))
    _, r, te, _, infos = env.step(np.array([[1, 0], [0, 0]]))
    assert te.all()
    np.testing.assert_array_equal(infos["episode"]["r"], [[0 + 3 + 5, 5 + 3 + 0], [1 + 3 + 3, 1 + 3 + 3]])


def _two_step_return(first, second):
    env = TwoStepGameVectorEnv(1)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[0], [[1, 0, 0], [1, 0, 0]])
    obs, r0, te, _, _ = env.step(np.array([first]))
    assert r0[0, 0] == 0 and not te.any()
    np.testing.assert_array_equal(obs[0, 0], [0, 1, 0] if first[0] == 0 else [0, 0, 1])
    _, r1, te, _, _ = env.step(np.array([second]))
    assert te.all() and r1[0, 0] == r1[0, 1]
    return float(r0[0, 0] + r1[0, 0])


def test_two_step_game_table_and_optimum():
    for a1 in (0, 1):  # agent 1's first action is irrelevant
        for second in itertools.product((0, 1), repeat=2):
            assert _two_step_return((0, a1), second) == 7.0
            assert _two_step_return((1, a1), second) == float(TwoStepGameVectorEnv.payoffs["2B"][second])
    returns = {(f, s): _two_step_return((f, 0), s) for f in (0, 1) for s in itertools.product((0, 1), repeat=2)}
    assert max(returns.values()) == 8.0 and returns[(1, (1, 1))] == 8.0
    # VDN's greedy outcome (Rashid et al. 2018, Table 1): Q_tot = Q_1 + Q_2 cannot represent 2B's payoff
    # (its best additive fit prefers 2A), so a greedy VDN policy earns 7; least squares on 2B shows why:
    b = TwoStepGameVectorEnv.payoffs["2B"]
    design = np.array([[1, 1 - i, i, 1 - j, j] for i in (0, 1) for j in (0, 1)], np.float64)
    coef, *_ = np.linalg.lstsq(design, b.ravel(), rcond=None)
    fit = design @ coef
    assert fit.max() < 7.0  # additive values of 2B stay below 2A's 7: greedy picks 2A, return 7


def test_matrix_game_errors():
    with pytest.raises(ValueError, match="unknown game 'prisoner_dilemma'; did you mean 'prisoners_dilemma'"):
        MatrixGameVectorEnv(1, game="prisoner_dilemma")
    with pytest.raises(ValueError, match=r"payoffs must have shape \(n, n, 2\)"):
        MatrixGameVectorEnv(1, payoffs=np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="penalty must be <= 0"):
        payoff_table("penalty", penalty=1.0)
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        MatrixGameVectorEnv(1, rounds=0)
    env = MatrixGameVectorEnv(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[1, 0\] \(agent 'player_0'\) must be in \[0, num_actions\)"):
        env.step(np.array([[0, 0], [2, 0]]))
    with pytest.raises(ValueError, match=r"step: actions must have shape \(2, 2\), got \(2,\)"):
        env.step(np.array([0, 0]))
    with pytest.raises(TypeError, match="actions must be integers"):
        env.step(np.zeros((2, 2), np.float32))
    t = TwoStepGameVectorEnv(1)
    t.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[0, 1\] \(agent 'agent_1'\) must be 0 or 1"):
        t.step(np.array([[0, 2]]))
