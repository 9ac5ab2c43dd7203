"""DDPG, Lillicrap et al. 2016 (arXiv:1509.02971): a deterministic actor trained through one critic by
the deterministic policy gradient, Polyak-averaged target actor and critic, Gaussian exploration noise
(as in Fujimoto et al. 2018's "our DDPG" baseline and CleanRL, instead of Ornstein-Uhlenbeck noise).

DDPG is TD3 without its three changes: one critic instead of the clipped pair, an actor step after every
critic step, no target-policy smoothing. So this file holds DDPG's config and losses, and `train` runs
agents.td3's training loop with those flags (num_critics=1, policy_noise=0; policy_frequency defaults to 1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import gymnasium as gym
from torch import Tensor, nn

from nextrl.agents import td3
from nextrl.agents.common import LogFn, TrainResult
from nextrl.agents.networks import parse_param_lrs
from nextrl.agents.td3 import deterministic_policy


@dataclass(frozen=True)
class DDPGConfig:
    total_timesteps: int = 20_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 1
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    buffer_size: int = 100_000
    """replay capacity in transitions"""
    gamma: float = 0.99
    """discount factor in [0, 1]"""
    tau: float = 0.005
    """Polyak rate of the target actor and critic, per update of each"""
    batch_size: int = 256
    """transitions per gradient step"""
    learning_starts: int = 1_000
    """environment steps (summed over envs) of uniform random actions before learning starts"""
    policy_lr: float = 1e-3
    """Adam step size of the actor"""
    q_lr: float = 1e-3
    """Adam step size of the critic"""
    train_frequency: int = 1
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 1
    """gradient steps per round; update-to-data ratio = gradient_steps / (train_frequency * num_envs)"""
    policy_frequency: int = 1
    """critic steps per actor step (and per target update); 1 in DDPG (TD3 delays the actor with 2)"""
    exploration_noise: float = 0.1
    """std of the Gaussian exploration noise, in units of the action half-range"""
    n_step: int = 1
    """n-step returns (>= 1)"""
    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of the built-in actor and critic (ReLU)"""
    param_lrs: tuple[str, ...] = ()
    """per-parameter-group learning rates, "pattern=lr" entries over the parameter names ("actor.*", "critic.*")
    (networks.ParamLRs); the rest at policy_lr / q_lr"""

    def __post_init__(self):
        parse_param_lrs("DDPGConfig", self.param_lrs)


def critic_targets(next_q_target: Tensor, rewards: Tensor, terminations: Tensor, discounts: Tensor) -> Tensor:
    """TD targets [B]: r + discount * (1 - term) * Q'(s', mu'(s')), next_q_target [B, 1]."""
    return td3.critic_targets(next_q_target, rewards, terminations, discounts)


def critic_loss(q: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of q [B, 1] against targets [B]."""
    return td3.critic_loss(q, targets)


def actor_loss(q_pi: Tensor) -> Tensor:
    """-mean Q(s, mu(s)), q_pi [B, 1]."""
    return td3.actor_loss(q_pi)


def td3_config(cfg: DDPGConfig) -> td3.TD3Config:
    """The TD3Config that trains DDPG: the same fields, one critic and no target smoothing."""
    return td3.TD3Config(**dataclasses.asdict(cfg), num_critics=1, policy_noise=0.0, noise_clip=0.0)


def train(
    env: gym.vector.VectorEnv,
    cfg: DDPGConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    actor_target: nn.Module | None = None,
    critic_target: nn.Module | None = None,
) -> TrainResult:
    """Trains DDPG on a bounded Box-action vector env. `actor` maps obs [B, obs_dim] to actions [B, act_dim]
    inside the box (wrap a free network in offpolicy_nets.TanhActor); `critic` maps cat(obs, action)
    [B, obs_dim + act_dim] to Q-values [B, 1]. Either replaces the built-in MLPs;
    actor_target and critic_target are needed only for modules that cannot be deep-copied."""
    result = td3.train(
        env,
        td3_config(cfg),
        seed=seed,
        log=log,
        actor=actor,
        critic=critic,
        actor_target=actor_target,
        critic_target=critic_target,
        name="ddpg",
    )
    result.config = cfg
    return result


__all__ = ["DDPGConfig", "actor_loss", "critic_loss", "critic_targets", "deterministic_policy", "td3_config", "train"]
