"""A dense statevector simulator: every gate becomes its full 2**n x 2**n matrix.

Written independently of nextrl (no nextrl import). Conventions are Qiskit's: qubit 0 is
the least significant bit of a basis index, so it is the RIGHTMOST factor of a Kronecker
product, and a Pauli label is read right to left ("ZI" is Z on qubit 1). A k-qubit matrix
acting on qubits (q0, q1, ...) has bit j of its row/column index on q_j.

An op is a tuple (name, qubits, angles, controls, ctrl_state, matrix):
  name:       a Qiskit gate name ("h", "cx", "crx", "ccx", "cswap", "rzz", "unitary", ...)
  qubits:     the gate's own qubits in Qiskit's argument order (built-in controls first)
  angles:     numeric angles
  controls:   extra controls, placed before the built-in ones
  ctrl_state: bit i is the required value of (controls + built-in controls)[i]; None = all ones
  matrix:     the matrix of "unitary", else None
"""

from __future__ import annotations

import numpy as np

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
Z = np.array([[1, 0], [0, -1]], dtype=complex)
PAULI = {"I": I2, "X": X, "Y": Y, "Z": Z}
KET_BRA = {(r, c): np.outer(np.eye(2)[r], np.eye(2)[c]).astype(complex) for r in (0, 1) for c in (0, 1)}


def single_qubit_matrix(name: str, angles=()) -> np.ndarray:
    """Qiskit's definitions, written from its documentation."""
    if name == "id":
        return I2
    if name == "x":
        return X
    if name == "y":
        return Y
    if name == "z":
        return Z
    if name == "h":
        return (X + Z) / np.sqrt(2)
    if name == "s":
        return np.diag([1, 1j])
    if name == "sdg":
        return np.diag([1, -1j])
    if name == "t":
        return np.diag([1, np.exp(1j * np.pi / 4)])
    if name == "tdg":
        return np.diag([1, np.exp(-1j * np.pi / 4)])
    if name == "sx":  # sqrt(X) = e^{i pi/4} RX(pi/2)
        return np.exp(1j * np.pi / 4) * expm_pauli(X, np.pi / 2)
    if name == "sxdg":
        return single_qubit_matrix("sx").conj().T
    if name == "rx":
        return expm_pauli(X, angles[0])
    if name == "ry":
        return expm_pauli(Y, angles[0])
    if name == "rz":
        return expm_pauli(Z, angles[0])
    if name == "p":
        return np.diag([1, np.exp(1j * angles[0])])
    if name == "u":  # U(theta, phi, lam) = e^{i(phi+lam)/2} RZ(phi) RY(theta) RZ(lam)
        theta, phi, lam = angles
        return np.exp(0.5j * (phi + lam)) * expm_pauli(Z, phi) @ expm_pauli(Y, theta) @ expm_pauli(Z, lam)
    raise KeyError(name)


def expm_pauli(p: np.ndarray, theta: float) -> np.ndarray:
    """exp(-i theta/2 P) for a Pauli product P (P @ P = I)."""
    return np.cos(theta / 2) * np.eye(len(p)) - 1j * np.sin(theta / 2) * p


def two_qubit_matrix(name: str, angles=()) -> np.ndarray:
    """Matrix on (q0, q1): the index is 2*b1 + b0, so q1 is the left kron factor."""
    if name == "swap":
        return sum(np.kron(KET_BRA[a, b], KET_BRA[b, a]) for a in (0, 1) for b in (0, 1))
    if name == "iswap":  # exp(i pi/4 (XX + YY))
        return np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]], dtype=complex)
    if name in ("rxx", "ryy", "rzz"):
        p = PAULI[name[1].upper()]
        return expm_pauli(np.kron(p, p), angles[0])
    raise KeyError(name)


# Qiskit name -> (base gate, number of built-in controls).
CONTROLLED = {
    "cx": ("x", 1),
    "cy": ("y", 1),
    "cz": ("z", 1),
    "ch": ("h", 1),
    "crx": ("rx", 1),
    "cry": ("ry", 1),
    "crz": ("rz", 1),
    "cp": ("p", 1),
    "ccx": ("x", 2),
    "cswap": ("swap", 1),
}


def embed(factors: dict[int, np.ndarray], num_qubits: int) -> np.ndarray:
    """Kronecker product of 2x2 `factors[q]` (identity elsewhere); qubit 0 is rightmost."""
    out = np.ones((1, 1), dtype=complex)
    for q in reversed(range(num_qubits)):
        out = np.kron(out, factors.get(q, I2))
    return out


def embed_matrix(matrix: np.ndarray, qubits, num_qubits: int, fixed=None) -> np.ndarray:
    """Full operator of a k-qubit `matrix` on `qubits`, as sum_{r,c} M[r,c] (x)_j |r_j><c_j|,
    times the 2x2 factors `fixed` (projectors on other qubits)."""
    k = len(qubits)
    full = np.zeros((2**num_qubits, 2**num_qubits), dtype=complex)
    for r in range(2**k):
        for c in range(2**k):
            if matrix[r, c] != 0:
                factors = {q: KET_BRA[(r >> j) & 1, (c >> j) & 1] for j, q in enumerate(qubits)}
                full += matrix[r, c] * embed({**(fixed or {}), **factors}, num_qubits)
    return full


def gate_operator(num_qubits: int, name, qubits, angles=(), controls=(), ctrl_state=None, matrix=None):
    """Full 2**n x 2**n operator of one op: (1 - P) + P U, P the projector on the active controls."""
    qubits, controls = list(qubits), list(controls)
    if name in CONTROLLED:
        base, nc = CONTROLLED[name]
        controls, qubits = controls + qubits[:nc], qubits[nc:]
    else:
        base = name
    if base == "unitary":
        u = np.asarray(matrix, dtype=complex)
    elif len(qubits) == 1:
        u = single_qubit_matrix(base, angles)
    else:
        u = two_qubit_matrix(base, angles)
    if not controls:
        return embed_matrix(u, qubits, num_qubits)
    if ctrl_state is None:
        ctrl_state = 2 ** len(controls) - 1
    if isinstance(ctrl_state, str):
        ctrl_state = int(ctrl_state, 2)
    active = {q: KET_BRA[(ctrl_state >> i) & 1, (ctrl_state >> i) & 1] for i, q in enumerate(controls)}
    # P (x) U on the active control values, the identity elsewhere: (1 - P) + P (x) U.
    return np.eye(2**num_qubits) - embed(active, num_qubits) + embed_matrix(u, qubits, num_qubits, active)


def simulate(num_qubits: int, ops, global_phase: float = 0.0, initial=None) -> np.ndarray:
    """The state after `ops` (see the module docstring) starting from |0...0> or `initial`."""
    state = np.zeros(2**num_qubits, dtype=complex)
    state[0] = 1
    if initial is not None:
        state = np.array(initial, dtype=complex)
    for op in ops:
        state = gate_operator(num_qubits, *op) @ state
    return np.exp(1j * global_phase) * state


def pauli_matrix(label: str) -> np.ndarray:
    """Dense matrix of a Pauli label; the leftmost character is the highest qubit."""
    out = np.ones((1, 1), dtype=complex)
    for ch in label:
        out = np.kron(out, PAULI[ch])
    return out


def expectation(state: np.ndarray, terms) -> complex:
    """<psi| sum_t c_t P_t |psi> for terms [(label, c_t), ...]."""
    op = sum(coeff * pauli_matrix(label) for label, coeff in terms)
    return complex(np.vdot(state, op @ state))


def probabilities(state: np.ndarray, qubits) -> np.ndarray:
    """Marginal probabilities of `qubits`: bit j of an outcome index is qubits[j]."""
    out = np.zeros(2 ** len(qubits))
    for i, amp in enumerate(state):
        out[sum(((i >> q) & 1) << j for j, q in enumerate(qubits))] += abs(amp) ** 2
    return out
