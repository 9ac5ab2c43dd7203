"""quantum-noise: how much of a trained quantum policy survives shot noise and device noise.

Per seed, REINFORCE trains Jerbi et al. 2021's softmax-PQC (`network="softmax_pqc"`: 4 qubits, re-uploading
circuit, parity observable Z0Z1Z2Z3, pi(a|s) = softmax(beta w_a <Z0Z1Z2Z3>)) on CartPole-v1 on nextrl's exact
simulator. The SAME trained policy then acts on `eval_envs` CartPole envs (episodes capped at `max_steps`, the
first episode of every env from one reset seed, so every condition sees the same initial states), through
agents.quantum_policies.on_backend (the ISA circuit transpiled once; one job per vector-env step for all envs):

  exact            nextrl's simulator, no shots;
  aer              qiskit-aer's AerSimulator without noise: shot noise only;
  generic          GenericBackendV2(4 qubits) with its default noise model (gate and readout errors);
  manila           qiskit-ibm-runtime's FakeManilaV2 (5 qubits) with its calibrated noise model;
  manila+readout   FakeManilaV2 with readout-error mitigation (below);

each of the shot-based ones at every shot count in `shots`, and in two modes: greedy (argmax of the logits) and
sampled (actions drawn from pi, torch seeded per condition). Scores, each with a stratified-bootstrap 95% interval
(evaluation.stats): the episode returns of one condition pooled over seeds (IQM and mean: the spread of the
episodes); the per-seed mean return (IQM over seeds: the spread of the trained policies); and the paired drop,
per seed the condition's mean return minus the exact simulator's on the same initial states (mean over seeds).

Readout mitigation: Aer's primitives (and qiskit-ibm-runtime's local mode) offer none, so it is done as TREX does
after readout twirling (van den Berg et al. 2022, PRA 105, 032620): under symmetric readout errors the measured
parity is f <Z0Z1Z2Z3> with f = <Z0Z1Z2Z3> measured on |0000> (calibrated here with an empty circuit on the same
physical qubits, same shots), so the mitigated expectation is the measured one / f (the action weights divided
by f). Dividing by f > 0 keeps the sign of every logit difference: the greedy policy is unchanged by construction,
only the sampled one can recover its temperature, so manila+readout runs in sampled mode only.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nextrl.evaluation.results import Bootstrap, ExperimentResult, Finding, make_score
from nextrl.evaluation.stats import stratified_bootstrap_ci

NAME = "quantum-noise"
DESCRIPTION = "a trained softmax-PQC policy on the exact simulator, shot-noise sampling and noisy fake backends"
BACKENDS = ("aer", "generic", "manila")
MODES = ("greedy", "sampled")
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Config:
    train_steps: int = 60_000
    """REINFORCE env steps (16 envs x 64 steps per update; the softmax_pqc preset)"""
    eval_envs: int = 8
    """evaluation episodes per condition and seed (one per env, all envs in one job per step)"""
    max_steps: int = 40
    """CartPole episode cap in evaluation (a step on a noisy fake backend is a job of ~0.2-1.5 s: at these
    defaults a seed took ~3 minutes on 2 cores at load ~19, 5 seeds ~15)"""
    shots: tuple[int, ...] = (1000,)
    """shot counts of the shot-based conditions"""
    backends: tuple[str, ...] = ("aer", "manila")
    """which of aer, generic, manila to run ("manila" adds manila+readout in sampled mode)"""
    modes: tuple[str, ...] = MODES
    """greedy and / or sampled actions"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""

    def __post_init__(self):
        fn = "quantum-noise"
        for key, low in (("train_steps", 1024), ("eval_envs", 1), ("max_steps", 1), ("bootstrap_reps", 1)):
            if getattr(self, key) < low:
                raise ValueError(f"{fn}: {key} must be >= {low}, got {getattr(self, key)!r}")
        if not self.shots or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in self.shots):
            raise ValueError(f"{fn}: shots must be one or more ints >= 1, got {self.shots!r}")
        bad = [b for b in self.backends if b not in BACKENDS]
        if bad or not self.backends:
            raise ValueError(f"{fn}: backends must be one or more of {', '.join(BACKENDS)}, got {self.backends!r}")
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise ValueError(f"{fn}: modes must be one or more of {', '.join(MODES)}, got {self.modes!r}")


QUICK: dict[str, Any] = {"train_steps": 2048, "eval_envs": 2, "max_steps": 3, "shots": (64,)}


def conditions(cfg: Config) -> list[tuple[str, str, int | None]]:
    """(mode, backend, shots) of every evaluation, in run order: exact first, then backends x shots."""
    out: list[tuple[str, str, int | None]] = []
    for mode in cfg.modes:
        out.append((mode, "exact", None))
        for b in cfg.backends:
            for s in cfg.shots:
                out.append((mode, b, s))
                if b == "manila" and mode == "sampled":
                    out.append((mode, "manila+readout", s))
    return out


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress: training env steps plus evaluation vector-env steps, over seeds."""
    return (cfg.train_steps + len(conditions(cfg)) * cfg.max_steps) * len(seeds)


def _cartpole(num_envs: int, max_steps: int | None = None):
    import gymnasium as gym

    import nextrl  # noqa: F401  (registers nextrl/CartPole-v1)

    kw = {} if max_steps is None else {"max_steps": max_steps}
    return gym.make_vec("nextrl/CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point", **kw)


def train_policy(cfg: Config, seed: int):
    """The trained ActorCritic (softmax-PQC actor) of `seed`."""
    import torch

    from nextrl.agents import reinforce

    torch.set_num_threads(1)
    rc = reinforce.ReinforceConfig(total_timesteps=cfg.train_steps, num_steps=64, network="softmax_pqc")
    return reinforce.train(_cartpole(16), rc, seed=seed).modules["policy"]


def make_backend(name: str, seed: int):
    """The BackendV2 of a condition."""
    if name == "aer":
        from qiskit_aer import AerSimulator

        return AerSimulator(seed_simulator=seed)
    if name == "generic":
        from qiskit.providers.fake_provider import GenericBackendV2

        return GenericBackendV2(4, seed=seed)
    if name in ("manila", "manila+readout"):
        try:
            from qiskit_ibm_runtime.fake_provider import FakeManilaV2
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError(
                "quantum-noise: the manila backend needs qiskit-ibm-runtime (pip install nextrl[qiskit])"
            ) from e
        return FakeManilaV2()
    raise ValueError(f"quantum-noise: unknown backend {name!r}; choose from {', '.join(BACKENDS)}")


def readout_factor(policy, shots: int) -> float:
    """f = <Z...Z> measured on |0...0> on the physical qubits of the ISA circuit of `policy` (a SoftmaxPQC or an
    ActorCritic with one, moved by on_backend) through its executor's
    estimator, `shots` shots): the attenuation of the parity under symmetric readout errors (1 without them)."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

    from nextrl.agents.quantum_policies import executor

    ex = executor(policy)
    layer = getattr(policy, "actor", policy).pqc
    isa = ex.program(layer.circuit).isa_circuit
    k = layer.circuit.num_qubits
    physical = range(k) if isa.layout is None else isa.layout.final_index_layout()[:k]  # None: not laid out
    n = isa.num_qubits
    label = ["I"] * n
    for q in physical:
        label[n - 1 - q] = "Z"
    est = ex._primitive("estimator")
    job = est.run([(QuantumCircuit(n), SparsePauliOp("".join(label)))], precision=1.0 / np.sqrt(shots))
    return float(np.asarray(job.result()[0].data.evs).reshape(-1)[0])


def first_episodes(act, env, seed: int) -> np.ndarray:
    """Returns of the first episode of every env of `env` from reset(seed); `act` is called once per step."""
    obs, _ = env.reset(seed=seed)
    ret, done = np.zeros(env.num_envs), np.zeros(env.num_envs, dtype=bool)
    while not done.all():
        obs, r, term, trunc, _ = env.step(act(obs))
        ret[~done] += r[~done]
        done |= term | trunc
    return ret


def evaluate_condition(policy, cfg: Config, seed: int, mode: str, backend: str, shots: int | None):
    """(returns [eval_envs], jobs, readout factor or None) of one condition; the reset seed is 10_000 + seed for
    every condition, torch's generator is seeded with seed for the sampled actions."""
    import torch

    from nextrl.agents.quantum_policies import executor, on_backend
    from nextrl.agents.rollout import act_fn

    env = _cartpole(cfg.eval_envs, cfg.max_steps)
    factor = None
    acting = policy
    if backend != "exact":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GenericBackendV2 / fake backends: qubit-property warnings
            acting = on_backend(policy, make_backend(backend, seed), shots=shots, seed=seed)
            if backend == "manila+readout":
                factor = readout_factor(acting, shots)
                with torch.no_grad():
                    acting.actor.observable_weights /= factor
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        returns = first_episodes(act_fn(acting, env.single_action_space, mode == "greedy"), env, 10_000 + seed)
    jobs = 0 if backend == "exact" else executor(acting).num_jobs
    return returns, jobs, factor


def _label(backend: str, shots: int | None) -> str:
    return backend if shots is None else f"{backend} {shots} shots"


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    """Trains one policy per seed, evaluates it under every condition; scores over the pooled episodes."""
    if not seeds:
        raise ValueError("quantum-noise: seeds must not be empty")
    start = time.perf_counter()
    boot = Bootstrap(reps=cfg.bootstrap_reps)
    conds = conditions(cfg)
    returns: dict[str, dict[str, list[float]]] = {m: {} for m in cfg.modes}
    seed_means: dict[str, dict[str, list[float]]] = {m: {} for m in cfg.modes}
    jobs: dict[str, int] = {}
    factors: dict[str, list[float]] = {}
    times: dict[str, float] = {}
    for seed in seeds:
        policy = train_policy(cfg, seed)
        if progress is not None:
            progress(cfg.train_steps, f"trained seed {seed}")
        for mode, backend, shots in conds:
            t0 = time.perf_counter()
            ret, n_jobs, factor = evaluate_condition(policy, cfg, seed, mode, backend, shots)
            label = _label(backend, shots)
            returns[mode].setdefault(label, []).extend(float(r) for r in ret)
            seed_means[mode].setdefault(label, []).append(float(np.mean(ret)))
            jobs[f"{mode} {label}"] = jobs.get(f"{mode} {label}", 0) + n_jobs
            times[f"{mode} {label}"] = times.get(f"{mode} {label}", 0.0) + time.perf_counter() - t0
            if factor is not None:
                factors.setdefault(label, []).append(factor)
            if progress is not None:
                progress(cfg.max_steps, f"{mode} {label} seed {seed}")
    task = f"CartPole ({cfg.max_steps}-step episodes)"
    scores = [
        make_score(task, label, f"{mode} return", vals, boot, steps=cfg.train_steps)
        for mode in cfg.modes
        for label, vals in returns[mode].items()
    ]
    means = {
        f"{mode} {label}": stratified_bootstrap_ci(
            np.asarray(vals), "mean", confidence=boot.confidence, reps=boot.reps, seed=boot.seed
        ).to_dict()
        for mode in cfg.modes
        for label, vals in returns[mode].items()
    }
    scores += [
        make_score(task, label, f"{mode} return, mean per seed", vals, boot, steps=cfg.train_steps)
        for mode in cfg.modes
        for label, vals in seed_means[mode].items()
    ]
    drops = {
        f"{mode} {label}": stratified_bootstrap_ci(
            np.asarray(vals) - np.asarray(seed_means[mode]["exact"]),
            "mean",
            confidence=boot.confidence,
            reps=boot.reps,
            seed=boot.seed,
        )
        for mode in cfg.modes
        for label, vals in seed_means[mode].items()
        if label != "exact"
    }
    by = {(s.metric, s.agent): s for s in scores}
    findings = []
    for key, iv in drops.items():
        text = f"{key}: per-seed mean return minus the exact simulator's, mean over {len(seeds)} seeds "
        text += f"{iv.point:+.1f} [{iv.low:+.1f}, {iv.high:+.1f}]"
        if iv.high < 0:
            findings.append(Finding(False, text + ": the policy loses return there (interval below 0)"))
        else:
            findings.append(Finding(True, text + ": no loss shown (interval reaches 0)"))
    for mode in cfg.modes:
        exact = by[(f"{mode} return", "exact")].iqm
        for label in returns[mode]:
            if label == "exact":
                continue
            iv = by[(f"{mode} return", label)].iqm
            if iv.high < exact.low:
                text = f"{mode}, {label}: IQM {iv.point:.1f} [{iv.low:.1f}, {iv.high:.1f}] is below the exact "
                findings.append(
                    Finding(False, text + f"simulator's {exact.point:.1f} [{exact.low:.1f}, {exact.high:.1f}]")
                )
            else:
                text = f"{mode}, {label}: IQM {iv.point:.1f} [{iv.low:.1f}, {iv.high:.1f}] overlaps the exact "
                findings.append(
                    Finding(True, text + f"simulator's {exact.point:.1f} [{exact.low:.1f}, {exact.high:.1f}]")
                )
    setup = [
        f"policy: REINFORCE softmax-PQC (4 qubits, 5 re-uploading layers, parity observable), {cfg.train_steps} env "
        "steps on nextrl's exact simulator, one policy per seed",
        f"evaluation: the first episode of each of {cfg.eval_envs} CartPole envs (reset seed 10000 + seed), capped at "
        f"{cfg.max_steps} steps; one job per vector-env step through on_backend; shots {list(cfg.shots)}",
        f"backends: exact simulator, {', '.join(cfg.backends)}; modes: {', '.join(cfg.modes)}; intervals over the "
        "episodes pooled over seeds (the spread of the episodes), over the per-seed means (the spread of the "
        f"{len(seeds)} trained policies) and of the per-seed drop against the exact simulator (paired)",
        "readout mitigation (manila+readout, sampled only): measured parity / f, f the parity measured on |0000> on "
        "the same physical qubits (TREX's calibration; exact for symmetric readout errors)",
    ]
    return ExperimentResult(
        name=NAME,
        title="quantum-noise: a trained softmax-PQC policy on exact, shot-noise and noisy backends",
        summary=(
            "How much of a quantum policy trained on an exact simulator survives finite shots and the noise of "
            "(simulated) IBM devices, greedy and sampled, and does readout-error mitigation bring it back?"
        ),
        seeds=list(seeds),
        config=dataclasses.asdict(cfg),
        setup=setup,
        scores=scores,
        findings=findings,
        references=[
            "Jerbi, Gyurik, Marshall, Briegel, Dunjko 2021, Parametrized quantum policies for reinforcement learning",
            "van den Berg, Minev, Temme 2022, Model-free readout-error mitigation (TREX), PRA 105, 032620",
        ],
        bootstrap=boot,
        wall_time_s=time.perf_counter() - start,
        extra={
            "returns": returns,
            "mean_intervals": means,
            "seed_means": seed_means,
            "paired_drops": {k: v.to_dict() for k, v in drops.items()},
            "jobs": jobs,
            "seconds": times,
            "readout_factors": factors,
        },
    )


__all__ = [
    "BACKENDS",
    "DESCRIPTION",
    "MODES",
    "NAME",
    "QUICK",
    "Config",
    "conditions",
    "evaluate_condition",
    "readout_factor",
    "run",
    "total_work",
    "train_policy",
]
