"""The default backend: the C++ simulator (BatchPlan). Forward runs the whole batch in one C++
call; backward is the adjoint vector-Jacobian product (one sweep for weights, inputs and scales)."""

from __future__ import annotations

import numpy as np
import torch

from nextrl.quantum.variational import VariationalCircuit

__all__ = ["KEEP_STATE_BYTES", "SIMULATOR", "SimulatorBackend"]


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


def _run_forward(
    vc: VariationalCircuit,
    precision: str,
    x: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    keep_state: bool = False,
    output_scale: np.ndarray | None = None,
):
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
        w, s, o = (
            views
            if views is not None
            else (_f64(weights), _f64(scales), None if output_scale is None else _f64(output_scale))
        )
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
                raise RuntimeError(
                    f"QuantumLayer backward: {name} was modified by an inplace operation after the "
                    f"forward pass (version {v} -> {t._version}); run the forward again"
                )
        inputs, weights, scales, _ = ctx.tensors
        x, w, s = ctx.arrays
        in_dtype, device, w_dtype, s_dtype = inputs.dtype, inputs.device, weights.dtype, scales.dtype
        g = _f64(grad_out)
        d_out_scale = None
        if ctx.output_scale is not None:
            d_out_scale = torch.from_numpy((g * ctx.raw).sum(axis=0)).to(device=device, dtype=w_dtype)
            g = np.ascontiguousarray(g * ctx.output_scale)
        _, dw, dx, ds = ctx.vc.plan.backward(x, w, s, g, ctx.precision, ctx.state)
        return (
            torch.from_numpy(dx).to(device=device, dtype=in_dtype),
            torch.from_numpy(dw).to(device=device, dtype=w_dtype),
            torch.from_numpy(ds).to(device=device, dtype=s_dtype),
            d_out_scale,
            None,
            None,
            None,
        )


class SimulatorBackend:
    """Runs a QuantumLayer on the C++ simulator in the layer's precision (complex64 for float32 layers)."""

    def layer_outputs(self, layer, x: torch.Tensor) -> torch.Tensor:
        """outputs [B, A] for checked inputs x [B, F]; an autograd node only when a gradient is wanted."""
        params = layer._parameters  # direct dict access: nn.Module.__getattr__ costs ~1 us per name
        w, s, o = params["weights"], params["scales"], params.get("output_scale")
        if torch.is_grad_enabled() and (
            x.requires_grad or w.requires_grad or s.requires_grad or (o is not None and o.requires_grad)
        ):
            return _VQCFunction.apply(x, w, s, o, layer.circuit, layer.precision, layer._param_arrays(w, s, o))
        # inference (acting): no autograd node, one C++ call
        wa, sa, oa = layer._param_arrays(w, s, o)
        raw = _run_forward(layer.circuit, layer.precision, _f64(x), wa, sa, output_scale=oa)
        return _like_weights(torch.from_numpy(raw), x, w)

    def __repr__(self) -> str:
        return "SimulatorBackend()"

    def __reduce__(self):  # stateless: copies and pickles of a layer share the one instance
        return (_simulator, ())


def _simulator() -> SimulatorBackend:
    return SIMULATOR


SIMULATOR = SimulatorBackend()
