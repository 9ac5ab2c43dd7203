"""Variational circuits over a batch: angles from trainable weights and input features,
outputs as expectation values or Born-rule probabilities, gradients by the adjoint method.

A VariationalCircuit is a Circuit whose free Parameters each have a source:
    Weight(i)               angle slot = weights[i]
    Feature(f)              angle slot = inputs[b, f]
    Feature(f, scale=j)     angle slot = scales[j] * inputs[b, f]   (re-uploading, Skolik et al. 2022)
and gate angles may be affine in a slot (`2 * p + 0.1`). It compiles once into a C++
BatchPlan that runs a whole batch per call with the GIL released.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nextrl import _core
from nextrl.quantum.circuit import Circuit
from nextrl.quantum.observables import PauliSum, as_pauli_sum
from nextrl.quantum.parameters import Parameter


@dataclass(frozen=True)
class Weight:
    """Angle source: trainable weight `index`."""

    index: int


@dataclass(frozen=True)
class Feature:
    """Angle source: input feature `index`, times trainable scale `scale` when given."""

    index: int
    scale: int | None = None


def _count(fn: str, name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{fn}: {name} must be a non-negative int, got {value!r}")
    return int(value)


class VariationalCircuit:
    """A Circuit with angle sources and read-outs, compiled for batched execution.

    Args:
        circuit: the circuit; every free Parameter needs an entry in `sources`.
        sources: Parameter -> Weight or Feature.
        num_weights, num_features, num_scales: sizes of the three input vectors
            (default: one past the largest index used).
        observables: read-out as expectation values, a list of Pauli labels, PauliSums,
            (label, coeff) lists or SparsePauliOps: outputs [batch, len(observables)].
        probabilities: read-out as basis-state probabilities of these qubits instead:
            outputs [batch, 2 ** len(qubits)] (bit j of a column index is qubits[j]).
    """

    def __init__(
        self,
        circuit: Circuit,
        sources: Mapping[Parameter, Weight | Feature],
        *,
        observables: Sequence | None = None,
        probabilities: Sequence[int] | None = None,
        num_weights: int | None = None,
        num_features: int | None = None,
        num_scales: int | None = None,
    ):
        fn = "VariationalCircuit"
        if not isinstance(circuit, Circuit):
            raise TypeError(f"{fn}: circuit must be a nextrl.quantum.Circuit, got {type(circuit).__name__}")
        if (observables is None) == (probabilities is None):
            raise ValueError(f"{fn}: give exactly one of observables and probabilities")
        missing = [p.name for p in circuit.parameters if p not in sources]
        if missing:
            raise ValueError(f"{fn}: parameters without a source: {missing}")
        extra = [getattr(p, "name", p) for p in sources if p not in set(circuit.parameters)]
        if extra:
            raise ValueError(f"{fn}: sources name parameters the circuit does not use: {extra}")
        for p, src in sources.items():
            if not isinstance(src, (Weight, Feature)):
                raise TypeError(f"{fn}: source of '{p.name}' must be Weight or Feature, got {type(src).__name__}")
        srcs = [sources[p] for p in circuit.parameters]
        w_used = [s.index for s in srcs if isinstance(s, Weight)]
        f_used = [s.index for s in srcs if isinstance(s, Feature)]
        s_used = [s.scale for s in srcs if isinstance(s, Feature) and s.scale is not None]
        self.num_weights = _count(
            fn, "num_weights", num_weights if num_weights is not None else max(w_used, default=-1) + 1
        )
        self.num_features = _count(
            fn, "num_features", num_features if num_features is not None else max(f_used, default=-1) + 1
        )
        self.num_scales = _count(
            fn, "num_scales", num_scales if num_scales is not None else max(s_used, default=-1) + 1
        )
        for what, used, limit in (
            ("weight", w_used, self.num_weights),
            ("feature", f_used, self.num_features),
            ("scale", s_used, self.num_scales),
        ):
            bad = [i for i in used if not 0 <= i < limit]
            if bad:
                raise IndexError(f"{fn}: {what} index {bad[0]} out of range for {limit} {what}s")
        self.circuit = circuit
        self.sources = dict(sources)
        self.num_qubits = circuit.num_qubits
        if observables is not None:
            if isinstance(observables, (str, PauliSum)) or type(observables).__name__ == "SparsePauliOp":
                observables = [observables]
            self.observables = [as_pauli_sum(o) for o in observables]
            for o in self.observables:
                if o.num_qubits != self.num_qubits:
                    raise ValueError(f"{fn}: observable {o} has {o.num_qubits} qubits, circuit has {self.num_qubits}")
            self.probability_qubits = None
            self.num_outputs = len(self.observables)
        else:
            qs = list(probabilities)
            for q in qs:
                if not isinstance(q, numbers.Integral) or not 0 <= q < self.num_qubits:
                    raise IndexError(f"{fn}: qubit {q} out of range for {self.num_qubits} qubits")
            if len(set(qs)) != len(qs) or not qs:
                raise ValueError(f"{fn}: probabilities needs distinct qubits, got {qs}")
            self.observables = None
            self.probability_qubits = [int(q) for q in qs]
            self.num_outputs = 1 << len(qs)
        self._plan = self._compile()

    def _compile(self) -> _core.BatchPlan:
        c = self.circuit
        ops = c.lower()  # the same lowering as Circuit.compile
        slots = []
        for p in c.parameters:
            s = self.sources[p]
            if isinstance(s, Weight):
                slots.append((0, s.index, -1))
            elif s.scale is None:
                slots.append((1, s.index, -1))
            else:
                slots.append((2, s.index, s.scale))
        terms = []
        if self.observables is not None:
            for a, o in enumerate(self.observables):
                terms += [(int(o.x_masks[t]), int(o.z_masks[t]), complex(o.coeffs[t]), a) for t in range(len(o))]
        return _core.BatchPlan(
            self.num_qubits,
            ops,
            slots,
            self.num_weights,
            self.num_features,
            self.num_scales,
            terms,
            self.num_outputs,
            self.probability_qubits or [],
        )

    @property
    def plan(self) -> _core.BatchPlan:
        return self._plan

    # ------------------------------------------------------------ copy / pickle
    def __getstate__(self) -> dict:
        """The circuit's description without the compiled plan or any cache (C++ objects do not pickle):
        `__setstate__` compiles the plan again, so deepcopy, pickle and torch.save of a QuantumLayer work."""
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        state["circuit"] = self.circuit.copy()  # without its cached C++ plans
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._plan = self._compile()

    # ------------------------------------------------------------------ execution
    def _arrays(self, fn: str, inputs, weights, scales):
        def as_f64(name, a, ndim):
            arr = np.asarray(a)
            if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                raise TypeError(f"{fn}: {name} must be real numbers, got dtype {arr.dtype}")
            if arr.ndim != ndim:
                raise ValueError(f"{fn}: {name} must be {ndim}-D, got shape {arr.shape}")
            return np.ascontiguousarray(arr, dtype=np.float64)

        x = as_f64("inputs", inputs if inputs is not None else np.zeros((1, 0)), 2)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{fn}: inputs must have shape (batch, {self.num_features}), got {x.shape}")
        w = as_f64("weights", weights if weights is not None else np.zeros(0), 1)
        s = as_f64("scales", scales if scales is not None else np.ones(self.num_scales), 1)
        return x, w, s

    def forward(self, inputs, weights=None, scales=None, *, dtype: str = "float64") -> np.ndarray:
        """Outputs [batch, num_outputs] for inputs [batch, num_features] (float64 array)."""
        x, w, s = self._arrays("VariationalCircuit.forward", inputs, weights, scales)
        return self._plan.forward(x, w, s, dtype)

    def vjp(self, inputs, weights, scales, grad_outputs, *, dtype: str = "float64"):
        """Adjoint vector-Jacobian product: (outputs, d_weights, d_inputs, d_scales) for
        grad_outputs = dL/d(outputs) [batch, num_outputs]; d_weights and d_scales are summed
        over the batch."""
        x, w, s = self._arrays("VariationalCircuit.vjp", inputs, weights, scales)
        g = np.asarray(grad_outputs, dtype=np.float64)
        return self._plan.backward(x, w, s, np.ascontiguousarray(g), dtype)

    def parameter_values(self, inputs, weights, scales) -> np.ndarray:
        """Per-sample values of the circuit's parameters [batch, num_parameters] (Circuit.bind order)."""
        x, w, s = self._arrays("VariationalCircuit.parameter_values", inputs, weights, scales)
        cols = []
        for p in self.circuit.parameters:
            src = self.sources[p]
            if isinstance(src, Weight):
                cols.append(np.full(x.shape[0], w[src.index]))
            else:
                cols.append(x[:, src.index] * (s[src.scale] if src.scale is not None else 1.0))
        return np.stack(cols, axis=1) if cols else np.zeros((x.shape[0], 0))

    # ------------------------------------------------------------------- qiskit
    def to_qiskit(self):
        """(QuantumCircuit, observables) reproducing this circuit in Qiskit.

        The circuit's parameters are three ParameterVectors: "w" (weights), "x" (features)
        and "s" (scales); a slot becomes w[i], x[f] or s[j] * x[f]. Observables are
        SparsePauliOps (None in probability mode). Bind a sample with
        `qc.assign_parameters(dict(zip(vectors, values)))` via `qiskit_parameter_values`."""
        from qiskit.circuit import ParameterVector

        from nextrl.quantum.qiskit_bridge import circuit_to_qiskit

        w = ParameterVector("w", self.num_weights)
        x = ParameterVector("x", self.num_features)
        s = ParameterVector("s", self.num_scales)
        mapping = {}
        for p in self.circuit.parameters:
            src = self.sources[p]
            if isinstance(src, Weight):
                mapping[p] = w[src.index]
            elif src.scale is None:
                mapping[p] = x[src.index]
            else:
                mapping[p] = s[src.scale] * x[src.index]
        qc = circuit_to_qiskit(self.circuit, mapping)
        self._qiskit_vectors = (w, x, s)
        observables = [o.to_sparse_pauli_op() for o in self.observables] if self.observables is not None else None
        return qc, observables

    def qiskit_parameter_values(self, qc, inputs, weights=None, scales=None) -> np.ndarray:
        """Parameter values [batch, qc.num_parameters] in `qc.parameters` order for the circuit
        returned by `to_qiskit` (Qiskit sorts parameters by name)."""
        x, w, s = self._arrays("VariationalCircuit.qiskit_parameter_values", inputs, weights, scales)
        out = np.empty((x.shape[0], qc.num_parameters))
        for j, param in enumerate(qc.parameters):
            vec, i = param.vector.name, param.index
            out[:, j] = w[i] if vec == "w" else (x[:, i] if vec == "x" else s[i])
        return out
