"""Run variational circuits and QuantumLayers on Qiskit backends and V2 primitives.

`QiskitExecutor(target)` takes a BackendV2 (hardware, a fake IBM backend, GenericBackendV2,
AerSimulator) or a V2 primitive (an Estimator for expectation values, a Sampler for Born-rule
probabilities): BackendEstimatorV2 / BackendSamplerV2, Aer's EstimatorV2 / SamplerV2, IBM
Runtime's EstimatorV2 / SamplerV2 in job, session or batch mode, StatevectorEstimator, or any
object with the V2 `run(pubs)` interface.

What it does per VariationalCircuit, once (cached): every angle OCCURRENCE in the circuit
(a nextrl Parameter may feed several gates) becomes its own qiskit Parameter theta[k], the
circuit is transpiled to the backend's ISA, and the observables get the ISA layout. Per batch
it submits ONE job holding ONE PUB whose parameter array [rows, num_parameters] stacks the
unshifted angles of every sample and, when gradients are wanted, all parameter-shifted ones;
so forward and backward of a batch cost one job. The occurrence derivatives are then chained
into d/d(weights), d/d(inputs) and d/d(scales) with the affine factors of each angle.

Shift rules (exact for the gate, whatever the transpiler turns it into):
    two-term (shifts +-pi/2, coefficients +-1/2): generators with two eigenvalues one apart:
        rx, ry, rz, rxx, ryy, rzz, the theta angle of u (all uncontrolled), and p and the
        phi / lambda angles of u with or without controls (their generator is a projector);
    four-term (Anselmetti et al. 2021, Wierichs et al. 2022; shifts +-pi/2 with +-c1 and
        +-3pi/2 with -+c2, c1,2 = (sqrt(2) +- 1) / (4 sqrt(2))): generators with eigenvalues
        {-1/2, 0, 1/2}: controlled rx, ry, rz, rxx, ryy, rzz and the theta of a controlled u;
    a parameterized global phase does not change outputs: it is dropped (gradient 0).
"""

from __future__ import annotations

import inspect
import math
import numbers
import weakref
from dataclasses import dataclass

import numpy as np

from nextrl.quantum.circuit import Circuit
from nextrl.quantum.parameters import Parameter, ParameterExpression
from nextrl.quantum.variational import Feature, VariationalCircuit, Weight

__all__ = ["QiskitExecutor", "SHIFT_RULES", "shift_rule"]

_C1 = (math.sqrt(2) + 1) / (4 * math.sqrt(2))
_C2 = (math.sqrt(2) - 1) / (4 * math.sqrt(2))
_HALF_PI = math.pi / 2
# Number of terms -> (shift, coefficient) pairs: d f / d theta = sum coefficient * f(theta + shift).
SHIFT_RULES = {
    2: ((_HALF_PI, 0.5), (-_HALF_PI, -0.5)),
    4: ((_HALF_PI, _C1), (-_HALF_PI, -_C1), (3 * _HALF_PI, -_C2), (-3 * _HALF_PI, _C2)),
}
_PAULI_ROTATIONS = {"rx", "ry", "rz", "rxx", "ryy", "rzz"}
_ACCEPTED = ("a qiskit BackendV2 (hardware, fake IBM backends, GenericBackendV2, AerSimulator), "
             "an EstimatorV2 or a SamplerV2 primitive (BackendEstimatorV2 / BackendSamplerV2, "
             "qiskit_aer.primitives EstimatorV2 / SamplerV2, qiskit_ibm_runtime EstimatorV2 / SamplerV2, "
             "StatevectorEstimator / StatevectorSampler, or any object whose run(pubs) takes "
             "`precision` (estimator) or `shots` (sampler))")


def shift_rule(base: str, num_controls: int, param_index: int = 0) -> int:
    """Number of terms of the exact parameter-shift rule of angle `param_index` of gate `base`
    (a nextrl base gate name) with `num_controls` controls: 2 or 4."""
    if base in _PAULI_ROTATIONS:
        return 2 if num_controls == 0 else 4
    if base == "p":
        return 2
    if base == "u":
        return 4 if (param_index == 0 and num_controls > 0) else 2
    raise ValueError(f"shift_rule: gate '{base}' has no parameter-shift rule")


# ---------------------------------------------------------------------------- compiled form
@dataclass
class _Program:
    """A VariationalCircuit compiled for one executor (transpiled once, reused per batch)."""
    kind: str                   # "estimator" or "sampler"
    isa_circuit: object         # transpiled qiskit QuantumCircuit
    observables: list | None    # ISA-laid-out SparsePauliOps (estimator)
    readout: np.ndarray | None  # [1 + raw observables, outputs]: outputs = [1, raw] @ readout
    columns: np.ndarray         # [num ISA parameters] occurrence index of each parameter
    occ_slot: np.ndarray        # [K] slot (index into vc.circuit.parameters) of occurrence k
    occ_scale: np.ndarray       # [K] angle_k = occ_scale * slot value + occ_offset
    occ_offset: np.ndarray
    occ_rule: np.ndarray        # [K] 2 or 4 terms (0: occurrence absent from the ISA circuit)
    slot_kind: np.ndarray       # [P] 0 weight, 1 feature, 2 scaled feature
    slot_index: np.ndarray      # [P] weight or feature index
    slot_scale: np.ndarray      # [P] scale index (kind 2) else -1
    clbits: str | None          # classical register read by the sampler
    num_outputs: int

    @property
    def num_occurrences(self) -> int:
        return len(self.occ_slot)


def _primitive_kind(obj) -> str | None:
    from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2

    if isinstance(obj, BaseEstimatorV2):
        return "estimator"
    if isinstance(obj, BaseSamplerV2):
        return "sampler"
    run = getattr(obj, "run", None)
    if not callable(run):
        return None
    try:
        params = inspect.signature(run).parameters
    except (TypeError, ValueError):
        return None
    if "precision" in params:
        return "estimator"
    if "shots" in params:
        return "sampler"
    return None


def _primitive_backend(primitive):
    """The BackendV2 a primitive runs on, when it exposes one (BackendEstimatorV2.backend,
    IBM Runtime's backend(), Aer's internal simulator), else None."""
    from qiskit.providers import BackendV2

    for name in ("backend", "_backend"):
        b = getattr(primitive, name, None)
        if b is not None and not isinstance(b, BackendV2) and callable(b):
            try:
                b = b()
            except Exception:  # a backend() that needs a service or arguments: not usable here
                b = None
        if isinstance(b, BackendV2):
            return b
    return None


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
            (a primitive you pass keeps its own seeding).
        optimization_level: preset pass manager level (0 to 3) for the ISA transpilation.
        gradient: "parameter_shift" (the exact shift rules above).
        backend: the BackendV2 whose ISA to transpile to when `target` is a primitive; by
            default the primitive's own backend when it exposes one, else no transpilation.

    Attributes:
        num_jobs: number of jobs submitted so far (one per forward, vjp or layer batch).
        last_job: the last job object returned by the primitive.
    """

    def __init__(self, target, *, shots: int | None = 4096, seed: int | None = None, optimization_level: int = 1,
                 gradient: str = "parameter_shift", backend=None):
        from qiskit.providers import BackendV2

        fn = "QiskitExecutor"
        if gradient != "parameter_shift":
            raise ValueError(f"{fn}: gradient must be 'parameter_shift', got {gradient!r}")
        if shots is not None and (not isinstance(shots, numbers.Integral) or isinstance(shots, bool) or shots < 1):
            raise ValueError(f"{fn}: shots must be a positive int or None, got {shots!r}")
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise ValueError(f"{fn}: seed must be an int or None, got {seed!r}")
        if optimization_level not in (0, 1, 2, 3) or isinstance(optimization_level, bool):
            raise ValueError(f"{fn}: optimization_level must be 0, 1, 2 or 3, got {optimization_level!r}")
        if backend is not None and not isinstance(backend, BackendV2):
            raise TypeError(f"{fn}: backend must be a qiskit BackendV2, got {type(backend).__name__}")
        self.shots = None if shots is None else int(shots)
        self.seed = None if seed is None else int(seed)
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
            kind = _primitive_kind(target)
            if kind is None:
                raise TypeError(f"{fn}: target must be {_ACCEPTED}; got {type(target).__module__}."
                                f"{type(target).__qualname__}")
            self.kind = kind
            if kind == "estimator":
                self._estimator = target
            else:
                self._sampler = target
            self.backend = backend if backend is not None else _primitive_backend(target)
        self.num_jobs = 0
        self.last_job = None
        self._programs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        name = getattr(self.backend, "name", None) if self.backend is not None else None
        return (f"QiskitExecutor(target={type(self.target).__name__}, backend={name}, shots={self.shots}, "
                f"jobs={self.num_jobs})")

    # ------------------------------------------------------------------ primitives
    def _primitive(self, kind: str):
        if kind == "estimator":
            if self._estimator is None:
                from qiskit.primitives import BackendEstimatorV2

                self._estimator = BackendEstimatorV2(backend=self.backend, options={"seed_simulator": self.seed})
            return self._estimator
        if self._sampler is None:
            from qiskit.primitives import BackendSamplerV2

            self._sampler = BackendSamplerV2(backend=self.backend, options={"seed_simulator": self.seed})
        return self._sampler

    def _read_kind(self, vc: VariationalCircuit) -> str:
        if vc.observables is not None:
            if self.kind == "sampler":
                raise ValueError("QiskitExecutor: expectation-value read-outs need an Estimator or a BackendV2 "
                                 "target; this executor wraps a Sampler (use it for probability read-outs)")
            return "estimator"
        # Probabilities: a Sampler when there is one (hardware-style counts), else Z strings on an Estimator.
        return "estimator" if self.kind == "estimator" else "sampler"

    # --------------------------------------------------------------------- compile
    def program(self, vc: VariationalCircuit) -> _Program:
        """The compiled (transpiled, laid-out) form of `vc`, built on first use and cached."""
        if not isinstance(vc, VariationalCircuit):
            raise TypeError(f"QiskitExecutor: expected a VariationalCircuit, got {type(vc).__name__}")
        prog = self._programs.get(vc)
        if prog is None:
            prog = self._compile(vc)
            self._programs[vc] = prog
        return prog

    def _compile(self, vc: VariationalCircuit) -> _Program:
        from qiskit import ClassicalRegister
        from qiskit.circuit import ParameterVector
        from qiskit.quantum_info import SparsePauliOp

        from nextrl.quantum.qiskit_bridge import circuit_to_qiskit

        fn = "QiskitExecutor"
        if self.backend is not None:
            available = getattr(self.backend, "num_qubits", None)
            if available is not None and available < vc.num_qubits:
                raise ValueError(f"{fn}: the circuit needs {vc.num_qubits} qubits but backend "
                                 f"'{getattr(self.backend, 'name', self.backend)}' has only {available}")
        kind = self._read_kind(vc)

        # One nextrl Parameter per angle occurrence; the rewritten circuit uses it bare.
        slots = {p: i for i, p in enumerate(vc.circuit.parameters)}
        occ_slot, occ_scale, occ_offset, occ_rule, occ_params = [], [], [], [], []

        def occurrence(angle, rule):
            if isinstance(angle, Parameter):
                slot, a, b = slots[angle], 1.0, 0.0
            elif isinstance(angle, ParameterExpression):
                slot, a, b = slots[angle.parameter], angle.scale, angle.offset
            else:
                return angle
            p = Parameter(f"theta{len(occ_slot)}")
            occ_slot.append(slot)
            occ_scale.append(a)
            occ_offset.append(b)
            occ_rule.append(rule)
            occ_params.append(p)
            return p

        c = Circuit(vc.num_qubits, name=vc.circuit.name)
        gp = vc.circuit.global_phase
        c.global_phase = gp if isinstance(gp, float) else 0.0  # a symbolic phase changes no output
        for ins in vc.circuit:
            if ins.base == "unitary":
                c.unitary(ins.matrix, ins.targets, controls=ins.controls, ctrl_state=ins.ctrl_state, atol=1e-8)
                continue
            params = [occurrence(v, shift_rule(ins.base, len(ins.controls), i) if not isinstance(v, float) else 0)
                      for i, v in enumerate(ins.params)]
            c.append(ins.base, ins.targets, params, controls=ins.controls, ctrl_state=ins.ctrl_state)
        theta = ParameterVector("theta", len(occ_params))
        qc = circuit_to_qiskit(c, {p: theta[k] for k, p in enumerate(occ_params)})

        clbits = None
        if kind == "sampler":
            clbits = "probs"
            creg = ClassicalRegister(len(vc.probability_qubits), clbits)
            qc.add_register(creg)
            for j, q in enumerate(vc.probability_qubits):
                qc.measure(q, creg[j])

        if self.backend is not None:
            from qiskit.transpiler import generate_preset_pass_manager

            pm = generate_preset_pass_manager(optimization_level=self.optimization_level, backend=self.backend,
                                              seed_transpiler=self.seed)
            isa = pm.run(qc)
        else:
            isa = qc
        layout = getattr(isa, "layout", None)
        if type(self.target).__module__.startswith("qiskit_aer"):
            isa = _decompose_parameterized_controls(isa)

        observables = readout = None
        if kind == "estimator":
            if vc.observables is not None:
                raw = [o.to_sparse_pauli_op() for o in vc.observables]
                readout = np.vstack([np.zeros((1, len(raw))), np.eye(len(raw))])
            else:  # probabilities from the Z strings over the chosen qubits: p_b = 2^-k sum_S (-1)^|b & S| <Z_S>
                qs, k = vc.probability_qubits, len(vc.probability_qubits)
                raw = []
                for subset in range(1, 1 << k):
                    label = ["I"] * vc.num_qubits
                    for j, q in enumerate(qs):
                        if subset >> j & 1:
                            label[vc.num_qubits - 1 - q] = "Z"
                    raw.append(SparsePauliOp("".join(label)))
                subsets = np.arange(1 << k)
                parity = np.array([[bin(b & s).count("1") & 1 for b in subsets] for s in subsets])
                readout = (1.0 - 2.0 * parity) / (1 << k)  # row 0: identity subset, constant 1
            observables = [o.apply_layout(layout) if layout is not None else o for o in raw]

        index = {p: k for k, p in enumerate(theta)}
        columns = []
        for p in isa.parameters:
            if p not in index:
                raise RuntimeError(f"{fn}: transpiled circuit has an unknown parameter {p}")
            columns.append(index[p])
        columns = np.array(columns, dtype=np.int64)
        rule = np.array(occ_rule, dtype=np.int64)
        present = np.zeros(len(occ_params), dtype=bool)
        present[columns] = True
        rule[~present] = 0  # the transpiler removed it: the outputs do not depend on it

        kinds, idx, sc = [], [], []
        for p in vc.circuit.parameters:
            src = vc.sources[p]
            if isinstance(src, Weight):
                kinds.append(0), idx.append(src.index), sc.append(-1)
            elif isinstance(src, Feature) and src.scale is None:
                kinds.append(1), idx.append(src.index), sc.append(-1)
            else:
                kinds.append(2), idx.append(src.index), sc.append(src.scale)
        return _Program(kind=kind, isa_circuit=isa, observables=observables, readout=readout, columns=columns,
                        occ_slot=np.array(occ_slot, dtype=np.int64), occ_scale=np.array(occ_scale, dtype=np.float64),
                        occ_offset=np.array(occ_offset, dtype=np.float64), occ_rule=rule,
                        slot_kind=np.array(kinds, dtype=np.int64), slot_index=np.array(idx, dtype=np.int64),
                        slot_scale=np.array(sc, dtype=np.int64), clbits=clbits, num_outputs=vc.num_outputs)

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

    @staticmethod
    def _slot_values(prog: _Program, x, w, s) -> np.ndarray:
        vals = np.empty((x.shape[0], len(prog.slot_kind)))
        for p, (kind, i, j) in enumerate(zip(prog.slot_kind, prog.slot_index, prog.slot_scale)):
            vals[:, p] = w[i] if kind == 0 else (x[:, i] if kind == 1 else s[j] * x[:, i])
        return vals

    # ------------------------------------------------------------------------ run
    def _run(self, vc: VariationalCircuit, x, w, s, shift: np.ndarray | None):
        """One job: outputs [B, A] and, for the occurrences where `shift` is True,
        d outputs / d theta_k as [B, K, A] (zero elsewhere; None when nothing is shifted)."""
        prog = self.program(vc)
        B, K = x.shape[0], prog.num_occurrences
        theta = self._slot_values(prog, x, w, s)[:, prog.occ_slot] * prog.occ_scale + prog.occ_offset  # [B, K]
        ks, deltas, coeffs = [], [], []
        if shift is not None:
            for k in np.flatnonzero(shift & (prog.occ_rule > 0)):
                for delta, coeff in SHIFT_RULES[int(prog.occ_rule[k])]:
                    ks.append(k), deltas.append(delta), coeffs.append(coeff)
        S = len(ks)
        rows = np.repeat(theta[:, None, :], 1 + S, axis=1)  # [B, 1 + S, K]
        if S:
            rows[:, 1 + np.arange(S), ks] += np.asarray(deltas)
        values = np.ascontiguousarray(rows[:, :, prog.columns].reshape(B * (1 + S), len(prog.columns)))
        raw = self._submit(prog, values).reshape(B, 1 + S, -1)
        if prog.readout is not None:  # estimator: raw Z strings / observables -> outputs
            out_rows = raw @ prog.readout[1:] + prog.readout[0]
        else:
            out_rows = raw
        out = out_rows[:, 0]
        if shift is None:
            return out, None
        C = np.zeros((S, K))
        C[np.arange(S), ks] = coeffs
        d_theta = np.einsum("bsa,sk->bka", out_rows[:, 1:], C)
        return out, d_theta

    def _submit(self, prog: _Program, values: np.ndarray) -> np.ndarray:
        """Submits one PUB with parameter values [R, P]; returns raw results [R, A_raw]."""
        R = values.shape[0]
        primitive = self._primitive(prog.kind)
        if prog.kind == "estimator":
            obs = list(prog.observables)
            if prog.isa_circuit.num_parameters == 0:
                pub = (prog.isa_circuit, obs)  # identical rows: run once, broadcast
            else:
                pub = (prog.isa_circuit, obs, values[:, None, :])  # [R, 1] x [A] -> [R, A]
            if self.shots is not None:
                pub = pub + ((None,) if len(pub) == 2 else ()) + (1.0 / math.sqrt(self.shots),)
            job = primitive.run([pub])
            self.num_jobs += 1
            self.last_job = job
            evs = np.asarray(job.result()[0].data.evs, dtype=np.float64)
            return np.broadcast_to(evs.reshape(-1, len(obs)), (R, len(obs)))
        pub = (prog.isa_circuit,) if prog.isa_circuit.num_parameters == 0 else (prog.isa_circuit, values)
        if self.shots is not None:
            pub = pub + ((None,) if len(pub) == 1 else ()) + (self.shots,)
        job = primitive.run([pub])
        self.num_jobs += 1
        self.last_job = job
        bits = getattr(job.result()[0].data, prog.clbits)
        probs = _probabilities(bits)
        return np.broadcast_to(probs.reshape(-1, probs.shape[-1]), (R, probs.shape[-1]))

    def _chain(self, prog: _Program, x, w, s, g_theta):
        """d_weights [W], d_inputs [B, F], d_scales [S] from dL/d theta [B, K]."""
        B = x.shape[0]
        d_slot = np.zeros((B, len(prog.slot_kind)))
        np.add.at(d_slot.T, prog.occ_slot, (g_theta * prog.occ_scale).T)
        dw = np.zeros(len(w))
        dx = np.zeros_like(x)
        ds = np.zeros(len(s))
        for p, (kind, i, j) in enumerate(zip(prog.slot_kind, prog.slot_index, prog.slot_scale)):
            if kind == 0:
                dw[i] += d_slot[:, p].sum()
            elif kind == 1:
                dx[:, i] += d_slot[:, p]
            else:
                dx[:, i] += s[j] * d_slot[:, p]
                ds[j] += d_slot[:, p] @ x[:, i]
        return dw, dx, ds

    # ---------------------------------------------------------------------- public
    def forward(self, vc: VariationalCircuit, inputs, weights=None, scales=None) -> np.ndarray:
        """Outputs [batch, num_outputs] of `vc` (as VariationalCircuit.forward), one job."""
        x, w, s = self._arrays("QiskitExecutor.forward", vc, inputs, weights, scales)
        out, _ = self._run(vc, x, w, s, None)
        return out

    def vjp(self, vc: VariationalCircuit, inputs, weights, scales, grad_outputs):
        """(outputs, d_weights, d_inputs, d_scales) as VariationalCircuit.vjp, by parameter
        shift: one job holding the unshifted and all shifted parameter sets."""
        fn = "QiskitExecutor.vjp"
        x, w, s = self._arrays(fn, vc, inputs, weights, scales)
        g = _as_array(fn, "grad_outputs", grad_outputs, 2, (x.shape[0], vc.num_outputs))
        prog = self.program(vc)
        out, d_theta = self._run(vc, x, w, s, np.ones(prog.num_occurrences, dtype=bool))
        dw, dx, ds = self._chain(prog, x, w, s, np.einsum("bka,ba->bk", d_theta, g))
        return out, dw, dx, ds

    def layer_forward(self, layer, inputs):
        """Runs a nextrl QuantumLayer on this executor: outputs [B, num_outputs] (or
        [num_outputs] for a 1-D input) as a torch tensor with autograd through parameter
        shift. Forward and backward of a batch are one job (the shifted parameter sets are
        submitted with the forward pass when any of inputs, weights or scales needs a gradient)."""
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
        grad = torch.is_grad_enabled()
        needs = tuple(grad and t.requires_grad for t in (inputs, layer.weights, layer.scales))
        out = _executor_function().apply(x.to(layer.weights.dtype), layer.weights, layer.scales, self, layer.circuit,
                                         needs)
        if layer.output_scale is not None:
            out = out * layer.output_scale
        return out.squeeze(0) if squeeze else out


def _decompose_parameterized_controls(qc):
    """Aer's primitives bind parameters of controlled gates (crx, cry, cp, cu, ...) wrongly
    (qiskit-aer issues #2323, #2391, #2403): rewrite those gates into their definitions, whose
    parameterized gates are uncontrolled. Other primitives get the circuit unchanged."""
    from qiskit.circuit import ControlledGate
    from qiskit.circuit import ParameterExpression as QExpr

    for _ in range(16):
        names = {ci.operation.name for ci in qc.data if isinstance(ci.operation, ControlledGate)
                 and any(isinstance(p, QExpr) and p.parameters for p in ci.operation.params)}
        if not names:
            return qc
        qc = qc.decompose(gates_to_decompose=sorted(names))
    raise RuntimeError("QiskitExecutor: could not decompose the parameterized controlled gates for Aer")


def _probabilities(bits) -> np.ndarray:
    """BitArray of shape [R] -> probabilities [R, 2**num_bits] (bit j of a column is clbit j)."""
    arr = np.asarray(bits.array)  # [R, shots, bytes], big-endian bytes
    num_bytes = arr.shape[-1]
    ints = np.zeros(arr.shape[:-1], dtype=np.int64)
    for i in range(num_bytes):
        ints = (ints << 8) | arr[..., i].astype(np.int64)
    R, shots = ints.reshape(-1, ints.shape[-1]).shape
    size = 1 << bits.num_bits
    flat = (np.arange(R)[:, None] * size + ints.reshape(R, shots)).ravel()
    return np.bincount(flat, minlength=R * size).reshape(R, size) / shots


_FUNCTION = None


def _executor_function():
    """The torch.autograd.Function behind layer_forward (built on first use: torch is lazy)."""
    global _FUNCTION
    if _FUNCTION is not None:
        return _FUNCTION
    import torch

    class _QiskitVQCFunction(torch.autograd.Function):
        """inputs [B, F], weights [W], scales [S] -> outputs [B, A] on a QiskitExecutor."""

        @staticmethod
        def forward(ctx, inputs, weights, scales, executor: QiskitExecutor, vc: VariationalCircuit, needs):
            fn = "QiskitExecutor.layer_forward"
            x, w, s = executor._arrays(fn, vc, inputs.detach().to("cpu", torch.float64).numpy(),
                                       weights.detach().to("cpu", torch.float64).numpy(),
                                       scales.detach().to("cpu", torch.float64).numpy())
            prog = executor.program(vc)
            need_x, need_w, need_s = needs  # (autograd's needs_input_grad ignores no_grad mode)
            slot_kind = prog.slot_kind[prog.occ_slot]
            shift = ((slot_kind == 0) & need_w) | ((slot_kind == 1) & need_x) | ((slot_kind == 2) & (need_x or need_s))
            out, d_theta = executor._run(vc, x, w, s, shift if shift.any() else None)
            ctx.executor, ctx.prog = executor, prog
            ctx.arrays = (x, w, s, d_theta)
            ctx.meta = (inputs.dtype, inputs.device, weights.dtype, weights.device, scales.dtype, scales.device)
            return torch.from_numpy(np.ascontiguousarray(out)).to(device=inputs.device, dtype=inputs.dtype)

        @staticmethod
        def backward(ctx, grad_out):
            x, w, s, d_theta = ctx.arrays
            x_dtype, x_dev, w_dtype, w_dev, s_dtype, s_dev = ctx.meta
            if d_theta is None:
                return None, None, None, None, None, None
            g = grad_out.detach().to("cpu", torch.float64).numpy()
            dw, dx, ds = ctx.executor._chain(ctx.prog, x, w, s, np.einsum("bka,ba->bk", d_theta, g))
            need_x, need_w, need_s = ctx.needs_input_grad[:3]
            return (torch.from_numpy(dx).to(device=x_dev, dtype=x_dtype) if need_x else None,
                    torch.from_numpy(dw).to(device=w_dev, dtype=w_dtype) if need_w else None,
                    torch.from_numpy(ds).to(device=s_dev, dtype=s_dtype) if need_s else None, None, None, None)

    _FUNCTION = _QiskitVQCFunction
    return _FUNCTION
