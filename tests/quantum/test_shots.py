"""ShotSimulator: read-outs and parameter-shift gradients measured with finite shots are unbiased (the mean of
many draws equals the exact value / the exact adjoint gradient within 4 standard errors) and have the variance
of the binomial / multinomial shot model (closed form from the exact shifted expectations); large shot counts
reproduce the exact simulator; reproducible from the seed; bad input refused."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from nextrl.agents.quantum_policies import pqc_circuit
from nextrl.quantum import QuantumLayer
from nextrl.quantum.backends.shots import ShotSimulator

torch.set_num_threads(1)


def _layers(vc, shots: int, seed: int):
    exact = QuantumLayer(vc, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        exact.scales.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(seed + 1))
    shot = QuantumLayer(vc, dtype=torch.float64, backend=ShotSimulator(shots, seed=seed))
    shot.load_state_dict(exact.state_dict())
    return exact, shot


def test_parameter_shift_through_shots_is_unbiased_with_the_binomial_variance():
    """2 qubits, 2 re-uploading layers, parity <Z0 Z1>, 50 shots: 3,000 independent gradient draws of the 12
    weights and 4 scales. Each mean is within 4 standard errors of the adjoint gradient; for every weight (one
    RY / RZ occurrence, two-term rule) the variance of the draws is within 15% of the shot model's
    ((1 - e+^2) + (1 - e-^2)) / (4 shots), e+- the exact parity at w +- pi/2."""
    vc = pqc_circuit(2, 2)
    shots, draws = 50, 3000
    exact, shot = _layers(vc, shots, seed=0)
    x = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    exact(x).sum().backward()
    want = torch.cat([exact.weights.grad, exact.scales.grad]).numpy()
    got = np.empty((draws, len(want)))
    for i in range(draws):
        shot.zero_grad()
        shot(x).sum().backward()
        got[i] = torch.cat([shot.weights.grad, shot.scales.grad]).numpy()
    se = got.std(axis=0, ddof=1) / math.sqrt(draws)
    assert np.all(se > 0)  # the draws do vary
    z = (got.mean(axis=0) - want) / se
    assert np.all(np.abs(z) < 4), z
    w = exact.weights.detach().numpy()
    s = exact.scales.detach().numpy()
    predicted = np.empty(vc.num_weights)
    for k in range(vc.num_weights):
        e = [float(vc.forward(x.numpy(), w + d * np.eye(len(w))[k] * math.pi / 2, s)[0, 0]) for d in (1, -1)]
        predicted[k] = ((1 - e[0] ** 2) + (1 - e[1] ** 2)) / (4 * shots)
    ratio = got[:, : vc.num_weights].var(axis=0, ddof=1) / predicted
    np.testing.assert_allclose(ratio, 1.0, atol=0.15)
    assert shot.backend.num_jobs == draws  # forward and backward of a batch: one batch of rows


def test_outputs_are_unbiased_for_expectations_and_probabilities():
    """20,000 single-shot-batch draws of a 3-qubit parity and of the 8 probabilities (100 shots): means within
    4 standard errors of the exact values, variances (1 - e^2) / shots and p (1 - p) / shots within 10%."""
    shots, draws = 100, 20_000
    x = torch.tensor([[0.1, 0.5, -0.4]], dtype=torch.float64)
    for readout in ("parity", "probabilities"):
        exact, shot = _layers(pqc_circuit(3, 2, readout=readout), shots, seed=3)
        with torch.no_grad():
            e = exact(x)[0].numpy()
            got = shot(x.expand(draws, 3).contiguous()).numpy()  # one batch, rows drawn independently
        se = got.std(axis=0, ddof=1) / math.sqrt(draws)
        assert np.all(np.abs(got.mean(axis=0) - e) < 4 * se + 1e-12)
        var = (1 - e**2) / shots if readout == "parity" else e * (1 - e) / shots
        np.testing.assert_allclose(got.var(axis=0, ddof=1), var, rtol=0.1)


def test_many_shots_reproduce_the_exact_simulator_and_the_seed_reproduces_the_draws():
    vc = pqc_circuit(3, 2)
    exact, shot = _layers(vc, 10**8, seed=5)
    x = torch.tensor([[0.2, -0.1, 0.9], [-0.6, 0.3, 0.0]], dtype=torch.float64)
    (exact(x) ** 2).sum().backward()
    (shot(x) ** 2).sum().backward()
    for a, b in zip(exact.parameters(), shot.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=5e-4)
    _, one = _layers(vc, 10, seed=7)
    two = copy.deepcopy(one)  # same generator state
    with torch.no_grad():
        np.testing.assert_array_equal(one(x).numpy(), two(x).numpy())
        _, other = _layers(vc, 10, seed=8)
        assert not np.array_equal(one(x).numpy(), other(x).numpy())


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="ShotSimulator: shots must be an int >= 1, got 0"):
        ShotSimulator(0)
    with pytest.raises(ValueError, match="ShotSimulator: shots must be an int >= 1, got 2.5"):
        ShotSimulator(2.5)
    with pytest.raises(ValueError, match="ShotSimulator: seed"):
        ShotSimulator(10, seed=-1)
    layer = QuantumLayer(pqc_circuit(2, 1), backend=ShotSimulator(10, seed=0))
    with pytest.raises(ValueError, match="QuantumLayer.forward: inputs must be finite"):
        layer(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(TypeError, match="ShotSimulator: expected a VariationalCircuit"):
        layer.backend.program("circuit")
