"""Pauli observables: weighted sums of Pauli strings in Qiskit's label order
(a label is read right to left: "ZI" is Z on qubit 1)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np


class PauliSum:
    """sum_t coeffs[t] * P_t with Pauli strings given as labels over "IXYZ"."""

    def __init__(self, terms: Iterable[tuple[str, complex]]):
        terms = list(terms)
        if not terms:
            raise ValueError("PauliSum: needs at least one term")
        n = None
        labels, coeffs = [], []
        for term in terms:
            if not isinstance(term, (tuple, list)) or len(term) != 2:
                raise ValueError(f"PauliSum: each term must be a (label, coeff) pair, e.g. ('ZZ', 1.0), got {term!r}")
            label, coeff = term
            if not isinstance(label, str):
                raise TypeError(f"PauliSum: label must be a str, got {type(label).__name__}")
            bad = set(label) - set("IXYZ")
            if bad or not label:
                raise ValueError(f"PauliSum: label must be a non-empty string over 'IXYZ', got '{label}'")
            if n is None:
                n = len(label)
            elif len(label) != n:
                raise ValueError(f"PauliSum: all labels must have length {n}, got '{label}'")
            if isinstance(coeff, (bool, np.bool_)) or not isinstance(coeff, numbers.Number):
                raise TypeError(f"PauliSum: coefficient must be a number, got {type(coeff).__name__}")
            if not np.isfinite(complex(coeff)):
                raise ValueError(f"PauliSum: coefficient of '{label}' must be finite, got {coeff}")
            labels.append(label)
            coeffs.append(complex(coeff))
        self.labels = tuple(labels)
        self.coeffs = np.array(coeffs, dtype=np.complex128)
        self.num_qubits = n
        x = np.zeros(len(labels), dtype=np.uint64)
        z = np.zeros(len(labels), dtype=np.uint64)
        for t, label in enumerate(labels):
            for q, ch in enumerate(reversed(label)):
                if ch in "XY":
                    x[t] |= np.uint64(1 << q)
                if ch in "ZY":
                    z[t] |= np.uint64(1 << q)
        self.x_masks, self.z_masks = x, z

    @classmethod
    def from_label(cls, label: str, coeff: complex = 1.0) -> PauliSum:
        return cls([(label, coeff)])

    @classmethod
    def from_sparse_pauli_op(cls, op) -> PauliSum:
        return cls(zip(op.paulis.to_labels(), op.coeffs))

    def to_sparse_pauli_op(self):
        from qiskit.quantum_info import SparsePauliOp

        return SparsePauliOp(list(self.labels), self.coeffs.copy())

    @property
    def is_hermitian(self) -> bool:
        return bool(np.all(self.coeffs.imag == 0))

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        body = " + ".join(f"({c:g})*{lab}" for lab, c in zip(self.labels, self.coeffs))
        return f"PauliSum({body})"


def as_pauli_sum(observable) -> PauliSum:
    """Accepts a label, a PauliSum, a list of (label, coeff) or a qiskit SparsePauliOp."""
    if isinstance(observable, PauliSum):
        return observable
    if isinstance(observable, str):
        return PauliSum.from_label(observable)
    if type(observable).__name__ == "SparsePauliOp":
        return PauliSum.from_sparse_pauli_op(observable)
    if isinstance(observable, (list, tuple)):
        return PauliSum(observable)
    raise TypeError(
        f"observable must be a Pauli label, a PauliSum, a list of (label, coeff) or a SparsePauliOp, "
        f"got {type(observable).__name__}"
    )
