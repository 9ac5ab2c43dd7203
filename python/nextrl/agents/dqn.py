"""DQN (Mnih et al. 2015) with double Q-learning (van Hasselt et al. 2016), dueling heads (Wang et al.
2016), n-step returns and prioritized replay (Schaul et al. 2016) as config options.

Config, targets, loss and the algorithm's part of the training loop (acting and learning; the loop itself is
agents.offpolicy.run) for discrete-action vector envs (any Gymnasium VectorEnv
with NEXT_STEP autoreset). Replay comes from agents.replay. The defaults solve CartPole-v1 in 2.4e4 steps
(after rl-zoo's tuned DQN: short epsilon decay, bursts of gradient steps; plus double Q and 3-step returns).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents import offpolicy
from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.networks import check_network, mlp, param_groups, parse_param_lrs, preset_network, preset_param_lrs
from nextrl.agents.offpolicy_nets import adam, make_target, soft_update
from nextrl.agents.replay import PrioritizedReplayBuffer, ReplayBatch, ReplayBuffer
from nextrl.agents.rollout import check_env


@dataclass(frozen=True)
class DQNConfig:
    total_timesteps: int = 24_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 1
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    learning_rate: float = 1e-3
    """Adam step size"""
    buffer_size: int = 100_000
    """replay capacity in transitions"""
    gamma: float = 0.99
    """discount factor in [0, 1]"""
    batch_size: int = 128
    """transitions per gradient step"""
    learning_starts: int = 1_000
    """environment steps (summed over envs) of pure exploration before learning starts"""
    train_frequency: int = 64
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 32
    """gradient steps per round; the update-to-data ratio is gradient_steps / (train_frequency * num_envs)"""
    target_network_frequency: int = 100
    """gradient steps between target-network updates"""
    tau: float = 1.0
    """target update rate: 1 copies the online network, < 1 is Polyak averaging"""
    start_e: float = 1.0
    """initial exploration epsilon"""
    end_e: float = 0.04
    """final exploration epsilon"""
    exploration_fraction: float = 0.2
    """fraction of total_timesteps over which epsilon decays linearly from start_e to end_e"""
    double_q: bool = True
    """select the next action with the online network and evaluate it with the target (double DQN)"""
    dueling: bool = False
    """use a dueling head Q = V + A - mean(A) (only for the built-in network)"""
    n_step: int = 3
    """n-step returns (>= 1)"""
    prioritized: bool = False
    """proportional prioritized replay instead of uniform"""
    prioritized_alpha: float = 0.6
    """priority exponent alpha (0 = uniform)"""
    prioritized_beta_start: float = 0.4
    """importance-sampling exponent at the start; annealed linearly to 1 at total_timesteps"""
    prioritized_eps: float = 1e-6
    """added to |TD error| before the exponent"""
    huber: bool = True
    """Huber (smooth L1) loss on TD errors instead of squared error"""
    max_grad_norm: float = float("inf")
    """gradient clipping norm (inf: no clipping)"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of the built-in Q-network (ReLU)"""
    network: str = "mlp"
    """the Q-network: "mlp" (hidden widths above; dueling when asked) or "skolik" (a QuantumLayer,
    networks.quantum_network, whose rescaled outputs w_a (1 + <O_a>) / 2 are the Q-values, networks.ExpectationQ,
    with its preset learning rates networks.PRESET_PARAM_LRS after param_lrs; Skolik et al. 2022)"""
    param_lrs: tuple[str, ...] = ()
    """per-parameter-group learning rates, "pattern=lr" entries over the Q-network's parameter names
    ("q_network.weights", "q_network.0.weight", ...; networks.ParamLRs); the rest at learning_rate"""

    def __post_init__(self):
        check_network("DQNConfig", self.network, policies=False)
        parse_param_lrs("DQNConfig", self.param_lrs)


class DuelingQNetwork(nn.Module):
    """Shared ReLU trunk, then Q(s, a) = V(s) + A(s, a) - mean_a A(s, a) (Wang et al. 2016, eq. 9).
    [B, obs_dim] -> [B, num_actions]."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: tuple[int, ...]):
        super().__init__()
        self.trunk = mlp(obs_dim, hidden[-1], hidden[:-1], activation=nn.ReLU)
        self.value = nn.Linear(hidden[-1], 1)
        self.advantage = nn.Linear(hidden[-1], num_actions)

    def forward(self, obs: Tensor) -> Tensor:
        h = torch.relu(self.trunk(obs))
        a = self.advantage(h)
        return self.value(h) + a - a.mean(dim=1, keepdim=True)


def dqn_targets(
    next_q_online: Tensor,
    next_q_target: Tensor,
    rewards: Tensor,
    terminations: Tensor,
    discounts: Tensor,
    double_q: bool,
) -> Tensor:
    """TD targets [B]: rewards + discounts * (1 - terminations) * Q_target(s', a'), with a' the argmax of
    the online network (double DQN) or of the target network. next_q_*: [B, num_actions]."""
    if double_q:
        best = next_q_online.argmax(dim=1, keepdim=True)
        next_v = next_q_target.gather(1, best).squeeze(1)
    else:
        next_v = next_q_target.max(dim=1).values
    return rewards + discounts * (1.0 - terminations) * next_v


def dqn_loss(
    q_values: Tensor, actions: Tensor, targets: Tensor, weights: Tensor, huber: bool = True
) -> tuple[Tensor, Tensor]:
    """Importance-weighted mean TD loss and the TD errors [B] (for priorities). q_values [B, num_actions],
    actions [B] int64, targets and weights [B]."""
    q = q_values.gather(1, actions.long().unsqueeze(1)).squeeze(1)
    td = targets - q
    per_sample = nn.functional.smooth_l1_loss(q, targets, reduction="none") if huber else td.pow(2)
    return (weights * per_sample).mean(), td.detach()


def linear_schedule(start: float, end: float, duration: float, t: float) -> float:
    """start + (end - start) * min(t / duration, 1)."""
    return end if duration <= 0 else start + (end - start) * min(t / duration, 1.0)


def update(
    q_network: nn.Module,
    target_network: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: ReplayBatch,
    cfg: DQNConfig,
) -> tuple[dict[str, float], Tensor]:
    """One gradient step on a replay batch; returns metrics and the TD errors [B]."""
    b = len(batch.rewards)
    with torch.no_grad():
        next_q_target = target_network(batch.next_obs)
    if cfg.double_q:  # one forward pass of the online network over obs and next_obs together
        both = q_network(torch.cat([batch.obs, batch.next_obs]))
        q_values, next_q_online = both[:b], both[b:].detach()
    else:
        q_values, next_q_online = q_network(batch.obs), next_q_target
    targets = dqn_targets(
        next_q_online, next_q_target, batch.rewards, batch.terminations, batch.discounts, cfg.double_q
    )
    loss, td = dqn_loss(q_values, batch.actions, targets, batch.weights, cfg.huber)
    optimizer.zero_grad()
    loss.backward()
    if cfg.max_grad_norm < float("inf"):
        nn.utils.clip_grad_norm_(q_network.parameters(), cfg.max_grad_norm)
    optimizer.step()
    return {"losses/td_loss": loss.item(), "losses/q_values": q_values.detach().mean().item()}, td


def train(
    env: gym.vector.VectorEnv,
    cfg: DQNConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    q_network: nn.Module | None = None,
    q_network_target: nn.Module | None = None,
) -> TrainResult:
    """Trains DQN on a discrete-action vector env. `q_network` ([B, obs_dim] float32 -> [B, num_actions])
    replaces the built-in MLP (e.g. a nextrl.quantum.QuantumLayer). The target network is a deep copy, or
    `q_network_target` (a second instance, loaded with q_network's weights) for modules that cannot be copied."""
    env = check_env("dqn.train", env)
    if not isinstance(env.single_action_space, gym.spaces.Discrete):
        raise TypeError(f"dqn.train: env must have a Discrete action space, got {env.single_action_space}")
    if cfg.n_step < 1 or cfg.batch_size < 1 or cfg.train_frequency < 1 or cfg.gradient_steps < 0:
        raise ValueError(
            "dqn.train: n_step, batch_size and train_frequency must be >= 1 and gradient_steps "
            f">= 0, got {cfg.n_step}, {cfg.batch_size}, {cfg.train_frequency}, {cfg.gradient_steps}"
        )
    num_envs = env.num_envs
    obs_shape = env.single_observation_space.shape
    num_actions = int(env.single_action_space.n)
    with seeded(seed, "dqn.train"):
        rng = np.random.default_rng(seed)
        if q_network is not None and cfg.network != "mlp":
            raise ValueError(f"dqn.train: give either q_network= or cfg.network={cfg.network!r}, not both")
        if q_network is None:
            q_network = preset_network(
                "dqn.train", cfg.network, env.single_observation_space, num_actions, q_values=True
            )
        if q_network is None:
            obs_dim = int(np.prod(obs_shape))
            q_network = (
                DuelingQNetwork(obs_dim, num_actions, cfg.hidden)
                if cfg.dueling
                else mlp(obs_dim, num_actions, cfg.hidden, activation=nn.ReLU)
            )
        target_network = make_target(q_network, q_network_target, "dqn.train", "q_network")
    groups = param_groups(
        "dqn.train",
        {"q_network": q_network},
        cfg.learning_rate,
        cfg.param_lrs,
        preset=preset_param_lrs(cfg.network, "q_network"),
    )
    optimizer = adam(groups, cfg.learning_rate)
    kwargs = dict(num_envs=num_envs, action_dtype=np.int64, n_step=cfg.n_step, gamma=cfg.gamma)
    buffer = (
        PrioritizedReplayBuffer(
            cfg.buffer_size, obs_shape, alpha=cfg.prioritized_alpha, eps=cfg.prioritized_eps, **kwargs
        )
        if cfg.prioritized
        else ReplayBuffer(cfg.buffer_size, obs_shape, **kwargs)
    )
    result = TrainResult(config=cfg, modules={"q_network": q_network, "target_network": target_network})

    def epsilon(global_step: int) -> float:
        return linear_schedule(cfg.start_e, cfg.end_e, cfg.exploration_fraction * cfg.total_timesteps, global_step)

    def act(obs: np.ndarray, global_step: int) -> np.ndarray:
        with torch.no_grad():
            greedy = q_network(torch.as_tensor(obs, dtype=torch.float32)).argmax(dim=1).numpy()
        explore = rng.random(num_envs) < epsilon(global_step)
        return np.where(explore, rng.integers(0, num_actions, size=num_envs), greedy)

    def learn(num_updates: int, global_step: int) -> dict[str, float]:
        if cfg.prioritized:
            beta = linear_schedule(cfg.prioritized_beta_start, 1.0, cfg.total_timesteps, global_step)
            batch = buffer.sample(cfg.batch_size, rng, beta=beta)
        else:
            batch = buffer.sample(cfg.batch_size, rng)
        metrics, td = update(q_network, target_network, optimizer, batch, cfg)
        if cfg.prioritized:
            buffer.update_priorities(batch.indices, td)
        if (num_updates + 1) % cfg.target_network_frequency == 0:
            soft_update(target_network, q_network, cfg.tau)
        return {**metrics, "charts/epsilon": epsilon(global_step)}

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


def greedy_policy(q_network: nn.Module):
    """act(obs [N, ...] numpy) -> greedy actions [N] int64, for common.evaluate."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return q_network(torch.as_tensor(obs, dtype=torch.float32)).argmax(dim=1).numpy()

    return act


__all__ = [
    "DQNConfig",
    "DuelingQNetwork",
    "dqn_loss",
    "dqn_targets",
    "greedy_policy",
    "linear_schedule",
    "train",
    "update",
]
