"""QuantumLayer: a batched variational circuit as a torch.nn.Module.

Forward runs the compiled BatchPlan over the whole batch in one C++ call; backward is
the adjoint vector-Jacobian product (one sweep for weights, inputs and scales).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nextrl.quantum.variational import VariationalCircuit


def _f64(t: torch.Tensor) -> np.ndarray:
    """A float64 NumPy view (or copy) of a CPU or GPU tensor, without autograd history."""
    if t.dtype is torch.float64 and not t.is_cuda:
        return (t.detach() if t.requires_grad else t).numpy()
    return t.detach().to("cpu", torch.float64).numpy()


# The autograd Function keeps the forward's final states for the backward sweep (so that it does not
# repeat the forward pass) when they take at most this many bytes; larger batches recompute them.
KEEP_STATE_BYTES = 64 << 20


def _like_weights(out: torch.Tensor, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The layer's output on the inputs' device in the weights' dtype (the C++ call returns CPU float64)."""
    if out.dtype != weights.dtype or inputs.is_cuda:
        out = out.to(device=inputs.device, dtype=weights.dtype)
    return out


def _run_forward(vc: VariationalCircuit, precision: str, x: np.ndarray, w: np.ndarray, s: np.ndarray,
                 keep_state: bool = False, output_scale: np.ndarray | None = None):
    try:
        return vc.plan.forward(x, w, s, precision, keep_state, output_scale)
    except ValueError as e:  # NaN / inf inputs are caught in C++ (one pass, no extra torch op)
        raise ValueError(str(e).replace("BatchPlan.forward", "QuantumLayer.forward")) from None


class _VQCFunction(torch.autograd.Function):
    """inputs [B, F], weights [W], scales [S], output_scale [A] or None -> outputs [B, A]
    (output_scale multiplies the circuit's read-outs: Skolik et al.'s trainable output weights)."""

    @staticmethod
    def forward(ctx, inputs, weights, scales, output_scale, vc: VariationalCircuit, precision: str, views=None):
        # views: float64 NumPy arrays of (weights, scales, output_scale) when the caller has them (QuantumLayer).
        x = _f64(inputs)
        w, s, o = views if views is not None else (
            _f64(weights), _f64(scales), None if output_scale is None else _f64(output_scale))
        # The NumPy arrays above may be views of these tensors: backward checks that none was modified in
        # place since (their version counters; save_for_backward does the same check but costs ~10 us per call).
        ctx.tensors = (inputs, weights, scales, output_scale)
        ctx.versions = tuple(None if t is None else t._version for t in ctx.tensors)
        keep = (x.shape[0] << (vc.num_qubits + 1)) * (4 if precision == "float32" else 8) <= KEEP_STATE_BYTES
        if keep:
            raw, ctx.state = _run_forward(vc, precision, x, w, s, keep_state=True)
        else:
            raw, ctx.state = _run_forward(vc, precision, x, w, s), None
        ctx.vc, ctx.precision, ctx.arrays, ctx.raw, ctx.output_scale = vc, precision, (x, w, s), raw, o
        return _like_weights(torch.from_numpy(raw if o is None else raw * o), inputs, weights)

    @staticmethod
    def backward(ctx, grad_out):
        for t, v, name in zip(ctx.tensors, ctx.versions, ("inputs", "weights", "scales", "output_scale")):
            if t is not None and t._version != v:
                raise RuntimeError(f"QuantumLayer backward: {name} was modified by an inplace operation after the "
                                   f"forward pass (version {v} -> {t._version}); run the forward again")
        inputs, weights, scales, _ = ctx.tensors
        x, w, s = ctx.arrays
        in_dtype, device, w_dtype, s_dtype = inputs.dtype, inputs.device, weights.dtype, scales.dtype
        g = _f64(grad_out)
        d_out_scale = None
        if ctx.output_scale is not None:
            d_out_scale = torch.from_numpy((g * ctx.raw).sum(axis=0)).to(device=device, dtype=w_dtype)
            g = np.ascontiguousarray(g * ctx.output_scale)
        _, dw, dx, ds = ctx.vc.plan.backward(x, w, s, g, ctx.precision, ctx.state)
        return (torch.from_numpy(dx).to(device=device, dtype=in_dtype),
                torch.from_numpy(dw).to(device=device, dtype=w_dtype),
                torch.from_numpy(ds).to(device=device, dtype=s_dtype), d_out_scale, None, None, None)


class QuantumLayer(torch.nn.Module):
    """A VariationalCircuit as a layer: [B, num_features] -> [B, num_outputs].

    Args:
        circuit: the VariationalCircuit (see nextrl.quantum.ansatz for ready ones).
        output_scaling: multiply each output by a trainable weight (Skolik et al. 2022;
            initialized to 1).
        dtype: torch.float32 or torch.float64: the dtype of parameters and outputs; the
            statevector runs in complex64 or complex128 accordingly.
        generator: torch.Generator for the weight initialization (uniform in [0, 2 pi)).
    """

    def __init__(self, circuit: VariationalCircuit, *, output_scaling: bool = False,
                 dtype: torch.dtype = torch.float32, generator: torch.Generator | None = None):
        super().__init__()
        if not isinstance(circuit, VariationalCircuit):
            raise TypeError(f"QuantumLayer: circuit must be a VariationalCircuit, got {type(circuit).__name__}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"QuantumLayer: dtype must be torch.float32 or torch.float64, got {dtype}")
        self.circuit = circuit
        self.precision = "float32" if dtype == torch.float32 else "float64"
        w = torch.rand(circuit.num_weights, generator=generator, dtype=torch.float64) * (2 * math.pi)
        self.weights = torch.nn.Parameter(w.to(dtype))
        self.scales = torch.nn.Parameter(torch.ones(circuit.num_scales, dtype=dtype))
        self._views = None  # see _param_arrays
        if output_scaling:
            self.output_scale = torch.nn.Parameter(torch.ones(circuit.num_outputs, dtype=dtype))
        else:
            self.register_parameter("output_scale", None)

    @property
    def num_features(self) -> int:
        return self.circuit.num_features

    @property
    def num_outputs(self) -> int:
        return self.circuit.num_outputs

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"QuantumLayer.forward: inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if not inputs.is_floating_point():
            raise TypeError(f"QuantumLayer.forward: inputs must be floating point, got {inputs.dtype}")
        squeeze = inputs.dim() == 1
        x = inputs.unsqueeze(0) if squeeze else inputs
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"QuantumLayer.forward: inputs must have shape (batch, {self.num_features}), "
                             f"got {tuple(inputs.shape)}")
        params = self._parameters  # direct dict access: nn.Module.__getattr__ costs ~1 us per name
        w, s, o = params["weights"], params["scales"], params.get("output_scale")
        if x.is_cuda:  # the CUDA backend: one kernel per call, the tensors stay on the device
            from nextrl.quantum import cuda as _cuda

            out = _cuda.layer_forward(self.circuit, self.precision, x, w, s, o)
            return out.squeeze(0) if squeeze else out
        if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad or s.requires_grad
                                        or (o is not None and o.requires_grad)):
            out = _VQCFunction.apply(x, w, s, o, self.circuit, self.precision, self._param_arrays(w, s, o))
        else:  # inference (acting): no autograd node, one C++ call
            wa, sa, oa = self._param_arrays(w, s, o)
            raw = _run_forward(self.circuit, self.precision, _f64(x), wa, sa, output_scale=oa)
            out = _like_weights(torch.from_numpy(raw), x, w)
        return out.squeeze(0) if squeeze else out

    def _param_arrays(self, w: torch.Tensor, s: torch.Tensor, o: torch.Tensor | None):
        """float64 NumPy values of (weights, scales, output_scale). Views of float64 CPU parameters are cached
        by their data pointers (a view shares the parameter's memory, so in-place optimizer steps show
        through, and a replaced parameter has a new pointer while the cached view keeps the old one alive);
        other parameters convert on every call."""
        key = (w.data_ptr(), s.data_ptr(), 0 if o is None else o.data_ptr())
        cached = self._views
        if cached is not None and cached[0] == key:
            return cached[1]
        params = (w, s) if o is None else (w, s, o)
        if all(p.dtype is torch.float64 and not p.is_cuda for p in params):
            arrays = (w.detach().numpy(), s.detach().numpy(), None if o is None else o.detach().numpy())
            self._views = (key, arrays)
            return arrays
        return _f64(w), _f64(s), None if o is None else _f64(o)

    def extra_repr(self) -> str:
        c = self.circuit
        return (f"num_qubits={c.num_qubits}, num_features={c.num_features}, num_outputs={c.num_outputs}, "
                f"num_weights={c.num_weights}, precision={self.precision}")

    def to_qiskit(self):
        """(QuantumCircuit, observables, parameter values of this layer's weights and scales).
        See VariationalCircuit.to_qiskit; bind inputs with `qiskit_parameter_values`."""
        qc, observables = self.circuit.to_qiskit()
        return qc, observables

    def qiskit_parameter_values(self, qc, inputs) -> np.ndarray:
        """Values [batch, qc.num_parameters] binding `inputs` and this layer's current weights."""
        x = inputs.detach().to("cpu", torch.float64).numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
        return self.circuit.qiskit_parameter_values(qc, np.atleast_2d(x), self.weights.detach().double().numpy(),
                                                    self.scales.detach().double().numpy())
