"""Sampling and projective measurement: statistics, seeds and post-measurement states."""

import numpy as np
import pytest
from qiskit.quantum_info import Statevector as QiskitStatevector
from scipy import stats

from conftest import haar_state, random_circuit
from nextrl.quantum import Circuit, Statevector

SHOTS = 50_000
P_MIN = 1e-3  # smallest p-value accepted from a goodness-of-fit test with a fixed seed


def chi_square_p(samples: np.ndarray, probs: np.ndarray) -> float:
    expected = probs / probs.sum() * len(samples)  # complex64 states sum to 1 only to ~1e-7
    assert expected.min() >= 5, "test precondition: every bin needs >= 5 expected counts"
    observed = np.bincount(samples, minlength=len(probs))
    return stats.chisquare(observed, expected).pvalue


def well_spread_state(rng, num_qubits, min_prob):
    """A random state whose basis probabilities all exceed min_prob."""
    for _ in range(1000):
        state = haar_state(rng, num_qubits)
        if (np.abs(state) ** 2).min() > min_prob:
            return state
    raise AssertionError("no well-spread state found")


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_sample_frequencies_match_probabilities(dtype, rng):
    state = well_spread_state(rng, 4, min_prob=5 / SHOTS)
    sv = Statevector.from_amplitudes(state, dtype)
    for seed in (1, 2, 3):
        samples = sv.sample(SHOTS, seed=seed)
        assert samples.dtype == np.int64 and samples.shape == (SHOTS,)
        assert chi_square_p(samples, sv.probabilities()) > P_MIN


@pytest.mark.parametrize("qubits", [[2], [5, 0], [1, 4, 3], [0, 1, 2, 3, 4, 5]])
def test_marginal_sample_frequencies_match_probabilities(qubits, rng):
    rc = random_circuit(rng, 6, num_gates=40)
    sv = Statevector(6).apply(rc.circuit, rc.params)
    probs = sv.probabilities(qubits)
    keep = probs * SHOTS >= 5  # pool bins with too few expected counts
    samples = sv.sample(SHOTS, qubits=qubits, seed=11)
    assert samples.min() >= 0 and samples.max() < 2 ** len(qubits)
    observed = np.bincount(samples, minlength=len(probs))
    observed = np.append(observed[keep], observed[~keep].sum())
    expected = np.append(probs[keep], probs[~keep].sum()) * SHOTS
    if expected[-1] == 0:
        observed, expected = observed[:-1], expected[:-1]
    assert stats.chisquare(observed, expected).pvalue > P_MIN


def test_sampling_never_returns_impossible_outcomes():
    sv = Statevector(5).apply(Circuit(5).h(1).h(3))
    samples = sv.sample(10_000, seed=0)
    assert set(np.unique(samples)) == {0b00000, 0b00010, 0b01000, 0b01010}
    np.testing.assert_array_equal(Statevector.from_label("10110").sample(100, seed=0), np.full(100, 0b10110))
    np.testing.assert_array_equal(
        Statevector.from_label("10110").sample(100, qubits=[4, 1], seed=0), np.full(100, 0b11)
    )


def test_same_seed_same_samples_other_seed_other_samples(rng):
    sv = Statevector.from_amplitudes(haar_state(rng, 5))
    a = sv.sample(5_000, seed=123)
    np.testing.assert_array_equal(a, sv.sample(5_000, seed=123))
    assert not np.array_equal(a, sv.sample(5_000, seed=124))
    np.testing.assert_array_equal(sv.sample(1_000, seed=123), a[:1_000])  # shot j depends on (seed, j) only
    b = sv.sample(5_000, qubits=[3, 1], seed=5)
    np.testing.assert_array_equal(b, sv.sample(5_000, qubits=[3, 1], seed=5))
    assert not np.array_equal(b, sv.sample(5_000, qubits=[3, 1], seed=6))
    assert not np.array_equal(sv.sample(5_000), sv.sample(5_000))  # seed=None: fresh entropy
    assert sv.sample(0, seed=1).shape == (0,)
    # the whole uint64 range, and nothing past it (2**64 used to wrap silently to seed 0)
    top = sv.sample(5_000, seed=2**64 - 1)
    np.testing.assert_array_equal(top, sv.sample(5_000, seed=np.uint64(2**64 - 1)))
    assert not np.array_equal(top, sv.sample(5_000, seed=0))
    with pytest.raises(
        ValueError, match=r"^Statevector.sample: seed must be in \[0, 2\*\*64\), got 18446744073709551616$"
    ):
        sv.sample_counts(100, seed=2**64)


@pytest.mark.parametrize("qubits", [None, [0], [2, 0], [1, 3, 0]])
def test_sample_counts_use_qiskit_bit_strings(qubits, rng):
    # A basis state: both libraries must produce exactly one key, the same.
    label = "1011"
    counts = Statevector.from_label(label).sample_counts(100, qubits=qubits, seed=1)
    expected = QiskitStatevector.from_label(label).sample_counts(100, qargs=qubits)
    assert counts == {str(k): int(v) for k, v in expected.items()}
    # A random state: keys are the bit strings of Qiskit's probabilities_dict, counts add up.
    state = haar_state(rng, 4)
    counts = Statevector.from_amplitudes(state).sample_counts(2_000, qubits=qubits, seed=2)
    allowed = QiskitStatevector(state).probabilities_dict(qargs=qubits)
    assert set(counts) <= set(allowed) and sum(counts.values()) == 2_000
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in counts.items())
    samples = Statevector.from_amplitudes(state).sample(2_000, qubits=qubits, seed=2)
    k = 4 if qubits is None else len(qubits)
    values, numbers = np.unique(samples, return_counts=True)
    assert counts == {format(int(v), f"0{k}b"): int(c) for v, c in zip(values, numbers)}


# ------------------------------------------------------------------------------ measure
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_measure_outcome_frequencies_match_probabilities(dtype, rng):
    state = haar_state(rng, 3)
    sv = Statevector.from_amplitudes(state, dtype)
    trials = 2_000
    for qubit in range(3):
        p1 = sv.probabilities([qubit])[1]
        ones = sum(sv.copy().measure(qubit, seed=seed) for seed in range(trials))
        assert stats.binomtest(ones, trials, p1).pvalue > P_MIN, (qubit, p1, ones)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_post_measurement_state_is_the_normalized_projection(dtype, rng):
    n = 5
    state = haar_state(rng, n)
    atol = 1e-12 if dtype is np.complex128 else 1e-6
    seen = set()
    for seed in range(20):
        qubit = seed % n
        sv = Statevector.from_amplitudes(state, dtype)
        outcome = sv.measure(qubit, seed=seed)
        assert outcome in (0, 1)
        seen.add((qubit, outcome))
        mask = ((np.arange(2**n) >> qubit) & 1) == outcome
        projected = np.where(mask, state, 0)
        np.testing.assert_allclose(sv.amplitudes, projected / np.linalg.norm(projected), rtol=0, atol=atol)
        np.testing.assert_allclose(sv.norm(), 1.0, rtol=0, atol=atol)
        # Measuring again (any seed) repeats the outcome and leaves the state alone.
        after = sv.amplitudes.copy()
        for again in range(5):
            assert sv.measure(qubit, seed=1000 + again) == outcome
        np.testing.assert_allclose(sv.amplitudes, after, rtol=0, atol=atol)
    assert len({o for _, o in seen}) == 2  # both outcomes were exercised


def test_measure_deterministic_and_entangled_states():
    sv = Statevector.from_label("10")
    assert sv.measure(0, seed=0) == 0 and sv.measure(1, seed=0) == 1
    for seed in range(20):  # a Bell pair: the second qubit always agrees with the first
        bell = Statevector(2).apply(Circuit(2).h(0).cx(0, 1))
        first = bell.measure(0, seed=seed)
        assert bell.measure(1, seed=seed + 100) == first
        np.testing.assert_allclose(bell.amplitudes, np.eye(4)[3 * first], rtol=0, atol=1e-12)


def test_measure_same_seed_same_outcome(rng):
    state = haar_state(rng, 4)
    outcomes = [Statevector.from_amplitudes(state).measure(2, seed=s) for s in range(64)]
    assert outcomes == [Statevector.from_amplitudes(state).measure(2, seed=s) for s in range(64)]
    assert 0 < sum(outcomes) < 64
