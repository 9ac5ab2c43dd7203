"""PPO (clip), Schulman et al. 2017, arXiv:1707.06347; discrete (Categorical) and continuous (diagonal
Gaussian) actions.

Config, loss and training loop. Networks come from agents.networks, rollout storage and collection from
agents.rollout, advantages from agents.returns.gae (C++). Details follow CleanRL ppo.py /
ppo_continuous_action.py (Huang et al. 2022, "The 37 implementation details of PPO"): GAE, per-minibatch
advantage normalization, clipped value loss, entropy bonus, global gradient clipping, linear LR annealing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import Tensor, nn

from nextrl.agents import returns
from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.networks import (
    check_network,
    default_actor_critic,
    param_groups,
    parse_param_lrs,
    preset_actor,
    preset_param_lrs,
    scale_lrs,
)
from nextrl.agents.rollout import Collector, Rollout, check_env, collect


@dataclass(frozen=True)
class PPOConfig:
    total_timesteps: int = 500_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 4
    """parallel envs the `nextrl train` runner builds (CleanRL's 4: batch 512, 976 updates in 500k steps); train() uses
    the env it is given"""
    num_steps: int = 128
    """rollout length per env; batch = num_steps * num_envs (minus masked reset steps)"""
    learning_rate: float = 2.5e-4
    """Adam step size (eps 1e-5)"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    gamma: float = 0.99
    """discount factor, in [0, 1]"""
    gae_lambda: float = 0.95
    """GAE lambda, in [0, 1]"""
    num_minibatches: int = 4
    """minibatches per epoch"""
    update_epochs: int = 4
    """passes over each rollout"""
    norm_adv: bool = True
    """normalize advantages per minibatch (mean 0, std 1); needs minibatches of > 1 sample"""
    clip_coef: float = 0.2
    """surrogate clipping coefficient epsilon"""
    clip_vloss: bool = True
    """clip the value update around the rollout's values by clip_coef (CleanRL's clipped value loss)"""
    ent_coef: float = 0.01
    """entropy bonus coefficient"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    target_kl: float | None = None
    """stop the epochs of an update early once the approximate KL exceeds this (None: never)"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes of the default MLPs"""
    log_std_init: float = 0.0
    """initial log standard deviation of the Gaussian head (Box actions)"""
    network: str = "mlp"
    """the actor: "mlp" (hidden sizes above), "skolik" (a QuantumLayer, networks.quantum_network), or Jerbi et al.
    2021's "softmax_pqc" / "raw_pqc" policies (agents.quantum_policies; Discrete actions); a quantum preset's
    learning rates networks.PRESET_PARAM_LRS follow param_lrs; the critic stays an MLP (at the preset's rate)"""
    param_lrs: tuple[str, ...] = ()
    """per-parameter-group learning rates, "pattern=lr" entries over the policy's parameter names ("actor.weights",
    "critic.0.weight", "head.log_std"; networks.ParamLRs), the rest at learning_rate; annealed alike"""

    def __post_init__(self):
        check_network("PPOConfig", self.network)
        parse_param_lrs("PPOConfig", self.param_lrs)
        if self.num_steps < 1 or self.num_minibatches < 1 or self.update_epochs < 1:
            raise ValueError(
                f"PPOConfig: num_steps, num_minibatches and update_epochs must be >= 1, got "
                f"{self.num_steps}, {self.num_minibatches}, {self.update_epochs}"
            )
        if not 0 <= self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"PPOConfig: gamma and gae_lambda must be in [0, 1], got {self.gamma}, {self.gae_lambda}")


def ppo_loss(
    log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    values: Tensor,
    old_values: Tensor,
    returns_: Tensor,
    entropy: Tensor,
    cfg: PPOConfig,
) -> tuple[Tensor, dict[str, float]]:
    """PPO loss on one minibatch (all [B]):
        ratio = exp(log_probs - old_log_probs)
        pg = mean(max(-A ratio, -A clip(ratio, 1 - eps, 1 + eps)))       (A normalized if cfg.norm_adv)
        v  = 0.5 mean(max((V - R)^2, (old_V + clip(V - old_V, -eps, eps) - R)^2))   (or 0.5 mean((V - R)^2))
        loss = pg - ent_coef mean(entropy) + vf_coef v
    Returns (loss, stats with the terms, approx_kl ((ratio - 1) - log ratio, Schulman's k3) and clipfrac)."""
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    adv = advantages
    if cfg.norm_adv:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
    if cfg.clip_vloss:
        v_clipped = old_values + (values - old_values).clamp(-cfg.clip_coef, cfg.clip_coef)
        v_loss = 0.5 * torch.max((values - returns_) ** 2, (v_clipped - returns_) ** 2).mean()
    else:
        v_loss = 0.5 * ((values - returns_) ** 2).mean()
    ent = entropy.mean()
    loss = pg_loss - cfg.ent_coef * ent + cfg.vf_coef * v_loss
    with torch.no_grad():
        log_ratio, ratio = log_ratio.detach(), ratio.detach()
        stats = {
            "losses/policy": float(pg_loss.detach()),
            "losses/value": float(v_loss.detach()),
            "losses/entropy": float(ent.detach()),
            "losses/approx_kl": float(((ratio - 1) - log_ratio).mean()),
            "losses/clipfrac": float(((ratio - 1).abs() > cfg.clip_coef).float().mean()),
        }
    return loss, stats


def train(
    env: gym.vector.VectorEnv,
    cfg: PPOConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    head: nn.Module | None = None,
) -> TrainResult:
    """Trains PPO on a Gymnasium vector env (NEXT_STEP autoreset). `actor` (obs [B, ...] -> logits [B, n] or
    means [B, d]) and `critic` (obs -> [B, 1]) replace the default networks when given (any nn.Module);
    `head` (networks.head_for's kind for the action space) replaces the new one, its log_std trained in place."""
    env = check_env("ppo.train", env)
    with seeded(seed, "ppo.train") as gen:
        actor = preset_actor("ppo.train", cfg.network, actor, env.single_observation_space, env.single_action_space)
        policy = default_actor_critic(
            env.single_observation_space,
            env.single_action_space,
            cfg.hidden,
            cfg.log_std_init,
            actor=actor,
            critic=critic,
            head=head,
        )
        groups = param_groups(
            "ppo.train", policy, cfg.learning_rate, cfg.param_lrs, preset=preset_param_lrs(cfg.network, "actor_critic")
        )
        opt = torch.optim.Adam(groups, lr=cfg.learning_rate, eps=1e-5)
        rollout = Rollout(cfg.num_steps, env.num_envs, env.single_observation_space, env.single_action_space)
        c = Collector.start(env, seed)
        result = TrainResult(cfg, {"policy": policy})
        num_iterations = max(1, cfg.total_timesteps // (cfg.num_steps * env.num_envs))
        for it in range(num_iterations):
            frac = 1.0 - it / num_iterations if cfg.anneal_lr else 1.0
            scale_lrs(opt, frac)
            # 1. rollout
            collect(policy, rollout, c)
            t0 = time.perf_counter()
            # 2. advantages (C++ GAE; the scan stops at every done, reset steps are masked below)
            adv, ret = returns.gae(
                rollout.rewards,
                rollout.values,
                rollout.next_values(),
                rollout.terminations,
                rollout.truncations,
                gamma=cfg.gamma,
                lam=cfg.gae_lambda,
            )
            b_obs, b_actions, b_logp, b_adv, b_ret, b_values = rollout.flat(
                rollout.obs, rollout.actions, rollout.log_probs, adv, ret, rollout.values
            )
            # 3. minibatch epochs
            batch = b_obs.shape[0]
            mb_size = max(2, math.ceil(batch / cfg.num_minibatches))
            stats: dict[str, float] = {}
            for _ in range(cfg.update_epochs):
                perm = torch.randperm(batch, generator=gen)
                for i in range(0, batch, mb_size):
                    mb = perm[i : i + mb_size]
                    if mb.numel() < 2:
                        continue
                    dist = policy.dist(b_obs[mb])
                    loss, stats = ppo_loss(
                        dist.log_prob(b_actions[mb]),
                        b_logp[mb],
                        b_adv[mb],
                        policy.value(b_obs[mb]),
                        b_values[mb],
                        b_ret[mb],
                        dist.entropy(),
                        cfg,
                    )
                    opt.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                    opt.step()
                if cfg.target_kl is not None and stats.get("losses/approx_kl", 0.0) > cfg.target_kl:
                    break
            c.times["update"] += time.perf_counter() - t0
            # 4. log
            c.record(result, {**stats, "charts/learning_rate": cfg.learning_rate * frac}, log)
    return c.finish(result)


__all__ = ["PPOConfig", "ppo_loss", "train"]
