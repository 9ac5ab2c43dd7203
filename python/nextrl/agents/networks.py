"""Network blocks shared by every agent. Any torch.nn.Module with the right input and output shapes can
stand in for them (a nextrl.quantum.QuantumLayer included).

- `mlp`: [B, in] -> [B, out];  `GridCNN`: images [B, C, H, W] -> [B, out];  `GRUCore`: [T, B, in] with
  episode starts -> [T, B, hidden] (hidden state reset where an episode starts).
- Policy heads turn an actor's raw output into a torch distribution with `log_prob`, `entropy` and `mode`:
  `CategoricalHead` (logits [B, n], Discrete) and `DiagGaussianHead` (means [B, d], Box; state-independent
  log standard deviation, a parameter of the head).
- `ActorCritic` pairs any actor module (obs -> logits or means) and any critic module (obs -> [B, 1] or
  [B]) with the head for the action space; `default_actor_critic` builds CleanRL's MLPs (or a GridCNN
  trunk for image observations).
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (64, 64),
    activation: type[nn.Module] = nn.Tanh,
    out_gain: float | None = None,
) -> nn.Sequential:
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


class GridCNN(nn.Module):
    """Small CNN for grid images [B, C, H, W] -> [B, out_dim]: 3x3 convolutions (stride 1, padding 1,
    ReLU), flatten, one hidden linear layer (ReLU) and the output layer. Sized for grids up to ~16x16."""

    def __init__(
        self,
        in_channels: int,
        height: int,
        width: int,
        out_dim: int,
        channels: Sequence[int] = (16, 32),
        hidden: int = 128,
        out_gain: float = 1.0,
    ):
        super().__init__()
        if min(in_channels, height, width, out_dim) < 1:
            raise ValueError(
                f"GridCNN: in_channels, height, width and out_dim must be >= 1, got "
                f"{in_channels}, {height}, {width}, {out_dim}"
            )
        layers: list[nn.Module] = []
        c = in_channels
        for k in channels:
            layers += [nn.Conv2d(c, k, kernel_size=3, padding=1), nn.ReLU()]
            c = k
        self.shape = (in_channels, height, width)
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(nn.Linear(c * height * width, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.orthogonal_(m.weight, 2**0.5)
                nn.init.zeros_(m.bias)
        nn.init.orthogonal_(self.head[-1].weight, out_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.shape:
            raise ValueError(
                f"GridCNN: input must have shape [B, {', '.join(map(str, self.shape))}], got {list(x.shape)}"
            )
        return self.head(self.conv(x))


class GRUCore(nn.Module):
    """Recurrent core over a rollout: inputs [T, B, in_dim], hidden [B, hidden_dim] and `starts` [T, B]
    (True where a new episode begins at that step, so the hidden state is zeroed before it) ->
    (outputs [T, B, hidden_dim], final hidden [B, hidden_dim])."""

    def __init__(self, in_dim: int, hidden_dim: int):
        super().__init__()
        if in_dim < 1 or hidden_dim < 1:
            raise ValueError(f"GRUCore: in_dim and hidden_dim must be >= 1, got {in_dim}, {hidden_dim}")
        self.hidden_dim = hidden_dim
        self.cell = nn.GRUCell(in_dim, hidden_dim)

    def initial_state(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, self.hidden_dim)

    def forward(
        self, x: torch.Tensor, hidden: torch.Tensor, starts: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 3:
            raise ValueError(f"GRUCore: inputs must be [T, B, in_dim], got shape {list(x.shape)}")
        if hidden.shape != (x.shape[1], self.hidden_dim):
            raise ValueError(
                f"GRUCore: hidden must have shape [{x.shape[1]}, {self.hidden_dim}], got {list(hidden.shape)}"
            )
        if starts is not None and starts.shape != x.shape[:2]:
            raise ValueError(f"GRUCore: starts must have shape {list(x.shape[:2])}, got {list(starts.shape)}")
        outputs = []
        for t in range(x.shape[0]):
            if starts is not None:
                hidden = hidden * (~starts[t].bool()).unsqueeze(-1).to(hidden.dtype)
            hidden = self.cell(x[t], hidden)
            outputs.append(hidden)
        return torch.stack(outputs), hidden


class CategoricalHead(nn.Module):
    """logits [B, num_actions] -> Categorical. Parameter-free; actions are int64 [B]."""

    def __init__(self, num_actions: int):
        super().__init__()
        self.num_actions = num_actions

    def forward(self, logits: torch.Tensor) -> Distribution:
        if logits.shape[-1] != self.num_actions:
            raise ValueError(
                f"CategoricalHead: actor output must have {self.num_actions} logits in its last "
                f"dimension, got shape {list(logits.shape)}"
            )
        return Categorical(logits=logits, validate_args=False)


class DiagGaussianHead(nn.Module):
    """means [B, action_dim] -> diagonal Gaussian (torch Independent Normal: log_prob and entropy sum over
    the action dimensions) with a state-independent, learned log standard deviation `log_std` [action_dim]."""

    def __init__(self, action_dim: int, log_std_init: float = 0.0):
        super().__init__()
        self.action_dim = action_dim
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))

    def forward(self, mean: torch.Tensor) -> Distribution:
        if mean.shape[-1] != self.action_dim:
            raise ValueError(
                f"DiagGaussianHead: actor output must have {self.action_dim} means in its last "
                f"dimension, got shape {list(mean.shape)}"
            )
        return Independent(
            Normal(mean, self.log_std.exp().expand_as(mean), validate_args=False), 1, validate_args=False
        )


def head_for(action_space: gym.Space, log_std_init: float = 0.0) -> nn.Module:
    """The policy head for a (single-env) action space, and the actor output size it expects."""
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(int(action_space.n))
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return DiagGaussianHead(int(action_space.shape[0]), log_std_init)
    raise TypeError(f"head_for: action space must be Discrete or a 1-D Box, got {action_space}")


def actor_output_dim(action_space: gym.Space) -> int:
    """Logits per Discrete action space, means per 1-D Box."""
    head = head_for(action_space)
    return head.num_actions if isinstance(head, CategoricalHead) else head.action_dim


class ActorCritic(nn.Module):
    """A policy and a value function over the same observations.

    actor: any module obs [B, ...] -> logits [B, n] (Discrete) or means [B, d] (Box);
    critic: any module obs [B, ...] -> values [B, 1] or [B] (may be None for critic-free methods);
    head: CategoricalHead or DiagGaussianHead (see `head_for`)."""

    def __init__(self, actor: nn.Module, critic: nn.Module | None, head: nn.Module):
        super().__init__()
        for name, m in (("actor", actor), ("critic", critic), ("head", head)):
            if m is not None and not isinstance(m, nn.Module):
                raise TypeError(f"ActorCritic: {name} must be a torch.nn.Module, got {type(m).__name__}")
        self.actor, self.critic, self.head = actor, critic, head

    def dist(self, obs: torch.Tensor) -> Distribution:
        return self.head(self.actor(obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """[B] (or [B, A] for obs with an agent axis [B, A, ...]): the critic's output without its last axis of 1."""
        v = self.critic(obs)
        return v[..., 0] if v.ndim >= 2 and v.shape[-1] == 1 else v

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        d = self.dist(obs)
        return d.mode if deterministic else d.sample()

    def policy_parameters(self) -> list[nn.Parameter]:
        return [*self.actor.parameters(), *self.head.parameters()]


def default_actor_critic(
    obs_space: gym.Space,
    action_space: gym.Space,
    hidden: Sequence[int] = (64, 64),
    log_std_init: float = 0.0,
    *,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    with_critic: bool = True,
) -> ActorCritic:
    """An ActorCritic for the spaces: `actor` and `critic` where given (any nn.Module, e.g. a
    QuantumLayer), else CleanRL's MLPs (tanh, orthogonal init, actor output gain 0.01, critic 1.0) for a
    1-D Box observation space, or GridCNNs for image observations [C, H, W]. with_critic=False: no critic."""
    if not isinstance(obs_space, gym.spaces.Box):
        raise TypeError(f"default_actor_critic: observation space must be a Box, got {obs_space}")
    for name, m in (("actor", actor), ("critic", critic)):
        if m is not None and not isinstance(m, nn.Module):
            raise TypeError(f"default_actor_critic: {name} must be a torch.nn.Module, got {type(m).__name__}")
    out = actor_output_dim(action_space)
    shape = obs_space.shape
    if len(shape) == 3:

        def build(dim, gain):
            return GridCNN(*shape, dim, out_gain=gain)
    else:
        in_dim = int(np.prod(shape))

        def build(dim, gain):
            net = mlp(in_dim, dim, hidden, out_gain=gain)
            return net if len(shape) == 1 else nn.Sequential(nn.Flatten(), net)

    if actor is None:
        actor = build(out, 0.01)
    if critic is None and with_critic:
        critic = build(1, 1.0)
    return ActorCritic(actor, critic if with_critic else None, head_for(action_space, log_std_init))


__all__ = [
    "ActorCritic",
    "CategoricalHead",
    "DiagGaussianHead",
    "GRUCore",
    "GridCNN",
    "actor_output_dim",
    "default_actor_critic",
    "head_for",
    "mlp",
]
