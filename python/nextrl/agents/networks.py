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

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


ParamLRs = tuple[str, ...]
"""Per-parameter-group learning rates, a config field of every trainer (`param_lrs`): "pattern=lr" entries
such as ("weights=0.01", "scales=0.01", "output_scale=0.1"). A pattern is an fnmatch glob over a parameter's
dotted name as the trainer's modules name it (e.g. "actor.weights", "critic.0.weight", "q_network.scales");
a pattern without a match on the whole name also matches its last components ("weights" matches
"actor.weights", "*.bias" every bias). The first matching entry sets a parameter's rate; parameters that no
entry matches keep the optimizer's rate from the config. From the command line:
`--set param_lrs=weights=0.01,scales=0.01,output_scale=0.1`."""


def parse_param_lrs(fn: str, param_lrs) -> list[tuple[str, float]]:
    """[(pattern, lr)] of a ParamLRs tuple ("pattern=lr" strings) or a mapping pattern -> lr. ValueError naming
    `fn` for an entry that is not "pattern=lr" or a rate that is not a finite number > 0."""
    if isinstance(param_lrs, str):
        raise TypeError(f"{fn}: param_lrs must be a tuple of 'pattern=lr' strings, got the string {param_lrs!r}")
    if isinstance(param_lrs, Mapping):
        items = [(k, v) for k, v in param_lrs.items()]
    else:
        items = []
        for entry in param_lrs:
            if not isinstance(entry, str) or "=" not in entry:
                raise ValueError(f"{fn}: param_lrs entries must be 'pattern=lr' strings, got {entry!r}")
            pattern, text = entry.rsplit("=", 1)
            try:
                items.append((pattern, float(text)))
            except ValueError:
                raise ValueError(f"{fn}: param_lrs entry {entry!r}: lr must be a number, got {text!r}") from None
    out = []
    for pattern, lr in items:
        pattern = str(pattern).strip()
        if not pattern:
            raise ValueError(f"{fn}: param_lrs has an empty pattern")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"{fn}: param_lrs[{pattern!r}] must be a finite number > 0, got {lr!r}")
        out.append((pattern, float(lr)))
    return out


def _matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, "*." + pattern)


def named_parameters(modules: torch.nn.Module | Mapping[str, torch.nn.Module | None]) -> list[tuple[str, Any]]:
    """(dotted name, parameter) of a module (its own names) or of a mapping name -> module (names prefixed
    with "name."; None entries skipped), each parameter once."""
    if isinstance(modules, torch.nn.Module):
        return list(modules.named_parameters())
    return [(f"{k}.{n}", p) for k, m in modules.items() if m is not None for n, p in m.named_parameters()]


def param_groups(
    fn: str,
    modules: torch.nn.Module | Mapping[str, torch.nn.Module | None],
    lr: float,
    param_lrs=(),
    *,
    preset: ParamLRs = (),
    all_names: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups for `modules` (see `named_parameters`) under `param_lrs` (ParamLRs): one
    group per entry that matches a parameter, in entry order, then the "default" group at `lr` for the
    rest; empty groups are left out. Each group is {"params", "lr", "base_lr" (the rate that `scale_lrs`
    scales), "name" (the pattern, or "default")}. Every pattern must match at least one name of `all_names`
    (default: the names of `modules`; a trainer with several optimizers passes the names of all of them),
    else ValueError listing the names. The entries of `preset` (a network preset's rates, `preset_param_lrs`)
    follow those of `param_lrs` and need not match. Parameters with requires_grad False are left out."""
    entries = parse_param_lrs(fn, param_lrs)
    named = [(n, p) for n, p in named_parameters(modules) if p.requires_grad]
    names = [n for n, _ in named] if all_names is None else list(all_names)
    for pattern, _ in entries:
        if not any(_matches(n, pattern) for n in names):
            raise ValueError(f"{fn}: param_lrs pattern {pattern!r} matches no parameter; the parameters are {names}")
    entries += parse_param_lrs(fn, preset)
    buckets: list[list] = [[] for _ in range(len(entries) + 1)]
    for n, p in named:
        k = next((i for i, (pattern, _) in enumerate(entries) if _matches(n, pattern)), len(entries))
        buckets[k].append(p)
    rates = [*entries, ("default", float(lr))]
    return [{"params": ps, "lr": r, "base_lr": r, "name": name} for (name, r), ps in zip(rates, buckets) if ps]


def scale_lrs(optimizer: torch.optim.Optimizer, fraction: float) -> None:
    """Sets every group's rate to its `base_lr` (see `param_groups`; the group's rate when it has none) times
    `fraction`: linear annealing that keeps the ratios between the groups."""
    for g in optimizer.param_groups:
        g["lr"] = g.setdefault("base_lr", g["lr"]) * fraction


NETWORKS = ("mlp", "skolik", "softmax_pqc", "raw_pqc")
"""Names a trainer's `network` config field takes: "mlp" (the default MLPs), "skolik", a QuantumLayer on the
Skolik et al. 2022 re-uploading circuit (`quantum_network`) in place of the policy (or Q-) network, and the two
policies of Jerbi et al. 2021 (agents.quantum_policies), for trainers with a discrete-action actor only:
"softmax_pqc" (softmax of weighted Pauli expectations with an inverse temperature) and "raw_pqc" (Born-rule
probabilities of the measured qubits)."""

POLICY_NETWORKS = ("softmax_pqc", "raw_pqc")
"""The presets that are policies (actions sampled from their distribution), not value networks."""

PRESET_PARAM_LRS: dict[str, dict[str, ParamLRs]] = {
    "mlp": {},
    "skolik": {
        "actor_critic": ("actor.weights=0.01", "actor.scales=0.01", "actor.output_scale=0.03", "critic.*=0.01"),
        "actor": ("actor.weights=0.01", "actor.scales=0.01", "actor.output_scale=0.03"),
        "q_network": (
            "q_network.layer.weights=0.001",
            "q_network.layer.scales=0.001",
            "q_network.layer.output_scale=0.1",
        ),
    },
    "softmax_pqc": {
        "actor_critic": (
            "actor.pqc.weights=0.01",
            "actor.pqc.scales=0.1",
            "actor.observable_weights=0.1",
            "critic.*=0.01",
        ),
        "actor": ("actor.pqc.weights=0.01", "actor.pqc.scales=0.1", "actor.observable_weights=0.1"),
    },
    "raw_pqc": {
        "actor_critic": ("actor.pqc.weights=0.01", "actor.pqc.scales=0.1", "critic.*=0.01"),
        "actor": ("actor.pqc.weights=0.01", "actor.pqc.scales=0.1"),
    },
}
"""The per-group learning rates a `network` preset brings, by the role of the quantum network: the policy of an
actor-critic ("actor_critic": REINFORCE, A2C, PPO, whose MLP critic then learns at 0.01 too), an actor of its own
("actor": discrete SAC) or a Q-network ("q_network": DQN). The groups are the layer's rotation angles
("weights"), input scales ("scales") and output weights ("output_scale"). The policy rates are the ones measured to
learn CartPole-v1 with PPO (tests/agents/test_quantum_policy.py; at PPO's 2.5e-4 the policy barely moves, and output
weights at Jerbi et al. 2021's 0.1 made the policy greedy too early); the Q-network's are Skolik et al. 2022's
(angles and input scales 0.001, output weights 0.1). `param_groups` applies them after the config's own
`param_lrs`, which take precedence."""


def preset_param_lrs(network: str, role: str) -> ParamLRs:
    """The rates of `network`'s preset for a quantum network in `role` (PRESET_PARAM_LRS; () for "mlp")."""
    return PRESET_PARAM_LRS[network].get(role, ()) if network in PRESET_PARAM_LRS else ()


def check_network(fn: str, network: str, *, policies: bool = True) -> None:
    """ValueError naming `fn` unless `network` is one of NETWORKS (policies=False: a value network, so not one of
    POLICY_NETWORKS)."""
    allowed = NETWORKS if policies else tuple(n for n in NETWORKS if n not in POLICY_NETWORKS)
    if network not in allowed:
        extra = f" ({network!r} is a policy, not a value network)" if network in POLICY_NETWORKS else ""
        raise ValueError(f"{fn}: network must be one of {', '.join(map(repr, allowed))}, got {network!r}{extra}")


def quantum_network(obs_space: gym.Space, num_outputs: int, num_layers: int = 5) -> nn.Module:
    """The "skolik" preset: a QuantumLayer [B, obs_dim] -> [B, num_outputs] on
    nextrl.quantum.ansatz.skolik_reuploading with one qubit per observation feature and `num_layers` layers
    (trainable input scales, initialized to 1), read out as Z products over `num_outputs` contiguous groups of
    qubits (Z0Z1 and Z2Z3 for CartPole's 4 features and 2 actions, as in the paper), each times a trainable
    output weight (initialized to 1). As a policy its outputs are the logits of a softmax-PQC (Jerbi et al.
    2021, the output weights playing the inverse temperature). Draws its initial angles from torch's global
    generator (the trainers seed it)."""
    from nextrl.quantum import QuantumLayer
    from nextrl.quantum.ansatz import skolik_reuploading

    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise TypeError(f"quantum_network: observation space must be a 1-D Box, got {obs_space}")
    n = int(obs_space.shape[0])
    if not 1 <= num_outputs <= n:
        raise ValueError(
            f"quantum_network: the outputs ({num_outputs}) must be between 1 and the qubits, one per observation "
            f"feature ({n})"
        )
    k, r = divmod(n, num_outputs)
    observables, start = [], 0
    for a in range(num_outputs):
        group = range(start, start + k + (1 if a < r else 0))
        start = group.stop
        observables.append("".join("Z" if n - 1 - i in group else "I" for i in range(n)))
    circuit = skolik_reuploading(n, num_layers, observables=observables)
    return QuantumLayer(circuit, output_scaling=True)


class ExpectationQ(nn.Module):
    """Q-values from a QuantumLayer with output weights w: Q(s, a) = w_a (1 + <O_a>) / 2, in [0, w_a] where the
    layer alone gives w_a <O_a> in [-w_a, w_a] ([B, obs_dim] -> [B, A]). The rescaling of TensorFlow Quantum's
    implementation of Skolik et al. 2022's Q-learning: CartPole's returns are positive, and with it DQN reached
    greedy 290 / 216 after 24,000 steps where the bare layer reached 114 / 500 (seeds 0 / 1). Parameters stay the
    layer's ("layer.weights", "layer.scales", "layer.output_scale")."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        if getattr(layer, "output_scale", None) is None:
            raise ValueError("ExpectationQ: layer must be a QuantumLayer with output_scaling=True")
        self.layer = layer

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return (self.layer(obs) + self.layer.output_scale) / 2


def preset_network(
    fn: str, network: str, obs_space: gym.Space, num_outputs: int, *, q_values: bool = False
) -> nn.Module | None:
    """The module of a `network` preset with `num_outputs` outputs (actions, for the policies), or None for "mlp"
    (the trainer builds its own MLP). q_values: a Q-network ("skolik": the layer inside ExpectationQ)."""
    check_network(fn, network)
    if network == "mlp":
        return None
    if network == "skolik":
        layer = quantum_network(obs_space, num_outputs)
        return ExpectationQ(layer) if q_values else layer
    from nextrl.agents import quantum_policies

    if network == "softmax_pqc":
        return quantum_policies.softmax_pqc_policy(obs_space, num_outputs)
    return quantum_policies.raw_pqc_policy(obs_space, num_outputs)


def preset_actor(
    fn: str, network: str, actor: nn.Module | None, obs_space: gym.Space, action_space: gym.Space
) -> nn.Module | None:
    """The actor an on-policy trainer uses: `actor` when given (then `network` must be "mlp", else ValueError),
    else the preset's module sized for the action space (None for "mlp": default_actor_critic builds it)."""
    if actor is not None:
        if network != "mlp":
            raise ValueError(f"{fn}: give either actor= or the config's network={network!r}, not both")
        return actor
    if network in POLICY_NETWORKS and not isinstance(action_space, gym.spaces.Discrete):
        raise TypeError(f"{fn}: network={network!r} needs a Discrete action space, got {action_space}")
    return preset_network(fn, network, obs_space, actor_output_dim(action_space))


def default_actor_critic(
    obs_space: gym.Space,
    action_space: gym.Space,
    hidden: Sequence[int] = (64, 64),
    log_std_init: float = 0.0,
    *,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    with_critic: bool = True,
    head: nn.Module | None = None,
) -> ActorCritic:
    """An ActorCritic for the spaces: `actor` and `critic` where given (any nn.Module, e.g. a
    QuantumLayer), else CleanRL's MLPs (tanh, orthogonal init, actor output gain 0.01, critic 1.0) for a
    1-D Box observation space, or GridCNNs for image observations [C, H, W]. with_critic=False: no critic.
    `head` where given (the CategoricalHead / DiagGaussianHead head_for builds for the action space, e.g. another
    policy's head, whose log_std is then trained in place), else a new one at log_std_init."""
    if not isinstance(obs_space, gym.spaces.Box):
        raise TypeError(f"default_actor_critic: observation space must be a Box, got {obs_space}")
    for name, m in (("actor", actor), ("critic", critic)):
        if m is not None and not isinstance(m, nn.Module):
            raise TypeError(f"default_actor_critic: {name} must be a torch.nn.Module, got {type(m).__name__}")
    out = actor_output_dim(action_space)
    if head is not None:
        want = head_for(action_space)
        if type(head) is not type(want) or getattr(head, "action_dim", None) != getattr(want, "action_dim", None):
            raise TypeError(
                f"default_actor_critic: head must be a {type(want).__name__} for {action_space}, got {head!r}"
            )
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
    if head is None:
        head = head_for(action_space, log_std_init)
    return ActorCritic(actor, critic if with_critic else None, head)


__all__ = [
    "NETWORKS",
    "POLICY_NETWORKS",
    "PRESET_PARAM_LRS",
    "ActorCritic",
    "CategoricalHead",
    "DiagGaussianHead",
    "ExpectationQ",
    "GRUCore",
    "GridCNN",
    "actor_output_dim",
    "check_network",
    "default_actor_critic",
    "head_for",
    "mlp",
    "named_parameters",
    "param_groups",
    "parse_param_lrs",
    "preset_actor",
    "preset_network",
    "preset_param_lrs",
    "quantum_network",
    "scale_lrs",
]
