"""Network blocks of the off-policy actor-critic agents (DDPG, TD3, SAC, discrete SAC): an ensemble MLP
that evaluates twin critics in one batched matmul per layer, a tanh-bounded deterministic actor, SAC's
learned temperature as a module, and Polyak averaging. Any nn.Module with the same input and output shapes
can replace them."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nextrl.agents.networks import named_parameters, param_groups


class EnsembleMLP(nn.Module):
    """`num_members` independent ReLU MLPs evaluated together: [B, in_dim] -> [B, num_members * out_dim],
    member k's outputs in columns [k * out_dim, (k + 1) * out_dim). Each layer is one batched matmul, so
    twin critics cost one forward pass. Initialization matches nn.Linear's default for every member."""

    def __init__(self, in_dim: int, out_dim: int, num_members: int = 2, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        if in_dim < 1 or out_dim < 1 or num_members < 1:
            raise ValueError(
                f"EnsembleMLP: in_dim, out_dim and num_members must be >= 1, got {in_dim}, {out_dim}, {num_members}"
            )
        dims = [in_dim, *hidden, out_dim]
        self.num_members, self.out_dim = num_members, out_dim
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(num_members, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_members, 1, b).uniform_(-bound, bound)))

    def forward(self, x: Tensor) -> Tensor:
        h = x.unsqueeze(0).expand(self.num_members, *x.shape)  # [K, B, in_dim]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h.permute(1, 0, 2).reshape(x.shape[0], self.num_members * self.out_dim)


class TanhActor(nn.Module):
    """Deterministic policy a = bias + scale * tanh(net(obs)): [B, obs_dim] -> [B, act_dim] inside the
    action box [low, high] (DDPG, TD3)."""

    def __init__(self, net: nn.Module, low: Tensor, high: Tensor):
        super().__init__()
        self.net = net
        self.register_buffer("scale", (high - low) / 2)
        self.register_buffer("bias", (high + low) / 2)

    def forward(self, obs: Tensor) -> Tensor:
        return self.bias + self.scale * torch.tanh(self.net(obs))


class LogAlpha(nn.Module):
    """The learned log entropy coefficient of SAC as a module parameter `value` [] (so checkpoints, averaging
    and export see it like any network weight); alpha = exp(value)."""

    def __init__(self, alpha: float):
        super().__init__()
        if not alpha > 0:
            raise ValueError(f"LogAlpha: alpha must be > 0, got {alpha}")
        self.value = nn.Parameter(torch.tensor(math.log(alpha)))

    def forward(self) -> Tensor:
        return self.value.exp()


def adam(params, lr: float = 1e-3) -> torch.optim.Adam:
    """Adam over parameters or parameter groups (dicts with "params", as networks.param_groups makes them; `lr`
    is then the default of groups without one), with PyTorch's fused kernel when every parameter is a
    floating-point CPU or CUDA tensor (about 4x cheaper per step than the default for small networks on CPU),
    else the default implementation."""
    params = list(params)
    flat = [p for g in params for p in g["params"]] if params and isinstance(params[0], dict) else params
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in flat)
    return torch.optim.Adam(params, lr=lr, fused=fused or None)


def adams(
    fn: str, param_lrs, specs: dict[str, tuple[dict[str, nn.Module], float]], preset: tuple[str, ...] = ()
) -> dict[str, torch.optim.Adam]:
    """One `adam` per entry of specs {optimizer name: ({module name: module}, default lr)}, each with the
    parameter groups of `param_lrs` (networks.ParamLRs) over the dotted names "module name.parameter name"; a
    pattern must match a parameter of at least one of the optimizers (ValueError naming `fn` otherwise). The
    `preset` rates follow (networks.param_groups)."""
    all_names = [n for modules, _ in specs.values() for n, _ in named_parameters(modules)]
    return {
        k: adam(param_groups(fn, modules, lr, param_lrs, preset=preset, all_names=all_names), lr)
        for k, (modules, lr) in specs.items()
    }


def make_target(online: nn.Module, target: nn.Module | None, fn: str, name: str) -> nn.Module:
    """The target network of `online`: a deep copy, or `target` (a second instance of the same
    architecture, for modules that cannot be deep-copied) loaded with online's weights. Its parameters are
    frozen (requires_grad False)."""
    if target is None:
        try:
            target = copy.deepcopy(online)
        except (TypeError, RuntimeError) as e:
            raise TypeError(
                f"{fn}: {name} cannot be deep-copied ({e}); pass {name}_target=, a second instance "
                "with the same architecture"
            ) from e
    else:
        target.load_state_dict(online.state_dict())
    return target.requires_grad_(False)


def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- (1 - tau) * target + tau * online, parameter by parameter (buffers are copied)."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)


__all__ = ["EnsembleMLP", "LogAlpha", "TanhActor", "adam", "adams", "make_target", "soft_update"]
