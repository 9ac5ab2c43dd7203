"""federated: federated vs local-only PPO on heterogeneous CartPole clients, over seeds.

Client i (of `num_clients`) runs CartPole with initial states drawn in +-init_spread * (i + 1) (the wider the range,
the harder the start). Each method trains with the same budget per client, `rounds` x `ppo_steps` env steps:
  fedavg / median  nextrl.federated.client.run over all clients (every client trains PPO from the global model for
                   ppo_steps per round; the server aggregates by FedAvg or the coordinate median);
  local-only       each client alone (client.run with that one client: the same rounds and local training, no
                   aggregation), so the only difference is the sharing.
Then the final policy (the global one; for local-only each client's own) acts deterministically for
`eval_episodes` episodes on every client's env (client.evaluate_policy, reset seeds apart from training):
  own-env return   mean over clients of the return on the client's own env;
  all-envs return  mean over (policy, env) pairs of the return on every client's env (generalization to the
                   other clients' dynamics).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nextrl.evaluation.results import Bootstrap, ExperimentResult, Finding, make_score

NAME = "federated"
DESCRIPTION = "federated (FedAvg, median) vs local-only PPO on heterogeneous CartPole clients over seeds"
METHODS = ("fedavg", "median", "local-only")
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Config:
    num_clients: int = 4
    """clients, client i with initial states in +-init_spread * (i + 1)"""
    init_spread: float = 0.05
    """half-width of client 0's initial-state range (Gymnasium's CartPole: 0.05)"""
    rounds: int = 5
    """server rounds (local-only: the same number of local training calls)"""
    ppo_steps: int = 1024
    """PPO env steps per client per round"""
    hidden: int = 64
    """width of the two hidden layers of the actor and the critic"""
    eval_episodes: int = 4
    """evaluation episodes per (policy, env) pair"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""

    def __post_init__(self):
        checks = {
            "num_clients": self.num_clients >= 2,
            "init_spread": 0 < self.init_spread <= 0.05,
            "rounds": self.rounds >= 1,
            "ppo_steps": self.ppo_steps >= 512,
            "hidden": self.hidden >= 1,
            "eval_episodes": self.eval_episodes >= 1,
            "bootstrap_reps": self.bootstrap_reps >= 1,
        }
        for key, ok in checks.items():
            if not ok:
                limits = {"num_clients": ">= 2", "init_spread": "in (0, 0.05]", "ppo_steps": ">= 512"}
                raise ValueError(f"federated: {key} must be {limits.get(key, '>= 1')}, got {getattr(self, key)!r}")


QUICK: dict[str, Any] = {"num_clients": 2, "rounds": 1, "ppo_steps": 512, "hidden": 16, "eval_episodes": 1}


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress: PPO env steps summed over methods, clients, rounds and seeds."""
    return len(METHODS) * cfg.num_clients * cfg.rounds * cfg.ppo_steps * len(seeds)


def make_task(cfg: Config):
    """(make_model, clients): the global model's constructor and one PPO Client per heterogeneous env."""
    from nextrl.agents import ppo
    from nextrl.agents.networks import default_actor_critic
    from nextrl.envs import CartPoleVectorEnv
    from nextrl.federated import client as fc

    envs = [
        CartPoleVectorEnv(4, init_low=-cfg.init_spread * (i + 1), init_high=cfg.init_spread * (i + 1))
        for i in range(cfg.num_clients)
    ]
    ppo_cfg = ppo.PPOConfig(total_timesteps=cfg.ppo_steps, num_steps=128, learning_rate=2.5e-3, anneal_lr=False)
    clients = [fc.Client(e, fc.agent_trainer(ppo.train, ppo_cfg)) for e in envs]
    space = envs[0]

    def make_model():
        return default_actor_critic(space.single_observation_space, space.single_action_space, (cfg.hidden, cfg.hidden))

    return make_model, clients


def returns_matrix(policies, clients, cfg: Config, seed: int) -> np.ndarray:
    """[num_policies, num_clients]: mean return of each policy on each client's env (reset seeds 10_000 + ...)."""
    from nextrl.federated.client import evaluate_policy

    return np.array(
        [
            [evaluate_policy(p, c.env, cfg.eval_episodes, 10_000 + 100 * seed + j) for j, c in enumerate(clients)]
            for p in policies
        ]
    )


def run_method(method: str, cfg: Config, seed: int, progress: Progress | None = None) -> np.ndarray:
    """The returns matrix of one method and seed: [1, n] for fedavg / median (the global policy), [n, n] for
    local-only (row i: client i's own policy)."""
    import torch

    from nextrl.federated import client as fc

    if method not in METHODS:
        raise ValueError(f"federated: method must be one of {list(METHODS)}, got {method!r}")
    torch.set_num_threads(1)
    make_model, clients = make_task(cfg)
    fed = fc.FederatedConfig(rounds=cfg.rounds, eval_episodes=1, aggregator="fedavg")
    step = cfg.ppo_steps * cfg.num_clients

    def log(_r, _m):
        if progress is not None:
            progress(step if method != "local-only" else cfg.ppo_steps, f"{method} seed {seed}")

    if method == "local-only":
        policies = [fc.run(make_model, [c], fed, seed=seed + 101 * i, log=log).model for i, c in enumerate(clients)]
    else:
        policies = [fc.run(make_model, clients, dataclasses.replace(fed, aggregator=method), seed=seed, log=log).model]
    return returns_matrix(policies, clients, cfg, seed)


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    """Trains every method once per seed; scores (own-env and all-envs return) with bootstrap intervals."""
    if not seeds:
        raise ValueError("federated: seeds must not be empty")
    start = time.perf_counter()
    boot = Bootstrap(reps=cfg.bootstrap_reps)
    mats = {m: [run_method(m, cfg, s, progress) for s in seeds] for m in METHODS}
    own = {m: [float(np.mean(np.diagonal(x)) if x.shape[0] > 1 else x.mean()) for x in mats[m]] for m in METHODS}
    every = {m: [float(x.mean()) for x in mats[m]] for m in METHODS}
    task = f"CartPole x {cfg.num_clients} init ranges"
    steps = cfg.rounds * cfg.ppo_steps
    scores = []
    for m in METHODS:
        scores.append(make_score(task, m, "own-env return", own[m], boot, steps=steps))
        scores.append(make_score(task, m, "all-envs return", every[m], boot, steps=steps))
    by = {(s.agent, s.metric): s for s in scores}
    findings = []
    for m in ("fedavg", "median"):
        for metric in ("own-env return", "all-envs return"):
            a, b = by[(m, metric)].iqm, by[("local-only", metric)].iqm
            if a.low > b.high:
                findings.append(Finding(True, f"{m} beats local-only on {metric}: the 95% intervals do not overlap"))
            elif a.high < b.low:
                findings.append(Finding(False, f"local-only beats {m} on {metric}: the 95% intervals do not overlap"))
            else:
                findings.append(Finding(False, f"{m} vs local-only on {metric}: the 95% intervals overlap"))
    setup = [
        f"{cfg.num_clients} clients: CartPole (4 envs each), client i's initial states in +-{cfg.init_spread} (i + 1)",
        f"every method: {cfg.rounds} rounds x {cfg.ppo_steps} PPO env steps per client (lr 2.5e-3, 128-step rollouts, "
        f"hidden {cfg.hidden}x{cfg.hidden}); local-only: each client alone, same rounds",
        f"evaluation: deterministic final policy, {cfg.eval_episodes} episodes per (policy, env) pair",
    ]
    return ExperimentResult(
        name=NAME,
        title="federated: federated vs local-only PPO on heterogeneous CartPole clients",
        summary=(
            "Does sharing one policy across clients with different initial-state ranges (FedAvg, coordinate "
            "median) beat each client training alone on the same per-client budget, on the client's own env and "
            "on every client's env?"
        ),
        seeds=list(seeds),
        config=dataclasses.asdict(cfg),
        setup=setup,
        scores=scores,
        findings=findings,
        bootstrap=boot,
        wall_time_s=time.perf_counter() - start,
        extra={"returns": {m: [x.tolist() for x in mats[m]] for m in METHODS}},
    )


__all__ = ["DESCRIPTION", "METHODS", "NAME", "QUICK", "Config", "make_task", "run", "run_method", "total_work"]
