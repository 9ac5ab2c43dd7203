"""Independent Q-learning (Tan 1993; Tampuu et al. 2017): every agent learns its own Q(o_a, a) from its own
reward, treating the others as part of the env, with one network shared by all agents (one-hot agent ids)
and a target network. The baseline that VDN and QMIX improve on; on the QMIX two-step game it cannot
coordinate on the joint action worth 8.

Config, targets and loss here; acting, episode replay and the loop are agents.multi.common.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.multi import common
from nextrl.agents.multi.common import AgentQNetwork, MultiQConfig, Transitions


@dataclass(frozen=True)
class IQLConfig(MultiQConfig):
    """IQL's hyperparameters: those of MultiQConfig (each agent learns from its own reward; reward_reduction
    only sets the team return that is reported) plus hysteresis."""

    negative_td_weight: float = 1.0
    """weight of the squared TD errors whose target lies below the estimate, relative to those above: 1 is
    plain IQL; beta < 1 is hysteretic Q-learning (Matignon et al. 2007: learning rate beta * alpha for
    decreases), optimistic about teammates' exploratory actions, which escapes relative overgeneralization
    on the climbing and penalty games"""

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 < self.negative_td_weight <= 1.0:
            raise ValueError(f"IQLConfig: negative_td_weight must be in (0, 1], got {self.negative_td_weight}")


def iql_targets(rewards: Tensor, terminations: Tensor, next_q: Tensor, gamma: float) -> Tensor:
    """Per-agent TD targets [B, A]: r_a + gamma * (1 - terminated_a) * Q_target,a(o'_a, a'_a).
    rewards, terminations (0/1) and next_q [B, A]."""
    return rewards + gamma * (1.0 - terminations) * next_q


def iql_loss(chosen_q: Tensor, targets: Tensor, weights: Tensor, negative_td_weight: float = 1.0) -> Tensor:
    """Mean squared TD error over the (transition, agent) pairs with weight > 0: chosen_q, targets and
    weights [B, A] (weights: real transition x agent active); errors with target < estimate count
    `negative_td_weight` times (hysteresis), in the sum and not in the normalization."""
    td = targets.detach() - chosen_q
    if negative_td_weight != 1.0:
        scale = torch.where(td < 0, negative_td_weight, 1.0).detach()
        return (weights * scale * td.pow(2)).sum() / weights.sum().clamp(min=1.0)
    return common.weighted_mse(td, weights)


def loss(batch: Transitions, agent_network, target_network, cfg: IQLConfig) -> tuple[Tensor, dict[str, float]]:
    chosen, next_q = common.chosen_and_next_q(agent_network, target_network, batch, cfg.double_q)
    targets = iql_targets(batch.rewards, batch.terminations, next_q, cfg.gamma)
    value = iql_loss(chosen, targets, batch.weights[..., None] * batch.active, cfg.negative_td_weight)
    return value, {"losses/td_loss": value.item(), "losses/q_values": chosen.detach().mean().item()}


def train(
    env,
    cfg: IQLConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    agent_network: AgentQNetwork | None = None,
) -> TrainResult:
    """Trains IQL on a nextrl.marl.MarlVectorEnv with Discrete actions. Modules: "agent_network" (shared by all
    agents) and "target_network". `agent_network` continues training a given network (its agent count,
    observation size and actions must be the env's)."""
    fn = "iql.train"
    env = common.check_marl_env(fn, env)
    with seeded(seed, fn):
        agent_network = common.build_agent_network(fn, env, cfg, agent_network)
        target_network = common.make_target(agent_network)
    result = TrainResult(config=cfg, modules={"agent_network": agent_network, "target_network": target_network})
    return common.run(
        env,
        cfg,
        result,
        agent_network,
        [(agent_network, target_network)],
        lambda batch: loss(batch, agent_network, target_network, cfg),
        seed=seed,
        log=log,
    )


__all__ = ["IQLConfig", "iql_loss", "iql_targets", "loss", "train"]
