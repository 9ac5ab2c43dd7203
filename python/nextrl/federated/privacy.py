"""Differential privacy for federated rounds.

Client-level DP-FedAvg (McMahan et al. 2018, "Learning differentially private recurrent language models"):

- Sampling: Poisson. Each of the N clients joins a round independently with probability q = m / N
  (`poisson_sample`), m = expected clients per round; that is the subsampling the accountants assume. A fixed-size
  sample is not accounted here.
- Clipping: every client's update is scaled to L2 norm at most C (`clip_updates`).
- Estimator: the fixed-denominator one with uniform client weights, sum_{i in round} clip(u_i) / m, plus Gaussian
  noise N(0, (z C / m)^2) per coordinate (`dp_fedavg`). Adding or removing one client moves the sum by at most C,
  so the noise std on the sum is z C: a Gaussian mechanism with noise multiplier z per round.
- Accounting: Opacus's RDP and PRV accountants over (z, q, rounds) (`epsilon`); `noise_multiplier_for` solves for z
  at a target epsilon with opacus.accountants.utils.get_noise_multiplier. Opacus is the `federated` extra.

Local DP (`local_dp_sigma`, `local_dp_noise`): every client perturbs its own clipped update with the classical
Gaussian mechanism, sigma = sqrt(2 ln(1.25 / delta)) * sensitivity / epsilon (Dwork and Roth 2014, Theorem A.1),
valid for 0 < epsilon < 1. A clipped update's L2 sensitivity under replacement is 2 C (any two vectors in the
C-ball are at most 2 C apart).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor

from nextrl._checks import check_seed
from nextrl.federated.strategies import check_updates

ACCOUNTANTS = ("rdp", "prv")


def _opacus_accountants():
    try:
        from opacus.accountants import PRVAccountant, RDPAccountant
        from opacus.accountants.utils import get_noise_multiplier
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "nextrl.federated.privacy: DP accounting needs Opacus; install the extra: pip install 'nextrl[federated]'"
        ) from e
    return {"rdp": RDPAccountant, "prv": PRVAccountant}, get_noise_multiplier


def _check_delta(fn: str, delta: float) -> None:
    if not 0 < delta < 1:
        raise ValueError(f"{fn}: delta must be in (0, 1), got {delta}")


def clip_updates(updates, clip_norm: float) -> tuple[Tensor, Tensor]:
    """(clipped [n, d], the norms before clipping [n]): u_i * min(1, C / ||u_i||)."""
    x, _ = check_updates("clip_updates", updates)
    if not clip_norm > 0:
        raise ValueError(f"clip_updates: clip_norm must be > 0, got {clip_norm}")
    norms = x.norm(dim=1)
    scale = (clip_norm / norms.clamp_min(1e-30)).clamp(max=1.0).to(x.dtype)
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not x.requires_grad:
        # NumPy's broadcast multiply: about 2x torch's on 1 thread (bench_federated)
        return torch.from_numpy(x.numpy() * scale.numpy()[:, None]), norms
    return x * scale[:, None], norms


def poisson_sample(num_clients: int, expected_per_round: float, generator: np.random.Generator) -> np.ndarray:
    """Indices of the clients that join this round: each independently with probability q = m / N (possibly none)."""
    if num_clients < 1 or not 0 < expected_per_round <= num_clients:
        raise ValueError(
            f"poisson_sample: need num_clients >= 1 and 0 < expected_per_round <= num_clients, "
            f"got {num_clients} and {expected_per_round}"
        )
    return np.flatnonzero(generator.random(num_clients) < expected_per_round / num_clients)


def dp_fedavg(
    updates, clip_norm: float, noise_multiplier: float, expected_per_round: float, *, generator: torch.Generator
) -> Tensor:
    """One DP-FedAvg aggregate [d]: sum_i clip(u_i, C) / m + N(0, (z C / m)^2 I). `updates` [n, d] are the round's
    Poisson-sampled clients (n may differ from m); m = expected_per_round (fixed denominator). An empty round is
    passed as a [0, d] tensor and yields pure noise."""
    if not noise_multiplier >= 0 or not expected_per_round > 0:
        raise ValueError(
            f"dp_fedavg: need noise_multiplier >= 0 and expected_per_round > 0, "
            f"got {noise_multiplier} and {expected_per_round}"
        )
    if not clip_norm > 0:
        raise ValueError(f"dp_fedavg: clip_norm must be > 0, got {clip_norm}")
    if isinstance(updates, Tensor) and updates.dim() == 2 and updates.shape[0] == 0:
        total = torch.zeros(updates.shape[1], dtype=updates.dtype)
    else:
        x, _ = check_updates("dp_fedavg", updates)
        scale = (clip_norm / x.norm(dim=1).clamp_min(1e-30)).clamp(max=1.0)
        total = scale.to(x.dtype) @ x  # sum_i clip(u_i, C) without the clipped [n, d] copy
    std = noise_multiplier * clip_norm / expected_per_round
    noise = torch.randn(total.shape, generator=generator, dtype=total.dtype) * std
    return total / expected_per_round + noise


def epsilon(noise_multiplier: float, sample_rate: float, rounds: int, delta: float, accountant: str = "rdp") -> float:
    """Epsilon at `delta` after `rounds` rounds of the subsampled Gaussian mechanism with noise multiplier z and
    Poisson sample rate q, by Opacus's RDP or PRV accountant."""
    _check_delta("epsilon", delta)
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"epsilon: accountant must be one of {list(ACCOUNTANTS)}, got {accountant!r}")
    if not noise_multiplier > 0 or not 0 < sample_rate <= 1 or rounds < 1:
        raise ValueError(
            f"epsilon: need noise_multiplier > 0, sample_rate in (0, 1], rounds >= 1, "
            f"got {noise_multiplier}, {sample_rate}, {rounds}"
        )
    classes, _ = _opacus_accountants()
    acc = classes[accountant]()
    acc.history = [(float(noise_multiplier), float(sample_rate), int(rounds))]
    return float(acc.get_epsilon(delta=delta))


def noise_multiplier_for(
    target_epsilon: float,
    delta: float,
    sample_rate: float,
    rounds: int,
    accountant: str = "rdp",
    epsilon_tolerance: float = 0.01,
) -> float:
    """The noise multiplier whose epsilon after `rounds` rounds at sample rate q is within `epsilon_tolerance`
    below `target_epsilon` (opacus.accountants.utils.get_noise_multiplier)."""
    _check_delta("noise_multiplier_for", delta)
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"noise_multiplier_for: accountant must be one of {list(ACCOUNTANTS)}, got {accountant!r}")
    if not target_epsilon > 0 or not 0 < sample_rate <= 1 or rounds < 1:
        raise ValueError(
            f"noise_multiplier_for: need target_epsilon > 0, sample_rate in (0, 1], rounds >= 1, "
            f"got {target_epsilon}, {sample_rate}, {rounds}"
        )
    _, get_noise_multiplier = _opacus_accountants()
    with warnings.catch_warnings():
        # the bisection probes noise multipliers far from the answer, where the RDP optimum sits at the edge of
        # Opacus's alpha grid and it warns about the probe; the returned multiplier's epsilon is checked by callers
        warnings.filterwarnings("ignore", message="Optimal order is the", category=UserWarning)
        return float(
            get_noise_multiplier(
                target_epsilon=target_epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=rounds,
                accountant=accountant,
                epsilon_tolerance=epsilon_tolerance,
            )
        )


def local_dp_sigma(epsilon: float, delta: float, sensitivity: float) -> float:
    """Classical Gaussian mechanism: sqrt(2 ln(1.25 / delta)) * sensitivity / epsilon, for 0 < epsilon < 1."""
    _check_delta("local_dp_sigma", delta)
    if not 0 < epsilon < 1:
        raise ValueError(
            f"local_dp_sigma: epsilon must be in (0, 1) for the classical Gaussian mechanism, got {epsilon}"
        )
    if not sensitivity > 0:
        raise ValueError(f"local_dp_sigma: sensitivity must be > 0, got {sensitivity}")
    return math.sqrt(2 * math.log(1.25 / delta)) * sensitivity / epsilon


def local_dp_noise(
    update: Tensor, clip_norm: float, epsilon: float, delta: float, *, generator: torch.Generator
) -> Tensor:
    """A client's (epsilon, delta)-locally private update [d]: clip to C, add N(0, sigma^2) with
    sigma = local_dp_sigma(epsilon, delta, 2 C)."""
    if update.dim() != 1:
        raise ValueError(f"local_dp_noise: update must be 1-D, got shape {list(update.shape)}")
    clipped, _ = clip_updates(update[None], clip_norm)
    sigma = local_dp_sigma(epsilon, delta, 2 * clip_norm)
    return clipped[0] + sigma * torch.randn(update.shape, generator=generator, dtype=update.dtype)


def make_generator(seed: int) -> torch.Generator:
    """A torch generator seeded with `seed` (checked)."""
    return torch.Generator().manual_seed(check_seed("make_generator", seed))


__all__ = [
    "ACCOUNTANTS",
    "clip_updates",
    "dp_fedavg",
    "epsilon",
    "local_dp_noise",
    "local_dp_sigma",
    "make_generator",
    "noise_multiplier_for",
    "poisson_sample",
]
