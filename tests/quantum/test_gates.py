"""The C++ gate table (csrc/quantum/gates.h) as Python reads it: names and sizes against
Qiskit's standard gates, matrices against Qiskit's gate classes, derivatives against central
finite differences, and each generator against the matrix it generates."""

import numpy as np
import pytest
from qiskit.circuit.library import GlobalPhaseGate
from qiskit.circuit.library.standard_gates import get_standard_gate_name_mapping
from qiskit.quantum_info import Operator
from scipy.linalg import expm

from nextrl import _core
from nextrl.quantum import gates

QISKIT = get_standard_gate_name_mapping()
PARAMETRIC = sorted(n for n, g in gates.BASE_GATES.items() if g.num_params and n != "global_phase")
ANGLES = (0.37, -1.21, 2.05)


def _angles(name):
    return list(ANGLES[: gates.BASE_GATES[name].num_params])


def _controlled(u: np.ndarray, num_controls: int) -> np.ndarray:
    """Qiskit's controlled gate on (controls..., targets...): controls are the low bits."""
    c = 1 << num_controls
    on = np.zeros((c, c))
    on[-1, -1] = 1.0
    return np.kron(u, on) + np.kron(np.eye(u.shape[0]), np.eye(c) - on)


def test_table_rows_are_the_gate_kinds_in_order():
    rows = _core.gate_table()
    assert [r["kind"] for r in rows] == list(range(len(rows))) == sorted(gates.KIND.values())
    assert len({r["name"] for r in rows}) == len(rows) == 23
    assert gates.KIND["rx"] == 11 and gates.KIND["unitary"] == 21 and gates.KIND["global_phase"] == 22
    for r in rows:
        g = gates.BASE_GATES[r["name"]]
        assert (g.kind, g.num_targets, g.num_params, g.cls) == (r["kind"], r["num_targets"], r["num_params"], r["cls"])
        assert len(g.generators) == g.num_params


@pytest.mark.parametrize("name", sorted(gates.GATES))
def test_every_python_gate_name_matches_cpp_table_and_qiskit(name):
    spec = gates.GATES[name]
    base = gates.BASE_GATES[spec.base]
    assert (spec.num_targets, spec.num_params) == (base.num_targets, base.num_params)
    qgate = QISKIT[name]  # the same name in Qiskit's standard gate set
    assert qgate.num_qubits == spec.num_controls + spec.num_targets
    assert len(qgate.params) == spec.num_params
    assert getattr(qgate, "num_ctrl_qubits", 0) == spec.num_controls


@pytest.mark.parametrize("name", sorted(gates.GATES))
def test_matrix_matches_qiskit_gate_class(name):
    spec = gates.GATES[name]
    angles = list(ANGLES[: spec.num_params])
    mine = _controlled(gates.gate_matrix(spec.base, angles), spec.num_controls)
    qgate = QISKIT[name]
    want = Operator(type(qgate)(*angles)).data  # the gate class itself, with numeric angles
    np.testing.assert_allclose(mine, want, rtol=0, atol=1e-12)


def test_global_phase_matrix_matches_qiskit():
    np.testing.assert_allclose(
        gates.gate_matrix("global_phase", [0.8]), Operator(GlobalPhaseGate(0.8)).data, rtol=0, atol=1e-12
    )


def test_class_matches_matrix_structure():
    rng = np.random.default_rng(0)
    for name, g in gates.BASE_GATES.items():
        if name == "unitary":
            continue
        m = gates.gate_matrix(name, list(rng.uniform(-3, 3, g.num_params)))
        nonzero = np.abs(m) > 1e-12
        diagonal = not np.any(nonzero & ~np.eye(len(m), dtype=bool))
        monomial = bool(np.all(nonzero.sum(axis=1) == 1))
        assert g.cls == ("diagonal" if diagonal else "monomial" if monomial else "dense"), name


@pytest.mark.parametrize("name", PARAMETRIC + ["global_phase"])
def test_derivative_matches_central_differences(name):
    g = gates.BASE_GATES[name]
    a = np.array(ANGLES[: g.num_params])
    h = 1e-5
    for j in range(g.num_params):
        e = np.eye(g.num_params)[j] * h
        fd = (gates.gate_matrix(name, list(a + e)) - gates.gate_matrix(name, list(a - e))) / (2 * h)
        np.testing.assert_allclose(gates.gate_derivative(name, list(a), j), fd, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", PARAMETRIC + ["global_phase"])
def test_generator_generates_the_gate(name):
    """i U^dagger dU/da = W^dagger G W for U = V exp(-i a G) W: Hermitian with G's spectrum; for
    one-angle gates V = W = 1, so U(a) = exp(-i a G) exactly."""
    g = gates.BASE_GATES[name]
    a = list(ANGLES[: g.num_params])
    u = gates.gate_matrix(name, a)
    for j in range(g.num_params):
        G = gates.gate_generator(name, j)
        np.testing.assert_allclose(G, G.conj().T, rtol=0, atol=0)
        h = 1j * u.conj().T @ gates.gate_derivative(name, a, j)
        np.testing.assert_allclose(h, h.conj().T, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.eigvalsh(h), np.linalg.eigvalsh(G), rtol=0, atol=1e-12)
    if g.num_params == 1:
        np.testing.assert_allclose(u, expm(-1j * a[0] * gates.gate_generator(name)), rtol=0, atol=1e-12)


def test_gate_table_errors():
    with pytest.raises(ValueError, match=r"gate_matrix: base must be one of .*, got 'foo'"):
        gates.gate_matrix("foo")
    with pytest.raises(ValueError, match="gate_matrix: base must be one of"):
        gates.gate_matrix("unitary")
    with pytest.raises(TypeError, match="gate_matrix: base must be a gate name"):
        gates.gate_matrix(11, [0.1])
    with pytest.raises(ValueError, match=r"gate_matrix: angles must have 1 entries for 'rx', got 2"):
        gates.gate_matrix("rx", [0.1, 0.2])
    with pytest.raises(TypeError, match="gate_matrix: angles must be real numbers, got str"):
        gates.gate_matrix("rx", ["a"])
    with pytest.raises(IndexError, match=r"gate_derivative: which must be in \[0, 3\) for 'u', got 3"):
        gates.gate_derivative("u", [0.1, 0.2, 0.3], 3)
    with pytest.raises(TypeError, match="gate_derivative: which must be an int, got float"):
        gates.gate_derivative("rx", [0.1], 0.0)
    with pytest.raises(IndexError, match=r"gate_generator: which must be in \[0, 0\) for 'h', got 0"):
        gates.gate_generator("h")
    with pytest.raises(TypeError, match="gate_generator: which must be an int, got str"):
        gates.gate_generator("rx", "0")
    # The C++ entry points check what they are given.
    with pytest.raises(ValueError, match=r"gate_matrix: kind must be in \[0, 23\), got 99"):
        _core.gate_matrix(99, [])
    with pytest.raises(ValueError, match=r"gate_matrix: kind must be in \[0, 23\), got -1"):
        _core.gate_matrix(-1, [])
    with pytest.raises(ValueError, match="gate_derivative: kind must be a gate with a fixed matrix, got 'unitary'"):
        _core.gate_derivative(21, [], 0)
    with pytest.raises(ValueError, match=r"gate_matrix: angles must have 3 entries for 'u', got 1"):
        _core.gate_matrix(15, [0.1])
    with pytest.raises(IndexError, match=r"gate_derivative: which must be in \[0, 1\) for 'rz', got -1"):
        _core.gate_derivative(13, [0.1], -1)
