"""Rollout storage for on-policy agents: preallocated torch tensors [T, N, ...] (time first, env second),
or [T, N, A, ...] with an agent axis, with the valid mask of NEXT_STEP autoreset, and the one collection
loop every on-policy agent shares.

Row t holds the observation the action of step t was taken from, that action, its log-probability, the
value estimate, and what `env.step` returned for it (reward, termination, truncation). `valid[t, n]` is
False for the reset step that follows a done (its action was ignored and its reward is 0): losses average
over valid entries only. Under NEXT_STEP autoreset the observation returned by step t is obs[t + 1] (the
true final observation when step t ended an episode), so next_values = values shifted by one step plus
the value of the last returned observation (`Rollout.next_values`).

With `num_agents=A` every per-step tensor gains an agent axis after the env axis (obs [T, N, A, *obs_shape],
rewards, flags and valid [T, N, A]): each agent's column is its own stream of transitions, so the return
scans of agents.returns run over it unchanged and `flat` yields the valid (step, env, agent) entries, as a
parameter-shared learner wants them.

A multi-agent env reaches the trainers flattened (common.flatten_agents, done by `check_env`): one column per
(env, agent). A slot whose agent finished before its env reset is not valid (common.EpisodeTracker with
infos["active"]), so it has no weight in any loss; the return scans stop at the agent's own done flag, so
nothing is bootstrapped across its inactive steps either (a truncated agent bootstraps from the value of its
final observation, the row after its done, as a single-agent env's does from the reset step's row).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, flatten_agents


class Rollout:
    """Storage for `num_steps` steps of `num_envs` envs (of `num_agents` agents each, when given).

    obs [T, N, (A,) *obs_shape] float32, actions [T, N, (A,) *action_shape] (int64 for Discrete, float32 for
    Box), log_probs, values, rewards [T, N, (A)] float32, terminations, truncations, valid [T, N, (A)] bool.
    obs_space and action_space are one agent's (the vector env's single_* spaces)."""

    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_space: gym.Space,
        action_space: gym.Space,
        num_agents: int | None = None,
    ):
        if num_steps < 1 or num_envs < 1:
            raise ValueError(f"Rollout: num_steps and num_envs must be >= 1, got {num_steps}, {num_envs}")
        if num_agents is not None and (
            isinstance(num_agents, bool) or not isinstance(num_agents, int) or num_agents < 1
        ):
            raise ValueError(f"Rollout: num_agents must be an integer >= 1 or None, got {num_agents!r}")
        T, N = num_steps, num_envs
        self.num_steps, self.num_envs, self.num_agents = T, N, num_agents
        lead = (T, N) if num_agents is None else (T, N, num_agents)
        self.shape = lead
        """(T, N) or (T, N, A): the leading axes of every tensor"""
        discrete = isinstance(action_space, gym.spaces.Discrete)
        self.obs = torch.zeros((*lead, *obs_space.shape), dtype=torch.float32)
        self.actions = torch.zeros(
            (*lead, *(() if discrete else action_space.shape)), dtype=torch.int64 if discrete else torch.float32
        )
        self.log_probs = torch.zeros(lead)
        self.values = torch.zeros(lead)
        self.rewards = torch.zeros(lead)
        self.terminations = torch.zeros(lead, dtype=torch.bool)
        self.truncations = torch.zeros(lead, dtype=torch.bool)
        self.valid = torch.zeros(lead, dtype=torch.bool)
        self.last_value = torch.zeros(lead[1:])
        """V of the observation returned by the last step [N, (A)]"""
        self.step = 0

    def add(self, obs, actions, log_probs, values, rewards, terminations, truncations, valid) -> None:
        """Writes row `self.step` (numpy arrays or tensors of the row shapes) and advances."""
        if self.step >= self.num_steps:
            raise IndexError(f"Rollout.add: storage is full ({self.num_steps} steps); call reset() first")
        t = self.step
        self.obs[t] = torch.as_tensor(obs)
        self.actions[t] = torch.as_tensor(actions)
        self.log_probs[t] = torch.as_tensor(log_probs)
        self.values[t] = torch.as_tensor(values)
        self.rewards[t] = torch.as_tensor(np.asarray(rewards, dtype=np.float32))
        self.terminations[t] = torch.as_tensor(np.asarray(terminations, dtype=bool))
        self.truncations[t] = torch.as_tensor(np.asarray(truncations, dtype=bool))
        self.valid[t] = torch.as_tensor(np.asarray(valid, dtype=bool))
        self.step += 1

    def reset(self) -> None:
        self.step = 0

    def next_values(self) -> torch.Tensor:
        """[T, N, (A)]: values[t + 1] for t < T - 1, last_value at T - 1."""
        return torch.cat([self.values[1:], self.last_value.unsqueeze(0)], dim=0)

    def flat(self, *tensors: torch.Tensor) -> list[torch.Tensor]:
        """Each [T, N, (A,) ...] tensor flattened to [B, ...] over the valid entries only (B = valid.sum())."""
        mask = self.valid.reshape(-1)
        k = len(self.shape)
        return [x.reshape(-1, *x.shape[k:])[mask] for x in tensors]


@dataclass
class Collector:
    """The state carried between rollouts: current observations, episode tracker, step count, timings."""

    env: gym.vector.VectorEnv
    next_obs: torch.Tensor
    tracker: EpisodeTracker
    global_step: int = 0
    times: dict[str, float] = field(default_factory=lambda: {"env": 0.0, "inference": 0.0, "update": 0.0})

    start_time: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, env: gym.vector.VectorEnv, seed: int) -> Collector:
        obs, infos = env.reset(seed=seed)
        tracker = EpisodeTracker(env.num_envs)
        tracker.reset(infos.get("active"))
        return cls(env, torch.as_tensor(np.asarray(obs, dtype=np.float32)), tracker)

    def record(self, result: TrainResult, stats: dict[str, float], log: LogFn | None) -> None:
        """Adds global_step, charts/sps and charts/episode_return (mean of the last 10 finished episodes) to
        one update's `stats`, appends them to result.metrics and passes them to `log`."""
        stats = {
            "global_step": self.global_step,
            **stats,
            "charts/sps": self.global_step / max(time.perf_counter() - self.start_time, 1e-9),
        }
        recent = self.tracker.finished_returns[-10:]
        if recent:
            stats["charts/episode_return"] = float(np.mean(recent))
        result.metrics.append(stats)
        emit(log, self.global_step, stats, result)

    def finish(self, result: TrainResult) -> TrainResult:
        """Copies episodes, step count, wall time and the time breakdown into `result`."""
        return self.tracker.fill(result, self.global_step, time.perf_counter() - self.start_time, self.times)


def env_actions(actions: torch.Tensor, action_space: gym.Space) -> np.ndarray:
    """Sampled actions as the env takes them: int64 for Discrete, clipped to the bounds for Box."""
    a = actions.numpy()
    if isinstance(action_space, gym.spaces.Box):
        return np.clip(a, action_space.low, action_space.high)
    return a


def collect(policy, rollout: Rollout, c: Collector) -> None:
    """Fills `rollout` with `rollout.num_steps` steps of `policy` (a networks.ActorCritic; its critic may
    be None, then values are 0) on `c.env`, advancing `c`. Time is booked to c.times["env"] and
    c.times["inference"]."""
    env = c.env
    action_space = env.single_action_space
    rollout.reset()
    for _ in range(rollout.num_steps):
        t0 = time.perf_counter()
        with torch.no_grad():
            dist = policy.dist(c.next_obs)
            actions = dist.sample()
            log_probs = dist.log_prob(actions)
            values = policy.value(c.next_obs) if policy.critic is not None else torch.zeros(env.num_envs)
        t1 = time.perf_counter()
        obs, rewards, terms, truncs, infos = env.step(env_actions(actions, action_space))
        t2 = time.perf_counter()
        c.global_step += env.num_envs
        valid = c.tracker.step(rewards, terms, truncs, c.global_step, infos.get("active"))
        rollout.add(c.next_obs, actions, log_probs, values, rewards, terms, truncs, valid)
        c.next_obs = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        c.times["inference"] += t1 - t0
        c.times["env"] += t2 - t1
    t0 = time.perf_counter()
    if policy.critic is not None:
        with torch.no_grad():
            rollout.last_value = policy.value(c.next_obs)
    else:
        rollout.last_value = torch.zeros(env.num_envs)
    c.times["inference"] += time.perf_counter() - t0


def act_fn(policy, action_space: gym.Space, deterministic: bool = True):
    """numpy obs [N, ...] -> env actions [N, ...] of `policy` (mode of its distribution when
    deterministic), for common.evaluate."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return env_actions(
                policy.act(torch.as_tensor(np.asarray(obs, dtype=np.float32)), deterministic), action_space
            )

    return act


def check_env(fn: str, env) -> gym.vector.VectorEnv:
    """The env every train() runs on: a Gymnasium VectorEnv with NEXT_STEP autoreset (what the rollout logic
    assumes), or a nextrl.marl.MarlVectorEnv of one group, flattened (common.flatten_agents); anything else
    is refused."""
    env = flatten_agents(fn, env)
    if not isinstance(env, gym.vector.VectorEnv):
        raise TypeError(
            f"{fn}: env must be a gymnasium.vector.VectorEnv (e.g. gym.make_vec(id, num_envs=8, "
            f"vectorization_mode='sync')) or a nextrl.marl.MarlVectorEnv, got {type(env).__name__}"
        )
    mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
    if mode != gym.vector.AutoresetMode.NEXT_STEP and str(mode) != "NextStep":
        raise ValueError(f"{fn}: env must use NEXT_STEP autoreset, got {mode}")
    return env


__all__ = ["Collector", "Rollout", "act_fn", "check_env", "collect", "env_actions"]
