"""Value decomposition networks (Sunehag et al. 2018): Q_tot(s, u) = sum_a Q_a(o_a, u_a), trained end to end
on the team reward with one TD target for the joint action, and acted on in a decentralized way (each agent's
argmax maximizes the sum). One agent network shared by all agents (one-hot agent ids), episode replay, target
network, action masks (agents.multi.common). On the QMIX two-step game its greedy joint value is 7: an
additive Q cannot represent the 2B payoffs [[0, 1], [1, 8]] well enough to prefer them (Rashid et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.multi import common
from nextrl.agents.multi.common import AgentQNetwork, MultiQConfig, Transitions


@dataclass(frozen=True)
class VDNConfig(MultiQConfig):
    """VDN's hyperparameters: those of MultiQConfig."""


def vdn_mix(agent_q: Tensor) -> Tensor:
    """Q_tot [B] = sum over agents of agent_q [B, A]."""
    return agent_q.sum(dim=-1)


def vdn_targets(team_rewards: Tensor, team_terminal: Tensor, next_q: Tensor, gamma: float) -> Tensor:
    """Joint TD targets [B]: r + gamma * (1 - terminal) * sum_a Q_target,a(o'_a, a'_a); next_q [B, A]."""
    return team_rewards + gamma * (1.0 - team_terminal) * vdn_mix(next_q)


def vdn_loss(chosen_q: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
    """Weighted mean squared error of sum_a chosen_q [B, A] against targets [B] (weights [B])."""
    return common.weighted_mse(targets.detach() - vdn_mix(chosen_q), weights)


def loss(batch: Transitions, agent_network, target_network, cfg: VDNConfig) -> tuple[Tensor, dict[str, float]]:
    chosen, next_q = common.chosen_and_next_q(agent_network, target_network, batch, cfg.double_q)
    r = common.team_rewards(batch.rewards, cfg.reward_reduction)
    targets = vdn_targets(r, batch.team_terminal, next_q, cfg.gamma)
    value = vdn_loss(chosen, targets, batch.weights)
    return value, {"losses/td_loss": value.item(), "losses/q_tot": vdn_mix(chosen).detach().mean().item()}


def train(
    env,
    cfg: VDNConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    agent_network: AgentQNetwork | None = None,
) -> TrainResult:
    """Trains VDN on a nextrl.marl.MarlVectorEnv with Discrete actions. Modules: "agent_network" (shared by all
    agents) and "target_network". `agent_network` continues training a given network (its agent count,
    observation size and actions must be the env's)."""
    fn = "vdn.train"
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


def joint_q(agent_network: AgentQNetwork, obs: Tensor, actions: Tensor) -> Tensor:
    """Q_tot [B] of joint actions [B, A] at obs [B, A, obs_size]."""
    return vdn_mix(agent_network(obs).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1))


__all__ = ["VDNConfig", "joint_q", "loss", "train", "vdn_loss", "vdn_mix", "vdn_targets"]
