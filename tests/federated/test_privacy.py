"""DP-FedAvg clipping and noise, Opacus accounting, target-epsilon mode and local DP."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from opacus.accountants import PRVAccountant, RDPAccountant

from nextrl.federated import privacy


def test_clipping_bounds_every_norm():
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(20, 50)) * np.linspace(0.01, 5, 20)[:, None])
    clipped, norms = privacy.clip_updates(x, 1.0)
    out = clipped.norm(dim=1)
    assert (out <= 1.0 + 1e-12).all()
    small = norms <= 1.0
    torch.testing.assert_close(clipped[small], x[small])  # unchanged below C
    np.testing.assert_allclose(out[~small].numpy(), 1.0, rtol=1e-12)  # scaled to C above it


def test_dp_noise_std_matches_z_c_over_m():
    gen = torch.Generator().manual_seed(0)
    z, c, m, d = 1.3, 0.7, 4.0, 200_000
    zero = torch.zeros(3, d, dtype=torch.float64)
    out = privacy.dp_fedavg(zero, c, z, m, generator=gen)
    expected = z * c / m
    # std of a normal sample: relative standard error 1 / sqrt(2 d) = 0.0016; 5 of them
    np.testing.assert_allclose(out.std().item(), expected, rtol=5 / math.sqrt(2 * d))
    assert abs(out.mean().item()) < 5 * expected / math.sqrt(d)


def test_dp_fedavg_fixed_denominator_estimator():
    x = torch.tensor([[3.0, 4.0], [0.1, 0.0]], dtype=torch.float64)  # norms 5 and 0.1
    out = privacy.dp_fedavg(x, 1.0, 0.0, 4.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, torch.tensor([(0.6 + 0.1) / 4, 0.8 / 4], dtype=torch.float64))


@pytest.mark.parametrize(("acc_name", "cls"), [("rdp", RDPAccountant), ("prv", PRVAccountant)])
def test_epsilon_equals_opacus(acc_name, cls):
    acc = cls()
    acc.history = [(1.0, 0.1, 50)]
    assert privacy.epsilon(1.0, 0.1, 50, 1e-5, acc_name) == pytest.approx(acc.get_epsilon(delta=1e-5), rel=1e-12)


def test_epsilon_reference_and_monotone_in_noise():
    assert privacy.epsilon(1.0, 0.1, 50, 1e-5) == pytest.approx(5.881, abs=1e-3)  # REFERENCES.md, Opacus 1.6
    eps = [privacy.epsilon(z, 0.1, 50, 1e-5) for z in (0.8, 1.0, 1.5, 3.0)]
    assert all(a > b for a, b in zip(eps, eps[1:]))


@pytest.mark.parametrize("target", [2.0, 8.0])
def test_target_epsilon_mode(target):
    z = privacy.noise_multiplier_for(target, 1e-5, 0.1, 50, epsilon_tolerance=0.01)
    eps = privacy.epsilon(z, 0.1, 50, 1e-5)
    assert target - 0.01 <= eps <= target


def test_poisson_sample_rate():
    rng = np.random.default_rng(0)
    counts = [len(privacy.poisson_sample(100, 10, rng)) for _ in range(2000)]
    # Binomial(100, 0.1): mean 10, standard error of the mean of 2000 draws sqrt(9 / 2000) = 0.067
    assert abs(np.mean(counts) - 10) < 5 * 0.067


def test_local_dp_sigma():
    sigma = privacy.local_dp_sigma(0.5, 1e-5, 2.0)
    assert sigma == pytest.approx(math.sqrt(2 * math.log(1.25e5)) * 2.0 / 0.5)
    out = privacy.local_dp_noise(
        torch.zeros(100_000, dtype=torch.float64), 1.0, 0.5, 1e-5, generator=torch.Generator().manual_seed(1)
    )
    np.testing.assert_allclose(out.std().item(), privacy.local_dp_sigma(0.5, 1e-5, 2.0), rtol=0.02)


def test_bad_privacy_inputs():
    with pytest.raises(ValueError, match=r"epsilon: delta must be in \(0, 1\), got 1.0"):
        privacy.epsilon(1.0, 0.1, 10, 1.0)
    with pytest.raises(ValueError, match=r"epsilon: accountant must be one of"):
        privacy.epsilon(1.0, 0.1, 10, 1e-5, "gdp_typo")
    with pytest.raises(ValueError, match=r"local_dp_sigma: epsilon must be in \(0, 1\)"):
        privacy.local_dp_sigma(2.0, 1e-5, 1.0)
    with pytest.raises(ValueError, match=r"clip_updates: clip_norm must be > 0"):
        privacy.clip_updates(torch.ones(2, 2), 0.0)
    with pytest.raises(ValueError, match=r"noise_multiplier_for: delta must be in \(0, 1\)"):
        privacy.noise_multiplier_for(1.0, 0.0, 0.1, 10)
