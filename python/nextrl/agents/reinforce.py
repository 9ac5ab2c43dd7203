"""REINFORCE with a learned baseline (Williams 1992; Sutton & Barto 2018, section 13.4).

Config, loss and training loop. Each update collects `num_steps` steps of every env and weighs the
log-probability of each action by its discounted Monte Carlo return G_t (agents.returns.discounted_returns,
C++) minus a learned state-value baseline b(s_t), which is regressed on G_t. Episodes that the rollout
or a time limit cuts are bootstrapped from the baseline at the cut (`bootstrap`); set it False for pure
Monte Carlo returns, which is unbiased only when every episode ends inside a rollout.
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
)
from nextrl.agents.rollout import Collector, Rollout, check_env, collect


@dataclass(frozen=True)
class ReinforceConfig:
    total_timesteps: int = 500_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 8
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    num_steps: int = 256
    """rollout length per env between updates"""
    learning_rate: float = 1e-3
    """Adam step size for policy and baseline"""
    gamma: float = 0.99
    """discount factor, in [0, 1]"""
    bootstrap: bool = True
    """bootstrap cut episodes (rollout end, truncation) from the baseline; False: pure Monte Carlo"""
    norm_adv: bool = True
    """normalize G - b over each rollout (mean 0, std 1)"""
    baseline_coef: float = 0.5
    """weight of the baseline's squared error in the loss"""
    ent_coef: float = 0.0
    """entropy bonus coefficient"""
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
    "critic.0.weight", "head.log_std"; networks.ParamLRs), the rest at learning_rate"""

    def __post_init__(self):
        check_network("ReinforceConfig", self.network)
        parse_param_lrs("ReinforceConfig", self.param_lrs)
        if self.num_steps < 1:
            raise ValueError(f"ReinforceConfig: num_steps must be >= 1, got {self.num_steps}")


def reinforce_loss(
    log_probs: Tensor, returns_: Tensor, baselines: Tensor, entropy: Tensor, cfg: ReinforceConfig
) -> tuple[Tensor, dict[str, float]]:
    """REINFORCE-with-baseline loss (all [B]):
    A = G - stop_gradient(b)   (normalized over the batch when cfg.norm_adv)
    loss = -mean(log_probs A) + baseline_coef mean((G - b)^2) - ent_coef mean(entropy)"""
    adv = returns_ - baselines.detach()
    if cfg.norm_adv and adv.numel() > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg_loss = -(log_probs * adv).mean()
    b_loss = ((returns_ - baselines) ** 2).mean()
    ent = entropy.mean()
    loss = pg_loss + cfg.baseline_coef * b_loss - cfg.ent_coef * ent
    return loss, {
        "losses/policy": float(pg_loss.detach()),
        "losses/baseline": float(b_loss.detach()),
        "losses/entropy": float(ent.detach()),
    }


def train(
    env: gym.vector.VectorEnv,
    cfg: ReinforceConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    head: nn.Module | None = None,
) -> TrainResult:
    """Trains REINFORCE with baseline on a Gymnasium vector env (NEXT_STEP autoreset). `actor` (obs ->
    logits or means) and `critic` (the baseline, obs -> [B, 1]) replace the default MLPs when given; `head`
    (networks.head_for's kind for the action space) replaces the new one, its log_std trained in place."""
    env = check_env("reinforce.train", env)
    with seeded(seed, "reinforce.train"):
        actor = preset_actor(
            "reinforce.train", cfg.network, actor, env.single_observation_space, env.single_action_space
        )
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
            "reinforce.train",
            policy,
            cfg.learning_rate,
            cfg.param_lrs,
            preset=preset_param_lrs(cfg.network, "actor_critic"),
        )
        opt = torch.optim.Adam(groups, eps=1e-5)
        rollout = Rollout(cfg.num_steps, env.num_envs, env.single_observation_space, env.single_action_space)
        c = Collector.start(env, seed)
        result = TrainResult(cfg, {"policy": policy})
        for _ in range(max(1, cfg.total_timesteps // (cfg.num_steps * env.num_envs))):
            collect(policy, rollout, c)
            t0 = time.perf_counter()
            g = returns.discounted_returns(
                rollout.rewards,
                rollout.terminations,
                rollout.truncations,
                gamma=cfg.gamma,
                next_values=rollout.next_values() if cfg.bootstrap else None,
            )
            b_obs, b_actions, b_ret = rollout.flat(rollout.obs, rollout.actions, g)
            dist = policy.dist(b_obs)
            loss, stats = reinforce_loss(dist.log_prob(b_actions), b_ret, policy.value(b_obs), dist.entropy(), cfg)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            opt.step()
            c.times["update"] += time.perf_counter() - t0
            c.record(result, stats, log)
    return c.finish(result)


__all__ = ["ReinforceConfig", "reinforce_loss", "train"]
