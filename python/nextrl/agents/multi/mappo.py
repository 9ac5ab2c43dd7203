"""MAPPO and IPPO (Yu et al. 2022, "The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games",
arXiv:2103.01955; IPPO: de Witt et al. 2020, arXiv:2011.09533) on nextrl.marl's batched envs.

One actor shared by every agent (parameter sharing, one-hot agent id appended to each observation), a
Categorical head for Discrete actions (logits of actions the env masks out, infos["action_mask"], at -inf) or
a diagonal Gaussian for 1-D Box actions. The critic is shared too and gives one value per agent:
    MAPPO (cfg.centralized_critic=True):  V(s, id_a) on the env's global state (infos["state"]),
    IPPO  (cfg.centralized_critic=False): V(o_a, id_a) on the agent's own observation.
The loss is single-agent PPO's (agents.ppo.ppo_loss: clipped surrogate, clipped value loss, entropy bonus) on
the valid (step, env, agent) entries of an agents.rollout.Rollout with its agent axis; advantages are
agents.returns.gae (C++) per agent column. With cfg.value_norm the critic predicts normalized values
(MAPPO's "value normalization", `ValueNorm`: debiased running mean and variance of the returns): GAE runs on
denormalized values, and the value loss compares the critic's output with the returns normalized by the
statistics updated on this rollout's returns.

An agent that finished before its env reset (infos["active"] False) has no weight in any loss, and the scans
stop at its own done flag (agents.rollout). Rewards are each agent's own (reward_reduction "none") or the team
reward, the mean or sum of the agents' rewards, given to every agent (as MAPPO's cooperative MPE).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution

from nextrl.agents import returns
from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, seeded
from nextrl.agents.multi.common import masked_q
from nextrl.agents.networks import DiagGaussianHead, mlp, scale_lrs
from nextrl.agents.ppo import ppo_loss
from nextrl.agents.rollout import Rollout, env_actions
from nextrl.marl.core import MarlVectorEnv


@dataclass(frozen=True)
class MAPPOConfig:
    """Hyperparameters of MAPPO / IPPO (PPO's, agents.ppo.PPOConfig, plus the multi-agent ones)."""

    total_timesteps: int = 100_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included; not agent steps)"""
    num_steps: int = 100
    """rollout length per env; batch = num_steps * num_envs * num_agents (minus masked entries)"""
    learning_rate: float = 7e-4
    """Adam step size (eps 1e-5) for actor and critic (MAPPO's MPE setting)"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over the run"""
    gamma: float = 0.99
    """discount factor, in [0, 1]"""
    gae_lambda: float = 0.95
    """GAE lambda, in [0, 1]"""
    num_minibatches: int = 1
    """minibatches per epoch (MAPPO uses 1 on MPE)"""
    update_epochs: int = 10
    """passes over each rollout"""
    norm_adv: bool = True
    """normalize advantages per minibatch (mean 0, std 1)"""
    clip_coef: float = 0.2
    """surrogate and value clipping coefficient epsilon"""
    clip_vloss: bool = True
    """clip the value update around the rollout's (normalized) values by clip_coef"""
    ent_coef: float = 0.01
    """entropy bonus coefficient"""
    vf_coef: float = 1.0
    """value loss coefficient"""
    max_grad_norm: float = 10.0
    """global gradient-norm clip"""
    target_kl: float | None = None
    """stop the epochs of an update early once the approximate KL exceeds this (None: never)"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of the actor and critic MLPs (tanh)"""
    log_std_init: float = 0.0
    """initial log standard deviation of the Gaussian head (Box actions)"""
    agent_ids: bool = True
    """append a one-hot agent id to the inputs of the shared actor and critic"""
    centralized_critic: bool = True
    """True: MAPPO, the critic sees the env's global state; False: IPPO, each agent's own observation"""
    value_norm: bool = True
    """train the critic on normalized returns (ValueNorm), as MAPPO"""
    value_norm_beta: float = 0.99999
    """ValueNorm's averaging weight in (0, 1) (debiased, so early statistics are not pulled to 0)"""
    bootstrap_truncation: bool = False
    """bootstrap from V(final observation) where an episode was truncated (CleanRL); False ends the return there,
    as MAPPO's reference runner does on MPE, whose fixed horizon is part of the task (a critic that does not see
    the time step cannot value it, and bootstrapping from it made agents run off in our runs)"""
    reward_reduction: str = "mean"
    """the reward each agent learns from: "none" (its own), "mean" or "sum" of the agents' rewards (team)"""

    def __post_init__(self):
        name = type(self).__name__
        for field_name in ("total_timesteps", "num_steps", "num_minibatches", "update_epochs"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}: {field_name} must be >= 1, got {getattr(self, field_name)}")
        if not 0 <= self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"{name}: gamma and gae_lambda must be in [0, 1], got {self.gamma}, {self.gae_lambda}")
        if not 0 < self.value_norm_beta < 1:
            raise ValueError(f"{name}: value_norm_beta must be in (0, 1), got {self.value_norm_beta}")
        if self.reward_reduction not in ("none", "mean", "sum"):
            raise ValueError(f'{name}: reward_reduction must be "none", "mean" or "sum", got {self.reward_reduction!r}')


def ippo_config(**kwargs) -> MAPPOConfig:
    """MAPPOConfig of IPPO: the critic on each agent's own observation (centralized_critic=False)."""
    return MAPPOConfig(**{**kwargs, "centralized_critic": False})


class ValueNorm(nn.Module):
    """Running statistics of value targets (MAPPO's ValueNorm): after each `update(x)` with a batch x,
        m <- beta m + (1 - beta) mean(x),  q <- beta q + (1 - beta) mean(x**2),  d <- beta d + (1 - beta),
    mean = m / d, var = max(q / d - mean**2, 1e-2) (debiased, so the first batches are not pulled to 0);
    normalize(x) = (x - mean) / sqrt(var), denormalize its inverse. Buffers, saved with state_dict."""

    def __init__(self, beta: float = 0.99999, min_var: float = 1e-2, eps: float = 1e-5):
        super().__init__()
        self.beta, self.min_var, self.eps = beta, min_var, eps
        self.register_buffer("running_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("running_mean_sq", torch.zeros((), dtype=torch.float64))
        self.register_buffer("debiasing_term", torch.zeros((), dtype=torch.float64))

    def mean_var(self) -> tuple[Tensor, Tensor]:
        d = self.debiasing_term.clamp(min=self.eps)
        mean = self.running_mean / d
        return mean, (self.running_mean_sq / d - mean**2).clamp(min=self.min_var)

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        x = x.detach().to(torch.float64).reshape(-1)
        if x.numel() == 0:
            return
        b = self.beta
        self.running_mean.mul_(b).add_((1 - b) * x.mean())
        self.running_mean_sq.mul_(b).add_((1 - b) * (x**2).mean())
        self.debiasing_term.mul_(b).add_(1 - b)

    def normalize(self, x: Tensor) -> Tensor:
        mean, var = self.mean_var()
        return ((x - mean) / var.sqrt()).to(x.dtype)

    def denormalize(self, x: Tensor) -> Tensor:
        mean, var = self.mean_var()
        return (x * var.sqrt() + mean).to(x.dtype)


class AgentMLP(nn.Module):
    """An MLP shared by `num_agents` agents: [..., num_agents, in_size] -> [..., num_agents, out_size], each
    agent's input extended with its one-hot id when `agent_ids`. CleanRL's init: orthogonal, gain sqrt(2) for
    hidden layers and `out_gain` for the last, zero biases."""

    def __init__(self, in_size: int, out_size: int, num_agents: int, hidden=(64, 64), agent_ids=True, out_gain=1.0):
        super().__init__()
        self.in_size, self.out_size, self.num_agents, self.agent_ids = in_size, out_size, num_agents, agent_ids
        self.net = mlp(in_size + (num_agents if agent_ids else 0), out_size, tuple(hidden), out_gain=out_gain)

    def forward(self, x: Tensor, agent: Tensor | None = None) -> Tensor:
        """x [..., num_agents, in_size] (agent a at position a), or x [..., in_size] with `agent` [...] int64
        naming each row's agent (flattened entries)."""
        if agent is None:
            if x.shape[-2:] != (self.num_agents, self.in_size):
                raise ValueError(
                    f"AgentMLP: input must end in ({self.num_agents}, {self.in_size}) (num_agents, in_size), "
                    f"got {tuple(x.shape)}"
                )
            ids = torch.eye(self.num_agents, dtype=x.dtype, device=x.device).expand(*x.shape[:-1], -1)
        else:
            if x.shape[-1] != self.in_size or tuple(agent.shape) != tuple(x.shape[:-1]):
                raise ValueError(
                    f"AgentMLP: input must end in {self.in_size} (in_size) and agent have its leading shape, "
                    f"got {tuple(x.shape)} and {tuple(agent.shape)}"
                )
            ids = nn.functional.one_hot(agent.long(), self.num_agents).to(x.dtype)
        if self.agent_ids:
            x = torch.cat([x, ids], dim=-1)
        return self.net(x)


class MultiAgentActorCritic(nn.Module):
    """The shared actor (AgentMLP on observations -> logits or Gaussian means) with its head, and the shared
    critic (AgentMLP on the global state, broadcast to every agent, when `centralized`, else on observations)
    whose outputs are values [..., A] (normalized values when trained with value normalization)."""

    def __init__(
        self,
        obs_size: int,
        state_size: int,
        action_space: spaces.Space,
        num_agents: int,
        *,
        centralized: bool = True,
        hidden=(64, 64),
        agent_ids: bool = True,
        log_std_init: float = 0.0,
    ):
        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.action_space = action_space
        out = int(action_space.n) if self.discrete else int(action_space.shape[0])
        self.obs_size, self.state_size, self.num_agents, self.centralized = (
            obs_size,
            state_size,
            num_agents,
            centralized,
        )
        self.actor = AgentMLP(obs_size, out, num_agents, hidden, agent_ids, out_gain=0.01)
        self.critic = AgentMLP(state_size if centralized else obs_size, 1, num_agents, hidden, agent_ids, out_gain=1.0)
        self.head = None if self.discrete else DiagGaussianHead(out, log_std_init)

    def dist(self, obs: Tensor, action_mask: Tensor | None = None, agent: Tensor | None = None) -> Distribution:
        """obs [..., A, obs_size], action_mask [..., A, n] bool (Discrete; None: all allowed) -> per-agent
        distribution, batch shape [..., A]; with `agent` [...] int64, obs [..., obs_size] are rows of the named
        agents (and action_mask [..., n])."""
        out = self.actor(obs, agent)
        if not self.discrete:
            return self.head(out)
        if action_mask is not None:
            out = masked_q(out, action_mask)
        return Categorical(logits=out, validate_args=False)

    def value(self, obs: Tensor, state: Tensor, agent: Tensor | None = None) -> Tensor:
        """obs [..., A, obs_size], state [..., state_size] -> values [..., A]; with `agent` [...] int64, obs
        [..., obs_size] and state [..., state_size] are rows of the named agents -> values [...]."""
        if not self.centralized:
            x = obs
        elif agent is None:
            x = state.unsqueeze(-2).expand(*state.shape[:-1], self.num_agents, state.shape[-1])
        else:
            x = state
        return self.critic(x, agent)[..., 0]


def check_env(fn: str, env, policy: MultiAgentActorCritic | None = None) -> MarlVectorEnv:
    """A MarlVectorEnv with Discrete or 1-D Box actions, NEXT_STEP autoreset and, with `policy`, the agent count,
    observation and state sizes and action space the policy was built for."""
    if not isinstance(env, MarlVectorEnv):
        raise TypeError(f"{fn}: env must be a nextrl.marl.MarlVectorEnv, got {type(env).__name__}")
    space = env.single_action_space
    if not (isinstance(space, spaces.Discrete) or (isinstance(space, spaces.Box) and len(space.shape) == 1)):
        raise TypeError(f"{fn}: env must have a Discrete or 1-D Box action space, got {space}")
    if str(env.metadata.get("autoreset_mode")) not in ("NextStep", "AutoresetMode.NEXT_STEP"):
        raise ValueError(f"{fn}: env must use NEXT_STEP autoreset, got {env.metadata.get('autoreset_mode')}")
    if policy is None:
        return env
    if policy.num_agents != env.num_agents:
        raise ValueError(f"{fn}: env must have {policy.num_agents} agents (the policy's), got {env.num_agents}")
    state_size = int(env.state_space.shape[0])
    if (policy.obs_size, policy.state_size) != (env.obs_size, state_size):
        raise ValueError(
            f"{fn}: env must have obs_size {policy.obs_size} and state_size {policy.state_size} (the policy's), "
            f"got {env.obs_size} and {state_size}"
        )
    if policy.discrete != isinstance(space, spaces.Discrete) or (
        not policy.discrete and tuple(policy.action_space.shape) != tuple(space.shape)
    ):
        raise TypeError(f"{fn}: env's action space must be the policy's {policy.action_space}, got {space}")
    return env


def agent_rewards(rewards: np.ndarray, reduction: str) -> np.ndarray:
    """[N, A] -> [N, A]: each agent's own reward ("none"), or the agents' mean or sum given to every agent."""
    if reduction == "none":
        return rewards
    team = rewards.mean(axis=1) if reduction == "mean" else rewards.sum(axis=1)
    return np.broadcast_to(team[:, None], rewards.shape).astype(np.float32)


def value_targets(values: Tensor, returns_: Tensor, value_norm: ValueNorm | None) -> tuple[Tensor, Tensor]:
    """(old values, returns) in the critic's output space: the critic's outputs at collection `values` [B]
    unchanged, and the returns [B] normalized with `value_norm` after updating it with them (MAPPO's order:
    update, then normalize); both unchanged without value normalization."""
    if value_norm is None:
        return values, returns_
    value_norm.update(returns_)
    return values, value_norm.normalize(returns_)


def entry_loss(
    policy: MultiAgentActorCritic,
    obs: Tensor,
    state: Tensor,
    agent: Tensor,
    action_mask: Tensor | None,
    actions: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    old_values: Tensor,
    returns_: Tensor,
    cfg: MAPPOConfig,
) -> tuple[Tensor, dict[str, float]]:
    """agents.ppo.ppo_loss on B flattened agent steps: obs [B, obs_size], state [B, state_size], agent [B]
    int64, action_mask [B, n] bool or None, actions [B] or [B, d], old_log_probs, advantages [B], and
    old_values, returns_ [B] in the critic's output space (value_targets)."""
    dist = policy.dist(obs, action_mask, agent)
    return ppo_loss(
        dist.log_prob(actions),
        old_log_probs,
        advantages,
        policy.value(obs, state, agent),
        old_values,
        returns_,
        dist.entropy(),
        cfg,
    )


def act_fn(policy: MultiAgentActorCritic, env: MarlVectorEnv | None = None, deterministic: bool = True):
    """act(obs [N, A, obs_size], action_mask [N, A, n] or None) -> env actions [N, A] (Discrete) or [N, A, d]
    (Box, clipped to its bounds): the mode of the policy (deterministic) or a sample. For
    common.evaluate_team. With `env`, it is checked against the policy."""
    if env is not None:
        check_env("mappo.act_fn", env, policy)

    def act(obs: np.ndarray, action_mask: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            mask = None if action_mask is None or not policy.discrete else torch.as_tensor(action_mask)
            d = policy.dist(torch.as_tensor(np.asarray(obs, dtype=np.float32)), mask)
            return env_actions(d.mode if deterministic else d.sample(), policy.action_space)

    return act


def train(
    env,
    cfg: MAPPOConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    policy: MultiAgentActorCritic | None = None,
) -> TrainResult:
    """Trains MAPPO (cfg.centralized_critic) or IPPO on a nextrl.marl.MarlVectorEnv (NEXT_STEP autoreset).
    Modules: "policy" (MultiAgentActorCritic) and "value_norm" (ValueNorm, when cfg.value_norm). `policy`
    continues training a given one (its agents, sizes and action space must be the env's). Episodes in the
    result are team episodes: per step the agents' rewards reduced by "mean" (or "sum" when
    cfg.reward_reduction is "sum"), summed over the env's episode."""
    fn = "mappo.train"
    env = check_env(fn, env)
    num_envs, num_agents = env.num_envs, env.num_agents
    state_size = int(env.state_space.shape[0])
    action_space = env.single_action_space
    discrete = isinstance(action_space, spaces.Discrete)
    with seeded(seed, fn) as gen:
        if policy is None:
            policy = MultiAgentActorCritic(
                env.obs_size,
                state_size,
                action_space,
                num_agents,
                centralized=cfg.centralized_critic,
                hidden=cfg.hidden,
                agent_ids=cfg.agent_ids,
                log_std_init=cfg.log_std_init,
            )
        elif not isinstance(policy, MultiAgentActorCritic):
            raise TypeError(f"{fn}: policy must be a MultiAgentActorCritic, got {type(policy).__name__}")
        else:
            check_env(fn, env, policy)
            if policy.centralized != cfg.centralized_critic:
                raise ValueError(
                    f"{fn}: policy.centralized must be cfg.centralized_critic ({cfg.centralized_critic}), "
                    f"got {policy.centralized}"
                )
        value_norm = ValueNorm(cfg.value_norm_beta) if cfg.value_norm else None
        opt = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=1e-5)
        rollout = Rollout(cfg.num_steps, num_envs, env.single_observation_space, action_space, num_agents)
        states = torch.zeros(cfg.num_steps, num_envs, state_size)
        masks = torch.ones(cfg.num_steps, num_envs, num_agents, int(action_space.n) if discrete else 1, dtype=bool)
        norm_values = torch.zeros(cfg.num_steps, num_envs, num_agents)
        agent_index = torch.arange(num_agents).expand(cfg.num_steps, num_envs, num_agents)
        modules: dict[str, nn.Module] = {"policy": policy}
        if value_norm is not None:
            modules["value_norm"] = value_norm
        result = TrainResult(cfg, modules)
        times = {"env": 0.0, "inference": 0.0, "update": 0.0}
        start = time.perf_counter()
        agent_tracker = EpisodeTracker(num_envs * num_agents)
        team_tracker = EpisodeTracker(num_envs)
        obs, infos = env.reset(seed=seed)
        agent_tracker.reset(infos["active"].reshape(-1))
        global_step = 0
        num_iterations = max(1, cfg.total_timesteps // (cfg.num_steps * num_envs))
        for it in range(num_iterations):
            frac = 1.0 - it / num_iterations if cfg.anneal_lr else 1.0
            scale_lrs(opt, frac)
            # 1. rollout
            rollout.reset()
            for t in range(cfg.num_steps):
                t0 = time.perf_counter()
                obs_t = torch.as_tensor(obs, dtype=torch.float32)
                state_t = torch.as_tensor(infos["state"], dtype=torch.float32)
                mask_t = torch.as_tensor(infos["action_mask"]) if discrete else None
                with torch.no_grad():
                    dist = policy.dist(obs_t, mask_t)
                    actions = dist.sample()
                    log_probs = dist.log_prob(actions)
                    v = policy.value(obs_t, state_t)
                raw_v = value_norm.denormalize(v) if value_norm is not None else v
                t1 = time.perf_counter()
                next_obs, rewards, terms, truncs, next_infos = env.step(env_actions(actions, action_space))
                t2 = time.perf_counter()
                global_step += num_envs
                valid = agent_tracker.step(
                    rewards.reshape(-1),
                    terms.reshape(-1),
                    truncs.reshape(-1),
                    global_step,
                    next_infos["active"].reshape(-1),
                ).reshape(num_envs, num_agents)
                ended = ~next_infos["active"].any(axis=1)
                team_term = ended & terms.any(axis=1)
                team_r = rewards.sum(axis=1) if cfg.reward_reduction == "sum" else rewards.mean(axis=1)
                team_tracker.step(team_r, team_term, ended & ~team_term, global_step)
                r = agent_rewards(rewards, cfg.reward_reduction)
                rollout.add(obs_t, actions, log_probs, raw_v, r, terms, truncs, valid)
                states[t], norm_values[t] = state_t, v
                if mask_t is not None:
                    masks[t] = mask_t
                obs, infos = next_obs, next_infos
                times["inference"] += t1 - t0
                times["env"] += t2 - t1
            t0 = time.perf_counter()
            with torch.no_grad():
                last = policy.value(torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(infos["state"]))
                rollout.last_value = value_norm.denormalize(last) if value_norm is not None else last
            # 2. advantages: GAE per agent column on denormalized values (a truncation ends the return unless
            # cfg.bootstrap_truncation)
            terms, truncs = rollout.terminations, rollout.truncations
            if not cfg.bootstrap_truncation:
                terms, truncs = terms | truncs, torch.zeros_like(truncs)
            adv, ret = returns.gae(
                rollout.rewards,
                rollout.values,
                rollout.next_values(),
                terms,
                truncs,
                gamma=cfg.gamma,
                lam=cfg.gae_lambda,
            )
            b_obs, b_states, b_agents, b_masks, b_actions, b_logp, b_adv, b_ret, b_values = rollout.flat(
                rollout.obs,
                states.unsqueeze(2).expand(-1, -1, num_agents, -1),
                agent_index,
                masks,
                rollout.actions,
                rollout.log_probs,
                adv,
                ret,
                norm_values,
            )
            b_values, b_ret = value_targets(b_values, b_ret, value_norm)
            # 3. minibatch epochs over the valid entries: one agent's step each, with its id and the global state
            batch = b_obs.shape[0]
            mb_size = max(2, math.ceil(batch / cfg.num_minibatches))
            stats: dict[str, float] = {}
            for _ in range(cfg.update_epochs):
                perm = torch.randperm(batch, generator=gen)
                for i in range(0, batch, mb_size):
                    mb = perm[i : i + mb_size]
                    if mb.numel() < 2:
                        continue
                    loss, stats = entry_loss(
                        policy,
                        b_obs[mb],
                        b_states[mb],
                        b_agents[mb],
                        b_masks[mb] if discrete else None,
                        b_actions[mb],
                        b_logp[mb],
                        b_adv[mb],
                        b_values[mb],
                        b_ret[mb],
                        cfg,
                    )
                    opt.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                    opt.step()
                if cfg.target_kl is not None and stats.get("losses/approx_kl", 0.0) > cfg.target_kl:
                    break
            times["update"] += time.perf_counter() - t0
            # 4. log
            stats = {"global_step": float(global_step), **stats, "charts/learning_rate": cfg.learning_rate * frac}
            recent = team_tracker.finished_returns[-10:]
            if recent:
                stats["charts/episode_return"] = float(np.mean(recent))
            result.metrics.append(stats)
            emit(log, global_step, stats, result)
    return team_tracker.fill(result, global_step, time.perf_counter() - start, times)


__all__ = [
    "AgentMLP",
    "MAPPOConfig",
    "MultiAgentActorCritic",
    "ValueNorm",
    "act_fn",
    "agent_rewards",
    "check_env",
    "entry_loss",
    "ippo_config",
    "train",
    "value_targets",
]
