"""federated: federated vs centralized vs local-only PPO or SAC on heterogeneous clients over seeds, the
privacy-utility curve of DP-FedAvg and the return-vs-bytes curve of compressed updates.

Tasks (Config.task), client i of `num_clients`:
  pointmass-noise     HeteroPointMass variant 0 (regulate a 2-D double integrator to the origin) with process noise
                      noise_std = noise_low .. noise_high (evenly spaced over the clients): one objective, different
                      dynamics;
  pointmass-variants  HeteroPointMass variant i mod 4: the documents' four clients, whose rewards disagree (origin,
                      a shifted optimum, a goal disc, sin of the state sum);
  pendulum-g          Pendulum-v1 with gravity g = 10 (1 + g_spread (2 i / (n - 1) - 1)) and max torque
                      2 (1 + torque_spread (2 i / (n - 1) - 1)) (the env clips the torque to it; default spread 0):
                      one objective, different physics;
  cartpole-init       CartPole with initial states in +-0.05 (i + 1);
  cartpole-length     CartPole with pole half-length 0.5 (1 + length_spread (2 i / (n - 1) - 1)): different physics.
Clients train PPO (Config.agent "ppo", every task) or SAC ("sac", the Box-action tasks: point mass and pendulum).
Every method trains with the same budget per client, `rounds` x `ppo_steps` env steps:
  fedavg / median  nextrl.federated.client.run over all clients (every client trains from the global model for
                   ppo_steps per round; the server aggregates by FedAvg or the coordinate median);
  centralized      one agent trained on every client's env at once (client.PooledVectorEnv of the n clients' envs)
                   for the same total env steps, n x rounds x ppo_steps, in one training call (SAC: n gradient
                   steps per pooled vector step, the clients' gradient steps per env step; PPO: one update per
                   64-step rollout of all pooled envs): the pooled-data reference, no data moved in federation;
  local-only       each client alone (client.run with that one client: the same rounds and local training, no
                   aggregation), so the only difference is the sharing.
Then the final policy (the global one; for local-only each client's own) acts deterministically for
`eval_episodes` episodes on every client's env (client.evaluate_policy, reset seeds apart from training):
  own-env return   mean over clients of the return on the client's own env;
  all-envs return  mean over (policy, env) pairs of the return on every client's env.
Curves (FedAvg global policy, own-env return): DP-FedAvg with clip `dp_clip` at each noise multiplier of
`dp_noise_multipliers` (all clients every round, q = 1; epsilon at delta `dp_delta` by Opacus's RDP accountant after
the last round), and each compression of `compressions` ("ratio/levels": top-k fraction with error feedback, QSGD
levels, 0 = float32 values) against the uplink bytes per round the encoded messages took.
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
DESCRIPTION = (
    "federated (FedAvg, median) vs centralized vs local-only PPO / SAC on heterogeneous clients over seeds; DP and "
    "compression curves"
)
METHODS = ("fedavg", "median", "centralized", "local-only")
TASKS = ("pointmass-noise", "pointmass-variants", "pendulum-g", "cartpole-init", "cartpole-length")
AGENTS = ("ppo", "sac")
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Config:
    task: str = "pointmass-noise"
    """one of TASKS (see the module docstring)"""
    agent: str = "ppo"
    """one of AGENTS: the clients' learner ("sac": Box-action tasks only)"""
    num_clients: int = 4
    """clients"""
    noise_low: float = 0.0
    """pointmass-noise: client 0's noise_std"""
    noise_high: float = 0.15
    """pointmass-noise: the last client's noise_std"""
    g_spread: float = 0.3
    """pendulum-g: gravity from 10 (1 - g_spread) to 10 (1 + g_spread)"""
    torque_spread: float = 0.0
    """pendulum-g: max torque from 2 (1 - torque_spread) to 2 (1 + torque_spread) (PPO only when > 0)"""
    length_spread: float = 0.5
    """cartpole-length: pole half-length from 0.5 (1 - length_spread) to 0.5 (1 + length_spread)"""
    max_steps: int = 50
    """episode limit of the point-mass tasks"""
    rounds: int = 4
    """server rounds (local-only: the same number of local training calls)"""
    ppo_steps: int = 1024
    """env steps per client per round (PPO or SAC)"""
    learning_rate: float = 3e-3
    """Adam step size (constant; SAC: actor, critics and alpha)"""
    sac_learning_starts: int = 256
    """SAC: uniform-random env steps at the start of every local training call (its replay buffer starts empty)"""
    hidden: int = 64
    """width of the two hidden layers of the actor and the critic"""
    eval_episodes: int = 8
    """evaluation episodes per (policy, env) pair"""
    dp_noise_multipliers: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    """privacy-utility curve: DP-FedAvg noise multipliers z (empty: no curve)"""
    dp_clip: float = 1.0
    """DP-FedAvg clip norm C of each client's update"""
    dp_delta: float = 1e-5
    """delta of the reported epsilon"""
    compressions: tuple[str, ...] = ("1/0", "0.1/0", "0.1/16", "0.01/0", "0.01/4")
    """return-vs-bytes curve: "ratio/levels" (top-k fraction in (0, 1], QSGD levels, 0 = float32) (empty: none)"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"federated: task must be one of {list(TASKS)}, got {self.task!r}")
        if self.agent not in AGENTS:
            raise ValueError(f"federated: agent must be one of {list(AGENTS)}, got {self.agent!r}")
        if self.agent == "sac" and self.task.startswith("cartpole"):
            raise ValueError(
                f"federated: agent 'sac' needs a Box-action task (point mass, pendulum), got {self.task!r}"
            )
        if self.agent == "sac" and self.torque_spread > 0:
            raise ValueError(
                "federated: agent 'sac' needs one action box for every client (SAC scales its actions to the env's "
                f"bounds, so the clients' critics would read an action differently), got torque_spread "
                f"{self.torque_spread!r}; use agent 'ppo' (its torques are clipped by each client's env)"
            )
        checks = {
            "num_clients": self.num_clients >= 2,
            "noise_low": 0 <= self.noise_low <= self.noise_high,
            "g_spread": 0 <= self.g_spread < 1,
            "torque_spread": 0 <= self.torque_spread < 1,
            "length_spread": 0 <= self.length_spread < 1,
            "sac_learning_starts": self.sac_learning_starts >= 0,
            "max_steps": self.max_steps >= 1,
            "rounds": self.rounds >= 1,
            "ppo_steps": self.ppo_steps >= 256,
            "learning_rate": self.learning_rate > 0,
            "hidden": self.hidden >= 1,
            "eval_episodes": self.eval_episodes >= 1,
            "dp_clip": self.dp_clip > 0,
            "dp_delta": 0 < self.dp_delta < 1,
            "bootstrap_reps": self.bootstrap_reps >= 1,
        }
        limits = {
            "num_clients": ">= 2",
            "noise_low": "in [0, noise_high]",
            "g_spread": "in [0, 1)",
            "torque_spread": "in [0, 1)",
            "length_spread": "in [0, 1)",
            "sac_learning_starts": ">= 0",
            "ppo_steps": ">= 256",
            "learning_rate": "> 0",
            "dp_clip": "> 0",
            "dp_delta": "in (0, 1)",
        }
        for key, ok in checks.items():
            if not ok:
                raise ValueError(f"federated: {key} must be {limits.get(key, '>= 1')}, got {getattr(self, key)!r}")
        for z in self.dp_noise_multipliers:
            if not z > 0:
                raise ValueError(f"federated: dp_noise_multipliers must be > 0, got {self.dp_noise_multipliers!r}")
        for c in self.compressions:
            parse_compression(c)


def parse_compression(spec: str) -> tuple[float, int]:
    """ "ratio/levels" -> (top-k ratio in (0, 1], QSGD levels >= 0)."""
    try:
        ratio_s, levels_s = str(spec).split("/")
        ratio, levels = float(ratio_s), int(levels_s)
    except ValueError:
        raise ValueError(f"federated: a compression must be 'ratio/levels' (e.g. '0.1/16'), got {spec!r}") from None
    if not 0 < ratio <= 1 or levels < 0:
        raise ValueError(f"federated: compression {spec!r} needs ratio in (0, 1] and levels >= 0")
    return ratio, levels


QUICK: dict[str, Any] = {
    "num_clients": 2,
    "rounds": 1,
    "ppo_steps": 256,
    "hidden": 16,
    "eval_episodes": 1,
    "max_steps": 20,
    "dp_noise_multipliers": (1.0,),
    "compressions": ("0.1/16",),
}


def _curve_runs(cfg: Config) -> list[tuple[str, dict[str, Any]]]:
    """(label, FederatedConfig overrides) of the curves' FedAvg runs."""
    runs = [
        (f"dp z={z:g}", {"dp_clip": cfg.dp_clip, "dp_noise_multiplier": z, "dp_delta": cfg.dp_delta})
        for z in cfg.dp_noise_multipliers
    ]
    for spec in cfg.compressions:
        ratio, levels = parse_compression(spec)
        runs.append((f"compress {spec}", {"compress_ratio": ratio, "compress_levels": levels}))
    return runs


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress: training env steps summed over methods, curve runs, clients, rounds and seeds."""
    return (len(METHODS) + len(_curve_runs(cfg))) * cfg.num_clients * cfg.rounds * cfg.ppo_steps * len(seeds)


def make_envs(cfg: Config) -> list:
    """The clients' vector envs (4 envs each)."""
    from nextrl.envs import CartPoleVectorEnv, HeteroPointMassVectorEnv, PendulumVectorEnv

    n = cfg.num_clients
    if cfg.task == "pointmass-noise":
        return [
            HeteroPointMassVectorEnv(4, variant=0, noise_std=float(s), max_steps=cfg.max_steps)
            for s in np.linspace(cfg.noise_low, cfg.noise_high, n)
        ]
    if cfg.task == "pointmass-variants":
        return [HeteroPointMassVectorEnv(4, variant=i % 4, max_steps=cfg.max_steps) for i in range(n)]
    if cfg.task == "pendulum-g":
        spread = [2 * i / (n - 1) - 1 for i in range(n)]
        return [
            PendulumVectorEnv(
                4, g=float(10.0 * (1 + cfg.g_spread * x)), max_torque=float(2.0 * (1 + cfg.torque_spread * x))
            )
            for x in spread
        ]
    if cfg.task == "cartpole-length":
        return [
            CartPoleVectorEnv(4, length=float(0.5 * (1 + cfg.length_spread * (2 * i / (n - 1) - 1)))) for i in range(n)
        ]
    return [CartPoleVectorEnv(4, init_low=-0.05 * (i + 1), init_high=0.05 * (i + 1)) for i in range(n)]


def make_trainer(cfg: Config, steps: int, gradient_steps: int = 1):
    """The clients' TrainFn (cfg.agent) for `steps` env steps per call; SAC takes `gradient_steps` per vector-env
    step (the centralized baseline: num_clients, so that its gradient steps per env step equal the clients')."""
    from nextrl.federated import client as fc

    if cfg.agent == "sac":
        from nextrl.agents import sac

        sac_cfg = sac.SACConfig(
            total_timesteps=steps,
            learning_starts=cfg.sac_learning_starts,
            batch_size=128,
            policy_lr=cfg.learning_rate,
            q_lr=cfg.learning_rate,
            hidden=(cfg.hidden, cfg.hidden),
            gradient_steps=gradient_steps,
        )
        return fc.sac_trainer(sac_cfg)
    from nextrl.agents import ppo

    ppo_cfg = ppo.PPOConfig(total_timesteps=steps, num_steps=64, learning_rate=cfg.learning_rate, anneal_lr=False)
    return fc.agent_trainer(ppo.train, ppo_cfg)


def make_task(cfg: Config):
    """(make_model, clients): the global model's constructor and one Client (cfg.agent) per heterogeneous env."""
    from nextrl.agents.networks import default_actor_critic
    from nextrl.federated import client as fc

    envs = make_envs(cfg)
    trainer = make_trainer(cfg, cfg.ppo_steps)
    clients = [fc.Client(e, trainer) for e in envs]
    space = envs[0]

    def make_model():
        if cfg.agent == "sac":
            return fc.SACModel(space.single_observation_space, space.single_action_space, (cfg.hidden, cfg.hidden))
        return default_actor_critic(space.single_observation_space, space.single_action_space, (cfg.hidden, cfg.hidden))

    return make_model, clients


def task_label(cfg: Config) -> str:
    n = cfg.num_clients
    return {
        "pointmass-noise": f"HeteroPointMass v0 x {n} noise {cfg.noise_low:g}-{cfg.noise_high:g}",
        "pointmass-variants": f"HeteroPointMass x {n} variants",
        "pendulum-g": f"Pendulum x {n} g 10 +-{cfg.g_spread:g}"
        + (f" max torque 2 +-{cfg.torque_spread:g}" if cfg.torque_spread else ""),
        "cartpole-init": f"CartPole x {n} init ranges",
        "cartpole-length": f"CartPole x {n} pole half-length 0.5 +-{cfg.length_spread:g}",
    }[cfg.task]


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
    """The returns matrix of one method and seed: [1, n] for fedavg / median (the global policy) and centralized
    (the pooled policy), [n, n] for local-only (row i: client i's own policy)."""
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
    elif method == "centralized":
        total = cfg.rounds * cfg.ppo_steps * cfg.num_clients
        pooled = fc.Client(fc.PooledVectorEnv([c.env for c in clients]), make_trainer(cfg, total, cfg.num_clients))
        one = dataclasses.replace(fed, rounds=1)
        policies = [fc.run(make_model, [pooled], one, seed=seed).model]
        if progress is not None:
            progress(total, f"{method} seed {seed}")
    else:
        policies = [fc.run(make_model, clients, dataclasses.replace(fed, aggregator=method), seed=seed, log=log).model]
    return returns_matrix(policies, clients, cfg, seed)


def run_curve_point(
    overrides: dict[str, Any], cfg: Config, seed: int, progress: Progress | None = None, label: str = ""
) -> dict[str, float]:
    """One FedAvg run with DP or compression: {"return": own-env return of the global policy (mean over clients),
    "epsilon": RDP epsilon after the last round (DP), "bytes_per_round": mean uplink bytes per round}."""
    import torch

    from nextrl.federated import client as fc

    torch.set_num_threads(1)
    make_model, clients = make_task(cfg)
    fed = fc.FederatedConfig(rounds=cfg.rounds, eval_episodes=1, **overrides)

    def log(_r, _m):
        if progress is not None:
            progress(cfg.ppo_steps * cfg.num_clients, f"{label} seed {seed}")

    res = fc.run(make_model, clients, fed, seed=seed, log=log)
    out = {
        "return": float(returns_matrix([res.model], clients, cfg, seed).mean()),
        "bytes_per_round": float(np.mean(res.bytes_sent)),
    }
    if res.epsilons:
        out["epsilon"] = res.epsilons[-1]
    return out


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    """Trains every method and curve point once per seed; scores (own-env and all-envs return) with bootstrap
    intervals; the curves' points with their intervals over seeds and plots."""
    if not seeds:
        raise ValueError("federated: seeds must not be empty")
    start = time.perf_counter()
    boot = Bootstrap(reps=cfg.bootstrap_reps)
    mats = {m: [run_method(m, cfg, s, progress) for s in seeds] for m in METHODS}
    own = {m: [float(np.mean(np.diagonal(x)) if x.shape[0] > 1 else x.mean()) for x in mats[m]] for m in METHODS}
    every = {m: [float(x.mean()) for x in mats[m]] for m in METHODS}
    task = task_label(cfg)
    steps = cfg.rounds * cfg.ppo_steps
    scores = []
    for m in METHODS:
        scores.append(make_score(task, m, "own-env return", own[m], boot, steps=steps))
        scores.append(make_score(task, m, "all-envs return", every[m], boot, steps=steps))
    curves: dict[str, list[dict[str, float]]] = {}
    for label, overrides in _curve_runs(cfg):
        curves[label] = [run_curve_point(overrides, cfg, s, progress, label) for s in seeds]
        scores.append(
            make_score(
                task, f"fedavg {label}", "own-env return", [p["return"] for p in curves[label]], boot, steps=steps
            )
        )
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
    for metric in ("own-env return", "all-envs return"):
        a, b = by[("fedavg", metric)].iqm, by[("centralized", metric)].iqm
        if a.high < b.low:
            findings.append(Finding(False, f"centralized beats fedavg on {metric}: federation costs return"))
        elif a.low > b.high:
            findings.append(Finding(True, f"fedavg beats centralized on {metric} (intervals apart)"))
        elif a.low > by[("local-only", metric)].iqm.high:
            findings.append(Finding(True, f"fedavg matches centralized on {metric}: the 95% intervals overlap"))
        else:
            findings.append(
                Finding(False, f"fedavg and centralized overlap on {metric}, but fedavg does not beat local-only")
            )
    plain = by[("fedavg", "own-env return")].iqm
    for label in curves:
        iv = by[(f"fedavg {label}", "own-env return")].iqm
        extra_txt = ""
        if label.startswith("dp"):
            extra_txt = f" (epsilon {curves[label][0]['epsilon']:.3g} at delta {cfg.dp_delta:g})"
        else:
            extra_txt = f" ({curves[label][0]['bytes_per_round']:.0f} bytes per round)"
        if iv.high < plain.low:
            findings.append(Finding(False, f"fedavg {label}{extra_txt} falls below plain fedavg (intervals apart)"))
        else:
            findings.append(Finding(True, f"fedavg {label}{extra_txt} keeps plain fedavg's return (intervals overlap)"))
    setup = [
        f"task {cfg.task}: {task}, {cfg.num_clients} clients of 4 envs each",
        f"every method: {cfg.rounds} rounds x {cfg.ppo_steps} {cfg.agent.upper()} env steps per client "
        f"(lr {cfg.learning_rate:g} constant, hidden {cfg.hidden}x{cfg.hidden}, "
        + (
            f"batch 128, {cfg.sac_learning_starts} random steps per training call"
            if cfg.agent == "sac"
            else "64-step rollouts"
        )
        + "); local-only: each client alone, same rounds; centralized: one agent on the pooled "
        f"{4 * cfg.num_clients} envs for {cfg.num_clients * cfg.rounds * cfg.ppo_steps} env steps in one call"
        + (
            f" ({cfg.num_clients} SAC gradient steps per pooled step: the clients' gradient steps per env step)"
            if cfg.agent == "sac"
            else " (PPO: 64-step rollouts of every pooled env per update)"
        ),
        f"evaluation: deterministic final policy, {cfg.eval_episodes} episodes per (policy, env) pair",
        f"privacy curve: DP-FedAvg, clip {cfg.dp_clip:g}, all clients every round (q = 1), noise multipliers "
        f"{list(cfg.dp_noise_multipliers)}, Opacus RDP epsilon at delta {cfg.dp_delta:g} after {cfg.rounds} rounds",
        f"compression curve: top-k ratio / QSGD levels {list(cfg.compressions)}, error feedback per client, "
        "uplink bytes of the encoded messages",
    ]
    return ExperimentResult(
        name=NAME,
        title=f"federated: federated vs centralized vs local-only {cfg.agent.upper()} on heterogeneous clients "
        f"({cfg.task})",
        summary=(
            "Does sharing one policy across clients with different dynamics or rewards (FedAvg, coordinate "
            "median) beat each client training alone on the same per-client budget, on the client's own env and "
            "on every client's env, and how close does it come to one agent trained on the pooled envs with the same "
            "total steps? What do client-level differential privacy and compressed updates cost in return?"
        ),
        seeds=list(seeds),
        config=dataclasses.asdict(cfg),
        setup=setup,
        scores=scores,
        findings=findings,
        bootstrap=boot,
        wall_time_s=time.perf_counter() - start,
        extra={"returns": {m: [x.tolist() for x in mats[m]] for m in METHODS}, "curves": curves},
        figures=[_curves_figure(cfg, curves, by, plain)] if curves else [],
    )


def _curves_figure(cfg: Config, curves, by, plain) -> Callable:
    """A plot hook: return against epsilon (DP) and against uplink bytes per round (compression), IQM over seeds
    with its 95% interval; the dashed band is plain FedAvg's."""

    def draw(out_dir) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = []
        for kind, key, xlabel in (
            ("dp", "epsilon", f"epsilon at delta {cfg.dp_delta:g} (Opacus RDP)"),
            ("compress", "bytes_per_round", "uplink bytes per round (all clients)"),
        ):
            labels = [lab for lab in curves if lab.startswith(kind)]
            if not labels:
                continue
            fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
            xs = [float(np.mean([p[key] for p in curves[lab]])) for lab in labels]
            ivs = [by[(f"fedavg {lab}", "own-env return")].iqm for lab in labels]
            ys = [iv.point for iv in ivs]
            err = [[iv.point - iv.low for iv in ivs], [iv.high - iv.point for iv in ivs]]
            ax.errorbar(xs, ys, yerr=err, fmt="o-", capsize=3, label="fedavg with " + kind)
            for x, y, lab in zip(xs, ys, labels, strict=True):
                ax.annotate(lab.split(" ", 1)[1], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
            ax.axhspan(plain.low, plain.high, color="C1", alpha=0.2, label="plain fedavg (95% CI)")
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("own-env return of the global policy")
            ax.set_title(f"{cfg.task}: {'privacy' if kind == 'dp' else 'compression'}-utility", fontsize=9)
            ax.legend(fontsize=8)
            fig.tight_layout()
            name = f"{'privacy' if kind == 'dp' else 'compression'}_curve.png"
            fig.savefig(out_dir / name)
            plt.close(fig)
            names.append(name)
        return names

    return draw


__all__ = [
    "AGENTS",
    "DESCRIPTION",
    "METHODS",
    "NAME",
    "QUICK",
    "TASKS",
    "Config",
    "make_envs",
    "make_task",
    "make_trainer",
    "parse_compression",
    "run",
    "run_curve_point",
    "run_method",
    "total_work",
]
