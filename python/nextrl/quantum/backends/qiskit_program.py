"""Transpile and bind: a VariationalCircuit rewritten for a Qiskit target, once per (executor, circuit).

Every angle OCCURRENCE in the circuit (a nextrl Parameter may feed several gates) becomes its own qiskit
Parameter theta[k] carrying the exact shift rule of its gate; the circuit is transpiled to the backend's
ISA and the observables get the ISA layout. Per batch, `occurrence_angles` binds the angles of every
sample; nothing here submits a job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextrl.quantum.circuit import Circuit
from nextrl.quantum.parameters import Parameter
from nextrl.quantum.shift_rules import ShiftRule, gate_rule
from nextrl.quantum.variational import Feature, VariationalCircuit, Weight

__all__ = ["Program", "compile_program", "decompose_parameterized_controls", "occurrence_angles"]


@dataclass
class Program:
    """A VariationalCircuit compiled for one executor (transpiled once, reused per batch)."""

    kind: str  # "estimator" or "sampler"
    isa_circuit: object  # transpiled qiskit QuantumCircuit
    observables: list | None  # ISA-laid-out SparsePauliOps (estimator)
    readout: np.ndarray | None  # [1 + raw observables, outputs]: outputs = [1, raw] @ readout
    columns: np.ndarray  # [num ISA parameters] occurrence index of each parameter
    occ_slot: np.ndarray  # [K] slot (index into vc.circuit.parameters) of occurrence k
    occ_scale: np.ndarray  # [K] angle_k = occ_scale * slot value + occ_offset
    occ_offset: np.ndarray
    occ_rules: tuple  # [K] ShiftRule of occurrence k (empty: absent from the ISA circuit)
    slot_kind: np.ndarray  # [P] 0 weight, 1 feature, 2 scaled feature
    slot_index: np.ndarray  # [P] weight or feature index
    slot_scale: np.ndarray  # [P] scale index (kind 2) else -1
    clbits: str | None  # classical register read by the sampler
    num_outputs: int

    @property
    def num_occurrences(self) -> int:
        return len(self.occ_slot)

    @property
    def occ_rule(self) -> np.ndarray:
        """[K] number of shift terms of each occurrence (0: absent from the ISA circuit)."""
        return np.array([len(r) for r in self.occ_rules], dtype=np.int64)


def _readout(vc: VariationalCircuit):
    """(raw SparsePauliOps, readout matrix) for an Estimator: the observables themselves, or for
    probabilities the Z strings over the chosen qubits, p_b = 2^-k sum_S (-1)^|b & S| <Z_S>."""
    from qiskit.quantum_info import SparsePauliOp

    if vc.observables is not None:
        raw = [o.to_sparse_pauli_op() for o in vc.observables]
        return raw, np.vstack([np.zeros((1, len(raw))), np.eye(len(raw))])
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
    return raw, (1.0 - 2.0 * parity) / (1 << k)  # row 0: identity subset, constant 1


def compile_program(
    vc: VariationalCircuit,
    kind: str,
    *,
    backend=None,
    optimization_level: int = 1,
    seed: int | None = None,
    decompose_controls: bool = False,
    fn: str = "QiskitExecutor",
) -> Program:
    """Rewrites `vc` with one parameter per angle occurrence, adds measurements for a sampler, transpiles
    to `backend`'s ISA (none without a backend) and lays the observables out. decompose_controls: rewrite
    parameterized controlled gates into their definitions (for Aer's primitives)."""
    from qiskit import ClassicalRegister
    from qiskit.circuit import ParameterVector

    from nextrl.quantum.qiskit_bridge import circuit_to_qiskit

    if backend is not None:
        available = getattr(backend, "num_qubits", None)
        if available is not None and available < vc.num_qubits:
            raise ValueError(
                f"{fn}: the circuit needs {vc.num_qubits} qubits but backend "
                f"'{getattr(backend, 'name', backend)}' has only {available}"
            )

    # One nextrl Parameter per angle occurrence; the rewritten circuit uses it bare.
    slots = {p: i for i, p in enumerate(vc.circuit.parameters)}
    occ_slot, occ_scale, occ_offset, occ_rules, occ_params = [], [], [], [], []

    def occurrence(angle, rule: ShiftRule):
        if isinstance(angle, Parameter):
            slot, a, b = slots[angle], 1.0, 0.0
        else:
            slot, a, b = slots[angle.parameter], angle.scale, angle.offset
        p = Parameter(f"theta{len(occ_slot)}")
        occ_slot.append(slot)
        occ_scale.append(a)
        occ_offset.append(b)
        occ_rules.append(rule)
        occ_params.append(p)
        return p

    c = Circuit(vc.num_qubits, name=vc.circuit.name)
    gp = vc.circuit.global_phase
    c.global_phase = gp if isinstance(gp, float) else 0.0  # a symbolic phase changes no output
    for ins in vc.circuit:
        if ins.base == "unitary":
            c.unitary(ins.matrix, ins.targets, controls=ins.controls, ctrl_state=ins.ctrl_state, atol=1e-8)
            continue
        params = [
            v if isinstance(v, float) else occurrence(v, gate_rule(ins.base, len(ins.controls), i))
            for i, v in enumerate(ins.params)
        ]
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

    if backend is not None:
        from qiskit.transpiler import generate_preset_pass_manager

        pm = generate_preset_pass_manager(optimization_level=optimization_level, backend=backend, seed_transpiler=seed)
        isa = pm.run(qc)
    else:
        isa = qc
    layout = getattr(isa, "layout", None)
    if decompose_controls:
        isa = decompose_parameterized_controls(isa)

    observables = readout = None
    if kind == "estimator":
        raw, readout = _readout(vc)
        observables = [o.apply_layout(layout) if layout is not None else o for o in raw]

    index = {p: k for k, p in enumerate(theta)}
    columns = []
    for p in isa.parameters:
        if p not in index:
            raise RuntimeError(f"{fn}: transpiled circuit has an unknown parameter {p}")
        columns.append(index[p])
    columns = np.array(columns, dtype=np.int64)
    present = np.zeros(len(occ_params), dtype=bool)
    present[columns] = True
    # An occurrence the transpiler removed does not change the outputs: its rule is empty.
    rules = tuple(r if present[k] else ShiftRule((), ()) for k, r in enumerate(occ_rules))

    kinds, idx, sc = [], [], []
    for p in vc.circuit.parameters:
        src = vc.sources[p]
        if isinstance(src, Weight):
            kinds.append(0), idx.append(src.index), sc.append(-1)
        elif isinstance(src, Feature) and src.scale is None:
            kinds.append(1), idx.append(src.index), sc.append(-1)
        else:
            kinds.append(2), idx.append(src.index), sc.append(src.scale)
    return Program(
        kind=kind,
        isa_circuit=isa,
        observables=observables,
        readout=readout,
        columns=columns,
        occ_slot=np.array(occ_slot, dtype=np.int64),
        occ_scale=np.array(occ_scale, dtype=np.float64),
        occ_offset=np.array(occ_offset, dtype=np.float64),
        occ_rules=rules,
        slot_kind=np.array(kinds, dtype=np.int64),
        slot_index=np.array(idx, dtype=np.int64),
        slot_scale=np.array(sc, dtype=np.int64),
        clbits=clbits,
        num_outputs=vc.num_outputs,
    )


def decompose_parameterized_controls(qc):
    """Aer's primitives bind parameters of controlled gates (crx, cry, cp, cu, ...) wrongly
    (qiskit-aer issues #2323, #2391, #2403): rewrite those gates into their definitions, whose
    parameterized gates are uncontrolled. Other primitives get the circuit unchanged."""
    from qiskit.circuit import ControlledGate
    from qiskit.circuit import ParameterExpression as QExpr

    for _ in range(16):
        names = {
            ci.operation.name
            for ci in qc.data
            if isinstance(ci.operation, ControlledGate)
            and any(isinstance(p, QExpr) and p.parameters for p in ci.operation.params)
        }
        if not names:
            return qc
        qc = qc.decompose(gates_to_decompose=sorted(names))
    raise RuntimeError("QiskitExecutor: could not decompose the parameterized controlled gates for Aer")


def slot_values(prog: Program, x: np.ndarray, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """[B, P] value of every circuit parameter (slot) per sample."""
    vals = np.empty((x.shape[0], len(prog.slot_kind)))
    for p, (kind, i, j) in enumerate(zip(prog.slot_kind, prog.slot_index, prog.slot_scale)):
        vals[:, p] = w[i] if kind == 0 else (x[:, i] if kind == 1 else s[j] * x[:, i])
    return vals


def occurrence_angles(prog: Program, x: np.ndarray, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """[B, K] angle of every occurrence per sample."""
    return slot_values(prog, x, w, s)[:, prog.occ_slot] * prog.occ_scale + prog.occ_offset
