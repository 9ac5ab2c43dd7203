"""The loop that every off-policy agent shares (DQN, DDPG / TD3, SAC, discrete SAC), written once.

An algorithm file builds its networks, optimizers and replay buffer, then hands `run` two functions:

    act(obs, global_step) -> actions   env actions for obs [num_envs, ...], exploration included (uniform
                                       random before learning starts, epsilon-greedy, Gaussian noise, ...)
    learn(num_updates, global_step) -> metrics
                                       one gradient step on a batch it samples itself; num_updates counts the
                                       gradient steps taken before this one (for policy delays, target syncs)

`run` steps the env, keeps episode statistics (common.EpisodeTracker: NEXT_STEP reset steps, and the slots of
a flattened multi-agent env whose agent has finished before its env reset, are not transitions), adds every
real transition to the replay buffer, and once more than `learning_starts` env steps have
passed calls `learn` `gradient_steps` times every `train_frequency` vector-env steps. Each such round appends
one metrics dict to result.metrics (the last gradient step's metrics plus global_step and charts/sps) and
passes it to `log`; each finished episode is logged as charts/episode_return and charts/episode_length.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit
from nextrl.agents.replay import ReplayBuffer

ActFn = Callable[[np.ndarray, int], np.ndarray]
LearnFn = Callable[[int, int], dict[str, float]]


def run(
    env: gym.vector.VectorEnv,
    result: TrainResult,
    buffer: ReplayBuffer,
    act: ActFn,
    learn: LearnFn,
    *,
    seed: int,
    total_timesteps: int,
    learning_starts: int,
    train_frequency: int,
    gradient_steps: int,
    log: LogFn | None = None,
) -> TrainResult:
    """Runs `total_timesteps // num_envs` vector-env steps of `act` on `env` (reset with `seed`), learning as
    described in the module docstring; fills `result` (episodes, metrics, step count, timings) and returns it."""
    num_envs = env.num_envs
    times = {"env": 0.0, "inference": 0.0, "update": 0.0}
    start = time.perf_counter()
    tracker = EpisodeTracker(num_envs)
    obs, infos = env.reset(seed=seed)
    tracker.reset(infos.get("active"))
    global_step, num_updates, num_logged = 0, 0, 0
    for iteration in range(total_timesteps // num_envs):
        global_step += num_envs
        t0 = time.perf_counter()
        actions = act(obs, global_step)
        t1 = time.perf_counter()
        next_obs, rewards, terms, truncs, infos = env.step(actions)
        t2 = time.perf_counter()
        times["inference"] += t1 - t0
        times["env"] += t2 - t1
        valid = tracker.step(rewards, terms, truncs, global_step, infos.get("active"))
        buffer.add(obs, actions, rewards, next_obs, terms, truncs, valid)
        obs = next_obs
        if log is not None:
            for i in range(num_logged, len(tracker.finished_returns)):
                log(
                    global_step,
                    {
                        "charts/episode_return": tracker.finished_returns[i],
                        "charts/episode_length": float(tracker.finished_lengths[i]),
                    },
                )
        num_logged = len(tracker.finished_returns)
        if global_step <= learning_starts or iteration % train_frequency != 0 or len(buffer) == 0:
            continue
        metrics: dict[str, float] = {}
        for _ in range(gradient_steps):
            metrics = learn(num_updates, global_step)
            num_updates += 1
        times["update"] += time.perf_counter() - t2
        metrics = {
            "global_step": float(global_step),
            **metrics,
            "charts/sps": global_step / (time.perf_counter() - start),
        }
        result.metrics.append(metrics)
        emit(log, global_step, metrics, result)
    return tracker.fill(result, global_step, time.perf_counter() - start, times)


def box_bounds(fn: str, env: gym.vector.VectorEnv) -> gym.spaces.Box:
    """The env's single action space, refused unless it is a bounded Box (what DDPG, TD3 and SAC squash into)."""
    space = env.single_action_space
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"{fn}: env must have a Box action space, got {space}")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"{fn}: the action space must be bounded, got low={space.low}, high={space.high}")
    return space


__all__ = ["ActFn", "LearnFn", "box_bounds", "run"]
