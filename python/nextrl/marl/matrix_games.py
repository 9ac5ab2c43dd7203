"""Matrix games (csrc/marl/matrix_games.h): two-player normal-form games, one-shot or repeated, and the
two-step game of QMIX. Payoff tables are NumPy arrays [n, n, 2] with table[a0, a1, p] the reward of
player p, for game-theory code (Nash equilibria, social optima).

Named games (row player 0, column player 1; action 0 first):
  prisoners_dilemma   actions (cooperate, defect); Axelrod's T=5, R=3, P=1, S=0.
  stag_hunt           actions (stag, hare); (4,4) (1,3) / (3,1) (3,3): two pure equilibria, stag payoff-dominant.
  matching_pennies    actions (heads, tails); +1 to player 0 on a match, -1 on a mismatch (zero-sum).
  coordination        actions (a, b); 1 to both when they match, 0 otherwise.
  penalty             Claus & Boutilier 1998, actions (a, b, c): [[10, 0, k], [0, 2, 0], [k, 0, 10]], k <= 0
                      (`penalty`, default -10); common payoff.
  climbing            Claus & Boutilier 1998: [[11, -30, 0], [-30, 7, 6], [0, 0, 5]]; common payoff.
TWO_STEP_PAYOFFS: the second-step tables of the QMIX two-step game (Rashid et al. 2018): state 2A pays 7
for every joint action, state 2B pays [[0, 1], [1, 8]]; agent 0's first action picks 2A (0) or 2B (1).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs.core import as_int, unknown_name_error
from nextrl.marl.core import MarlVectorEnv


def _common(m) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    return np.stack([m, m], axis=-1)


def payoff_table(game: str, *, penalty: float = -10.0) -> np.ndarray:
    """The payoff table [n, n, 2] float32 of a named game."""
    if game == "prisoners_dilemma":
        return np.array([[[3, 3], [0, 5]], [[5, 0], [1, 1]]], dtype=np.float32)
    if game == "stag_hunt":
        return np.array([[[4, 4], [1, 3]], [[3, 1], [3, 3]]], dtype=np.float32)
    if game == "matching_pennies":
        return np.array([[[1, -1], [-1, 1]], [[-1, 1], [1, -1]]], dtype=np.float32)
    if game == "coordination":
        return _common(np.eye(2))
    if game == "penalty":
        if penalty > 0:
            raise ValueError(f"payoff_table: penalty must be <= 0, got {penalty}")
        return _common([[10, 0, penalty], [0, 2, 0], [penalty, 0, 10]])
    if game == "climbing":
        return _common([[11, -30, 0], [-30, 7, 6], [0, 0, 5]])
    raise unknown_name_error("payoff_table", "game", game, GAMES)


GAMES = ("prisoners_dilemma", "stag_hunt", "matching_pennies", "coordination", "penalty", "climbing")
TWO_STEP_PAYOFFS = {"2A": np.full((2, 2), 7.0, dtype=np.float32), "2B": np.array([[0, 1], [1, 8]], dtype=np.float32)}


class MatrixGameVectorEnv(MarlVectorEnv):
    """`num_envs` copies of a two-player matrix game: a named `game` or explicit `payoffs` [n, n, 2],
    played for `rounds` rounds. Observation (size 2n + 1): [first round, one-hot previous actions]."""

    def __init__(
        self,
        num_envs: int = 1,
        *,
        game: str = "prisoners_dilemma",
        payoffs=None,
        rounds: int = 1,
        penalty: float = -10.0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
    ):
        table = payoff_table(game, penalty=penalty) if payoffs is None else np.asarray(payoffs, dtype=np.float32)
        if table.ndim != 3 or table.shape[0] != table.shape[1] or table.shape[2] != 2:
            raise ValueError(f"MatrixGame: payoffs must have shape (n, n, 2), got {table.shape}")
        self.payoffs = table
        c = _core._MatrixGameConfig()
        c.num_actions, c.payoffs = int(table.shape[0]), table.ravel().tolist()
        c.rounds = as_int("MatrixGame", "rounds", rounds)
        self.config = c
        core = _core._MatrixGame(self._num_envs_arg(num_envs), c, self._mode_code(autoreset_mode))
        box = spaces.Box(0.0, 1.0, (core.obs_size,), np.float32)
        self._setup(core, {"player": box}, spaces.Discrete(c.num_actions), box, autoreset_mode, copy)


class TwoStepGameVectorEnv(MarlVectorEnv):
    """`num_envs` copies of the QMIX two-step game; observation = state = one-hot (first, 2A, 2B)."""

    payoffs = TWO_STEP_PAYOFFS

    def __init__(
        self, num_envs: int = 1, *, autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, copy: bool = True
    ):
        self.config = _core._TwoStepGameConfig()
        core = _core._TwoStepGame(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        box = spaces.Box(0.0, 1.0, (3,), np.float32)
        self._setup(core, {"agent": box}, spaces.Discrete(2), box, autoreset_mode, copy)


def parallel_env(**config):
    """PettingZoo ParallelEnv of one matrix game (keyword arguments as MatrixGameVectorEnv)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(MatrixGameVectorEnv, **config)


def two_step_parallel_env():
    """PettingZoo ParallelEnv of the QMIX two-step game."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(TwoStepGameVectorEnv)


__all__ = [
    "GAMES",
    "TWO_STEP_PAYOFFS",
    "MatrixGameVectorEnv",
    "TwoStepGameVectorEnv",
    "parallel_env",
    "payoff_table",
    "two_step_parallel_env",
]
