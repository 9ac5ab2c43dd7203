"""The gate set: names, kinds shared with the C++ plan, and reference matrices.

Matrices follow Qiskit: for a gate on qubits (q0, q1, ...), bit j of a matrix index
belongs to q_j. Controls are kept apart from targets, so CX is X with one control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Values of GateKind in csrc/quantum/gates.h.
KIND = {
    "id": 0, "x": 1, "y": 2, "z": 3, "h": 4, "s": 5, "sdg": 6, "t": 7, "tdg": 8, "sx": 9, "sxdg": 10,
    "rx": 11, "ry": 12, "rz": 13, "p": 14, "u": 15,
    "swap": 16, "iswap": 17, "rxx": 18, "ryy": 19, "rzz": 20,
    "unitary": 21, "global_phase": 22,
}


@dataclass(frozen=True)
class GateSpec:
    base: str          # kind name in KIND
    num_targets: int
    num_params: int
    num_controls: int  # built-in controls (cx: 1, ccx: 2)


# Every name a Circuit method or from_qiskit accepts.
GATES: dict[str, GateSpec] = {
    "id": GateSpec("id", 1, 0, 0), "x": GateSpec("x", 1, 0, 0), "y": GateSpec("y", 1, 0, 0),
    "z": GateSpec("z", 1, 0, 0), "h": GateSpec("h", 1, 0, 0), "s": GateSpec("s", 1, 0, 0),
    "sdg": GateSpec("sdg", 1, 0, 0), "t": GateSpec("t", 1, 0, 0), "tdg": GateSpec("tdg", 1, 0, 0),
    "sx": GateSpec("sx", 1, 0, 0), "sxdg": GateSpec("sxdg", 1, 0, 0),
    "rx": GateSpec("rx", 1, 1, 0), "ry": GateSpec("ry", 1, 1, 0), "rz": GateSpec("rz", 1, 1, 0),
    "p": GateSpec("p", 1, 1, 0), "u": GateSpec("u", 1, 3, 0),
    "cx": GateSpec("x", 1, 0, 1), "cy": GateSpec("y", 1, 0, 1), "cz": GateSpec("z", 1, 0, 1),
    "ch": GateSpec("h", 1, 0, 1), "crx": GateSpec("rx", 1, 1, 1), "cry": GateSpec("ry", 1, 1, 1),
    "crz": GateSpec("rz", 1, 1, 1), "cp": GateSpec("p", 1, 1, 1),
    "swap": GateSpec("swap", 2, 0, 0), "iswap": GateSpec("iswap", 2, 0, 0),
    "rxx": GateSpec("rxx", 2, 1, 0), "ryy": GateSpec("ryy", 2, 1, 0), "rzz": GateSpec("rzz", 2, 1, 0),
    "ccx": GateSpec("x", 1, 0, 2), "cswap": GateSpec("swap", 2, 0, 1),
}


def gate_matrix(base: str, angles: tuple[float, ...] = ()) -> np.ndarray:
    """Matrix of a base gate (no controls) for numeric angles, as complex128."""
    c = np.cos(angles[0] / 2) if angles else 0.0
    s = np.sin(angles[0] / 2) if angles else 0.0
    r2 = 1 / np.sqrt(2)
    table = {
        "id": lambda: np.eye(2),
        "x": lambda: np.array([[0, 1], [1, 0]]),
        "y": lambda: np.array([[0, -1j], [1j, 0]]),
        "z": lambda: np.diag([1, -1]),
        "h": lambda: np.array([[r2, r2], [r2, -r2]]),
        "s": lambda: np.diag([1, 1j]),
        "sdg": lambda: np.diag([1, -1j]),
        "t": lambda: np.diag([1, np.exp(1j * np.pi / 4)]),
        "tdg": lambda: np.diag([1, np.exp(-1j * np.pi / 4)]),
        "sx": lambda: 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]),
        "sxdg": lambda: 0.5 * np.array([[1 - 1j, 1 + 1j], [1 + 1j, 1 - 1j]]),
        "rx": lambda: np.array([[c, -1j * s], [-1j * s, c]]),
        "ry": lambda: np.array([[c, -s], [s, c]]),
        "rz": lambda: np.diag([np.exp(-0.5j * angles[0]), np.exp(0.5j * angles[0])]),
        "p": lambda: np.diag([1, np.exp(1j * angles[0])]),
        "u": lambda: np.array([[c, -np.exp(1j * angles[2]) * s],
                               [np.exp(1j * angles[1]) * s, np.exp(1j * (angles[1] + angles[2])) * c]]),
        "swap": lambda: np.eye(4)[[0, 2, 1, 3]],
        "iswap": lambda: np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]]),
        "rxx": lambda: c * np.eye(4) - 1j * s * np.fliplr(np.eye(4)),
        "ryy": lambda: c * np.eye(4) - 1j * s * np.fliplr(np.diag([-1, 1, 1, -1])),
        "rzz": lambda: np.diag(np.exp(-0.5j * angles[0] * np.array([1, -1, -1, 1]))),
    }
    return np.asarray(table[base](), dtype=np.complex128)
