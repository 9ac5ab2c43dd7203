"""QuantumLayer: a batched variational circuit as a torch.nn.Module.

Forward runs the compiled BatchPlan over the whole batch in one C++ call; backward is
the adjoint vector-Jacobian product (one sweep for weights, inputs and scales).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nextrl.quantum.variational import VariationalCircuit


class _VQCFunction(torch.autograd.Function):
    """inputs [B, F], weights [W], scales [S] -> outputs [B, A]."""

    @staticmethod
    def forward(ctx, inputs, weights, scales, vc: VariationalCircuit, precision: str):
        x = inputs.detach().to("cpu", torch.float64).contiguous().numpy()
        w = weights.detach().to("cpu", torch.float64).contiguous().numpy()
        s = scales.detach().to("cpu", torch.float64).contiguous().numpy()
        out = vc.plan.forward(x, w, s, precision)
        ctx.vc, ctx.precision = vc, precision
        ctx.arrays = (x, w, s)
        ctx.devices = (inputs.dtype, inputs.device, weights.dtype, scales.dtype)
        return torch.from_numpy(out).to(device=inputs.device, dtype=inputs.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, w, s = ctx.arrays
        in_dtype, device, w_dtype, s_dtype = ctx.devices
        g = grad_out.detach().to("cpu", torch.float64).contiguous().numpy()
        _, dw, dx, ds = ctx.vc.plan.backward(x, w, s, g, ctx.precision)
        return (torch.from_numpy(dx).to(device=device, dtype=in_dtype),
                torch.from_numpy(dw).to(device=device, dtype=w_dtype),
                torch.from_numpy(ds).to(device=device, dtype=s_dtype), None, None)


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
        self.output_scale = torch.nn.Parameter(torch.ones(circuit.num_outputs, dtype=dtype)) if output_scaling else None

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
        if not torch.isfinite(x).all():
            raise ValueError("QuantumLayer.forward: inputs must be finite (got NaN or inf)")
        out = _VQCFunction.apply(x.to(self.weights.dtype), self.weights, self.scales, self.circuit, self.precision)
        if self.output_scale is not None:
            out = out * self.output_scale
        return out.squeeze(0) if squeeze else out

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
