"""QiskitExecutor: VariationalCircuits and QuantumLayers on Qiskit backends and V2 primitives.

Exact checks use qiskit's StatevectorEstimator (shots=None): values and parameter-shift
gradients equal the nextrl adjoint method to 1e-8. Shot-based checks compare with the exact
nextrl simulator within 5 standard errors, where the standard error is an upper bound
computed from the shot count (see `_shot_bounds`); noisy runs compare with Aer's exact
density-matrix result under the same noise model, or with the ideal value within a stated
looser bound.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from nextrl.quantum import Circuit, Feature, Parameter, QiskitExecutor, QuantumLayer, VariationalCircuit, Weight
from nextrl.quantum.ansatz import skolik_reuploading
from nextrl.quantum.parameters import ParameterExpression
from nextrl.quantum.qiskit_executor import SHIFT_RULES, shift_rule

# GenericBackendV2(noise_info=False) makes Aer warn that its (empty) noise model has no relaxation.
NO_QUBIT_PROPERTIES = "ignore:Qiskit backend .* has no QubitProperties:UserWarning"
SHOTS = 4000
K_SE = 5.0  # tolerance in standard errors


# ----------------------------------------------------------------------------- circuits
def _small_vc(probabilities=None) -> VariationalCircuit:
    """2 qubits, 7 angle occurrences: weights (one shared by two gates with an affine factor),
    re-uploaded features with trainable scales, an unscaled feature and a controlled rotation
    (four-term rule). Read-out: Z-type Paulis (no basis change, so gate noise is all the noise)."""
    c = Circuit(2)
    w0, w1, w2, x0, x1, u1 = (Parameter(n) for n in ("w0", "w1", "w2", "x0", "x1", "u1"))
    c.ry(w0, 0).ry(w1, 1).cx(0, 1)
    c.rx(x0, 0).rx(x1, 1)
    c.crx(w2, 1, 0)
    c.ry(0.5 * w0 - 0.2, 1)
    c.cx(1, 0).ry(u1, 0)
    sources = {
        w0: Weight(0),
        w1: Weight(1),
        w2: Weight(2),
        x0: Feature(0, scale=0),
        x1: Feature(1, scale=1),
        u1: Feature(1),
    }
    if probabilities is not None:
        return VariationalCircuit(c, sources, probabilities=probabilities)
    return VariationalCircuit(c, sources, observables=["ZI", "IZ", "ZZ"])


def _all_gates_vc(probabilities=None) -> VariationalCircuit:
    """3 qubits with every parameterized gate kind, controlled ones (four-term rule), a
    multi-controlled rotation with an open control, shared slots with affine angles, scaled and
    unscaled features, a symbolic global phase and non-diagonal weighted observables."""
    c = Circuit(3)
    a, b, cc, d, e, f, x0, x1 = (Parameter(n) for n in ("a", "b", "c", "d", "e", "f", "x0", "x1"))
    c.h(0).ry(a, 0).rx(2 * x0 + 0.3, 1).h(2)
    c.crx(b, 0, 1).cry(-1.5 * a + 0.2, 1, 2).crz(cc, 2, 0).cp(d, 0, 2)
    c.rzz(e, 0, 1).rxx(x1, 1, 2).ryy(f, 0, 2)
    c.u(a, b, x0, 1)
    c.append("u", [2], [d, 2 * e, f], controls=[0])
    c.append("rx", [2], [0.7 * x1], controls=[0, 1], ctrl_state=1)
    c.append("ryy", [0, 1], [b], controls=[2])
    c.p(e, 1).rz(x1, 0).sx(1).t(2)
    c.global_phase = 0.5 * e
    sources = {
        a: Weight(0),
        b: Weight(1),
        cc: Weight(2),
        d: Weight(3),
        e: Weight(4),
        f: Weight(5),
        x0: Feature(0, scale=0),
        x1: Feature(1, scale=1),
    }
    if probabilities is not None:
        return VariationalCircuit(c, sources, probabilities=probabilities)
    return VariationalCircuit(c, sources, observables=["ZII", "XYZ", [("ZZI", 0.5), ("IXX", -1.2)], "YIX"])


def _occurrences(vc: VariationalCircuit):
    """(Parameter, affine factor, shift-rule terms) per angle occurrence (global phase excluded)."""
    out = []
    for ins in vc.circuit:
        for i, v in enumerate(ins.params):
            if isinstance(v, Parameter):
                out.append((v, 1.0, shift_rule(ins.base, len(ins.controls), i)))
            elif isinstance(v, ParameterExpression):
                out.append((v.parameter, v.scale, shift_rule(ins.base, len(ins.controls), i)))
    return out


def _rows_per_sample(vc: VariationalCircuit) -> int:
    return 1 + sum(terms for _, _, terms in _occurrences(vc))


def _data(vc, batch, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, size=(batch, vc.num_features))
    w = rng.uniform(-math.pi, math.pi, size=vc.num_weights)
    s = rng.uniform(0.5, 1.5, size=vc.num_scales)
    g = rng.normal(size=(batch, vc.num_outputs))
    return x, w, s, g


# ----------------------------------------------------------------------- shot-noise bound
def _shot_bounds(vc, x, s, g, shots):
    """Upper bounds on the standard errors of (outputs, d_weights, d_inputs, d_scales).

    Outputs: a Pauli expectation from N shots has variance (1 - <P>^2) / N <= 1 / N; a
    probability p(1 - p) / N <= 1 / (4 N). For sample b the shifted rows of occurrence k give
    dL/dtheta_k = sum_rows coefficient * sum_a g[b, a] E_a with independent rows; the
    variance of sum_a g_a E_a within a row is at most G_b^2 / N with G_b = sum_a |g[b, a]|
    (Paulis, Cauchy-Schwarz over correlated outputs) or (max_a g - min_a g) / 2 (one
    multinomial); the sum of squared coefficients is 1/2 (two-term) or 3/8 (four-term) <= 1/2.
    Occurrences and samples use distinct rows, so variances add through the chain rule."""
    if vc.observables is not None:
        sd_out, G = 1.0 / math.sqrt(shots), np.abs(g).sum(axis=1)
    else:
        sd_out, G = 0.5 / math.sqrt(shots), (g.max(axis=1) - g.min(axis=1)) / 2
    var_theta = 0.5 * G**2 / shots  # [B]: per occurrence per sample
    var_w, var_x, var_s = np.zeros(vc.num_weights), np.zeros_like(x), np.zeros(vc.num_scales)
    for p, factor, _ in _occurrences(vc):
        src = vc.sources[p]
        if isinstance(src, Weight):
            var_w[src.index] += factor**2 * var_theta.sum()
        else:
            k = factor * (s[src.scale] if src.scale is not None else 1.0)
            var_x[:, src.index] += k**2 * var_theta
            if src.scale is not None:
                var_s[src.scale] += (factor**2 * x[:, src.index] ** 2 * var_theta).sum()
    return sd_out, np.sqrt(var_w), np.sqrt(var_x), np.sqrt(var_s)


def _assert_close(name, got, want, sd, k=K_SE, extra=0.0):
    got, want = np.asarray(got), np.asarray(want)
    tol = k * np.asarray(sd) + extra
    err = np.abs(got - want)
    assert np.all(err <= tol), f"{name}: max |error| / tolerance = {np.max(err / tol):.3g} (errors {err.ravel()})"


def _check_shots(ex, vc, x, w, s, g, reference=None, k=K_SE, extra=0.0, rel=0.0):
    """vjp on `ex` within k standard errors (plus `extra` + rel * |reference|) of the reference
    (default: the exact nextrl simulator); one job per call."""
    jobs = ex.num_jobs
    out, dw, dx, ds = ex.vjp(vc, x, w, s, g)
    assert ex.num_jobs == jobs + 1
    ref = vc.vjp(x, w, s, g) if reference is None else reference
    sd = _shot_bounds(vc, x, s, g, ex.shots)
    for name, got, want, e in zip(("outputs", "d_weights", "d_inputs", "d_scales"), (out, dw, dx, ds), ref, sd):
        _assert_close(name, got, want, e, k, extra + rel * np.abs(want))
    return out, dw, dx, ds


def _structure(qc):
    """Gate names and physical qubits, in order (parameter objects differ between compilations)."""
    return [(ci.operation.name, tuple(qc.find_bit(q).index for q in ci.qubits)) for ci in qc.data]


def _isa_ops_ok(ex, vc):
    isa = ex.program(vc).isa_circuit
    allowed = set(ex.backend.operation_names) | {"barrier", "measure"}
    assert set(isa.count_ops()) <= allowed, isa.count_ops()
    assert isa.num_qubits == ex.backend.num_qubits


# ------------------------------------------------------------------------ shift rules
@pytest.mark.parametrize(
    "gate, controls, index",
    [
        ("rx", 0, 0),
        ("ry", 0, 0),
        ("rz", 0, 0),
        ("p", 0, 0),
        ("rxx", 0, 0),
        ("ryy", 0, 0),
        ("rzz", 0, 0),
        ("u", 0, 0),
        ("u", 0, 1),
        ("u", 0, 2),
        ("rx", 1, 0),
        ("ry", 1, 0),
        ("rz", 1, 0),
        ("p", 1, 0),
        ("rzz", 1, 0),
        ("u", 1, 0),
        ("u", 1, 1),
        ("u", 1, 2),
        ("ry", 2, 0),
        ("p", 2, 0),
    ],
)
def test_shift_rule_is_exact_for_each_gate(gate, controls, index):
    """The chosen rule reproduces the adjoint derivative (nextrl simulator, 1e-10); for the
    four-term gates the two-term rule is visibly wrong, so the extra terms are needed."""
    targets = 2 if gate in ("rxx", "ryy", "rzz") else 1
    n = targets + controls
    c = Circuit(n)
    t = Parameter("t")
    for q in range(n):
        c.h(q).ry(0.3 + 0.4 * q, q)
    angles = [0.4, -0.7, 1.1]
    angles[index] = t
    nparams = 3 if gate == "u" else 1
    c.append(gate, list(range(controls, n)), angles[:nparams], controls=list(range(controls)))
    for q in range(n):
        c.rx(0.2 * q - 0.5, q)
    obs = ["X" * n, "Z" * n, "Y" + "X" * (n - 1)]
    vc = VariationalCircuit(c, {t: Weight(0)}, observables=obs)
    rule = shift_rule(gate, controls, index)
    assert rule == (4 if (controls and (gate in ("rx", "ry", "rz", "rzz") or (gate == "u" and index == 0))) else 2)
    x = np.zeros((1, 0))
    for theta in (0.0, 0.9, -2.3):
        exact = np.array([vc.vjp(x, [theta], None, np.eye(3)[[a]])[1][0] for a in range(3)])
        shifted = sum(coef * vc.forward(x, [theta + shift])[0] for shift, coef in SHIFT_RULES[rule])
        np.testing.assert_allclose(shifted, exact, atol=1e-10)
        if rule == 4 and theta == 0.9:
            two = sum(coef * vc.forward(x, [theta + shift])[0] for shift, coef in SHIFT_RULES[2])
            assert np.abs(two - exact).max() > 1e-3


# ------------------------------------------------------------------------- exact runs
def test_exact_values_and_gradients_match_adjoint():
    from qiskit.primitives import StatevectorEstimator

    vc = _all_gates_vc()
    x, w, s, g = _data(vc, 2, seed=0)
    ex = QiskitExecutor(StatevectorEstimator(), shots=None)
    out, dw, dx, ds = ex.vjp(vc, x, w, s, g)
    ref = vc.vjp(x, w, s, g)
    for got, want in zip((out, dw, dx, ds), ref):
        np.testing.assert_allclose(got, want, atol=1e-8, rtol=0)
    np.testing.assert_allclose(ex.forward(vc, x, w, s), vc.forward(x, w, s), atol=1e-8, rtol=0)
    assert ex.num_jobs == 2
    assert np.abs(dw).min() > 1e-4  # every weight has a non-trivial gradient here


def test_exact_probabilities_through_an_estimator():
    """Probability read-outs on an Estimator: Z-string expectations, combined exactly."""
    from qiskit.primitives import StatevectorEstimator

    vc = _all_gates_vc(probabilities=[2, 0])
    x, w, s, g = _data(vc, 2, seed=1)
    ex = QiskitExecutor(StatevectorEstimator(), shots=None)
    out, dw, dx, ds = ex.vjp(vc, x, w, s, g)
    for got, want in zip((out, dw, dx, ds), vc.vjp(x, w, s, g)):
        np.testing.assert_allclose(got, want, atol=1e-8, rtol=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)


def test_exact_aer_estimator_transpiles_to_its_simulator():
    from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

    vc = _all_gates_vc()
    x, w, s, g = _data(vc, 2, seed=2)
    ex = QiskitExecutor(AerEstimatorV2(), shots=None)  # precision 0: exact statevector
    # (Aer binds parameters of controlled gates wrongly: the executor decomposes them for Aer)
    assert ex.backend is not None  # Aer's simulator, found on the primitive
    for got, want in zip(ex.vjp(vc, x, w, s, g), vc.vjp(x, w, s, g)):
        np.testing.assert_allclose(got, want, atol=1e-8, rtol=0)


# ----------------------------------------------------------------------- torch layers
class _SpyEstimator:
    """A duck-typed V2 estimator (only `run(pubs, *, precision)`) recording its PUBs."""

    def __init__(self):
        from qiskit.primitives import StatevectorEstimator

        self.inner = StatevectorEstimator()
        self.pubs = []

    def run(self, pubs, *, precision=None):
        pubs = list(pubs)
        self.pubs.append(pubs)
        return self.inner.run(pubs, precision=precision)


def test_layer_forward_backward_exact_in_one_job():
    """Skolik re-uploading layer with output scaling: values and gradients of every parameter
    and of the inputs equal the nextrl layer's (1e-8); forward + backward is one job with one
    PUB of B * (1 + sum of rule terms) parameter sets."""
    torch.manual_seed(0)
    vc = skolik_reuploading(2, 2)
    layer = QuantumLayer(vc, output_scaling=True, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        layer.scales.uniform_(0.5, 1.5)
        layer.output_scale.uniform_(0.5, 2.0)
    spy = _SpyEstimator()
    ex = QiskitExecutor(spy, shots=None)
    B = 3
    inputs = torch.rand(B, 2, dtype=torch.float64, requires_grad=True)
    target = torch.randn(B, 2, dtype=torch.float64)

    def loss_grads(fwd):
        layer.zero_grad()
        inputs.grad = None
        out = fwd(inputs)
        ((out - target) ** 2).sum().backward()
        return out.detach(), [t.grad.clone() for t in (inputs, layer.weights, layer.scales, layer.output_scale)]

    out_ref, grads_ref = loss_grads(layer)
    out, grads = loss_grads(lambda t: ex.layer_forward(layer, t))
    assert ex.num_jobs == 1 and len(spy.pubs) == 1 and len(spy.pubs[0]) == 1
    values = spy.pubs[0][0][2]
    assert values.shape[0] == B * _rows_per_sample(vc)
    torch.testing.assert_close(out, out_ref, atol=1e-8, rtol=0)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want, atol=1e-8, rtol=0)

    with torch.no_grad():  # inference: only the unshifted rows
        out = ex.layer_forward(layer, inputs)
    assert ex.num_jobs == 2 and spy.pubs[1][0][2].shape[0] == B
    torch.testing.assert_close(out, out_ref, atol=1e-8, rtol=0)
    single = ex.layer_forward(layer, inputs[0].detach())  # 1-D input -> 1-D output
    assert single.shape == (2,)


def test_layer_forward_float32_and_frozen_weights():
    from qiskit.primitives import StatevectorEstimator

    vc = skolik_reuploading(2, 1)
    layer = QuantumLayer(vc, dtype=torch.float32, generator=torch.Generator().manual_seed(1))
    layer.weights.requires_grad_(False)
    ex = QiskitExecutor(StatevectorEstimator(), shots=None)
    inputs = torch.rand(2, 2)
    out = ex.layer_forward(layer, inputs)
    assert out.dtype == torch.float32
    out.sum().backward()
    torch.testing.assert_close(out, layer(inputs), atol=1e-5, rtol=0)
    ref = layer.scales.grad.clone()
    layer.scales.grad = None
    layer(inputs).sum().backward()
    torch.testing.assert_close(ref, layer.scales.grad, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------- job structure
def test_one_job_one_pub_per_batch_and_transpile_once():
    vc = _all_gates_vc()
    x, w, s, g = _data(vc, 2, seed=3)
    spy = _SpyEstimator()
    ex = QiskitExecutor(spy, shots=None)
    ex.forward(vc, x, w, s)
    program = ex.program(vc)
    ex.vjp(vc, x, w, s, g)
    ex.forward(vc, x, w, s)
    assert ex.program(vc) is program  # transpiled once, reused
    assert ex.num_jobs == 3 and [len(p) for p in spy.pubs] == [1, 1, 1]
    P = program.isa_circuit.num_parameters
    assert spy.pubs[0][0][2].shape == (2, 1, P)
    rows = 2 * _rows_per_sample(vc)
    assert rows == 2 * (1 + 2 * 11 + 4 * 7)  # 11 two-term and 7 four-term occurrences
    assert spy.pubs[1][0][2].shape == (rows, 1, P)


@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_generic_backend_estimator_within_shot_noise():
    from qiskit.providers.fake_provider import GenericBackendV2

    backend = GenericBackendV2(4, coupling_map=[[0, 1], [1, 2], [2, 3]], seed=5, noise_info=False)
    vc = _small_vc()
    x, w, s, g = _data(vc, 3, seed=4)
    ex = QiskitExecutor(backend, shots=SHOTS, seed=7)
    _check_shots(ex, vc, x, w, s, g)
    _isa_ops_ok(ex, vc)
    assert all(o.num_qubits == 4 for o in ex.program(vc).observables)  # laid out on the device
    jobs = ex.num_jobs
    out = ex.forward(vc, x, w, s)
    assert ex.num_jobs == jobs + 1
    _assert_close("forward", out, vc.forward(x, w, s), 1 / math.sqrt(SHOTS))


@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_generic_backend_sampler_probabilities_within_shot_noise():
    from qiskit.providers.fake_provider import GenericBackendV2

    backend = GenericBackendV2(3, seed=6, noise_info=False)
    vc = _small_vc(probabilities=[1, 0])
    x, w, s, g = _data(vc, 3, seed=5)
    ex = QiskitExecutor(backend, shots=SHOTS, seed=8)
    out, *_ = _check_shots(ex, vc, x, w, s, g)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    _isa_ops_ok(ex, vc)
    assert ex.program(vc).kind == "sampler"


def test_statevector_sampler_probabilities_within_shot_noise():
    from qiskit.primitives import StatevectorSampler

    vc = _small_vc(probabilities=[0])
    x, w, s, g = _data(vc, 3, seed=6)
    ex = QiskitExecutor(StatevectorSampler(seed=3), shots=SHOTS)
    _check_shots(ex, vc, x, w, s, g)


def test_fake_ibm_backend_noiseless_within_shot_noise():
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    from qiskit_aer import AerSimulator

    fake = fake_provider.FakeManilaV2()
    ideal = AerSimulator.from_backend(fake, noise_model=None)  # the device's ISA and coupling map, no noise
    assert ideal.options.noise_model is None
    vc = _small_vc()
    x, w, s, g = _data(vc, 3, seed=7)
    ex = QiskitExecutor(ideal, shots=SHOTS, seed=9)
    _check_shots(ex, vc, x, w, s, g)
    _isa_ops_ok(ex, vc)
    assert set(ex.program(vc).isa_circuit.count_ops()) <= {"rz", "sx", "x", "cx", "measure", "barrier"}


def test_fake_ibm_backend_with_noise_model_matches_density_matrix():
    """Gate noise of FakeManilaV2 (depolarizing gate errors, no readout error): shot results
    agree with Aer's exact noisy density-matrix values and parameter-shift gradients (same ISA
    circuit) within 5 standard errors, and differ from the ideal ones."""
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

    fake = fake_provider.FakeManilaV2()
    noise = NoiseModel.from_backend(fake, readout_error=False, thermal_relaxation=False)
    vc = _small_vc()
    x, w, s, g = _data(vc, 3, seed=8)
    exact_noisy = AerEstimatorV2(options={"backend_options": {"method": "density_matrix", "noise_model": noise}})
    noisy_device = AerSimulator.from_backend(fake, noise_model=noise)
    ref_ex = QiskitExecutor(exact_noisy, shots=None, seed=10, backend=noisy_device)  # same ISA transpilation
    reference = ref_ex.vjp(vc, x, w, s, g)
    ex = QiskitExecutor(noisy_device, shots=SHOTS, seed=10)
    _check_shots(ex, vc, x, w, s, g, reference=reference)
    assert _structure(ex.program(vc).isa_circuit) == _structure(ref_ex.program(vc).isa_circuit)
    ideal = vc.vjp(x, w, s, g)
    assert 1e-3 < np.abs(reference[0] - ideal[0]).max() < 0.1  # the noise is on, and mild


def test_fake_ibm_backend_full_noise_loose_bound():
    """FakeManilaV2 itself (its Aer noise model: gate errors, thermal relaxation, readout
    errors): values within 5 SE + 0.12 and gradients within 5 SE + 0.12 + 0.15 |exact| of the
    ideal simulator (noise shrinks values and gradients by a few percent here)."""
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

    vc = _small_vc()
    x, w, s, g = _data(vc, 2, seed=9)
    ex = QiskitExecutor(fake_provider.FakeManilaV2(), shots=SHOTS, seed=11)
    _check_shots(ex, vc, x, w, s, g, extra=0.12, rel=0.15)
    _isa_ops_ok(ex, vc)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # runtime's EstimatorV2 / SamplerV2 (0.50+)
@pytest.mark.parametrize("mode", ["job", "session", "batch"])
def test_ibm_runtime_primitives_local_mode(mode):
    """IBM Runtime EstimatorV2 / SamplerV2 on a fake backend (local mode) in job, session and
    batch mode: one job per batch; values and gradients within the loose noisy bound."""
    runtime = pytest.importorskip("qiskit_ibm_runtime")
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    fake = FakeManilaV2()
    context = None
    if mode == "job":
        owner = fake
    else:
        context = (runtime.Session if mode == "session" else runtime.Batch)(backend=fake)
        owner = context
    try:
        estimator = runtime.EstimatorV2(mode=owner)
        sampler = runtime.SamplerV2(mode=owner)
        estimator.options.simulator.seed_simulator = 12
        sampler.options.simulator.seed_simulator = 12
        vc = _small_vc()
        x, w, s, g = _data(vc, 2, seed=10)
        ex = QiskitExecutor(estimator, shots=SHOTS, seed=13)
        assert ex.backend is fake  # the ISA comes from the primitive's backend
        if mode == "job":
            _check_shots(ex, vc, x, w, s, g, extra=0.12, rel=0.15)
        else:
            _assert_close("forward", ex.forward(vc, x, w, s), vc.forward(x, w, s), 1 / math.sqrt(SHOTS), extra=0.12)
            assert ex.num_jobs == 1
        vp = _small_vc(probabilities=[0, 1])
        exs = QiskitExecutor(sampler, shots=SHOTS, seed=13)
        probs = exs.forward(vp, x, w, s)
        assert exs.num_jobs == 1
        _assert_close("probabilities", probs, vp.forward(x, w, s), 0.5 / math.sqrt(SHOTS), extra=0.1)
    finally:
        if context is not None:
            context.close()


# ------------------------------------------------------------------------------ errors
@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_backend_with_too_few_qubits():
    from qiskit.providers.fake_provider import GenericBackendV2

    ex = QiskitExecutor(GenericBackendV2(2, seed=1, noise_info=False), shots=100)
    vc = _all_gates_vc()
    with pytest.raises(ValueError, match=r"needs 3 qubits .* has only 2"):
        ex.forward(vc, np.zeros((1, 2)), np.zeros(6))
    assert ex.num_jobs == 0


@pytest.mark.parametrize("target", ["ibm_brisbane", 42, None, object()])
def test_unknown_target_type(target):
    with pytest.raises(TypeError, match=r"BackendV2.*EstimatorV2 or a SamplerV2"):
        QiskitExecutor(target)


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (-1, ValueError, r"^QiskitExecutor: seed must be in \[0, 2\*\*63\), got -1$"),
        # Aer reads seed_simulator as an int64: 2**63 would fail inside its pybind11 cast
        (2**63, ValueError, r"^QiskitExecutor: seed must be in \[0, 2\*\*63\), got 9223372036854775808$"),
        (2**64, ValueError, r"^QiskitExecutor: seed must be in \[0, 2\*\*63\), got 18446744073709551616$"),
        (True, TypeError, "^QiskitExecutor: seed must be an int or None, got bool True$"),
        (1.5, TypeError, "^QiskitExecutor: seed must be an int or None, got float 1.5$"),
    ],
)
def test_bad_seed(seed, error, match):
    from qiskit.primitives import StatevectorEstimator

    with pytest.raises(error, match=match):
        QiskitExecutor(StatevectorEstimator(), shots=None, seed=seed)
    assert QiskitExecutor(StatevectorEstimator(), shots=None, seed=2**63 - 1).seed == 2**63 - 1


def test_v1_style_primitive_is_rejected():
    class V1Estimator:
        def run(self, circuits, observables, parameter_values=None, **options):
            raise AssertionError("not called")

    with pytest.raises(TypeError, match="EstimatorV2"):
        QiskitExecutor(V1Estimator())


def test_bad_inputs():
    from qiskit.primitives import StatevectorEstimator

    vc = _small_vc()
    x, w, s, g = _data(vc, 2, seed=11)
    ex = QiskitExecutor(StatevectorEstimator(), shots=None)
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, 2\)"):
        ex.forward(vc, x[:, :1], w, s)
    with pytest.raises(ValueError, match="inputs must have shape"):
        ex.forward(vc, x[0], w, s)
    with pytest.raises(ValueError, match="inputs must have shape"):
        ex.forward(vc, None, w, s)
    with pytest.raises(ValueError, match=r"weights must have shape \(3,\)"):
        ex.forward(vc, x, w[:2], s)
    with pytest.raises(ValueError, match=r"weights must have shape \(3,\)"):
        ex.forward(vc, x, None, s)
    with pytest.raises(ValueError, match=r"scales must have shape \(2,\)"):
        ex.vjp(vc, x, w, np.ones(3), g)
    with pytest.raises(ValueError, match=r"grad_outputs must have shape \(2, 3\)"):
        ex.vjp(vc, x, w, s, g[:, :2])
    with pytest.raises(ValueError, match="finite"):
        ex.forward(vc, np.where(np.eye(2, dtype=bool), np.nan, x), w, s)
    with pytest.raises(TypeError, match="real numbers"):
        ex.forward(vc, np.array([["a", "b"]]), w, s)
    with pytest.raises(TypeError, match="VariationalCircuit"):
        ex.forward(vc.circuit, x, w, s)
    assert ex.num_jobs == 0
    layer = QuantumLayer(vc, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        ex.layer_forward(layer, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="finite"):
        ex.layer_forward(layer, torch.full((1, 2), float("nan"), dtype=torch.float64))
    with pytest.raises(TypeError, match="QuantumLayer"):
        ex.layer_forward(vc, torch.zeros(1, 2))
    with pytest.raises(TypeError, match="floating point"):
        ex.layer_forward(layer, torch.zeros(1, 2, dtype=torch.int64))


def test_bad_options():
    from qiskit.primitives import StatevectorEstimator, StatevectorSampler
    from qiskit.providers.fake_provider import GenericBackendV2

    with pytest.raises(ValueError, match="gradient"):
        QiskitExecutor(StatevectorEstimator(), gradient="finite_difference")
    for shots in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="shots"):
            QiskitExecutor(StatevectorEstimator(), shots=shots)
    with pytest.raises(ValueError, match="optimization_level"):
        QiskitExecutor(StatevectorEstimator(), optimization_level=4)
    with pytest.raises(ValueError, match="shots must be an int for a BackendV2"):
        QiskitExecutor(GenericBackendV2(2, seed=1), shots=None)
    with pytest.raises(ValueError, match="backend= is for primitive targets"):
        QiskitExecutor(GenericBackendV2(2, seed=1), backend=GenericBackendV2(3, seed=1))
    with pytest.raises(TypeError, match="backend must be a qiskit BackendV2"):
        QiskitExecutor(StatevectorEstimator(), backend="fake_manila")
    ex = QiskitExecutor(StatevectorSampler(seed=1), shots=100)
    with pytest.raises(ValueError, match="expectation-value read-outs need an Estimator"):
        ex.forward(_small_vc(), np.zeros((1, 2)), np.zeros(3))


def test_imports_without_qiskit_ibm_runtime():
    """qiskit-ibm-runtime is optional: the executor works when it cannot be imported."""
    code = (
        "import sys; sys.modules['qiskit_ibm_runtime'] = None\n"
        "import numpy as np\n"
        "from qiskit.primitives import StatevectorEstimator\n"
        "from nextrl.quantum import QiskitExecutor\n"
        "from nextrl.quantum.ansatz import hardware_efficient\n"
        "vc = hardware_efficient(2, 1)\n"
        "out = QiskitExecutor(StatevectorEstimator(), shots=None).forward(vc, np.zeros((1, 2)), np.zeros(6))\n"
        "assert np.allclose(out, vc.forward(np.zeros((1, 2)), np.zeros(6)))\n"
        "assert 'qiskit_ibm_runtime' not in {m for m, v in sys.modules.items() if v is not None}\n"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
