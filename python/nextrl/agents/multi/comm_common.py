"""What the communication learners (CommNet, DIAL, TarMAC) share: the config, the base class of their networks
and an end-to-end policy-gradient trainer for one-step cooperative games (every step ends every agent's
episode, as nextrl.marl.guessing_game), with the messages stored.

A communication network maps observations [B, A, obs_size] (and, for DIAL, channel noise) to action logits
[B, A, n] and the messages the agents sent [B, A, message_size]; messages are continuous functions of the
senders' hidden states, so the policy-gradient loss of a receiver's action flows back through the message into
the sender's network (trained end to end). `communicate=False` gives the same network with every message
replaced by zeros: the no-communication ablation.

Training (REINFORCE with a baseline per agent, Williams 1992): each iteration collects num_steps vector-env steps
with sampled actions, storing per step the observations, the channel noise drawn (DIAL's DRU), the messages
sent and the actions; the update recomputes logits and messages from the stored observations and noise (so the
loss sees the very messages the agents acted on; `train` checks they agree) and takes one Adam step on
    -mean((r_i - mean_batch(r_i)) log pi_i(a_i | o, messages)) - ent_coef mean(entropy).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents.common import LogFn, TrainResult, emit, seeded


@dataclass(frozen=True)
class CommConfig:
    """Hyperparameters of the communication learners' trainer."""

    total_timesteps: int = 50_000
    """environment steps summed over all envs"""
    num_steps: int = 4
    """vector-env steps per update (batch = num_steps * num_envs joint steps)"""
    learning_rate: float = 3e-3
    """Adam step size"""
    ent_coef: float = 0.01
    """entropy bonus coefficient"""
    max_grad_norm: float = 1.0
    """gradient-norm clip"""

    def __post_init__(self):
        name = type(self).__name__
        for field_name in ("total_timesteps", "num_steps"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}: {field_name} must be >= 1, got {getattr(self, field_name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"{name}: learning_rate must be > 0, got {self.learning_rate}")


class CommNetwork(nn.Module):
    """Base of CommNet, DIAL and TarMAC: per agent an encoder h_i = tanh(W [o_i, onehot(i)] + b) shared by the
    agents, the subclass's communication, and a shared action head. Subclasses set `message_size` and
    implement `communicate_step(h, noise, execute) -> (new hidden [B, A, H], messages [B, A, message_size])`."""

    message_size: int = 0
    noise_size: int = 0

    def __init__(self, obs_size: int, num_actions: int, num_agents: int, hidden: int = 64, communicate: bool = True):
        super().__init__()
        name = type(self).__name__
        for field_name, value, low in (
            ("obs_size", obs_size, 1),
            ("num_actions", num_actions, 2),
            ("num_agents", num_agents, 2),
            ("hidden", hidden, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name}: {field_name} must be an integer >= {low}, got {value!r}")
        self.obs_size, self.num_actions, self.num_agents, self.hidden = obs_size, num_actions, num_agents, hidden
        self.communicate = bool(communicate)
        self.encoder = nn.Linear(obs_size + num_agents, hidden)
        self.action_head = nn.Linear(hidden, num_actions)

    def communicate_step(self, h: Tensor, noise: Tensor | None, execute: bool) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def sample_noise(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """Channel noise for `batch` joint steps: [batch, A, noise_size] standard normal (empty without noise)."""
        return torch.randn(batch, self.num_agents, self.noise_size, generator=generator)

    def forward(self, obs: Tensor, noise: Tensor | None = None, execute: bool = False) -> tuple[Tensor, Tensor]:
        """obs [B, A, obs_size], noise [B, A, noise_size] (training; None at execution) -> (logits [B, A, n],
        messages [B, A, message_size]). `execute`: the decentralized execution messages (DIAL: discrete)."""
        if obs.dim() != 3 or obs.shape[1:] != (self.num_agents, self.obs_size):
            raise ValueError(
                f"{type(self).__name__}: obs must be [B, {self.num_agents}, {self.obs_size}] "
                f"(B, num_agents, obs_size), got {tuple(obs.shape)}"
            )
        if self.noise_size and not execute and (noise is None or noise.shape != (*obs.shape[:2], self.noise_size)):
            raise ValueError(
                f"{type(self).__name__}: training needs noise [B, {self.num_agents}, {self.noise_size}], "
                f"got {None if noise is None else tuple(noise.shape)}"
            )
        ids = torch.eye(self.num_agents, dtype=obs.dtype).expand(obs.shape[0], -1, -1)
        h = torch.tanh(self.encoder(torch.cat([obs, ids], dim=-1)))
        h, messages = self.communicate_step(h, noise, execute)
        return self.action_head(h), messages

    def others(self, x: Tensor) -> Tensor:
        """x [B, A, m] -> [B, A, A - 1, m]: for agent i, the rows of the other agents in index order."""
        a = self.num_agents
        index = torch.tensor([[j for j in range(a) if j != i] for i in range(a)])
        return x[:, index]


def check_env(fn: str, env, net: CommNetwork | None = None):
    """A batched multi-agent env with a Discrete action space (nextrl.marl's array API) and, with `net`, the
    network's agents, observation size and action count."""
    for attr in ("num_envs", "num_agents", "obs_size", "single_action_space", "reset", "step"):
        if not hasattr(env, attr):
            raise TypeError(f"{fn}: env must be a batched multi-agent env (no {attr!r}), got {type(env).__name__}")
    n = getattr(env.single_action_space, "n", None)
    if n is None:
        raise TypeError(f"{fn}: env must have a Discrete action space, got {env.single_action_space}")
    if net is not None and (net.num_agents, net.obs_size, net.num_actions) != (env.num_agents, env.obs_size, int(n)):
        raise ValueError(
            f"{fn}: env must have {net.num_agents} agents, obs_size {net.obs_size} and {net.num_actions} actions "
            f"(the network's), got {env.num_agents}, {env.obs_size} and {int(n)}"
        )
    return env


@dataclass
class CommRollout:
    """One iteration's stored joint steps, flattened to B = num_steps * num_envs rows."""

    obs: Tensor
    """[B, A, obs_size]"""
    noise: Tensor
    """[B, A, noise_size]: the channel noise drawn when acting"""
    messages: Tensor
    """[B, A, message_size]: the messages sent when acting"""
    actions: Tensor
    """[B, A] int64"""
    log_probs: Tensor
    """[B, A] at collection"""
    rewards: Tensor
    """[B, A]"""


def loss(net: CommNetwork, batch: CommRollout, cfg: CommConfig) -> tuple[Tensor, dict[str, float], Tensor]:
    """The policy-gradient loss of the module docstring on a stored batch; returns (loss, stats, the messages
    recomputed from the stored observations and noise)."""
    logits, messages = net(batch.obs, batch.noise)
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, batch.actions.unsqueeze(-1))[..., 0]
    adv = batch.rewards - batch.rewards.mean(dim=0, keepdim=True)
    pg = -(adv * logp).mean()
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
    total = pg - cfg.ent_coef * entropy
    return total, {"losses/policy": float(pg.detach()), "losses/entropy": float(entropy.detach())}, messages


def train(env, net: CommNetwork, cfg: CommConfig, *, seed: int, log: LogFn | None = None) -> TrainResult:
    """Trains `net` (CommNet, DIAL or TarMAC, constructed by the caller, with or without communication) end to
    end on a one-step cooperative game (module docstring). Modules: "network". Metrics per update include
    "charts/mean_reward" (the batch's mean agent reward) and "charts/message_mismatch" (the largest difference
    between the stored messages and those recomputed for the loss: 0). Every step is an episode; the result's
    episode lists stay empty."""
    fn = "comm.train"
    if not isinstance(net, CommNetwork):
        raise TypeError(f"{fn}: net must be a CommNetwork (CommNet, DIAL, TarMAC), got {type(net).__name__}")
    env = check_env(fn, env, net)
    with seeded(seed, fn) as gen:
        opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        result = TrainResult(cfg, {"network": net})
        obs, _ = env.reset(seed=seed)
        start = time.perf_counter()
        global_step = 0
        num_iterations = max(1, cfg.total_timesteps // (cfg.num_steps * env.num_envs))
        for _ in range(num_iterations):
            rows: dict[str, list[Tensor]] = {
                k: [] for k in ("obs", "noise", "messages", "actions", "log_probs", "rewards")
            }
            for _ in range(cfg.num_steps):
                obs_t = torch.as_tensor(obs, dtype=torch.float32)
                noise = net.sample_noise(env.num_envs, gen)
                with torch.no_grad():
                    logits, messages = net(obs_t, noise)
                    dist = torch.distributions.Categorical(logits=logits)
                    actions = dist.sample()
                obs, rewards, terms, _, _ = env.step(actions.numpy())
                if not np.all(terms):
                    raise ValueError(f"{fn}: env must end every agent's episode at every step (a one-step game)")
                global_step += env.num_envs
                for k, v in (
                    ("obs", obs_t),
                    ("noise", noise),
                    ("messages", messages),
                    ("actions", actions),
                    ("log_probs", dist.log_prob(actions)),
                    ("rewards", torch.as_tensor(rewards, dtype=torch.float32)),
                ):
                    rows[k].append(v)
            batch = CommRollout(**{k: torch.cat(v) for k, v in rows.items()})
            total, stats, recomputed = loss(net, batch, cfg)
            opt.zero_grad()
            total.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
            opt.step()
            mismatch = float((recomputed.detach() - batch.messages).abs().max()) if batch.messages.numel() else 0.0
            stats = {
                "global_step": float(global_step),
                **stats,
                "charts/mean_reward": float(batch.rewards.mean()),
                "charts/message_mismatch": mismatch,
            }
            result.metrics.append(stats)
            emit(log, global_step, stats, result)
        result.global_steps = global_step
        result.wall_time_s = time.perf_counter() - start
    return result


def evaluate(net: CommNetwork, env, num_steps: int, *, seed: int) -> float:
    """Mean agent reward of the decentralized execution policy (greedy actions, execution messages: DIAL's
    discrete ones) over `num_steps` vector-env steps of `env` reset with `seed`."""
    check_env("comm.evaluate", env, net)
    obs, _ = env.reset(seed=seed)
    total = 0.0
    for _ in range(num_steps):
        with torch.no_grad():
            logits, _ = net(torch.as_tensor(obs, dtype=torch.float32), execute=True)
        obs, rewards, _, _, _ = env.step(logits.argmax(-1).numpy())
        total += float(np.mean(rewards))
    return total / num_steps


__all__ = ["CommConfig", "CommNetwork", "CommRollout", "check_env", "evaluate", "loss", "train"]
