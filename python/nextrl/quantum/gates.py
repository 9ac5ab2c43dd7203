"""The gate set, read from the C++ gate table (csrc/quantum/gates.h, kGateTable).

Base gates (names, GateKind integers, numbers of targets and angles, structure class and
the generator of each angle) come from C++, so nothing here repeats a C++ constant. Python
adds only the Qiskit names of controlled gates (cx = x with one control, ...).

Matrices follow Qiskit: for a gate on qubits (q0, q1, ...), bit j of a matrix index
belongs to q_j. Controls are kept apart from targets, so CX is X with one control.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nextrl import _core


@dataclass(frozen=True)
class BaseGate:
    """One row of the C++ gate table."""

    name: str  # Qiskit's name of the uncontrolled gate
    kind: int  # GateKind integer of the C++ plans
    num_targets: int  # -1: given by the matrix ("unitary"); 0: "global_phase"
    num_params: int
    cls: str  # "diagonal", "monomial" or "dense"
    generators: tuple[np.ndarray, ...]  # per angle: G with gate = V exp(-i angle G) W


def _read_table() -> dict[str, BaseGate]:
    table = {}
    for row in _core.gate_table():
        gens = tuple(np.asarray(g) for g in row["generators"])
        for g in gens:
            g.setflags(write=False)
        table[row["name"]] = BaseGate(row["name"], row["kind"], row["num_targets"], row["num_params"], row["cls"], gens)
    return table


BASE_GATES: dict[str, BaseGate] = _read_table()
# Values of GateKind in csrc/quantum/gates.h, read from the table.
KIND: dict[str, int] = {name: g.kind for name, g in BASE_GATES.items()}


@dataclass(frozen=True)
class GateSpec:
    base: str  # base gate name (a key of BASE_GATES)
    num_targets: int
    num_params: int
    num_controls: int  # built-in controls (cx: 1, ccx: 2)


def _spec(base: str, num_controls: int = 0) -> GateSpec:
    g = BASE_GATES[base]
    return GateSpec(base, g.num_targets, g.num_params, num_controls)


# Qiskit names of controlled gates: name -> (base gate, built-in controls).
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
# Every name a Circuit method or from_qiskit accepts: the table's gates on qubits, and the controlled ones.
GATES: dict[str, GateSpec] = {
    **{name: _spec(name) for name, g in BASE_GATES.items() if g.num_targets >= 1 and name != "unitary"},
    **{name: _spec(base, k) for name, (base, k) in CONTROLLED.items()},
}


def _base(fn: str, base) -> BaseGate:
    if not isinstance(base, str):
        raise TypeError(f"{fn}: base must be a gate name (str), got {type(base).__name__}")
    g = BASE_GATES.get(base)
    if g is None or base == "unitary":
        known = ", ".join(n for n in BASE_GATES if n != "unitary")
        raise ValueError(f"{fn}: base must be one of {known}, got '{base}'")
    return g


def _angles(fn: str, g: BaseGate, angles: Sequence[float]) -> list[float]:
    angles = list(angles)
    if len(angles) != g.num_params:
        raise ValueError(f"{fn}: angles must have {g.num_params} entries for '{g.name}', got {len(angles)}")
    for a in angles:
        if not isinstance(a, numbers.Real) or isinstance(a, bool):
            raise TypeError(f"{fn}: angles must be real numbers, got {type(a).__name__}")
    return [float(a) for a in angles]


def gate_matrix(base: str, angles: Sequence[float] = ()) -> np.ndarray:
    """Matrix of a base gate (no controls) for numeric angles, as complex128 (from C++)."""
    g = _base("gate_matrix", base)
    return _core.gate_matrix(g.kind, _angles("gate_matrix", g, angles))


def gate_derivative(base: str, angles: Sequence[float], which: int) -> np.ndarray:
    """d(matrix)/d(angles[which]) of a base gate, as complex128 (from C++)."""
    g = _base("gate_derivative", base)
    a = _angles("gate_derivative", g, angles)
    if not isinstance(which, numbers.Integral) or isinstance(which, bool):
        raise TypeError(f"gate_derivative: which must be an int, got {type(which).__name__}")
    if not 0 <= which < g.num_params:
        raise IndexError(f"gate_derivative: which must be in [0, {g.num_params}) for '{base}', got {which}")
    return _core.gate_derivative(g.kind, a, int(which))


def gate_generator(base: str, which: int = 0) -> np.ndarray:
    """Generator G of angle `which` of a base gate (gate = V exp(-i angle G) W), read-only."""
    g = _base("gate_generator", base)
    if not isinstance(which, numbers.Integral) or isinstance(which, bool):
        raise TypeError(f"gate_generator: which must be an int, got {type(which).__name__}")
    if not 0 <= which < g.num_params:
        raise IndexError(f"gate_generator: which must be in [0, {g.num_params}) for '{base}', got {which}")
    return g.generators[which]
