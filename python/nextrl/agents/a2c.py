"""A2C: synchronous advantage actor-critic (Mnih et al. 2016, arXiv:1602.01783, the batched form of A3C).

Config, loss and training loop. Short rollouts of every env, advantages from agents.returns.gae (C++;
gae_lambda = 1 gives the n-step advantages of the paper), one gradient step per rollout on the policy
gradient, value regression and entropy bonus. Defaults follow Stable-Baselines3's A2C (RMSprop, 5 steps).
"""

from __future__ import annotations

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
class A2CConfig:
    total_timesteps: int = 500_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 16
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    num_steps: int = 5
    """rollout length per env between updates (n of the n-step advantage)"""
    learning_rate: float = 7e-4
    """step size"""
    optimizer: str = "rmsprop"
    """"rmsprop" (alpha 0.99, eps 1e-5, as SB3 and the paper) or "adam" (eps 1e-5)"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over the run"""
    gamma: float = 0.99
    """discount factor, in [0, 1]"""
    gae_lambda: float = 1.0
    """GAE lambda in [0, 1]; 1 = n-step advantages bootstrapped at the rollout's end"""
    norm_adv: bool = False
    """normalize advantages over each rollout (mean 0, std 1)"""
    ent_coef: float = 0.0
    """entropy bonus coefficient"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
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
        check_network("A2CConfig", self.network)
        parse_param_lrs("A2CConfig", self.param_lrs)
        if self.num_steps < 1:
            raise ValueError(f"A2CConfig: num_steps must be >= 1, got {self.num_steps}")
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"A2CConfig: optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")


def a2c_loss(
    log_probs: Tensor, advantages: Tensor, values: Tensor, returns_: Tensor, entropy: Tensor, cfg: A2CConfig
) -> tuple[Tensor, dict[str, float]]:
    """A2C loss over one rollout's valid transitions (all [B]; advantages and returns are constants):
        loss = -mean(log_probs A) + vf_coef mean((R - V)^2) - ent_coef mean(entropy)
    with A normalized over the batch when cfg.norm_adv."""
    adv = advantages
    if cfg.norm_adv and adv.numel() > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg_loss = -(log_probs * adv).mean()
    v_loss = ((returns_ - values) ** 2).mean()
    ent = entropy.mean()
    loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * ent
    return loss, {
        "losses/policy": float(pg_loss.detach()),
        "losses/value": float(v_loss.detach()),
        "losses/entropy": float(ent.detach()),
    }


def train(
    env: gym.vector.VectorEnv,
    cfg: A2CConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    head: nn.Module | None = None,
) -> TrainResult:
    """Trains A2C on a Gymnasium vector env (NEXT_STEP autoreset). `actor` (obs -> logits or means) and
    `critic` (obs -> [B, 1]) replace the default MLPs when given (any nn.Module); `head`
    (networks.head_for's kind for the action space) replaces the new one, its log_std trained in place."""
    env = check_env("a2c.train", env)
    with seeded(seed, "a2c.train"):
        actor = preset_actor("a2c.train", cfg.network, actor, env.single_observation_space, env.single_action_space)
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
            "a2c.train", policy, cfg.learning_rate, cfg.param_lrs, preset=preset_param_lrs(cfg.network, "actor_critic")
        )
        if cfg.optimizer == "rmsprop":
            opt = torch.optim.RMSprop(groups, alpha=0.99, eps=1e-5)
        else:
            opt = torch.optim.Adam(groups, eps=1e-5)
        rollout = Rollout(cfg.num_steps, env.num_envs, env.single_observation_space, env.single_action_space)
        c = Collector.start(env, seed)
        result = TrainResult(cfg, {"policy": policy})
        num_iterations = max(1, cfg.total_timesteps // (cfg.num_steps * env.num_envs))
        for it in range(num_iterations):
            frac = 1.0 - it / num_iterations if cfg.anneal_lr else 1.0
            scale_lrs(opt, frac)
            collect(policy, rollout, c)
            t0 = time.perf_counter()
            adv, ret = returns.gae(
                rollout.rewards,
                rollout.values,
                rollout.next_values(),
                rollout.terminations,
                rollout.truncations,
                gamma=cfg.gamma,
                lam=cfg.gae_lambda,
            )
            b_obs, b_actions, b_adv, b_ret = rollout.flat(rollout.obs, rollout.actions, adv, ret)
            dist = policy.dist(b_obs)
            loss, stats = a2c_loss(dist.log_prob(b_actions), b_adv, policy.value(b_obs), b_ret, dist.entropy(), cfg)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            opt.step()
            c.times["update"] += time.perf_counter() - t0
            c.record(result, {**stats, "charts/learning_rate": cfg.learning_rate * frac}, log)
    return c.finish(result)


__all__ = ["A2CConfig", "a2c_loss", "train"]
