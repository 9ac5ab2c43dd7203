"""Statevector: an n-qubit pure state in NumPy memory, evolved by compiled circuits."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from nextrl import _core
from nextrl._checks import check_allocation, check_seed
from nextrl.quantum.circuit import Circuit, check_qubits
from nextrl.quantum.observables import as_pauli_sum

_DTYPES = (np.dtype(np.complex64), np.dtype(np.complex128))


def _check_dtype(fn: str, dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{fn}: dtype must be complex64 or complex128, got {dtype!r}") from err
    if dt not in _DTYPES:
        raise TypeError(f"{fn}: dtype must be complex64 or complex128, got {dt}")
    return dt


def _allocate(fn: str, num_qubits: int, dtype: np.dtype) -> np.ndarray:
    if not isinstance(num_qubits, numbers.Integral) or isinstance(num_qubits, bool):
        raise TypeError(f"{fn}: num_qubits must be an int, got {type(num_qubits).__name__}")
    if not 1 <= num_qubits <= 62:
        raise ValueError(f"{fn}: num_qubits must be in [1, 62], got {num_qubits}")
    check_allocation(fn, f"{num_qubits} qubits in {dtype}", (1 << num_qubits) * dtype.itemsize)
    return np.zeros(1 << num_qubits, dtype=dtype)


class StateReadouts:
    """Read-outs shared by the CPU and CUDA statevectors. A subclass has `num_qubits` and the primitives
    `_norm_squared()`, `_probabilities(qubits)`, `_pauli_expectation(x_masks, z_masks, coeffs)`,
    `_sample(qubits, shots, seed)` and `_measure(qubit, seed)`."""

    num_qubits: int

    def _qubits(self, fn: str, qubits) -> list[int]:
        if qubits is None:
            return list(range(self.num_qubits))
        if isinstance(qubits, numbers.Integral):
            qubits = [qubits]
        return check_qubits(fn, qubits, self.num_qubits)

    def norm(self) -> float:
        return float(np.sqrt(self._norm_squared()))

    def probabilities(self, qubits: Sequence[int] | None = None) -> np.ndarray:
        """Marginal probabilities [2**len(qubits)]; bit j of an index is qubits[j]."""
        return self._probabilities(self._qubits("Statevector.probabilities", qubits))

    def expectation(self, observable) -> float | complex:
        """<psi|O|psi> for a Pauli label, PauliSum, list of (label, coeff) or SparsePauliOp.
        Real (float) when every coefficient is real."""
        obs = as_pauli_sum(observable)
        if obs.num_qubits != self.num_qubits:
            raise ValueError(
                f"Statevector.expectation: observable has {obs.num_qubits} qubits, state has {self.num_qubits}"
            )
        value = self._pauli_expectation(obs.x_masks, obs.z_masks, obs.coeffs)
        return float(value.real) if obs.is_hermitian else complex(value)

    @staticmethod
    def _seed(fn: str, seed) -> int:
        """An int seed in [0, 2**64) (the C++ samplers take a uint64), or a fresh one for None."""
        if seed is None:
            return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        return check_seed(fn, seed, or_none=True)

    def sample(self, shots: int, qubits: Sequence[int] | None = None, seed: int | None = None) -> np.ndarray:
        """`shots` measurement outcomes of `qubits` without collapse: [shots] int64 indices,
        bit j <-> qubits[j]. The same seed gives the same samples on any thread count (and device)."""
        if not isinstance(shots, numbers.Integral) or isinstance(shots, bool) or shots < 0:
            raise ValueError(f"Statevector.sample: shots must be a non-negative int, got {shots!r}")
        qs = self._qubits("Statevector.sample", qubits)
        return self._sample(qs, int(shots), self._seed("Statevector.sample", seed))

    def sample_counts(self, shots: int, qubits: Sequence[int] | None = None, seed: int | None = None) -> dict[str, int]:
        """Counts keyed by bit strings in Qiskit's format (last qubit leftmost)."""
        k = self.num_qubits if qubits is None else len(self._qubits("Statevector.sample_counts", qubits))
        values, counts = np.unique(self.sample(shots, qubits, seed), return_counts=True)
        return {format(int(v), f"0{k}b"): int(c) for v, c in zip(values, counts)}

    def measure(self, qubit: int, seed: int | None = None) -> int:
        """Measures `qubit` in the Z basis, collapses the state and returns 0 or 1."""
        (q,) = self._qubits("Statevector.measure", [qubit])
        return int(self._measure(q, self._seed("Statevector.measure", seed)))

    def fidelity(self, other) -> float:
        """|<self|other>|^2 for normalized states."""
        return float(abs(self.inner(other)) ** 2)


class Statevector(StateReadouts):
    """A pure state of `num_qubits` qubits, |0...0> by default; `device="cuda"` keeps it in GPU memory
    (nextrl.quantum.cuda.CudaStatevector: the same methods, `cpu()` copies it to the host).

    Amplitude i belongs to the basis state whose bit q is qubit q (Qiskit's order).
    Memory: 2**num_qubits * (8 or 16) bytes, checked before allocating.
    """

    device = "cpu"

    def __new__(cls, num_qubits: int | None = None, dtype=np.complex128, device: str = "cpu"):
        if device == "cuda" and cls is Statevector:
            from nextrl.quantum.cuda import CudaStatevector

            return CudaStatevector(num_qubits, dtype)
        if device != "cpu":
            raise ValueError(f"Statevector: device must be 'cpu' or 'cuda', got {device!r}")
        return super().__new__(cls)

    def __init__(self, num_qubits: int, dtype=np.complex128, device: str = "cpu"):
        dt = _check_dtype("Statevector", dtype)
        self._data = _allocate("Statevector", num_qubits, dt)
        self._data[0] = 1
        self.num_qubits = int(num_qubits)

    # -------------------------------------------------------------- construction
    @classmethod
    def _wrap(cls, data: np.ndarray) -> Statevector:
        sv = cls.__new__(cls)
        sv._data = data
        sv.num_qubits = int(data.shape[0]).bit_length() - 1
        return sv

    @classmethod
    def from_amplitudes(cls, amplitudes, dtype=None, *, atol: float | None = None) -> Statevector:
        """A state from 2**n amplitudes (copied); their norm must be 1 within `atol`
        (default 1e-5 for single-precision input or dtype, 1e-8 otherwise)."""
        arr = np.asarray(amplitudes)
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"Statevector.from_amplitudes: amplitudes must be numeric, got dtype {arr.dtype}")
        dt = _check_dtype(
            "Statevector.from_amplitudes",
            dtype
            if dtype is not None
            else (np.complex64 if arr.dtype in (np.complex64, np.float32) else np.complex128),
        )
        if arr.ndim != 1 or arr.shape[0] < 2 or arr.shape[0] & (arr.shape[0] - 1):
            raise ValueError(
                "Statevector.from_amplitudes: amplitudes must be 1-D with a power-of-two length >= 2, "
                f"got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError("Statevector.from_amplitudes: amplitudes must be finite")
        if atol is None:
            single = arr.dtype in (np.complex64, np.float32, np.float16) or dt == np.complex64
            atol = 1e-5 if single else 1e-8
        norm = float(np.sqrt(np.sum(np.abs(arr.astype(np.complex128)) ** 2)))
        if abs(norm - 1.0) > atol:
            raise ValueError(f"Statevector.from_amplitudes: amplitudes must have norm 1 (atol {atol}), got {norm:.12g}")
        return cls._wrap(np.array(arr, dtype=dt, copy=True))

    @classmethod
    def from_label(cls, label: str, dtype=np.complex128) -> Statevector:
        """A product state from a label over "01+-rl" (read right to left, as in Qiskit)."""
        single = {"0": [1, 0], "1": [0, 1], "+": [1, 1], "-": [1, -1], "r": [1, 1j], "l": [1, -1j]}
        if not isinstance(label, str) or not label or set(label) - set(single):
            raise ValueError(f"Statevector.from_label: label must be a non-empty string over '01+-rl', got {label!r}")
        dt = _check_dtype("Statevector.from_label", dtype)
        _allocate("Statevector.from_label", len(label), dt)  # memory check only
        vec = np.ones(1, dtype=np.complex128)
        for ch in label:  # leftmost character is the highest qubit
            v = np.array(single[ch], dtype=np.complex128)
            vec = np.kron(vec, v / np.linalg.norm(v))
        return cls._wrap(vec.astype(dt))

    def copy(self) -> Statevector:
        return Statevector._wrap(self._data.copy())

    def cuda(self):
        """A copy of this state in GPU memory (see nextrl.quantum.cuda.CudaStatevector)."""
        from nextrl.quantum.cuda import CudaStatevector

        return CudaStatevector.from_host(self._data)

    def cpu(self) -> Statevector:
        return self

    # ------------------------------------------------------------------- access
    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def amplitudes(self) -> np.ndarray:
        """Read-only, zero-copy view of the amplitudes: [2**num_qubits] complex."""
        view = self._data.view()
        view.setflags(write=False)
        return view

    def __repr__(self) -> str:
        return f"Statevector(num_qubits={self.num_qubits}, dtype={self.dtype})"

    def reset(self) -> Statevector:
        """Back to |0...0>."""
        self._data[:] = 0
        self._data[0] = 1
        return self

    # ---------------------------------------------------------------- evolution
    def apply(self, circuit: Circuit, params=None, *, fusion: bool | int = True) -> Statevector:
        """Applies `circuit` in place with parameter values `params` (see Circuit.bind)."""
        if not isinstance(circuit, Circuit):
            raise TypeError(
                f"Statevector.apply: circuit must be a nextrl.quantum.Circuit, got {type(circuit).__name__}"
            )
        if circuit.num_qubits != self.num_qubits:
            raise ValueError(f"Statevector.apply: circuit has {circuit.num_qubits} qubits, state has {self.num_qubits}")
        circuit.compile(fusion).run(self._data, circuit.bind(params))
        return self

    # ---------------------------------------------------------------- read-outs (StateReadouts)
    def _norm_squared(self) -> float:
        return _core.norm_squared(self._data)

    def _probabilities(self, qubits: list[int]) -> np.ndarray:
        return _core.probabilities(self._data, qubits)

    def _pauli_expectation(self, x, z, coeffs) -> complex:
        return _core.pauli_expectation(self._data, x, z, coeffs)

    def _sample(self, qubits: list[int], shots: int, seed: int) -> np.ndarray:
        return _core.sample_probabilities(self._probabilities(qubits), shots, seed)

    def _measure(self, qubit: int, seed: int) -> int:
        return _core.measure(self._data, qubit, seed)

    def _other(self, fn: str, other: Statevector) -> np.ndarray:
        if not isinstance(other, Statevector):
            raise TypeError(f"{fn}: other must be a Statevector, got {type(other).__name__}")
        if other.num_qubits != self.num_qubits:
            raise ValueError(f"{fn}: states have {self.num_qubits} and {other.num_qubits} qubits")
        return other._data if other.dtype == self.dtype else other._data.astype(self.dtype)

    def inner(self, other: Statevector) -> complex:
        """<self|other>."""
        return complex(_core.inner(self._data, self._other("Statevector.inner", other)))

    # ------------------------------------------------------------------- qiskit
    def to_qiskit(self):
        from qiskit.quantum_info import Statevector as QiskitStatevector

        return QiskitStatevector(self._data.astype(np.complex128))

    @classmethod
    def from_qiskit(cls, state, dtype=np.complex128) -> Statevector:
        return cls.from_amplitudes(np.asarray(state.data), dtype=dtype)
