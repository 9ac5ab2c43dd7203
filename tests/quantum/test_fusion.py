"""Gate fusion, kernel instruction sets and threads do not change results."""

import numpy as np
import pytest
from qiskit.quantum_info import Statevector as QiskitStatevector

import nextrl
from conftest import haar_state, random_circuit, random_pauli_terms
from nextrl.quantum import Circuit, Statevector

pytestmark = pytest.mark.filterwarnings("ignore:.*argument ``annotated`` is deprecated:DeprecationWarning")

ATOL = {np.complex128: 1e-10, np.complex64: 1e-5}
# Fused and unfused runs reorder floating-point operations, so they agree to rounding only.
FUSION_ATOL = {np.complex128: 1e-12, np.complex64: 2e-6}
FUSIONS = [True, False, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
HAS_AVX2 = nextrl.build_info()["simd"] != "generic"


def apply(rc, dtype, init, fusion=True, isa=None):
    plan = rc.circuit.compile(fusion)
    before = plan.isa
    if isa is not None:
        plan.isa = isa
    try:
        sv = Statevector.from_amplitudes(init, dtype).apply(rc.circuit, rc.params, fusion=fusion)
    finally:
        plan.isa = before  # plans are cached per circuit: leave the default behind
    return sv.amplitudes


@pytest.mark.parametrize("num_qubits", [1, 3, 6, 9, 12, 13])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_fused_equals_unfused(num_qubits, dtype, rng):
    rc = random_circuit(rng, num_qubits, num_gates=60)
    init = haar_state(rng, num_qubits)
    unfused = apply(rc, dtype, init, fusion=False)
    for fusion in FUSIONS:
        np.testing.assert_allclose(
            apply(rc, dtype, init, fusion), unfused, rtol=0, atol=FUSION_ATOL[dtype], err_msg=f"fusion={fusion}"
        )


@pytest.mark.parametrize("num_qubits", [4, 12, 14])
def test_fusion_report(num_qubits, rng):
    rc = random_circuit(rng, num_qubits, num_gates=50)
    largest_gate = max(len(ins.targets) + len(ins.controls) for ins in rc.circuit)
    unfused = rc.circuit.compile(False).report
    assert unfused["num_ops"] == unfused["num_blocks"] == len(rc.circuit) + 1  # + the global phase
    assert unfused["merged_1q"] == 0
    previous = unfused["num_blocks"]
    for fusion in range(1, 13):
        report = rc.circuit.compile(fusion).report
        assert report["num_ops"] == len(rc.circuit) + 1
        assert report["max_qubits"] == min(fusion, num_qubits)
        assert report["largest_block"] <= max(fusion, largest_gate)
        assert 1 <= report["num_blocks"] <= previous  # larger blocks never need more passes
        previous = report["num_blocks"]


@pytest.mark.skipif(not HAS_AVX2, reason="this CPU or build has no AVX2 kernels")
@pytest.mark.parametrize("num_qubits", [2, 5, 11, 15])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_generic_and_avx2_kernels_agree(num_qubits, dtype, rng):
    rc = random_circuit(rng, num_qubits, num_gates=50)
    init = haar_state(rng, num_qubits)
    for fusion in (True, False, 3, 12):
        generic = apply(rc, dtype, init, fusion, isa="generic")
        avx2 = apply(rc, dtype, init, fusion, isa="avx2")
        np.testing.assert_allclose(avx2, generic, rtol=0, atol=FUSION_ATOL[dtype], err_msg=f"fusion={fusion}")


def test_plan_isa_defaults_to_the_best_supported():
    plan = Circuit(3).h(0).compile()
    assert plan.isa == nextrl.build_info()["simd"]
    plan.isa = "generic"
    assert plan.isa == "generic"


@pytest.mark.parametrize("num_qubits", [14, 15, 16, 17, 18])
def test_large_states_match_qiskit(num_qubits, rng):
    """States large enough for several threads and SIMD lanes outside the local block."""
    rc = random_circuit(rng, num_qubits, num_gates=20, max_unitary_qubits=2)
    init = haar_state(rng, num_qubits)
    expected = QiskitStatevector(init).evolve(rc.qiskit()).data
    isas = ["generic", "avx2"] if HAS_AVX2 else ["generic"]
    for fusion, isa in [(True, None), (False, None), (4, None), (12, None)] + [(True, i) for i in isas]:
        for dtype in (np.complex128, np.complex64):
            np.testing.assert_allclose(
                apply(rc, dtype, init, fusion, isa),
                expected,
                rtol=0,
                atol=ATOL[dtype],
                err_msg=f"fusion={fusion}, isa={isa}, dtype={dtype}",
            )


@pytest.mark.parametrize("num_qubits", [6, 16])
def test_thread_count_does_not_change_results(num_qubits, rng, restore_threads):
    rc = random_circuit(rng, num_qubits, num_gates=40)
    init = haar_state(rng, num_qubits)
    terms = random_pauli_terms(rng, num_qubits, 8)
    results = []
    for threads in (1, 2):
        nextrl.set_num_threads(threads)
        assert nextrl.get_num_threads() == threads
        out = {}
        for dtype in (np.complex128, np.complex64):
            for fusion in (True, False):
                sv = Statevector.from_amplitudes(init, dtype).apply(rc.circuit, rc.params, fusion=fusion)
                out[dtype, fusion, "amplitudes"] = sv.amplitudes.copy()
                out[dtype, fusion, "expectation"] = sv.expectation(terms)
                out[dtype, fusion, "probabilities"] = sv.probabilities([num_qubits - 1, 0, 2])
                out[dtype, fusion, "norm"] = sv.norm()
                out[dtype, fusion, "inner"] = sv.inner(Statevector.from_amplitudes(init, dtype))
                out[dtype, fusion, "samples"] = sv.sample(50_000, seed=7)
                out[dtype, fusion, "marginal samples"] = sv.sample(50_000, qubits=[1, num_qubits - 1], seed=8)
                out[dtype, fusion, "measure"] = (sv.measure(num_qubits // 2, seed=3), sv.amplitudes.copy())
        results.append(out)
    for key, value in results[0].items():
        other = results[1][key]
        if key[-1] == "measure":
            assert value[0] == other[0]
            np.testing.assert_array_equal(value[1], other[1], err_msg=str(key))
        else:
            np.testing.assert_array_equal(value, other, err_msg=str(key))  # bitwise


def test_set_num_threads(restore_threads):
    for threads in (1, 3, restore_threads):
        nextrl.set_num_threads(threads)
        assert nextrl.get_num_threads() == threads
