"""QuantumStatePrep (csrc/envs/quantum_prep.h): gates on any qubit against nextrl.quantum.Statevector, the
dense reference and Qiskit; observations with imaginary parts; fidelity-gain rewards; reachable targets."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector as QiskitStatevector

from nextrl.envs import QuantumStatePrepEnv, QuantumStatePrepVectorEnv
from nextrl.envs.quantum_prep import target_actions
from nextrl.quantum import Circuit, Statevector
from reference import dense_simulator as ds

PI4 = np.pi / 4


def make(n, **kw):
    return QuantumStatePrepVectorEnv(n, **kw)


def circuit_of(num_qubits: int, gates, actions) -> Circuit:
    c = Circuit(num_qubits)
    for a in actions:
        name, qs = gates[a]
        if name in ("ry", "rz"):
            getattr(c, name)(PI4, *qs)
        else:
            getattr(c, name)(*qs)
    return c


def dense_operators(num_qubits: int, gates) -> np.ndarray:
    """[A, 2**n, 2**n]: the full matrix of every action, from the dense reference."""
    return np.array(
        [ds.gate_operator(num_qubits, name, list(qs), (PI4,) if name in ("ry", "rz") else ()) for name, qs in gates]
    )


def sequences_states(ops: np.ndarray, length: int) -> np.ndarray:
    """[A**length, 2**n]: the states of every gate sequence of `length` from |0...0> (exhaustive search)."""
    states = np.eye(ops.shape[1], dtype=complex)[:1]
    for _ in range(length):
        states = np.einsum("aij,sj->sai", ops, states).reshape(-1, ops.shape[1])
    return states


def test_gate_list():
    gates = make(1, num_qubits=3).gate_list()
    assert len(gates) == 6 * 3 + 3 * 2
    assert gates[:4] == [("h", (0,)), ("h", (1,)), ("h", (2,)), ("x", (0,))]
    assert gates[18:] == [
        ("cx", (0, 1)),
        ("cx", (0, 2)),
        ("cx", (1, 0)),
        ("cx", (1, 2)),
        ("cx", (2, 0)),
        ("cx", (2, 1)),
    ]
    assert make(1).single_action_space.n == 6 * 2 + 2


@pytest.mark.parametrize("num_qubits", [1, 2, 3])
def test_steps_match_statevector_and_dense_reference(num_qubits):
    """Random action sequences (autoresets included): states, observations, rewards and fidelities."""
    n_envs, steps = 6, 40
    env = make(n_envs, num_qubits=num_qubits, target="random", target_depth=5, max_steps=15)
    gates = env.gate_list()
    rng = np.random.default_rng(num_qubits)
    obs, info = env.reset(seed=0)
    ops = dense_operators(num_qubits, gates)
    zero = np.eye(2**num_qubits, dtype=complex)[0]
    dense = [zero.copy() for _ in range(n_envs)]
    ours = [Statevector(num_qubits) for _ in range(n_envs)]
    done = np.zeros(n_envs, dtype=bool)
    prev_fid = info["fidelity"].copy()
    for _ in range(steps):
        actions = rng.integers(len(gates), size=n_envs)
        obs, r, term, trunc, info = env.step(actions)
        psi, target = env.states(), env.targets()
        for i in range(n_envs):
            if done[i]:
                dense[i], ours[i] = zero.copy(), Statevector(num_qubits)
                np.testing.assert_array_equal(psi[i], zero)
                assert r[i] == 0.0
            else:
                dense[i] = ops[actions[i]] @ dense[i]
                ours[i].apply(circuit_of(num_qubits, gates, [actions[i]]))
                np.testing.assert_allclose(psi[i], ours[i].amplitudes, atol=1e-12)
                np.testing.assert_allclose(psi[i], dense[i], atol=1e-12)
                fid = abs(np.vdot(target[i], psi[i])) ** 2
                np.testing.assert_allclose(info["fidelity"][i], fid, atol=1e-12)
                np.testing.assert_allclose(r[i], fid - prev_fid[i], atol=1e-6)
                assert term[i] == (fid >= 0.99)
            dim = 2**num_qubits
            np.testing.assert_array_equal(obs[i, :dim], psi[i].real.astype(np.float32))
            np.testing.assert_array_equal(obs[i, dim : 2 * dim], psi[i].imag.astype(np.float32))
            np.testing.assert_array_equal(obs[i, 2 * dim : 3 * dim], target[i].real.astype(np.float32))
            np.testing.assert_array_equal(obs[i, 3 * dim :], target[i].imag.astype(np.float32))
        prev_fid = info["fidelity"].copy()
        done = term | trunc


def test_matches_qiskit():
    env = make(1, num_qubits=3, target="ghz", max_steps=100)
    gates = env.gate_list()
    actions = np.random.default_rng(0).integers(len(gates), size=25)
    env.reset(seed=0)
    qc = QuantumCircuit(3)
    for a in actions:
        name, qs = gates[a]
        getattr(qc, name)(*(((PI4,) if name in ("ry", "rz") else ()) + qs))
        _, _, term, _, _ = env.step(np.array([a]))
        if term[0]:
            break
    np.testing.assert_allclose(env.states()[0], QiskitStatevector(qc).data, atol=1e-12)


def test_imaginary_part_is_observed():
    """Four RZ(pi/4) on qubit 0 give e^{-i pi/4 * 2}|0> = -i|0>: the document's real-only encoding saw 0."""
    env = QuantumStatePrepEnv()
    env.reset(seed=0)
    rz0 = env._vec.gate_list().index(("rz", (0,)))
    for _ in range(4):
        obs, *_ = env.step(rz0)
    np.testing.assert_allclose(obs[:4], 0.0, atol=1e-7)
    np.testing.assert_allclose(obs[4:], [-1.0, 0, 0, 0], atol=1e-7)


@pytest.mark.parametrize("num_qubits", [1, 2, 3, 4])
@pytest.mark.parametrize("target", ["plus", "ghz"])
def test_named_targets_are_reached_by_their_sequence(num_qubits, target):
    """Reachability by construction: the target's own gate sequence reaches fidelity 1 and terminates."""
    env = make(1, num_qubits=num_qubits, target=target)
    dim = 2**num_qubits
    expected = np.full(dim, dim**-0.5) if target == "plus" else np.eye(dim)[[0, -1]].sum(axis=0) / np.sqrt(2)
    np.testing.assert_allclose(env.targets()[0], expected, atol=1e-12)
    _, info = env.reset(seed=0)
    np.testing.assert_allclose(info["fidelity"], abs(expected[0]) ** 2, atol=1e-12)
    seq = target_actions(num_qubits, target)
    total = 0.0
    for k, a in enumerate(seq):
        _, r, term, _, info = env.step(np.array([a]))
        total += float(r[0])
        assert term[0] == (k == len(seq) - 1)
    np.testing.assert_allclose(info["fidelity"], 1.0, atol=1e-12)
    np.testing.assert_allclose(total, 1.0 - abs(expected[0]) ** 2, atol=1e-6)  # rewards telescope


def test_plus_target_bfs():
    """Exhaustive search over gate sequences on 2 qubits: |++> takes exactly 2 gates, while the document's
    gates on qubit 0 only cap the fidelity at 0.5 (sequences up to length 4)."""
    env = make(1)
    gates = env.gate_list()
    target = env.targets()[0]
    ops = dense_operators(2, gates)

    def best_fidelity(length, allowed):
        return float((np.abs(sequences_states(ops[allowed], length) @ target.conj()) ** 2).max())

    everything = list(range(len(gates)))
    assert best_fidelity(1, everything) == pytest.approx(0.5)
    assert best_fidelity(2, everything) == pytest.approx(1.0)
    qubit0 = [a for a, (name, qs) in enumerate(gates) if qs == (0,)]
    assert max(best_fidelity(k, qubit0) for k in range(1, 5)) == pytest.approx(0.5)


def test_random_targets_are_reachable():
    """Every random target of depth 3 equals (up to phase) a state that some 3-gate sequence prepares,
    found by exhaustive search; no target starts solved; targets differ between envs and resets."""
    env = make(16, target="random", target_depth=3)
    gates = env.gate_list()
    _, info = env.reset(seed=0)
    reachable = sequences_states(dense_operators(2, gates), 3)
    targets = env.targets()
    best = (np.abs(reachable.conj() @ targets.T) ** 2).max(axis=0)
    np.testing.assert_allclose(best, 1.0, atol=1e-12)
    assert (info["fidelity"] < 0.99).all()
    assert len({tuple(np.round(t, 8)) for t in targets}) > 4
    targets_before = targets.copy()
    env.reset()
    assert not np.allclose(env.targets(), targets_before)


def test_custom_target_sequences():
    env = make(1, target=[("h", (0,)), ("cx", (0, 1)), ("s", (1,))])
    gates = env.gate_list()
    seq = target_actions(2, [("h", (0,)), ("cx", (0, 1)), ("s", (1,))])
    assert [gates[a] for a in seq] == [("h", (0,)), ("cx", (0, 1)), ("s", (1,))]
    np.testing.assert_allclose(env.targets()[0], [2**-0.5, 0, 0, 1j * 2**-0.5], atol=1e-12)
    assert make(1, target=seq).targets()[0] == pytest.approx(env.targets()[0])


def test_bad_actions_and_config():
    env = make(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[1\] must be in \[0, num_actions\)"):
        env.step(np.array([0, 14]))
    with pytest.raises(TypeError, match="actions must be integers"):
        env.step(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"num_qubits must be an int in \[1, 10\]"):
        make(1, num_qubits=11)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        make(1, threshold=1.5)
    with pytest.raises(ValueError, match="unknown target 'bell'"):
        make(1, target="bell")
    with pytest.raises(ValueError, match="already reaches the target"):
        make(1, target=[("x", (0,)), ("x", (0,))])
    with pytest.raises(ValueError, match=r"target entry \('cx', \(0, 0\)\) must be an action index"):
        make(1, target=[("cx", (0, 0))])
    with pytest.raises(ValueError, match=r"target action 99 must be in \[0, 14\)"):
        make(1, target=[99])
    with pytest.raises(ValueError, match="target_depth must be an int >= 1"):
        make(1, target="random", target_depth=0)
    with pytest.raises(ValueError, match="max_steps must be >= 0"):
        make(1, max_steps=-1)
