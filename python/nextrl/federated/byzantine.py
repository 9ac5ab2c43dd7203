"""Byzantine clients: attacks on the updates a client sends, and how many of them each aggregator tolerates.

A Byzantine client trains like an honest one (on its own env) and then sends something else:

- "sign_flip": -scale * u, the honest update reversed and scaled (Allen-Zhu et al. 2021; Karimireddy et al. 2021);
- "scaled": scale * u, the honest update boosted (model replacement, Bagdasaryan et al. 2020);
- "gaussian": N(0, scale^2) in every coordinate, the honest update discarded (Blanchard et al. 2017);
- "reward_poisoning": the honest algorithm trained on the rewards -scale * r (the RL analogue of label flipping:
  the client learns to do badly and sends that update; its evaluation env is unchanged).

It reports its real env-step count as its FedAvg weight. `tolerance(aggregator, m, ...)` is the number of Byzantine
updates among the m of a round that an aggregator is built to withstand: (m - 1) // 2 for the median and the
geometric median (breakdown point 1/2), the trim count k for the trimmed mean (k >= f), the f it was configured
with for Krum and multi-Krum (which also need m >= 2f + 3). FedAvg has no defence (tolerance None): it is the
undefended baseline that the attacks are run against, so `check_tolerance` refuses only robust aggregators that
face more Byzantine clients than they tolerate.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from gymnasium.wrappers.vector import TransformReward
from torch import Tensor

from nextrl.federated.strategies import trim_count

ATTACKS = ("sign_flip", "scaled", "gaussian", "reward_poisoning")
UPDATE_ATTACKS = ("sign_flip", "scaled", "gaussian")


def check_attack(fn: str, attack: str, scale: float) -> None:
    if attack not in ATTACKS:
        raise ValueError(f"{fn}: attack must be one of {list(ATTACKS)}, got {attack!r}")
    if not (isinstance(scale, (int, float)) and scale > 0 and scale < float("inf")):
        raise ValueError(f"{fn}: attack_scale must be finite and > 0, got {scale!r}")


def poison_update(attack: str, update: Tensor, scale: float, generator: torch.Generator | None = None) -> Tensor:
    """The update [d] a Byzantine client sends in place of its honest `update` [d] (see the module docstring)."""
    check_attack("poison_update", attack, scale)
    if attack == "sign_flip":
        return -scale * update
    if attack == "scaled":
        return scale * update
    if attack == "gaussian":
        noise = torch.randn(update.shape, generator=generator, dtype=torch.float64)
        return (scale * noise).to(update.dtype)
    raise ValueError(f"poison_update: {attack!r} poisons the rewards, not the update (use poison_rewards)")


def poison_rewards(env: gym.vector.VectorEnv, scale: float = 1.0) -> gym.vector.VectorEnv:
    """`env` with every reward r replaced by -scale * r (the reward-poisoning client trains on this)."""
    check_attack("poison_rewards", "reward_poisoning", scale)
    return TransformReward(env, lambda r: -scale * r)


def tolerance(aggregator: str, m: int, num_byzantine: int = 0, beta: float = 0.1) -> int | None:
    """Byzantine updates among m that `aggregator` withstands (None for fedavg: no defence); see the module
    docstring. num_byzantine and beta are the aggregator's own settings (FederatedConfig's)."""
    if aggregator == "fedavg":
        return None
    if aggregator in ("median", "geometric_median"):
        return (m - 1) // 2
    if aggregator == "trimmed_mean":
        return num_byzantine if num_byzantine > 0 else trim_count(m, beta)
    if aggregator in ("krum", "multi_krum"):
        return num_byzantine if m >= 2 * num_byzantine + 3 else 0
    raise ValueError(f"tolerance: aggregator {aggregator!r} is unknown")


def check_tolerance(fn: str, aggregator: str, num_attackers: int, m: int, num_byzantine: int = 0, beta: float = 0.1):
    """ValueError when a robust aggregator meets more Byzantine updates (at most num_attackers of m) than it
    tolerates."""
    f = min(num_attackers, m)
    tol = tolerance(aggregator, m, num_byzantine, beta)
    if tol is not None and f > tol:
        if aggregator in ("krum", "multi_krum", "trimmed_mean"):
            hint = f"set num_byzantine >= {f}" + (
                f" with at least {2 * f + 3} clients per round" if "krum" in aggregator else ""
            )
        else:
            hint = f"need more than {2 * f} clients per round"
        raise ValueError(f"{fn}: {aggregator} tolerates {tol} Byzantine clients of {m} per round, got {f} ({hint})")


__all__ = [
    "ATTACKS",
    "UPDATE_ATTACKS",
    "check_attack",
    "check_tolerance",
    "poison_rewards",
    "poison_update",
    "tolerance",
]
