"""QuantumLayer(circuit, backend=...): the same `layer(x)` and `.backward()` on the C++ simulator
and on Qiskit backends and primitives.

Each test builds the simulator layer and the Qiskit-backed layer with the same parameters and
compares outputs and the gradients of inputs, weights and scales (and output_scale where used).
Exact targets (StatevectorEstimator, Aer's EstimatorV2 with precision 0) agree to 1e-8, also after
transpilation to a GenericBackendV2's ISA; shot-based targets agree within 5 standard errors whose
bounds come from the shot count (quantum/test_qiskit_executor.py, `_shot_bounds`) with
grad_outputs = ones, the gradient of `layer(x).sum()` (probabilities, which sum to 1, get fixed
weights instead).
"""

import copy
import math

import numpy as np
import pytest
import torch

from nextrl.quantum import QiskitExecutor, QuantumLayer
from nextrl.quantum.ansatz import skolik_reuploading
from nextrl.quantum.backends import LayerBackend, SimulatorBackend, resolve_backend
from nextrl.quantum.backends.simulator import SIMULATOR
from quantum.test_qiskit_executor import (
    K_SE,
    NO_QUBIT_PROPERTIES,
    SHOTS,
    _all_gates_vc,
    _assert_close,
    _shot_bounds,
    _small_vc,
)


def _pair(vc, backend, *, output_scaling=False, seed=0):
    """(simulator layer, layer on `backend`) with equal float64 parameters, scales away from 1."""
    ref = QuantumLayer(
        vc, output_scaling=output_scaling, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        ref.scales.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(seed + 1))
        if output_scaling:
            ref.output_scale.uniform_(0.5, 2.0, generator=torch.Generator().manual_seed(seed + 2))
    layer = QuantumLayer(vc, backend=backend, output_scaling=output_scaling, dtype=torch.float64)
    layer.load_state_dict(ref.state_dict())
    return ref, layer


def _inputs(vc, batch, seed):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, vc.num_features, dtype=torch.float64, generator=gen) * 3 - 1.5).requires_grad_()


def _loss_weights(vc, batch):
    """grad_outputs of the loss: ones (layer(x).sum()) for observables; for probabilities, whose sum is 1
    whatever the angles, fixed weights in [-1, 1] (layer(x) @ c).sum()."""
    if vc.observables is not None:
        return np.ones((batch, vc.num_outputs))
    return np.tile(np.linspace(-1.0, 1.0, vc.num_outputs), (batch, 1))


def _sum_backward(layer, x):
    """layer(x).sum().backward() (weighted for probabilities, see _loss_weights):
    (outputs, [d inputs, d weights, d scales (, d output_scale)])."""
    layer.zero_grad()
    x.grad = None
    out = layer(x)
    (out * torch.from_numpy(_loss_weights(layer.circuit, x.shape[0]))).sum().backward()
    params = [layer.weights, layer.scales] + ([layer.output_scale] if layer.output_scale is not None else [])
    return out.detach().numpy(), [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in params]


def _check_exact(ref, layer, x, atol=1e-8):
    out_ref, grads_ref = _sum_backward(ref, x)
    out, grads = _sum_backward(layer, x)
    np.testing.assert_allclose(out, out_ref, rtol=0, atol=atol)
    for got, want in zip(grads, grads_ref):
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    assert np.abs(grads_ref[1]).max() > 1e-3  # non-trivial weight gradients


def _check_shots(ref, layer, x, shots, k=K_SE):
    """Outputs and gradients of layer(x).sum() within k shot-noise standard errors of the simulator."""
    out_ref, (dx_ref, dw_ref, ds_ref) = _sum_backward(ref, x)
    jobs = layer.backend.num_jobs
    out, (dx, dw, ds) = _sum_backward(layer, x)
    assert layer.backend.num_jobs == jobs + 1  # forward and backward: one job
    vc = layer.circuit
    xs, s = x.detach().numpy(), layer.scales.detach().numpy()
    sd_out, sd_w, sd_x, sd_s = _shot_bounds(vc, xs, s, _loss_weights(vc, xs.shape[0]), shots)
    for name, got, want, sd in (
        ("outputs", out, out_ref, sd_out),
        ("d_weights", dw, dw_ref, sd_w),
        ("d_inputs", dx, dx_ref, sd_x),
        ("d_scales", ds, ds_ref, sd_s),
    ):
        _assert_close(name, got, want, sd, k)


# ------------------------------------------------------------------------------- the protocol
def test_default_backend_is_the_simulator():
    vc = skolik_reuploading(2, 2)
    layer = QuantumLayer(vc)
    assert layer.backend is SIMULATOR and QuantumLayer(vc, backend="simulator").backend is SIMULATOR
    assert isinstance(layer.backend, SimulatorBackend) and isinstance(layer.backend, LayerBackend)
    assert set(layer.state_dict()) == {"weights", "scales"}  # the backend is not state
    assert copy.deepcopy(SIMULATOR) is SIMULATOR  # stateless: copies share the one instance


def test_any_object_with_layer_outputs_is_a_backend():
    """A backend sees checked 2-D inputs; a 1-D input comes back 1-D."""
    seen = []

    class Spy:
        def layer_outputs(self, layer, x):
            seen.append(tuple(x.shape))
            return SIMULATOR.layer_outputs(layer, x)

    vc = skolik_reuploading(2, 1)
    ref, layer = _pair(vc, Spy())
    x = _inputs(vc, 4, seed=1)
    _check_exact(ref, layer, x, atol=0)
    assert layer(x[0].detach()).shape == (2,)
    assert seen == [(4, 2), (1, 2)]


def test_qiskit_targets_are_wrapped_in_an_executor():
    from qiskit.primitives import StatevectorEstimator
    from qiskit.providers.fake_provider import GenericBackendV2

    est = StatevectorEstimator()
    ex = resolve_backend("QuantumLayer", est)
    assert isinstance(ex, QiskitExecutor) and ex.target is est and ex.shots == 4096
    device = GenericBackendV2(2, seed=1)
    layer = QuantumLayer(_small_vc(), backend=device)
    assert isinstance(layer.backend, QiskitExecutor) and layer.backend.backend is device
    given = QiskitExecutor(est, shots=None)
    assert QuantumLayer(_small_vc(), backend=given).backend is given


# ----------------------------------------------------------------------------- exact targets
def test_statevector_estimator_layer_equals_simulator_layer():
    """Every gate kind with output scaling: values and all gradients to 1e-8, one job per batch."""
    from qiskit.primitives import StatevectorEstimator

    vc = _all_gates_vc()
    ex = QiskitExecutor(StatevectorEstimator(), shots=None)
    ref, layer = _pair(vc, ex, output_scaling=True, seed=2)
    _check_exact(ref, layer, _inputs(vc, 3, seed=3))
    assert ex.num_jobs == 1
    with torch.no_grad():
        np.testing.assert_allclose(
            layer(_inputs(vc, 2, seed=4)).numpy(), ref(_inputs(vc, 2, seed=4)).numpy(), rtol=0, atol=1e-8
        )
    assert ex.num_jobs == 2
    single = layer(_inputs(vc, 1, seed=5)[0].detach())
    assert single.shape == (vc.num_outputs,)


def test_estimator_probabilities_layer_equals_simulator_layer():
    from qiskit.primitives import StatevectorEstimator

    vc = _all_gates_vc(probabilities=[2, 0])
    ref, layer = _pair(vc, QiskitExecutor(StatevectorEstimator(), shots=None), seed=6)
    _check_exact(ref, layer, _inputs(vc, 2, seed=7))


@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_generic_backend_isa_without_shots_equals_simulator_layer():
    """Transpiled to a GenericBackendV2's ISA (4 qubits on a line), run exactly: 1e-8."""
    from qiskit.primitives import StatevectorEstimator
    from qiskit.providers.fake_provider import GenericBackendV2

    device = GenericBackendV2(4, coupling_map=[[0, 1], [1, 2], [2, 3]], seed=5, noise_info=False)
    ex = QiskitExecutor(StatevectorEstimator(), shots=None, backend=device, seed=3)
    vc = _all_gates_vc()
    ref, layer = _pair(vc, ex, seed=8)
    _check_exact(ref, layer, _inputs(vc, 2, seed=9))
    isa = ex.program(vc).isa_circuit
    assert isa.num_qubits == 4 and set(isa.count_ops()) <= set(device.operation_names)


def test_aer_estimator_exact_equals_simulator_layer():
    from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

    vc = _all_gates_vc()
    ref, layer = _pair(vc, QiskitExecutor(AerEstimatorV2(), shots=None), seed=10)
    _check_exact(ref, layer, _inputs(vc, 2, seed=11))


# ------------------------------------------------------------------------------ with shots
def test_aer_simulator_layer_within_shot_noise():
    from qiskit_aer import AerSimulator

    vc = _small_vc()
    ref, layer = _pair(vc, QiskitExecutor(AerSimulator(), shots=SHOTS, seed=21), seed=12)
    _check_shots(ref, layer, _inputs(vc, 3, seed=13), SHOTS)


@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_generic_backend_layer_within_shot_noise():
    from qiskit.providers.fake_provider import GenericBackendV2

    device = GenericBackendV2(4, coupling_map=[[0, 1], [1, 2], [2, 3]], seed=5, noise_info=False)
    vc = _small_vc()
    ref, layer = _pair(vc, QiskitExecutor(device, shots=SHOTS, seed=22), seed=14)
    _check_shots(ref, layer, _inputs(vc, 3, seed=15), SHOTS)


@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_generic_backend_sampler_probabilities_layer_within_shot_noise():
    from qiskit.providers.fake_provider import GenericBackendV2

    vc = _small_vc(probabilities=[1, 0])
    ex = QiskitExecutor(GenericBackendV2(3, seed=6, noise_info=False), shots=SHOTS, seed=23)
    ref, layer = _pair(vc, ex, seed=16)
    _check_shots(ref, layer, _inputs(vc, 3, seed=17), SHOTS)
    assert ex.program(vc).kind == "sampler"


def test_fake_ibm_backend_layer_within_shot_noise():
    """FakeManilaV2's ISA and coupling map, without its noise."""
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    from qiskit_aer import AerSimulator

    ideal = AerSimulator.from_backend(fake_provider.FakeManilaV2(), noise_model=None)
    vc = _small_vc()
    ex = QiskitExecutor(ideal, shots=SHOTS, seed=24)
    ref, layer = _pair(vc, ex, seed=18)
    _check_shots(ref, layer, _inputs(vc, 3, seed=19), SHOTS)
    assert set(ex.program(vc).isa_circuit.count_ops()) <= {"rz", "sx", "x", "cx", "measure", "barrier"}


def test_shot_layer_differs_from_exact_by_noise_of_the_stated_size():
    """The shot-based comparison is not vacuous: outputs differ from the exact ones, by about one
    standard error (1 / sqrt(shots)) and not by much more."""
    from qiskit_aer import AerSimulator

    vc = _small_vc()
    ref, layer = _pair(vc, QiskitExecutor(AerSimulator(), shots=SHOTS, seed=25), seed=20)
    x = _inputs(vc, 8, seed=21)
    with torch.no_grad():
        err = np.abs(layer(x).numpy() - ref(x).numpy())
    assert 0.05 / math.sqrt(SHOTS) < err.max() < K_SE / math.sqrt(SHOTS)


# ---------------------------------------------------------------------------------- errors
def test_backend_errors():
    from qiskit.primitives import StatevectorEstimator, StatevectorSampler

    vc = _small_vc()
    with pytest.raises(ValueError, match=r"QuantumLayer: backend must be None, 'simulator', .*got 'gpu'"):
        QuantumLayer(vc, backend="gpu")
    with pytest.raises(TypeError, match=r"QuantumLayer: backend must be None, 'simulator', .*got builtins.int"):
        QuantumLayer(vc, backend=42)
    layer = QuantumLayer(vc, backend=QiskitExecutor(StatevectorEstimator(), shots=None), dtype=torch.float64)
    with pytest.raises(ValueError, match=r"QuantumLayer.forward: inputs must have shape \(batch, 2\), got \(2, 3\)"):
        layer(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="QuantumLayer.forward: inputs must be finite"):
        layer(torch.full((1, 2), float("nan"), dtype=torch.float64))
    with pytest.raises(TypeError, match="QuantumLayer.forward: inputs must be floating point"):
        layer(torch.zeros(1, 2, dtype=torch.int64))
    assert layer.backend.num_jobs == 0
    sampler_layer = QuantumLayer(vc, backend=QiskitExecutor(StatevectorSampler(seed=1), shots=100))
    with pytest.raises(ValueError, match="expectation-value read-outs need an Estimator"):
        sampler_layer(torch.zeros(1, 2))
