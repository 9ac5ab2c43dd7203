"""Population-based training (Jaderberg et al. 2017, "Population Based Training of Neural Networks",
arXiv:1711.09846) with truncation selection, as Ray Tune's PopulationBasedTraining.

A population of members, each with its own hyperparameters and its own weights (any state: network
parameters, optimizer state), is trained in parallel rounds. Each member trains `ready_every` steps between
two "ready" points; at a ready point every member is evaluated (its fitness is what `evaluate` returns: real
evaluation returns of its current weights), and the members ranked in the bottom `fraction` of the population
  exploit: copy the weights and hyperparameters of a member drawn uniformly from the top `fraction`, then
  explore: perturb each copied hyperparameter: with probability `resample_probability` draw it afresh from its
           search space, else multiply it by one of `perturbation_factors` (drawn uniformly), clipped to the
           space's bounds.
The other members keep training unchanged. Everything random follows `seed`.

A member is a `Member` (or any object with the same methods): `train(steps)` with its `hyperparams`,
`evaluate() -> float`, `get_state()` and `set_state(state)` (a deep copy is taken when exploited).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class Member(Protocol):
    hyperparams: dict[str, float]

    def train(self, steps: int) -> None: ...

    def evaluate(self) -> float: ...

    def get_state(self) -> Any: ...

    def set_state(self, state: Any) -> None: ...


@dataclass(frozen=True)
class Space:
    """A hyperparameter's search space: uniform in [low, high], or log-uniform when `log`."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(
                f"Space: needs low < high (and low > 0 when log), got low={self.low}, high={self.high}, log={self.log}"
            )

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def clip(self, x: float) -> float:
        return float(min(max(x, self.low), self.high))


@dataclass(frozen=True)
class PBTConfig:
    """Schedule and operators of population-based training."""

    total_steps: int = 100
    """training steps of each member"""
    ready_every: int = 5
    """training steps of a member between two exploit / explore points"""
    fraction: float = 0.25
    """bottom fraction replaced by copies of the top fraction, in (0, 0.5]"""
    resample_probability: float = 0.25
    """chance that explore draws a hyperparameter afresh instead of perturbing it"""
    perturbation_factors: tuple[float, ...] = (0.8, 1.2)
    """factors explore multiplies a hyperparameter by"""

    def __post_init__(self):
        name = type(self).__name__
        if self.total_steps < 1 or self.ready_every < 1:
            raise ValueError(
                f"{name}: total_steps and ready_every must be >= 1, got {self.total_steps}, {self.ready_every}"
            )
        if not 0.0 < self.fraction <= 0.5:
            raise ValueError(f"{name}: fraction must be in (0, 0.5], got {self.fraction}")
        if not 0.0 <= self.resample_probability <= 1.0:
            raise ValueError(f"{name}: resample_probability must be in [0, 1], got {self.resample_probability}")
        if not self.perturbation_factors or min(self.perturbation_factors) <= 0:
            raise ValueError(f"{name}: perturbation_factors must be positive numbers, got {self.perturbation_factors}")


@dataclass
class PBTResult:
    members: list
    """the final population"""
    fitness: list[float]
    """each member's final evaluation"""
    history: list[dict] = field(default_factory=list)
    """per ready point: {"step", "fitness" [P], "hyperparams" [P dicts], "exploited" [(loser, winner), ...]}"""

    @property
    def best(self):
        return self.members[int(np.argmax(self.fitness))]


def explore(
    hyperparams: dict[str, float], spaces: dict[str, Space], cfg: PBTConfig, rng: np.random.Generator
) -> dict[str, float]:
    """The perturbed copy of `hyperparams` (module docstring)."""
    out = {}
    for name, value in hyperparams.items():
        space = spaces[name]
        if rng.random() < cfg.resample_probability:
            out[name] = space.sample(rng)
        else:
            factor = cfg.perturbation_factors[int(rng.integers(len(cfg.perturbation_factors)))]
            out[name] = space.clip(value * factor)
    return out


def run(
    make_member: Callable[[dict[str, float], int], Member],
    spaces: dict[str, Space],
    population_size: int,
    cfg: PBTConfig,
    *,
    seed: int,
) -> PBTResult:
    """Population-based training of `population_size` members made by make_member(hyperparams, index), their
    first hyperparameters drawn from `spaces` {name: Space}. Returns the final population and its history."""
    if population_size < 2:
        raise ValueError(f"pbt.run: population_size must be >= 2, got {population_size}")
    if not spaces:
        raise ValueError("pbt.run: spaces must name at least one hyperparameter")
    rng = np.random.default_rng(seed)
    members = [make_member({k: s.sample(rng) for k, s in spaces.items()}, i) for i in range(population_size)]
    for m in members:
        unknown = set(m.hyperparams) - set(spaces)
        if unknown:
            raise ValueError(f"pbt.run: member hyperparameters {sorted(unknown)} have no search space")
    history = []
    k = max(1, round(cfg.fraction * population_size))
    done = 0
    fitness: list[float] = []
    while done < cfg.total_steps:
        steps = min(cfg.ready_every, cfg.total_steps - done)
        for m in members:
            m.train(steps)
        done += steps
        fitness = [float(m.evaluate()) for m in members]
        if any(not math.isfinite(f) for f in fitness):
            raise ValueError(f"pbt.run: evaluate returned a non-finite fitness at step {done}: {fitness}")
        record = {"step": done, "fitness": fitness, "hyperparams": [dict(m.hyperparams) for m in members]}
        exploited = []
        if done < cfg.total_steps:
            order = np.argsort(fitness, kind="stable")
            bottom, top = order[:k], order[-k:]
            for loser in bottom:
                winner = int(top[int(rng.integers(k))])
                members[loser].set_state(copy.deepcopy(members[winner].get_state()))
                members[loser].hyperparams = explore(members[winner].hyperparams, spaces, cfg, rng)
                exploited.append((int(loser), winner))
        record["exploited"] = exploited
        history.append(record)
    return PBTResult(members, fitness, history)


class DriftingOptimumToy:
    """Ray Tune's PBT benchmark function (python/ray/tune/examples/pbt_function.py) as a member: the state is an
    "accuracy" that grows fastest when the learning rate `lr` is near an optimum that follows a triangle wave
    of the accuracy itself (0.001 at 0, 0.01 at `midpoint`, back to 0.001 at 2 midpoint), so no fixed rate is
    best throughout. Each step, with q = max(lr, opt) / min(lr, opt):
        q < 3: accuracy += U(0, 1) / q;  else if lr > opt: accuracy -= (q - 3) U(0, 1);
        accuracy += noise N(0, 1);  accuracy = max(accuracy, 0).
    evaluate() is the accuracy."""

    def __init__(self, hyperparams: dict[str, float], seed: int, midpoint: float = 100.0, noise: float = 2.0):
        self.hyperparams = dict(hyperparams)
        self.accuracy = 0.0
        self.midpoint, self.noise = midpoint, noise
        self.rng = np.random.default_rng(seed)

    def optimal_lr(self) -> float:
        a, mid = self.accuracy, self.midpoint
        opt = 0.01 * a / mid if a < mid else 0.01 - 0.01 * (a - mid) / mid
        return min(0.01, max(0.001, opt))

    def train(self, steps: int) -> None:
        lr = self.hyperparams["lr"]
        for _ in range(steps):
            opt = self.optimal_lr()
            q = max(lr, opt) / min(lr, opt)
            if q < 3:
                self.accuracy += self.rng.random() / q
            elif lr > opt:
                self.accuracy -= (q - 3) * self.rng.random()
            self.accuracy = max(0.0, self.accuracy + self.noise * self.rng.normal())

    def evaluate(self) -> float:
        return self.accuracy

    def get_state(self) -> float:
        return self.accuracy

    def set_state(self, state: float) -> None:
        self.accuracy = float(state)


__all__ = ["DriftingOptimumToy", "Member", "PBTConfig", "PBTResult", "Space", "explore", "run"]
