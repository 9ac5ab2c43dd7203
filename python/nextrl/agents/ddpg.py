"""DDPG, Lillicrap et al. 2016 (arXiv:1509.02971): a deterministic actor trained through one critic by
the deterministic policy gradient, Polyak-averaged target actor and critic, Gaussian exploration noise
(as in Fujimoto et al. 2018's "our DDPG" baseline and CleanRL, instead of Ornstein-Uhlenbeck noise).

Config, pure losses, update and training loop; replay from agents.replay, networks from
agents.offpolicy_nets. Trains on any Gymnasium vector env with a bounded Box action space and NEXT_STEP
autoreset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, seeded
from nextrl.agents.networks import mlp
from nextrl.agents.offpolicy_nets import EnsembleMLP, TanhActor, adam, make_target, soft_update
from nextrl.agents.replay import ReplayBatch, ReplayBuffer


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
    """critic steps per actor step (and per target update)"""
    exploration_noise: float = 0.1
    """std of the Gaussian exploration noise, in units of the action half-range"""
    n_step: int = 1
    """n-step returns (>= 1)"""
    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of the built-in actor and critic (ReLU)"""


def critic_targets(next_q_target: Tensor, rewards: Tensor, terminations: Tensor, discounts: Tensor) -> Tensor:
    """TD targets [B]: r + discount * (1 - term) * Q'(s', mu'(s')), next_q_target [B, 1]."""
    return rewards + discounts * (1.0 - terminations) * next_q_target[:, 0]


def critic_loss(q: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of q [B, 1] against targets [B]."""
    return (q[:, 0] - targets).pow(2).mean()


def actor_loss(q_pi: Tensor) -> Tensor:
    """-mean Q(s, mu(s)), q_pi [B, 1]."""
    return -q_pi[:, 0].mean()


def update(actor: nn.Module, actor_target: nn.Module, critic: nn.Module, critic_target: nn.Module,
           optimizers: dict[str, torch.optim.Optimizer], batch: ReplayBatch, cfg: DDPGConfig,
           update_actor: bool) -> dict[str, float]:
    """One critic step; with update_actor also one actor step and the Polyak update of both targets."""
    with torch.no_grad():
        next_actions = actor_target(batch.next_obs)
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


def train(env, cfg: DDPGConfig, *, seed: int, log: LogFn | None = None, actor: nn.Module | None = None,
          critic: nn.Module | None = None, actor_target: nn.Module | None = None,
          critic_target: nn.Module | None = None) -> TrainResult:
    """Trains DDPG on a bounded Box-action vector env. `actor` maps obs [B, obs_dim] to actions [B, act_dim]
    inside the box (wrap a free network in offpolicy_nets.TanhActor); `critic` maps cat(obs, action)
    [B, obs_dim + act_dim] to Q-values [B, 1]. Either replaces the built-in MLPs;
    actor_target and critic_target are needed only for modules that cannot be deep-copied."""
    import gymnasium as gym

    space = env.single_action_space
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"ddpg.train: env must have a Box action space, got {space}")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"ddpg.train: the action space must be bounded, got low={space.low}, high={space.high}")
    num_envs = env.num_envs
    obs_shape = env.single_observation_space.shape
    obs_dim, act_dim = int(np.prod(obs_shape)), int(np.prod(space.shape))
    low = torch.as_tensor(space.low, dtype=torch.float32).reshape(-1)
    high = torch.as_tensor(space.high, dtype=torch.float32).reshape(-1)
    rng = np.random.default_rng(seed)
    with seeded(seed):
        if actor is None:
            actor = TanhActor(mlp(obs_dim, act_dim, cfg.hidden, activation=nn.ReLU), low, high)
        critic = EnsembleMLP(obs_dim + act_dim, 1, 1, cfg.hidden) if critic is None else critic
        actor_target = make_target(actor, actor_target, "ddpg.train", "actor")
        critic_target = make_target(critic, critic_target, "ddpg.train", "critic")
    optimizers = {"actor": adam(actor.parameters(), lr=cfg.policy_lr),
                  "critic": adam(critic.parameters(), lr=cfg.q_lr)}
    buffer = ReplayBuffer(cfg.buffer_size, obs_shape, space.shape, num_envs=num_envs, n_step=cfg.n_step,
                          gamma=cfg.gamma)
    half_range = ((space.high - space.low) / 2).reshape(-1)

    result = TrainResult(config=cfg, modules={"actor": actor, "critic": critic, "actor_target": actor_target,
                                              "critic_target": critic_target})
    times = {"env": 0.0, "inference": 0.0, "update": 0.0}
    start = time.perf_counter()
    tracker = EpisodeTracker(num_envs)
    obs, _ = env.reset(seed=seed)
    global_step, num_updates, num_logged = 0, 0, 0
    for iteration in range(cfg.total_timesteps // num_envs):
        global_step += num_envs
        t0 = time.perf_counter()
        if global_step <= cfg.learning_starts:
            actions = rng.uniform(space.low, space.high, size=(num_envs, *space.shape)).astype(np.float32)
        else:
            with torch.no_grad():
                mu = actor(torch.as_tensor(obs, dtype=torch.float32).reshape(num_envs, -1)).numpy()
            noisy = mu + rng.normal(size=mu.shape) * cfg.exploration_noise * half_range
            actions = np.clip(noisy, space.low.reshape(-1), space.high.reshape(-1)).astype(np.float32)
            actions = actions.reshape(num_envs, *space.shape)
        t1 = time.perf_counter()
        next_obs, rewards, terms, truncs, _ = env.step(actions)
        t2 = time.perf_counter()
        times["inference"] += t1 - t0
        times["env"] += t2 - t1
        valid = tracker.step(rewards, terms, truncs, global_step)
        buffer.add(obs, actions, rewards, next_obs, terms, truncs, valid)
        obs = next_obs
        if log is not None:
            for i in range(num_logged, len(tracker.finished_returns)):
                log(global_step, {"charts/episode_return": tracker.finished_returns[i],
                                  "charts/episode_length": float(tracker.finished_lengths[i])})
        num_logged = len(tracker.finished_returns)
        if global_step <= cfg.learning_starts or iteration % cfg.train_frequency != 0:
            continue
        metrics: dict[str, float] = {}
        for _ in range(cfg.gradient_steps):
            batch = buffer.sample(cfg.batch_size, rng)
            batch.obs, batch.next_obs = batch.obs.reshape(cfg.batch_size, -1), batch.next_obs.reshape(cfg.batch_size, -1)
            batch.actions = batch.actions.reshape(cfg.batch_size, -1)
            num_updates += 1
            metrics = update(actor, actor_target, critic, critic_target, optimizers, batch, cfg,
                             update_actor=num_updates % cfg.policy_frequency == 0)
        times["update"] += time.perf_counter() - t2
        metrics = {"global_step": float(global_step), **metrics,
                   "charts/sps": global_step / (time.perf_counter() - start)}
        result.metrics.append(metrics)
        if log is not None:
            log(global_step, metrics)

    tracker.fill(result, global_step, time.perf_counter() - start, times)
    return result


def deterministic_policy(actor: nn.Module, action_space):
    """act(obs [N, ...] numpy) -> mu(obs) [N, *action_shape] (no noise), for common.evaluate."""
    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            a = actor(torch.as_tensor(obs, dtype=torch.float32).reshape(len(obs), -1))
        return a.numpy().reshape(len(obs), *action_space.shape)
    return act


__all__ = ["DDPGConfig", "actor_loss", "critic_loss", "critic_targets", "deterministic_policy", "train", "update"]
