"""QiskitExecutor: run variational circuits and QuantumLayers on Qiskit backends and V2 primitives.

`QiskitExecutor(target)` takes a BackendV2 (hardware, a fake IBM backend, GenericBackendV2,
AerSimulator) or a V2 primitive (an Estimator for expectation values, a Sampler for Born-rule
probabilities): BackendEstimatorV2 / BackendSamplerV2, Aer's EstimatorV2 / SamplerV2, IBM
Runtime's EstimatorV2 / SamplerV2 in job, session or batch mode, StatevectorEstimator, or any
object with the V2 `run(pubs)` interface.

Per VariationalCircuit, once (cached): the circuit is rewritten with one parameter per angle
occurrence and transpiled (qiskit_program). Per batch it submits ONE job holding ONE PUB whose
parameter array stacks the unshifted angles of every sample and, when gradients are wanted, all
parameter-shifted ones (gradients, qiskit_run); so forward and backward of a batch cost one job.
As a QuantumLayer backend (`QuantumLayer(vc, backend=executor)`) it answers `layer(x)` and
`.backward()` like the C++ simulator (torch_function).

Shift rules are exact for each gate, whatever the transpiler turns it into: they follow from the
gate's generator in the C++ gate table (nextrl.quantum.shift_rules): two terms for generators with
two eigenvalues one apart (uncontrolled Pauli rotations, the theta of u, and p and the phi / lambda
of u with or without controls), four terms for controlled Pauli rotations and the theta of a
controlled u; a parameterized global phase does not change outputs and is dropped (gradient 0).
"""

from __future__ import annotations

import numbers
import weakref

import numpy as np

from nextrl._checks import check_seed
from nextrl.quantum.backends import qiskit_run
from nextrl.quantum.backends.gradients import chain_rule, contract_rows, shifted_rows
from nextrl.quantum.backends.qiskit_program import Program, compile_program, occurrence_angles
from nextrl.quantum.variational import VariationalCircuit

__all__ = ["QiskitExecutor", "is_qiskit_target"]


def is_qiskit_target(obj) -> bool:
    """Whether QiskitExecutor accepts `obj` as its target (a BackendV2 or a V2 primitive)."""
    from qiskit.providers import BackendV2

    return isinstance(obj, BackendV2) or qiskit_run.primitive_kind(obj) is not None


def _as_array(fn: str, name: str, value, ndim: int, shape: tuple) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{fn}: {name} must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim or any(want is not None and got != want for got, want in zip(arr.shape, shape)):
        dims = ", ".join("batch" if d is None else str(d) for d in shape)
        want = f"({dims},)" if len(shape) == 1 else f"({dims})"
        raise ValueError(f"{fn}: {name} must have shape {want}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{fn}: {name} must be finite (got NaN or inf)")
    return arr


class QiskitExecutor:
    """Runs VariationalCircuits (and QuantumLayers) on a Qiskit backend or V2 primitive.

    Args:
        target: a BackendV2, or an EstimatorV2 / SamplerV2 primitive (see the module doc).
            A BackendV2 gets a BackendEstimatorV2 (expectation values) and a BackendSamplerV2
            (probabilities) built on it. An Estimator also serves probability read-outs (as
            expectation values of Z strings); a Sampler serves probability read-outs only.
        shots: shots per parameter set (an Estimator gets precision 1/sqrt(shots)); None uses
            the primitive's default (exact for StatevectorEstimator); a BackendV2 needs an int.
        seed: seeds the transpiler and the simulator of the primitives built on a BackendV2
            (a primitive you pass keeps its own seeding); an int in [0, 2**63) or None.
        optimization_level: preset pass manager level (0 to 3) for the ISA transpilation.
        gradient: "parameter_shift" (the exact shift rules above).
        backend: the BackendV2 whose ISA to transpile to when `target` is a primitive; by
            default the primitive's own backend when it exposes one, else no transpilation.

    Attributes:
        num_jobs: number of jobs submitted so far (one per forward, vjp or layer batch).
        last_job: the last job object returned by the primitive.
    """

    def __init__(
        self,
        target,
        *,
        shots: int | None = 4096,
        seed: int | None = None,
        optimization_level: int = 1,
        gradient: str = "parameter_shift",
        backend=None,
    ):
        from qiskit.providers import BackendV2

        fn = "QiskitExecutor"
        if gradient != "parameter_shift":
            raise ValueError(f"{fn}: gradient must be 'parameter_shift', got {gradient!r}")
        if shots is not None and (not isinstance(shots, numbers.Integral) or isinstance(shots, bool) or shots < 1):
            raise ValueError(f"{fn}: shots must be a positive int or None, got {shots!r}")
        # Aer reads seed_simulator as a signed 64-bit int: a seed of 2**63 or more fails inside its pybind11 cast
        seed = check_seed(fn, seed, bits=63, or_none=True)
        if optimization_level not in (0, 1, 2, 3) or isinstance(optimization_level, bool):
            raise ValueError(f"{fn}: optimization_level must be 0, 1, 2 or 3, got {optimization_level!r}")
        if backend is not None and not isinstance(backend, BackendV2):
            raise TypeError(f"{fn}: backend must be a qiskit BackendV2, got {type(backend).__name__}")
        self.shots = None if shots is None else int(shots)
        self.seed = seed
        self.optimization_level = int(optimization_level)
        self.gradient = gradient
        self.target = target
        self._estimator = None
        self._sampler = None
        if isinstance(target, BackendV2):
            if self.shots is None:
                raise ValueError(f"{fn}: shots must be an int for a BackendV2 target (None is for exact primitives)")
            if backend is not None and backend is not target:
                raise ValueError(f"{fn}: backend= is for primitive targets; this target is itself a backend")
            self.backend = target
            self.kind = "backend"
        else:
            kind = qiskit_run.primitive_kind(target)
            if kind is None:
                raise TypeError(
                    f"{fn}: target must be {qiskit_run.ACCEPTED}; got {type(target).__module__}."
                    f"{type(target).__qualname__}"
                )
            self.kind = kind
            if kind == "estimator":
                self._estimator = target
            else:
                self._sampler = target
            self.backend = backend if backend is not None else qiskit_run.primitive_backend(target)
        self.num_jobs = 0
        self.last_job = None
        self._programs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        name = getattr(self.backend, "name", None) if self.backend is not None else None
        return (
            f"QiskitExecutor(target={type(self.target).__name__}, backend={name}, shots={self.shots}, "
            f"jobs={self.num_jobs})"
        )

    # ------------------------------------------------------------------ primitives
    def _primitive(self, kind: str):
        if kind == "estimator":
            if self._estimator is None:
                self._estimator = qiskit_run.backend_primitive("estimator", self.backend, self.seed)
            return self._estimator
        if self._sampler is None:
            self._sampler = qiskit_run.backend_primitive("sampler", self.backend, self.seed)
        return self._sampler

    def _read_kind(self, vc: VariationalCircuit) -> str:
        if vc.observables is not None:
            if self.kind == "sampler":
                raise ValueError(
                    "QiskitExecutor: expectation-value read-outs need an Estimator or a BackendV2 "
                    "target; this executor wraps a Sampler (use it for probability read-outs)"
                )
            return "estimator"
        # Probabilities: a Sampler when there is one (hardware-style counts), else Z strings on an Estimator.
        return "estimator" if self.kind == "estimator" else "sampler"

    # --------------------------------------------------------------------- compile
    def program(self, vc: VariationalCircuit) -> Program:
        """The compiled (transpiled, laid-out) form of `vc`, built on first use and cached."""
        if not isinstance(vc, VariationalCircuit):
            raise TypeError(f"QiskitExecutor: expected a VariationalCircuit, got {type(vc).__name__}")
        prog = self._programs.get(vc)
        if prog is None:
            prog = compile_program(
                vc,
                self._read_kind(vc),
                backend=self.backend,
                optimization_level=self.optimization_level,
                seed=self.seed,
                decompose_controls=type(self.target).__module__.startswith("qiskit_aer"),
            )
            self._programs[vc] = prog
        return prog

    # ----------------------------------------------------------------------- input
    def _arrays(self, fn: str, vc: VariationalCircuit, inputs, weights, scales):
        if not isinstance(vc, VariationalCircuit):
            raise TypeError(f"{fn}: expected a VariationalCircuit, got {type(vc).__name__}")
        if inputs is None:
            if vc.num_features:
                raise ValueError(f"{fn}: inputs must have shape (batch, {vc.num_features}), got None")
            inputs = np.zeros((1, 0))
        x = _as_array(fn, "inputs", inputs, 2, (None, vc.num_features))
        if x.shape[0] == 0:
            raise ValueError(f"{fn}: inputs must hold at least one sample, got shape {x.shape}")
        if weights is None:
            weights = np.zeros(0) if vc.num_weights == 0 else None
        if weights is None:
            raise ValueError(f"{fn}: weights must have shape ({vc.num_weights},), got None")
        w = _as_array(fn, "weights", weights, 1, (vc.num_weights,))
        s = _as_array(fn, "scales", np.ones(vc.num_scales) if scales is None else scales, 1, (vc.num_scales,))
        return x, w, s

    # ------------------------------------------------------------------------ run
    def run_batch(self, vc: VariationalCircuit, x, w, s, shift: np.ndarray | None):
        """One job for checked arrays: outputs [B, A] and, for the occurrences where `shift` [K] is True,
        d outputs / d theta_k as [B, K, A] (zero elsewhere; None when nothing is shifted)."""
        prog = self.program(vc)
        B = x.shape[0]
        rows, C = shifted_rows(occurrence_angles(prog, x, w, s), prog.occ_rules, shift)
        values = np.ascontiguousarray(rows[:, :, prog.columns].reshape(B * rows.shape[1], len(prog.columns)))
        raw, job = qiskit_run.submit(self._primitive(prog.kind), prog, values, self.shots)
        self.num_jobs += 1
        self.last_job = job
        raw = raw.reshape(B, rows.shape[1], -1)
        out_rows = raw @ prog.readout[1:] + prog.readout[0] if prog.readout is not None else raw
        return contract_rows(out_rows, C, shift is not None)

    # ---------------------------------------------------------------------- public
    def forward(self, vc: VariationalCircuit, inputs, weights=None, scales=None) -> np.ndarray:
        """Outputs [batch, num_outputs] of `vc` (as VariationalCircuit.forward), one job."""
        x, w, s = self._arrays("QiskitExecutor.forward", vc, inputs, weights, scales)
        out, _ = self.run_batch(vc, x, w, s, None)
        return out

    def vjp(self, vc: VariationalCircuit, inputs, weights, scales, grad_outputs):
        """(outputs, d_weights, d_inputs, d_scales) as VariationalCircuit.vjp, by parameter
        shift: one job holding the unshifted and all shifted parameter sets."""
        fn = "QiskitExecutor.vjp"
        x, w, s = self._arrays(fn, vc, inputs, weights, scales)
        g = _as_array(fn, "grad_outputs", grad_outputs, 2, (x.shape[0], vc.num_outputs))
        prog = self.program(vc)
        out, d_theta = self.run_batch(vc, x, w, s, np.ones(prog.num_occurrences, dtype=bool))
        dw, dx, ds = chain_rule(prog, x, s, len(w), np.einsum("bka,ba->bk", d_theta, g))
        return out, dw, dx, ds

    def layer_outputs(self, layer, x, fn: str = "QuantumLayer.forward"):
        """The backend protocol (nextrl.quantum.backends): outputs [B, A] of `layer` for checked inputs
        x [B, F], with autograd through parameter shift. Forward and backward of a batch are one job (the
        shifted parameter sets go with the forward pass when any of inputs, weights or scales needs a
        gradient); output_scale multiplies the outputs in torch."""
        import torch

        from nextrl.quantum.backends.torch_function import QiskitLayerFunction

        grad = torch.is_grad_enabled()
        needs = tuple(grad and t.requires_grad for t in (x, layer.weights, layer.scales))
        out = QiskitLayerFunction.apply(
            x.to(layer.weights.dtype), layer.weights, layer.scales, self, layer.circuit, needs, fn
        )
        if layer.output_scale is not None:
            out = out * layer.output_scale
        return out

    def layer_forward(self, layer, inputs):
        """Runs a nextrl QuantumLayer on this executor: outputs [B, num_outputs] (or [num_outputs]
        for a 1-D input) as a torch tensor with autograd through parameter shift. The same as
        `layer(inputs)` for a layer built with backend=this executor."""
        import torch

        from nextrl.quantum.torch_layer import QuantumLayer

        fn = "QiskitExecutor.layer_forward"
        if not isinstance(layer, QuantumLayer):
            raise TypeError(f"{fn}: layer must be a nextrl QuantumLayer, got {type(layer).__name__}")
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"{fn}: inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if not inputs.is_floating_point():
            raise TypeError(f"{fn}: inputs must be floating point, got {inputs.dtype}")
        squeeze = inputs.dim() == 1
        x = inputs.unsqueeze(0) if squeeze else inputs
        if x.dim() != 2 or x.shape[1] != layer.num_features:
            raise ValueError(f"{fn}: inputs must have shape (batch, {layer.num_features}), got {tuple(inputs.shape)}")
        out = self.layer_outputs(layer, x, fn)
        return out.squeeze(0) if squeeze else out
