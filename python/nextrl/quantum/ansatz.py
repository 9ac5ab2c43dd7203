"""Ready-made variational circuits from the quantum-RL literature."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from nextrl.quantum.circuit import Circuit
from nextrl.quantum.parameters import Parameter
from nextrl.quantum.variational import Feature, VariationalCircuit, Weight


def _check(fn: str, num_qubits: int, num_layers: int) -> None:
    if not isinstance(num_qubits, int) or num_qubits < 1:
        raise ValueError(f"{fn}: num_qubits must be a positive int, got {num_qubits!r}")
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"{fn}: num_layers must be a positive int, got {num_layers!r}")


def _default_observables(n: int) -> list[str]:
    return ["I" * (n - 1 - q) + "Z" + "I" * q for q in range(n)]


def hardware_efficient(
    num_qubits: int, num_layers: int, num_features: int | None = None, observables: Sequence | None = None
) -> VariationalCircuit:
    """Angle encoding RX(x_q) on qubit q (features <= qubits), then `num_layers` layers of
    trainable RX, RY, RZ on every qubit followed by a CNOT ring (Kandala et al. 2017 style).
    Default read-out: Z on every qubit."""
    _check("hardware_efficient", num_qubits, num_layers)
    num_features = num_qubits if num_features is None else num_features
    if not 0 <= num_features <= num_qubits:
        raise ValueError(f"hardware_efficient: num_features must be in [0, {num_qubits}], got {num_features}")
    c, src, w = Circuit(num_qubits, name="hardware_efficient"), {}, itertools.count()
    for f in range(num_features):
        p = Parameter(f"x{f}")
        c.rx(p, f)
        src[p] = Feature(f)
    for layer in range(num_layers):
        for q in range(num_qubits):
            for gate in ("rx", "ry", "rz"):
                p = Parameter(f"{gate}_{layer}_{q}")
                getattr(c, gate)(p, q)
                src[p] = Weight(next(w))
        if num_qubits > 1:
            for q in range(num_qubits if num_qubits > 2 else 1):
                c.cx(q, (q + 1) % num_qubits)
    return VariationalCircuit(
        c, src, observables=observables or _default_observables(num_qubits), num_features=num_features
    )


def skolik_reuploading(
    num_qubits: int = 4, num_layers: int = 5, observables: Sequence | None = None
) -> VariationalCircuit:
    """Skolik, Jerbi, Dunjko 2022 ("Quantum agents in the Gym"): per layer a variational
    block (RY, RZ on every qubit), a CZ ring, and an encoding block RX(lambda x_q) with a
    trainable input scale lambda per layer and qubit; a final variational block closes the
    circuit. Features = qubits. Default read-out: Z0 Z1 and Z2 Z3 (the CartPole actions)
    when num_qubits == 4, else Z on every qubit. Pair with QuantumLayer(output_scaling=True)."""
    _check("skolik_reuploading", num_qubits, num_layers)
    c, src = Circuit(num_qubits, name="skolik_reuploading"), {}
    w, s = itertools.count(), itertools.count()

    def variational(tag):
        for q in range(num_qubits):
            for gate in ("ry", "rz"):
                p = Parameter(f"{gate}_{tag}_{q}")
                getattr(c, gate)(p, q)
                src[p] = Weight(next(w))

    for layer in range(num_layers):
        variational(layer)
        if num_qubits > 1:
            for q in range(num_qubits if num_qubits > 2 else 1):
                c.cz(q, (q + 1) % num_qubits)
        for q in range(num_qubits):
            p = Parameter(f"enc_{layer}_{q}")
            c.rx(p, q)
            src[p] = Feature(q, scale=next(s))
    variational(num_layers)
    if observables is None:
        observables = ["IIZZ", "ZZII"] if num_qubits == 4 else _default_observables(num_qubits)
    return VariationalCircuit(c, src, observables=observables, num_features=num_qubits)


def softmax_pqc(num_qubits: int, num_layers: int, num_actions: int) -> VariationalCircuit:
    """Jerbi et al. 2021 softmax-PQC: alternating variational layers (RZ, RY on every qubit),
    all-to-all CZ entanglers and encoding layers RY(lambda x_q), RZ(lambda' x_q) with trainable
    scales; read-out: for action a, the Z product over a contiguous group of qubits. The
    policy is softmax(beta * w_a <O_a>): use QuantumLayer(output_scaling=True) for w_a and
    apply the softmax with beta in the agent."""
    _check("softmax_pqc", num_qubits, num_layers)
    if not 1 <= num_actions <= num_qubits:
        raise ValueError(f"softmax_pqc: num_actions must be in [1, {num_qubits}], got {num_actions}")
    c, src = Circuit(num_qubits, name="softmax_pqc"), {}
    w, s = itertools.count(), itertools.count()

    def variational(tag):
        for q in range(num_qubits):
            for gate in ("rz", "ry"):
                p = Parameter(f"{gate}_{tag}_{q}")
                getattr(c, gate)(p, q)
                src[p] = Weight(next(w))

    for layer in range(num_layers):
        variational(layer)
        for a, b in itertools.combinations(range(num_qubits), 2):
            c.cz(a, b)
        for q in range(num_qubits):
            for gate in ("ry", "rz"):
                p = Parameter(f"enc_{gate}_{layer}_{q}")
                getattr(c, gate)(p, q)
                src[p] = Feature(q, scale=next(s))
    variational(num_layers)
    groups = [list(g) for g in _split(range(num_qubits), num_actions)]
    observables = ["".join("Z" if (num_qubits - 1 - i) in g else "I" for i in range(num_qubits)) for g in groups]
    return VariationalCircuit(c, src, observables=observables, num_features=num_qubits)


def _split(items, parts: int):
    items = list(items)
    k, r = divmod(len(items), parts)
    start = 0
    for i in range(parts):
        end = start + k + (1 if i < r else 0)
        yield items[start:end]
        start = end
