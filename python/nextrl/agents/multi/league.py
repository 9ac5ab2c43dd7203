"""A self-play league for two-player games on nextrl.marl's batched envs: past checkpoints of a learner, rated
by Elo from real matches, with prioritized fictitious self-play (PFSP) opponent sampling (Vinyals et al. 2019,
AlphaStar: an opponent is drawn with weight f(p) = (1 - p)**power, p the learner's empirical win rate against it,
so the opponents it still loses to are played most).

Elo (Elo 1978): the expected score of a against b is E = 1 / (1 + 10**((R_b - R_a) / 400)); a match with score
S in [0, 1] for a (1 win, 0.5 draw, 0 loss, averaged over its games) moves R_a by K (S - E) and R_b by the
opposite amount. A game is decided by the two seats' episode returns (a higher return wins).

`self_play` trains a softmax policy (a linear layer on the seat's observation) for seat 0 by REINFORCE with a
mean baseline against opponents drawn from the league for seat 1, adds a frozen snapshot of the learner every
`snapshot_every` iterations, and rates every match it plays. Meant for symmetric games, where a checkpoint
played from seat 1 is the same player (e.g. zero-sum matrix games of marl.MatrixGameVectorEnv).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from nextrl.agents.common import seeded
from nextrl.marl.core import MarlVectorEnv

Player = Callable[[np.ndarray], np.ndarray]
"""act(obs [N, obs_size] of its seat) -> actions [N]"""


def expected_score(rating_a: float, rating_b: float) -> float:
    """Elo expected score of a against b: 1 / (1 + 10**((rating_b - rating_a) / 400))."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))


def elo_update(rating_a: float, rating_b: float, score_a: float, k: float = 16.0) -> tuple[float, float]:
    """New (rating_a, rating_b) after a match where a scored `score_a` in [0, 1]."""
    if not 0.0 <= score_a <= 1.0:
        raise ValueError(f"elo_update: score_a must be in [0, 1], got {score_a}")
    delta = k * (score_a - expected_score(rating_a, rating_b))
    return rating_a + delta, rating_b - delta


def pfsp_weights(win_rates: np.ndarray, power: float = 2.0) -> np.ndarray:
    """Sampling probabilities over opponents from the learner's win rates against them: (1 - p)**power,
    normalized (uniform when every weight is 0)."""
    w = (1.0 - np.clip(np.asarray(win_rates, dtype=np.float64), 0.0, 1.0)) ** power
    return w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))


@dataclass
class League:
    """Members (any objects, e.g. frozen policies), their Elo ratings and the learner's results against each."""

    k: float = 16.0
    """Elo K-factor"""
    initial_rating: float = 1000.0
    members: list = field(default_factory=list)
    ratings: list[float] = field(default_factory=list)
    wins: list[float] = field(default_factory=list)
    """the learner's summed score against each member"""
    games: list[int] = field(default_factory=list)
    """games the learner played against each member"""

    def add(self, member, rating: float | None = None) -> int:
        """Adds a member (rated `rating`, default initial_rating); returns its index."""
        self.members.append(member)
        self.ratings.append(self.initial_rating if rating is None else float(rating))
        self.wins.append(0.0)
        self.games.append(0)
        return len(self.members) - 1

    def win_rates(self) -> np.ndarray:
        """The learner's mean score against each member (0.5 before any game)."""
        return np.array([w / g if g else 0.5 for w, g in zip(self.wins, self.games)])

    def sample_opponent(self, rng: np.random.Generator, power: float = 2.0) -> int:
        """A member index drawn by PFSP (pfsp_weights of the learner's win rates)."""
        if not self.members:
            raise ValueError("League.sample_opponent: the league is empty; add a member first")
        return int(rng.choice(len(self.members), p=pfsp_weights(self.win_rates(), power)))

    def record(self, learner_rating: float, opponent: int, scores: np.ndarray) -> float:
        """Rates a match of the learner (at `learner_rating`) against member `opponent`, its per-game scores in
        [0, 1]; returns the learner's new rating."""
        scores = np.asarray(scores, dtype=np.float64)
        self.wins[opponent] += float(scores.sum())
        self.games[opponent] += int(scores.size)
        new, self.ratings[opponent] = elo_update(learner_rating, self.ratings[opponent], float(scores.mean()), self.k)
        return new


def play(env: MarlVectorEnv, player0: Player, player1: Player, seed: int):
    """One episode in every env of a 2-agent env, seat 0 against seat 1: (scores [N] of seat 0 (1 higher
    episode return, 0.5 equal, 0 lower), obs [T, N, obs_size] and actions [T, N] of seat 0, valid [T, N] (steps
    before the env's episode ended), returns [N, 2])."""
    if (
        not isinstance(env, MarlVectorEnv)
        or env.num_agents != 2
        or not isinstance(env.single_action_space, spaces.Discrete)
    ):
        raise ValueError("league.play: env must be a MarlVectorEnv of 2 agents with Discrete actions")
    n = env.num_envs
    obs, _ = env.reset(seed=seed)
    returns = np.zeros((n, 2))
    live = np.ones(n, dtype=bool)
    seen_obs, seen_actions, valid = [], [], []
    while live.any():
        a = np.stack([player0(obs[:, 0]), player1(obs[:, 1])], axis=1).astype(np.int64)
        seen_obs.append(obs[:, 0].copy())
        seen_actions.append(a[:, 0].copy())
        valid.append(live.copy())
        obs, rewards, _, _, infos = env.step(a)
        returns[live] += rewards[live]
        live &= infos["active"].any(axis=1)
    scores = np.where(returns[:, 0] > returns[:, 1], 1.0, np.where(returns[:, 0] == returns[:, 1], 0.5, 0.0))
    return scores, np.stack(seen_obs), np.stack(seen_actions), np.stack(valid), returns


@dataclass(frozen=True)
class SelfPlayConfig:
    iterations: int = 200
    """learner updates; each plays one episode per env against one league opponent"""
    learning_rate: float = 0.1
    """Adam step size of the learner"""
    snapshot_every: int = 20
    """iterations between two snapshots of the learner added to the league"""
    pfsp_power: float = 2.0
    """PFSP exponent: opponents drawn with weight (1 - win rate)**power"""
    elo_k: float = 16.0
    """Elo K-factor"""

    def __post_init__(self):
        if self.iterations < 1 or self.snapshot_every < 1:
            raise ValueError(
                f"SelfPlayConfig: iterations and snapshot_every must be >= 1, got {self.iterations}, "
                f"{self.snapshot_every}"
            )


def policy_player(policy: nn.Module, rng: torch.Generator | None = None) -> Player:
    """A Player sampling from softmax(policy(obs))."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            probs = torch.softmax(policy(torch.as_tensor(obs, dtype=torch.float32)), dim=-1)
            return torch.multinomial(probs, 1, generator=rng)[:, 0].numpy()

    return act


@dataclass
class SelfPlayResult:
    learner: nn.Module
    league: League
    learner_rating: float
    ratings: list[float] = field(default_factory=list)
    """the learner's Elo after every iteration"""


def self_play(env: MarlVectorEnv, cfg: SelfPlayConfig, *, seed: int) -> SelfPlayResult:
    """Trains seat 0's softmax policy against a league of its own snapshots (module docstring)."""
    with seeded(seed, "league.self_play") as gen:
        n_actions = int(env.single_action_space.n)
        learner = nn.Linear(env.obs_size, n_actions)
        nn.init.zeros_(learner.weight)
        nn.init.zeros_(learner.bias)  # uniform play at the start
        opt = torch.optim.Adam(learner.parameters(), lr=cfg.learning_rate)
        league = League(k=cfg.elo_k)
        league.add(copy.deepcopy(learner).requires_grad_(False))
        rng = np.random.default_rng(seed)
        rating, ratings = league.initial_rating, []
        for it in range(cfg.iterations):
            j = league.sample_opponent(rng, cfg.pfsp_power)
            scores, obs, actions, valid, returns = play(
                env, policy_player(learner, gen), policy_player(league.members[j], gen), seed=seed * 100_003 + it
            )
            rating = league.record(rating, j, scores)
            ratings.append(rating)
            # REINFORCE on seat 0's return with the batch mean as baseline
            adv = torch.as_tensor(returns[:, 0] - returns[:, 0].mean(), dtype=torch.float32)
            logp = torch.log_softmax(learner(torch.as_tensor(obs, dtype=torch.float32)), dim=-1)
            chosen = logp.gather(-1, torch.as_tensor(actions).unsqueeze(-1))[..., 0] * torch.as_tensor(valid)
            loss = -(chosen.sum(0) * adv).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if (it + 1) % cfg.snapshot_every == 0:
                league.add(copy.deepcopy(learner).requires_grad_(False), rating)
    return SelfPlayResult(learner, league, rating, ratings)


__all__ = [
    "League",
    "SelfPlayConfig",
    "SelfPlayResult",
    "elo_update",
    "expected_score",
    "pfsp_weights",
    "play",
    "policy_player",
    "self_play",
]
