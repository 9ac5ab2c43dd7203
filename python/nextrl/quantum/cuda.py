"""CUDA backend of the quantum kernels: statevectors in device memory and batched variational circuits on CUDA
tensors (the forward, the read-outs and the adjoint backward in one kernel launch, nothing copied to the host).

Both start from the CPU plans' lowering of a circuit (validated once), so a circuit that runs on the CPU runs here
with the same results: 1e-10 in complex128, 1e-5 in complex64 (tests/quantum/test_cuda.py). Available when the
build found nvcc and a GPU is visible (`available()`); everything else raises a RuntimeError that says which.
"""

from __future__ import annotations

import numbers

import numpy as np

from nextrl import _core
from nextrl.quantum.circuit import Circuit
from nextrl.quantum.statevector import StateReadouts, _check_dtype

MAX_FUSED_QUBITS = 4
"""largest fused block on the device by default (each block is one pass of 2^k x 2^k products over the state):
on an H200 a 28-qubit layered circuit ran in 57 ms with blocks of 4 qubits, 72 ms with 5, 74 ms with 3
(bench/results/cuda_2026-12-04.jsonl); `fusion=5` is allowed"""
MAX_DEVICE_FUSION = 5


def available() -> bool:
    """True when this build has the CUDA kernels and a GPU is visible."""
    return bool(_core.has_cuda()) and _core.cuda_device_count() > 0


def _require(fn: str) -> None:
    if not _core.has_cuda():
        raise RuntimeError(
            f"{fn}: this nextrl build has no CUDA kernels (rebuild where nvcc is installed, "
            "-Ccmake.define.NEXTRL_CUDA=ON)"
        )
    if _core.cuda_device_count() == 0:
        raise RuntimeError(f"{fn}: no CUDA device is visible")


def _device_fusion(fn: str, fusion) -> int:
    if isinstance(fusion, bool):
        return MAX_FUSED_QUBITS if fusion else 0
    if isinstance(fusion, numbers.Integral) and 0 <= fusion <= 12:
        return min(int(fusion), MAX_DEVICE_FUSION)
    raise ValueError(f"{fn}: fusion must be a bool or an int in [0, 12], got {fusion!r}")


def device_circuit(circuit: Circuit, fusion: bool | int = True):
    """The circuit fused for the device (cached on the circuit until it changes)."""
    max_fused = _device_fusion("Statevector.apply", fusion)
    plan = circuit.compile(False)  # validation and lowering; the device fuses on its own
    cache = circuit.__dict__.setdefault("_cuda_plans", {})
    key = (id(plan), max_fused)
    hit = cache.get(key)
    if hit is None or hit[0] is not plan:
        hit = (plan, _core.CudaCircuit(plan, max_fused))
        cache[key] = hit
    return hit[1]


class CudaStatevector(StateReadouts):
    """A pure state of `num_qubits` qubits in GPU memory, |0...0> by default; made by
    `Statevector(n, device="cuda")` or `Statevector.cuda()`. Same methods as the CPU Statevector; the amplitudes
    stay on the device until `cpu()` copies them to the host."""

    device = "cuda"

    def __init__(self, num_qubits: int, dtype=np.complex128):
        _require("Statevector(device='cuda')")
        dt = _check_dtype("Statevector", dtype)
        if not isinstance(num_qubits, numbers.Integral) or isinstance(num_qubits, bool):
            raise TypeError(f"Statevector: num_qubits must be an int, got {type(num_qubits).__name__}")
        if not 1 <= num_qubits <= 40:
            raise ValueError(f"Statevector(device='cuda'): num_qubits must be in [1, 40], got {num_qubits}")
        need = (1 << int(num_qubits)) * dt.itemsize
        free, _ = _core.cuda_memory_info()
        if need > free:
            raise MemoryError(
                f"Statevector(device='cuda'): {num_qubits} qubits in {dt} need {need} bytes "
                f"({need / 2**30:.4g} GiB), but the device has only {free} bytes free"
            )
        self._state = _core.CudaState(int(num_qubits), dt == np.complex64)
        self.num_qubits = int(num_qubits)
        self._dtype = dt

    @classmethod
    def from_host(cls, amplitudes: np.ndarray) -> CudaStatevector:
        sv = cls(int(amplitudes.shape[0]).bit_length() - 1, amplitudes.dtype)
        sv._state.upload(np.ascontiguousarray(amplitudes))
        return sv

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def amplitudes(self):
        raise RuntimeError("Statevector.amplitudes: the state lives on the GPU; call .cpu() for a host copy")

    def __repr__(self) -> str:
        return f"Statevector(num_qubits={self.num_qubits}, dtype={self.dtype}, device='cuda')"

    def cpu(self):
        """A host copy of this state (a CPU Statevector)."""
        from nextrl.quantum.statevector import Statevector

        data = np.empty(1 << self.num_qubits, dtype=self._dtype)
        self._state.download(data)
        return Statevector._wrap(data)

    def cuda(self) -> CudaStatevector:
        return self

    def copy(self) -> CudaStatevector:
        other = CudaStatevector(self.num_qubits, self._dtype)
        other._state.copy_from(self._state)
        return other

    def reset(self) -> CudaStatevector:
        self._state.reset()
        return self

    def apply(self, circuit: Circuit, params=None, *, fusion: bool | int = True) -> CudaStatevector:
        """Applies `circuit` in place: fusion True fuses blocks of up to MAX_FUSED_QUBITS (4) qubits into one
        pass each, an int k up to 5 (larger values act as 5), False runs one pass per gate."""
        if not isinstance(circuit, Circuit):
            raise TypeError(
                f"Statevector.apply: circuit must be a nextrl.quantum.Circuit, got {type(circuit).__name__}"
            )
        if circuit.num_qubits != self.num_qubits:
            raise ValueError(f"Statevector.apply: circuit has {circuit.num_qubits} qubits, state has {self.num_qubits}")
        self._state.apply(device_circuit(circuit, fusion), circuit.bind(params))
        return self

    def synchronize(self) -> None:
        """Waits for the device (timing)."""
        self._state.synchronize()

    # ------------------------------------------------------ read-outs (StateReadouts, computed on the device)
    def _norm_squared(self) -> float:
        return self._state.norm_squared()

    def _probabilities(self, qubits: list[int]) -> np.ndarray:
        return self._state.probabilities(qubits)

    def _pauli_expectation(self, x, z, coeffs) -> complex:
        return self._state.pauli_expectation([int(v) for v in x], [int(v) for v in z], [complex(c) for c in coeffs])

    def _sample(self, qubits: list[int], shots: int, seed: int) -> np.ndarray:
        return self._state.sample(qubits, shots, seed)

    def _measure(self, qubit: int, seed: int) -> int:
        return self._state.measure(qubit, seed)

    def inner(self, other: CudaStatevector) -> complex:
        if not isinstance(other, CudaStatevector):
            raise TypeError(f"Statevector.inner: other must be a CUDA Statevector, got {type(other).__name__}")
        if other.num_qubits != self.num_qubits or other.dtype != self.dtype:
            raise ValueError("Statevector.inner: states differ in qubits or dtype")
        return complex(self._state.inner(other._state))
