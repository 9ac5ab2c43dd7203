"""Network blocks shared by every agent. Any torch.nn.Module with the right input and output shapes can
stand in for them (a nextrl.quantum.QuantumLayer included)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (64, 64),
        activation: type[nn.Module] = nn.Tanh, out_gain: float | None = None) -> nn.Sequential:
    """Fully connected net [B, in_dim] -> [B, out_dim]. With `out_gain`, every linear layer gets an
    orthogonal init (gain sqrt(2) for hidden layers, `out_gain` for the last) and zero bias, as in CleanRL."""
    if in_dim < 1 or out_dim < 1:
        raise ValueError(f"mlp: in_dim and out_dim must be >= 1, got {in_dim}, {out_dim}")
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden]
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(dims[-1], out_dim))
    net = nn.Sequential(*layers)
    if out_gain is not None:
        linears = [m for m in net if isinstance(m, nn.Linear)]
        for i, lin in enumerate(linears):
            nn.init.orthogonal_(lin.weight, out_gain if i == len(linears) - 1 else 2**0.5)
            nn.init.zeros_(lin.bias)
    return net


__all__ = ["mlp"]
