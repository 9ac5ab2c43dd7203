"""SAC for discrete actions, Christodoulou 2019 (arXiv:1910.07207): a categorical policy, twin critics
that output Q(s, .) for every action, expectations over actions computed exactly instead of sampled, and
automatic entropy tuning toward a fraction of the maximum entropy log(num_actions).

The defaults are tuned for CartPole-v1 (greedy returns of about 400-490 after 1.5e4 steps): a low entropy
target (0.1 of the maximum, where the paper's 0.98 keeps a two-action policy near uniform), 3-step returns
and one gradient step per two environment steps.

Config, pure losses, update and the algorithm's part of the training loop (acting and learning; the loop
itself is agents.offpolicy.run); replay from agents.replay, networks from agents.offpolicy_nets. Trains on any
Gymnasium vector env with a Discrete action space and NEXT_STEP autoreset.
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
from nextrl.agents.networks import check_network, mlp, parse_param_lrs, preset_actor, preset_param_lrs
from nextrl.agents.offpolicy_nets import EnsembleMLP, LogAlpha, adams, make_target, soft_update
from nextrl.agents.replay import ReplayBatch, ReplayBuffer
from nextrl.agents.rollout import check_env


@dataclass(frozen=True)
class SACDiscreteConfig:
    total_timesteps: int = 15_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 1
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    buffer_size: int = 100_000
    """replay capacity in transitions"""
    gamma: float = 0.99
    """discount factor in [0, 1]"""
    tau: float = 0.01
    """target-critic Polyak rate per gradient step"""
    batch_size: int = 128
    """transitions per gradient step"""
    learning_starts: int = 1_000
    """environment steps (summed over envs) of uniform random actions before learning starts"""
    policy_lr: float = 1e-3
    """Adam step size of the actor"""
    q_lr: float = 1e-3
    """Adam step size of the critics and of log(alpha)"""
    train_frequency: int = 2
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 1
    """gradient steps per round; update-to-data ratio = gradient_steps / (train_frequency * num_envs)"""
    policy_frequency: int = 1
    """critic steps per actor (and alpha) step"""
    n_step: int = 3
    """n-step returns (>= 1)"""
    alpha: float = 0.2
    """entropy coefficient: fixed when autotune is False, else its initial value"""
    autotune: bool = True
    """learn alpha so that the policy entropy tracks target_entropy_scale * log(num_actions)"""
    target_entropy_scale: float = 0.1
    """entropy target as a fraction of the maximum entropy log(num_actions), in (0, 1)"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of the built-in actor and critics (ReLU)"""
    network: str = "mlp"
    """the actor: "mlp" (hidden widths above), "skolik" (a QuantumLayer giving the logits,
    networks.quantum_network), "softmax_pqc" or "raw_pqc" (agents.quantum_policies); a quantum preset's learning
    rates networks.PRESET_PARAM_LRS follow param_lrs"""
    param_lrs: tuple[str, ...] = ()
    """per-parameter-group learning rates, "pattern=lr" entries over the parameter names ("actor.*",
    "critic.*", "log_alpha.value"; networks.ParamLRs); the rest at policy_lr (actor) / q_lr (critic, alpha)"""

    def __post_init__(self):
        check_network("SACDiscreteConfig", self.network)
        parse_param_lrs("SACDiscreteConfig", self.param_lrs)


def critic_targets(
    next_q_target: Tensor,
    next_log_probs: Tensor,
    rewards: Tensor,
    terminations: Tensor,
    discounts: Tensor,
    alpha: float | Tensor,
) -> Tensor:
    """Soft TD targets [B]: r + discount * (1 - term) * sum_a pi(a|s') (min_k Q'_k(s', a) - alpha log pi(a|s'))
    (Christodoulou 2019, eq. 10). next_q_target [B, 2, A], next_log_probs [B, A]."""
    soft_v = (next_log_probs.exp() * (next_q_target.min(dim=1).values - alpha * next_log_probs)).sum(dim=1)
    return rewards + discounts * (1.0 - terminations) * soft_v


def critic_loss(q: Tensor, actions: Tensor, targets: Tensor) -> Tensor:
    """Sum over the twins of the mean squared error of Q_k(s, a): q [B, 2, A], actions [B], targets [B]."""
    index = actions.long().view(-1, 1, 1).expand(-1, q.shape[1], 1)
    q_a = q.gather(2, index).squeeze(2)  # [B, 2]
    return (q_a - targets.unsqueeze(1)).pow(2).mean(dim=0).sum()


def actor_loss(q: Tensor, log_probs: Tensor, alpha: float | Tensor) -> Tensor:
    """mean_B sum_a pi(a|s) (alpha log pi(a|s) - min_k Q_k(s, a)) (eq. 12); q [B, 2, A] (treated as a
    constant), log_probs [B, A]."""
    return (log_probs.exp() * (alpha * log_probs - q.detach().min(dim=1).values)).sum(dim=1).mean()


def alpha_loss(log_alpha: Tensor, log_probs: Tensor, target_entropy: float) -> Tensor:
    """-log(alpha) * mean_B sum_a pi(a|s) (log pi(a|s) + target_entropy) (eq. 11 on log alpha): alpha grows
    when the policy entropy falls below the target."""
    probs, log_probs = log_probs.detach().exp(), log_probs.detach()
    return -(log_alpha * (probs * (log_probs + target_entropy)).sum(dim=1)).mean()


def _twin(critic: nn.Module, obs: Tensor, num_actions: int) -> Tensor:
    return critic(obs).reshape(obs.shape[0], 2, num_actions)


def update(
    actor: nn.Module,
    critic: nn.Module,
    critic_target: nn.Module,
    log_alpha: Tensor,
    optimizers: dict[str, torch.optim.Optimizer],
    batch: ReplayBatch,
    cfg: SACDiscreteConfig,
    num_actions: int,
    target_entropy: float,
    update_actor: bool,
) -> dict[str, float]:
    """One critic step, then (if update_actor) one actor step and one alpha step, then the target update."""
    alpha = log_alpha.exp().detach() if cfg.autotune else cfg.alpha
    with torch.no_grad():
        next_log_probs = torch.log_softmax(actor(batch.next_obs), dim=1)
        targets = critic_targets(
            _twin(critic_target, batch.next_obs, num_actions),
            next_log_probs,
            batch.rewards,
            batch.terminations,
            batch.discounts,
            alpha,
        )
    q = _twin(critic, batch.obs, num_actions)
    q_loss = critic_loss(q, batch.actions, targets)
    optimizers["critic"].zero_grad()
    q_loss.backward()
    optimizers["critic"].step()
    metrics = {"losses/critic": q_loss.item(), "losses/q_values": q.detach().mean().item()}
    if update_actor:
        log_probs = torch.log_softmax(actor(batch.obs), dim=1)
        pi_loss = actor_loss(q, log_probs, alpha)
        optimizers["actor"].zero_grad()
        pi_loss.backward()
        optimizers["actor"].step()
        metrics["losses/actor"] = pi_loss.item()
        metrics["charts/entropy"] = -(log_probs.detach().exp() * log_probs.detach()).sum(dim=1).mean().item()
        if cfg.autotune:
            a_loss = alpha_loss(log_alpha, log_probs, target_entropy)
            optimizers["alpha"].zero_grad()
            a_loss.backward()
            optimizers["alpha"].step()
            metrics["losses/alpha"] = a_loss.item()
    metrics["charts/alpha"] = float(alpha)
    soft_update(critic_target, critic, cfg.tau)
    return metrics


def train(
    env: gym.vector.VectorEnv,
    cfg: SACDiscreteConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    critic_target: nn.Module | None = None,
) -> TrainResult:
    """Trains discrete SAC on a Discrete-action vector env. `actor` maps obs [B, obs_dim] to logits
    [B, num_actions]; `critic` maps obs to twin Q-values [B, 2 * num_actions] (Q_1's block first). Either
    replaces the built-in MLPs (a nextrl.quantum.QuantumLayer, say); critic_target is needed only for a critic
    that cannot be deep-copied. The learned log(alpha) is result.modules["log_alpha"]."""
    env = check_env("sac_discrete.train", env)
    space = env.single_action_space
    if not isinstance(space, gym.spaces.Discrete):
        raise TypeError(f"sac_discrete.train: env must have a Discrete action space, got {space}")
    if not 0.0 < cfg.target_entropy_scale < 1.0:
        raise ValueError(f"sac_discrete.train: target_entropy_scale must be in (0, 1), got {cfg.target_entropy_scale}")
    num_envs = env.num_envs
    obs_shape = env.single_observation_space.shape
    obs_dim, num_actions = int(np.prod(obs_shape)), int(space.n)
    target_entropy = cfg.target_entropy_scale * math.log(num_actions)
    with seeded(seed, "sac_discrete.train") as generator:
        rng = np.random.default_rng(seed)
        actor = preset_actor("sac_discrete.train", cfg.network, actor, env.single_observation_space, space)
        if actor is None:
            actor = mlp(obs_dim, num_actions, cfg.hidden, activation=nn.ReLU)
        critic = EnsembleMLP(obs_dim, num_actions, 2, cfg.hidden) if critic is None else critic
        critic_target = make_target(critic, critic_target, "sac_discrete.train", "critic")
    log_alpha = LogAlpha(cfg.alpha)
    optimizers = adams(
        "sac_discrete.train",
        cfg.param_lrs,
        {
            "actor": ({"actor": actor}, cfg.policy_lr),
            "critic": ({"critic": critic}, cfg.q_lr),
            "alpha": ({"log_alpha": log_alpha}, cfg.q_lr),
        },
        preset_param_lrs(cfg.network, "actor"),
    )
    buffer = ReplayBuffer(
        cfg.buffer_size, obs_shape, num_envs=num_envs, action_dtype=np.int64, n_step=cfg.n_step, gamma=cfg.gamma
    )
    result = TrainResult(
        config=cfg, modules={"actor": actor, "critic": critic, "critic_target": critic_target, "log_alpha": log_alpha}
    )

    def act(obs: np.ndarray, global_step: int) -> np.ndarray:
        if global_step <= cfg.learning_starts:
            return rng.integers(0, num_actions, size=num_envs)
        with torch.no_grad():
            logits = actor(torch.as_tensor(obs, dtype=torch.float32).reshape(num_envs, -1))
            return torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator)[:, 0].numpy()

    def learn(num_updates: int, global_step: int) -> dict[str, float]:
        batch = buffer.sample(cfg.batch_size, rng)
        batch.obs, batch.next_obs = batch.obs.reshape(cfg.batch_size, -1), batch.next_obs.reshape(cfg.batch_size, -1)
        return update(
            actor,
            critic,
            critic_target,
            log_alpha.value,
            optimizers,
            batch,
            cfg,
            num_actions,
            target_entropy,
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


def greedy_policy(actor: nn.Module):
    """act(obs [N, ...] numpy) -> argmax of the logits [N] int64, for common.evaluate."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return actor(torch.as_tensor(obs, dtype=torch.float32).reshape(len(obs), -1)).argmax(dim=1).numpy()

    return act


__all__ = [
    "SACDiscreteConfig",
    "actor_loss",
    "alpha_loss",
    "critic_loss",
    "critic_targets",
    "greedy_policy",
    "train",
    "update",
]
