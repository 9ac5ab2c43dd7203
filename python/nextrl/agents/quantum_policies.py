"""Quantum policies of Jerbi et al. 2021 ("Parametrized quantum policies for reinforcement learning", NeurIPS),
as actor modules for the on-policy trainers (`network="softmax_pqc"` / `"raw_pqc"`, agents.networks) or for any
trainer that takes an actor with logits:

- `SoftmaxPQC`: pi(a|s) = softmax_a(beta <O_a>_{s,theta}) with weighted Pauli observables
  O_a = sum_k w_{a,k} H_k: a QuantumLayer reads out the K expectation values <H_k> [B, K], a trainable weight
  matrix w [A, K] mixes them per action and the fixed inverse temperature beta scales the logits.
- `RawPQC`: the Born-rule policy pi(a|s) = <P_a>_{s,theta} = sum of the probabilities of the measured
  bitstrings b that the partition assigns to action a (P_a = sum_{b in V_a} |b><b|). Its output is log pi
  (logits of the same distribution), so CategoricalHead samples actions from the measured-qubit probabilities.

Both take any QuantumLayer (the C++ simulator or a QiskitExecutor backend) and keep its parameters under
`pqc.` ("actor.pqc.weights", "actor.pqc.scales"); SoftmaxPQC adds "observable_weights".

`on_backend` moves a trained quantum policy (these two, or a bare QuantumLayer actor such as the "skolik" preset)
onto a Qiskit backend or V2 primitive: its circuit is transpiled to the backend's ISA once, there, and every
policy call, so every vector-env step of `act_fn` / `common.evaluate`, is ONE job for all envs.
"""

from __future__ import annotations

import copy
import math
import numbers

import gymnasium as gym
import numpy as np
import torch
from torch import nn


def _check_layer(fn: str, layer) -> None:
    from nextrl.quantum.torch_layer import QuantumLayer

    if not isinstance(layer, QuantumLayer):
        raise TypeError(f"{fn}: layer must be a nextrl QuantumLayer, got {type(layer).__name__}")


def _check_actions(fn: str, num_actions) -> int:
    if isinstance(num_actions, bool) or not isinstance(num_actions, (int, np.integer)) or num_actions < 2:
        raise ValueError(f"{fn}: num_actions must be an int >= 2, got {num_actions!r}")
    return int(num_actions)


class SoftmaxPQC(nn.Module):
    """Softmax-PQC policy head over a QuantumLayer: obs [B, F] -> logits [B, A] = beta * <H> [B, K] @ w.T.

    Args:
        layer: a QuantumLayer reading out K expectation values (observables H_k); its output_scale, if any,
            multiplies them first.
        num_actions: A.
        beta: the inverse temperature, a fixed positive number (Jerbi et al.: 1 on CartPole; the trainable
            weights set the effective temperature as they grow).
        observable_weights: initial w [A, K]. Default: (-1)^a for a single observable (K = 1: the two CartPole
            actions read +-<Z0 Z1 Z2 Z3>, as in Jerbi et al.), the identity for K = A (action a reads H_a).
    """

    def __init__(self, layer, num_actions: int, *, beta: float = 1.0, observable_weights=None):
        super().__init__()
        fn = "SoftmaxPQC"
        _check_layer(fn, layer)
        num_actions = _check_actions(fn, num_actions)
        if layer.circuit.observables is None:
            raise ValueError(f"{fn}: the layer must read out expectation values (observables), not probabilities")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
            raise ValueError(f"{fn}: beta must be a finite number > 0, got {beta!r}")
        k = layer.num_outputs
        if observable_weights is None:
            if k == 1:
                w = torch.tensor([[(-1.0) ** a] for a in range(num_actions)])
            elif k == num_actions:
                w = torch.eye(num_actions)
            else:
                raise ValueError(
                    f"{fn}: the layer reads out {k} observables for {num_actions} actions; give 1 observable, "
                    f"one per action, or observable_weights of shape ({num_actions}, {k})"
                )
        else:
            w = torch.as_tensor(observable_weights, dtype=torch.float64)
            if tuple(w.shape) != (num_actions, k):
                raise ValueError(
                    f"{fn}: observable_weights must have shape (num_actions, observables) = ({num_actions}, {k}), "
                    f"got {tuple(w.shape)}"
                )
        self.pqc = layer
        self.num_actions = num_actions
        self.beta = float(beta)
        self.observable_weights = nn.Parameter(w.to(layer.weights.dtype).clone())

    def expectations(self, obs: torch.Tensor) -> torch.Tensor:
        """<H_k> [B, K] of the layer's observables."""
        return self.pqc(obs.to(self.observable_weights.dtype))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.beta * (self.expectations(obs) @ self.observable_weights.T)

    def extra_repr(self) -> str:
        return f"num_actions={self.num_actions}, beta={self.beta}"


def parity_partition(num_bits: int, num_actions: int) -> np.ndarray:
    """[2**num_bits] action of each measured bitstring b: popcount(b) mod num_actions (for two actions, the
    parity of the bitstring: a global read-out, as Jerbi et al.'s CartPole policy and Meyer et al. 2023's
    best-performing decoding)."""
    b = np.arange(1 << num_bits)
    weight = np.zeros_like(b)
    for j in range(num_bits):
        weight += (b >> j) & 1
    return weight % num_actions


class RawPQC(nn.Module):
    """Raw-PQC (Born-rule) policy over a QuantumLayer with a probability read-out: obs [B, F] -> log pi [B, A],
    pi(a|s) = sum_{b: partition[b] = a} P(b | s) over the measured qubits' bitstrings b.

    Args:
        layer: a QuantumLayer whose circuit reads out probabilities of its measured qubits [B, 2**k] (bit j of b
            is the j-th measured qubit), without output_scale.
        num_actions: A (<= 2**k, and every action needs at least one bitstring).
        partition: [2**k] the action of each bitstring; default `parity_partition(k, A)`.
    """

    def __init__(self, layer, num_actions: int, *, partition=None):
        super().__init__()
        fn = "RawPQC"
        _check_layer(fn, layer)
        num_actions = _check_actions(fn, num_actions)
        qubits = layer.circuit.probability_qubits
        if qubits is None:
            raise ValueError(f"{fn}: the layer must read out probabilities of measured qubits, not observables")
        if layer.output_scale is not None:
            raise ValueError(f"{fn}: the layer must have no output_scale (probabilities are not rescaled)")
        size = 1 << len(qubits)
        part = parity_partition(len(qubits), num_actions) if partition is None else np.asarray(partition)
        if part.shape != (size,) or not np.issubdtype(part.dtype, np.integer):
            raise ValueError(f"{fn}: partition must be {size} ints (one action per bitstring), got {part!r}")
        if part.min() < 0 or part.max() >= num_actions or len(np.unique(part)) != num_actions:
            raise ValueError(
                f"{fn}: partition must assign every bitstring an action in [0, {num_actions}) and every action at "
                f"least one bitstring, got {part.tolist()}"
            )
        self.pqc = layer
        self.num_actions = num_actions
        onehot = np.zeros((size, num_actions))
        onehot[np.arange(size), part] = 1.0
        self.register_buffer("partition", torch.as_tensor(onehot, dtype=layer.weights.dtype))

    def probabilities(self, obs: torch.Tensor) -> torch.Tensor:
        """pi(a|s) [B, A]."""
        return self.pqc(obs.to(self.partition.dtype)) @ self.partition

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        p = self.probabilities(obs)
        return torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))

    def extra_repr(self) -> str:
        return f"num_actions={self.num_actions}"


def _obs_dim(fn: str, obs_space: gym.Space) -> int:
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise TypeError(f"{fn}: observation space must be a 1-D Box, got {obs_space}")
    return int(obs_space.shape[0])


def pqc_circuit(num_qubits: int, num_layers: int = 5, *, readout: str = "parity"):
    """The policy circuit of both presets: nextrl.quantum.ansatz.skolik_reuploading (RY, RZ layers, CZ ring,
    RX(lambda x) re-uploading with a trainable scale per layer and qubit) read out as <Z_0 ... Z_{n-1}>
    (readout="parity") or as the probabilities of all qubits (readout="probabilities")."""
    from nextrl.quantum import VariationalCircuit
    from nextrl.quantum.ansatz import skolik_reuploading

    vc = skolik_reuploading(num_qubits, num_layers, observables=["Z" * num_qubits])
    if readout == "parity":
        return vc
    return VariationalCircuit(vc.circuit, vc.sources, probabilities=list(range(num_qubits)))


def softmax_pqc_policy(
    obs_space: gym.Space, num_actions: int, num_layers: int = 5, beta: float = 1.0, *, backend=None
) -> SoftmaxPQC:
    """The "softmax_pqc" preset: one qubit per observation feature, `pqc_circuit` read out as the parity
    observable Z_0 ... Z_{n-1} with action weights (-1)^a (Jerbi et al. 2021's CartPole softmax-PQC), inverse
    temperature `beta`. Initial angles from torch's global generator (the trainers seed it). `backend`: where the
    circuit runs (QuantumLayer's argument; e.g. quantum.backends.shots.ShotSimulator to train through shots)."""
    from nextrl.quantum import QuantumLayer

    n = _obs_dim("softmax_pqc_policy", obs_space)
    return SoftmaxPQC(QuantumLayer(pqc_circuit(n, num_layers), backend=backend), num_actions, beta=beta)


def raw_pqc_policy(obs_space: gym.Space, num_actions: int, num_layers: int = 5) -> RawPQC:
    """The "raw_pqc" preset: `pqc_circuit` with every qubit measured, the bitstrings partitioned among the
    actions by `parity_partition`."""
    from nextrl.quantum import QuantumLayer

    n = _obs_dim("raw_pqc_policy", obs_space)
    if not 2 <= num_actions <= n + 1:
        raise ValueError(
            f"raw_pqc_policy: num_actions must be in [2, {n + 1}] (bitstring weights 0..{n} mod num_actions) for "
            f"{n} qubits, got {num_actions}"
        )
    return RawPQC(QuantumLayer(pqc_circuit(n, num_layers, readout="probabilities")), num_actions)


def _policy_layer(fn: str, policy: nn.Module):
    """(the QuantumLayer inside `policy` (an ActorCritic or its actor), the number of actions it gives, whether the
    actor is the bare layer)."""
    from nextrl.agents.networks import ActorCritic
    from nextrl.quantum.torch_layer import QuantumLayer

    actor = policy.actor if isinstance(policy, ActorCritic) else policy
    if isinstance(actor, (SoftmaxPQC, RawPQC)):
        return actor.pqc, actor.num_actions, False
    if isinstance(actor, QuantumLayer):
        return actor, actor.num_outputs, True
    raise TypeError(
        f"{fn}: the policy's actor must be a SoftmaxPQC, a RawPQC or a QuantumLayer, got {type(actor).__name__}"
    )


def on_backend(
    policy: nn.Module,
    target,
    *,
    shots: int | None = 4096,
    seed: int | None = None,
    optimization_level: int = 1,
    action_space: gym.Space | None = None,
) -> nn.Module:
    """A copy of a trained quantum `policy` whose circuit runs on `target` through QiskitExecutor.

    Args:
        policy: a networks.ActorCritic whose actor is a SoftmaxPQC, a RawPQC or a QuantumLayer (logits), or such an
            actor alone. The original is left on its backend.
        target: a Qiskit BackendV2 (GenericBackendV2, a fake IBM backend with its noise model, hardware) or a V2
            Estimator / Sampler primitive (StatevectorEstimator with shots=None gives the exact probabilities).
        shots: shots per circuit evaluation, >= 1 (None: the primitive's own, exact for StatevectorEstimator).
        seed: seeds the transpiler and the primitives built on a BackendV2.
        optimization_level: of the preset pass manager that builds the ISA circuit.
        action_space: when given, a Discrete space whose size the policy's action count must equal.

    The ISA circuit is built here, once (so a backend with too few qubits fails here), and reused by every call;
    each forward pass of the copy (one `act` for all envs of a vector-env step) is one job:
    `executor(policy).num_jobs` counts them. Gradients still flow (parameter shift, same job)."""
    from nextrl.quantum.backends.executor import QiskitExecutor

    fn = "on_backend"
    _, num_actions, bare = _policy_layer(fn, policy)
    if action_space is not None:
        if not isinstance(action_space, gym.spaces.Discrete):
            raise TypeError(f"{fn}: action_space must be Discrete, got {action_space}")
        if int(action_space.n) != num_actions:
            what = "observables (outputs)" if bare else "actions"
            raise ValueError(
                f"{fn}: the policy's circuit gives {num_actions} {what} but the env has {int(action_space.n)} actions"
            )
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 1):
        raise ValueError(f"{fn}: shots must be an int >= 1 or None, got {shots!r}")
    ex = QiskitExecutor(target, shots=shots, seed=seed, optimization_level=optimization_level)
    moved = copy.deepcopy(policy)
    moved_layer = _policy_layer(fn, moved)[0]
    ex.program(moved_layer.circuit)  # transpile once, now: a backend with too few qubits fails here
    moved_layer.backend = ex
    return moved


def executor(policy: nn.Module):
    """The QiskitExecutor a policy made by `on_backend` runs on (its num_jobs counts the jobs)."""
    return _policy_layer("executor", policy)[0].backend


__all__ = [
    "RawPQC",
    "SoftmaxPQC",
    "executor",
    "on_backend",
    "parity_partition",
    "pqc_circuit",
    "raw_pqc_policy",
    "softmax_pqc_policy",
]
