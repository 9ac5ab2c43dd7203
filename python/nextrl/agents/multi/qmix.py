"""QMIX (Rashid et al. 2018, arXiv:1803.11485): Q_tot(s, u) = f_s(Q_1(o_1, u_1), ..., Q_A(o_A, u_A)), a
mixing network whose weights come from hypernetworks of the global state s and are made non-negative by an
absolute value, so that dQ_tot / dQ_a >= 0 for every agent: each agent's argmax is then the argmax of Q_tot
(decentralized greedy execution stays consistent). The biases are state-conditioned too (the final one through
a hidden ReLU layer), and the TD target is computed through a *target* mixer on the next state:

    y = r + gamma * (1 - terminal) * f^-_{s'}(Q^-_1(o'_1, u'_1), ..., Q^-_A(o'_A, u'_A)),

with u'_a the greedy allowed action of the target agent network (or of the online one, double_q). One agent
network shared by all agents (one-hot agent ids), episode replay, action masks (agents.multi.common). On the
QMIX two-step game its greedy joint value is 8, where VDN's is 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.multi import common
from nextrl.agents.multi.common import AgentQNetwork, MultiQConfig, Transitions


@dataclass(frozen=True)
class QMIXConfig(MultiQConfig):
    """QMIX's hyperparameters: those of MultiQConfig plus the mixer's."""

    mixing_embed_dim: int = 32
    """width of the mixing network's hidden layer (ELU)"""
    hypernet_hidden: int = 64
    """hidden width of the weight hypernetworks (ReLU); 0 makes them single linear layers"""

    def __post_init__(self):
        super().__post_init__()
        if self.mixing_embed_dim < 1 or self.hypernet_hidden < 0:
            raise ValueError(
                "QMIXConfig: mixing_embed_dim must be >= 1 and hypernet_hidden >= 0, "
                f"got {self.mixing_embed_dim} and {self.hypernet_hidden}"
            )


def _hyper(state_size: int, out: int, hidden: int) -> nn.Module:
    if hidden == 0:
        return nn.Linear(state_size, out)
    return nn.Sequential(nn.Linear(state_size, hidden), nn.ReLU(), nn.Linear(hidden, out))


class QMixer(nn.Module):
    """The monotonic mixing network: (agent_q [..., A], state [..., state_size]) -> Q_tot [...].

    h = elu(q W1(s) + b1(s)),  Q_tot = h W2(s) + b2(s),  W1 = |hyper_w1(s)| [A, E],  W2 = |hyper_w2(s)| [E, 1],
    b1 = hyper_b1(s) [E] (linear),  b2 = hyper_b2(s) (linear, ReLU, linear)."""

    def __init__(self, num_agents: int, state_size: int, embed_dim: int = 32, hypernet_hidden: int = 64):
        super().__init__()
        self.num_agents, self.state_size, self.embed_dim = num_agents, state_size, embed_dim
        self.hyper_w1 = _hyper(state_size, num_agents * embed_dim, hypernet_hidden)
        self.hyper_b1 = nn.Linear(state_size, embed_dim)
        self.hyper_w2 = _hyper(state_size, embed_dim, hypernet_hidden)
        self.hyper_b2 = nn.Sequential(nn.Linear(state_size, embed_dim), nn.ReLU(), nn.Linear(embed_dim, 1))

    def forward(self, agent_q: Tensor, state: Tensor) -> Tensor:
        if agent_q.shape[-1] != self.num_agents or state.shape[-1] != self.state_size:
            raise ValueError(
                f"QMixer: agent_q must end in {self.num_agents} (agents) and state in {self.state_size}, "
                f"got {tuple(agent_q.shape)} and {tuple(state.shape)}"
            )
        lead = agent_q.shape[:-1]
        w1 = self.hyper_w1(state).abs().view(*lead, self.num_agents, self.embed_dim)
        hidden = nn.functional.elu(torch.einsum("...a,...ae->...e", agent_q, w1) + self.hyper_b1(state))
        w2 = self.hyper_w2(state).abs()
        return (hidden * w2).sum(dim=-1) + self.hyper_b2(state).squeeze(-1)


def qmix_targets(
    team_rewards: Tensor,
    team_terminal: Tensor,
    next_q: Tensor,
    next_state: Tensor,
    target_mixer: nn.Module,
    gamma: float,
) -> Tensor:
    """Joint TD targets [B]: r + gamma * (1 - terminal) * target_mixer(next_q [B, A], next_state [B, S]),
    without gradient."""
    with torch.no_grad():
        return team_rewards + gamma * (1.0 - team_terminal) * target_mixer(next_q, next_state)


def qmix_loss(chosen_q: Tensor, state: Tensor, mixer: nn.Module, targets: Tensor, weights: Tensor) -> Tensor:
    """Weighted mean squared error of mixer(chosen_q [B, A], state [B, S]) against targets [B] (weights [B])."""
    return common.weighted_mse(targets.detach() - mixer(chosen_q, state), weights)


def loss(
    batch: Transitions, agent_network, target_network, mixer, target_mixer, cfg: QMIXConfig
) -> tuple[Tensor, dict[str, float]]:
    chosen, next_q = common.chosen_and_next_q(agent_network, target_network, batch, cfg.double_q)
    r = common.team_rewards(batch.rewards, cfg.reward_reduction)
    targets = qmix_targets(r, batch.team_terminal, next_q, batch.next_state, target_mixer, cfg.gamma)
    value = qmix_loss(chosen, batch.state, mixer, targets, batch.weights)
    return value, {"losses/td_loss": value.item(), "losses/target_q_tot": targets.mean().item()}


def train(
    env,
    cfg: QMIXConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    agent_network: AgentQNetwork | None = None,
    mixer: QMixer | None = None,
) -> TrainResult:
    """Trains QMIX on a nextrl.marl.MarlVectorEnv with Discrete actions, mixing on its global state (infos
    "state"). Modules: "agent_network" (shared by all agents), "mixer", "target_network", "target_mixer".
    `agent_network` / `mixer` continue training given networks (their agent count, sizes and actions must be
    the env's; ValueError otherwise)."""
    fn = "qmix.train"
    env = common.check_marl_env(fn, env)
    state_size = int(env.state_space.shape[0])
    with seeded(seed, fn):
        agent_network = common.build_agent_network(fn, env, cfg, agent_network)
        if mixer is None:
            mixer = QMixer(env.num_agents, state_size, cfg.mixing_embed_dim, cfg.hypernet_hidden)
        elif not isinstance(mixer, QMixer):
            raise TypeError(f"{fn}: mixer must be a QMixer, got {type(mixer).__name__}")
        elif (mixer.num_agents, mixer.state_size) != (env.num_agents, state_size):
            raise ValueError(
                f"{fn}: mixer must mix {env.num_agents} agents on a state of size {state_size} (the env's), "
                f"got {mixer.num_agents} agents and state size {mixer.state_size}"
            )
        target_network, target_mixer = common.make_target(agent_network), common.make_target(mixer)
    modules = {
        "agent_network": agent_network,
        "mixer": mixer,
        "target_network": target_network,
        "target_mixer": target_mixer,
    }
    result = TrainResult(config=cfg, modules=modules)
    return common.run(
        env,
        cfg,
        result,
        agent_network,
        [(agent_network, target_network), (mixer, target_mixer)],
        lambda batch: loss(batch, agent_network, target_network, mixer, target_mixer, cfg),
        seed=seed,
        log=log,
    )


def joint_q(agent_network: AgentQNetwork, mixer: QMixer, obs: Tensor, state: Tensor, actions: Tensor) -> Tensor:
    """Q_tot [B] of joint actions [B, A] at obs [B, A, obs_size] and state [B, state_size]."""
    return mixer(agent_network(obs).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), state)


__all__ = ["QMIXConfig", "QMixer", "joint_q", "loss", "qmix_loss", "qmix_targets", "train"]
