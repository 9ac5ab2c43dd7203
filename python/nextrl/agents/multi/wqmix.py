"""Optimistically weighted QMIX, OW-QMIX (Rashid et al. 2020, "Weighted QMIX: Expanding Monotonic Value Function
Factorisation for Deep Multi-Agent Reinforcement Learning", arXiv:2006.10800).

QMIX projects the joint action-value onto monotonic mixtures with equal weight on every joint action, so an
optimal joint action surrounded by miscoordination penalties can lose its argmax. Weighted QMIX learns two
estimators from one target:
    Q_tot(s, u) = QMixer(Q_a(o_a, u_a), s)           (monotonic, as QMIX; decentralized greedy execution)
    Q*(s, u)    = central_mixer(Q^c_a(o_a, u_a), s)   (unrestricted: a ReLU MLP on [agent values, state], the
                                                      central agent network Q^c a separate AgentQNetwork)
    y = r + gamma (1 - terminal) Q*^-(s', u'),  u'_a = argmax over allowed actions of Q_a(o'_a, .)
        (the greedy joint action of Q_tot, read from the online agent network; Q*^- the target central nets),
    loss = mean w(s, u) (Q_tot(s, u) - y)^2 + mean (Q*(s, u) - y)^2,
    w(s, u) = 1 where Q_tot(s, u) < y (the optimistic weighting: underestimates count fully), else `alpha`.
The weighted projection keeps the argmax of the joint actions whose value Q_tot underestimates. Agents are
feedforward (AgentQNetwork, shared with agent ids); replay, exploration and target updates as QMIX
(agents.multi.common.run).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.multi import common
from nextrl.agents.multi.common import AgentQNetwork, Transitions
from nextrl.agents.multi.qmix import QMIXConfig, QMixer
from nextrl.agents.networks import mlp


@dataclass(frozen=True)
class WQMIXConfig(QMIXConfig):
    """OW-QMIX's hyperparameters: QMIX's plus the weighting and the unrestricted estimator's."""

    alpha: float = 0.1
    """weight of the joint actions Q_tot overestimates (Q_tot >= y), in (0, 1]; 1 is QMIX's equal weighting"""
    central_hidden: tuple[int, ...] = (128, 128)
    """hidden widths of the central (unrestricted) mixer, a ReLU MLP on [agent values, state]"""

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"WQMIXConfig: alpha must be in (0, 1], got {self.alpha}")
        if self.recurrent:
            raise ValueError("WQMIXConfig: recurrent must be False (OW-QMIX here has feedforward agents)")


class CentralMixer(nn.Module):
    """The unrestricted joint value: (agent_q [..., A], state [..., state_size]) -> Q* [...], a ReLU MLP on their
    concatenation (no sign constraint: any joint action-value is representable)."""

    def __init__(self, num_agents: int, state_size: int, hidden=(128, 128)):
        super().__init__()
        self.num_agents, self.state_size = num_agents, state_size
        self.net = mlp(num_agents + state_size, 1, tuple(hidden), activation=nn.ReLU)

    def forward(self, agent_q: Tensor, state: Tensor) -> Tensor:
        if agent_q.shape[-1] != self.num_agents or state.shape[-1] != self.state_size:
            raise ValueError(
                f"CentralMixer: agent_q must end in {self.num_agents} (agents) and state in {self.state_size}, "
                f"got {tuple(agent_q.shape)} and {tuple(state.shape)}"
            )
        return self.net(torch.cat([agent_q, state], dim=-1)).squeeze(-1)


def ow_weights(q_tot: Tensor, targets: Tensor, alpha: float) -> Tensor:
    """The optimistic weighting [B]: 1 where q_tot < targets, alpha elsewhere (no gradient)."""
    return torch.where(q_tot.detach() < targets.detach(), 1.0, alpha)


def wqmix_targets(
    batch: Transitions, agent_network, central_target_network, central_target_mixer, cfg: WQMIXConfig
) -> Tensor:
    """y [B] = r + gamma (1 - terminal) Q*^-(s', u') with u' the online agents' greedy allowed actions (module
    docstring); agents not alive after the step contribute 0 to Q*^-'s input."""
    with torch.no_grad():
        best = common.greedy_actions(agent_network(batch.next_obs), batch.next_mask)
        next_central = central_target_network(batch.next_obs).gather(-1, best.unsqueeze(-1)).squeeze(-1)
        next_q = central_target_mixer(next_central * batch.next_alive, batch.next_state)
        r = common.team_rewards(batch.rewards, cfg.reward_reduction)
        return r + cfg.gamma * (1.0 - batch.team_terminal) * next_q


def loss(batch: Transitions, nets: dict[str, nn.Module], cfg: WQMIXConfig) -> tuple[Tensor, dict[str, float]]:
    """The OW-QMIX loss of the module docstring on a batch of transitions; `nets` are train()'s modules."""
    y = wqmix_targets(batch, nets["agent_network"], nets["central_target_network"], nets["central_target_mixer"], cfg)
    take = lambda q: q.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1) * batch.active
    q_tot = nets["mixer"](take(nets["agent_network"](batch.obs)), batch.state)
    q_star = nets["central_mixer"](take(nets["central_network"](batch.obs)), batch.state)
    w = ow_weights(q_tot, y, cfg.alpha)
    # normalized by the count of real transitions, not by the weights' sum (pymarl's WQMIX learner)
    qmix_part = (batch.weights * w * (y - q_tot) ** 2).sum() / batch.weights.sum().clamp(min=1.0)
    central_part = common.weighted_mse(y - q_star, batch.weights)
    value = qmix_part + central_part
    return value, {
        "losses/td_loss": qmix_part.item(),
        "losses/central_td_loss": central_part.item(),
        "losses/target_q_tot": y.mean().item(),
        "losses/weight_one_fraction": (w == 1.0).float().mean().item(),
    }


def train(env, cfg: WQMIXConfig, *, seed: int, log: LogFn | None = None) -> TrainResult:
    """Trains OW-QMIX on a nextrl.marl.MarlVectorEnv with Discrete actions (global state from infos "state").
    Modules: "agent_network", "mixer" (QMIX's, greedy execution uses the agent network), "central_network",
    "central_mixer" and the target copies "target_network", "target_mixer", "central_target_network",
    "central_target_mixer"."""
    fn = "wqmix.train"
    if not isinstance(cfg, WQMIXConfig):
        raise TypeError(f"{fn}: cfg must be a WQMIXConfig, got {type(cfg).__name__}")
    env = common.check_marl_env(fn, env)
    state_size, num_agents = int(env.state_space.shape[0]), env.num_agents
    num_actions = int(env.single_action_space.n)
    with seeded(seed, fn):
        agent_network = common.build_agent_network(fn, env, cfg, None)
        mixer = QMixer(num_agents, state_size, cfg.mixing_embed_dim, cfg.hypernet_hidden)
        central_network = AgentQNetwork(env.obs_size, num_actions, num_agents, cfg.hidden, cfg.agent_ids)
        central_mixer = CentralMixer(num_agents, state_size, cfg.central_hidden)
        nets = {
            "agent_network": agent_network,
            "mixer": mixer,
            "central_network": central_network,
            "central_mixer": central_mixer,
        }
        pairs = [(net, common.make_target(net)) for net in nets.values()]
    nets.update(
        {
            "target_network": pairs[0][1],
            "target_mixer": pairs[1][1],
            "central_target_network": pairs[2][1],
            "central_target_mixer": pairs[3][1],
        }
    )
    result = TrainResult(config=cfg, modules=nets)
    return common.run(env, cfg, result, agent_network, pairs, lambda b: loss(b, nets, cfg), seed=seed, log=log)


__all__ = ["CentralMixer", "WQMIXConfig", "loss", "ow_weights", "train", "wqmix_targets"]
