"""Entanglement of pure states: the Meyer-Wallach measure and the entanglement entropy of a bipartition.

The documents' "entanglement measure" was made up; these are the standard quantities, computed from
statevectors (NumPy, batched), for the states a variational circuit prepares on given inputs:

    Q(psi) = 2 (1 - (1/n) sum_k Tr rho_k^2)              Meyer & Wallach 2002, J. Math. Phys. 43, 4273;
                                                         in Brennen's form (2003, QIC 3, 619)
    S_A(psi) = -Tr rho_A log2 rho_A                      von Neumann entropy of the qubits A (in bits)

rho_k is the reduced state of qubit k. Q is 0 exactly for product states and 1 for GHZ states (and Bell
pairs); the W state of 3 qubits has Q = 8/9. Over Haar-random states of n qubits the mean of Q is
(2^n - 2) / (2^n + 1) (the mean single-qubit purity (2 + 2^(n-1)) / (2^n + 1), Lubkin 1978), the value a
"maximally expressive" circuit approaches.

States: [batch, 2**num_qubits] complex, Qiskit's qubit order (qubit k is bit k of a basis index).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = [
    "circuit_states",
    "entanglement_entropy",
    "haar_meyer_wallach",
    "meyer_wallach",
    "qubit_purities",
]


def _states(fn: str, states) -> tuple[np.ndarray, int]:
    """states as a complex128 [B, 2**n] array and n; a single state [2**n] becomes a batch of one."""
    psi = np.asarray(states)
    if not np.issubdtype(psi.dtype, np.number):
        raise TypeError(f"{fn}: states must be numeric, got dtype {psi.dtype}")
    if psi.ndim == 1:
        psi = psi[None]
    dim = psi.shape[-1] if psi.ndim == 2 else 0
    if psi.ndim != 2 or dim < 2 or dim & (dim - 1):
        raise ValueError(
            f"{fn}: states must have shape (batch, 2**num_qubits) with num_qubits >= 1, got {np.shape(states)}"
        )
    psi = psi.astype(np.complex128, copy=False)
    if not np.all(np.isfinite(psi)):
        raise ValueError(f"{fn}: states must be finite (got NaN or inf)")
    norms = np.sum(np.abs(psi) ** 2, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-6):
        bad = float(norms[np.argmax(np.abs(norms - 1.0))])
        raise ValueError(f"{fn}: states must have norm 1 (atol 1e-6), got a squared norm of {bad:.8g}")
    return psi, dim.bit_length() - 1


def qubit_purities(states) -> np.ndarray:
    """Tr rho_k^2 of every qubit k: [B, n] for states [B, 2**n] (1 for a qubit in a pure product factor,
    1/2 for a maximally mixed one)."""
    return _purities(*_states("qubit_purities", states))


def _purities(psi: np.ndarray, n: int) -> np.ndarray:
    out = np.empty((psi.shape[0], n))
    for k in range(n):
        v = psi.reshape(psi.shape[0], 1 << (n - 1 - k), 2, 1 << k)  # [B, high bits, qubit k, low bits]
        rho = np.einsum("bhal,bhcl->bac", v, v.conj())
        out[:, k] = np.sum(np.abs(rho) ** 2, axis=(1, 2))
    return out


def meyer_wallach(states) -> np.ndarray:
    """Meyer-Wallach Q [B] of states [B, 2**n] (a single state [2**n] gives shape [1]): 2 (1 - mean_k Tr
    rho_k^2), in [0, 1]; 0 for one qubit (a single qubit is a product state)."""
    return np.clip(2.0 * (1.0 - _purities(*_states("meyer_wallach", states)).mean(axis=1)), 0.0, 1.0)


def entanglement_entropy(states, qubits: Sequence[int]) -> np.ndarray:
    """Von Neumann entropy in bits [B] of the reduced state of `qubits` (a proper, non-empty subset) of
    states [B, 2**n]: from the Schmidt coefficients of the bipartition `qubits` | rest."""
    fn = "entanglement_entropy"
    psi, n = _states(fn, states)
    qs = list(qubits)
    for q in qs:
        if isinstance(q, bool) or not isinstance(q, numbers.Integral) or not 0 <= q < n:
            raise IndexError(f"{fn}: qubit {q!r} out of range for {n} qubits")
    if not qs or len(set(qs)) != len(qs) or len(qs) == n:
        raise ValueError(f"{fn}: qubits must be distinct and a proper non-empty subset of the {n} qubits, got {qs}")
    rest = [q for q in range(n) if q not in qs]
    # axis 1 + j of the [B, 2, ..., 2] view is qubit n - 1 - j
    t = psi.reshape((psi.shape[0],) + (2,) * n)
    order = [0] + [1 + n - 1 - q for q in qs] + [1 + n - 1 - q for q in rest]
    m = t.transpose(order).reshape(psi.shape[0], 1 << len(qs), 1 << len(rest))
    p = np.linalg.svd(m, compute_uv=False) ** 2
    p = np.where(p > 1e-300, p, 1.0)  # 0 log 0 = 0
    return np.maximum(-np.sum(p * np.log2(p), axis=1), 0.0)


def haar_meyer_wallach(num_qubits: int) -> float:
    """Mean Meyer-Wallach Q of Haar-random pure states of `num_qubits` qubits: (2^n - 2) / (2^n + 1)."""
    if isinstance(num_qubits, bool) or not isinstance(num_qubits, numbers.Integral) or num_qubits < 1:
        raise ValueError(f"haar_meyer_wallach: num_qubits must be an int >= 1, got {num_qubits!r}")
    d = 2.0**num_qubits
    return (d - 2.0) / (d + 1.0)


def circuit_states(vc, inputs, weights, scales=None) -> np.ndarray:
    """Final states [B, 2**n] complex128 that the VariationalCircuit `vc` prepares on inputs [B, F] with the
    given weights [W] and scales [S] (the states its read-out measures), from nextrl's simulator."""
    from nextrl.quantum.statevector import Statevector
    from nextrl.quantum.variational import VariationalCircuit

    if not isinstance(vc, VariationalCircuit):
        raise TypeError(f"circuit_states: vc must be a VariationalCircuit, got {type(vc).__name__}")
    w = np.asarray(weights, dtype=np.float64)
    s = np.ones(vc.num_scales) if scales is None else np.asarray(scales, dtype=np.float64)
    for name, arr, size in (("weights", w, vc.num_weights), ("scales", s, vc.num_scales)):
        if arr.shape != (size,):
            raise ValueError(f"circuit_states: {name} must have shape ({size},), got {arr.shape}")
    values = vc.parameter_values(inputs, w, s)  # checks the inputs
    out = np.empty((values.shape[0], 1 << vc.num_qubits), dtype=np.complex128)
    for b, row in enumerate(values):
        out[b] = Statevector(vc.num_qubits).apply(vc.circuit, row).amplitudes
    return out
