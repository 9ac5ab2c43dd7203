"""The Qiskit bridge: from_qiskit, Circuit.to_qiskit, PauliSum <-> SparsePauliOp."""

import warnings

import numpy as np
import pytest
from qiskit import QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter as QiskitParameter
from qiskit.circuit import library as lib
from qiskit.circuit.random import random_circuit as qiskit_random_circuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.quantum_info import Statevector as QiskitStatevector

from conftest import KINDS, haar_state, random_circuit, random_pauli_terms
from nextrl.quantum import Circuit, Parameter, PauliSum, Statevector, from_qiskit

ANNOTATED = "ignore:.*argument ``annotated`` is deprecated:DeprecationWarning"
pytestmark = pytest.mark.filterwarnings(ANNOTATED)


def simulate(circuit: Circuit, params=None, init=None) -> np.ndarray:
    sv = Statevector(circuit.num_qubits) if init is None else Statevector.from_amplitudes(init)
    return sv.apply(circuit, params).amplitudes


# ---------------------------------------------------------------------------- from_qiskit
@pytest.mark.parametrize("num_qubits", range(1, 9))
def test_from_qiskit_random_circuits(num_qubits, rng):
    for seed in range(3):
        qc = qiskit_random_circuit(num_qubits, depth=6, max_operands=min(4, num_qubits), seed=100 * num_qubits + seed)
        init = haar_state(rng, num_qubits)
        expected = QiskitStatevector(init).evolve(qc).data
        np.testing.assert_allclose(
            simulate(from_qiskit(qc), init=init), expected, rtol=0, atol=1e-10, err_msg=str(qc.count_ops())
        )


def test_from_qiskit_gates_outside_the_nextrl_set(rng):
    n = 6
    qc = QuantumCircuit(QuantumRegister(2, "a"), QuantumRegister(4, "b"))  # two registers
    qc.append(lib.ECRGate(), [0, 3])
    qc.append(lib.DCXGate(), [5, 1])
    qc.append(lib.RZXGate(0.4), [2, 4])
    qc.append(lib.XXPlusYYGate(0.3, 0.2), [1, 2])
    qc.append(lib.XXMinusYYGate(-0.7, 1.1), [4, 0])
    qc.append(lib.RGate(0.5, 0.9), [3])
    qc.append(lib.RVGate(0.1, -0.2, 0.3), [2])
    qc.append(lib.U1Gate(0.3), [0])
    qc.append(lib.U2Gate(0.3, -0.8), [1])
    qc.append(lib.U3Gate(0.3, 1.2, -0.4), [2])
    qc.append(lib.CU1Gate(0.8), [3, 0])
    qc.append(lib.CU3Gate(0.3, 0.2, 0.1), [4, 5])
    qc.append(lib.CUGate(0.3, 0.2, 0.1, 0.7), [5, 2])
    qc.append(lib.MCPhaseGate(0.9, 3), [0, 2, 4, 5])
    qc.append(lib.C3SXGate(), [5, 3, 1, 0])
    qc.append(lib.C4XGate(), [0, 1, 2, 3, 4])
    qc.mcx([5, 0, 3], 2)
    qc.append(lib.MCXGate(4, ctrl_state="0110"), [1, 2, 3, 4, 0])
    qc.append(lib.RCCXGate(), [2, 4, 1])
    qc.append(lib.RC3XGate(), [0, 5, 2, 3])
    qc.append(lib.CSGate(), [3, 4])
    qc.append(lib.CSdgGate(), [4, 3])
    qc.append(lib.CSXGate(), [0, 1])
    qc.append(lib.CCZGate(), [1, 3, 5])
    qc.append(lib.UnitaryGate(haar_unitary(rng, 3)), [4, 0, 2])
    qc.append(lib.HGate().control(2, ctrl_state=1, annotated=False), [3, 5, 0])
    qc.append(lib.iSwapGate().control(1, ctrl_state=0, annotated=False), [2, 0, 5])
    qc.append(lib.RYYGate(0.6).control(2, ctrl_state=2, annotated=False), [1, 0, 4, 3])
    qc.barrier()
    qc.global_phase = 0.25
    init = haar_state(rng, n)
    expected = QiskitStatevector(init).evolve(qc).data
    circuit = from_qiskit(qc)
    assert circuit.num_qubits == n
    np.testing.assert_allclose(simulate(circuit, init=init), expected, rtol=0, atol=1e-10)


def haar_unitary(rng, k):
    from scipy.stats import unitary_group

    return unitary_group.rvs(2**k, random_state=rng)


def test_from_qiskit_parameterized_circuit(rng):
    theta, phi = QiskitParameter("theta"), QiskitParameter("phi")
    qc = QuantumCircuit(3)
    qc.rx(theta, 0)
    qc.ry(2 * theta + 1, 1)
    qc.rz(theta / 3 - 0.5, 2)
    qc.cry(-phi, 0, 2)
    qc.append(lib.CUGate(phi, 0.3, theta, 0.5 * phi), [1, 0])
    qc.u(theta, phi, 0.2, 2)
    qc.cp(phi + 0.1, 2, 1)
    qc.rzz(theta, 0, 1)
    qc.append(lib.RXGate(phi).control(2, ctrl_state=1, annotated=False), [2, 0, 1])
    qc.global_phase = theta - 0.3
    circuit = from_qiskit(qc)
    assert sorted(p.name for p in circuit.parameters) == ["phi", "theta"]
    values = {"theta": 0.77, "phi": -1.9}
    init = haar_state(rng, 3)
    expected = QiskitStatevector(init).evolve(qc.assign_parameters({theta: 0.77, phi: -1.9})).data
    np.testing.assert_allclose(simulate(circuit, values, init), expected, rtol=0, atol=1e-12)
    by_order = [values[p.name] for p in circuit.parameters]
    np.testing.assert_allclose(simulate(circuit, by_order, init), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("expr", ["theta**2", "sin", "product"])
def test_from_qiskit_rejects_non_affine_angles(expr):
    theta, phi = QiskitParameter("theta"), QiskitParameter("phi")
    angle = {"theta**2": theta * theta, "sin": theta.sin(), "product": theta * phi}[expr]
    qc = QuantumCircuit(1)
    qc.rx(angle, 0)
    with pytest.raises(ValueError, match="from_qiskit: instruction 'rx' has angle"):
        from_qiskit(qc)


def test_from_qiskit_cu_with_open_control(rng):
    """BUG: CUGate(theta, phi, lam, gamma, ctrl_state=0) is named 'cu_o0', so from_qiskit's
    special case `name == "cu"` misses it and the gamma phase is silently dropped (wrong state,
    max amplitude error ~0.1 here)."""
    qc = QuantumCircuit(3)
    qc.append(lib.CUGate(1.3, -0.2, 0.4, -0.6, ctrl_state=0), [1, 2])
    init = haar_state(rng, 3)
    np.testing.assert_allclose(
        simulate(from_qiskit(qc), init=init), QiskitStatevector(init).evolve(qc).data, rtol=0, atol=1e-12
    )


NON_ANGLE_PARAMS = {
    "pauli": lambda: lib.PauliGate("XYZ"),
    "permutation": lambda: lib.PermutationGate([2, 0, 1]),
    "diagonal": lambda: lib.DiagonalGate([1, 1j, -1, -1j, 1j, 1, -1j, -1]),
    "hamiltonian": lambda: lib.HamiltonianGate(np.diag([1.0, 2.0, -0.5, 0.3, 0, 1, 2, 3]), 0.4),
    "ucry": lambda: lib.UCRYGate([0.1, 0.2, -0.3, 0.4]),
}


@pytest.mark.parametrize("name", sorted(NON_ANGLE_PARAMS))
def test_from_qiskit_parameter_free_gates_with_non_angle_params(name, rng):
    """BUG: from_qiskit promises a dense unitary for "any other gate without free parameters on at
    most 10 qubits", but it parses every op.params entry as an angle first, so gates whose params
    are labels, patterns or arrays fail ("has unsupported parameter 'XYZ'"); ucry has no
    to_matrix and is refused although qiskit.quantum_info.Operator(gate) gives its matrix."""
    gate = NON_ANGLE_PARAMS[name]()
    qc = QuantumCircuit(4)
    qc.append(gate, [3, 0, 2])
    init = haar_state(rng, 4)
    circuit = from_qiskit(qc)
    np.testing.assert_allclose(
        simulate(circuit, init=init), QiskitStatevector(init).evolve(qc).data, rtol=0, atol=1e-12
    )


def test_from_qiskit_global_phase_gate():
    """BUG: a GlobalPhaseGate (a zero-qubit gate; Qiskit's synthesis emits them) is turned into
    a dense unitary on 0 qubits, which Circuit.unitary rejects."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.append(lib.GlobalPhaseGate(0.3), [])
    circuit = from_qiskit(qc)  # ValueError: Circuit.unitary: must act on 1 to 10 qubits, got 0
    np.testing.assert_allclose(simulate(circuit), QiskitStatevector(qc).data, rtol=0, atol=1e-12)


def test_from_qiskit_controlled_unitary_gate(rng):
    """BUG: a controlled UnitaryGate (what Circuit.to_qiskit itself emits for a controlled
    Circuit.unitary) is refused: from_qiskit passes the matrix of op.params to the angle parser."""
    qc = QuantumCircuit(3)
    qc.append(lib.UnitaryGate(haar_unitary(rng, 1)).control(1, ctrl_state=0, annotated=False), [2, 0])
    # ValueError: from_qiskit: instruction 'c-unitary_o0' has unsupported parameter array(...)
    circuit = from_qiskit(qc)
    np.testing.assert_allclose(simulate(circuit), QiskitStatevector(qc).data, rtol=0, atol=1e-12)


def test_from_qiskit_annotated_controlled_gate():
    """BUG (Qiskit >= 2.3 compatibility): Gate.control(annotated=True), Qiskit's recommended
    and future default form, gives an AnnotatedOperation that from_qiskit refuses."""
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.h(1)
    qc.append(lib.RXGate(0.3).control(2, annotated=True), [0, 1, 2])
    circuit = from_qiskit(qc)  # ValueError: from_qiskit: unsupported instruction 'annotated'
    np.testing.assert_allclose(simulate(circuit), QiskitStatevector(qc).data, rtol=0, atol=1e-12)


def test_from_qiskit_ignores_barriers_and_delays():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.barrier()
    qc.delay(100, 1)
    qc.cx(0, 1)
    circuit = from_qiskit(qc)
    assert [ins.name for ins in circuit] == ["h", "x"]
    np.testing.assert_allclose(simulate(circuit), np.array([1, 0, 0, 1]) / np.sqrt(2), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- to_qiskit
@pytest.mark.parametrize("num_qubits", [1, 2, 4, 7])
def test_circuit_to_qiskit_round_trip(num_qubits, rng):
    kinds = [k for k in KINDS if k != "controlled_unitary"]  # see test_from_qiskit_controlled_unitary_gate
    rc = random_circuit(rng, num_qubits, num_gates=40, kinds=kinds)
    qc = rc.circuit.to_qiskit()
    assert qc.num_qubits == num_qubits
    assert sorted(p.name for p in qc.parameters) == sorted(p.name for p in rc.circuit.parameters)
    back = from_qiskit(qc)
    assert sorted(p.name for p in back.parameters) == sorted(p.name for p in rc.circuit.parameters)
    init = haar_state(rng, num_qubits)
    expected = simulate(rc.circuit, rc.params, init)
    np.testing.assert_allclose(simulate(back, rc.values, init), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(QiskitStatevector(init).evolve(rc.qiskit()).data, expected, rtol=0, atol=1e-10)


def test_circuit_to_qiskit_round_trip_with_controlled_unitary(rng):
    """BUG: the round trip fails for a controlled Circuit.unitary (same cause as
    test_from_qiskit_controlled_unitary_gate)."""
    rc = random_circuit(rng, 4, num_gates=5, kinds=["controlled_unitary"])
    back = from_qiskit(rc.circuit.to_qiskit())
    np.testing.assert_allclose(simulate(back, rc.values), simulate(rc.circuit, rc.params), rtol=0, atol=1e-10)


def test_to_qiskit_emits_no_deprecation_warning():
    """BUG (Qiskit >= 2.3 compatibility): circuit_to_qiskit calls gate.control(k, ctrl_state=...)
    without annotated=False; Qiskit 2.3+ deprecates that and pytest's filterwarnings=error turns it
    into an error. Here: RX with two controls."""
    c = Circuit(3).append("rx", [2], [0.3], controls=[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        qc = c.to_qiskit()
    np.testing.assert_allclose(QiskitStatevector(qc).data, simulate(c), rtol=0, atol=1e-12)


def test_to_qiskit_rejects_duplicate_parameter_names():
    c = Circuit(1).rx(Parameter("a"), 0).ry(Parameter("a"), 0)
    with pytest.raises(ValueError, match="Circuit.to_qiskit: parameter names must be unique"):
        c.to_qiskit()


# ---------------------------------------------------------------------------- observables
def test_pauli_sum_sparse_pauli_op_round_trip(rng):
    terms = random_pauli_terms(rng, 5, 7, complex_coeffs=True)
    ps = PauliSum(terms)
    op = ps.to_sparse_pauli_op()
    assert isinstance(op, SparsePauliOp)
    assert op.paulis.to_labels() == [label for label, _ in terms]
    np.testing.assert_allclose(op.coeffs, [c for _, c in terms], rtol=0, atol=0)
    back = PauliSum.from_sparse_pauli_op(op)
    assert back.labels == ps.labels and back.num_qubits == 5
    np.testing.assert_allclose(back.coeffs, ps.coeffs, rtol=0, atol=0)
    np.testing.assert_array_equal(back.x_masks, ps.x_masks)
    np.testing.assert_array_equal(back.z_masks, ps.z_masks)
    # From Qiskit's side, including an operator built by Qiskit algebra.
    qop = SparsePauliOp.from_list([("XIZ", 0.5), ("YYI", -2.0)]) @ SparsePauliOp("ZXI") + SparsePauliOp("III", 0.3)
    again = PauliSum.from_sparse_pauli_op(qop).to_sparse_pauli_op()
    assert again.equiv(qop)
    state = haar_state(rng, 3)
    np.testing.assert_allclose(
        Statevector.from_amplitudes(state).expectation(qop),
        QiskitStatevector(state).expectation_value(qop),
        rtol=0,
        atol=1e-12,
    )


def test_pauli_sum_masks_follow_qiskit_label_order():
    ps = PauliSum([("XIZY", 1.0)])  # qubit 0: Y, qubit 1: Z, qubit 3: X
    assert int(ps.x_masks[0]) == 0b1001 and int(ps.z_masks[0]) == 0b0011
    assert ps.is_hermitian and not PauliSum([("X", 1j)]).is_hermitian
    assert len(ps) == 1 and "XIZY" in repr(ps)
