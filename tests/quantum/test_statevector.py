"""Statevector simulation against Qiskit and the dense NumPy reference."""

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp
from qiskit.quantum_info import Statevector as QiskitStatevector

from conftest import APPENDABLE, haar_state, random_circuit, random_pauli_terms
from nextrl.quantum import Circuit, Parameter, PauliSum, Statevector
from reference import dense_simulator as ds

# Largest amplitude error allowed against an exact reference, per dtype.
ATOL = {np.complex128: 1e-10, np.complex64: 1e-5}
# Largest probability error allowed (sums of |a|^2 in double precision).
PROB_ATOL = {np.complex128: 1e-14, np.complex64: 1e-6}
DTYPES = [np.complex128, np.complex64]

# Circuit.to_qiskit triggers Qiskit >= 2.3's deprecation of Gate.control(annotated=None); that
# library issue has its own test (test_qiskit_bridge.py), so it does not fail every test here.
pytestmark = pytest.mark.filterwarnings("ignore:.*argument ``annotated`` is deprecated:DeprecationWarning")


def run(rc, dtype, init=None, fusion=True):
    sv = Statevector(rc.circuit.num_qubits, dtype) if init is None else Statevector.from_amplitudes(init, dtype)
    return sv.apply(rc.circuit, rc.params, fusion=fusion)


# ---------------------------------------------------------------------- random circuits
@pytest.mark.parametrize("num_qubits", range(1, 13))
def test_random_circuit_matches_qiskit(num_qubits, rng):
    rc = random_circuit(rng, num_qubits, num_gates=40)
    init = haar_state(rng, num_qubits)
    from_zero = QiskitStatevector(rc.qiskit()).data
    from_init = QiskitStatevector(init).evolve(rc.qiskit()).data
    for dtype in DTYPES:
        np.testing.assert_allclose(run(rc, dtype).amplitudes, from_zero, rtol=0, atol=ATOL[dtype])
        np.testing.assert_allclose(run(rc, dtype, init).amplitudes, from_init, rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("num_qubits", range(1, 9))
def test_random_circuit_matches_dense_reference(num_qubits, rng):
    rc = random_circuit(rng, num_qubits, num_gates=30 if num_qubits <= 6 else 15)
    init = haar_state(rng, num_qubits)
    expected = ds.simulate(num_qubits, rc.ops, rc.global_phase, initial=init)
    for dtype in DTYPES:
        np.testing.assert_allclose(run(rc, dtype, init).amplitudes, expected, rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("num_qubits", [1, 2, 5, 9, 12])
def test_expectation_of_random_pauli_sums_matches_qiskit(num_qubits, rng):
    rc = random_circuit(rng, num_qubits, num_gates=30)
    expected_state = QiskitStatevector(rc.qiskit())
    terms = random_pauli_terms(rng, num_qubits, 12)
    op = SparsePauliOp.from_list(terms)
    expected = expected_state.expectation_value(op).real
    for dtype in DTYPES:
        sv = run(rc, dtype)
        atol = ATOL[dtype] * sum(abs(c) for _, c in terms)
        for observable in (op, PauliSum(terms), terms):
            value = sv.expectation(observable)
            assert isinstance(value, float)
            np.testing.assert_allclose(value, expected, rtol=0, atol=atol)
        for label, _ in terms[:4]:  # single labels
            np.testing.assert_allclose(
                sv.expectation(label),
                expected_state.expectation_value(SparsePauliOp(label)).real,
                rtol=0,
                atol=ATOL[dtype],
            )


@pytest.mark.parametrize("num_qubits", [1, 3, 6])
def test_expectation_with_complex_coefficients_matches_dense_reference(num_qubits, rng):
    state = haar_state(rng, num_qubits)
    terms = random_pauli_terms(rng, num_qubits, 6, complex_coeffs=True)
    value = Statevector.from_amplitudes(state).expectation(terms)
    assert isinstance(value, complex)
    np.testing.assert_allclose(value, ds.expectation(state, terms), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "num_qubits, num_measured", [(1, 1), (4, 2), (7, 7), (9, 5), (12, 11), (12, 12), (14, 3), (14, 11)]
)
def test_probabilities_in_any_qubit_order_match_qiskit(num_qubits, num_measured, rng):
    state = haar_state(rng, num_qubits)
    expected_state = QiskitStatevector(state)
    for dtype in DTYPES:
        sv = Statevector.from_amplitudes(state, dtype)
        for _ in range(3):
            qubits = [int(q) for q in rng.permutation(num_qubits)[:num_measured]]
            np.testing.assert_allclose(
                sv.probabilities(qubits), expected_state.probabilities(qubits), rtol=0, atol=PROB_ATOL[dtype]
            )
    np.testing.assert_allclose(
        Statevector.from_amplitudes(state).probabilities(), expected_state.probabilities(), rtol=0, atol=1e-15
    )


def test_probabilities_match_dense_reference(rng):
    state = haar_state(rng, 5)
    sv = Statevector.from_amplitudes(state)
    for qubits in ([3], [4, 0], [1, 3, 2], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0]):
        np.testing.assert_allclose(sv.probabilities(qubits), ds.probabilities(state, qubits), rtol=0, atol=1e-15)
    np.testing.assert_allclose(sv.probabilities(2), ds.probabilities(state, [2]), rtol=0, atol=1e-15)


# ---------------------------------------------------------------------- single gates
@pytest.mark.parametrize("fusion", [True, False])
def test_every_gate_on_every_qubit_position(fusion, rng):
    """Each gate on low, middle and high qubits of a 13-qubit random state (positions in and
    beyond the kernel's local block), one circuit per gate."""
    n = 13
    init = haar_state(rng, n)
    for name, (k, num_angles) in APPENDABLE.items():
        c = Circuit(n)
        angles = [float(a) for a in rng.uniform(-np.pi, np.pi, size=num_angles)]
        for qubits in ([0, 1, 2], [12, 11, 10], [5, 12, 0], [11, 3, 7]):
            c.append(name, qubits[:k], angles)
        expected = QiskitStatevector(init).evolve(c.to_qiskit()).data
        actual = Statevector.from_amplitudes(init).apply(c, fusion=fusion).amplitudes
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12, err_msg=name)


def dense_unitary(rng, k):
    """A dense 2**k x 2**k unitary (every entry nonzero): a Kronecker product of Haar unitaries on
    at most 3 qubits each (scipy's Haar sampler is slow for 10 qubits)."""
    from scipy.stats import unitary_group

    u = np.ones((1, 1))
    while k > 0:
        m = min(k, 3)
        u, k = np.kron(u, unitary_group.rvs(2**m, random_state=rng)), k - m
    return u


@pytest.mark.parametrize("num_qubits, k", [(10, 10), (12, 10), (13, 7), (14, 4)])
def test_large_dense_unitary(num_qubits, k, rng):
    u = dense_unitary(rng, k)
    qubits = [int(q) for q in rng.permutation(num_qubits)[:k]]
    c = Circuit(num_qubits).unitary(u, qubits)
    init = haar_state(rng, num_qubits)
    expected = QiskitStatevector(init).evolve(c.to_qiskit()).data
    for fusion in (True, False):
        actual = Statevector.from_amplitudes(init).apply(c, fusion=fusion).amplitudes
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10)


def test_diagonal_and_permutation_unitaries(rng):
    """Dense unitaries that the plan may store as diagonals, merged with other one-qubit gates."""
    n = 6
    init = haar_state(rng, n)
    c = Circuit(n)
    c.unitary(np.diag(np.exp(1j * rng.uniform(0, 2 * np.pi, 4))), [4, 1])
    c.unitary(np.diag(np.exp(1j * rng.uniform(0, 2 * np.pi, 2))), [3])
    c.z(3).t(3).rz(0.3, 3)
    c.unitary(np.diag(np.exp(1j * rng.uniform(0, 2 * np.pi, 2))), [3])
    c.x(3).h(3)
    c.unitary(np.eye(8)[[3, 0, 7, 1, 2, 6, 4, 5]], [0, 5, 2])
    c.unitary(np.diag(np.exp(1j * rng.uniform(0, 2 * np.pi, 2))), [0], controls=[2, 5], ctrl_state="01")
    expected = QiskitStatevector(init).evolve(c.to_qiskit()).data
    for fusion in (True, False, 1, 2):
        actual = Statevector.from_amplitudes(init).apply(c, fusion=fusion).amplitudes
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


def mcx_reference(state, controls, target, ctrl_state):
    """X on `target` where bit i of ctrl_state equals the value of controls[i]: a permutation."""
    index = np.arange(len(state))
    active = np.all([(index >> c) & 1 == (ctrl_state >> i) & 1 for i, c in enumerate(controls)], axis=0)
    out = state.copy()
    out[active] = state[index[active] ^ (1 << target)]
    return out


@pytest.mark.parametrize("fusion", [True, False, 5])
def test_multi_controlled_x_with_eleven_controls(fusion, rng):
    n = 14
    init = haar_state(rng, n)
    gates = [
        ([13, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10], 1, 0b10110011101),
        (list(range(2, 13)), 0, 2**11 - 1),
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 13, 0),
    ]
    c, expected = Circuit(n), init
    for controls, target, state in gates:
        c.mcx(controls, target, ctrl_state=state)
        expected = mcx_reference(expected, controls, target, state)
    np.testing.assert_allclose(
        Statevector.from_amplitudes(init).apply(c, fusion=fusion).amplitudes, expected, rtol=0, atol=1e-15
    )


def test_ctrl_state_covers_extra_then_builtin_controls():
    """append's ctrl_state has one bit per control, extra controls first (Qiskit's combined
    ctrl_state of CXGate().control(1, ctrl_state=0) is 0b10)."""
    c = Circuit(3).append("cx", [1, 2], controls=[0], ctrl_state=0b10)
    sv = Statevector.from_label("010").apply(c)  # qubit 0 = 0 (extra, wants 0), qubit 1 = 1 (built-in, wants 1)
    np.testing.assert_allclose(sv.amplitudes, Statevector.from_label("110").amplitudes, rtol=0, atol=0)
    sv = Statevector.from_label("011").apply(c)  # extra control is 1: nothing happens
    np.testing.assert_allclose(sv.amplitudes, Statevector.from_label("011").amplitudes, rtol=0, atol=0)


# ---------------------------------------------------------------------- simple states
@pytest.mark.parametrize("dtype", DTYPES)
def test_bell_state(dtype):
    sv = Statevector(2, dtype).apply(Circuit(2).h(0).cx(0, 1))
    np.testing.assert_allclose(sv.amplitudes, np.array([1, 0, 0, 1]) / np.sqrt(2), rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(sv.probabilities(), [0.5, 0, 0, 0.5], rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(sv.expectation("ZZ"), 1.0, rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(sv.expectation("XX"), 1.0, rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(sv.expectation("YY"), -1.0, rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(sv.expectation("ZI"), 0.0, rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("num_qubits", [3, 10, 16])
def test_ghz_state(num_qubits):
    c = Circuit(num_qubits).h(0)
    for q in range(1, num_qubits):
        c.cx(q - 1, q)
    sv = Statevector(num_qubits).apply(c)
    expected = np.zeros(2**num_qubits)
    expected[[0, -1]] = 1 / np.sqrt(2)
    np.testing.assert_allclose(sv.amplitudes, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sv.expectation("X" * num_qubits), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sv.probabilities([num_qubits - 1, 0]), [0.5, 0, 0, 0.5], rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_is_preserved(dtype, rng):
    for n in (1, 4, 9, 14):
        rc = random_circuit(rng, n, num_gates=60)
        sv = Statevector(n, dtype)
        for _ in range(3):
            sv.apply(rc.circuit, rc.params)
            np.testing.assert_allclose(sv.norm(), 1.0, rtol=0, atol=1e-12 if dtype is np.complex128 else 1e-5)
            np.testing.assert_allclose(
                np.linalg.norm(sv.amplitudes.astype(np.complex128)), sv.norm(), rtol=1e-12, atol=0
            )


def test_global_phase_and_parameter_binding_forms():
    a, b = Parameter("a"), Parameter("b")
    c = Circuit(2).rx(a, 0).ry(2 * a + 0.1, 1).rzz(b / 2 - 0.3, 0, 1)
    c.global_phase = 0.5 - b
    assert c.parameters == (a, b)
    values = {"a": 0.4, "b": -1.3}
    qc = c.to_qiskit()
    expected = QiskitStatevector(qc.assign_parameters({p: values[p.name] for p in qc.parameters})).data
    for params in ([0.4, -1.3], np.array([0.4, -1.3]), values, {a: 0.4, b: -1.3}, {"a": 0.4, b: -1.3}):
        sv = Statevector(2).apply(c, params)
        np.testing.assert_allclose(sv.amplitudes, expected, rtol=0, atol=1e-12)
    # The same gates written with numbers.
    d = Circuit(2).rx(0.4, 0).ry(0.9, 1).rzz(-1.3 / 2 - 0.3, 0, 1)
    d.global_phase = 1.8
    np.testing.assert_allclose(Statevector(2).apply(d).amplitudes, expected, rtol=0, atol=1e-12)


def test_plan_is_recompiled_after_the_circuit_changes():
    c = Circuit(1).x(0)
    sv = Statevector(1).apply(c)
    np.testing.assert_allclose(sv.amplitudes, [0, 1], rtol=0, atol=0)
    c.x(0)
    np.testing.assert_allclose(Statevector(1).apply(c).amplitudes, [1, 0], rtol=0, atol=0)
    c.global_phase = np.pi / 2
    np.testing.assert_allclose(Statevector(1).apply(c).amplitudes, [1j, 0], rtol=0, atol=1e-15)
    copy = c.copy().h(0)
    assert len(copy) == 3 and len(c) == 2


# ---------------------------------------------------------------------- read-outs
@pytest.mark.parametrize("dtype", DTYPES)
def test_inner_and_fidelity_match_numpy(dtype, rng):
    for n in (1, 5, 15):
        a, b = haar_state(rng, n), haar_state(rng, n)
        sa, sb = Statevector.from_amplitudes(a, dtype), Statevector.from_amplitudes(b, dtype)
        a, b = sa.amplitudes.astype(np.complex128), sb.amplitudes.astype(np.complex128)
        atol = 1e-12 if dtype is np.complex128 else 1e-6
        np.testing.assert_allclose(sa.inner(sb), np.vdot(a, b), rtol=0, atol=atol)
        np.testing.assert_allclose(sb.inner(sa), np.vdot(b, a), rtol=0, atol=atol)
        np.testing.assert_allclose(sa.fidelity(sb), abs(np.vdot(a, b)) ** 2, rtol=0, atol=atol)
        np.testing.assert_allclose(sa.fidelity(sa), 1.0, rtol=0, atol=atol)
        np.testing.assert_allclose(sa.inner(sa), 1.0, rtol=0, atol=atol)


def test_inner_across_dtypes(rng):
    a, b = haar_state(rng, 4), haar_state(rng, 4)
    value = Statevector.from_amplitudes(a).inner(Statevector.from_amplitudes(b, np.complex64))
    np.testing.assert_allclose(value, np.vdot(a, b), rtol=0, atol=1e-6)


@pytest.mark.parametrize("label", ["0", "1", "+", "-", "r", "l", "01", "+-", "rl0", "01+-rl", "l1r0-+", "1100101"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_from_label_matches_qiskit(label, dtype):
    sv = Statevector.from_label(label, dtype)
    assert sv.dtype == dtype and sv.num_qubits == len(label)
    np.testing.assert_allclose(sv.amplitudes, QiskitStatevector.from_label(label).data, rtol=0, atol=ATOL[dtype] / 100)


def test_amplitudes_is_a_read_only_zero_copy_view():
    sv = Statevector(3)
    view = sv.amplitudes
    assert not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 0
    sv.apply(Circuit(3).x(2))
    np.testing.assert_allclose(view, np.eye(8)[4], rtol=0, atol=0)  # the view follows the state
    assert np.shares_memory(view, sv.amplitudes)


def test_reset_copy_and_qiskit_conversion(rng):
    init = haar_state(rng, 4)
    sv = Statevector.from_amplitudes(init)
    other = sv.copy()
    sv.reset()
    np.testing.assert_allclose(sv.amplitudes, np.eye(16)[0], rtol=0, atol=0)
    np.testing.assert_allclose(other.amplitudes, init, rtol=0, atol=0)
    q = other.to_qiskit()
    assert isinstance(q, QiskitStatevector)
    np.testing.assert_allclose(q.data, init, rtol=0, atol=0)
    back = Statevector.from_qiskit(q, np.complex64)
    assert back.dtype == np.complex64
    np.testing.assert_allclose(back.amplitudes, init, rtol=0, atol=1e-7)


def test_from_amplitudes_copies_and_infers_dtype(rng):
    init = haar_state(rng, 3)
    assert Statevector.from_amplitudes(init, np.complex64).dtype == np.complex64
    sv = Statevector.from_amplitudes(init)
    init[0] = 5
    assert sv.amplitudes[0] != 5 and sv.dtype == np.complex128
    real = Statevector.from_amplitudes(np.array([0.6, 0.8]))
    assert real.dtype == np.complex128
    np.testing.assert_allclose(real.amplitudes, [0.6, 0.8], rtol=0, atol=0)


def test_from_amplitudes_accepts_complex64_states_that_nextrl_produced(rng):
    """complex64 states carry norm errors ~1e-7, above the double-precision tolerance 1e-8:
    single-precision input is checked with its own tolerance (regression test)."""
    rc = random_circuit(rng, 8, num_gates=40)
    sv = Statevector(8, np.complex64).apply(rc.circuit, rc.params)
    assert abs(sv.norm() - 1) < 1e-6
    copy = Statevector.from_amplitudes(sv.amplitudes)
    assert copy.dtype == np.complex64
    np.testing.assert_array_equal(copy.amplitudes, sv.amplitudes)


def test_random_circuits_cover_the_whole_gate_set(rng):
    """The random-circuit helper reaches every gate, extra controls with non-default
    ctrl_state, Parameters, affine expressions and a symbolic global phase."""
    from nextrl.quantum import ParameterExpression

    names, open_controls, angle_kinds, phase_kinds = set(), 0, set(), set()
    for _ in range(40):
        rc = random_circuit(rng, 5, num_gates=40)
        for ins in rc.circuit:
            names.add(ins.name)
            open_controls += bool(ins.controls) and ins.ctrl_state != 2 ** len(ins.controls) - 1
            angle_kinds.update(type(p).__name__ for p in ins.params)
        phase_kinds.add(type(rc.circuit.global_phase).__name__)
    assert names == set(APPENDABLE) | {"unitary"}
    assert open_controls > 50
    assert angle_kinds == {"float", Parameter.__name__, ParameterExpression.__name__}
    assert phase_kinds == {"float", Parameter.__name__, ParameterExpression.__name__}
