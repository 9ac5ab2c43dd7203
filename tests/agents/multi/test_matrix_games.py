"""Claus and Boutilier's climbing and penalty games (one round, common payoff): hysteretic IQL (Matignon et al.
2007, negative TD errors weighted 0.02) reaches the optimum, 11 and 10, where plain IQL on the climbing game
ends at the (2, 2) equilibrium worth 5 (relative overgeneralization). Measured over seeds 0-9: hysteretic
10 / 10 seeds optimal on both games; plain IQL 5 on climbing in 10 / 10."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl.agents.multi import common, iql
from nextrl.games import BimatrixGame, social_optima
from nextrl.marl import MatrixGameVectorEnv

SETTINGS = dict(
    total_timesteps=3_000,
    learning_rate=3e-3,
    gamma=0.0,
    learning_starts=64,
    batch_size=32,
    target_network_frequency=50,
    hidden=(32,),
    end_e=0.05,
    exploration_fraction=0.5,
)


def greedy_return(result, game: str) -> float:
    returns = common.evaluate_team(result.modules["agent_network"], MatrixGameVectorEnv(2, game=game), 2, seed=0)
    return float(returns.mean())


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("game", ["climbing", "penalty"])
def test_hysteretic_iql_reaches_the_optimum(game, seed):
    optimum = BimatrixGame.named(game)
    best = optimum.row[social_optima(optimum)[0]]
    cfg = iql.IQLConfig(**SETTINGS, negative_td_weight=0.02)
    result = iql.train(MatrixGameVectorEnv(8, game=game), cfg, seed=seed)
    assert greedy_return(result, game) == best  # 11 (climbing), 10 (penalty)
    if game == "climbing":
        plain = iql.train(MatrixGameVectorEnv(8, game=game), iql.IQLConfig(**SETTINGS), seed=seed)
        assert greedy_return(plain, game) == 5.0


def test_hysteretic_loss_hand_computed():
    chosen = torch.tensor([[2.0, 0.0]])
    targets = torch.tensor([[1.0, 3.0]])  # TD errors -1 (weighted 0.25) and +3
    value = iql.iql_loss(chosen, targets, torch.ones(1, 2), negative_td_weight=0.25)
    np.testing.assert_allclose(value.item(), (0.25 * 1.0 + 9.0) / 2, rtol=1e-6)
    with pytest.raises(ValueError, match=r"IQLConfig: negative_td_weight must be in \(0, 1\]"):
        iql.IQLConfig(negative_td_weight=0.0)
