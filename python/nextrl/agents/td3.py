"""TD3, Fujimoto et al. 2018 (arXiv:1802.09477): clipped double-Q learning with twin critics, delayed
policy updates and target policy smoothing; with one critic, no delay and no smoothing it is DDPG
(Lillicrap et al. 2016, with Gaussian exploration noise as in Fujimoto et al.'s "our DDPG"), which
agents.ddpg trains through this file.

Config, pure losses, update and the algorithm's part of the training loop (acting and learning; the loop
itself is agents.offpolicy.run); replay from agents.replay, networks from agents.offpolicy_nets. Trains on
any Gymnasium vector env with a bounded Box action space and NEXT_STEP autoreset.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents import offpolicy
from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.networks import mlp, parse_param_lrs
from nextrl.agents.offpolicy import box_bounds
from nextrl.agents.offpolicy_nets import EnsembleMLP, TanhActor, adams, make_target, soft_update
from nextrl.agents.replay import ReplayBatch, ReplayBuffer
from nextrl.agents.rollout import check_env


@dataclass(frozen=True)
class TD3Config:
    total_timesteps: int = 20_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 1
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    buffer_size: int = 100_000
    """replay capacity in transitions"""
    gamma: float = 0.99
    """discount factor in [0, 1]"""
    tau: float = 0.005
    """Polyak rate of the target actor and critics, per update of each"""
    batch_size: int = 256
    """transitions per gradient step"""
    learning_starts: int = 1_000
    """environment steps (summed over envs) of uniform random actions before learning starts"""
    policy_lr: float = 1e-3
    """Adam step size of the actor"""
    q_lr: float = 1e-3
    """Adam step size of the critics"""
    train_frequency: int = 1
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 1
    """gradient steps per round; update-to-data ratio = gradient_steps / (train_frequency * num_envs)"""
    policy_frequency: int = 2
    """critic steps per actor step (and per target update), the policy delay d"""
    num_critics: int = 2
    """critics whose minimum is the TD target: 2 is clipped double-Q (TD3), 1 a single critic (DDPG)"""
    exploration_noise: float = 0.1
    """std of the Gaussian exploration noise, in units of the action half-range"""
    policy_noise: float = 0.2
    """std of the target-policy smoothing noise, in units of the action half-range (0: no smoothing)"""
    noise_clip: float = 0.5
    """the smoothing noise is clipped to [-noise_clip, noise_clip] (same units)"""
    n_step: int = 1
    """n-step returns (>= 1)"""
    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of the built-in actor and critics (ReLU)"""
    param_lrs: tuple[str, ...] = ()
    """per-parameter-group learning rates, "pattern=lr" entries over the parameter names ("actor.*", "critic.*")
    (networks.ParamLRs); the rest at policy_lr / q_lr"""

    def __post_init__(self):
        parse_param_lrs("TD3Config", self.param_lrs)


def smoothed_target_actions(next_actions: Tensor, noise: Tensor, cfg: TD3Config, low: Tensor, high: Tensor) -> Tensor:
    """Target policy smoothing: clip(mu'(s') + clip(policy_noise * noise, +-noise_clip) * scale, low, high),
    noise ~ N(0, 1) [B, act_dim], scale = (high - low) / 2."""
    eps = (cfg.policy_noise * noise).clamp(-cfg.noise_clip, cfg.noise_clip) * (high - low) / 2
    return torch.max(torch.min(next_actions + eps, high), low)


def critic_targets(next_q_target: Tensor, rewards: Tensor, terminations: Tensor, discounts: Tensor) -> Tensor:
    """Clipped double-Q targets [B]: r + discount * (1 - term) * min_k Q'_k(s', a~'), next_q_target [B, K]
    (K = 1: the DDPG target r + discount * (1 - term) * Q'(s', mu'(s')))."""
    return rewards + discounts * (1.0 - terminations) * next_q_target.min(dim=1).values


def critic_loss(q: Tensor, targets: Tensor) -> Tensor:
    """Sum over the critics of the mean squared error: q [B, K], targets [B]."""
    return (q - targets.unsqueeze(1)).pow(2).mean(dim=0).sum()


def actor_loss(q_pi: Tensor) -> Tensor:
    """-mean Q_1(s, mu(s)): the deterministic policy gradient follows the first critic only. q_pi [B, K]."""
    return -q_pi[:, 0].mean()


def update(
    actor: nn.Module,
    actor_target: nn.Module,
    critic: nn.Module,
    critic_target: nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    batch: ReplayBatch,
    cfg: TD3Config,
    low: Tensor,
    high: Tensor,
    generator: torch.Generator,
    update_actor: bool,
) -> dict[str, float]:
    """One critic step; with update_actor also one actor step and the Polyak update of both targets."""
    with torch.no_grad():
        next_actions = actor_target(batch.next_obs)
        if cfg.policy_noise > 0:
            noise = torch.randn(batch.actions.shape, generator=generator)
            next_actions = smoothed_target_actions(next_actions, noise, cfg, low, high)
        next_q = critic_target(torch.cat([batch.next_obs, next_actions], dim=1))
        targets = critic_targets(next_q, batch.rewards, batch.terminations, batch.discounts)
    q = critic(torch.cat([batch.obs, batch.actions], dim=1))
    q_loss = critic_loss(q, targets)
    optimizers["critic"].zero_grad()
    q_loss.backward()
    optimizers["critic"].step()
    metrics = {"losses/critic": q_loss.item(), "losses/q_values": q.detach().mean().item()}
    if update_actor:
        critic.requires_grad_(False)
        pi_loss = actor_loss(critic(torch.cat([batch.obs, actor(batch.obs)], dim=1)))
        optimizers["actor"].zero_grad()
        pi_loss.backward()
        optimizers["actor"].step()
        critic.requires_grad_(True)
        metrics["losses/actor"] = pi_loss.item()
        soft_update(actor_target, actor, cfg.tau)
        soft_update(critic_target, critic, cfg.tau)
    return metrics


def train(
    env: gym.vector.VectorEnv,
    cfg: TD3Config,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    actor_target: nn.Module | None = None,
    critic_target: nn.Module | None = None,
    name: str = "td3",
) -> TrainResult:
    """Trains TD3 (or DDPG, cfg.num_critics = 1 and policy_noise = 0) on a bounded Box-action vector env.
    `actor` maps obs [B, obs_dim] to actions [B, act_dim] inside the box (wrap a free network in
    offpolicy_nets.TanhActor); `critic` maps cat(obs, action) [B, obs_dim + act_dim] to Q-values
    [B, num_critics]. Either replaces the built-in MLPs; actor_target and critic_target are needed only for
    modules that cannot be deep-copied. `name` prefixes error messages."""
    fn = f"{name}.train"
    env = check_env(fn, env)
    space = box_bounds(fn, env)
    if cfg.num_critics < 1:
        raise ValueError(f"{fn}: num_critics must be >= 1, got {cfg.num_critics}")
    num_envs = env.num_envs
    obs_shape = env.single_observation_space.shape
    obs_dim, act_dim = int(np.prod(obs_shape)), int(np.prod(space.shape))
    low = torch.as_tensor(space.low, dtype=torch.float32).reshape(-1)
    high = torch.as_tensor(space.high, dtype=torch.float32).reshape(-1)
    half_range = ((space.high - space.low) / 2).reshape(-1)
    with seeded(seed, fn) as generator:
        rng = np.random.default_rng(seed)
        if actor is None:
            actor = TanhActor(mlp(obs_dim, act_dim, cfg.hidden, activation=nn.ReLU), low, high)
        critic = EnsembleMLP(obs_dim + act_dim, 1, cfg.num_critics, cfg.hidden) if critic is None else critic
        actor_target = make_target(actor, actor_target, fn, "actor")
        critic_target = make_target(critic, critic_target, fn, "critic")
    optimizers = adams(
        fn, cfg.param_lrs, {"actor": ({"actor": actor}, cfg.policy_lr), "critic": ({"critic": critic}, cfg.q_lr)}
    )
    buffer = ReplayBuffer(
        cfg.buffer_size, obs_shape, space.shape, num_envs=num_envs, n_step=cfg.n_step, gamma=cfg.gamma
    )
    result = TrainResult(
        config=cfg,
        modules={"actor": actor, "critic": critic, "actor_target": actor_target, "critic_target": critic_target},
    )

    def act(obs: np.ndarray, global_step: int) -> np.ndarray:
        if global_step <= cfg.learning_starts:
            return rng.uniform(space.low, space.high, size=(num_envs, *space.shape)).astype(np.float32)
        with torch.no_grad():
            mu = actor(torch.as_tensor(obs, dtype=torch.float32).reshape(num_envs, -1)).numpy()
        noisy = mu + rng.normal(size=mu.shape) * cfg.exploration_noise * half_range
        return (
            np.clip(noisy, space.low.reshape(-1), space.high.reshape(-1))
            .astype(np.float32)
            .reshape(num_envs, *space.shape)
        )

    def learn(num_updates: int, global_step: int) -> dict[str, float]:
        batch = buffer.sample(cfg.batch_size, rng)
        batch.obs, batch.next_obs = batch.obs.reshape(cfg.batch_size, -1), batch.next_obs.reshape(cfg.batch_size, -1)
        batch.actions = batch.actions.reshape(cfg.batch_size, -1)
        return update(
            actor,
            actor_target,
            critic,
            critic_target,
            optimizers,
            batch,
            cfg,
            low,
            high,
            generator,
            update_actor=(num_updates + 1) % cfg.policy_frequency == 0,
        )

    return offpolicy.run(
        env,
        result,
        buffer,
        act,
        learn,
        seed=seed,
        total_timesteps=cfg.total_timesteps,
        learning_starts=cfg.learning_starts,
        train_frequency=cfg.train_frequency,
        gradient_steps=cfg.gradient_steps,
        log=log,
    )


def deterministic_policy(actor: nn.Module, action_space):
    """act(obs [N, ...] numpy) -> mu(obs) [N, *action_shape] (no noise), for common.evaluate."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            a = actor(torch.as_tensor(obs, dtype=torch.float32).reshape(len(obs), -1))
        return a.numpy().reshape(len(obs), *action_space.shape)

    return act


__all__ = [
    "TD3Config",
    "actor_loss",
    "critic_loss",
    "critic_targets",
    "deterministic_policy",
    "smoothed_target_actions",
    "train",
    "update",
]
