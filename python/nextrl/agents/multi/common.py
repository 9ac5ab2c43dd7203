"""What the value-decomposition learners (IQL, VDN, QMIX) share: the config, the agent network shared by
all agents (one-hot agent ids appended to each observation), masked greedy / epsilon-greedy action selection,
episode replay of joint steps and the training loop.

Envs are nextrl.marl.MarlVectorEnv with a Discrete action space, arrays [num_envs, num_agents, ...]. Each
stored joint step packs, per agent, [obs (obs_size), global state (state_size), action mask (num_actions, 1 =
allowed), active (1)] into the observation row of agents.replay.SequenceReplayBuffer (agent axis, per-env
streams in time order), so a window of 2 consecutive rows is one transition with its next state, next masks
and next activity; longer windows serve recurrent agents. Action masks are the env's infos["action_mask"]:
exploration draws uniformly among allowed actions, greedy choices and the bootstrap max range over allowed
actions only (a row with no allowed action counts as all allowed). An agent that finished before its env
reset (infos["active"] False) contributes nothing: its Q-value is zeroed in the mix and in the targets.

The team reward of VDN and QMIX is `reward_reduction` ("mean" or "sum") of the agents' rewards; the team
episode ends when every agent has finished, and is terminal (no bootstrap) when some agent terminated at
that step, else truncated (bootstrap from the final observation, NEXT_STEP autoreset).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from nextrl.agents import offpolicy_nets
from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, episode_quotas
from nextrl.agents.networks import GRUCore, mlp
from nextrl.agents.offpolicy_nets import adam, soft_update
from nextrl.agents.replay import SequenceReplayBuffer
from nextrl.marl.core import MarlVectorEnv


@dataclass(frozen=True)
class MultiQConfig:
    """Hyperparameters shared by IQL, VDN and QMIX (each algorithm's config adds its own)."""

    total_timesteps: int = 20_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    learning_rate: float = 5e-4
    """Adam step size for the agent network (and mixer)"""
    buffer_size: int = 50_000
    """replay capacity in joint steps, summed over envs"""
    gamma: float = 0.99
    """discount factor in [0, 1]"""
    batch_size: int = 32
    """joint transitions per gradient step"""
    learning_starts: int = 500
    """environment steps (summed over envs) before learning starts"""
    train_frequency: int = 1
    """vector-env steps between two rounds of gradient steps"""
    gradient_steps: int = 1
    """gradient steps per round"""
    target_network_frequency: int = 200
    """gradient steps between target-network updates (agent network and mixer)"""
    tau: float = 1.0
    """target update rate: 1 copies the online networks, < 1 is Polyak averaging"""
    start_e: float = 1.0
    """initial exploration epsilon (per agent, uniform over allowed actions)"""
    end_e: float = 0.05
    """final exploration epsilon"""
    exploration_fraction: float = 0.5
    """fraction of total_timesteps over which epsilon decays linearly from start_e to end_e"""
    double_q: bool = False
    """pick each agent's next action with the online network and evaluate it with the target network"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of the shared agent Q-network (ReLU)"""
    agent_ids: bool = True
    """append a one-hot agent id to every observation (parameter sharing with distinguishable agents)"""
    reward_reduction: str = "mean"
    """team reward from the agents' rewards: "mean" (a shared team reward stays itself) or "sum" (VDN, QMIX)"""
    max_grad_norm: float = 10.0
    """gradient clipping norm (inf: no clipping)"""
    recurrent: bool = False
    """GRU agents (RecurrentAgentQNetwork, hidden size hidden[0]) trained on windows of seq_len stored steps,
    unrolled from a zero state and reset at every episode start, instead of feedforward agents on transitions"""
    seq_len: int = 16
    """steps per training window of recurrent agents (>= burn_in + 2; a window holds seq_len - 1 transitions)"""
    burn_in: int = 0
    """first transitions of each window that only warm up the GRU state (no loss)"""

    def __post_init__(self):
        name = type(self).__name__
        if self.reward_reduction not in ("mean", "sum"):
            raise ValueError(f'{name}: reward_reduction must be "mean" or "sum", got {self.reward_reduction!r}')
        for field_name in ("total_timesteps", "batch_size", "train_frequency", "target_network_frequency"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}: {field_name} must be >= 1, got {getattr(self, field_name)}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"{name}: gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"{name}: tau must be in (0, 1], got {self.tau}")
        if self.burn_in < 0 or self.seq_len < self.burn_in + 2:
            raise ValueError(
                f"{name}: burn_in must be >= 0 and seq_len >= burn_in + 2, got {self.burn_in} and {self.seq_len}"
            )


class AgentQNetwork(nn.Module):
    """One Q-network shared by `num_agents` agents: [..., num_agents, obs_size] -> [..., num_agents, num_actions],
    each agent's observation extended with its one-hot id when `agent_ids`."""

    def __init__(self, obs_size: int, num_actions: int, num_agents: int, hidden=(64, 64), agent_ids: bool = True):
        super().__init__()
        self.obs_size, self.num_actions, self.num_agents = obs_size, num_actions, num_agents
        self.agent_ids = agent_ids
        self.net = mlp(obs_size + (num_agents if agent_ids else 0), num_actions, tuple(hidden), activation=nn.ReLU)

    def forward(self, obs: Tensor) -> Tensor:
        if obs.shape[-2:] != (self.num_agents, self.obs_size):
            raise ValueError(
                f"AgentQNetwork: obs must end in ({self.num_agents}, {self.obs_size}) "
                f"(num_agents, obs_size), got {tuple(obs.shape)}"
            )
        if self.agent_ids:
            ids = torch.eye(self.num_agents, dtype=obs.dtype, device=obs.device).expand(*obs.shape[:-1], -1)
            obs = torch.cat([obs, ids], dim=-1)
        return self.net(obs)


class RecurrentAgentQNetwork(nn.Module):
    """GRU agents sharing one network (DRQN-style, as QMIX's agents): per agent, [obs, one-hot id] -> linear,
    ReLU -> GRU cell (hidden_size) -> Q-values [num_actions]. `step` acts one step from a hidden state;
    `unroll` runs windows from a zero state, zeroing it wherever an episode starts."""

    def __init__(self, obs_size: int, num_actions: int, num_agents: int, hidden_size: int = 64, agent_ids: bool = True):
        super().__init__()
        self.obs_size, self.num_actions, self.num_agents = obs_size, num_actions, num_agents
        self.agent_ids, self.hidden_size = agent_ids, hidden_size
        self.encoder = nn.Linear(obs_size + (num_agents if agent_ids else 0), hidden_size)
        self.core = GRUCore(hidden_size, hidden_size)
        self.head = nn.Linear(hidden_size, num_actions)

    def _inputs(self, obs: Tensor) -> Tensor:
        if obs.shape[-2:] != (self.num_agents, self.obs_size):
            raise ValueError(
                f"RecurrentAgentQNetwork: obs must end in ({self.num_agents}, {self.obs_size}) "
                f"(num_agents, obs_size), got {tuple(obs.shape)}"
            )
        if self.agent_ids:
            ids = torch.eye(self.num_agents, dtype=obs.dtype, device=obs.device).expand(*obs.shape[:-1], -1)
            obs = torch.cat([obs, ids], dim=-1)
        return torch.relu(self.encoder(obs))

    def initial_state(self, num_envs: int) -> Tensor:
        """Zeros [num_envs, num_agents, hidden_size]."""
        return torch.zeros(num_envs, self.num_agents, self.hidden_size)

    def step(self, obs: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """obs [N, A, obs_size], hidden [N, A, H] -> (q [N, A, num_actions], next hidden [N, A, H])."""
        n = obs.shape[0]
        h = self.core.cell(self._inputs(obs).reshape(n * self.num_agents, -1), hidden.reshape(n * self.num_agents, -1))
        h = h.view(n, self.num_agents, self.hidden_size)
        return self.head(h), h

    def unroll(self, obs: Tensor, is_first: Tensor) -> Tensor:
        """obs [B, T, A, obs_size], is_first [B, T] bool -> q [B, T, A, num_actions], from a zero state."""
        b, t = obs.shape[:2]
        x = self._inputs(obs).permute(1, 0, 2, 3).reshape(t, b * self.num_agents, self.hidden_size)
        starts = is_first.bool().t().repeat_interleave(self.num_agents, dim=1)  # [T, B * A]
        out, _ = self.core(x, torch.zeros(b * self.num_agents, self.hidden_size), starts)
        return self.head(out.view(t, b, self.num_agents, self.hidden_size).permute(1, 0, 2, 3))

    def forward(self, obs: Tensor) -> Tensor:
        """Q-values of one step from a zero state (the first step of an episode): [..., A, obs_size] -> [..., A, n]."""
        return self.head(
            self.core.cell(self._inputs(obs).reshape(-1, self.hidden_size)).view(*obs.shape[:-1], self.hidden_size)
        )


def check_marl_env(fn: str, env, num_agents: int | None = None, discrete: bool = True) -> MarlVectorEnv:
    """The env a value-decomposition learner accepts: a MarlVectorEnv with a Discrete action space (any action
    space with discrete=False) and, when `num_agents` is given (the learner's networks were built for it), that
    many agents."""
    if not isinstance(env, MarlVectorEnv):
        raise TypeError(f"{fn}: env must be a nextrl.marl.MarlVectorEnv, got {type(env).__name__}")
    if discrete and not isinstance(env.single_action_space, spaces.Discrete):
        raise TypeError(
            f"{fn}: env must have a Discrete action space (IQL, VDN and QMIX are discrete-action learners), "
            f"got {env.single_action_space}"
        )
    if num_agents is not None and env.num_agents != num_agents:
        raise ValueError(f"{fn}: env must have {num_agents} agents (the learner's), got {env.num_agents}")
    return env


def build_agent_network(fn: str, env: MarlVectorEnv, cfg: MultiQConfig, agent_network: nn.Module | None) -> nn.Module:
    """`agent_network` checked against the env (agents, observation size, actions; ValueError on a mismatch)
    and cfg.recurrent (TypeError), or a new AgentQNetwork / RecurrentAgentQNetwork from cfg."""
    num_actions = int(env.single_action_space.n)
    kind = RecurrentAgentQNetwork if cfg.recurrent else AgentQNetwork
    if agent_network is None:
        if cfg.recurrent:
            return RecurrentAgentQNetwork(env.obs_size, num_actions, env.num_agents, cfg.hidden[0], cfg.agent_ids)
        return AgentQNetwork(env.obs_size, num_actions, env.num_agents, cfg.hidden, cfg.agent_ids)
    if type(agent_network) is not kind:
        raise TypeError(
            f"{fn}: agent_network must be {kind.__name__} (cfg.recurrent={cfg.recurrent}), "
            f"got {type(agent_network).__name__}"
        )
    check_marl_env(fn, env, agent_network.num_agents)
    if (agent_network.obs_size, agent_network.num_actions) != (env.obs_size, num_actions):
        raise ValueError(
            f"{fn}: agent_network must take obs_size {env.obs_size} and give {num_actions} actions (the env's), "
            f"got {agent_network.obs_size} and {agent_network.num_actions}"
        )
    return agent_network


def make_target(online: nn.Module) -> nn.Module:
    """A frozen deep copy of `online` (agents.offpolicy_nets.make_target)."""
    return offpolicy_nets.make_target(online, None, "make_target", "network")


def masked_q(q: Tensor, mask: Tensor) -> Tensor:
    """q [..., num_actions] with disallowed actions (mask False) at -inf; a row with no allowed action is
    left whole."""
    mask = mask | ~mask.any(dim=-1, keepdim=True)
    return q.masked_fill(~mask, float("-inf"))


def greedy_actions(q: Tensor, mask: Tensor) -> Tensor:
    """argmax over allowed actions: q [..., num_actions] and mask [..., num_actions] bool -> [...] int64."""
    return masked_q(q, mask).argmax(dim=-1)


def epsilon_greedy(q: np.ndarray, mask: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Per agent: with probability epsilon a uniform allowed action, else the greedy allowed one.
    q [N, A, num_actions] float, mask [N, A, num_actions] bool -> actions [N, A] int64."""
    mask = mask | ~mask.any(axis=-1, keepdims=True)
    greedy = np.where(mask, q, -np.inf).argmax(axis=-1)
    # a uniform allowed action: the argmax of uniform noise over the allowed entries
    noise = np.where(mask, rng.random(mask.shape), -1.0)
    explore = rng.random(greedy.shape) < epsilon
    return np.where(explore, noise.argmax(axis=-1), greedy).astype(np.int64)


def linear_schedule(start: float, end: float, duration: float, t: float) -> float:
    """start + (end - start) * min(t / duration, 1)."""
    return end if duration <= 0 else start + (end - start) * min(t / duration, 1.0)


@dataclass
class Transitions:
    """A batch of joint transitions, batch first. Agents' Q-values of inactive agents must not count."""

    obs: Tensor
    """[B, A, obs_size] float32"""
    state: Tensor
    """[B, state_size] float32: global state"""
    actions: Tensor
    """[B, A] int64"""
    rewards: Tensor
    """[B, A] float32: each agent's reward"""
    terminations: Tensor
    """[B, A] float32: 1 where the agent terminated at this step"""
    active: Tensor
    """[B, A] float32: 1 for agents still in their episode before the step (their actions counted)"""
    team_terminal: Tensor
    """[B] float32: 1 where the env's episode ended by termination at this step"""
    next_obs: Tensor
    """[B, A, obs_size] float32"""
    next_state: Tensor
    """[B, state_size] float32"""
    next_mask: Tensor
    """[B, A, num_actions] bool: allowed actions at next_obs"""
    next_alive: Tensor
    """[B, A] float32: agents active before the step that did not terminate at it (a truncated agent counts:
    its value is bootstrapped from its final observation)"""
    weights: Tensor
    """[B] float32: 1 for real transitions, 0 for windows that start at an episode's final observation"""
    window_obs: Tensor | None = None
    """recurrent agents only: [B, T + 1, A, obs_size], the window the transitions come from (the fields above
    are then [B, T, ...]: transition k goes from window step k to k + 1)"""
    is_first: Tensor | None = None
    """recurrent agents only: [B, T + 1] bool, window steps that start an episode"""


def pack(obs: np.ndarray, state: np.ndarray, mask: np.ndarray, active: np.ndarray) -> np.ndarray:
    """One replay row per agent: [N, A, obs_size + state_size + num_actions + 1] float32."""
    n, a = obs.shape[:2]
    return np.concatenate(
        [obs, np.broadcast_to(state[:, None, :], (n, a, state.shape[-1])), mask, active[..., None]],
        axis=-1,
        dtype=np.float32,
    )


def unpack(rows: Tensor, obs_size: int, state_size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Inverse of `pack` on [..., A, row]: (obs [..., A, obs_size], state [..., state_size], mask [..., A, n]
    bool, active [..., A] float32)."""
    obs = rows[..., :obs_size]
    state = rows[..., 0, obs_size : obs_size + state_size]
    mask = rows[..., obs_size + state_size : -1] > 0.5
    return obs, state, mask, rows[..., -1]


def sample_transitions(
    buffer: SequenceReplayBuffer, batch_size: int, obs_size: int, state_size: int, rng: np.random.Generator
) -> Transitions:
    """`batch_size` transitions: windows of 2 consecutive stored steps of one env (step, then what followed)."""
    b = buffer.sample(batch_size, 2, rng)
    obs, state, _, active = unpack(b.obs[:, 0], obs_size, state_size)
    next_obs, next_state, next_mask, next_active = unpack(b.obs[:, 1], obs_size, state_size)
    terms = b.terminations[:, 0]
    ended = next_active.sum(dim=-1) == 0  # every agent finished: the env's episode ended at this step
    return Transitions(
        obs=obs,
        state=state,
        actions=b.actions[:, 0].long(),
        rewards=b.rewards[:, 0],
        terminations=terms.float(),
        active=active,
        team_terminal=(ended & terms.any(dim=-1)).float(),
        next_obs=next_obs,
        next_state=next_state,
        next_mask=next_mask,
        next_alive=active * (1.0 - terms.float()),
        weights=b.valid[:, 0].float(),
    )


def sample_sequences(
    buffer: SequenceReplayBuffer,
    batch_size: int,
    seq_len: int,
    burn_in: int,
    obs_size: int,
    state_size: int,
    rng: np.random.Generator,
) -> Transitions:
    """`batch_size` windows of `seq_len` stored steps as [B, seq_len - 1] transitions for recurrent agents;
    the first `burn_in` transitions of each window get weight 0."""
    b = buffer.sample(batch_size, seq_len, rng)
    obs, state, mask, active = unpack(b.obs, obs_size, state_size)  # [B, L, ...]
    terms = b.terminations[:, :-1]
    ended = active[:, 1:].sum(dim=-1) == 0
    weights = b.valid[:, :-1].float()
    weights[:, :burn_in] = 0.0
    return Transitions(
        obs=obs[:, :-1],
        state=state[:, :-1],
        actions=b.actions[:, :-1].long(),
        rewards=b.rewards[:, :-1],
        terminations=terms.float(),
        active=active[:, :-1],
        team_terminal=(ended & terms.any(dim=-1)).float(),
        next_obs=obs[:, 1:],
        next_state=state[:, 1:],
        next_mask=mask[:, 1:],
        next_alive=active[:, :-1] * (1.0 - terms.float()),
        weights=weights,
        window_obs=obs,
        is_first=b.is_first,
    )


def chosen_and_next_q(
    agent_network: nn.Module, target_network: nn.Module, batch: Transitions, double_q: bool
) -> tuple[Tensor, Tensor]:
    """Per-agent Q of the taken actions [B, (T,) A] (online, with gradient; 0 for inactive agents) and of the
    next greedy allowed actions [B, (T,) A] (target network, no gradient; the action picked by the online network with
    `double_q`, else by the target; 0 for agents not alive after the step, Transitions.next_alive)."""
    if batch.window_obs is not None:  # recurrent agents: unroll the whole window, then shift by one step
        q_all = agent_network.unroll(batch.window_obs, batch.is_first)
        q = q_all[:, :-1]
        with torch.no_grad():
            next_q_target = target_network.unroll(batch.window_obs, batch.is_first)[:, 1:]
        next_q_online = q_all[:, 1:].detach()
    else:
        q = agent_network(batch.obs)
        with torch.no_grad():
            next_q_target = target_network(batch.next_obs)
            next_q_online = agent_network(batch.next_obs) if double_q else None
    chosen = q.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1) * batch.active
    with torch.no_grad():
        picker = next_q_online if double_q else next_q_target
        best = greedy_actions(picker, batch.next_mask)
        next_q = next_q_target.gather(-1, best.unsqueeze(-1)).squeeze(-1) * batch.next_alive
    return chosen, next_q


def team_rewards(rewards: Tensor, reduction: str) -> Tensor:
    """[B, A] -> [B]: the agents' rewards averaged ("mean") or summed ("sum")."""
    return rewards.mean(dim=-1) if reduction == "mean" else rewards.sum(dim=-1)


def weighted_mse(td: Tensor, weights: Tensor) -> Tensor:
    """sum(weights * td**2) / max(sum(weights), 1): the mean squared TD error over real transitions."""
    return (weights * td.pow(2)).sum() / weights.sum().clamp(min=1.0)


LossFn = Callable[[Transitions], tuple[Tensor, dict[str, float]]]


def run(
    env: MarlVectorEnv,
    cfg: MultiQConfig,
    result: TrainResult,
    agent_network: nn.Module,
    target_networks: list[tuple[nn.Module, nn.Module]],
    loss_fn: LossFn,
    *,
    seed: int,
    log: LogFn | None = None,
) -> TrainResult:
    """The training loop of IQL, VDN and QMIX: epsilon-greedy joint actions from `agent_network`, every joint
    step into episode replay, and once `learning_starts` env steps have passed, `gradient_steps` steps of
    `loss_fn` (on a batch of Transitions) every `train_frequency` vector-env steps, over every parameter of the
    online networks of `target_networks` [(online, target), ...], whose targets are updated every
    `target_network_frequency` gradient steps. Fills and returns `result`."""
    num_envs, num_agents = env.num_envs, env.num_agents
    obs_size, num_actions = env.obs_size, int(env.single_action_space.n)
    state_size = int(env.state_space.shape[0])
    rng = np.random.default_rng(seed)
    params = [p for online, _ in target_networks for p in online.parameters()]
    optimizer = adam(params, cfg.learning_rate)
    buffer = SequenceReplayBuffer(
        cfg.buffer_size,
        (obs_size + state_size + num_actions + 1,),
        num_envs=num_envs,
        action_dtype=np.int64,
        num_agents=num_agents,
    )
    times = {"env": 0.0, "inference": 0.0, "update": 0.0}
    start = time.perf_counter()
    tracker = EpisodeTracker(num_envs)
    obs, infos = env.reset(seed=seed)
    recurrent = isinstance(agent_network, RecurrentAgentQNetwork)
    hidden = agent_network.initial_state(num_envs) if recurrent else None
    global_step, num_updates = 0, 0
    for _ in range(cfg.total_timesteps // num_envs):
        global_step += num_envs
        t0 = time.perf_counter()
        epsilon = linear_schedule(cfg.start_e, cfg.end_e, cfg.exploration_fraction * cfg.total_timesteps, global_step)
        with torch.no_grad():
            if recurrent:
                q, hidden = agent_network.step(torch.as_tensor(obs, dtype=torch.float32), hidden)
                q = q.numpy()
            else:
                q = agent_network(torch.as_tensor(obs, dtype=torch.float32)).numpy()
        actions = epsilon_greedy(q, infos["action_mask"], epsilon, rng)
        t1 = time.perf_counter()
        next_obs, rewards, terms, truncs, next_infos = env.step(actions)
        t2 = time.perf_counter()
        ended = ~next_infos["active"].any(axis=1)
        team_term = ended & terms.any(axis=1)
        team_r = rewards.mean(axis=1) if cfg.reward_reduction == "mean" else rewards.sum(axis=1)
        valid = tracker.step(team_r, team_term, ended & ~team_term, global_step)
        row = pack(obs, infos["state"], infos["action_mask"], infos["active"].astype(np.float32))
        buffer.add(row, actions, rewards, terms, truncs, valid)
        obs, infos = next_obs, next_infos
        if recurrent:  # after a reset step comes the first observation of an episode
            hidden[torch.as_tensor(~valid)] = 0.0
        times["env"] += t2 - t1
        times["inference"] += t1 - t0
        window = cfg.seq_len if recurrent else 2
        learn = global_step >= cfg.learning_starts and buffer.total >= window
        if learn and (global_step // num_envs) % cfg.train_frequency == 0:
            t3 = time.perf_counter()
            for _ in range(cfg.gradient_steps):
                if recurrent:
                    batch = sample_sequences(
                        buffer, cfg.batch_size, cfg.seq_len, cfg.burn_in, obs_size, state_size, rng
                    )
                else:
                    batch = sample_transitions(buffer, cfg.batch_size, obs_size, state_size, rng)
                loss, metrics = loss_fn(batch)
                optimizer.zero_grad()
                loss.backward()
                if cfg.max_grad_norm < float("inf"):
                    nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                num_updates += 1
                if num_updates % cfg.target_network_frequency == 0:
                    for online, target in target_networks:
                        soft_update(target, online, cfg.tau)
            times["update"] += time.perf_counter() - t3
            if cfg.gradient_steps > 0:
                metrics = {"global_step": float(global_step), **metrics, "charts/epsilon": epsilon}
                result.metrics.append(metrics)
                emit(log, global_step, metrics, result)
    return tracker.fill(result, global_step, time.perf_counter() - start, times)


def actor_critic_update(
    critic_loss: Callable[[], tuple[Tensor, dict[str, float]]],
    actor_loss: Callable[[], tuple[Tensor, dict[str, float]]],
    critic: nn.Module,
    actor: nn.Module,
    critic_target: nn.Module,
    actor_target: nn.Module,
    critic_opt: torch.optim.Optimizer,
    actor_opt: torch.optim.Optimizer,
    *,
    critic_max_norm: float,
    actor_max_norm: float,
    tau: float,
) -> dict[str, float]:
    """One gradient step of the off-policy multi-agent actor-critics (MADDPG, MAAC): an Adam step of `critic` on
    critic_loss() (gradient norm clipped at critic_max_norm), then one of `actor` on actor_loss(), evaluated after
    the critic step (it sees the updated critic; gradients it leaves on the critic are zeroed by the next critic
    step), clipped at actor_max_norm, then Polyak averaging of both targets at rate `tau`. Returns the two
    losses' stats merged."""
    c_loss, stats = critic_loss()
    critic_opt.zero_grad()
    c_loss.backward()
    nn.utils.clip_grad_norm_(critic.parameters(), critic_max_norm)
    critic_opt.step()
    a_loss, a_stats = actor_loss()
    actor_opt.zero_grad()
    a_loss.backward()
    nn.utils.clip_grad_norm_(actor.parameters(), actor_max_norm)
    actor_opt.step()
    soft_update(critic_target, critic, tau)
    soft_update(actor_target, actor, tau)
    return {**stats, **a_stats}


def greedy_policy(agent_network: AgentQNetwork, env: MarlVectorEnv | None = None):
    """act(obs [N, A, obs_size], mask [N, A, num_actions] or None) -> greedy allowed actions [N, A] int64. With
    `env`, its agent count must be the network's (ValueError otherwise)."""
    if isinstance(agent_network, RecurrentAgentQNetwork):
        raise TypeError(
            "greedy_policy: agent_network must be feedforward; play a RecurrentAgentQNetwork with evaluate_team"
        )
    if env is not None:
        check_marl_env("greedy_policy", env, agent_network.num_agents)

    def act(obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            q = agent_network(torch.as_tensor(obs, dtype=torch.float32))
            if mask is None:
                return q.argmax(dim=-1).numpy()
            return greedy_actions(q, torch.as_tensor(mask, dtype=torch.bool)).numpy()

    return act


def evaluate_team(
    act,
    env: MarlVectorEnv,
    num_episodes: int,
    *,
    seed: int,
    reward_reduction: str = "mean",
    max_steps: int = 100_000,
) -> np.ndarray:
    """Team returns of `num_episodes` episodes of `act`: an AgentQNetwork or RecurrentAgentQNetwork, played
    greedily over the allowed actions, or a function act(obs [N, A, obs_size], action_mask [N, A, num_actions])
    -> actions [N, A] (action_mask None for an env without Discrete actions; any action space then). Per step
    the agents' rewards reduced by `reward_reduction` ("mean" or "sum"), summed
    over the episode. Each env contributes a quota of episodes fixed in advance (common.episode_quotas), so
    short episodes are not favoured; returns [num_episodes] in the order they ended."""
    hidden = None
    if isinstance(act, RecurrentAgentQNetwork):
        check_marl_env("evaluate_team", env, act.num_agents)
        net, hidden = act, act.initial_state(env.num_envs)

        def act(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
            nonlocal hidden
            with torch.no_grad():
                q, hidden = net.step(torch.as_tensor(obs, dtype=torch.float32), hidden)
                return greedy_actions(q, torch.as_tensor(mask, dtype=torch.bool)).numpy()

    elif isinstance(act, AgentQNetwork):
        check_marl_env("evaluate_team", env, act.num_agents)
        act = greedy_policy(act)
    check_marl_env("evaluate_team", env, discrete=False)
    if reward_reduction not in ("mean", "sum"):
        raise ValueError(f'evaluate_team: reward_reduction must be "mean" or "sum", got {reward_reduction!r}')
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, (int, np.integer)) or num_episodes < 1:
        raise ValueError(f"evaluate_team: num_episodes must be an integer >= 1, got {num_episodes!r}")
    quotas = episode_quotas(int(num_episodes), env.num_envs)
    counted = np.zeros(env.num_envs, dtype=np.int64)
    returns: list[float] = []
    obs, infos = env.reset(seed=seed)
    tracker = EpisodeTracker(env.num_envs)
    for _ in range(max_steps):
        obs, rewards, terms, truncs, infos = env.step(act(obs, infos.get("action_mask")))
        ended = ~infos["active"].any(axis=1)
        team_term = ended & terms.any(axis=1)
        team_r = rewards.mean(axis=1) if reward_reduction == "mean" else rewards.sum(axis=1)
        before = len(tracker.finished_returns)
        valid = tracker.step(team_r, team_term, ended & ~team_term)
        if hidden is not None:  # a new episode starts after each reset step
            hidden[torch.as_tensor(~valid)] = 0.0
        for ret, i in zip(tracker.finished_returns[before:], tracker.finished_envs[before:]):
            if counted[i] < quotas[i]:
                counted[i] += 1
                returns.append(ret)
        if np.all(counted >= quotas):
            return np.asarray(returns)
    raise RuntimeError(f"evaluate_team: only {len(returns)} of {num_episodes} episodes ended within {max_steps} steps")


__all__ = [
    "AgentQNetwork",
    "MultiQConfig",
    "RecurrentAgentQNetwork",
    "Transitions",
    "actor_critic_update",
    "build_agent_network",
    "check_marl_env",
    "chosen_and_next_q",
    "epsilon_greedy",
    "evaluate_team",
    "greedy_actions",
    "greedy_policy",
    "linear_schedule",
    "make_target",
    "masked_q",
    "pack",
    "run",
    "sample_sequences",
    "sample_transitions",
    "team_rewards",
    "unpack",
    "weighted_mse",
]
