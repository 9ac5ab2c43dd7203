"""The grouping pass of BatchPlan reports what it did (BatchPlan.report), as the fusion pass does
(Plan.report): a circuit worked by hand, and on random circuits every gate in exactly one step."""

from conftest import random_circuit
from nextrl.quantum import Circuit, Feature, Parameter, VariationalCircuit, Weight

BATCH_KINDS = ["1q", "1q_rot", "u", "2q", "2q_rot", "mcx", "unitary", "append"]


def test_report_of_a_circuit_worked_by_hand():
    c = Circuit(3)
    w0, w1, x0 = Parameter("w0"), Parameter("w1"), Parameter("x0")
    c.ry(w0, 0).rz(0.3, 0)  # step 1: shared 1-qubit gates on qubit 0 (one 2x2), flushed by the cz below
    c.rx(x0, 1).h(1)  # step 2: input rotation with the shared h folded in (fused)
    c.cz(0, 1).cz(1, 2)  # step 3: one diagonal for both constant CZs
    c.crx(w1, 0, 2)  # step 4: a gate as itself
    c.p(2 * x0, 2)  # step 5: a lone 1-qubit input gate that is not a Pauli rotation
    c.sx(0)  # step 6: shared, flushed at the end
    vc = VariationalCircuit(c, {w0: Weight(0), w1: Weight(1), x0: Feature(0)}, observables=["ZZZ"])
    assert vc.plan.report == {
        "num_ops": 9,
        "num_steps": 6,
        "shared_1q": 2,
        "lane_1q": 2,
        "fused_rotations": 1,
        "op_steps": 1,
        "diagonal_steps": 1,
        "diagonal_ops": 2,
        "merged_1q": 2,
    }


def test_report_places_every_gate_in_one_step(rng):
    for n in (2, 3, 5):
        rc = random_circuit(rng, n, 40, kinds=BATCH_KINDS, max_unitary_qubits=2)
        sources = {p: (Weight(i) if i % 2 else Feature(i // 2)) for i, p in enumerate(rc.circuit.parameters)}
        vc = VariationalCircuit(rc.circuit, sources, observables=["Z" * n])
        r = vc.plan.report
        gp = rc.circuit.global_phase
        assert r["num_ops"] == len(rc.circuit) + (0 if isinstance(gp, float) and gp == 0.0 else 1)
        assert r["num_steps"] == r["shared_1q"] + r["lane_1q"] + r["op_steps"] + r["diagonal_steps"]
        # a 1-qubit step holds 1 + (its merged gates); other steps one gate, diagonals diagonal_ops in all
        assert r["shared_1q"] + r["lane_1q"] + r["merged_1q"] + r["op_steps"] + r["diagonal_ops"] == r["num_ops"]
        assert r["num_steps"] < r["num_ops"]  # 40 random gates always share some steps
        assert 0 <= r["fused_rotations"] <= r["lane_1q"]
