"""Entanglement measures against closed forms (product 0, GHZ / Bell 1, W_n 4(n - 1) / n^2, so 8/9 on 3 qubits,
the Haar mean (2^n - 2) / (2^n + 1)) and against qiskit.quantum_info's partial traces on random states; the states
of a variational circuit against its read-out and against Qiskit's Statevector of the same circuit; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.quantum.ansatz import skolik_reuploading
from nextrl.quantum.entanglement import (
    circuit_states,
    entanglement_entropy,
    haar_meyer_wallach,
    meyer_wallach,
    qubit_purities,
)


def _haar(rng, batch: int, n: int) -> np.ndarray:
    v = rng.normal(size=(batch, 1 << n)) + 1j * rng.normal(size=(batch, 1 << n))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _ghz(n: int) -> np.ndarray:
    v = np.zeros(1 << n, dtype=complex)
    v[0] = v[-1] = 2**-0.5
    return v


def _w(n: int) -> np.ndarray:
    v = np.zeros(1 << n, dtype=complex)
    v[[1 << k for k in range(n)]] = n**-0.5
    return v


def test_closed_forms():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5):  # random product states: Q = 0, every bipartition has entropy 0
        prod = np.ones(1, dtype=complex)
        for _ in range(n):
            prod = np.kron(prod, _haar(rng, 1, 1)[0])
        np.testing.assert_allclose(meyer_wallach(prod), [0.0], atol=1e-12)
        if n > 1:
            np.testing.assert_allclose(entanglement_entropy(prod, [0]), [0.0], atol=1e-6)
    bell = np.array([1, 0, 0, 1]) / 2**0.5
    np.testing.assert_allclose(meyer_wallach(bell), [1.0], atol=1e-12)
    np.testing.assert_allclose(entanglement_entropy(bell, [1]), [1.0], atol=1e-12)
    for n in (3, 4, 6):
        np.testing.assert_allclose(meyer_wallach(_ghz(n)), [1.0], atol=1e-12)
        np.testing.assert_allclose(entanglement_entropy(_ghz(n), [0, n - 1]), [1.0], atol=1e-12)
        # W_n: every qubit is diag((n - 1) / n, 1 / n)
        np.testing.assert_allclose(meyer_wallach(_w(n)), [4 * (n - 1) / n**2], atol=1e-12)
        p = 1 / n
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
        np.testing.assert_allclose(entanglement_entropy(_w(n), [1]), [h], atol=1e-12)
    np.testing.assert_allclose(meyer_wallach(_w(3)), [8 / 9], atol=1e-12)
    # a batch is its rows
    batch = np.stack([_ghz(3), _w(3), np.eye(8)[5]])
    np.testing.assert_allclose(meyer_wallach(batch), [1.0, 8 / 9, 0.0], atol=1e-12)
    assert haar_meyer_wallach(1) == 0.0 and haar_meyer_wallach(2) == 0.4 and haar_meyer_wallach(4) == 14 / 17


def test_random_states_against_qiskit_partial_traces():
    """Purity of every qubit and entropies of random bipartitions (Haar states, 1 to 6 qubits) equal
    qiskit.quantum_info.partial_trace / purity / entropy to 1e-10."""
    from qiskit.quantum_info import DensityMatrix, entropy, partial_trace, purity

    rng = np.random.default_rng(1)
    for n in range(1, 7):
        states = _haar(rng, 4, n)
        pur = qubit_purities(states)
        for b, psi in enumerate(states):
            rho = DensityMatrix(psi)
            want = [float(np.real(purity(partial_trace(rho, [q for q in range(n) if q != k])))) for k in range(n)]
            np.testing.assert_allclose(pur[b], want, atol=1e-10)
            np.testing.assert_allclose(meyer_wallach(psi), [2 * (1 - np.mean(want))], atol=1e-10)
            if n > 1:
                part = sorted(rng.choice(n, size=int(rng.integers(1, n)), replace=False).tolist())
                keep_out = [q for q in range(n) if q not in part]
                want_s = entropy(partial_trace(rho, keep_out), base=2)
                np.testing.assert_allclose(entanglement_entropy(psi, part), [want_s], atol=1e-10)


def test_haar_mean_of_meyer_wallach():
    """4,000 Haar states of 3 and 5 qubits: the mean Q within 4 standard errors of (2^n - 2) / (2^n + 1)."""
    rng = np.random.default_rng(2)
    for n in (3, 5):
        q = meyer_wallach(_haar(rng, 4000, n))
        se = q.std(ddof=1) / np.sqrt(len(q))
        assert abs(q.mean() - haar_meyer_wallach(n)) < 4 * se, (n, q.mean(), haar_meyer_wallach(n), se)


def test_circuit_states_are_the_states_the_read_out_measures():
    """The states of skolik_reuploading(3, 2) on 5 inputs give the circuit's <Z0 Z1 Z2> and <Z0> read-out, and
    equal Qiskit's Statevector of the same circuit (to_qiskit) up to a global phase."""
    from qiskit.quantum_info import Statevector as QiskitStatevector

    vc = skolik_reuploading(3, 2, observables=["ZZZ", "IIZ"])
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (5, 3))
    w = rng.uniform(0, 2 * np.pi, vc.num_weights)
    s = rng.uniform(0.5, 1.5, vc.num_scales)
    states = circuit_states(vc, x, w, s)
    assert states.shape == (5, 8) and states.dtype == np.complex128
    p = np.abs(states) ** 2
    parity = np.array([(-1) ** bin(i).count("1") for i in range(8)])
    z0 = np.array([(-1) ** (i & 1) for i in range(8)])
    np.testing.assert_allclose(np.stack([p @ parity, p @ z0], axis=1), vc.forward(x, w, s), atol=1e-12)
    qc, _ = vc.to_qiskit()
    values = vc.qiskit_parameter_values(qc, x, w, s)
    for b in range(5):
        ref = QiskitStatevector(qc.assign_parameters(values[b])).data
        overlap = abs(np.vdot(ref, states[b]))
        np.testing.assert_allclose(overlap, 1.0, atol=1e-10)
    assert 0.0 < meyer_wallach(states).min() <= meyer_wallach(states).max() <= 1.0


def test_bad_input_is_refused():
    norm = r"meyer_wallach: states must have norm 1 \(atol 1e-6\), got a squared norm of 2"
    with pytest.raises(ValueError, match=norm):
        meyer_wallach(np.array([1.0, 1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"meyer_wallach: states must have shape \(batch, 2\*\*num_qubits\)"):
        meyer_wallach(np.ones((2, 3)) / 3**0.5)
    with pytest.raises(ValueError, match="states must be finite"):
        meyer_wallach(np.array([np.nan, 0.0]))
    with pytest.raises(TypeError, match="qubit_purities: states must be numeric"):
        qubit_purities(np.array(["a", "b"]))
    with pytest.raises(IndexError, match="entanglement_entropy: qubit 3 out of range for 3 qubits"):
        entanglement_entropy(_ghz(3), [3])
    with pytest.raises(ValueError, match="entanglement_entropy: qubits must be distinct and a proper non-empty"):
        entanglement_entropy(_ghz(3), [0, 1, 2])
    with pytest.raises(ValueError, match="entanglement_entropy: qubits must be distinct"):
        entanglement_entropy(_ghz(3), [])
    with pytest.raises(ValueError, match=r"haar_meyer_wallach: num_qubits must be an int >= 1, got 0"):
        haar_meyer_wallach(0)
    vc = skolik_reuploading(2, 1)
    with pytest.raises(ValueError, match=r"circuit_states: weights must have shape \(8,\), got \(3,\)"):
        circuit_states(vc, np.zeros((1, 2)), np.zeros(3))
    with pytest.raises(TypeError, match="circuit_states: vc must be a VariationalCircuit"):
        circuit_states("circuit", np.zeros((1, 2)), np.zeros(8))
