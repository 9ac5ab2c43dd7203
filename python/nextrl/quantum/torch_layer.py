"""QuantumLayer: a batched variational circuit as a torch.nn.Module.

The layer holds the parameters and checks the inputs; its backend runs the batch
(nextrl.quantum.backends): the C++ simulator by default (one C++ call per batch, adjoint
backward), or a Qiskit backend / primitive through QiskitExecutor (one job per batch,
parameter-shift backward). Both answer the same `layer(x)` and `.backward()`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nextrl.quantum.backends import LayerBackend, resolve_backend
from nextrl.quantum.backends.simulator import (  # noqa: F401  (re-exported: tests and callers import them here)
    KEEP_STATE_BYTES,
    SIMULATOR,
    _f64,
    _like_weights,
    _run_forward,
    _VQCFunction,
)
from nextrl.quantum.variational import VariationalCircuit


class QuantumLayer(torch.nn.Module):
    """A VariationalCircuit as a layer: [B, num_features] -> [B, num_outputs].

    Args:
        circuit: the VariationalCircuit (see nextrl.quantum.ansatz for ready ones).
        backend: where the circuit runs: None or "simulator" (the C++ simulator, adjoint gradients),
            a QiskitExecutor, or a Qiskit BackendV2 / V2 primitive (wrapped in QiskitExecutor with
            its defaults: 4096 shots; pass a QiskitExecutor to choose shots, seed, transpilation).
            Any object with layer_outputs(layer, inputs) -> outputs also works.
        output_scaling: multiply each output by a trainable weight (Skolik et al. 2022;
            initialized to 1).
        dtype: torch.float32 or torch.float64: the dtype of parameters and outputs; the
            statevector runs in complex64 or complex128 accordingly.
        generator: torch.Generator for the weight initialization (uniform in [0, 2 pi)).
    """

    def __init__(
        self,
        circuit: VariationalCircuit,
        *,
        backend=None,
        output_scaling: bool = False,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if not isinstance(circuit, VariationalCircuit):
            raise TypeError(f"QuantumLayer: circuit must be a VariationalCircuit, got {type(circuit).__name__}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"QuantumLayer: dtype must be torch.float32 or torch.float64, got {dtype}")
        self.circuit = circuit
        self.backend: LayerBackend = resolve_backend("QuantumLayer", backend)
        self.precision = "float32" if dtype == torch.float32 else "float64"
        w = torch.rand(circuit.num_weights, generator=generator, dtype=torch.float64) * (2 * math.pi)
        self.weights = torch.nn.Parameter(w.to(dtype))
        self.scales = torch.nn.Parameter(torch.ones(circuit.num_scales, dtype=dtype))
        self._views = None  # see _param_arrays
        if output_scaling:
            self.output_scale = torch.nn.Parameter(torch.ones(circuit.num_outputs, dtype=dtype))
        else:
            self.register_parameter("output_scale", None)

    def __getstate__(self) -> dict:
        """nn.Module's state without the cached NumPy views of the parameters (a copy must not reuse views of
        the original's memory); the circuit pickles without its compiled plan and recompiles it on load."""
        state = self.__dict__.copy()
        state["_views"] = None
        return state

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
            raise ValueError(
                f"QuantumLayer.forward: inputs must have shape (batch, {self.num_features}), got {tuple(inputs.shape)}"
            )
        out = self._pick_backend(x).layer_outputs(self, x)
        return out.squeeze(0) if squeeze else out

    def _pick_backend(self, x: torch.Tensor) -> LayerBackend:
        """The backend that runs this batch: the layer's own, except that CUDA inputs on the default simulator go
        to the CUDA backend (nextrl.quantum.cuda: one kernel per call, the tensors stay on the device)."""
        if x.is_cuda and self.backend is SIMULATOR:
            from nextrl.quantum.cuda import CUDA_BACKEND

            return CUDA_BACKEND
        return self.backend

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
        return (
            f"num_qubits={c.num_qubits}, num_features={c.num_features}, num_outputs={c.num_outputs}, "
            f"num_weights={c.num_weights}, precision={self.precision}, backend={self.backend!r}"
        )

    def to_qiskit(self):
        """(QuantumCircuit, observables, parameter values of this layer's weights and scales).
        See VariationalCircuit.to_qiskit; bind inputs with `qiskit_parameter_values`."""
        qc, observables = self.circuit.to_qiskit()
        return qc, observables

    def qiskit_parameter_values(self, qc, inputs) -> np.ndarray:
        """Values [batch, qc.num_parameters] binding `inputs` and this layer's current weights."""
        x = inputs.detach().to("cpu", torch.float64).numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
        return self.circuit.qiskit_parameter_values(
            qc, np.atleast_2d(x), self.weights.detach().double().numpy(), self.scales.detach().double().numpy()
        )
