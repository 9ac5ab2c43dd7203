"""Conversion of circuits between nextrl and Qiskit. Qubit order and matrix conventions
are the same on both sides, so gates map one to one."""

from __future__ import annotations

import numbers

import numpy as np

from nextrl.quantum.circuit import MAX_UNITARY_QUBITS, Circuit
from nextrl.quantum.gates import GATES
from nextrl.quantum.parameters import Parameter, ParameterExpression

# Instructions that do not change the state.
_IGNORED = {"barrier", "delay"}
# Qiskit names that are aliases of a nextrl gate: name -> (base, params from qiskit params).
_ALIASES = {
    "u1": ("p", lambda p: p),
    "u3": ("u", lambda p: p),
    "u2": ("u", lambda p: [np.pi / 2, p[0], p[1]]),
    "cu1": ("p", lambda p: p),
    "cu3": ("u", lambda p: p),
    "mcphase": ("p", lambda p: p),
    "mcp": ("p", lambda p: p),
}


def _qiskit_gate(base: str, params):
    from qiskit.circuit import library as lib

    classes = {
        "id": lib.IGate, "x": lib.XGate, "y": lib.YGate, "z": lib.ZGate, "h": lib.HGate, "s": lib.SGate,
        "sdg": lib.SdgGate, "t": lib.TGate, "tdg": lib.TdgGate, "sx": lib.SXGate, "sxdg": lib.SXdgGate,
        "rx": lib.RXGate, "ry": lib.RYGate, "rz": lib.RZGate, "p": lib.PhaseGate, "u": lib.UGate,
        "swap": lib.SwapGate, "iswap": lib.iSwapGate, "rxx": lib.RXXGate, "ryy": lib.RYYGate, "rzz": lib.RZZGate,
    }
    return classes[base](*params)


def circuit_to_qiskit(circuit: Circuit):
    """A qiskit.QuantumCircuit equal to `circuit`, with one qiskit Parameter per nextrl Parameter."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter as QParameter
    from qiskit.circuit.library import UnitaryGate

    qparams = {p: QParameter(p.name) for p in circuit.parameters}
    names = [p.name for p in circuit.parameters]
    if len(set(names)) != len(names):
        raise ValueError("Circuit.to_qiskit: parameter names must be unique for Qiskit, got duplicates")

    def angle(v):
        if isinstance(v, Parameter):
            return qparams[v]
        if isinstance(v, ParameterExpression):
            return v.scale * qparams[v.parameter] + v.offset
        return v

    qc = QuantumCircuit(circuit.num_qubits, name=circuit.name)
    qc.global_phase = angle(circuit.global_phase)
    for ins in circuit:
        if ins.base == "unitary":
            gate = UnitaryGate(ins.matrix)
        else:
            gate = _qiskit_gate(ins.base, [angle(p) for p in ins.params])
        if ins.controls:
            gate = gate.control(len(ins.controls), ctrl_state=ins.ctrl_state)
        qc.append(gate, list(ins.controls) + list(ins.targets))
    return qc


def _from_qiskit_param(value, cache: dict, name: str):
    from qiskit.circuit import ParameterExpression as QExpr

    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, QExpr):
        if not value.parameters:
            return float(value)
        if len(value.parameters) != 1:
            raise ValueError(f"from_qiskit: instruction '{name}' has angle {value} with several parameters; "
                             "only scale * parameter + offset is supported")
        (qp,) = value.parameters
        p = cache.setdefault(qp, Parameter(qp.name))
        grad = value.gradient(qp)
        if isinstance(grad, QExpr) and grad.parameters:
            raise ValueError(f"from_qiskit: instruction '{name}' has angle {value}, which is not affine in {qp.name}")
        scale = float(grad)
        offset = float(value.bind({qp: 0.0}))
        if scale == 1.0 and offset == 0.0:
            return p
        return ParameterExpression(p, scale, offset)
    raise ValueError(f"from_qiskit: instruction '{name}' has unsupported parameter {value!r}")


def from_qiskit(qc) -> Circuit:
    """A nextrl Circuit equal to qiskit QuantumCircuit `qc`.

    Gates of the nextrl set (and their controlled forms) map directly; any other gate
    without free parameters on at most 10 qubits becomes a dense unitary. Anything else
    (measure, reset, classical control, ...) raises a ValueError naming the instruction.
    """
    from qiskit.circuit import ControlledGate, Gate

    circuit = Circuit(qc.num_qubits, name=qc.name)
    cache: dict = {}
    circuit.global_phase = _from_qiskit_param(qc.global_phase, cache, "global_phase")
    for item in qc.data:
        op = item.operation
        name = op.name
        qubits = [qc.find_bit(q).index for q in item.qubits]
        if name in _IGNORED:
            continue
        if item.clbits or getattr(op, "condition", None) is not None:
            raise ValueError(f"from_qiskit: unsupported instruction '{name}' (classical bits)")
        params = [_from_qiskit_param(p, cache, name) for p in op.params] if name != "unitary" else []
        controls: list[int] = []
        ctrl_state = None
        base_op = op
        if isinstance(op, ControlledGate) and name not in ("unitary",):
            nc = op.num_ctrl_qubits
            controls, qubits = qubits[:nc], qubits[nc:]
            ctrl_state = op.ctrl_state
            base_op = op.base_gate
            if name == "cu":  # CU(theta, phi, lam, gamma): controlled U plus P(gamma) on the control
                if nc != 1:
                    raise ValueError("from_qiskit: unsupported instruction 'cu' with several controls")
                circuit.append("u", qubits, params[:3], controls=controls, ctrl_state=ctrl_state)
                _phase_on_control(circuit, controls[0], params[3], ctrl_state)
                continue
            params = [_from_qiskit_param(p, cache, name) for p in base_op.params]
        base_name = base_op.name
        if base_name in _ALIASES:
            base_name, remap = _ALIASES[base_name]
            params = remap(params)
        if base_name in GATES and GATES[base_name].num_controls == 0:
            circuit.append(base_name, qubits, params, controls=controls, ctrl_state=ctrl_state)
            continue
        if isinstance(base_op, Gate) and not any(isinstance(p, (Parameter, ParameterExpression)) for p in params):
            try:
                matrix = base_op.to_matrix()
            except Exception as err:  # qiskit raises CircuitError or others for gates without a matrix
                raise ValueError(f"from_qiskit: unsupported instruction '{name}' (no matrix: {err})") from err
            if len(qubits) > MAX_UNITARY_QUBITS:
                raise ValueError(f"from_qiskit: unsupported instruction '{name}' on {len(qubits)} qubits "
                                 f"(dense matrices are limited to {MAX_UNITARY_QUBITS})")
            circuit.unitary(matrix, qubits, controls=controls, ctrl_state=ctrl_state, atol=1e-8)
            continue
        raise ValueError(f"from_qiskit: unsupported instruction '{name}'")
    return circuit


def _phase_on_control(circuit: Circuit, control: int, gamma, ctrl_state: int) -> None:
    """The gamma phase of Qiskit's CU acts when the control has its active value."""
    if ctrl_state == 1:
        circuit.p(gamma, control)
    else:  # phase on |0> of the control: X P X
        circuit.x(control)
        circuit.p(gamma, control)
        circuit.x(control)
