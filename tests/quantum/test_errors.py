"""Every user-reachable error of the statevector simulator: type and message."""

import re
import tracemalloc

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter as QiskitParameter
from qiskit.circuit.library import QFTGate
from qiskit.quantum_info import SparsePauliOp

import nextrl
from nextrl.quantum import Circuit, Parameter, PauliSum, Statevector, from_qiskit


# ------------------------------------------------------------------------------ Circuit
@pytest.mark.parametrize(
    "num_qubits, error, match",
    [
        (0, ValueError, r"Circuit: num_qubits must be in \[1, 62\], got 0"),
        (63, ValueError, r"Circuit: num_qubits must be in \[1, 62\], got 63"),
        (2.0, TypeError, "Circuit: num_qubits must be an int, got float"),
        (True, TypeError, "Circuit: num_qubits must be an int, got bool"),
    ],
)
def test_circuit_size(num_qubits, error, match):
    with pytest.raises(error, match=match):
        Circuit(num_qubits)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda c: c.h(3), "Circuit.h: qubit 3 out of range for 3 qubits"),
        (lambda c: c.x(-1), "Circuit.x: qubit -1 out of range for 3 qubits"),
        (lambda c: c.cx(0, 3), "Circuit.cx: qubit 3 out of range for 3 qubits"),
        (lambda c: c.rzz(0.1, 5, 0), "Circuit.rzz: qubit 5 out of range for 3 qubits"),
        (lambda c: c.mcx([0, 7], 1), "Circuit.x: qubit 7 out of range for 3 qubits"),
        (lambda c: c.unitary(np.eye(2), [3]), "Circuit.unitary: qubit 3 out of range for 3 qubits"),
        (lambda c: c.append("h", [0], controls=[4]), "Circuit.h: qubit 4 out of range for 3 qubits"),
    ],
)
def test_out_of_range_qubits(build, match):
    with pytest.raises(IndexError, match=match):
        build(Circuit(3))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda c: c.cx(1, 1), re.escape("Circuit.cx: qubits must be distinct, got [1, 1]")),
        (lambda c: c.swap(2, 2), re.escape("Circuit.swap: qubits must be distinct, got [2, 2]")),
        (lambda c: c.ccx(0, 1, 0), re.escape("Circuit.ccx: qubits must be distinct, got [0, 1, 0]")),
        (lambda c: c.cswap(0, 1, 1), re.escape("Circuit.cswap: qubits must be distinct, got [0, 1, 1]")),
        (lambda c: c.mcx([0, 1], 1), re.escape("Circuit.x: qubits must be distinct, got [0, 1, 1]")),
        (lambda c: c.append("rx", [2], [0.1], controls=[2]), re.escape("Circuit.rx: qubits must be distinct")),
        (lambda c: c.unitary(np.eye(4), [0, 0]), re.escape("Circuit.unitary: qubits must be distinct, got [0, 0]")),
    ],
)
def test_repeated_qubits(build, match):
    with pytest.raises(ValueError, match=match):
        build(Circuit(3))


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda c: c.h(0.0), TypeError, "Circuit.h: qubit must be an int, got float"),
        (lambda c: c.h(True), TypeError, "Circuit.h: qubit must be an int, got bool"),
        (lambda c: c.append("toffoli", [0, 1, 2]), ValueError, "Circuit.append: unknown gate 'toffoli'; known: "),
        (lambda c: c.append("ecr", [0, 1]), ValueError, "Circuit.append: unknown gate 'ecr'"),
        (lambda c: c.append("cx", [0]), ValueError, "Circuit.cx: needs 2 qubits, got 1"),
        (lambda c: c.append("rx", [0]), ValueError, "Circuit.rx: needs 1 angles, got 0"),
        (lambda c: c.append("u", [0], [0.1, 0.2]), ValueError, "Circuit.u: needs 3 angles, got 2"),
        (
            lambda c: c.append("x", [0], controls=[1, 2], ctrl_state=4),
            ValueError,
            re.escape("Circuit.x: ctrl_state must be in [0, 4), got 4"),
        ),
        (
            lambda c: c.append("x", [0], controls=[1], ctrl_state=-1),
            ValueError,
            re.escape("Circuit.x: ctrl_state must be in [0, 2), got -1"),
        ),
        (
            lambda c: c.mcx([1, 2], 0, ctrl_state="1"),
            ValueError,
            "Circuit.x: ctrl_state must be a bit string of length 2, got '1'",
        ),
        (
            lambda c: c.mcx([1, 2], 0, ctrl_state="12"),
            ValueError,
            "Circuit.x: ctrl_state must be a bit string of length 2, got '12'",
        ),
        (
            lambda c: c.append("cx", [1, 0], controls=[2], ctrl_state="1"),
            ValueError,
            "Circuit.cx: ctrl_state must be a bit string of length 2, got '1'",
        ),
        (
            lambda c: c.append("rx", [0], 0.3),
            TypeError,
            re.escape("Circuit.append: params must be a sequence (e.g. [0.3]), got float 0.3"),
        ),
        (
            lambda c: c.append("x", 0),
            TypeError,
            re.escape("Circuit.append: qubits must be a sequence (e.g. [0]), got int 0"),
        ),
        (
            lambda c: c.append("x", [0], controls=[1], ctrl_state=1.5),
            TypeError,
            "Circuit.x: ctrl_state must be an int or a bit string, got float 1.5",
        ),
        (
            lambda c: c.append("x", [0], controls=[1], ctrl_state=True),
            TypeError,
            "Circuit.x: ctrl_state must be an int or a bit string, got bool True",
        ),
    ],
)
def test_bad_gate_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build(Circuit(3))


@pytest.mark.parametrize(
    "angle, error, match",
    [
        (float("nan"), ValueError, "Circuit.rx: angle must be finite, got nan"),
        (float("inf"), ValueError, "Circuit.rx: angle must be finite, got inf"),
        (-np.inf, ValueError, "Circuit.rx: angle must be finite, got -inf"),
        (1j, TypeError, "Circuit.rx: angle must be a real number or a Parameter, got complex"),
        ("0.5", TypeError, "Circuit.rx: angle must be a real number or a Parameter, got str"),
        (True, TypeError, "Circuit.rx: angle must be a real number or a Parameter, got bool"),
    ],
)
def test_bad_angles(angle, error, match):
    with pytest.raises(error, match=match):
        Circuit(1).rx(angle, 0)


def test_bad_angles_in_other_places():
    with pytest.raises(ValueError, match="Circuit.u: angle must be finite, got nan"):
        Circuit(1).u(0.1, np.nan, 0.2, 0)
    with pytest.raises(ValueError, match="Circuit.crz: angle must be finite, got inf"):
        Circuit(2).crz(np.inf, 0, 1)
    with pytest.raises(ValueError, match="Circuit.global_phase: angle must be finite, got nan"):
        Circuit(1).global_phase = np.nan


@pytest.mark.parametrize("expression", ["p + nan", "inf * p"])
def test_non_finite_parameter_expression_is_rejected(expression):
    """A NaN or infinite scale/offset is refused when the expression is built (it would
    otherwise give NaN amplitudes)."""
    p = Parameter("p")
    c = Circuit(1)
    with pytest.raises(ValueError, match="finite"):
        angle = {"p + nan": lambda: p + float("nan"), "inf * p": lambda: float("inf") * p}[expression]()
        c.rx(angle, 0)
        Statevector(1).apply(c, [0.5])  # if accepted, at least running must refuse: it gives NaN


def test_parameters():
    with pytest.raises(TypeError, match="Parameter: name must be a non-empty str, got ''"):
        Parameter("")
    with pytest.raises(TypeError, match="Parameter: name must be a non-empty str, got 3"):
        Parameter(3)
    p = Parameter("p")
    with pytest.raises(TypeError, match=r"ParameterExpression: \* needs a real number, got str"):
        p * "2"
    with pytest.raises(TypeError, match=r"ParameterExpression: \+ needs a real number, got Parameter"):
        p + Parameter("q")


# ------------------------------------------------------------------------------ unitary
@pytest.mark.parametrize(
    "matrix, qubits, error, match",
    [
        (
            np.array([[1, 1], [0, 1]]),
            [0],
            ValueError,
            r"Circuit.unitary: matrix must be unitary, got max \|U\^dag U - I\| = 1",
        ),
        (2 * np.eye(2), [0], ValueError, "Circuit.unitary: matrix must be unitary"),
        (
            np.eye(4),
            [0],
            ValueError,
            re.escape("Circuit.unitary: matrix must have shape (2, 2) for 1 qubits, got (4, 4)"),
        ),
        (
            np.eye(2),
            [0, 1],
            ValueError,
            re.escape("Circuit.unitary: matrix must have shape (4, 4) for 2 qubits, got (2, 2)"),
        ),
        (
            np.ones(4),
            [0, 1],
            ValueError,
            re.escape("Circuit.unitary: matrix must have shape (4, 4) for 2 qubits, got (4,)"),
        ),
        (np.full((2, 2), np.nan), [0], ValueError, "Circuit.unitary: matrix must be finite"),
        (np.eye(2), [], ValueError, "Circuit.unitary: must act on 1 to 10 qubits, got 0"),
        (np.eye(2**11), list(range(11)), ValueError, "Circuit.unitary: must act on 1 to 10 qubits, got 11"),
        (np.array([["a", "b"], ["c", "d"]]), [0], TypeError, "Circuit.unitary: matrix must be numeric, got dtype <U1"),
    ],
)
def test_bad_unitaries(matrix, qubits, error, match):
    with pytest.raises(error, match=match):
        Circuit(12).unitary(matrix, qubits)


def test_unitary_tolerance_is_configurable():
    nearly = np.eye(2) * (1 + 1e-7)
    with pytest.raises(ValueError, match="Circuit.unitary: matrix must be unitary"):
        Circuit(1).unitary(nearly, [0])
    Circuit(1).unitary(nearly, [0], atol=1e-6)


# ------------------------------------------------------------------------------ binding
def test_bind_errors():
    a, b = Parameter("a"), Parameter("b")
    c = Circuit(2).rx(a, 0).ry(2 * b + 1, 1)
    with pytest.raises(ValueError, match=re.escape("Circuit.bind: unbound parameters ['a', 'b']")):
        c.bind()
    with pytest.raises(ValueError, match=re.escape("Circuit.bind: unbound parameters ['b']")):
        c.bind({"a": 1.0})
    with pytest.raises(ValueError, match=re.escape("Circuit.bind: unknown parameter 'c'; circuit has ['a', 'b']")):
        c.bind({"a": 1.0, "b": 2.0, "c": 3.0})
    with pytest.raises(ValueError, match="Circuit.bind: unknown parameter 'a'"):  # same name, other Parameter
        c.bind({Parameter("a"): 1.0, b: 2.0})
    with pytest.raises(ValueError, match=re.escape("Circuit.bind: params must have shape (2,), got (3,)")):
        c.bind([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=re.escape("Circuit.bind: params must have shape (2,), got (1, 2)")):
        c.bind([[1.0, 2.0]])
    with pytest.raises(TypeError, match="Circuit.bind: params must be real numbers, got dtype complex128"):
        c.bind([1.0, 2j])
    with pytest.raises(TypeError, match="Circuit.bind: params must be real numbers, got dtype <U"):
        c.bind(["a", "b"])
    with pytest.raises(ValueError, match="Circuit.bind: params must be finite"):
        c.bind([1.0, np.nan])
    with pytest.raises(ValueError, match="Circuit.bind: params must be finite"):
        c.bind({"a": np.inf, "b": 0.0})
    with pytest.raises(ValueError, match=re.escape("Circuit.bind: unbound parameters ['a', 'b']")):
        Statevector(2).apply(c)  # no values for a parameterized circuit
    with pytest.raises(ValueError, match=re.escape("Circuit.bind: params must have shape (0,), got (1,)")):
        Statevector(1).apply(Circuit(1).h(0), [0.3])


# ------------------------------------------------------------------------------ compile and the C++ plan
@pytest.mark.parametrize("fusion", [13, -1, "yes", 2.5, None])
def test_bad_fusion(fusion):
    with pytest.raises(
        ValueError, match=re.escape(f"Circuit.compile: fusion must be a bool or an int in [0, 12], got {fusion!r}")
    ):
        Circuit(2).h(0).compile(fusion)


def test_gate_on_too_many_qubits_is_refused_by_the_plan():
    c = Circuit(13).mcx(list(range(12)), 12)  # 13 qubits in one gate; the kernels take at most 12
    with pytest.raises(ValueError, match="Plan: op 0 acts on more than 12 qubits"):
        c.compile()
    with pytest.raises(ValueError, match="Plan: op 0 acts on more than 12 qubits"):
        Statevector(13).apply(c)


@pytest.mark.parametrize(
    "state, error, match",
    [
        (np.zeros(8, np.float64), TypeError, "Plan.run: state must have dtype complex64 or complex128, got float64"),
        (
            np.zeros(8, np.complex256) if hasattr(np, "complex256") else np.zeros(8, np.int64),
            TypeError,
            "Plan.run: state must have dtype complex64 or complex128, got ",
        ),
        (np.zeros(16, np.complex128)[::2], TypeError, "Plan.run: state must be C-contiguous"),
        (np.zeros((2, 4), np.complex128), ValueError, "Plan.run: state must be 1-D, got 2 dimensions"),
        (np.zeros(6, np.complex64), ValueError, "Plan.run: state length must be a power of two >= 2, got 6"),
        (np.zeros(16, np.complex128), ValueError, r"Plan.run: state must have 2\^3 amplitudes, got 2\^4"),
        (Statevector(3).amplitudes, ValueError, "Plan.run: state must be writeable"),
    ],
)
def test_plan_run_refuses_bad_state_arrays(state, error, match):
    plan = Circuit(3).h(0).compile()
    with pytest.raises(error, match=match):
        plan.run(state, np.zeros(0))


def test_plan_run_refuses_lists_and_bad_params():
    plan = Circuit(2).rx(Parameter("a"), 0).compile()
    with pytest.raises(TypeError, match="incompatible function arguments"):
        plan.run([1, 0, 0, 0], np.zeros(1))  # never silently copied
    with pytest.raises(ValueError, match=re.escape("Plan.run: params must have shape (1,), got size 2")):
        plan.run(np.zeros(4, np.complex128), np.zeros(2))


def test_plan_isa():
    plan = Circuit(2).h(0).compile()
    with pytest.raises(ValueError, match="isa: must be 'generic', 'avx2' or 'avx512', got 'sse'"):
        plan.isa = "sse"
    if nextrl.build_info()["simd"] != "avx512":
        with pytest.raises(ValueError, match="isa: must be one this CPU and build support"):
            plan.isa = "avx512"


def test_core_read_outs_check_their_arrays():
    core = nextrl._core
    with pytest.raises(TypeError, match="norm_squared: state must have dtype complex64 or complex128, got float64"):
        core.norm_squared(np.zeros(4))
    with pytest.raises(TypeError, match="inner: states must have the same dtype, got complex64 and complex128"):
        core.inner(np.zeros(4, np.complex64), np.zeros(4, np.complex128))
    with pytest.raises(ValueError, match="inner: states must have the same length"):
        core.inner(np.zeros(4, np.complex128), np.zeros(8, np.complex128))
    with pytest.raises(IndexError, match="probabilities: qubit 2 out of range for 2 qubits"):
        core.probabilities(np.zeros(4, np.complex128), [2])
    with pytest.raises(ValueError, match="probabilities: qubit 0 appears twice"):
        core.probabilities(np.zeros(4, np.complex128), [0, 0])
    with pytest.raises(IndexError, match="pauli_expectation: term 0 acts on a qubit >= 2"):
        core.pauli_expectation(np.zeros(4, np.complex128), [4], [0], [1.0])
    with pytest.raises(ValueError, match="pauli_expectation: x, z and coeffs must have the same length"):
        core.pauli_expectation(np.zeros(4, np.complex128), [1], [0, 1], [1.0])
    with pytest.raises(ValueError, match="measure: state must be writeable"):
        core.measure(Statevector(2).amplitudes, 0, 1)
    with pytest.raises(IndexError, match="measure: qubit 2 out of range for 2 qubits"):
        core.measure(np.array([1, 0, 0, 0], np.complex128), 2, 1)
    with pytest.raises(ValueError, match="sample: probabilities must be 1-D"):
        core.sample_probabilities(np.zeros(0), 3, 1)


# ------------------------------------------------------------------------------ Statevector
@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((3,), {"dtype": np.float64}, TypeError, "Statevector: dtype must be complex64 or complex128, got float64"),
        (
            (3,),
            {"dtype": np.complex256 if hasattr(np, "complex256") else np.int8},
            TypeError,
            "Statevector: dtype must be complex64 or complex128, got ",
        ),
        ((3,), {"dtype": "banana"}, TypeError, "Statevector: dtype must be complex64 or complex128, got 'banana'"),
        ((0,), {}, ValueError, r"Statevector: num_qubits must be in \[1, 62\], got 0"),
        ((63,), {}, ValueError, r"Statevector: num_qubits must be in \[1, 62\], got 63"),
        ((2.5,), {}, TypeError, "Statevector: num_qubits must be an int, got float"),
    ],
)
def test_statevector_construction(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        Statevector(*args, **kwargs)


@pytest.mark.parametrize("dtype, nbytes", [(np.complex128, 16 * 2**40), (np.complex64, 8 * 2**40)])
def test_state_too_large_for_memory(dtype, nbytes):
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match=f"Statevector: 40 qubits in {np.dtype(dtype)} need {nbytes} bytes"):
            Statevector(40, dtype)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # refused before allocating anything
    with pytest.raises(
        MemoryError, match=f"Statevector.from_label: 40 qubits in {np.dtype(dtype)} need {nbytes} bytes"
    ):
        Statevector.from_label("0" * 40, dtype)


@pytest.mark.parametrize(
    "amplitudes, kwargs, error, match",
    [
        (
            [1, 0, 0],
            {},
            ValueError,
            re.escape(
                "Statevector.from_amplitudes: amplitudes must be 1-D with a power-of-two length >= 2, got shape (3,)"
            ),
        ),
        (
            [1],
            {},
            ValueError,
            "Statevector.from_amplitudes: amplitudes must be 1-D with a power-of-two length >= 2, got shape",
        ),
        (
            np.eye(2),
            {},
            ValueError,
            re.escape(
                "Statevector.from_amplitudes: amplitudes must be 1-D with a power-of-two length >= 2, got shape (2, 2)"
            ),
        ),
        ([1, np.nan], {}, ValueError, "Statevector.from_amplitudes: amplitudes must be finite"),
        (
            [1, 1],
            {},
            ValueError,
            r"Statevector.from_amplitudes: amplitudes must have norm 1 \(atol 1e-08\), got 1.41421356237",
        ),
        ([0.6, 0.8001], {"atol": 1e-6}, ValueError, r"must have norm 1 \(atol 1e-06\), got 1.00008"),
        (np.array([1, 0.01], np.complex64), {}, ValueError, r"must have norm 1 \(atol 1e-05\), got 1.0000499"),
        (["a", "b"], {}, TypeError, "Statevector.from_amplitudes: amplitudes must be numeric, got dtype <U1"),
        (
            [1, 0],
            {"dtype": np.float32},
            TypeError,
            "Statevector.from_amplitudes: dtype must be complex64 or complex128, got float32",
        ),
    ],
)
def test_bad_amplitudes(amplitudes, kwargs, error, match):
    with pytest.raises(error, match=match):
        Statevector.from_amplitudes(np.array(amplitudes), **kwargs)


@pytest.mark.parametrize("label", ["", "012", "0x", "+ -", "R"])
def test_bad_labels(label):
    with pytest.raises(
        ValueError, match="Statevector.from_label: label must be a non-empty string over '01\\+-rl', got"
    ):
        Statevector.from_label(label)
    with pytest.raises(ValueError, match="Statevector.from_label: label must be a non-empty string"):
        Statevector.from_label(5)


def test_apply_errors():
    with pytest.raises(ValueError, match="Statevector.apply: circuit has 2 qubits, state has 3"):
        Statevector(3).apply(Circuit(2).h(0))
    qc = QuantumCircuit(3)
    with pytest.raises(
        TypeError, match="Statevector.apply: circuit must be a nextrl.quantum.Circuit, got QuantumCircuit"
    ):
        Statevector(3).apply(qc)
    with pytest.raises(ValueError, match="Circuit.compile: fusion must be"):
        Statevector(3).apply(Circuit(3), fusion=20)


@pytest.mark.parametrize(
    "observable, error, match",
    [
        ("XYQ", ValueError, "PauliSum: label must be a non-empty string over 'IXYZ', got 'XYQ'"),
        ("xyz", ValueError, "PauliSum: label must be a non-empty string over 'IXYZ', got 'xyz'"),
        ("", ValueError, "PauliSum: label must be a non-empty string over 'IXYZ', got ''"),
        ("XY", ValueError, "Statevector.expectation: observable has 2 qubits, state has 3"),
        ("XYZI", ValueError, "Statevector.expectation: observable has 4 qubits, state has 3"),
        ([("XYZ", 1.0), ("XY", 2.0)], ValueError, "PauliSum: all labels must have length 3, got 'XY'"),
        ([], ValueError, "PauliSum: needs at least one term"),
        ([("XYZ", "1")], TypeError, "PauliSum: coefficient must be a number, got str"),
        ([(3, 1.0)], TypeError, "PauliSum: label must be a str, got int"),
        (
            [("ZZZ",)],
            ValueError,
            re.escape("PauliSum: each term must be a (label, coeff) pair, e.g. ('ZZ', 1.0), got ('ZZZ',)"),
        ),
        (
            ["ZZZ"],
            ValueError,
            re.escape("PauliSum: each term must be a (label, coeff) pair, e.g. ('ZZ', 1.0), got 'ZZZ'"),
        ),
        ([("ZAZ", 1.0)], ValueError, "PauliSum: label must be a non-empty string over 'IXYZ', got 'ZAZ'"),
        ([("ZZZ", None)], TypeError, "PauliSum: coefficient must be a number, got NoneType"),
        ([("ZZZ", True)], TypeError, "PauliSum: coefficient must be a number, got bool"),
        ([("ZZZ", float("nan"))], ValueError, "PauliSum: coefficient of 'ZZZ' must be finite, got nan"),
        ([("ZZZ", complex(1, float("inf")))], ValueError, "PauliSum: coefficient of 'ZZZ' must be finite"),
        (
            {"ZZZ": 1.0},
            TypeError,
            "observable must be a Pauli label, a PauliSum, a list of \\(label, coeff\\) or a SparsePauliOp, got dict",
        ),
        (
            np.eye(8),
            TypeError,
            "observable must be a Pauli label, a PauliSum, a list of \\(label, coeff\\) or a SparsePauliOp, "
            "got ndarray",
        ),
        (SparsePauliOp("XX"), ValueError, "Statevector.expectation: observable has 2 qubits, state has 3"),
    ],
)
def test_bad_observables(observable, error, match):
    with pytest.raises(error, match=match):
        Statevector(3).expectation(observable)


def test_pauli_sum_constructor_errors():
    with pytest.raises(ValueError, match="PauliSum: needs at least one term"):
        PauliSum([])
    with pytest.raises(ValueError, match="PauliSum: label must be a non-empty string over 'IXYZ', got 'AB'"):
        PauliSum.from_label("AB")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda sv: sv.probabilities([3]), IndexError, "Statevector.probabilities: qubit 3 out of range for 3 qubits"),
        (lambda sv: sv.probabilities(-1), IndexError, "Statevector.probabilities: qubit -1 out of range for 3 qubits"),
        (
            lambda sv: sv.probabilities([0, 2, 0]),
            ValueError,
            re.escape("Statevector.probabilities: qubits must be distinct, got [0, 2, 0]"),
        ),
        (lambda sv: sv.probabilities([0.5]), TypeError, "Statevector.probabilities: qubit must be an int, got float"),
        (lambda sv: sv.sample(-1), ValueError, "Statevector.sample: shots must be a non-negative int, got -1"),
        (lambda sv: sv.sample(2.5), ValueError, "Statevector.sample: shots must be a non-negative int, got 2.5"),
        (lambda sv: sv.sample(True), ValueError, "Statevector.sample: shots must be a non-negative int, got True"),
        (lambda sv: sv.sample(10, seed=-1), ValueError, r"Statevector.sample: seed must be in \[0, 2\*\*64\), got -1"),
        (
            lambda sv: sv.sample(10, seed=2**64),
            ValueError,
            r"Statevector.sample: seed must be in \[0, 2\*\*64\), got 18446744073709551616",
        ),
        (
            lambda sv: sv.sample(10, seed=1.5),
            TypeError,
            "Statevector.sample: seed must be an int or None, got float 1.5",
        ),
        (
            lambda sv: sv.sample(10, seed="7"),
            TypeError,
            "Statevector.sample: seed must be an int or None, got str '7'",
        ),
        (
            lambda sv: sv.sample(10, seed=True),
            TypeError,
            "Statevector.sample: seed must be an int or None, got bool True",
        ),
        (lambda sv: sv.sample(10, qubits=[4]), IndexError, "Statevector.sample: qubit 4 out of range for 3 qubits"),
        (
            lambda sv: sv.sample_counts(10, qubits=[4]),
            IndexError,
            "Statevector.sample_counts: qubit 4 out of range for 3 qubits",
        ),
        (lambda sv: sv.sample_counts(-5), ValueError, "Statevector.sample: shots must be a non-negative int, got -5"),
        (
            lambda sv: sv.sample_counts(5, seed=-5),
            ValueError,
            r"Statevector.sample: seed must be in \[0, 2\*\*64\), got -5",
        ),
        (
            lambda sv: sv.sample_counts(100, seed=2**64),
            ValueError,
            r"Statevector.sample: seed must be in \[0, 2\*\*64\), got 18446744073709551616",
        ),
        (
            lambda sv: sv.sample_counts(100, seed=False),
            TypeError,
            "Statevector.sample: seed must be an int or None, got bool False",
        ),
        (lambda sv: sv.measure(3), IndexError, "Statevector.measure: qubit 3 out of range for 3 qubits"),
        (lambda sv: sv.measure([0, 1]), TypeError, "Statevector.measure: qubit must be an int, got list"),
        (
            lambda sv: sv.measure(0, seed=-2),
            ValueError,
            r"Statevector.measure: seed must be in \[0, 2\*\*64\), got -2",
        ),
        (
            lambda sv: sv.measure(0, seed=2**70),
            ValueError,
            r"Statevector.measure: seed must be in \[0, 2\*\*64\), got 1180591620717411303424",
        ),
        (
            lambda sv: sv.measure(0, seed=np.bool_(True)),
            TypeError,
            "Statevector.measure: seed must be an int or None, got bool np.True_",
        ),
        (lambda sv: sv.inner(np.zeros(8)), TypeError, "Statevector.inner: other must be a Statevector, got ndarray"),
        (lambda sv: sv.inner(Statevector(2)), ValueError, "Statevector.inner: states have 3 and 2 qubits"),
        (lambda sv: sv.fidelity(Statevector(4)), ValueError, "Statevector.inner: states have 3 and 4 qubits"),
    ],
)
def test_read_out_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(Statevector(3))


def test_bad_thread_counts(restore_threads):
    for n in (0, -3):
        with pytest.raises(ValueError, match=f"set_num_threads: n must be >= 1, got {n}"):
            nextrl.set_num_threads(n)
    assert nextrl.get_num_threads() == restore_threads


@pytest.mark.skipif(nextrl.build_info()["cuda_available"], reason="a GPU is present")
@pytest.mark.skipif(not nextrl.build_info()["cuda_compiled"], reason="a build without the CUDA sources (no nvcc)")
def test_cuda_device_description_without_a_device():
    with pytest.raises(IndexError, match="cuda_device_description: index 0 out of range for 0 devices"):
        nextrl._core.cuda_device_description(0)


# ------------------------------------------------------------------------------ from_qiskit
def _measure():
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 0)
    return qc


def _reset():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.reset(1)
    return qc


def _initialize():
    qc = QuantumCircuit(1)
    qc.initialize([0, 1], 0)
    return qc


def _conditional():
    qc = QuantumCircuit(2, 1)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(0)
    return qc


def _free_parameter_outside_the_set():
    qc = QuantumCircuit(2)
    qc.rzx(QiskitParameter("t"), 0, 1)
    return qc


def _eleven_qubit_gate():
    qc = QuantumCircuit(11)
    qc.append(QFTGate(11), range(11))
    return qc


@pytest.mark.parametrize(
    "build, match",
    [
        (_measure, "from_qiskit: unsupported instruction 'measure'"),
        (_reset, "from_qiskit: unsupported instruction 'reset'"),
        (_initialize, "from_qiskit: .*'initialize'"),
        (_conditional, "from_qiskit: unsupported instruction 'if_else'"),
        (_free_parameter_outside_the_set, "from_qiskit: unsupported instruction 'rzx'"),
        (
            _eleven_qubit_gate,
            "from_qiskit: unsupported instruction 'qft' on 11 qubits \\(dense matrices are limited to 10\\)",
        ),
    ],
)
def test_from_qiskit_unsupported_instructions(build, match):
    with pytest.raises(ValueError, match=match):
        from_qiskit(build())


@pytest.mark.parametrize(
    "observable, match",
    [
        ([("ZZZ",)], re.escape("PauliSum: each term must be a (label, coeff) pair, e.g. ('ZZ', 1.0), got ('ZZZ',)")),
        ([("ZZZ", 1.0, 2.0)], "PauliSum: each term must be a \\(label, coeff\\) pair"),
        (["ZZZ"], re.escape("PauliSum: each term must be a (label, coeff) pair, e.g. ('ZZ', 1.0), got 'ZZZ'")),
    ],
)
def test_malformed_pauli_terms(observable, match):
    with pytest.raises(ValueError, match=match):
        Statevector(3).expectation(observable)
