"""SAC for continuous actions, Haarnoja et al. 2018 (arXiv:1801.01290, 1812.05905): tanh-squashed Gaussian
policy with the change-of-variables log-prob correction, twin critics with a Polyak-averaged target, and
automatic entropy tuning.

Config, pure losses, update and the algorithm's part of the training loop (acting and learning; the loop
itself is agents.offpolicy.run); replay from agents.replay, networks from agents.offpolicy_nets. Trains on any
Gymnasium vector env with a Box action space and NEXT_STEP autoreset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents import offpolicy
from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.networks import mlp, parse_param_lrs
from nextrl.agents.offpolicy import box_bounds
from nextrl.agents.offpolicy_nets import EnsembleMLP, LogAlpha, adams, make_target, soft_update
from nextrl.agents.replay import ReplayBatch, ReplayBuffer
from nextrl.agents.rollout import check_env

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass(frozen=True)
class SACConfig:
    total_timesteps: int = 20_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 1
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    buffer_size: int = 100_000
    """replay capacity in transitions"""
    gamma: float = 0.99
    """discount factor in [0, 1]"""
    tau: float = 0.005
    """target-critic Polyak rate per gradient step"""
    batch_size: int = 256
    """transitions per gradient step"""
    learning_starts: int = 1_000
    """environment steps (summed over envs) of uniform random actions before learning starts"""
    policy_lr: float = 1e-3
    """Adam step size of the actor"""
    q_lr: float = 1e-3
    """Adam step size of the critics and of log(alpha)"""
    train_frequency: int = 1
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 1
    """gradient steps per round; update-to-data ratio = gradient_steps / (train_frequency * num_envs)"""
    policy_frequency: int = 1
    """critic steps per actor (and alpha) step"""
    n_step: int = 1
    """n-step returns (>= 1)"""
    alpha: float = 0.2
    """entropy coefficient: fixed when autotune is False, else its initial value"""
    autotune: bool = True
    """learn alpha so that the policy entropy tracks target_entropy"""
    target_entropy: float | None = None
    """entropy target in nats; None means -act_dim"""
    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of the built-in actor and critics (ReLU)"""
    param_lrs: tuple[str, ...] = ()
    """per-parameter-group learning rates, "pattern=lr" entries over the parameter names ("actor.*",
    "critic.*", "log_alpha.value"; networks.ParamLRs); the rest at policy_lr (actor) / q_lr (critic, alpha)"""

    def __post_init__(self):
        parse_param_lrs("SACConfig", self.param_lrs)


def gaussian_params(actor_out: Tensor) -> tuple[Tensor, Tensor]:
    """Splits actor outputs [B, 2 * act_dim] into mean and log_std [B, act_dim]; log_std is squashed into
    [LOG_STD_MIN, LOG_STD_MAX] by a tanh (as in CleanRL)."""
    mean, raw = actor_out.chunk(2, dim=-1)
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1.0)
    return mean, log_std


def squashed_gaussian(
    mean: Tensor, log_std: Tensor, noise: Tensor, scale: Tensor, bias: Tensor
) -> tuple[Tensor, Tensor]:
    """Reparameterized sample a = bias + scale * tanh(u), u = mean + exp(log_std) * noise, and its log-density
    [B]: log N(u; mean, std) - sum_i log(scale_i * (1 - tanh(u_i)**2)) (Haarnoja et al. 2018, App. C), with
    log(1 - tanh(u)**2) = 2 (log 2 - u - softplus(-2u)) for stability."""
    u = mean + log_std.exp() * noise
    log_prob_u = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_det = (torch.log(scale) + 2.0 * (math.log(2.0) - u - nn.functional.softplus(-2.0 * u))).sum(-1)
    return bias + scale * torch.tanh(u), log_prob_u - log_det


def critic_targets(
    next_q_target: Tensor,
    next_log_prob: Tensor,
    rewards: Tensor,
    terminations: Tensor,
    discounts: Tensor,
    alpha: float | Tensor,
) -> Tensor:
    """Soft TD targets [B]: r + discount * (1 - term) * (min_k Q'_k(s', a') - alpha * log pi(a'|s')), with
    next_q_target [B, 2] the target twins at a' ~ pi(.|s')."""
    soft_v = next_q_target.min(dim=1).values - alpha * next_log_prob
    return rewards + discounts * (1.0 - terminations) * soft_v


def critic_loss(q: Tensor, targets: Tensor) -> Tensor:
    """Sum over the twins of the mean squared error: q [B, 2], targets [B]."""
    return (q - targets.unsqueeze(1)).pow(2).mean(dim=0).sum()


def actor_loss(q_pi: Tensor, log_prob: Tensor, alpha: float | Tensor) -> Tensor:
    """mean(alpha * log pi(a|s) - min_k Q_k(s, a)) over a ~ pi(.|s): q_pi [B, 2], log_prob [B]."""
    return (alpha * log_prob - q_pi.min(dim=1).values).mean()


def alpha_loss(log_alpha: Tensor, log_prob: Tensor, target_entropy: float) -> Tensor:
    """-log(alpha) * mean(log pi + target_entropy) (Haarnoja et al. 2018b, eq. 18 on log alpha, as SB3):
    alpha grows when the entropy -log pi falls below the target."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()


def update(
    actor: nn.Module,
    critic: nn.Module,
    critic_target: nn.Module,
    log_alpha: Tensor,
    optimizers: dict[str, torch.optim.Optimizer],
    batch: ReplayBatch,
    cfg: SACConfig,
    scale: Tensor,
    bias: Tensor,
    target_entropy: float,
    generator: torch.Generator,
    update_actor: bool,
) -> dict[str, float]:
    """One critic step, then (if update_actor) one actor step and one alpha step, then the target update."""
    alpha = log_alpha.exp().detach() if cfg.autotune else cfg.alpha
    b, act_dim = batch.actions.shape
    with torch.no_grad():
        mean, log_std = gaussian_params(actor(batch.next_obs))
        noise = torch.randn(b, act_dim, generator=generator)
        next_actions, next_log_prob = squashed_gaussian(mean, log_std, noise, scale, bias)
        next_q = critic_target(torch.cat([batch.next_obs, next_actions], dim=1))
        targets = critic_targets(next_q, next_log_prob, batch.rewards, batch.terminations, batch.discounts, alpha)
    q = critic(torch.cat([batch.obs, batch.actions], dim=1))
    q_loss = critic_loss(q, targets)
    optimizers["critic"].zero_grad()
    q_loss.backward()
    optimizers["critic"].step()
    metrics = {"losses/critic": q_loss.item(), "losses/q_values": q.detach().mean().item()}
    if update_actor:
        mean, log_std = gaussian_params(actor(batch.obs))
        actions, log_prob = squashed_gaussian(mean, log_std, torch.randn(b, act_dim, generator=generator), scale, bias)
        critic.requires_grad_(False)
        pi_loss = actor_loss(critic(torch.cat([batch.obs, actions], dim=1)), log_prob, alpha)
        optimizers["actor"].zero_grad()
        pi_loss.backward()
        optimizers["actor"].step()
        critic.requires_grad_(True)
        metrics["losses/actor"] = pi_loss.item()
        metrics["charts/entropy"] = -log_prob.detach().mean().item()
        if cfg.autotune:
            a_loss = alpha_loss(log_alpha, log_prob, target_entropy)
            optimizers["alpha"].zero_grad()
            a_loss.backward()
            optimizers["alpha"].step()
            metrics["losses/alpha"] = a_loss.item()
    metrics["charts/alpha"] = float(alpha)
    soft_update(critic_target, critic, cfg.tau)
    return metrics


def train(
    env: gym.vector.VectorEnv,
    cfg: SACConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    critic_target: nn.Module | None = None,
) -> TrainResult:
    """Trains SAC on a Box-action vector env. `actor` maps obs [B, obs_dim] to [B, 2 * act_dim] (means,
    then unbounded log-std pre-activations); `critic` maps cat(obs, action) [B, obs_dim + act_dim] to twin
    Q-values [B, 2]. Either replaces the built-in MLPs (a nextrl.quantum.QuantumLayer, say); critic_target is
    needed only for a critic that cannot be deep-copied. The learned log(alpha) is result.modules["log_alpha"]."""
    env = check_env("sac.train", env)
    space = box_bounds("sac.train", env)
    num_envs = env.num_envs
    obs_shape = env.single_observation_space.shape
    obs_dim, act_dim = int(np.prod(obs_shape)), int(np.prod(space.shape))
    low, high = torch.as_tensor(space.low, dtype=torch.float32), torch.as_tensor(space.high, dtype=torch.float32)
    scale, bias = (high - low) / 2, (high + low) / 2
    target_entropy = float(-act_dim if cfg.target_entropy is None else cfg.target_entropy)
    with seeded(seed, "sac.train") as generator:
        rng = np.random.default_rng(seed)
        actor = mlp(obs_dim, 2 * act_dim, cfg.hidden, activation=nn.ReLU) if actor is None else actor
        critic = EnsembleMLP(obs_dim + act_dim, 1, 2, cfg.hidden) if critic is None else critic
        critic_target = make_target(critic, critic_target, "sac.train", "critic")
    log_alpha = LogAlpha(cfg.alpha)
    optimizers = adams(
        "sac.train",
        cfg.param_lrs,
        {
            "actor": ({"actor": actor}, cfg.policy_lr),
            "critic": ({"critic": critic}, cfg.q_lr),
            "alpha": ({"log_alpha": log_alpha}, cfg.q_lr),
        },
    )
    buffer = ReplayBuffer(
        cfg.buffer_size, obs_shape, space.shape, num_envs=num_envs, n_step=cfg.n_step, gamma=cfg.gamma
    )
    result = TrainResult(
        config=cfg, modules={"actor": actor, "critic": critic, "critic_target": critic_target, "log_alpha": log_alpha}
    )

    def act(obs: np.ndarray, global_step: int) -> np.ndarray:
        if global_step <= cfg.learning_starts:
            return rng.uniform(space.low, space.high, size=(num_envs, *space.shape)).astype(np.float32)
        with torch.no_grad():
            mean, log_std = gaussian_params(actor(torch.as_tensor(obs, dtype=torch.float32).reshape(num_envs, -1)))
            noise = torch.randn(num_envs, act_dim, generator=generator)
            return squashed_gaussian(mean, log_std, noise, scale, bias)[0].numpy().reshape(num_envs, *space.shape)

    def learn(num_updates: int, global_step: int) -> dict[str, float]:
        batch = buffer.sample(cfg.batch_size, rng)
        batch.obs, batch.next_obs = batch.obs.reshape(cfg.batch_size, -1), batch.next_obs.reshape(cfg.batch_size, -1)
        batch.actions = batch.actions.reshape(cfg.batch_size, -1)
        return update(
            actor,
            critic,
            critic_target,
            log_alpha.value,
            optimizers,
            batch,
            cfg,
            scale,
            bias,
            target_entropy,
            generator,
            update_actor=num_updates % cfg.policy_frequency == 0,
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
    """act(obs [N, ...] numpy) -> bias + scale * tanh(mean) [N, *action_shape], for common.evaluate."""
    low = torch.as_tensor(action_space.low, dtype=torch.float32)
    high = torch.as_tensor(action_space.high, dtype=torch.float32)

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mean, _ = gaussian_params(actor(torch.as_tensor(obs, dtype=torch.float32).reshape(len(obs), -1)))
            a = (high + low) / 2 + (high - low) / 2 * torch.tanh(mean)
        return a.numpy().reshape(len(obs), *action_space.shape)

    return act


__all__ = [
    "SACConfig",
    "actor_loss",
    "alpha_loss",
    "critic_loss",
    "critic_targets",
    "deterministic_policy",
    "gaussian_params",
    "squashed_gaussian",
    "train",
    "update",
]
