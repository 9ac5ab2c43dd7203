"""CUDA backend of the quantum kernels: statevectors in device memory and batched variational circuits on CUDA
tensors (the forward, the read-outs and the adjoint backward in one kernel launch, nothing copied to the host).

Both start from the CPU plans' lowering of a circuit (validated once), so a circuit that runs on the CPU runs here
with the same results: 1e-10 in complex128, 1e-5 in complex64 (tests/quantum/test_cuda.py). Available when the
build found nvcc and a GPU is visible (`available()`); everything else raises a RuntimeError that says which.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from nextrl import _core
from nextrl.quantum.circuit import Circuit
from nextrl.quantum.observables import as_pauli_sum

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
        raise RuntimeError(f"{fn}: this nextrl build has no CUDA kernels (rebuild where nvcc is installed, "
                           "-Ccmake.define.NEXTRL_CUDA=ON)")
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


class CudaStatevector:
    """A pure state of `num_qubits` qubits in GPU memory, |0...0> by default; made by
    `Statevector(n, device="cuda")` or `Statevector.cuda()`. Same methods as the CPU Statevector; the amplitudes
    stay on the device until `cpu()` copies them to the host."""

    device = "cuda"

    def __init__(self, num_qubits: int, dtype=np.complex128):
        from nextrl.quantum.statevector import _check_dtype

        _require("Statevector(device='cuda')")
        dt = _check_dtype("Statevector", dtype)
        if not isinstance(num_qubits, numbers.Integral) or isinstance(num_qubits, bool):
            raise TypeError(f"Statevector: num_qubits must be an int, got {type(num_qubits).__name__}")
        if not 1 <= num_qubits <= 40:
            raise ValueError(f"Statevector(device='cuda'): num_qubits must be in [1, 40], got {num_qubits}")
        need = (1 << int(num_qubits)) * dt.itemsize
        free, _ = _core.cuda_memory_info()
        if need > free:
            raise MemoryError(f"Statevector(device='cuda'): {num_qubits} qubits in {dt} need {need} bytes "
                              f"({need / 2**30:.4g} GiB), but the device has only {free} bytes free")
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
            raise TypeError(f"Statevector.apply: circuit must be a nextrl.quantum.Circuit, got {type(circuit).__name__}")
        if circuit.num_qubits != self.num_qubits:
            raise ValueError(f"Statevector.apply: circuit has {circuit.num_qubits} qubits, state has {self.num_qubits}")
        self._state.apply(device_circuit(circuit, fusion), circuit.bind(params))
        return self

    def synchronize(self) -> None:
        """Waits for the device (timing)."""
        self._state.synchronize()

    def _qubits(self, fn: str, qubits) -> list[int]:
        from nextrl.quantum.statevector import Statevector

        return Statevector._qubits(self, fn, qubits)

    def norm(self) -> float:
        return float(np.sqrt(self._state.norm_squared()))

    def probabilities(self, qubits: Sequence[int] | None = None) -> np.ndarray:
        """Marginal probabilities [2**len(qubits)] (host array); bit j of an index is qubits[j]."""
        return self._state.probabilities(self._qubits("Statevector.probabilities", qubits))

    def expectation(self, observable) -> float | complex:
        obs = as_pauli_sum(observable)
        if obs.num_qubits != self.num_qubits:
            raise ValueError(f"Statevector.expectation: observable has {obs.num_qubits} qubits, state has {self.num_qubits}")
        value = self._state.pauli_expectation([int(v) for v in obs.x_masks], [int(v) for v in obs.z_masks],
                                              [complex(c) for c in obs.coeffs])
        return float(value.real) if obs.is_hermitian else complex(value)

    def sample(self, shots: int, qubits: Sequence[int] | None = None, seed: int | None = None) -> np.ndarray:
        """`shots` outcomes of `qubits` drawn on the device with the CPU path's generator: [shots] int64."""
        from nextrl.quantum.statevector import Statevector

        if not isinstance(shots, numbers.Integral) or isinstance(shots, bool) or shots < 0:
            raise ValueError(f"Statevector.sample: shots must be a non-negative int, got {shots!r}")
        qs = self._qubits("Statevector.sample", qubits)
        return self._state.sample(qs, int(shots), Statevector._seed("Statevector.sample", seed))

    def sample_counts(self, shots: int, qubits: Sequence[int] | None = None, seed: int | None = None) -> dict[str, int]:
        k = self.num_qubits if qubits is None else len(self._qubits("Statevector.sample_counts", qubits))
        values, counts = np.unique(self.sample(shots, qubits, seed), return_counts=True)
        return {format(int(v), f"0{k}b"): int(c) for v, c in zip(values, counts)}

    def measure(self, qubit: int, seed: int | None = None) -> int:
        from nextrl.quantum.statevector import Statevector

        (q,) = self._qubits("Statevector.measure", [qubit])
        return int(self._state.measure(q, Statevector._seed("Statevector.measure", seed)))

    def inner(self, other: CudaStatevector) -> complex:
        if not isinstance(other, CudaStatevector):
            raise TypeError(f"Statevector.inner: other must be a CUDA Statevector, got {type(other).__name__}")
        if other.num_qubits != self.num_qubits or other.dtype != self.dtype:
            raise ValueError("Statevector.inner: states differ in qubits or dtype")
        return complex(self._state.inner(other._state))

    def fidelity(self, other: CudaStatevector) -> float:
        return float(abs(self.inner(other)) ** 2)


# ----------------------------------------------------------------------------------- batched variational circuits

class _Maps:
    """Device tensors that map per-sample slot gradients [B, P] to weights, inputs and scales (dense 0/1
    matrices, so every reduction is a deterministic sum or matmul)."""

    def __init__(self, vc, device, dtype):
        import torch

        from nextrl.quantum.variational import Weight

        P = len(vc.circuit.parameters)
        mw = np.zeros((P, vc.num_weights))
        mx = np.zeros((P, vc.num_features))
        ms = np.zeros((P, vc.num_scales))
        feat = np.zeros(P, dtype=np.int64)
        scale_of = np.full(P, -1, dtype=np.int64)
        for p, param in enumerate(vc.circuit.parameters):
            src = vc.sources[param]
            if isinstance(src, Weight):
                mw[p, src.index] = 1
            else:
                mx[p, src.index] = 1
                feat[p] = src.index
                if src.scale is not None:
                    ms[p, src.scale] = 1
                    scale_of[p] = src.scale
        t = lambda a: torch.as_tensor(a, device=device, dtype=dtype)  # noqa: E731
        self.mw, self.mx, self.ms = t(mw), t(mx), t(ms)
        self.feat = torch.as_tensor(feat, device=device)
        self.is_input = t(mx.sum(axis=1))
        self.scaled = torch.as_tensor(scale_of >= 0, device=device)
        self.scale_index = torch.as_tensor(np.maximum(scale_of, 0), device=device)


def _device_plan(vc, device):
    """(CudaBatchPlan, maps cache) of a VariationalCircuit on `device`, built once."""
    cache = vc.__dict__.setdefault("_cuda_batch", {})
    index = device.index if device.index is not None else 0
    hit = cache.get(index)
    if hit is None:
        import torch

        _require("QuantumLayer (cuda)")
        with torch.cuda.device(index):
            hit = (_core.CudaBatchPlan(vc.plan), {})
        cache[index] = hit
    return hit


def _run(vc, precision: str, x, w, s, g=None):
    """out [B, A] (and slot gradients [B, P] with g) of the circuit on CUDA tensors of the precision's dtype."""
    import torch

    plan, _ = _device_plan(vc, x.device)
    B = x.shape[0]
    out = torch.empty((B, vc.num_outputs), device=x.device, dtype=x.dtype)
    grad = torch.empty((B, plan.num_slots), device=x.device, dtype=x.dtype) if g is not None else None
    stream = torch.cuda.current_stream(x.device).cuda_stream
    plan.run(precision == "float32", x.data_ptr(), B, w.data_ptr(), s.data_ptr(), out.data_ptr(),
             0 if g is None else g.data_ptr(), 0 if grad is None else grad.data_ptr(), stream)
    return out, grad


def _param_grads(vc, x, s, slot_grad):
    """(d_weights [W], d_inputs [B, F], d_scales [S]) from the per-sample slot gradients [B, P]."""
    import torch

    _, maps_cache = _device_plan(vc, x.device)
    maps = maps_cache.get(x.dtype)
    if maps is None:
        maps = maps_cache[x.dtype] = _Maps(vc, x.device, x.dtype)
    ones = torch.ones_like(maps.is_input)
    factor = torch.where(maps.scaled, s[maps.scale_index], ones) if s.numel() else ones
    dx = (slot_grad * (maps.is_input * factor)) @ maps.mx  # d angle / d x = 1, or the scale for scaled inputs
    ds = (slot_grad * x[:, maps.feat]).sum(0) @ maps.ms if s.numel() else torch.zeros_like(s)
    return slot_grad.sum(0) @ maps.mw, dx, ds


def _prepare(vc, precision: str, inputs, weights, scales):
    import torch

    dt = torch.float32 if precision == "float32" else torch.float64
    dev = inputs.device
    for name, t in (("weights", weights), ("scales", scales)):
        if t.device != dev:
            raise ValueError(f"QuantumLayer.forward: {name} are on {t.device} but inputs on {dev}; "
                             f"move the layer with layer.to({str(dev)!r})")
    x = inputs.detach().to(dt).contiguous()
    w = weights.detach().to(dt).contiguous()
    s = scales.detach().to(dt).contiguous()
    if not bool(torch.isfinite(x).all()):
        raise ValueError("QuantumLayer.forward: inputs must be finite (NaN or inf found)")
    return x, w, s


class _CudaVQCFunction:
    """Built lazily (torch is imported only when the layer is used)."""

    fn = None

    @classmethod
    def get(cls):
        if cls.fn is None:
            import torch

            class Fn(torch.autograd.Function):
                @staticmethod
                def forward(ctx, inputs, weights, scales, output_scale, vc, precision):
                    x, w, s = _prepare(vc, precision, inputs, weights, scales)
                    raw, _ = _run(vc, precision, x, w, s)
                    ctx.vc, ctx.precision = vc, precision
                    ctx.dtypes = (inputs.dtype, weights.dtype, scales.dtype)
                    ctx.save_for_backward(x, w, s, output_scale, raw)
                    out = raw if output_scale is None else raw * output_scale.to(raw.dtype)
                    return out.to(weights.dtype)

                @staticmethod
                def backward(ctx, grad_out):
                    x, w, s, o, raw = ctx.saved_tensors
                    g = grad_out.to(raw.dtype)
                    d_o = None
                    if o is not None:
                        d_o = (g * raw).sum(0).to(o.dtype)
                        g = g * o.to(raw.dtype)
                    _, slot_grad = _run(ctx.vc, ctx.precision, x, w, s, g.contiguous())
                    in_dt, w_dt, s_dt = ctx.dtypes
                    dw, dx, ds = _param_grads(ctx.vc, x, s, slot_grad)
                    return dx.to(in_dt), dw.to(w_dt), ds.to(s_dt), d_o, None, None

            cls.fn = Fn
        return cls.fn


def layer_forward(vc, precision: str, inputs, weights, scales, output_scale):
    """QuantumLayer's forward on CUDA tensors: [B, num_features] -> [B, num_outputs] on the same device."""
    import torch

    if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                       for t in (inputs, weights, scales, output_scale)):
        return _CudaVQCFunction.get().apply(inputs, weights, scales, output_scale, vc, precision)
    x, w, s = _prepare(vc, precision, inputs, weights, scales)
    raw, _ = _run(vc, precision, x, w, s)
    out = raw if output_scale is None else raw * output_scale.to(raw.dtype)
    return out.to(weights.dtype)


def vjp(vc, inputs, weights, scales, grad_outputs, *, dtype: str = "float64"):
    """(outputs, d_weights, d_inputs, d_scales) on CUDA tensors: VariationalCircuit.vjp on the device."""
    import torch

    x, w, s = _prepare(vc, dtype, inputs, weights, scales)
    g = grad_outputs.detach().to(x.dtype).contiguous()
    if tuple(g.shape) != (x.shape[0], vc.num_outputs):
        raise ValueError(f"vjp: grad_outputs must have shape ({x.shape[0]}, {vc.num_outputs}), got {tuple(g.shape)}")
    out, slot_grad = _run(vc, dtype, x, w, s, g)
    dw, dx, ds = _param_grads(vc, x, s, slot_grad)
    return out, dw, dx, ds
