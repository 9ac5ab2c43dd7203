"""MADDPG (Lowe et al. 2017, "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive Environments",
arXiv:1706.02275) on nextrl.marl's batched envs, continuous (1-D Box) and discrete actions.

Decentralized actors mu_i(o_i), one per agent, and centralized critics Q_i(x, a_1, ..., a_N), one per agent, on
x = every agent's observation concatenated and every agent's action; target copies of both, Polyak-averaged
after each update (tau). Both families are `AgentEnsemble`s: A independent MLPs evaluated in one batched matmul
per layer. Losses (one transition batch, agent i, y_i with target actions a'_j = mu'_j(o'_j): the target actor's
tanh output, or a straight-through Gumbel-softmax sample of its logits for discrete actions):
    critic: mean over the agents active before the step of (Q_i(x, a) - y_i)^2,
            y_i = r_i + gamma (1 - d_i) Q'_i(x', a'_1, ..., a'_N)   (d_i: agent i terminated at the step)
    actor:  -Q_i(x, a_1, .., mu_i(o_i), .., a_N) over the active agents (the other agents' actions from replay),
            plus actor_reg * mean(pre-activation**2) (Lowe et al.'s code: p_reg 1e-3).
Discrete actions (Discrete(n)) go through the Gumbel-softmax (Jang et al. 2017; Maddison et al. 2017) with the
straight-through estimator: the actor's action is one_hot(argmax(logits + g)), whose gradient is that of
softmax((logits + g) / temperature); the env gets the argmax, replay and critics the one-hot vector. Box actions
are tanh outputs in [-1, 1] (what replay and critics see) mapped affinely to the env's bounds; exploration adds
Gaussian noise of std exploration_noise, clipped to [-1, 1].

Replay is agents.replay.ReplayBuffer with its agent axis: obs rows [A, obs_size + 1] whose last column is the
agent's activity before the step (infos["active"]), actions [A, action_dim], per-agent rewards and terminations.
Truncations bootstrap from the final observation (NEXT_STEP autoreset). Rewards are each agent's own
(reward_reduction "none", the paper's setting) or the team's mean or sum, given to every agent. The env's
action masks are advisory in nextrl's envs (a masked action is legal); MADDPG ignores them.

Communicating actors (`CommActor`): the actor ensemble can be replaced by a communication network of
agents.multi (CommNet, TarMAC; not DIAL, whose training messages need channel noise), which maps every agent's
observation [..., A, obs_size] jointly to the logits [..., A, n]: agent i's action depends on the other agents'
observations through the messages, and the actor loss -Q_i flows back through the messages into the senders
(learned communication, trained by the centralized critics' gradient). Each agent reads only its observation and
the messages it receives, so execution needs the message exchange, unlike MADDPG's independent actors.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, seeded
from nextrl.agents.multi import mappo
from nextrl.agents.multi.common import actor_critic_update
from nextrl.agents.multi.mappo import agent_rewards
from nextrl.agents.offpolicy_nets import adam, make_target
from nextrl.agents.replay import ReplayBatch, ReplayBuffer
from nextrl.marl.core import MarlVectorEnv


@dataclass(frozen=True)
class MADDPGConfig:
    """Hyperparameters of MADDPG (Lowe et al.'s MPE values where they fit a small budget)."""

    total_timesteps: int = 50_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    buffer_size: int = 100_000
    """replay capacity in joint transitions"""
    actor_learning_rate: float = 1e-3
    """Adam step size of the actors"""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critics"""
    gamma: float = 0.95
    """discount factor in [0, 1] (the paper's 0.95)"""
    tau: float = 0.01
    """Polyak rate of the target actors and critics in (0, 1] (the paper's 0.01)"""
    batch_size: int = 256
    """joint transitions per gradient step"""
    learning_starts: int = 1_000
    """environment steps (summed over envs) before learning starts"""
    train_frequency: int = 1
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 1
    """gradient steps (critics, then actors, then targets) per round"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of every actor and critic (ReLU; the paper's 64, 64)"""
    gumbel_temperature: float = 1.0
    """temperature of the Gumbel-softmax relaxation (discrete actions), > 0"""
    exploration_noise: float = 0.1
    """std of the Gaussian noise on the tanh actions while collecting (Box actions)"""
    actor_reg: float = 1e-3
    """weight of the mean squared pre-activation (logits or pre-tanh) in the actor loss"""
    max_grad_norm: float = 0.5
    """gradient-norm clip of each update (the paper's code: 0.5)"""
    reward_reduction: str = "none"
    """the reward each critic learns: "none" (its agent's own), "mean" or "sum" of the agents' rewards (team)"""

    def __post_init__(self):
        name = type(self).__name__
        for field_name in ("total_timesteps", "buffer_size", "batch_size", "train_frequency"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}: {field_name} must be >= 1, got {getattr(self, field_name)}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"{name}: gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"{name}: tau must be in (0, 1], got {self.tau}")
        if self.gumbel_temperature <= 0.0:
            raise ValueError(f"{name}: gumbel_temperature must be > 0, got {self.gumbel_temperature}")
        if self.reward_reduction not in ("none", "mean", "sum"):
            raise ValueError(f'{name}: reward_reduction must be "none", "mean" or "sum", got {self.reward_reduction!r}')


class AgentEnsemble(nn.Module):
    """`num_agents` independent ReLU MLPs, one per agent, evaluated together: x [..., A, in_size] (agent a's
    input at position a) or, with `shared_input`, x [..., in_size] (the same input for every agent, as the
    centralized critics') -> [..., A, out_size]. Each layer is one batched matmul; nn.Linear's default
    initialization per agent."""

    def __init__(self, in_size: int, out_size: int, num_agents: int, hidden=(64, 64), shared_input: bool = False):
        super().__init__()
        if min(in_size, out_size, num_agents) < 1:
            raise ValueError(
                f"AgentEnsemble: in_size, out_size and num_agents must be >= 1, got {in_size}, {out_size}, {num_agents}"
            )
        self.in_size, self.out_size, self.num_agents = in_size, out_size, num_agents
        self.shared_input = shared_input
        dims = [in_size, *hidden, out_size]
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(num_agents, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_agents, 1, b).uniform_(-bound, bound)))

    def forward(self, x: Tensor) -> Tensor:
        a = self.num_agents
        if self.shared_input:
            if x.dim() < 1 or x.shape[-1] != self.in_size:
                raise ValueError(f"AgentEnsemble: input must end in {self.in_size} (in_size), got {tuple(x.shape)}")
            lead = x.shape[:-1]
            h = x.reshape(1, -1, self.in_size).expand(a, -1, -1)  # [A, B, in]
        else:
            if x.dim() < 2 or x.shape[-2:] != (a, self.in_size):
                raise ValueError(
                    f"AgentEnsemble: input must end in ({a}, {self.in_size}) (num_agents, in_size), "
                    f"got {tuple(x.shape)}"
                )
            lead = x.shape[:-2]
            h = x.reshape(-1, a, self.in_size).transpose(0, 1)  # [A, B, in]
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if k < last:
                h = torch.relu(h)
        return h.transpose(0, 1).reshape(*lead, a, self.out_size)


def gumbel_softmax(logits: Tensor, temperature: float = 1.0, noise: Tensor | None = None) -> Tensor:
    """Straight-through Gumbel-softmax sample [..., n]: forward one_hot(argmax(logits + g)), gradient of
    y = softmax((logits + g) / temperature); g ~ Gumbel(0, 1) (or `noise`, the g to use). Logits at -inf keep
    probability 0."""
    g = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-10, 1.0 - 1e-7))) if noise is None else noise
    y = torch.softmax((logits + g) / temperature, dim=-1)
    hard = nn.functional.one_hot(y.argmax(dim=-1), logits.shape[-1]).to(y.dtype)
    return hard - y.detach() + y


class CommActor(nn.Module):
    """A communication network of agents.multi (CommNet, TarMAC) as MADDPG's actors: obs [..., A, obs_size] ->
    logits [..., A, n], computed jointly (the agents exchange messages; module docstring). The network must
    need no channel noise (DIAL does)."""

    def __init__(self, net):
        super().__init__()
        from nextrl.agents.multi.comm_common import CommNetwork

        if not isinstance(net, CommNetwork):
            raise TypeError(f"CommActor: net must be a CommNetwork (CommNet, TarMAC), got {type(net).__name__}")
        if net.noise_size:
            raise ValueError(f"CommActor: net must need no channel noise, {type(net).__name__} needs {net.noise_size}")
        self.net = net
        self.obs_size, self.num_agents, self.out_size = net.obs_size, net.num_agents, net.num_actions

    def forward(self, obs: Tensor) -> Tensor:
        if obs.dim() < 2 or obs.shape[-2:] != (self.num_agents, self.obs_size):
            raise ValueError(
                f"CommActor: input must end in ({self.num_agents}, {self.obs_size}) (num_agents, obs_size), "
                f"got {tuple(obs.shape)}"
            )
        lead = obs.shape[:-2]
        logits, _ = self.net(obs.reshape(-1, self.num_agents, self.obs_size))
        return logits.reshape(*lead, self.num_agents, self.out_size)


class MADDPGNetworks(nn.Module):
    """Actors (AgentEnsemble on each agent's observation -> logits [n] or pre-tanh [d]; or `actor`, e.g. a
    CommActor, mapping [..., A, obs_size] to [..., A, action_dim]) and centralized critics (AgentEnsemble on
    [every observation, every action] -> Q_i), with their frozen targets."""

    def __init__(
        self,
        obs_size: int,
        action_space: spaces.Space,
        num_agents: int,
        hidden=(64, 64),
        actor: nn.Module | None = None,
    ):
        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.action_space = action_space
        self.obs_size, self.num_agents = obs_size, num_agents
        self.action_dim = int(action_space.n) if self.discrete else int(action_space.shape[0])
        if actor is None:
            actor = AgentEnsemble(obs_size, self.action_dim, num_agents, hidden)
        in_size = getattr(actor, "obs_size", getattr(actor, "in_size", None))
        sizes = (in_size, getattr(actor, "num_agents", None), getattr(actor, "out_size", None))
        if sizes != (obs_size, num_agents, self.action_dim):
            raise ValueError(
                f"MADDPGNetworks: actor must have obs_size, num_agents and out_size {obs_size}, {num_agents} and "
                f"{self.action_dim}, got {sizes}"
            )
        self.actor = actor
        self.critic = AgentEnsemble(num_agents * (obs_size + self.action_dim), 1, num_agents, hidden, shared_input=True)
        self.actor_target = make_target(self.actor, None, "MADDPGNetworks", "actor")
        self.critic_target = make_target(self.critic, None, "MADDPGNetworks", "critic")

    def actions(self, obs: Tensor, temperature: float = 1.0, target: bool = False) -> tuple[Tensor, Tensor]:
        """obs [..., A, obs_size] -> (actions [..., A, action_dim]: straight-through Gumbel-softmax one-hots or
        tanh outputs, the actor's pre-activation [..., A, action_dim])."""
        pre = (self.actor_target if target else self.actor)(obs)
        return (gumbel_softmax(pre, temperature) if self.discrete else torch.tanh(pre)), pre

    def q(self, obs: Tensor, actions: Tensor, target: bool = False) -> Tensor:
        """obs [B, A, obs_size], actions [B, A, action_dim] -> Q_i(x, a) [B, A]."""
        x = torch.cat([obs.flatten(-2), actions.flatten(-2)], dim=-1)
        return (self.critic_target if target else self.critic)(x)[..., 0]


def split(batch: ReplayBatch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Replay rows [B, A, obs_size + 1] -> (obs, active before the step, next obs, next active)."""
    return batch.obs[..., :-1], batch.obs[..., -1], batch.next_obs[..., :-1], batch.next_obs[..., -1]


def critic_loss(nets: MADDPGNetworks, batch: ReplayBatch, cfg: MADDPGConfig) -> tuple[Tensor, dict[str, float]]:
    """Mean over active (transition, agent) entries of (Q_i(x, a) - y_i)^2 (module docstring)."""
    obs, active, next_obs, _ = split(batch)
    with torch.no_grad():
        next_actions, _ = nets.actions(next_obs, cfg.gumbel_temperature, target=True)
        next_q = nets.q(next_obs, next_actions, target=True)
        y = batch.rewards + batch.discounts.unsqueeze(-1) * (1.0 - batch.terminations) * next_q
    q = nets.q(obs, batch.actions)
    loss = (active * (q - y) ** 2).sum() / active.sum().clamp(min=1.0)
    return loss, {
        "losses/critic": float(loss.detach()),
        "losses/q": float((active * q.detach()).sum() / active.sum().clamp(min=1)),
    }


def actor_loss(nets: MADDPGNetworks, batch: ReplayBatch, cfg: MADDPGConfig) -> tuple[Tensor, dict[str, float]]:
    """Mean over active (transition, agent i) entries of -Q_i(x, a with a_i = mu_i(o_i)), plus actor_reg times the
    mean squared pre-activation (module docstring). The critics get gradients from it too: train() steps only the
    actors with it, and zeroes the critics' gradients before their own update."""
    obs, active, _, _ = split(batch)
    own, pre = nets.actions(obs, cfg.gumbel_temperature)
    num_agents = nets.num_agents
    eye = torch.eye(num_agents, dtype=obs.dtype).view(num_agents, 1, num_agents, 1)  # variant i swaps agent i
    joint = eye * own.unsqueeze(0) + (1 - eye) * batch.actions.unsqueeze(0)  # [A variants, B, A, action_dim]
    q = nets.q(obs.unsqueeze(0).expand(num_agents, *obs.shape), joint)  # [A variants, B, A critics]
    q_own = torch.diagonal(q, dim1=0, dim2=2)  # [B, A]: critic i on variant i
    pg = -(active * q_own).sum() / active.sum().clamp(min=1.0)
    loss = pg + cfg.actor_reg * (pre**2).mean()
    return loss, {"losses/actor": float(pg.detach())}


def check_env(fn: str, env, nets: MADDPGNetworks | None = None) -> MarlVectorEnv:
    """A MarlVectorEnv with Discrete or 1-D Box actions, NEXT_STEP autoreset and, with `nets`, their agents,
    observation size and action space."""
    env = mappo.check_env(fn, env)  # the action space and autoreset checks MAPPO makes
    space = env.single_action_space
    if nets is None:
        return env
    if nets.num_agents != env.num_agents:
        raise ValueError(f"{fn}: env must have {nets.num_agents} agents (the networks'), got {env.num_agents}")
    if nets.obs_size != env.obs_size:
        raise ValueError(f"{fn}: env must have obs_size {nets.obs_size} (the networks'), got {env.obs_size}")
    if nets.discrete != isinstance(space, spaces.Discrete) or (
        not nets.discrete and tuple(nets.action_space.shape) != tuple(space.shape)
    ):
        raise TypeError(f"{fn}: env's action space must be the networks' {nets.action_space}, got {space}")
    return env


def to_env(actions: Tensor, action_space: spaces.Space) -> np.ndarray:
    """Actor actions [N, A, action_dim] (one-hots, or tanh outputs in [-1, 1]) -> env actions [N, A] int64 or
    [N, A, d] in the Box's bounds."""
    if isinstance(action_space, spaces.Discrete):
        return actions.argmax(dim=-1).numpy().astype(np.int64)
    low, high = action_space.low, action_space.high
    return (low + (actions.numpy() + 1.0) * 0.5 * (high - low)).astype(np.float32)


def act_fn(nets: MADDPGNetworks, env: MarlVectorEnv | None = None):
    """act(obs [N, A, obs_size], action_mask) -> env actions of the deterministic policy (argmax of the logits,
    or the tanh mean), for common.evaluate_team. With `env`, it is checked against the networks."""
    if env is not None:
        check_env("maddpg.act_fn", env, nets)

    def act(obs: np.ndarray, action_mask: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            pre = nets.actor(torch.as_tensor(np.asarray(obs, dtype=np.float32)))
            if nets.discrete:
                return pre.argmax(dim=-1).numpy().astype(np.int64)
            return to_env(torch.tanh(pre), nets.action_space)

    return act


def train(env, cfg: MADDPGConfig, *, seed: int, log: LogFn | None = None, nets: MADDPGNetworks | None = None):
    """Trains MADDPG on a nextrl.marl.MarlVectorEnv (NEXT_STEP autoreset). Modules: "networks" (MADDPGNetworks,
    actors, critics and targets). `nets` continues training given networks (checked against the env).
    Episodes in the result are team episodes: per step the agents' rewards reduced by "mean" ("sum" when
    cfg.reward_reduction is "sum"), summed over the env's episode."""
    fn = "maddpg.train"
    env = check_env(fn, env)
    num_envs, num_agents, space = env.num_envs, env.num_agents, env.single_action_space
    rng = np.random.default_rng(seed)
    with seeded(seed, fn):
        if nets is None:
            nets = MADDPGNetworks(env.obs_size, space, num_agents, cfg.hidden)
        elif not isinstance(nets, MADDPGNetworks):
            raise TypeError(f"{fn}: nets must be MADDPGNetworks, got {type(nets).__name__}")
        else:
            check_env(fn, env, nets)
        actor_opt = adam(nets.actor.parameters(), cfg.actor_learning_rate)
        critic_opt = adam(nets.critic.parameters(), cfg.critic_learning_rate)
        buffer = ReplayBuffer(
            cfg.buffer_size,
            (env.obs_size + 1,),
            (nets.action_dim,),
            num_envs=num_envs,
            gamma=cfg.gamma,
            num_agents=num_agents,
        )
        result = TrainResult(cfg, {"networks": nets})
        times = {"env": 0.0, "inference": 0.0, "update": 0.0}
        start = time.perf_counter()
        tracker = EpisodeTracker(num_envs)
        obs, infos = env.reset(seed=seed)
        global_step = 0
        for it in range(cfg.total_timesteps // num_envs):
            t0 = time.perf_counter()
            obs_t = torch.as_tensor(obs, dtype=torch.float32)
            with torch.no_grad():
                if global_step < cfg.learning_starts:  # uniform random actions first
                    pre = torch.zeros(num_envs, num_agents, nets.action_dim)
                    a = gumbel_softmax(pre) if nets.discrete else torch.rand(pre.shape) * 2 - 1
                elif nets.discrete:
                    a, _ = nets.actions(obs_t, cfg.gumbel_temperature)
                else:
                    a = nets.actions(obs_t)[0] + cfg.exploration_noise * torch.randn(
                        num_envs, num_agents, nets.action_dim
                    )
                    a = a.clamp(-1.0, 1.0)
            t1 = time.perf_counter()
            next_obs, rewards, terms, truncs, next_infos = env.step(to_env(a, space))
            t2 = time.perf_counter()
            global_step += num_envs
            ended = ~next_infos["active"].any(axis=1)
            team_term = ended & terms.any(axis=1)
            team_r = rewards.sum(axis=1) if cfg.reward_reduction == "sum" else rewards.mean(axis=1)
            valid = tracker.step(team_r, team_term, ended & ~team_term, global_step)
            rows = np.concatenate([obs, infos["active"][..., None]], axis=-1, dtype=np.float32)
            next_rows = np.concatenate([next_obs, next_infos["active"][..., None]], axis=-1, dtype=np.float32)
            r = agent_rewards(rewards, cfg.reward_reduction)
            buffer.add(rows, a.numpy(), r, next_rows, terms, truncs, valid)
            obs, infos = next_obs, next_infos
            times["inference"] += t1 - t0
            times["env"] += t2 - t1
            if global_step < cfg.learning_starts or len(buffer) == 0 or it % cfg.train_frequency:
                continue
            t3 = time.perf_counter()
            for _ in range(cfg.gradient_steps):
                batch = buffer.sample(cfg.batch_size, rng)
                stats = actor_critic_update(
                    lambda: critic_loss(nets, batch, cfg),
                    lambda: actor_loss(nets, batch, cfg),
                    nets.critic,
                    nets.actor,
                    nets.critic_target,
                    nets.actor_target,
                    critic_opt,
                    actor_opt,
                    critic_max_norm=cfg.max_grad_norm,
                    actor_max_norm=cfg.max_grad_norm,
                    tau=cfg.tau,
                )
            times["update"] += time.perf_counter() - t3
            if cfg.gradient_steps > 0 and it % 100 == 0:
                stats = {"global_step": float(global_step), **stats}
                result.metrics.append(stats)
                emit(log, global_step, stats, result)
    return tracker.fill(result, global_step, time.perf_counter() - start, times)


__all__ = [
    "AgentEnsemble",
    "CommActor",
    "MADDPGConfig",
    "MADDPGNetworks",
    "act_fn",
    "actor_loss",
    "check_env",
    "critic_loss",
    "gumbel_softmax",
    "split",
    "to_env",
    "train",
]
