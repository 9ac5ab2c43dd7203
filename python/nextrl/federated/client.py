"""Federated RL clients and an in-process simulation of the server's rounds.

A client owns a vector env and a `TrainFn` that trains a model in place on it and returns the number of env steps
it used (the FedAvg weight). `agent_trainer(train, cfg)` adapts any nextrl agent whose train() takes
`(env, cfg, *, seed, actor=..., critic=..., head=...)` (ppo, a2c, reinforce, trpo): the global ActorCritic's actor,
critic and head are trained in place, so a Gaussian head's persistent log_std is trained by every client and
averaged like any other weight. The federated vector is the model's named parameters (strategies.flatten).

`sac_trainer(cfg)` does the same for SAC (agents.sac.train) over a `SACModel` (a squashed-Gaussian actor and twin
critics, both federated; the target critic, log(alpha), the optimizers and the replay buffer are the client's own and
start afresh each round, so each round begins with cfg.learning_starts uniform-random steps).
`PooledVectorEnv` concatenates the clients' vector envs into one (the centralized baseline: one agent on every
client's env at once).

`run(make_model, clients, cfg, seed=...)` runs the rounds: sample clients (a fixed-size sample without replacement,
or Poisson with DP), local training from the global model (FedProx through `attach_proximal` when prox_mu > 0),
Byzantine clients (cfg.attack on cfg.num_attackers of the n clients, a fixed set drawn from the seed; see
federated.byzantine) that train and then send a poisoned update or train on poisoned rewards, optional top-k / QSGD
compression with error feedback per client (bytes counted), NaN updates dropped and counted,
aggregation by name (strategies.aggregate) or DP-FedAvg, an optional FedAdam / FedYogi server step, and an
evaluation of the global policy on every client's env after each round.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from nextrl._checks import check_seed
from nextrl.agents.common import LogFn, evaluate
from nextrl.federated import byzantine, compression, privacy
from nextrl.federated.strategies import (
    AGGREGATORS,
    ServerOptimizer,
    aggregate,
    attach_proximal,
    drop_nonfinite,
    flatten,
    unflatten,
)

TrainFn = Callable[[gym.vector.VectorEnv, nn.Module, int], int]
"""train(env, model, seed) -> env steps used; trains `model` in place."""


def agent_trainer(train: Callable, cfg) -> TrainFn:
    """A TrainFn over `train(env, cfg, *, seed, actor, critic, head)` (nextrl.agents.ppo.train and alike) training
    the model's .actor, .critic and .head in place (a Gaussian head's log_std included). A train() without a `head`
    argument is refused when the model's head has parameters (they would silently stay at the global value)."""
    takes_head = "head" in inspect.signature(train).parameters

    def fn(env, model, seed):
        head = getattr(model, "head", None)
        if takes_head:
            kwargs = {"head": head}
        elif head is not None and any(True for _ in head.parameters()):
            raise TypeError(
                f"agent_trainer: {getattr(train, '__qualname__', train)} takes no `head` argument, so the model's "
                "head parameters (a Gaussian log_std) would not be trained; give train() a head argument"
            )
        else:
            kwargs = {}
        return int(train(env, cfg, seed=seed, actor=model.actor, critic=model.critic, **kwargs).global_steps)

    return fn


class SACModel(nn.Module):
    """The federated model of SAC clients: `actor` obs [B, obs_dim] -> [B, 2 act_dim] (means, log-std
    pre-activations; agents.sac.gaussian_params) and `critic` cat(obs, action) -> twin Q [B, 2], ReLU MLPs of widths
    `hidden`; `act` is the deterministic policy bias + scale tanh(mean) in the Box `action_space`."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.spaces.Box, hidden: Sequence[int]):
        super().__init__()
        from nextrl.agents.networks import mlp
        from nextrl.agents.offpolicy_nets import EnsembleMLP

        if not isinstance(action_space, gym.spaces.Box):
            raise TypeError(f"SACModel: action_space must be a gymnasium Box, got {type(action_space).__name__}")
        obs_dim, act_dim = int(np.prod(observation_space.shape)), int(np.prod(action_space.shape))
        self.actor = mlp(obs_dim, 2 * act_dim, tuple(hidden), activation=nn.ReLU)
        self.critic = EnsembleMLP(obs_dim + act_dim, 1, 2, tuple(hidden))
        self.action_shape = action_space.shape
        self.register_buffer("low", torch.as_tensor(action_space.low, dtype=torch.float32).reshape(-1))
        self.register_buffer("high", torch.as_tensor(action_space.high, dtype=torch.float32).reshape(-1))

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """bias + scale tanh(mean) [B, *action_shape] (the deterministic policy; `deterministic` must be True)."""
        from nextrl.agents.sac import gaussian_params

        if not deterministic:
            raise ValueError("SACModel.act: only the deterministic policy is offered here (sample with sac.train)")
        mean, _ = gaussian_params(self.actor(obs.reshape(obs.shape[0], -1)))
        a = (self.high + self.low) / 2 + (self.high - self.low) / 2 * torch.tanh(mean)
        return a.reshape(obs.shape[0], *self.action_shape)


def sac_trainer(cfg) -> TrainFn:
    """A TrainFn training a `SACModel`'s actor and critic in place with agents.sac.train(env, cfg) (cfg.total_timesteps
    env steps per call)."""
    from nextrl.agents import sac

    def fn(env, model, seed):
        if not isinstance(model, SACModel):
            raise TypeError(f"sac_trainer: the model must be a federated.client.SACModel, got {type(model).__name__}")
        return int(sac.train(env, cfg, seed=seed, actor=model.actor, critic=model.critic).global_steps)

    return fn


class PooledVectorEnv(gym.vector.VectorEnv):
    """One vector env over several (same single spaces, NEXT_STEP autoreset): slots [0, n_0) are envs[0]'s, the
    next n_1 envs[1]'s, and so on. reset(seed=s) resets envs[i] with seed s + 7919 i; step splits the actions and
    concatenates observations, rewards and flags; infos are the keys every env reports, concatenated. Box action
    spaces of one shape and dtype may differ in their bounds (Pendulums of different max_torque): the pooled action
    space is their union, and each env takes the actions as given and applies its own bounds (Pendulum clips)."""

    def __init__(self, envs: Sequence[gym.vector.VectorEnv]):
        if len(envs) == 0:
            raise ValueError("PooledVectorEnv: envs must hold at least one vector env, got none")
        first = envs[0]
        action_space = first.single_action_space
        for i, e in enumerate(envs):
            a = e.single_action_space
            same_box = (
                isinstance(a, gym.spaces.Box)
                and isinstance(action_space, gym.spaces.Box)
                and (a.shape, a.dtype) == (action_space.shape, action_space.dtype)
            )
            if same_box and a != action_space:  # bounds differ: the union box
                low, high = np.minimum(action_space.low, a.low), np.maximum(action_space.high, a.high)
                action_space = gym.spaces.Box(low, high, a.shape, a.dtype)
            if e.single_observation_space != first.single_observation_space or not (
                same_box or a == first.single_action_space
            ):
                raise ValueError(
                    f"PooledVectorEnv: env {i} has spaces {e.single_observation_space}, {e.single_action_space}; "
                    f"env 0 has {first.single_observation_space}, {first.single_action_space}"
                )
            mode = e.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
            if mode != gym.vector.AutoresetMode.NEXT_STEP:
                raise ValueError(f"PooledVectorEnv: env {i} must use NEXT_STEP autoreset, got {mode}")
        self.envs = list(envs)
        self.num_envs = sum(e.num_envs for e in envs)
        self.single_observation_space = first.single_observation_space
        self.single_action_space = action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}
        self._splits = np.cumsum([e.num_envs for e in envs])[:-1]

    @staticmethod
    def _infos(parts: list[dict]) -> dict:
        keys = set.intersection(*(set(p) for p in parts)) if parts else set()
        out = {}
        for k in keys:
            vals = [p[k] for p in parts]
            if all(isinstance(v, np.ndarray) for v in vals):
                out[k] = np.concatenate(vals)
        return out

    def reset(self, *, seed=None, options=None):
        res = [
            e.reset(seed=None if seed is None else seed + 7919 * i, options=options) for i, e in enumerate(self.envs)
        ]
        return np.concatenate([o for o, _ in res]), self._infos([i for _, i in res])

    def step(self, actions):
        res = [e.step(a) for e, a in zip(self.envs, np.split(np.asarray(actions), self._splits))]
        obs, rewards, terms, truncs, infos = zip(*res)
        return (
            np.concatenate(obs),
            np.concatenate(rewards),
            np.concatenate(terms),
            np.concatenate(truncs),
            self._infos(list(infos)),
        )

    def close_extras(self, **kwargs):
        for e in self.envs:
            e.close()


@dataclass
class Client:
    env: gym.vector.VectorEnv
    """the client's own env (its dynamics / reward variant)"""
    train: TrainFn
    """local training, K steps or E epochs as its config says"""


@dataclass(frozen=True)
class FederatedConfig:
    rounds: int = 10
    """server rounds"""
    clients_per_round: int = 0
    """clients sampled per round without replacement (0: all); with DP, the expected number m of a Poisson sample"""
    aggregator: str = "fedavg"
    """one of strategies.AGGREGATORS (fedavg weighs by env steps)"""
    beta: float = 0.1
    """trimmed_mean's fraction per side (when num_byzantine is 0)"""
    num_byzantine: int = 0
    """f for krum / multi_krum / trimmed_mean"""
    prox_mu: float = 0.0
    """FedProx coefficient mu (0: FedAvg local objective)"""
    server_optimizer: str | None = None
    """None (x += server_lr * aggregate), "adam" or "yogi" (Reddi et al. 2021)"""
    server_lr: float = 1.0
    """server step size"""
    dp_clip: float = 0.0
    """> 0: DP-FedAvg with this clip norm C (Poisson sampling; replaces the aggregator)"""
    dp_noise_multiplier: float = 1.0
    """z of DP-FedAvg"""
    dp_delta: float = 1e-5
    """delta at which epsilon is reported"""
    compress_ratio: float = 1.0
    """top-k fraction in (0, 1] (1: no sparsification)"""
    compress_levels: int = 0
    """QSGD levels s (0: float32 values)"""
    eval_episodes: int = 8
    """episodes per client env per evaluation"""
    attack: str | None = None
    """None or one of byzantine.ATTACKS: what the Byzantine clients do"""
    num_attackers: int = 0
    """Byzantine clients among the n (a fixed set drawn from the seed, FederatedResult.byzantine)"""
    attack_scale: float = 1.0
    """sign_flip sends -scale u, scaled sends scale u, gaussian sends N(0, scale^2) noise, reward_poisoning trains
    on -scale r"""

    def __post_init__(self):
        if self.rounds < 1:
            raise ValueError(f"FederatedConfig: rounds must be >= 1, got {self.rounds}")
        if self.aggregator not in AGGREGATORS:
            raise ValueError(f"FederatedConfig: aggregator must be one of {list(AGGREGATORS)}, got {self.aggregator!r}")
        if self.server_optimizer not in (None, "adam", "yogi"):
            raise ValueError(
                f"FederatedConfig: server_optimizer must be None, 'adam' or 'yogi', got {self.server_optimizer!r}"
            )
        if not 0 < self.compress_ratio <= 1:
            raise ValueError(f"FederatedConfig: compress_ratio must be in (0, 1], got {self.compress_ratio}")
        if self.dp_clip > 0 and not 0 < self.dp_delta < 1:
            raise ValueError(f"FederatedConfig: dp_delta must be in (0, 1), got {self.dp_delta}")
        if isinstance(self.num_attackers, bool) or not isinstance(self.num_attackers, int) or self.num_attackers < 0:
            raise ValueError(f"FederatedConfig: num_attackers must be an int >= 0, got {self.num_attackers!r}")
        if self.attack is None:
            if self.num_attackers > 0:
                raise ValueError(f"FederatedConfig: num_attackers is {self.num_attackers} but attack is None")
        else:
            byzantine.check_attack("FederatedConfig", self.attack, self.attack_scale)


@dataclass
class FederatedResult:
    model: nn.Module
    """the final global model"""
    eval_returns: list[np.ndarray] = field(default_factory=list)
    """[rounds + 1] arrays [num_clients]: mean evaluation return of the global policy on every client's env, before
    round 1 and after each round"""
    bytes_sent: list[int] = field(default_factory=list)
    """uplink bytes per round, summed over clients (encoded messages)"""
    dropped: list[int] = field(default_factory=list)
    """non-finite updates dropped per round"""
    epsilons: list[float] = field(default_factory=list)
    """DP: RDP epsilon at dp_delta after each round"""
    byzantine: list[int] = field(default_factory=list)
    """indices of the Byzantine clients (sorted)"""


def _load(model: nn.Module, vec: torch.Tensor, spec) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for k, t in unflatten(vec, spec).items():
            params[k].copy_(t)


def evaluate_policy(model: nn.Module, env, num_episodes: int, seed: int) -> float:
    """Mean return of the model's deterministic policy (ActorCritic.act) over `num_episodes` episodes."""

    def act(obs):
        with torch.no_grad():
            return model.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True).numpy()

    return float(evaluate(act, env, num_episodes, seed=seed).mean())


def local_update(
    make_model: Callable[[], nn.Module], global_vec: torch.Tensor, spec, client: Client, seed: int, prox_mu: float = 0.0
) -> tuple[torch.Tensor, int]:
    """(update = local - global [d], env steps): the client trains a copy of the global model on its env."""
    model = make_model()
    _load(model, global_vec, spec)
    handles = attach_proximal(model, unflatten(global_vec, spec), prox_mu) if prox_mu > 0 else []
    try:
        num_samples = client.train(client.env, model, seed)
    finally:
        for h in handles:
            h.remove()
    return flatten(dict(model.named_parameters()))[0] - global_vec, num_samples


def run(
    make_model: Callable[[], nn.Module],
    clients: Sequence[Client],
    cfg: FederatedConfig,
    *,
    seed: int,
    log: LogFn | None = None,
) -> FederatedResult:
    """Runs cfg.rounds server rounds in process; see the module docstring."""
    seed = check_seed("federated.run", seed)
    if len(clients) == 0:
        raise ValueError("federated.run: clients must hold at least one Client, got none")
    n = len(clients)
    m = cfg.clients_per_round or n
    if not 1 <= m <= n:
        raise ValueError(f"federated.run: clients_per_round must be in [0, {n}], got {cfg.clients_per_round}")
    if cfg.num_attackers > n:
        raise ValueError(f"federated.run: num_attackers must be in [0, {n}] (the clients), got {cfg.num_attackers}")
    if cfg.num_attackers > 0 and cfg.dp_clip <= 0:
        byzantine.check_tolerance("federated.run", cfg.aggregator, cfg.num_attackers, m, cfg.num_byzantine, cfg.beta)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    attack_gen = torch.Generator().manual_seed(seed + 0xB12)
    bad = sorted(int(i) for i in np.random.default_rng([seed, 0xB12]).choice(n, cfg.num_attackers, replace=False))
    train_clients = list(clients)
    if cfg.attack == "reward_poisoning":
        for i in bad:
            train_clients[i] = Client(byzantine.poison_rewards(clients[i].env, cfg.attack_scale), clients[i].train)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_model()
    x, spec = flatten(dict(model.named_parameters()))
    server = ServerOptimizer(x, cfg.server_optimizer, lr=cfg.server_lr) if cfg.server_optimizer else None
    coders = [
        compression.ErrorFeedback(x.numel(), ratio=cfg.compress_ratio, levels=cfg.compress_levels, seed=seed + i)
        for i in range(n)
    ]
    compress = cfg.compress_ratio < 1 or cfg.compress_levels > 0
    result = FederatedResult(model, byzantine=bad)

    def evaluate_all(r):
        _load(model, x, spec)
        return np.array(
            [evaluate_policy(model, c.env, cfg.eval_episodes, seed + 7919 * r + i) for i, c in enumerate(clients)]
        )

    result.eval_returns.append(evaluate_all(0))
    for r in range(1, cfg.rounds + 1):
        if cfg.dp_clip > 0:
            chosen = privacy.poisson_sample(n, m, rng)
        else:
            chosen = np.sort(rng.choice(n, size=m, replace=False))
        updates, weights, nbytes = [], [], 0
        for i in chosen:
            u, w = local_update(make_model, x, spec, train_clients[i], seed + 1000 * r + int(i), cfg.prox_mu)
            if cfg.attack in byzantine.UPDATE_ATTACKS and int(i) in bad:
                u = byzantine.poison_update(cfg.attack, u, cfg.attack_scale, attack_gen)
            if compress and torch.isfinite(u).all():
                msg = coders[i].encode(u)
                nbytes += msg.nbytes
                u = compression.decode(msg, x.dtype)
            else:
                nbytes += compression.dense_nbytes(u.numel(), u.dtype)
            updates.append(u)
            weights.append(w)
        dropped = 0
        if updates:
            stacked, w, dropped = drop_nonfinite(torch.stack(updates), weights)
        else:
            stacked, w = torch.zeros(0, x.numel(), dtype=x.dtype), None
        if cfg.dp_clip > 0:
            delta = privacy.dp_fedavg(stacked, cfg.dp_clip, cfg.dp_noise_multiplier, m, generator=gen)
            result.epsilons.append(privacy.epsilon(cfg.dp_noise_multiplier, m / n, r, cfg.dp_delta))
        elif stacked.shape[0] == 0:
            delta = torch.zeros_like(x)
        else:
            delta = aggregate(cfg.aggregator, stacked, w, beta=cfg.beta, num_byzantine=cfg.num_byzantine)
        x = server.step(delta) if server else x + cfg.server_lr * delta
        result.bytes_sent.append(nbytes)
        result.dropped.append(dropped)
        result.eval_returns.append(evaluate_all(r))
        if log is not None:
            metrics = {"federated/eval_return": float(result.eval_returns[-1].mean()), "federated/bytes": nbytes}
            if result.epsilons:
                metrics["federated/epsilon"] = result.epsilons[-1]
            log(r, metrics)
    _load(model, x, spec)
    return result


__all__ = [
    "Client",
    "FederatedConfig",
    "FederatedResult",
    "PooledVectorEnv",
    "SACModel",
    "TrainFn",
    "agent_trainer",
    "evaluate_policy",
    "run",
    "sac_trainer",
]
