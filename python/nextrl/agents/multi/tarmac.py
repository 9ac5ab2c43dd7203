"""TarMAC, targeted multi-agent communication (Das et al. 2019, "TarMAC: Targeted Multi-Agent Communication",
arXiv:1810.11187): every agent sends a message of a signature (key) k_j = W_k h_j and a value v_j = W_v h_j;
each receiver forms a query q_i = W_q h_i and attends over the other agents' messages,
    alpha_ij = softmax_{j != i}(q_i . k_j / sqrt(key_size)),  c_i = sum_j alpha_ij v_j,
    h_i <- tanh(W_h h_i + W_c c_i + b)
for `rounds` rounds (multi-round communication). The message an agent sends is [k_j, v_j] per round,
concatenated. Without communication c_i is 0. Trained end to end with comm_common.train.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nextrl.agents.multi.comm_common import CommNetwork


class TarMAC(CommNetwork):
    """TarMAC with signatures of `key_size` and values of `value_size` (module docstring)."""

    def __init__(
        self,
        obs_size: int,
        num_actions: int,
        num_agents: int,
        hidden: int = 64,
        key_size: int = 16,
        value_size: int = 32,
        rounds: int = 1,
        communicate=True,
    ):
        super().__init__(obs_size, num_actions, num_agents, hidden, communicate)
        if min(key_size, value_size, rounds) < 1:
            raise ValueError(
                f"TarMAC: key_size, value_size and rounds must be >= 1, got {key_size}, {value_size}, {rounds}"
            )
        self.key_size, self.value_size, self.rounds = key_size, value_size, rounds
        self.message_size = (key_size + value_size) * rounds
        self.keys = nn.ModuleList(nn.Linear(hidden, key_size, bias=False) for _ in range(rounds))
        self.values = nn.ModuleList(nn.Linear(hidden, value_size) for _ in range(rounds))
        self.queries = nn.ModuleList(nn.Linear(hidden, key_size, bias=False) for _ in range(rounds))
        self.self_layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(rounds))
        self.comm_layers = nn.ModuleList(nn.Linear(value_size, hidden, bias=False) for _ in range(rounds))
        self.last_attention: Tensor | None = None
        """attention weights [B, A (receiver), A - 1 (senders, index order)] of the last round of the last call"""

    def communicate_step(self, h: Tensor, noise: Tensor | None, execute: bool) -> tuple[Tensor, Tensor]:
        sent = []
        for r in range(self.rounds):
            k, v, q = self.keys[r](h), self.values[r](h), self.queries[r](h)
            sent.append(torch.cat([k, v], dim=-1))
            scores = (self.others(k) @ q.unsqueeze(-1))[..., 0] / math.sqrt(self.key_size)  # [B, A, A - 1]
            alpha = torch.softmax(scores, dim=-1)
            self.last_attention = alpha.detach()
            c = (alpha.unsqueeze(-1) * self.others(v)).sum(dim=2)
            if not self.communicate:
                c = torch.zeros_like(c)
            h = torch.tanh(self.self_layers[r](h) + self.comm_layers[r](c))
        messages = torch.cat(sent, dim=-1)
        return h, messages if self.communicate else torch.zeros_like(messages)


__all__ = ["TarMAC"]
