"""MAAC, multi-actor-attention-critic (Iqbal and Sha 2019, "Actor-Attention-Critic for Multi-Agent Reinforcement
Learning", arXiv:1810.02912), discrete actions, on nextrl.marl's batched envs.

Critics (one per agent, sharing the attention heads, as the paper's code): per-agent encoders
    e_j = LeakyReLU(g_j([o_j, onehot(a_j)]))   (observation-action encoding, H wide)
    s_i = LeakyReLU(f_i(o_i))                   (observation encoding, H wide)
and per head h (d = H / heads): query q_i = W_q^h s_i, keys k_j = W_k^h e_j, values v_j = LeakyReLU(V^h e_j + b^h),
    alpha_ij = softmax over the other agents j != i still active of (q_i . k_j / sqrt(d)),  x_i^h = sum_j alpha_ij v_j
(x_i^h = 0 when no other agent is active). Agent i's critic head maps [s_i, x_i] (x_i the heads concatenated)
to Q_i(o, (b, a_-i)) for every action b of agent i at once. The critic loss over the agents active before the step:
    (Q_i(o, a) - y_i)^2 + attention_reg * mean(logits^2),
    y_i = r_i + gamma (1 - d_i) (Q'_i(o', a') - alpha log pi'_i(a'_i | o'_i)),  a'_j ~ pi'_j(o'_j) (target policies)
(truncations bootstrap from the final observation, NEXT_STEP autoreset). The actors (one per agent) take a soft
actor-critic step with the counterfactual baseline of discrete actions: with a_j ~ pi_j(o_j) for every agent,
    b_i = sum_b pi_i(b | o_i) Q_i(o, (b, a_-i)),  A_i = Q_i(o, a) - b_i,
    actor loss = mean over active agents of log pi_i(a_i | o_i) (alpha log pi_i(a_i | o_i) - A_i)  (the factor in
    parentheses detached) + policy_reg * mean(logits^2).
alpha is the paper's 1 / reward_scale (the code's reward scale 100: alpha 0.01). Targets (critics and policies)
are Polyak-averaged (tau) after each update. Replay as MADDPG's (agents.replay.ReplayBuffer with its agent axis,
obs rows [obs, active]); the env's action masks are advisory and ignored, as MADDPG does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, seeded
from nextrl.agents.multi import mappo
from nextrl.agents.multi.common import actor_critic_update
from nextrl.agents.multi.maddpg import AgentEnsemble, split
from nextrl.agents.multi.mappo import agent_rewards
from nextrl.agents.offpolicy_nets import adam, make_target
from nextrl.agents.replay import ReplayBatch, ReplayBuffer
from nextrl.marl.core import MarlVectorEnv


@dataclass(frozen=True)
class MAACConfig:
    """Hyperparameters of MAAC (the paper's code where they fit a small budget)."""

    total_timesteps: int = 50_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    buffer_size: int = 100_000
    """replay capacity in joint transitions"""
    actor_learning_rate: float = 1e-3
    """Adam step size of the policies"""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critics"""
    gamma: float = 0.95
    """discount factor in [0, 1]"""
    tau: float = 0.01
    """Polyak rate of the target critics and policies in (0, 1]"""
    alpha: float = 0.01
    """entropy temperature (the paper's 1 / reward_scale), >= 0"""
    batch_size: int = 256
    """joint transitions per gradient step"""
    learning_starts: int = 1_000
    """environment steps (summed over envs) before learning starts (uniform random actions until then)"""
    train_frequency: int = 1
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 1
    """gradient steps (critics, then policies, then targets) per round"""
    critic_hidden: int = 64
    """encoder width H of the critics"""
    attention_heads: int = 4
    """attention heads; critic_hidden must be divisible by it"""
    policy_hidden: tuple[int, ...] = (64, 64)
    """hidden widths of each agent's policy MLP (ReLU)"""
    attention_reg: float = 1e-3
    """weight of the mean squared attention logits in the critic loss"""
    policy_reg: float = 1e-3
    """weight of the mean squared policy logits in the actor loss"""
    max_grad_norm: float = 10.0
    """gradient-norm clip of each update (critics: the paper's code scales it by the agent count)"""
    reward_reduction: str = "none"
    """the reward each critic learns: "none" (its agent's own), "mean" or "sum" of the agents' rewards (team)"""

    def __post_init__(self):
        name = type(self).__name__
        for field_name in ("total_timesteps", "buffer_size", "batch_size", "train_frequency", "attention_heads"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}: {field_name} must be >= 1, got {getattr(self, field_name)}")
        if self.critic_hidden < 1 or self.critic_hidden % self.attention_heads:
            raise ValueError(
                f"{name}: critic_hidden must be >= 1 and divisible by attention_heads, "
                f"got {self.critic_hidden} and {self.attention_heads}"
            )
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"{name}: gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"{name}: tau must be in (0, 1], got {self.tau}")
        if self.alpha < 0.0:
            raise ValueError(f"{name}: alpha must be >= 0, got {self.alpha}")
        if self.reward_reduction not in ("none", "mean", "sum"):
            raise ValueError(f'{name}: reward_reduction must be "none", "mean" or "sum", got {self.reward_reduction!r}')


def leaky(x: Tensor) -> Tensor:
    """LeakyReLU with slope 0.01 (PyTorch's default, the paper's code)."""
    return nn.functional.leaky_relu(x, 0.01)


class AttentionCritic(nn.Module):
    """The critics of `num_agents` agents with `num_actions` actions each (module docstring): per-agent encoders
    and heads (AgentEnsembles), attention heads shared by every agent."""

    def __init__(self, obs_size: int, num_actions: int, num_agents: int, hidden: int = 64, heads: int = 4):
        super().__init__()
        if num_agents < 2:
            raise ValueError(f"AttentionCritic: num_agents must be >= 2 (attention over the others), got {num_agents}")
        if hidden % heads:
            raise ValueError(f"AttentionCritic: hidden must be divisible by heads, got {hidden} and {heads}")
        self.obs_size, self.num_actions, self.num_agents, self.hidden, self.heads = (
            obs_size,
            num_actions,
            num_agents,
            hidden,
            heads,
        )
        d = hidden // heads
        self.sa_encoder = AgentEnsemble(obs_size + num_actions, hidden, num_agents, hidden=())
        self.s_encoder = AgentEnsemble(obs_size, hidden, num_agents, hidden=())
        self.query = nn.Linear(hidden, hidden, bias=False)  # the heads' W_q stacked: head h is rows h d..(h+1) d
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.value = nn.Linear(hidden, hidden)
        self.head = AgentEnsemble(2 * hidden, num_actions, num_agents, hidden=(hidden,))
        self.d = d

    def forward(self, obs: Tensor, actions: Tensor, active: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """obs [B, A, obs_size], actions [B, A, num_actions] (one-hot), active [B, A] (1 for agents in their
        episode; None: all) -> (Q-values of every own action [B, A, num_actions], attention logits [B, heads, A, A]
        with the masked entries at -inf)."""
        b, a = obs.shape[0], self.num_agents
        e = leaky(self.sa_encoder(torch.cat([obs, actions], dim=-1)))  # [B, A, H]
        s = leaky(self.s_encoder(obs))
        split_heads = lambda x: x.view(b, a, self.heads, self.d).transpose(1, 2)
        q, k, v = split_heads(self.query(s)), split_heads(self.key(e)), split_heads(leaky(self.value(e)))
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.d)  # [B, heads, A (i), A (j)]
        allowed = ~torch.eye(a, dtype=torch.bool)
        if active is not None:
            allowed = allowed & active.bool().view(b, 1, 1, a)
        allowed = allowed.expand(b, self.heads, a, a)
        logits = logits.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # rows with no other agent: all 0
        x = (weights @ v).transpose(1, 2).reshape(b, a, self.hidden)  # [B, A, H]
        return self.head(torch.cat([s, x], dim=-1)), logits


class MAACNetworks(nn.Module):
    """Policies (AgentEnsemble on each agent's observation -> logits) and the AttentionCritic, with frozen
    target copies of both."""

    def __init__(self, obs_size: int, num_actions: int, num_agents: int, cfg: MAACConfig | None = None):
        super().__init__()
        cfg = cfg or MAACConfig()
        self.obs_size, self.num_actions, self.num_agents = obs_size, num_actions, num_agents
        self.policy = AgentEnsemble(obs_size, num_actions, num_agents, cfg.policy_hidden)
        self.critic = AttentionCritic(obs_size, num_actions, num_agents, cfg.critic_hidden, cfg.attention_heads)
        self.policy_target = make_target(self.policy, None, "MAACNetworks", "policy")
        self.critic_target = make_target(self.critic, None, "MAACNetworks", "critic")


def one_hot(actions: Tensor, n: int) -> Tensor:
    return nn.functional.one_hot(actions.long(), n).float()


def critic_loss(
    nets: MAACNetworks, batch: ReplayBatch, cfg: MAACConfig, next_actions: Tensor | None = None
) -> tuple[Tensor, dict[str, float]]:
    """The critic loss of the module docstring on a replay batch (actions [B, A] int64). `next_actions` [B, A]
    are the target policies' samples at the next observations (drawn when None)."""
    obs, active, next_obs, next_active = split(batch)
    n = nets.num_actions
    with torch.no_grad():
        next_logp = torch.log_softmax(nets.policy_target(next_obs), dim=-1)
        if next_actions is None:
            next_actions = torch.distributions.Categorical(logits=next_logp).sample()
        next_q_all, _ = nets.critic_target(next_obs, one_hot(next_actions, n), next_active)
        chosen = next_actions.long().unsqueeze(-1)
        soft_next = next_q_all.gather(-1, chosen)[..., 0] - cfg.alpha * next_logp.gather(-1, chosen)[..., 0]
        y = batch.rewards + batch.discounts.unsqueeze(-1) * (1.0 - batch.terminations) * soft_next
    q_all, logits = nets.critic(obs, one_hot(batch.actions, n), active)
    q = q_all.gather(-1, batch.actions.long().unsqueeze(-1))[..., 0]
    td = (active * (q - y) ** 2).sum() / active.sum().clamp(min=1.0)
    finite = torch.isfinite(logits)
    reg = (logits[finite] ** 2).mean() if finite.any() else logits.new_zeros(())
    loss = td + cfg.attention_reg * reg
    return loss, {"losses/critic": float(td.detach()), "losses/q": float((active * q.detach()).sum() / active.sum())}


def actor_loss(
    nets: MAACNetworks, batch: ReplayBatch, cfg: MAACConfig, actions: Tensor | None = None
) -> tuple[Tensor, dict[str, float]]:
    """The actor loss of the module docstring: every agent's action a_j ~ pi_j(o_j) (`actions` [B, A], drawn
    when None), the counterfactual baseline over agent i's own actions with the others' fixed. The critic's
    values are constants here (no gradient reaches the critic)."""
    obs, active, _, _ = split(batch)
    logits = nets.policy(obs)
    logp_all = torch.log_softmax(logits, dim=-1)
    if actions is None:
        with torch.no_grad():
            actions = torch.distributions.Categorical(logits=logp_all).sample()
    actions = actions.long()
    q_all, _ = nets.critic(obs, one_hot(actions, nets.num_actions), active)
    q_all = q_all.detach()
    probs = logp_all.exp()
    baseline = (probs.detach() * q_all).sum(-1)
    q = q_all.gather(-1, actions.unsqueeze(-1))[..., 0]
    logp = logp_all.gather(-1, actions.unsqueeze(-1))[..., 0]
    weight = (cfg.alpha * logp - (q - baseline)).detach()
    pg = (active * logp * weight).sum() / active.sum().clamp(min=1.0)
    loss = pg + cfg.policy_reg * (logits**2).mean()
    entropy = -(probs * logp_all).sum(-1)
    return loss, {
        "losses/actor": float(pg.detach()),
        "losses/entropy": float((active * entropy.detach()).sum() / active.sum().clamp(min=1.0)),
    }


def check_env(fn: str, env, nets: MAACNetworks | None = None) -> MarlVectorEnv:
    """A MarlVectorEnv with Discrete actions, NEXT_STEP autoreset, at least 2 agents and, with `nets`, their
    agents, observation size and action count."""
    env = mappo.check_env(fn, env)
    space = env.single_action_space
    if not isinstance(space, spaces.Discrete):
        raise TypeError(f"{fn}: env must have a Discrete action space (MAAC is a discrete-action learner), got {space}")
    if env.num_agents < 2:
        raise ValueError(f"{fn}: env must have >= 2 agents (the critics attend over the others), got {env.num_agents}")
    if nets is None:
        return env
    if nets.num_agents != env.num_agents:
        raise ValueError(f"{fn}: env must have {nets.num_agents} agents (the networks'), got {env.num_agents}")
    if (nets.obs_size, nets.num_actions) != (env.obs_size, int(space.n)):
        raise ValueError(
            f"{fn}: env must have obs_size {nets.obs_size} and {nets.num_actions} actions (the networks'), "
            f"got {env.obs_size} and {int(space.n)}"
        )
    return env


def act_fn(nets: MAACNetworks, env: MarlVectorEnv | None = None, deterministic: bool = True):
    """act(obs [N, A, obs_size], action_mask) -> actions [N, A] int64: each policy's most likely action
    (deterministic) or a sample, for common.evaluate_team. With `env`, it is checked against the networks."""
    if env is not None:
        check_env("maac.act_fn", env, nets)

    def act(obs: np.ndarray, action_mask: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            logits = nets.policy(torch.as_tensor(np.asarray(obs, dtype=np.float32)))
            if deterministic:
                return logits.argmax(dim=-1).numpy().astype(np.int64)
            return torch.distributions.Categorical(logits=logits).sample().numpy().astype(np.int64)

    return act


def train(env, cfg: MAACConfig, *, seed: int, log: LogFn | None = None, nets: MAACNetworks | None = None):
    """Trains MAAC on a nextrl.marl.MarlVectorEnv with Discrete actions (NEXT_STEP autoreset). Modules:
    "networks" (MAACNetworks). `nets` continues training given networks (checked against the env). Episodes in
    the result are team episodes: per step the agents' rewards reduced by "mean" ("sum" when
    cfg.reward_reduction is "sum"), summed over the env's episode."""
    fn = "maac.train"
    env = check_env(fn, env)
    num_envs, num_agents = env.num_envs, env.num_agents
    n = int(env.single_action_space.n)
    rng = np.random.default_rng(seed)
    with seeded(seed, fn):
        if nets is None:
            nets = MAACNetworks(env.obs_size, n, num_agents, cfg)
        elif not isinstance(nets, MAACNetworks):
            raise TypeError(f"{fn}: nets must be MAACNetworks, got {type(nets).__name__}")
        else:
            check_env(fn, env, nets)
        actor_opt = adam(nets.policy.parameters(), cfg.actor_learning_rate)
        critic_opt = adam(nets.critic.parameters(), cfg.critic_learning_rate)
        buffer = ReplayBuffer(
            cfg.buffer_size,
            (env.obs_size + 1,),
            (),
            num_envs=num_envs,
            gamma=cfg.gamma,
            num_agents=num_agents,
            action_dtype=np.int64,
        )
        result = TrainResult(cfg, {"networks": nets})
        times = {"env": 0.0, "inference": 0.0, "update": 0.0}
        start = time.perf_counter()
        tracker = EpisodeTracker(num_envs)
        obs, infos = env.reset(seed=seed)
        global_step = 0
        for it in range(cfg.total_timesteps // num_envs):
            t0 = time.perf_counter()
            with torch.no_grad():
                if global_step < cfg.learning_starts:
                    a = torch.randint(0, n, (num_envs, num_agents))
                else:
                    logits = nets.policy(torch.as_tensor(obs, dtype=torch.float32))
                    a = torch.distributions.Categorical(logits=logits).sample()
            t1 = time.perf_counter()
            actions = a.numpy().astype(np.int64)
            next_obs, rewards, terms, truncs, next_infos = env.step(actions)
            t2 = time.perf_counter()
            global_step += num_envs
            ended = ~next_infos["active"].any(axis=1)
            team_term = ended & terms.any(axis=1)
            team_r = rewards.sum(axis=1) if cfg.reward_reduction == "sum" else rewards.mean(axis=1)
            valid = tracker.step(team_r, team_term, ended & ~team_term, global_step)
            rows = np.concatenate([obs, infos["active"][..., None]], axis=-1, dtype=np.float32)
            next_rows = np.concatenate([next_obs, next_infos["active"][..., None]], axis=-1, dtype=np.float32)
            buffer.add(rows, actions, agent_rewards(rewards, cfg.reward_reduction), next_rows, terms, truncs, valid)
            obs, infos = next_obs, next_infos
            times["inference"] += t1 - t0
            times["env"] += t2 - t1
            if global_step < cfg.learning_starts or len(buffer) == 0 or it % cfg.train_frequency:
                continue
            t3 = time.perf_counter()
            for _ in range(cfg.gradient_steps):
                batch = buffer.sample(cfg.batch_size, rng)
                stats = actor_critic_update(
                    lambda: critic_loss(nets, batch, cfg),
                    lambda: actor_loss(nets, batch, cfg),
                    nets.critic,
                    nets.policy,
                    nets.critic_target,
                    nets.policy_target,
                    critic_opt,
                    actor_opt,
                    critic_max_norm=cfg.max_grad_norm * num_agents,
                    actor_max_norm=cfg.max_grad_norm,
                    tau=cfg.tau,
                )
            times["update"] += time.perf_counter() - t3
            if cfg.gradient_steps > 0 and it % 100 == 0:
                stats = {"global_step": float(global_step), **stats}
                result.metrics.append(stats)
                emit(log, global_step, stats, result)
    return tracker.fill(result, global_step, time.perf_counter() - start, times)


__all__ = [
    "AttentionCritic",
    "MAACConfig",
    "MAACNetworks",
    "act_fn",
    "actor_loss",
    "check_env",
    "critic_loss",
    "train",
]
