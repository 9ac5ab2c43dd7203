"""quantum-rl: a quantum policy against classical networks on the same budget, and barren plateaus measured.

1. REINFORCE (16 envs x 64 steps, the learned MLP baseline) on CartPole-v1, `train_steps` env steps per seed, with
   three actors:
     softmax-pqc   Jerbi et al. 2021's softmax-PQC (`network="softmax_pqc"`, 4 qubits, 5 re-uploading layers,
                   70 trainable parameters) at its preset rates;
     mlp-matched   a tanh MLP 4 -> `matched_hidden` -> 2 with about as many parameters (72 at width 10);
     mlp-default   the default 4 -> 64 -> 64 -> 2 tanh MLP (4,610 parameters);
     softmax-pqc-shots  the same softmax-PQC trained THROUGH SHOTS: its circuit runs on
                   quantum.backends.shots.ShotSimulator (`shots` shots per Pauli string and circuit evaluation),
                   every gradient a parameter-shift estimate from shot read-outs (acting also samples shots);
                   its greedy return is that of the learned parameters read out exactly;
   the MLP agents at `mlp_learning_rate` (0.01, the softmax-PQC's angle and baseline rate; the PQC's input
   scales and action weights learn at 0.1).
   DQN (1 env, `dqn_steps` env steps, the DQN defaults otherwise) with two Q-networks:
     dqn-skolik    Skolik et al. 2022's circuit (`network="skolik"`, 4 qubits, 5 layers, 70 parameters, Q-values
                   w_a (1 + <Z0Z1>) / 2 and w_a (1 + <Z2Z3>) / 2, Skolik's per-group rates);
     dqn-mlp       the default 4 -> 64 -> 64 -> 2 ReLU MLP (4,610 parameters) at DQN's default rate;
   greedy return and wall-clock as above (no solve timing: DQN has no update log here).
   Per seed: the greedy return over `eval_episodes` episodes after training, the env steps and training
   seconds until a greedy evaluation (every `solve_every` updates, `solve_episodes` episodes, its own time not
   counted) first reaches `solve_threshold` (475, CartPole-v1's solve level; "not reached" counts as the
   budget), the run's training wall-clock, learning curves (mean of the last 20
   training episodes at evenly spaced steps) with bootstrap bands, and the actor's parameter count. Scores are
   over seeds: interquartile means with stratified-bootstrap 95% intervals (evaluation.stats).
2. Entanglement of the trained policy circuits' states on the observations they visit: per seed, the greedy
   policy runs `entanglement_steps` steps in 4 envs; on those observations nextrl's simulator gives the
   circuit's final states (quantum.entanglement.circuit_states), and the study reports their mean
   Meyer-Wallach Q and the entanglement entropy of qubits {0, 1} against {2, 3}, for the trained parameters and
   for `entanglement_draws` random parameter sets of the initialization's distribution (angles uniform in
   [0, 2 pi), scales 1) on the same observations, against the Haar mean (2^n - 2) / (2^n + 1).
3. Barren plateaus: for the same circuit family (skolik_reuploading: RY, RZ, CZ ring, RX(lambda x) per layer)
   with n qubits and L layers read out as the global parity <Z_0 ... Z_{n-1}>, over `draws` uniformly random
   parameter sets (angles in [0, 2 pi), scales 1, a fixed random input): the variance of d<Z...Z>/d theta_0 and
   of <Z...Z> itself, with bootstrap 95% intervals over the draws; the mean over all angles k of
   Var[d/d theta_k]; and, for contrast, the same for the LOCAL cost <Z_0> (Cerezo et al. 2021: a local cost keeps
   its gradients at shallow depth). For deep circuits (an approximate 2-design) the expectation of a traceless
   Pauli has the closed-form Haar variance 1 / (2^n + 1); the report compares the deepest measured variance with
   it and gives the fitted slope of log2 Var[d/d theta_0] against n at the shallowest and deepest depth, global
   and local, with bootstrap intervals (draws resampled per cell): a slope interval below 0 is an exponential
   fall with the qubits (a barren plateau; about -1 per qubit for a 2-design).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nextrl.evaluation.results import Bootstrap, ExperimentResult, Finding, make_curve, make_score

NAME = "quantum-rl"
DESCRIPTION = "softmax-PQC vs parameter-matched and default MLP policies (REINFORCE, CartPole) and barren plateaus"
REINFORCE_AGENTS = ("softmax-pqc", "softmax-pqc-shots", "mlp-matched", "mlp-default")
DQN_AGENTS = ("dqn-skolik", "dqn-mlp")
AGENTS = REINFORCE_AGENTS + DQN_AGENTS
QUANTUM_AGENTS = ("softmax-pqc", "softmax-pqc-shots", "dqn-skolik")
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Config:
    train_steps: int = 60_000
    """REINFORCE env steps per agent and seed (16 envs x 64 steps per update)"""
    eval_episodes: int = 20
    """greedy evaluation episodes after training"""
    matched_hidden: int = 10
    """hidden width of the parameter-matched MLP (4 -> h -> 2: 7h + 2 parameters)"""
    mlp_learning_rate: float = 0.01
    """learning rate of the MLP agents (actor and baseline): 0.01 is the softmax-PQC preset's angle and baseline
    rate; at REINFORCE's default 1e-3 the MLPs lag far behind (measured: greedy IQM 63 matched, 127 default)"""
    solve_threshold: float = 475.0
    """greedy mean return that counts as solved"""
    solve_every: int = 4
    """updates (16 x 64 env steps each) between the greedy evaluations that time the solve"""
    solve_episodes: int = 8
    """episodes of each of those evaluations (4 envs); their time is not counted in the solve time"""
    shots: int = 100
    """shots per Pauli string and circuit evaluation of the softmax-pqc-shots agent"""
    dqn_steps: int = 10_000
    """DQN env steps per agent and seed (1 env)"""
    entanglement_steps: int = 64
    """greedy vector-env steps (4 envs) whose observations the entanglement is measured on"""
    entanglement_draws: int = 8
    """random parameter sets (the initialization's distribution) of the entanglement reference"""
    curve_points: int = 12
    """points of the learning curves"""
    qubits: tuple[int, ...] = (2, 4, 6, 8)
    """qubit counts of the gradient-variance study"""
    depths: tuple[int, ...] = (1, 2, 4, 8, 16)
    """layer counts of the gradient-variance study"""
    draws: int = 200
    """random parameter sets per (qubits, depth)"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""

    def __post_init__(self):
        fn = "quantum-rl"
        for key, low in (
            ("train_steps", 1024),
            ("eval_episodes", 1),
            ("matched_hidden", 1),
            ("curve_points", 2),
            ("draws", 2),
            ("shots", 1),
            ("dqn_steps", 1024),
            ("entanglement_steps", 1),
            ("entanglement_draws", 1),
            ("solve_every", 1),
            ("solve_episodes", 1),
            ("bootstrap_reps", 1),
        ):
            if getattr(self, key) < low:
                raise ValueError(f"{fn}: {key} must be >= {low}, got {getattr(self, key)!r}")
        if not self.mlp_learning_rate > 0:
            raise ValueError(f"{fn}: mlp_learning_rate must be > 0, got {self.mlp_learning_rate!r}")
        if not 0 < self.solve_threshold <= 500:
            raise ValueError(f"{fn}: solve_threshold must be in (0, 500], got {self.solve_threshold!r}")
        for key in ("qubits", "depths"):
            v = getattr(self, key)
            if not v or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in v):
                raise ValueError(f"{fn}: {key} must be one or more ints >= 1, got {v!r}")
        if min(self.qubits) < 2:
            raise ValueError(f"{fn}: qubits must be >= 2 (the CZ ring), got {self.qubits!r}")


QUICK: dict[str, Any] = {
    "train_steps": 2048,
    "eval_episodes": 2,
    "curve_points": 3,
    "qubits": (2, 3),
    "depths": (1, 2),
    "draws": 8,
    "solve_episodes": 2,
    "solve_every": 1,
    "dqn_steps": 1024,
    "entanglement_steps": 4,
    "entanglement_draws": 2,
}


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress: training env steps over agents and seeds, plus one per gradient-variance cell."""
    per_seed = len(REINFORCE_AGENTS) * cfg.train_steps + len(DQN_AGENTS) * cfg.dqn_steps
    return per_seed * len(seeds) + len(cfg.qubits) * len(cfg.depths)


def _cartpole(num_envs: int):
    import gymnasium as gym

    import nextrl  # noqa: F401  (registers nextrl/CartPole-v1)

    return gym.make_vec("nextrl/CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")


def matched_mlp(hidden: int):
    """The parameter-matched actor: Linear(4, h), tanh, Linear(h, 2)."""
    from torch import nn

    return nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 2))


def exact_readout(policy):
    """`policy` itself, or for a policy whose circuit runs elsewhere (the shots agent) a copy on nextrl's exact
    simulator: the learned parameters read out without shot noise."""
    import copy

    from nextrl.quantum.backends.simulator import SIMULATOR

    layer = getattr(getattr(policy, "actor", None), "pqc", None)
    if layer is None or layer.backend is SIMULATOR:
        return policy
    moved = copy.deepcopy(policy)
    moved.actor.pqc.backend = SIMULATOR
    return moved


def train_agent(agent: str, cfg: Config, seed: int):
    """(TrainResult, [(global_step, training seconds, greedy mean)] of the greedy evaluations every `solve_every`
    updates (REINFORCE agents; [] for DQN), the run's training seconds) of one agent and seed. Training seconds
    exclude those evaluations."""
    import torch

    from nextrl.agents import dqn, reinforce
    from nextrl.agents.common import evaluate
    from nextrl.agents.networks import PRESET_PARAM_LRS
    from nextrl.agents.quantum_policies import softmax_pqc_policy
    from nextrl.agents.rollout import act_fn
    from nextrl.quantum.backends.shots import ShotSimulator

    if agent not in AGENTS:
        raise ValueError(f"quantum-rl: agent must be one of {', '.join(AGENTS)}, got {agent!r}")
    torch.set_num_threads(1)
    if agent in DQN_AGENTS:
        t0 = time.perf_counter()
        dc = dqn.DQNConfig(total_timesteps=cfg.dqn_steps, network="skolik" if agent == "dqn-skolik" else "mlp")
        result = dqn.train(_cartpole(1), dc, seed=seed)
        return result, [], time.perf_counter() - t0
    network = "softmax_pqc" if agent == "softmax-pqc" else "mlp"
    lr = {} if network != "mlp" else {"learning_rate": cfg.mlp_learning_rate}
    actor = None
    if agent == "softmax-pqc-shots":  # the preset's actor and rates, its circuit on the shot simulator
        lr = {"learning_rate": 0.01, "param_lrs": PRESET_PARAM_LRS["softmax_pqc"]["actor_critic"]}
        torch.manual_seed(seed)
        actor = softmax_pqc_policy(
            _cartpole(1).single_observation_space, 2, backend=ShotSimulator(cfg.shots, seed=seed)
        )
    rc = reinforce.ReinforceConfig(total_timesteps=cfg.train_steps, num_steps=64, network=network, **lr)
    evals: list[tuple[int, float, float]] = []
    env = _cartpole(4)

    class Log:
        def __init__(self):
            self.result, self.updates, self.t0, self.paused = None, 0, time.perf_counter(), 0.0

        def watch(self, result):
            self.result = result

        def __call__(self, step, _metrics):
            self.updates += 1
            if self.updates % cfg.solve_every:
                return
            t = time.perf_counter()
            policy = exact_readout(self.result.modules["policy"])
            greedy = evaluate(act_fn(policy, env.single_action_space), env, cfg.solve_episodes, seed=5000 + seed)
            evals.append((int(step), t - self.t0 - self.paused, float(greedy.mean())))
            self.paused += time.perf_counter() - t

    if agent == "mlp-matched":
        torch.manual_seed(seed)
        actor = matched_mlp(cfg.matched_hidden)
    log = Log()
    result = reinforce.train(_cartpole(16), rc, seed=seed, log=log, actor=actor)
    return result, evals, time.perf_counter() - log.t0 - log.paused


def greedy_act(agent: str, result):
    """act(obs [N, 4] numpy) -> greedy actions [N] of a trained agent (the shots agent read out exactly)."""
    from nextrl.agents import dqn
    from nextrl.agents.rollout import act_fn

    if agent in DQN_AGENTS:
        return dqn.greedy_policy(result.modules["q_network"])
    return act_fn(exact_readout(result.modules["policy"]), _cartpole(1).single_action_space)


def trained_layer(agent: str, result):
    """The QuantumLayer of a trained quantum agent (the softmax-PQC's circuit, or DQN's Skolik circuit)."""
    if agent == "dqn-skolik":
        return result.modules["q_network"].layer
    if agent in ("softmax-pqc", "softmax-pqc-shots"):
        return result.modules["policy"].actor.pqc
    raise ValueError(f"quantum-rl: agent must be one of {', '.join(QUANTUM_AGENTS)}, got {agent!r}")


def visited_observations(act, steps: int, seed: int) -> np.ndarray:
    """Observations [4 * steps, 4] that `act` visits in 4 CartPole envs over `steps` vector-env steps from
    reset(seed) (episodes restart as they end)."""
    env = _cartpole(4)
    obs, _ = env.reset(seed=seed)
    seen = []
    for _ in range(steps):
        seen.append(np.asarray(obs, dtype=np.float64))
        obs, *_ = env.step(act(obs))
    return np.concatenate(seen)


def entanglement(layer, obs: np.ndarray, draws: int, seed: int) -> dict[str, float]:
    """Mean Meyer-Wallach Q and mean entropy (bits) of qubits {0, .., n/2 - 1} of the states `layer`'s circuit
    prepares on obs [N, F]: with the layer's parameters ("trained_*") and averaged over `draws` random parameter
    sets, angles uniform in [0, 2 pi), scales 1 ("random_*"); and the Haar mean of Q."""
    from nextrl.quantum.entanglement import circuit_states, entanglement_entropy, haar_meyer_wallach, meyer_wallach

    vc = layer.circuit
    half = list(range(vc.num_qubits // 2))

    def measure(w, s):
        states = circuit_states(vc, obs, w, s)
        return float(meyer_wallach(states).mean()), float(entanglement_entropy(states, half).mean())

    q, e = measure(layer.weights.detach().double().numpy(), layer.scales.detach().double().numpy())
    rng = np.random.default_rng(seed)
    rand = [measure(rng.uniform(0, 2 * math.pi, vc.num_weights), np.ones(vc.num_scales)) for _ in range(draws)]
    return {
        "trained_q": q,
        "trained_entropy": e,
        "random_q": float(np.mean([r[0] for r in rand])),
        "random_entropy": float(np.mean([r[1] for r in rand])),
        "haar_q": haar_meyer_wallach(vc.num_qubits),
    }


def solve_point(evals, threshold: float) -> tuple[int | None, float | None]:
    """(env step, training seconds) of the first greedy evaluation whose mean reaches `threshold` (None, None if
    none does)."""
    for step, secs, value in evals:
        if value >= threshold:
            return step, secs
    return None, None


def curve(result, grid: np.ndarray) -> np.ndarray:
    """Mean of the last 20 training episodes ended by each step of `grid` (NaN before the first episode)."""
    r = np.asarray(result.episode_returns, dtype=np.float64)
    ends = np.asarray(result.episode_end_steps)
    out = np.full(len(grid), np.nan)
    for j, g in enumerate(grid):
        k = int(np.searchsorted(ends, g, side="right"))
        if k:
            out[j] = r[max(0, k - 20) : k].mean()
    return out


def gradient_draws(num_qubits: int, num_layers: int, draws: int, seed: int, *, local: bool = False):
    """(grads [draws, W], values [draws], weights [draws, W], x [1, n]): d<O>/d theta_k by autograd (adjoint) and
    <O> of skolik_reuploading(num_qubits, num_layers) (float64, scales 1) at one random input x uniform in
    [-1, 1], over `draws` parameter sets uniform in [0, 2 pi); O the global parity Z_0 ... Z_{n-1}, or Z_0 alone
    when `local`."""
    import torch

    from nextrl.quantum import QuantumLayer
    from nextrl.quantum.ansatz import skolik_reuploading

    gen = torch.Generator().manual_seed(seed)
    label = "I" * (num_qubits - 1) + "Z" if local else "Z" * num_qubits
    layer = QuantumLayer(skolik_reuploading(num_qubits, num_layers, observables=[label]), dtype=torch.float64)
    x = torch.rand(1, num_qubits, generator=gen, dtype=torch.float64) * 2 - 1
    grads, values, weights = [], [], []
    for _ in range(draws):
        with torch.no_grad():
            layer.weights.copy_(torch.rand(layer.weights.shape, generator=gen, dtype=torch.float64) * 2 * math.pi)
        weights.append(layer.weights.detach().numpy().copy())
        layer.weights.grad = None
        out = layer(x)[0, 0]
        out.backward()
        grads.append(layer.weights.grad.numpy().copy())
        values.append(float(out.detach()))
    return np.array(grads), np.array(values), np.array(weights), x.numpy()


def gradient_variance(num_qubits: int, num_layers: int, draws: int, seed: int) -> tuple[float, float]:
    """(Var[d<Z...Z>/d theta_0], Var[<Z...Z>]) over `draws` parameter sets (gradient_draws, global parity)."""
    grads, values, _, _ = gradient_draws(num_qubits, num_layers, draws, seed)
    return float(np.var(grads[:, 0], ddof=1)), float(np.var(values, ddof=1))


def variance_interval(samples: np.ndarray, boot: Bootstrap) -> tuple[float, float, float]:
    """(unbiased variance of samples [N], bootstrap percentile interval) with `boot`'s replicates and seed."""
    from nextrl.evaluation.stats import stratified_bootstrap_ci

    iv = stratified_bootstrap_ci(
        np.asarray(samples, dtype=np.float64),
        lambda x: np.var(x, axis=-2, ddof=1).mean(axis=-1),
        confidence=boot.confidence,
        reps=boot.reps,
        seed=boot.seed,
    )
    return iv.point, iv.low, iv.high


def slope_interval(qubits, samples: list[np.ndarray], boot: Bootstrap) -> tuple[float, float, float]:
    """Least-squares slope of log2 Var[samples] against qubits (one sample array per qubit count) and its
    percentile interval over `boot.reps` resamples of every array (with replacement, independently)."""
    q = np.asarray(qubits, dtype=np.float64)
    point = float(np.polyfit(q, np.log2([np.var(v, ddof=1) for v in samples]), 1)[0])
    rng = np.random.default_rng(boot.seed)
    reps = np.empty(boot.reps)
    for r in range(boot.reps):
        var = [np.var(v[rng.integers(0, len(v), len(v))], ddof=1) for v in samples]
        reps[r] = np.polyfit(q, np.log2(np.maximum(var, 1e-300)), 1)[0]
    alpha = 1.0 - boot.confidence
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return point, float(low), float(high)


def _plot_variance(table: dict, cfg: Config) -> Callable[[Path], list[str]]:
    def figure(out: Path) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        for n in cfg.qubits:
            cells = [table[f"{n}x{d}"] for d in cfg.depths]
            g = np.array([[c["grad_var"], c["grad_var_low"], c["grad_var_high"]] for c in cells])
            loc = np.array([[c["local_grad_var"], c["local_grad_var_low"], c["local_grad_var_high"]] for c in cells])
            v = [c["value_var"] for c in cells]
            (line,) = axes[0].plot(cfg.depths, g[:, 0], "o-", label=f"{n} qubits")
            axes[0].fill_between(cfg.depths, g[:, 1], g[:, 2], color=line.get_color(), alpha=0.2)
            axes[1].plot(cfg.depths, loc[:, 0], "o-", color=line.get_color(), label=f"{n} qubits")
            axes[1].fill_between(cfg.depths, loc[:, 1], loc[:, 2], color=line.get_color(), alpha=0.2)
            axes[2].plot(cfg.depths, v, "o-", color=line.get_color(), label=f"{n} qubits")
            axes[2].axhline(1 / (2**n + 1), ls="--", color=line.get_color(), lw=0.8)
        titles = (
            "global: Var[d<Z...Z>/d theta_0] (95% CI)",
            "local: Var[d<Z_0>/d theta_0] (95% CI)",
            "Var[<Z...Z>] (dashed: Haar 1/(2^n+1))",
        )
        for ax, title in zip(axes, titles):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("layers")
            ax.set_title(title)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "gradient_variance.png", dpi=100)
        plt.close(fig)
        return ["gradient_variance.png"]

    return figure


def _compare(a: str, b: str, ia, ib, what: str) -> Finding:
    head = f"{what}: {a} IQM {ia.point:.1f} [{ia.low:.1f}, {ia.high:.1f}] vs {b} {ib.point:.1f} [{ib.low:.1f}, "
    head += f"{ib.high:.1f}]"
    if ia.low > ib.high:
        return Finding(True, head + f": {a} is ahead (intervals do not overlap)")
    if ia.high < ib.low:
        return Finding(False, head + f": {b} is ahead (intervals do not overlap)")
    return Finding(False, head + ": the intervals overlap, no difference shown")


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    """Trains every agent once per seed, measures the entanglement of the quantum ones, then the gradient-variance
    grid; scores with bootstrap intervals."""
    if not seeds:
        raise ValueError("quantum-rl: seeds must not be empty")
    import torch

    from nextrl.agents.common import evaluate

    start = time.perf_counter()
    boot = Bootstrap(reps=cfg.bootstrap_reps)
    task = "CartPole-v1"
    grid = np.linspace(cfg.train_steps / cfg.curve_points, cfg.train_steps, cfg.curve_points).astype(np.int64)
    per: dict[str, dict[str, list]] = {
        a: {"greedy": [], "steps": [], "seconds": [], "wall": [], "curve": [], "evals": []} for a in AGENTS
    }
    ent: dict[str, list[dict[str, float]]] = {a: [] for a in QUANTUM_AGENTS}
    params: dict[str, int] = {}
    for agent in AGENTS:
        for seed in seeds:
            result, evals, train_s = train_agent(agent, cfg, seed)
            module = result.modules["q_network" if agent in DQN_AGENTS else "policy"]
            actor = module if agent in DQN_AGENTS else module.actor
            params[agent] = sum(p.numel() for p in actor.parameters())
            act = greedy_act(agent, result)
            greedy = evaluate(act, _cartpole(4), cfg.eval_episodes, seed=1000 + seed)
            step, secs = solve_point(evals, cfg.solve_threshold)
            d = per[agent]
            d["greedy"].append(float(greedy.mean()))
            d["steps"].append(step)
            d["seconds"].append(secs)
            d["wall"].append(float(train_s))
            d["evals"].append(evals)
            if agent in REINFORCE_AGENTS:
                d["curve"].append(curve(result, grid))
            if agent in QUANTUM_AGENTS:
                obs = visited_observations(act, cfg.entanglement_steps, seed=2000 + seed)
                ent[agent].append(entanglement(trained_layer(agent, result), obs, cfg.entanglement_draws, seed))
            if progress is not None:
                progress(cfg.dqn_steps if agent in DQN_AGENTS else cfg.train_steps, f"{agent} seed {seed}")
    torch.set_num_threads(1)
    table: dict[str, dict[str, float]] = {}
    draws: dict[tuple[str, int, int], np.ndarray] = {}
    for n in cfg.qubits:
        for depth in cfg.depths:
            grads, values, _, _ = gradient_draws(n, depth, cfg.draws, seed=1000 * n + depth)
            local, _, _, _ = gradient_draws(n, depth, cfg.draws, seed=1000 * n + depth, local=True)
            draws[("global", n, depth)], draws[("local", n, depth)] = grads[:, 0], local[:, 0]
            g, g_lo, g_hi = variance_interval(grads[:, 0], boot)
            lg, lg_lo, lg_hi = variance_interval(local[:, 0], boot)
            v, v_lo, v_hi = variance_interval(values, boot)
            table[f"{n}x{depth}"] = {
                "qubits": n,
                "layers": depth,
                "grad_var": g,
                "grad_var_low": g_lo,
                "grad_var_high": g_hi,
                "grad_var_all_mean": float(np.var(grads, axis=0, ddof=1).mean()),
                "local_grad_var": lg,
                "local_grad_var_low": lg_lo,
                "local_grad_var_high": lg_hi,
                "value_var": v,
                "value_var_low": v_lo,
                "value_var_high": v_hi,
                "haar": 1 / (2**n + 1),
            }
            if progress is not None:
                progress(1, f"gradient variance {n} qubits x {depth} layers")

    scores, curves = [], []
    for agent in AGENTS:
        d = per[agent]
        steps_budget = cfg.dqn_steps if agent in DQN_AGENTS else cfg.train_steps
        scores.append(make_score(task, agent, "greedy return", d["greedy"], boot, steps=steps_budget))
        if agent in REINFORCE_AGENTS:
            steps = [float(cfg.train_steps) if s is None else float(s) for s in d["steps"]]
            metric = f"env steps to {cfg.solve_threshold:g} (budget if never)"
            scores.append(make_score(task, agent, metric, steps, boot))
            curves.append(
                make_curve(task, agent, "mean of last 20 training returns", grid, np.vstack(d["curve"]), boot)
            )
        scores.append(make_score(task, agent, "wall-clock s", d["wall"], boot, steps=steps_budget))
    for agent in QUANTUM_AGENTS:
        for key, metric in (
            ("trained_q", "Meyer-Wallach Q, trained, visited obs"),
            ("random_q", "Meyer-Wallach Q, random parameters, same obs"),
            ("trained_entropy", "entropy of qubits {0,1} (bits), trained"),
            ("random_entropy", "entropy of qubits {0,1} (bits), random parameters"),
        ):
            scores.append(make_score(task, agent, metric, [e[key] for e in ent[agent]], boot))
    by = {(s.agent, s.metric): s for s in scores}
    findings = []
    for a, b in (
        ("softmax-pqc", "mlp-matched"),
        ("softmax-pqc", "mlp-default"),
        ("softmax-pqc-shots", "softmax-pqc"),
        ("dqn-skolik", "dqn-mlp"),
    ):
        findings.append(_compare(a, b, by[(a, "greedy return")].iqm, by[(b, "greedy return")].iqm, "greedy return"))
    for agent in REINFORCE_AGENTS:
        solved = [s for s in per[agent]["seconds"] if s is not None]
        text = f"{agent}: {len(solved)} of {len(seeds)} seeds reached {cfg.solve_threshold:g}"
        text += f" within {cfg.train_steps} steps"
        if solved:
            text += f", after {min(solved):.1f} to {max(solved):.1f} s"
        findings.append(Finding(bool(solved), text))
    for agent in QUANTUM_AGENTS:
        t, r = (
            by[(agent, "Meyer-Wallach Q, trained, visited obs")].iqm,
            by[(agent, "Meyer-Wallach Q, random parameters, same obs")].iqm,
        )
        haar = ent[agent][0]["haar_q"]
        text = f"{agent}: Meyer-Wallach Q of the trained circuit's states on visited observations IQM {t.point:.3f} "
        text += f"[{t.low:.3f}, {t.high:.3f}], random parameters {r.point:.3f} [{r.low:.3f}, {r.high:.3f}], Haar "
        text += f"{haar:.3f}"
        if t.high < r.low:
            findings.append(Finding(True, text + ": training made the states less entangled"))
        elif t.low > r.high:
            findings.append(Finding(True, text + ": training made the states more entangled"))
        else:
            findings.append(Finding(False, text + ": no change from the random circuits shown"))
    deep, shallow = max(cfg.depths), min(cfg.depths)
    ratios = [table[f"{n}x{deep}"]["value_var"] * (2**n + 1) for n in cfg.qubits]
    findings.append(
        Finding(
            all(0.5 < r < 2 for r in ratios),
            f"Var[<Z...Z>] at {deep} layers / Haar 1/(2^n+1): "
            + ", ".join(f"{n} qubits {r:.2f}" for n, r in zip(cfg.qubits, ratios))
            + " (1: the circuit is as random as a 2-design there)",
        )
    )
    slopes: dict[str, list[float]] = {}
    if len(cfg.qubits) >= 2:
        for kind in ("global", "local"):
            for depth in sorted({shallow, deep}):
                pt, lo, hi = slope_interval(cfg.qubits, [draws[(kind, n, depth)] for n in cfg.qubits], boot)
                slopes[f"{kind} {depth} layers"] = [pt, lo, hi]
                what = (
                    "interval below 0: the variance falls exponentially with the qubits, a barren plateau"
                    if hi < 0
                    else "no exponential fall shown"
                )
                findings.append(
                    Finding(
                        hi < 0,
                        f"{kind} cost, {depth} layers: log2 Var[d/d theta_0] changes by {pt:+.2f} [{lo:+.2f}, "
                        f"{hi:+.2f}] per qubit ({what}; a 2-design's 1/2^n is -1 per qubit)",
                    )
                )
    setup = [
        f"REINFORCE on CartPole-v1, 16 envs x 64 steps, {cfg.train_steps} env steps per run, learned MLP baseline "
        f"(64x64) for every agent; DQN 1 env, {cfg.dqn_steps} env steps; parameters: "
        + ", ".join(f"{a} {params[a]}" for a in AGENTS),
        f"softmax-pqc-shots: the softmax-PQC trained on the shot simulator, {cfg.shots} shots per Pauli string and "
        "circuit evaluation, parameter-shift gradients from shot read-outs; its returns read the learned "
        "parameters out exactly",
        f"greedy return over {cfg.eval_episodes} episodes after training (reset seed 1000 + seed); solve: mean of "
        f"greedy mean over {cfg.solve_episodes} episodes >= {cfg.solve_threshold:g} in an evaluation every "
        f"{cfg.solve_every} updates ({cfg.solve_every * 1024} env steps); seconds are training wall-clock on this "
        f"machine without those evaluations, one thread per run; MLP learning rate {cfg.mlp_learning_rate:g}",
        f"entanglement: greedy policy, 4 envs x {cfg.entanglement_steps} steps from reset seed 2000 + seed; "
        f"Meyer-Wallach Q and the entropy of qubits {{0, 1}} of the circuit's states on those observations, "
        f"trained vs {cfg.entanglement_draws} random parameter sets (angles uniform in [0, 2 pi), scales 1)",
        f"gradient variance: skolik_reuploading, qubits {list(cfg.qubits)}, layers {list(cfg.depths)}, "
        f"{cfg.draws} parameter draws each, global parity and local Z_0 read-outs, d/d theta_0 by autograd "
        "(adjoint); intervals: bootstrap over the draws",
    ]
    return ExperimentResult(
        name=NAME,
        title="quantum-rl: quantum vs classical policies and Q-networks, entanglement, barren plateaus",
        summary=(
            "Does a softmax-PQC policy (trained exactly or through shots) learn CartPole as well or as fast as MLPs "
            "with the same and with many more parameters on the same env-step budget, does Skolik's quantum "
            "Q-network match an MLP's, how entangled are the trained circuits' states, and how does the gradient "
            "of the circuit family vanish with width and depth?"
        ),
        seeds=list(seeds),
        config=dataclasses.asdict(cfg),
        setup=setup,
        scores=scores,
        curves=curves,
        findings=findings,
        references=[
            "Jerbi, Gyurik, Marshall, Briegel, Dunjko 2021, Parametrized quantum policies for reinforcement learning",
            "Skolik, Jerbi, Dunjko 2022, Quantum agents in the Gym, Quantum 6, 720",
            "Meyer, Wallach 2002, Global entanglement in multiparticle systems, J. Math. Phys. 43, 4273",
            "McClean, Boixo, Smelyanskiy, Babbush, Neven 2018, Barren plateaus in quantum neural network training "
            "landscapes, Nat. Commun. 9, 4812",
            "Cerezo, Sone, Volkoff, Cincio, Coles 2021, Cost function dependent barren plateaus, Nat. Commun. 12, 1791",
        ],
        bootstrap=boot,
        wall_time_s=time.perf_counter() - start,
        extra={
            "parameters": params,
            "per_seed": {a: {k: v for k, v in per[a].items() if k != "curve"} for a in AGENTS},
            "entanglement": ent,
            "gradient_variance": table,
            "grad_var_slopes_per_qubit": slopes,
        },
        figures=[_plot_variance(table, cfg)],
    )


__all__ = [
    "AGENTS",
    "DESCRIPTION",
    "DQN_AGENTS",
    "NAME",
    "QUANTUM_AGENTS",
    "QUICK",
    "REINFORCE_AGENTS",
    "Config",
    "curve",
    "entanglement",
    "exact_readout",
    "gradient_draws",
    "gradient_variance",
    "greedy_act",
    "matched_mlp",
    "run",
    "slope_interval",
    "solve_point",
    "total_work",
    "train_agent",
    "trained_layer",
    "variance_interval",
    "visited_observations",
]
