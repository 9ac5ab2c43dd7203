"""Batched variational circuits: forward against per-sample Statevector runs and Qiskit,
adjoint gradients against central finite differences, batch/lane/ISA/thread invariance,
the torch layer (gradcheck), the ansaetze and the error paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nextrl
from conftest import random_circuit, random_pauli_terms
from nextrl.quantum import Feature, QuantumLayer, Statevector, VariationalCircuit, Weight
from nextrl.quantum.ansatz import hardware_efficient, skolik_reuploading, softmax_pqc

# Gates the batched plan runs: up to 2 targets (controls unrestricted).
BATCH_KINDS = ["1q", "1q_rot", "u", "2q", "2q_rot", "3q", "mcx", "unitary", "append", "controlled_unitary"]


def random_variational(rng, n: int, num_gates: int, *, probabilities: bool = False, num_obs: int = 2):
    rc = random_circuit(rng, n, num_gates, kinds=BATCH_KINDS, max_unitary_qubits=2)
    c = rc.circuit
    num_features = 3
    sources, w, s = {}, 0, 0
    for p in c.parameters:
        kind = rng.integers(3)
        if kind == 0:
            sources[p], w = Weight(w), w + 1
        elif kind == 1:
            sources[p] = Feature(int(rng.integers(num_features)))
        else:
            sources[p], s = Feature(int(rng.integers(num_features)), scale=s), s + 1
    if probabilities:
        k = int(rng.integers(1, min(n, 3) + 1))
        qubits = [int(q) for q in rng.permutation(n)[:k]]
        vc = VariationalCircuit(c, sources, probabilities=qubits, num_features=num_features)
    else:
        obs = [random_pauli_terms(rng, n, int(rng.integers(1, 4))) for _ in range(num_obs)]
        vc = VariationalCircuit(c, sources, observables=obs, num_features=num_features)
    x = rng.normal(size=(5, num_features))
    weights = rng.uniform(-np.pi, np.pi, vc.num_weights)
    scales = rng.uniform(0.5, 1.5, vc.num_scales)
    return vc, x, weights, scales


def per_sample_reference(vc: VariationalCircuit, x, w, s) -> np.ndarray:
    values = vc.parameter_values(x, w, s)
    rows = []
    for v in values:
        sv = Statevector(vc.num_qubits).apply(vc.circuit, v)
        if vc.observables is not None:
            rows.append([sv.expectation(o) for o in vc.observables])
        else:
            rows.append(sv.probabilities(vc.probability_qubits))
    return np.array(rows, dtype=np.float64)


@pytest.mark.parametrize("n", range(1, 13))
def test_forward_matches_statevector(rng, n):
    for probabilities in (False, True):
        vc, x, w, s = random_variational(rng, n, 25, probabilities=probabilities)
        np.testing.assert_allclose(vc.forward(x, w, s), per_sample_reference(vc, x, w, s), rtol=0, atol=1e-10)
        np.testing.assert_allclose(
            vc.forward(x, w, s, dtype="float32"), per_sample_reference(vc, x, w, s), rtol=0, atol=1e-5
        )


def test_forward_matches_qiskit(rng):
    from qiskit.quantum_info import Statevector as QiskitStatevector

    vc, x, w, s = random_variational(rng, 4, 30)
    qc, observables = vc.to_qiskit()
    values = vc.qiskit_parameter_values(qc, x, w, s)
    expected = [
        [QiskitStatevector(qc.assign_parameters(v)).expectation_value(o).real for o in observables] for v in values
    ]
    np.testing.assert_allclose(vc.forward(x, w, s), expected, rtol=0, atol=1e-10)


def _finite_difference(f, arr, eps=1e-6):
    grad = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
        up, down = arr.copy(), arr.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 12])
@pytest.mark.parametrize("probabilities", [False, True])
def test_adjoint_gradients_match_finite_differences(rng, n, probabilities):
    vc, x, w, s = random_variational(rng, n, 20 if n < 12 else 12, probabilities=probabilities)
    x = x[:3]
    g = rng.normal(size=(x.shape[0], vc.num_outputs))
    out, dw, dx, ds = vc.vjp(x, w, s, g)
    np.testing.assert_allclose(out, vc.forward(x, w, s), rtol=0, atol=1e-12)

    def loss(xx=x, ww=w, ss=s):
        return float(np.sum(vc.forward(xx, ww, ss) * g))

    np.testing.assert_allclose(dw, _finite_difference(lambda a: loss(ww=a), w), rtol=0, atol=1e-8)
    np.testing.assert_allclose(ds, _finite_difference(lambda a: loss(ss=a), s), rtol=0, atol=1e-8)
    np.testing.assert_allclose(dx, _finite_difference(lambda a: loss(xx=a), x), rtol=0, atol=1e-8)


def test_batch_equals_single_runs_lanes_isa_and_threads(rng, restore_threads):
    vc, x, w, s = random_variational(rng, 5, 40)
    x = rng.normal(size=(19, 3))  # not a multiple of the lane count
    g = rng.normal(size=(19, vc.num_outputs))
    full = vc.vjp(x, w, s, g)
    singles = [vc.vjp(x[b : b + 1], w, s, g[b : b + 1]) for b in range(len(x))]
    np.testing.assert_allclose(full[0], np.vstack([r[0] for r in singles]), rtol=0, atol=1e-13)
    np.testing.assert_allclose(full[1], np.sum([r[1] for r in singles], axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(full[2], np.vstack([r[2] for r in singles]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(full[3], np.sum([r[3] for r in singles], axis=0), rtol=0, atol=1e-12)
    plan = vc.plan
    for lanes in (1, 2, 16):
        plan.lanes = lanes
        for got, want in zip(vc.vjp(x, w, s, g), full):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    plan.lanes = 8
    if nextrl.build_info()["simd"] != "generic":
        plan.isa = "generic"
        for got, want in zip(vc.vjp(x, w, s, g), full):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        plan.isa = nextrl.build_info()["simd"]
    nextrl.set_num_threads(1)
    one = vc.vjp(x, w, s, g)
    nextrl.set_num_threads(2)
    two = vc.vjp(x, w, s, g)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_float32_gradients_close_to_float64(rng):
    vc, x, w, s = random_variational(rng, 4, 30)
    g = rng.normal(size=(x.shape[0], vc.num_outputs))
    for a, b in zip(vc.vjp(x, w, s, g, dtype="float32"), vc.vjp(x, w, s, g)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_quantum_layer_matches_circuit_and_trains(dtype):
    gen = torch.Generator().manual_seed(0)
    layer = QuantumLayer(skolik_reuploading(4, 3), output_scaling=True, dtype=dtype, generator=gen)
    x = torch.randn(8, 4, dtype=dtype, generator=gen)
    out = layer(x)
    assert out.shape == (8, 2) and out.dtype == dtype
    expected = layer.circuit.forward(
        x.double().numpy(), layer.weights.detach().double().numpy(), layer.scales.detach().double().numpy()
    )
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(out.detach().double().numpy(), expected, rtol=0, atol=tol)
    # A few Adam steps towards fixed targets reduce the loss (the gradients point downhill).
    target = torch.tensor([[0.5, -0.5]], dtype=dtype).expand(8, 2)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((layer(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_gradcheck_float64():
    from nextrl.quantum.torch_layer import _VQCFunction

    vc = hardware_efficient(3, 2)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    w = (torch.rand(vc.num_weights, dtype=torch.float64, generator=gen) * 6).requires_grad_()
    s = torch.ones(vc.num_scales, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b, c: _VQCFunction.apply(a, b, c, None, vc, "float64"), (x, w, s), eps=1e-6, atol=1e-7
    )
    vc2 = skolik_reuploading(3, 2)
    s2 = torch.rand(vc2.num_scales, dtype=torch.float64, generator=gen).requires_grad_()
    w2 = torch.rand(vc2.num_weights, dtype=torch.float64, generator=gen).requires_grad_()
    o2 = torch.tensor([0.7, -1.3, 2.0], dtype=torch.float64, requires_grad=True)  # trainable output scaling
    assert torch.autograd.gradcheck(
        lambda a, b, c, d: _VQCFunction.apply(a, b, c, d, vc2, "float64"), (x, w2, s2, o2), eps=1e-6, atol=1e-7
    )


def test_ansaetze_shapes_and_softmax_policy():
    assert skolik_reuploading(4, 5).num_outputs == 2
    assert skolik_reuploading(4, 5).num_scales == 20
    pqc = softmax_pqc(4, 2, num_actions=2)
    probs = torch.softmax(2.0 * QuantumLayer(pqc, dtype=torch.float64)(torch.randn(5, 4, dtype=torch.float64)), -1)
    np.testing.assert_allclose(probs.sum(-1).detach().numpy(), 1.0, atol=1e-12)
    he = hardware_efficient(3, 2, num_features=2)
    assert he.num_features == 2 and he.num_weights == 18


def test_born_policy_probabilities_sum_to_one(rng):
    vc, x, w, s = random_variational(rng, 4, 30, probabilities=True)
    np.testing.assert_allclose(vc.forward(x, w, s).sum(axis=1), 1.0, atol=1e-12)


def test_errors(rng):
    vc, x, w, s = random_variational(rng, 3, 10)
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, 3\)"):
        vc.forward(np.zeros((2, 4)), w, s)
    with pytest.raises(TypeError, match="inputs must be real numbers"):
        vc.forward(np.zeros((2, 3), dtype=complex), w, s)
    with pytest.raises(ValueError, match="inputs must be finite"):
        vc.forward(np.full((2, 3), np.nan), w, s)
    with pytest.raises(ValueError, match="weights must have shape"):
        vc.forward(x, np.zeros(vc.num_weights + 1), s)
    with pytest.raises(TypeError, match="dtype must be 'float32' or 'float64'"):
        vc.forward(x, w, s, dtype="float16")
    with pytest.raises(ValueError, match="grad_outputs must have shape"):
        vc.vjp(x, w, s, np.zeros((x.shape[0], vc.num_outputs + 1)))
    with pytest.raises(ValueError, match="label must be a non-empty string over 'IXYZ'"):
        VariationalCircuit(vc.circuit, vc.sources, observables=["ZQZ"])
    with pytest.raises(ValueError, match="observable .* has 2 qubits, circuit has 3"):
        VariationalCircuit(vc.circuit, vc.sources, observables=["ZZ"])
    with pytest.raises(ValueError, match="parameters without a source"):
        VariationalCircuit(vc.circuit, {}, observables=["ZZZ"])
    with pytest.raises(ValueError, match="exactly one of observables and probabilities"):
        VariationalCircuit(vc.circuit, vc.sources)
    with pytest.raises(IndexError, match="qubit 5 out of range for 3 qubits"):
        VariationalCircuit(vc.circuit, vc.sources, probabilities=[5])
    layer = QuantumLayer(hardware_efficient(2, 1))
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, 2\)"):
        layer(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="inputs must be finite"):
        layer(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(TypeError, match="inputs must be floating point"):
        layer(torch.zeros(4, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="dtype must be torch.float32 or torch.float64"):
        QuantumLayer(hardware_efficient(2, 1), dtype=torch.float16)
    with pytest.raises(ValueError, match="lanes: must be a power of two"):
        vc.plan.lanes = 3


@pytest.mark.parametrize(
    "make", [lambda: skolik_reuploading(4, 3), lambda: softmax_pqc(4, 2, 2), lambda: hardware_efficient(3, 2)]
)
def test_ansaetze_forward_and_gradients_match_references(rng, make):
    # The ansaetze exercise the fused steps: input rotations absorbing the weight gates after them and
    # CZ runs merged into one register diagonal (with 1-qubit groups on other qubits moved before it).
    vc = make()
    x = rng.normal(size=(3, vc.num_features))
    w = rng.uniform(-np.pi, np.pi, vc.num_weights)
    s = rng.uniform(0.5, 1.5, vc.num_scales)
    np.testing.assert_allclose(vc.forward(x, w, s), per_sample_reference(vc, x, w, s), rtol=0, atol=1e-12)
    g = rng.normal(size=(3, vc.num_outputs))
    _, dw, dx, ds = vc.vjp(x, w, s, g)

    def loss(xx=x, ww=w, ss=s):
        return float(np.sum(vc.forward(xx, ww, ss) * g))

    np.testing.assert_allclose(dw, _finite_difference(lambda a: loss(ww=a), w), rtol=0, atol=1e-8)
    np.testing.assert_allclose(ds, _finite_difference(lambda a: loss(ss=a), s), rtol=0, atol=1e-8)
    np.testing.assert_allclose(dx, _finite_difference(lambda a: loss(xx=a), x), rtol=0, atol=1e-8)


def test_quantum_layer_inference_path_equals_autograd_path():
    # Without autograd (torch.no_grad, acting) the layer skips the autograd Function; both give the same values.
    layer = QuantumLayer(
        skolik_reuploading(4, 2), output_scaling=True, dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )
    with torch.no_grad():
        layer.output_scale.copy_(torch.tensor([0.5, -2.0], dtype=torch.float64))
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    with_grad = layer(x)
    assert with_grad.grad_fn is not None
    with torch.no_grad():
        without = layer(x)
    assert without.grad_fn is None and without.dtype == torch.float64
    torch.testing.assert_close(without, with_grad.detach(), rtol=0, atol=1e-15)
    raw = layer.circuit.forward(x.numpy(), layer.weights.detach().numpy(), layer.scales.detach().numpy())
    np.testing.assert_allclose(without.numpy(), raw * np.array([0.5, -2.0]), rtol=0, atol=1e-15)
    with torch.no_grad(), pytest.raises(ValueError, match="QuantumLayer.forward: inputs must be finite"):
        layer(torch.full((1, 4), float("nan"), dtype=torch.float64))


def test_quantum_layer_inference_sees_parameter_updates():
    # The inference path caches NumPy views of float64 parameters: in-place optimizer steps and replaced
    # parameters must both show through.
    layer = QuantumLayer(hardware_efficient(3, 1), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def expected():
        return layer.circuit.forward(x.numpy(), layer.weights.detach().numpy(), layer.scales.detach().numpy())

    with torch.no_grad():
        first = layer(x).numpy().copy()
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(x).sum().backward()
    opt.step()
    with torch.no_grad():
        second = layer(x).numpy()
        np.testing.assert_allclose(second, expected(), rtol=0, atol=1e-15)
        assert np.abs(second - first).max() > 1e-3
        layer.weights = torch.nn.Parameter(layer.weights.detach() + 1.0)
        np.testing.assert_allclose(layer(x).numpy(), expected(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_backward_from_kept_state_equals_recomputed(rng, dtype):
    vc, x, w, s = random_variational(rng, 4, 30)
    x = rng.normal(size=(11, 3))
    g = rng.normal(size=(11, vc.num_outputs))
    out, state = vc.plan.forward(x, w, s, dtype, True)
    np.testing.assert_array_equal(out, vc.plan.forward(x, w, s, dtype))
    lanes = vc.plan.lanes  # 16 below 7 qubits
    assert state.shape == (-(-11 // lanes), 2, 16, lanes) and state.dtype == np.dtype(dtype)
    # The kept states are the forward's statevectors: lane l of tile t is sample lanes t + l.
    t, lane = divmod(10, lanes)
    amplitudes = state[t, 0, :, lane] + 1j * state[t, 1, :, lane]
    sv = Statevector(4).apply(vc.circuit, vc.parameter_values(x[10:11], w, s)[0])
    np.testing.assert_allclose(amplitudes, sv.amplitudes, rtol=0, atol=1e-12 if dtype == "float64" else 1e-5)
    kept = vc.plan.backward(x, w, s, g, dtype, state)
    full = vc.plan.backward(x, w, s, g, dtype)
    assert kept[0] is None
    for a, b in zip(kept[1:], full[1:]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"state must be a C-contiguous array of shape \(1, 2, 16, 8\)"):
        vc.plan.backward(x[:5], w, s, g[:5], dtype, state)
    other = "float32" if dtype == "float64" else "float64"
    with pytest.raises(ValueError, match=f"state must have dtype {other}"):
        vc.plan.backward(x, w, s, g, other, state)
    with pytest.raises(ValueError, match="state must be the array returned by forward"):
        vc.plan.backward(x, w, s, g, dtype, [1.0])


def test_forward_output_scale_multiplies_each_column(rng):
    """forward(..., output_scale=o) = forward(...) * o bit for bit (the layer's inference path); bad scales raise."""
    vc, x, w, s = random_variational(rng, 3, 20)
    x = rng.normal(size=(9, 3))
    o = rng.normal(size=vc.num_outputs)
    for dtype in ("float64", "float32"):
        plain = vc.plan.forward(x, w, s, dtype)
        assert vc.plan.forward(x, w, s, dtype, False, o).tobytes() == (plain * o).tobytes()
        out, _ = vc.plan.forward(x, w, s, dtype, True, o)
        assert out.tobytes() == (plain * o).tobytes()
    with pytest.raises(ValueError, match=rf"output_scale must have shape \({vc.num_outputs},\)"):
        vc.plan.forward(x, w, s, "float64", False, np.ones(vc.num_outputs + 1))
    assert vc.plan.forward(x[:0], w, s, "float64", False, o).shape == (0, vc.num_outputs)
    # A non-finite scale propagates as in the autograd path's multiply (no error on either path).
    bad = o.copy()
    bad[0] = np.nan
    got = vc.plan.forward(x, w, s, "float64", False, bad)
    plain = vc.plan.forward(x, w, s, "float64")
    assert np.isnan(got[:, 0]).all() and got[:, 1:].tobytes() == (plain[:, 1:] * o[1:]).tobytes()


def test_quantum_layer_detects_weights_modified_between_forward_and_backward():
    layer = QuantumLayer(hardware_efficient(2, 1), dtype=torch.float64)
    out = layer(torch.zeros(1, 2, dtype=torch.float64))
    with torch.no_grad():
        layer.weights.add_(1.0)  # the backward would otherwise use the new weights with the old states
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_small_batches_reuse_the_cached_workspace_correctly(rng):
    # Single-tile calls share one cached workspace: alternating batch sizes (lane counts), weights and
    # precisions must give the same values as fresh plans.
    vc, x, w, s = random_variational(rng, 4, 30)
    w2 = w + 0.3
    for rows, weights, dtype in [
        (1, w, "float64"),
        (3, w, "float64"),
        (1, w2, "float64"),
        (1, w, "float32"),
        (5, w2, "float32"),
        (1, w, "float64"),
        (2, w2, "float64"),
    ]:
        got = vc.forward(x[:rows], weights, s, dtype=dtype)
        np.testing.assert_allclose(
            got, per_sample_reference(vc, x[:rows], weights, s), rtol=0, atol=1e-10 if dtype == "float64" else 1e-5
        )
        fresh = VariationalCircuit(vc.circuit, vc.sources, observables=vc.observables, num_features=3)
        np.testing.assert_array_equal(got, fresh.forward(x[:rows], weights, s, dtype=dtype))
