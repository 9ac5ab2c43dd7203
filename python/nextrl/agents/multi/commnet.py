"""CommNet (Sukhbaatar, Szlam and Fergus 2016, "Learning Multiagent Communication with Backpropagation",
arXiv:1605.07736): each communication round k, every agent broadcasts its hidden state and receives the mean of
the other agents' hidden states,
    c_i = mean_{j != i} h_j,   h_i <- tanh(H_k h_i + C_k c_i + b_k)
(the paper's continuous communication, trained by backpropagation through c). The message an agent sends is its
hidden state before each round, concatenated over rounds. Without communication c_i is 0. Trained with
comm_common.train.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nextrl.agents.multi.comm_common import CommNetwork


class CommNet(CommNetwork):
    """CommNet with `rounds` communication steps (module docstring)."""

    def __init__(
        self, obs_size: int, num_actions: int, num_agents: int, hidden: int = 64, rounds: int = 2, communicate=True
    ):
        super().__init__(obs_size, num_actions, num_agents, hidden, communicate)
        if rounds < 1:
            raise ValueError(f"CommNet: rounds must be >= 1, got {rounds}")
        self.rounds = rounds
        self.message_size = hidden * rounds
        self.self_layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(rounds))
        self.comm_layers = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(rounds))

    def communicate_step(self, h: Tensor, noise: Tensor | None, execute: bool) -> tuple[Tensor, Tensor]:
        sent = []
        for self_layer, comm_layer in zip(self.self_layers, self.comm_layers):
            sent.append(h)
            c = self.others(h).mean(dim=2) if self.communicate else torch.zeros_like(h)
            h = torch.tanh(self_layer(h) + comm_layer(c))
        return h, torch.cat(sent, dim=-1)


__all__ = ["CommNet"]
