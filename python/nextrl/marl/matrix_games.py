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
from nextrl.envs import render
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
    played for `rounds` rounds. Observation (size 2n + 1): [first round, one-hot previous actions].
    Renders the n x n payoff table (row: player 0's action; each cell's left half shaded by player 0's
    payoff, right half by player 1's, red lowest to green highest) with the last joint action framed."""

    metadata = render.metadata(render.RENDER_MODES_IMAGE, 2)

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
        render_mode: str | None = None,
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
        self._setup(core, {"player": box}, spaces.Discrete(c.num_actions), box, autoreset_mode, copy, render_mode)

    def _render_frame(self, index: int) -> np.ndarray:
        n = self.payoffs.shape[0]
        cell = render.grid_cell_px(n, n, target=320, hi=160)
        img = render.blank(n * cell, n * cell)
        lo, hi = float(self.payoffs.min()), float(self.payoffs.max())
        shade = (self.payoffs - lo) / (hi - lo) if hi > lo else np.full_like(self.payoffs, 0.5)
        for a0 in range(n):
            for a1 in range(n):
                for p in range(2):
                    x0 = a1 * cell + p * cell / 2
                    color = render.lerp_color(render.RED, render.GREEN, float(shade[a0, a1, p]))
                    render.fill_rect(img, x0, a0 * cell, x0 + cell / 2, (a0 + 1) * cell, color)
        state = self._core.state[index]
        if state[0] < 0.5:  # a round was played: frame its joint action
            a0, a1 = int(np.argmax(state[1 : 1 + n])), int(np.argmax(state[1 + n :]))
            render.frame_rect(img, a1 * cell, a0 * cell, (a1 + 1) * cell, (a0 + 1) * cell, render.BLACK, 4)
        return img


class TwoStepGameVectorEnv(MarlVectorEnv):
    """`num_envs` copies of the QMIX two-step game; observation = state = one-hot (first, 2A, 2B)."""

    payoffs = TWO_STEP_PAYOFFS
    metadata = render.metadata(render.RENDER_MODES_IMAGE, 2)

    def __init__(
        self,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
    ):
        self.config = _core._TwoStepGameConfig()
        core = _core._TwoStepGame(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        box = spaces.Box(0.0, 1.0, (3,), np.float32)
        self._setup(core, {"agent": box}, spaces.Discrete(2), box, autoreset_mode, copy, render_mode)

    def _render_frame(self, index: int) -> np.ndarray:
        """Three boxes, the first stage, 2A and 2B, left to right; the current one blue."""
        img = render.blank(128, 384)
        current = int(np.argmax(self._core.state[index]))
        for k in range(3):
            color = render.BLUE if k == current else render.LIGHT_GRAY
            render.fill_rect(img, 128 * k + 12, 12, 128 * (k + 1) - 12, 116, color)
        return img


def parallel_env(**config):
    """PettingZoo ParallelEnv of one matrix game (keyword arguments as MatrixGameVectorEnv)."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(MatrixGameVectorEnv, **config)


def two_step_parallel_env(render_mode: str | None = None):
    """PettingZoo ParallelEnv of the QMIX two-step game."""
    from nextrl.marl.parallel import MarlParallelEnv

    return MarlParallelEnv(TwoStepGameVectorEnv, render_mode=render_mode)


__all__ = [
    "GAMES",
    "TWO_STEP_PAYOFFS",
    "MatrixGameVectorEnv",
    "TwoStepGameVectorEnv",
    "parallel_env",
    "payoff_table",
    "two_step_parallel_env",
]
