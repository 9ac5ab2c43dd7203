"""DIAL, differentiable inter-agent learning (Foerster, Assael, de Freitas and Whiteson 2016, "Learning to
Communicate with Deep Multi-Agent Reinforcement Learning", arXiv:1605.06676), with one message round per step.

Each agent sends `message_bits` real-valued message logits m_i = W_m h_i + b_m through the discretise /
regularise unit (DRU):
    training (centralized):     DRU(m) = sigmoid(m + sigma eps),  eps ~ N(0, 1)   (differentiable)
    execution (decentralized):  DRU(m) = 1[m > 0]                                (discrete bits)
and every agent reads the other agents' messages (in index order): h_i <- tanh(W_h h_i + W_c [DRU(m_j)]_{j != i}
+ b). Gradients of a receiver's loss flow through the DRU into the sender. The noise pushes the senders to
saturate their logits, so the discrete execution messages carry what the training messages did. The channel
noise eps is drawn by comm_common.train when acting and stored, so the loss is computed on the same messages.
DIAL's own setting sends messages to the next time step of recurrent agents; here they are exchanged within a
step (one-step games). Without communication every message is 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nextrl.agents.multi.comm_common import CommNetwork


def dru(m: Tensor, noise: Tensor | None, sigma: float, execute: bool) -> Tensor:
    """DIAL's discretise / regularise unit (module docstring): sigmoid(m + sigma noise) in training, 1[m > 0]
    at execution."""
    if execute:
        return (m > 0).to(m.dtype)
    return torch.sigmoid(m + sigma * noise)


class DIAL(CommNetwork):
    """DIAL with `message_bits` bits per agent and channel noise `sigma` (module docstring)."""

    def __init__(
        self,
        obs_size: int,
        num_actions: int,
        num_agents: int,
        hidden: int = 64,
        message_bits: int = 2,
        sigma: float = 2.0,
        communicate=True,
    ):
        super().__init__(obs_size, num_actions, num_agents, hidden, communicate)
        if message_bits < 1:
            raise ValueError(f"DIAL: message_bits must be >= 1, got {message_bits}")
        if sigma < 0:
            raise ValueError(f"DIAL: sigma must be >= 0, got {sigma}")
        self.message_size = self.noise_size = message_bits
        self.sigma = float(sigma)
        self.speak = nn.Linear(hidden, message_bits)
        self.self_layer = nn.Linear(hidden, hidden)
        self.listen = nn.Linear((num_agents - 1) * message_bits, hidden, bias=False)

    def communicate_step(self, h: Tensor, noise: Tensor | None, execute: bool) -> tuple[Tensor, Tensor]:
        messages = dru(self.speak(h), noise, self.sigma, execute)
        if not self.communicate:
            messages = torch.zeros_like(messages)
        received = self.others(messages).flatten(-2)  # [B, A, (A - 1) bits]
        return torch.tanh(self.self_layer(h) + self.listen(received)), messages


__all__ = ["DIAL", "dru"]
