"""The dense reference itself against Qiskit's operators, so that agreement with it means something."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import library as lib
from qiskit.quantum_info import Operator, SparsePauliOp
from qiskit.quantum_info import Statevector as QiskitStatevector

from conftest import haar_state
from reference import dense_simulator as ds

ANGLES = (0.37, -1.21, 2.05)
# Reference op name -> (Qiskit gate, number of qubits).
QISKIT_GATES = {
    "id": (lib.IGate(), 1),
    "x": (lib.XGate(), 1),
    "y": (lib.YGate(), 1),
    "z": (lib.ZGate(), 1),
    "h": (lib.HGate(), 1),
    "s": (lib.SGate(), 1),
    "sdg": (lib.SdgGate(), 1),
    "t": (lib.TGate(), 1),
    "tdg": (lib.TdgGate(), 1),
    "sx": (lib.SXGate(), 1),
    "sxdg": (lib.SXdgGate(), 1),
    "rx": (lib.RXGate(ANGLES[0]), 1),
    "ry": (lib.RYGate(ANGLES[0]), 1),
    "rz": (lib.RZGate(ANGLES[0]), 1),
    "p": (lib.PhaseGate(ANGLES[0]), 1),
    "u": (lib.UGate(*ANGLES), 1),
    "cx": (lib.CXGate(), 2),
    "cy": (lib.CYGate(), 2),
    "cz": (lib.CZGate(), 2),
    "ch": (lib.CHGate(), 2),
    "crx": (lib.CRXGate(ANGLES[0]), 2),
    "cry": (lib.CRYGate(ANGLES[0]), 2),
    "crz": (lib.CRZGate(ANGLES[0]), 2),
    "cp": (lib.CPhaseGate(ANGLES[0]), 2),
    "swap": (lib.SwapGate(), 2),
    "iswap": (lib.iSwapGate(), 2),
    "rxx": (lib.RXXGate(ANGLES[0]), 2),
    "ryy": (lib.RYYGate(ANGLES[0]), 2),
    "rzz": (lib.RZZGate(ANGLES[0]), 2),
    "ccx": (lib.CCXGate(), 3),
    "cswap": (lib.CSwapGate(), 3),
}


@pytest.mark.parametrize("name", sorted(QISKIT_GATES))
def test_gate_operator_matches_qiskit(name):
    gate, k = QISKIT_GATES[name]
    n = 4
    qubits = [2, 0, 3][:k]  # not in ascending order, so the qubit order is exercised
    angles = ANGLES[: len(gate.params)]
    qc = QuantumCircuit(n)
    qc.append(gate, qubits)
    np.testing.assert_allclose(ds.gate_operator(n, name, qubits, angles), Operator(qc).data, rtol=0, atol=1e-12)


@pytest.mark.parametrize("ctrl_state", [0, 1, 2, 3])
def test_controlled_unitary_matches_qiskit(ctrl_state, rng):
    from scipy.stats import unitary_group

    u = unitary_group.rvs(4, random_state=rng)
    qc = QuantumCircuit(5)
    qc.append(lib.UnitaryGate(u).control(2, ctrl_state=ctrl_state), [4, 1, 0, 3])
    expected = Operator(qc).data
    actual = ds.gate_operator(5, "unitary", [0, 3], (), [4, 1], ctrl_state, u)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


def test_simulate_expectation_probabilities_match_qiskit(rng):
    n = 3
    init = haar_state(rng, n)
    ops = [
        ("h", [0], (), (), None, None),
        ("cx", [0, 2], (), (), None, None),
        ("ry", [1], (0.7,), (), None, None),
        ("x", [1], (), [2], "0", None),
    ]
    qc = QuantumCircuit(n)
    qc.h(0)
    qc.cx(0, 2)
    qc.ry(0.7, 1)
    qc.append(lib.XGate().control(1, ctrl_state=0), [2, 1])
    qc.global_phase = 0.4
    expected = QiskitStatevector(init).evolve(qc)
    state = ds.simulate(n, ops, 0.4, initial=init)
    np.testing.assert_allclose(state, expected.data, rtol=0, atol=1e-12)
    terms = [("XYZ", 0.5), ("IZI", -1.25), ("YIX", 0.3)]
    np.testing.assert_allclose(
        ds.expectation(state, terms), expected.expectation_value(SparsePauliOp.from_list(terms)), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(ds.probabilities(state, [2, 0]), expected.probabilities([2, 0]), rtol=0, atol=1e-12)
