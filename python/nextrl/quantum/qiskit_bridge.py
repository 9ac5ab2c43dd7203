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
        "id": lib.IGate,
        "x": lib.XGate,
        "y": lib.YGate,
        "z": lib.ZGate,
        "h": lib.HGate,
        "s": lib.SGate,
        "sdg": lib.SdgGate,
        "t": lib.TGate,
        "tdg": lib.TdgGate,
        "sx": lib.SXGate,
        "sxdg": lib.SXdgGate,
        "rx": lib.RXGate,
        "ry": lib.RYGate,
        "rz": lib.RZGate,
        "p": lib.PhaseGate,
        "u": lib.UGate,
        "swap": lib.SwapGate,
        "iswap": lib.iSwapGate,
        "rxx": lib.RXXGate,
        "ryy": lib.RYYGate,
        "rzz": lib.RZZGate,
    }
    return classes[base](*params)


def circuit_to_qiskit(circuit: Circuit, param_map: dict | None = None):
    """A qiskit.QuantumCircuit equal to `circuit`, with one qiskit Parameter per nextrl Parameter,
    or, with `param_map`, the qiskit expression it gives for each nextrl Parameter."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter as QParameter
    from qiskit.circuit.library import UnitaryGate

    if param_map is None:
        names = [p.name for p in circuit.parameters]
        if len(set(names)) != len(names):
            raise ValueError("Circuit.to_qiskit: parameter names must be unique for Qiskit, got duplicates")
        qparams = {p: QParameter(p.name) for p in circuit.parameters}
    else:
        qparams = param_map

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
            gate = gate.control(len(ins.controls), ctrl_state=ins.ctrl_state, annotated=False)
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
            raise ValueError(
                f"from_qiskit: instruction '{name}' has angle {value} with several parameters; "
                "only scale * parameter + offset is supported"
            )
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
    from qiskit.circuit import ControlledGate

    circuit = Circuit(qc.num_qubits, name=qc.name)
    cache: dict = {}
    phase = _from_qiskit_param(qc.global_phase, cache, "global_phase")
    for item in qc.data:
        op = item.operation
        name = op.name
        qubits = [qc.find_bit(q).index for q in item.qubits]
        if name in _IGNORED:
            continue
        if item.clbits or getattr(op, "condition", None) is not None:
            raise ValueError(f"from_qiskit: unsupported instruction '{name}' (classical bits)")
        if name == "global_phase" and not qubits:  # GlobalPhaseGate
            extra = _from_qiskit_param(op.params[0], cache, name)
            if not isinstance(extra, float) or not isinstance(phase, float):
                raise ValueError("from_qiskit: several symbolic global phases are not supported")
            phase += extra
            continue
        controls: list[int] = []
        ctrl_state = None
        base_op = op
        if isinstance(op, ControlledGate):
            nc = op.num_ctrl_qubits
            controls, qubits = qubits[:nc], qubits[nc:]
            ctrl_state = op.ctrl_state
            base_op = op.base_gate
            if base_op.name == "u" and len(op.params) == 4:
                # CU(theta, phi, lam, gamma): controlled U plus P(gamma) on the active control value.
                if nc != 1:
                    raise ValueError(f"from_qiskit: unsupported instruction '{name}' with several controls")
                params = [_from_qiskit_param(p, cache, name) for p in op.params]
                circuit.append("u", qubits, params[:3], controls=controls, ctrl_state=ctrl_state)
                _phase_on_control(circuit, controls[0], params[3], ctrl_state)
                continue
        base_name = base_op.name
        if base_name in _ALIASES or (base_name in GATES and GATES[base_name].num_controls == 0):
            params = [_from_qiskit_param(p, cache, name) for p in base_op.params]
            if base_name in _ALIASES:
                base_name, remap = _ALIASES[base_name]
                params = remap(params)
            circuit.append(base_name, qubits, params, controls=controls, ctrl_state=ctrl_state)
            continue
        # Anything else without free parameters: its matrix, on all of its qubits.
        if name not in ("measure", "reset") and not _is_parameterized(op):
            all_qubits = list(controls) + list(qubits)
            if len(all_qubits) > MAX_UNITARY_QUBITS:
                raise ValueError(
                    f"from_qiskit: unsupported instruction '{name}' on {len(all_qubits)} qubits "
                    f"(dense matrices are limited to {MAX_UNITARY_QUBITS})"
                )
            try:
                from qiskit.quantum_info import Operator

                matrix = Operator(op).data
            except Exception as err:  # qiskit raises QiskitError / CircuitError for non-unitary instructions
                raise ValueError(f"from_qiskit: unsupported instruction '{name}' (no matrix: {err})") from err
            circuit.unitary(matrix, all_qubits, atol=1e-8)
            continue
        raise ValueError(f"from_qiskit: unsupported instruction '{name}'")
    circuit.global_phase = phase
    return circuit


def _is_parameterized(op) -> bool:
    """True when a qiskit operation (Instruction or AnnotatedOperation) has free parameters."""
    from qiskit.circuit import ParameterExpression as QExpr

    check = getattr(op, "is_parameterized", None)
    if check is not None:
        return bool(check())
    base = getattr(op, "base_op", None)
    if base is not None:
        return _is_parameterized(base)
    return any(isinstance(p, QExpr) and p.parameters for p in getattr(op, "params", []))


def _phase_on_control(circuit: Circuit, control: int, gamma, ctrl_state: int) -> None:
    """The gamma phase of Qiskit's CU acts when the control has its active value."""
    if ctrl_state == 1:
        circuit.p(gamma, control)
    else:  # phase on |0> of the control: X P X
        circuit.x(control)
        circuit.p(gamma, control)
        circuit.x(control)
