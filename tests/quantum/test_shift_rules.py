"""Parameter-shift rules (nextrl.quantum.shift_rules) as pure functions: exact on trigonometric
polynomials, equal to the published closed forms, and, per gate of the C++ table with and
without controls, equal to the adjoint gradient and to central finite differences."""

import math

import numpy as np
import pytest

from nextrl.quantum import Circuit, Parameter, VariationalCircuit, Weight
from nextrl.quantum import shift_rules as sr


def test_frequencies_of_spectra():
    assert sr.frequencies([0.5, -0.5]) == (1.0,)
    assert sr.frequencies([0.5, -0.5, 0.0]) == (0.5, 1.0)
    assert sr.frequencies([0.0, -1.0, 0.0]) == (1.0,)
    assert sr.frequencies([-1.0]) == ()
    assert sr.frequencies(np.array([0.5, 0.5 + 1e-12, -0.5 + 0j])) == (1.0,)


def test_two_and_four_term_rules_are_the_closed_forms():
    two = sr.equidistant_rule((1.0,))
    np.testing.assert_allclose(two.shifts, [math.pi / 2, -math.pi / 2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(two.coeffs, [0.5, -0.5], rtol=0, atol=1e-15)
    four = sr.equidistant_rule((0.5, 1.0))  # Anselmetti et al. 2021, eq. 8
    c1 = (math.sqrt(2) + 1) / (4 * math.sqrt(2))
    c2 = (math.sqrt(2) - 1) / (4 * math.sqrt(2))
    np.testing.assert_allclose(
        four.shifts, [math.pi / 2, -math.pi / 2, 3 * math.pi / 2, -3 * math.pi / 2], rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(four.coeffs, [c1, -c1, -c2, c2], rtol=0, atol=1e-15)
    assert len(sr.equidistant_rule(())) == 0


@pytest.mark.parametrize("R", [1, 2, 3, 4])
@pytest.mark.parametrize("om", [0.5, 1.0, 1.7])
def test_rule_is_exact_for_trigonometric_polynomials(R, om):
    rng = np.random.default_rng(R * 10 + int(om * 10))
    a = rng.normal(size=R + 1)
    b = rng.normal(size=R + 1)
    k = np.arange(R + 1) * om

    def f(t):
        return float(a @ np.cos(k * t) + b @ np.sin(k * t))

    rule = sr.equidistant_rule(tuple(k[1:]))
    assert len(rule) == 2 * R
    for t in rng.uniform(-4, 4, size=5):
        exact = float(-(a * k) @ np.sin(k * t) + (b * k) @ np.cos(k * t))
        np.testing.assert_allclose(sr.shift_derivative(f, t, rule), exact, rtol=0, atol=1e-12)
    if R > 1:  # fewer terms are not enough: the two-term rule of the lowest frequency misses the others
        low = sr.equidistant_rule((om,))
        t = 0.3
        exact = float(-(a * k) @ np.sin(k * t) + (b * k) @ np.cos(k * t))
        assert abs(sr.shift_derivative(f, t, low) - exact) > 1e-3


GATE_CASES = [(g, c, j) for g in ("rx", "ry", "rz", "p", "rxx", "ryy", "rzz") for c in (0, 1, 2) for j in (0,)] + [
    ("u", c, j) for c in (0, 1) for j in (0, 1, 2)
]


@pytest.mark.parametrize("gate, controls, which", GATE_CASES)
def test_gate_rule_matches_adjoint_and_finite_differences(gate, controls, which):
    """The rule from the C++ generator, applied to a circuit's outputs, equals the adjoint gradient
    (1e-10) and central finite differences (1e-8); it has 2 terms except for controlled Pauli
    rotations and the theta of a controlled u (4 terms)."""
    rule = sr.gate_rule(gate, controls, which)
    four = controls > 0 and (gate in ("rx", "ry", "rz", "rxx", "ryy", "rzz") or (gate == "u" and which == 0))
    assert len(rule) == (4 if four else 2)
    targets = 2 if gate in ("rxx", "ryy", "rzz") else 1
    n = targets + controls
    c = Circuit(n)
    t = Parameter("t")
    for q in range(n):
        c.h(q).ry(0.3 + 0.4 * q, q)
    angles = [0.4, -0.7, 1.1]
    angles[which] = t
    nparams = 3 if gate == "u" else 1
    c.append(
        gate,
        list(range(controls, n)),
        angles[:nparams],
        controls=list(range(controls)),
        ctrl_state=(1 << controls) - 2 if controls else None,
    )  # one open control when there are any
    for q in range(n):
        c.rx(0.2 * q - 0.5, q)
    vc = VariationalCircuit(c, {t: Weight(0)}, observables=["X" * n, "Z" * n, "Y" + "X" * (n - 1)])
    x = np.zeros((1, 0))

    def f(theta):
        return vc.forward(x, [theta])[0]

    h = 1e-5
    for theta in (0.0, 0.9, -2.3):
        adjoint = np.array([vc.vjp(x, [theta], None, np.eye(3)[[a]])[1][0] for a in range(3)])
        assert np.abs(adjoint).max() > 1e-3  # the outputs depend on theta here
        by_rule = sr.shift_derivative(f, theta, rule)
        np.testing.assert_allclose(by_rule, adjoint, rtol=0, atol=1e-10)
        np.testing.assert_allclose(by_rule, (f(theta + h) - f(theta - h)) / (2 * h), rtol=0, atol=1e-8)


def test_global_phase_rule_is_empty():
    assert len(sr.gate_rule("global_phase")) == 0


def test_executor_rule_tables_are_the_derived_rules():
    """The executor's old entry points (SHIFT_RULES, shift_rule) are these rules."""
    from nextrl.quantum.qiskit_executor import SHIFT_RULES, shift_rule

    for terms, freqs in ((2, (1.0,)), (4, (0.5, 1.0))):
        np.testing.assert_allclose(SHIFT_RULES[terms], tuple(sr.equidistant_rule(freqs)), rtol=0, atol=0)
    assert shift_rule("rx", 1) == 4 and shift_rule("p", 2) == 2 and shift_rule("u", 1, 2) == 2
    with pytest.raises(ValueError, match="shift_rule: gate 'h' has no parameter-shift rule"):
        shift_rule("h", 0)


def test_errors():
    with pytest.raises(
        ValueError, match=r"frequencies: eigenvalues must be a non-empty 1-D sequence, got shape \(0,\)"
    ):
        sr.frequencies([])
    with pytest.raises(ValueError, match="frequencies: eigenvalues must be real"):
        sr.frequencies([1j, 0])
    with pytest.raises(ValueError, match="frequencies: eigenvalues must be finite"):
        sr.frequencies([np.nan, 0])
    with pytest.raises(
        ValueError, match=r"equidistant_rule: frequencies must be Om, 2 Om, ..., R Om, got \(1.0, 3.0\)"
    ):
        sr.equidistant_rule((1.0, 3.0))
    with pytest.raises(ValueError, match="equidistant_rule: frequencies must be positive and finite"):
        sr.equidistant_rule((-1.0,))
    with pytest.raises(ValueError, match=r"rule_for_generator: generator must be a square matrix, got shape \(2,\)"):
        sr.rule_for_generator([1, 0])
    with pytest.raises(ValueError, match="rule_for_generator: generator must be Hermitian"):
        sr.rule_for_generator([[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="rule_for_generator: num_controls must be a non-negative int, got -1"):
        sr.rule_for_generator(np.eye(2), -1)
    with pytest.raises(IndexError, match="gate_generator: which must be in"):
        sr.gate_rule("x")
