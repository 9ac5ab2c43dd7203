"""Opponent modelling: a learned model of the other agent's actions feeding the policy (as DRON, He et al. 2016,
"Opponent Modeling in Deep Reinforcement Learning", arXiv:1609.05559, with the model's prediction as the
policy's extra input, and the supervised prediction loss of Hernandez-Leal et al. 2019's auxiliary tasks).

OpponentModelPolicy: an opponent model m(o) -> logits over the opponent's actions, trained by cross-entropy on
the opponent's observed actions, and a policy pi(a | softmax(m(o))) on the prediction (detached, so the model
learns only from what the opponent did), or pi(a | o, softmax(m(o))) with policy_sees_obs=True (DRON's
concatenation). With use_model=False the policy is pi(a | o) on the same observation (the ablation). Both are
MLPs (tanh). On marl.patterned_rps the policy on the prediction alone reaches the Bayes-optimal reward, while
pi(a | o) and pi(a | o, prediction) stop at a local optimum, right on 6 of the 9 histories, their softmax
saturated on a draw for the other 3 although the model predicts those correctly (measured in
tests/agents/multi/test_opponent_model.py).

`train` is on-policy REINFORCE on a game whose opponent does not react to the learner's actions (as
marl.patterned_rps), so each step's reward is the return of that decision (gamma 0); per batch of num_steps *
num_envs steps:
    loss = -mean((r - mean(r)) log pi(a | .)) - ent_coef mean(entropy) + model_coef CE(m(o), opponent action).
The env must give infos["opponent_action"] [N] each step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents.common import LogFn, TrainResult, emit, seeded


@dataclass(frozen=True)
class OpponentModelConfig:
    """Hyperparameters of the opponent-modelling learner."""

    total_timesteps: int = 40_000
    """environment steps summed over all envs"""
    num_steps: int = 4
    """vector-env steps per update"""
    learning_rate: float = 3e-3
    """Adam step size (policy and model)"""
    ent_coef: float = 0.01
    """entropy bonus coefficient"""
    model_coef: float = 1.0
    """weight of the opponent model's cross-entropy"""
    hidden: int = 32
    """hidden width of the policy and of the model (one hidden layer each)"""

    def __post_init__(self):
        name = type(self).__name__
        for field_name in ("total_timesteps", "num_steps", "hidden"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}: {field_name} must be >= 1, got {getattr(self, field_name)}")


class OpponentModelPolicy(nn.Module):
    """Policy with (use_model) or without a learned opponent model (module docstring)."""

    def __init__(
        self,
        obs_size: int,
        num_actions: int,
        num_opponent_actions: int,
        hidden=32,
        use_model=True,
        policy_sees_obs=False,
    ):
        super().__init__()
        self.obs_size, self.num_actions, self.num_opponent_actions = obs_size, num_actions, num_opponent_actions
        self.use_model, self.policy_sees_obs = bool(use_model), bool(policy_sees_obs) or not use_model
        self.model = nn.Sequential(nn.Linear(obs_size, hidden), nn.Tanh(), nn.Linear(hidden, num_opponent_actions))
        size = (obs_size if self.policy_sees_obs else 0) + (num_opponent_actions if self.use_model else 0)
        self.policy = nn.Sequential(nn.Linear(size, hidden), nn.Tanh(), nn.Linear(hidden, num_actions))

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """obs [B, obs_size] -> (policy logits [B, num_actions], model logits [B, num_opponent_actions])."""
        if obs.dim() != 2 or obs.shape[1] != self.obs_size:
            raise ValueError(f"OpponentModelPolicy: obs must be [B, {self.obs_size}], got {tuple(obs.shape)}")
        model_logits = self.model(obs)
        inputs = [obs] if self.policy_sees_obs else []
        if self.use_model:
            inputs.append(torch.softmax(model_logits, -1).detach())
        return self.policy(torch.cat(inputs, -1)), model_logits


def loss(
    net: OpponentModelPolicy,
    obs: Tensor,
    actions: Tensor,
    rewards: Tensor,
    opponent_actions: Tensor,
    cfg: OpponentModelConfig,
) -> tuple[Tensor, dict[str, float]]:
    """The loss of the module docstring on a batch: obs [B, obs_size], actions, opponent_actions [B] int64,
    rewards [B]."""
    logits, model_logits = net(obs)
    logp_all = torch.log_softmax(logits, -1)
    logp = logp_all.gather(-1, actions.unsqueeze(-1))[..., 0]
    pg = -((rewards - rewards.mean()) * logp).mean()
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
    model_loss = nn.functional.cross_entropy(model_logits, opponent_actions)
    total = pg - cfg.ent_coef * entropy + (cfg.model_coef * model_loss if net.use_model else 0.0)
    accuracy = (model_logits.argmax(-1) == opponent_actions).float().mean()
    return total, {
        "losses/policy": float(pg.detach()),
        "losses/entropy": float(entropy.detach()),
        "losses/model": float(model_loss.detach()),
        "charts/model_accuracy": float(accuracy),
    }


def check_env(fn: str, env, net: OpponentModelPolicy | None = None):
    for attr in ("num_envs", "obs_size", "single_action_space", "reset", "step"):
        if not hasattr(env, attr):
            raise TypeError(f"{fn}: env must be a batched env with one learner (no {attr!r}), got {type(env).__name__}")
    if getattr(env, "num_agents", 1) != 1:
        raise ValueError(f"{fn}: env must have 1 learning agent, got {env.num_agents}")
    n = getattr(env.single_action_space, "n", None)
    if n is None:
        raise TypeError(f"{fn}: env must have a Discrete action space, got {env.single_action_space}")
    if net is not None and (net.obs_size, net.num_actions) != (env.obs_size, int(n)):
        raise ValueError(
            f"{fn}: env must have obs_size {net.obs_size} and {net.num_actions} actions (the network's), "
            f"got {env.obs_size} and {int(n)}"
        )
    return env


def train(env, net: OpponentModelPolicy, cfg: OpponentModelConfig, *, seed: int, log: LogFn | None = None):
    """Trains `net` (constructed by the caller) on `env` (module docstring). Modules: "network". Metrics per
    update: the losses, "charts/model_accuracy" and "charts/mean_reward"."""
    fn = "opponent_model.train"
    if not isinstance(net, OpponentModelPolicy):
        raise TypeError(f"{fn}: net must be an OpponentModelPolicy, got {type(net).__name__}")
    env = check_env(fn, env, net)
    with seeded(seed, fn):
        opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        result = TrainResult(cfg, {"network": net})
        obs, _ = env.reset(seed=seed)
        start, global_step = time.perf_counter(), 0
        for _ in range(max(1, cfg.total_timesteps // (cfg.num_steps * env.num_envs))):
            rows: dict[str, list[Tensor]] = {"obs": [], "actions": [], "rewards": [], "opp": []}
            for _ in range(cfg.num_steps):
                obs_t = torch.as_tensor(obs, dtype=torch.float32).reshape(env.num_envs, -1)
                with torch.no_grad():
                    actions = torch.distributions.Categorical(logits=net(obs_t)[0]).sample()
                obs, rewards, _, _, infos = env.step(actions.numpy())
                global_step += env.num_envs
                rows["obs"].append(obs_t)
                rows["actions"].append(actions)
                rows["rewards"].append(torch.as_tensor(rewards, dtype=torch.float32).reshape(-1))
                rows["opp"].append(torch.as_tensor(infos["opponent_action"], dtype=torch.int64))
            batch = {k: torch.cat(v) for k, v in rows.items()}
            total, stats = loss(net, batch["obs"], batch["actions"], batch["rewards"], batch["opp"], cfg)
            opt.zero_grad()
            total.backward()
            opt.step()
            stats = {"global_step": float(global_step), **stats, "charts/mean_reward": float(batch["rewards"].mean())}
            result.metrics.append(stats)
            emit(log, global_step, stats, result)
        result.global_steps, result.wall_time_s = global_step, time.perf_counter() - start
    return result


def evaluate(net: OpponentModelPolicy, env, num_steps: int, *, seed: int) -> float:
    """Mean reward per step of the greedy policy over `num_steps` vector-env steps of `env` reset with `seed`."""
    check_env("opponent_model.evaluate", env, net)
    obs, _ = env.reset(seed=seed)
    total = 0.0
    for _ in range(num_steps):
        with torch.no_grad():
            logits, _ = net(torch.as_tensor(obs, dtype=torch.float32).reshape(env.num_envs, -1))
        obs, rewards, *_ = env.step(logits.argmax(-1).numpy())
        total += float(np.mean(rewards))
    return total / num_steps


__all__ = ["OpponentModelConfig", "OpponentModelPolicy", "check_env", "evaluate", "loss", "train"]
