"""The CUDA backend (csrc/cuda, nextrl.quantum.cuda) against the CPU path: device statevectors on random circuits
over the whole gate set (fused and unfused), read-outs and seeded sampling; batched variational circuits and the
QuantumLayer on CUDA tensors, forward and adjoint gradients, float64 to 1e-10 and float32 to 1e-5. The CPU path
is itself tested against Qiskit and a dense reference (test_statevector.py, test_variational.py). Every test but
the error paths without a GPU needs a CUDA build and a visible GPU (marker `cuda`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nextrl
from conftest import random_circuit, random_pauli_terms
from nextrl.quantum import QuantumLayer, Statevector
from nextrl.quantum import cuda as qcuda
from nextrl.quantum.ansatz import hardware_efficient, skolik_reuploading
from quantum.test_variational import random_variational

TOL = {np.complex128: 1e-10, np.complex64: 1e-5}
DTYPES = [np.complex128, np.complex64]


# ------------------------------------------------------------------------------------- without a GPU
@pytest.mark.skipif(qcuda.available(), reason="checks the errors of a machine without a GPU")
def test_cuda_requests_without_a_gpu_raise_clear_errors():
    with pytest.raises(RuntimeError, match="no CUDA kernels|no CUDA device"):
        Statevector(3, device="cuda")
    with pytest.raises(RuntimeError, match="no CUDA kernels|no CUDA device"):
        Statevector(3).cuda()


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda', got 'tpu'"):
        Statevector(3, device="tpu")


# ------------------------------------------------------------------------------------- statevector
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num_qubits,fusion", [(3, True), (6, True), (6, False), (11, True), (11, 3)])
def test_random_circuits_match_the_cpu(rng, num_qubits, fusion, dtype):
    for _ in range(3):
        rc = random_circuit(rng, num_qubits, num_gates=60)
        cpu = Statevector(num_qubits, dtype).apply(rc.circuit, rc.params)
        gpu = Statevector(num_qubits, dtype, device="cuda").apply(rc.circuit, rc.params, fusion=fusion)
        np.testing.assert_allclose(gpu.cpu().amplitudes, cpu.amplitudes, rtol=0, atol=TOL[dtype])


@pytest.mark.cuda
def test_fused_blocks_come_from_the_fusion_pass(rng):
    rc = random_circuit(rng, 8, num_gates=80, kinds=["1q", "1q_rot", "2q", "2q_rot"])
    fused = qcuda.device_circuit(rc.circuit, True)
    unfused = qcuda.device_circuit(rc.circuit, False)
    num_ops = unfused.num_blocks  # one block per op (and one for the global phase)
    assert num_ops >= len(rc.circuit)
    assert fused.num_blocks < unfused.num_blocks
    assert max(len(q) for q, _, _ in fused.blocks) <= qcuda.MAX_FUSED_QUBITS
    assert sorted(op for _, ops, _ in fused.blocks for op in ops) == list(range(num_ops))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_read_outs_match_the_cpu(rng, dtype):
    n = 9
    rc = random_circuit(rng, n, num_gates=50)
    cpu = Statevector(n, dtype).apply(rc.circuit, rc.params)
    gpu = cpu.cuda()
    tol = TOL[dtype]
    assert gpu.norm() == pytest.approx(cpu.norm(), abs=tol)
    for qubits in (None, [3], [0, 5, 2], list(range(n))[::-1]):
        np.testing.assert_allclose(gpu.probabilities(qubits), cpu.probabilities(qubits), rtol=0, atol=tol)
    for _ in range(3):
        obs = random_pauli_terms(rng, n, 4)
        assert gpu.expectation(obs) == pytest.approx(cpu.expectation(obs), abs=10 * tol)
    rc2 = random_circuit(rng, n, num_gates=30)
    other_cpu = Statevector(n, dtype).apply(rc2.circuit, rc2.params)
    assert gpu.inner(other_cpu.cuda()) == pytest.approx(cpu.inner(other_cpu), abs=10 * tol)


@pytest.mark.cuda
def test_sampling_draws_the_cpu_paths_outcomes(rng):
    n = 10
    rc = random_circuit(rng, n, num_gates=60)
    cpu = Statevector(n).apply(rc.circuit, rc.params)
    gpu = cpu.cuda()
    for qubits in (None, [1, 7], [4]):
        a, b = gpu.sample(5000, qubits, seed=123), cpu.sample(5000, qubits, seed=123)
        # The device sums probabilities in another order: an outcome may differ only where a uniform falls
        # within rounding (~1e-15) of a cumulative boundary.
        assert np.mean(a != b) < 1e-3
    assert gpu.sample_counts(100, seed=5) == cpu.sample_counts(100, seed=5)


@pytest.mark.cuda
def test_measure_collapses_like_the_cpu(rng):
    n = 7
    rc = random_circuit(rng, n, num_gates=40)
    for seed in range(5):
        cpu = Statevector(n).apply(rc.circuit, rc.params)
        gpu = cpu.cuda()
        assert gpu.measure(3, seed=seed) == cpu.measure(3, seed=seed)
        np.testing.assert_allclose(gpu.cpu().amplitudes, cpu.amplitudes, rtol=0, atol=1e-12)


@pytest.mark.cuda
def test_device_state_errors():
    sv = Statevector(4, device="cuda")
    with pytest.raises(RuntimeError, match=r"call \.cpu\(\)"):
        _ = sv.amplitudes
    with pytest.raises(IndexError, match="qubit 4 out of range for 4 qubits"):
        sv.probabilities([4])
    with pytest.raises(ValueError, match="circuit has 3 qubits, state has 4"):
        sv.apply(random_circuit(np.random.default_rng(0), 3, 5).circuit, None)
    with pytest.raises(MemoryError, match="need 17592186044416 bytes"):
        Statevector(40, np.complex128, device="cuda")


# ------------------------------------------------------------------------------ variational circuits
def _cuda(a, dtype):
    return torch.as_tensor(np.asarray(a), dtype=dtype, device="cuda")


@pytest.mark.cuda
@pytest.mark.parametrize("precision,tol", [("float64", 1e-10), ("float32", 1e-5)])
@pytest.mark.parametrize("n", [1, 4, 8])
@pytest.mark.parametrize("probabilities", [False, True])
def test_batched_forward_and_adjoint_match_the_cpu(rng, n, probabilities, precision, tol):
    dt = torch.float64 if precision == "float64" else torch.float32
    for _ in range(2):
        vc, x, w, s = random_variational(rng, n, num_gates=40, probabilities=probabilities)
        x = rng.normal(size=(37, vc.num_features))  # not a multiple of the samples per block
        g = rng.normal(size=(37, vc.num_outputs))
        out, dw, dx, ds = vc.vjp(x, w, s, g, dtype=precision)
        got = qcuda.vjp(vc, _cuda(x, dt), _cuda(w, dt), _cuda(s, dt), _cuda(g, dt), dtype=precision)
        # Per-sample values to tol; d_weights and d_scales sum 37 samples, so their rounding grows with the batch.
        size = 1 + np.abs(out).max() + np.abs(g).max()
        for a, b, summed in zip(got, (out, dw, dx, ds), (False, True, False, True)):
            atol = tol * size * (x.shape[0] if summed else 1)
            np.testing.assert_allclose(a.cpu().double().numpy(), b, rtol=0, atol=atol)


@pytest.mark.cuda
def test_results_are_deterministic_and_batch_independent(rng):
    vc = skolik_reuploading(4, 5)
    w = rng.uniform(-np.pi, np.pi, vc.num_weights)
    s = np.ones(vc.num_scales)
    x = rng.normal(size=(1000, vc.num_features))
    g = rng.normal(size=(1000, vc.num_outputs))
    a = qcuda.vjp(
        vc,
        _cuda(x, torch.float32),
        _cuda(w, torch.float32),
        _cuda(s, torch.float32),
        _cuda(g, torch.float32),
        dtype="float32",
    )
    b = qcuda.vjp(
        vc,
        _cuda(x, torch.float32),
        _cuda(w, torch.float32),
        _cuda(s, torch.float32),
        _cuda(g, torch.float32),
        dtype="float32",
    )
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    head = qcuda.vjp(
        vc,
        _cuda(x[:7], torch.float32),
        _cuda(w, torch.float32),
        _cuda(s, torch.float32),
        _cuda(g[:7], torch.float32),
        dtype="float32",
    )
    assert torch.equal(head[0], a[0][:7])  # the kernel's per-sample outputs do not depend on the batch
    # d_inputs go through one matmul [B, P] @ [P, F] whose summation order cuBLAS may pick by B.
    torch.testing.assert_close(head[2], a[2][:7], rtol=0, atol=1e-6)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_quantum_layer_on_cuda_tensors_matches_the_cpu_layer(dtype):
    gen = torch.Generator().manual_seed(3)
    cpu = QuantumLayer(hardware_efficient(5, 3), output_scaling=True, dtype=dtype, generator=gen)
    with torch.no_grad():
        cpu.output_scale.mul_(torch.linspace(0.5, 1.5, cpu.num_outputs, dtype=dtype))
        if cpu.scales.numel():
            cpu.scales.mul_(1.3)
    gpu = QuantumLayer(hardware_efficient(5, 3), output_scaling=True, dtype=dtype)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = torch.randn(64, cpu.num_features, generator=gen, dtype=dtype)
    xg = x.cuda().requires_grad_(True)
    xc = x.clone().requires_grad_(True)
    out_c, out_g = cpu(xc), gpu(xg)
    assert out_g.is_cuda and out_g.dtype == dtype
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(out_g.detach().cpu().numpy(), out_c.detach().numpy(), rtol=0, atol=tol)
    (out_c**2).sum().backward()
    (out_g**2).sum().backward()
    for pc, pg in zip(list(cpu.parameters()) + [xc], list(gpu.parameters()) + [xg]):
        np.testing.assert_allclose(pg.grad.cpu().numpy(), pc.grad.numpy(), rtol=0, atol=50 * tol)
    with torch.no_grad():  # the inference path equals the autograd path
        torch.testing.assert_close(gpu(x.cuda()), out_g.detach(), rtol=0, atol=0)


@pytest.mark.cuda
def test_quantum_layer_cuda_errors():
    layer = QuantumLayer(skolik_reuploading(4, 2))
    with pytest.raises(ValueError, match="move the layer with layer.to"):
        layer(torch.zeros(3, layer.num_features, device="cuda"))
    layer.to("cuda")
    with pytest.raises(ValueError, match="inputs must be finite"):
        layer(torch.full((3, layer.num_features), float("nan"), device="cuda"))


@pytest.mark.cuda
def test_large_registers_run_one_state_per_block(rng):
    vc, _, w, s = random_variational(rng, 11, num_gates=30)
    x = rng.normal(size=(9, vc.num_features))
    g = rng.normal(size=(9, vc.num_outputs))
    out, dw, dx, ds = vc.vjp(x, w, s, g, dtype="float64")
    got = qcuda.vjp(
        vc,
        _cuda(x, torch.float64),
        _cuda(w, torch.float64),
        _cuda(s, torch.float64),
        _cuda(g, torch.float64),
        dtype="float64",
    )
    for a, b in zip(got, (out, dw, dx, ds)):
        np.testing.assert_allclose(a.cpu().numpy(), b, rtol=0, atol=1e-9)


def test_build_reports_cuda_consistently():
    info = nextrl.build_info()
    assert info["cuda_available"] == qcuda.available()
