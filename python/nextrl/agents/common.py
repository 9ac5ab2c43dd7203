"""Pieces every algorithm file shares: the result record, episode bookkeeping over any Gymnasium vector
env, scoped seeding, evaluation and checkpoints.

Vector envs follow Gymnasium 1.x's NEXT_STEP autoreset (nextrl's default and Gymnasium's): the step that
ends an episode returns the episode's *final* observation, and the next call to `step` resets that env,
ignores its action and returns the first observation of a new episode with reward 0. Agents therefore
keep the `done` mask of the previous step and drop those reset transitions (`EpisodeTracker.valid`);
bootstrapping on truncation uses the observation returned at the done step, which is the real final one.

Multi-agent envs (nextrl.marl.MarlVectorEnv) are trained through `flatten_agents`: one slot per (env, agent),
one policy shared by all agents. An agent that finished before the others of its env keeps its slot until the
env resets, with reward 0 and no flags; infos["active"] marks the slots still in their episode, and
`EpisodeTracker` drops the transitions of the others as it drops reset steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nextrl._checks import check_seed
from nextrl.marl.core import FlattenAgents, MarlVectorEnv

LogFn = Callable[[int, dict[str, float]], None]
"""log(global_step, metrics): metrics under namespaced keys such as "losses/value", "charts/episode_return"."""


@dataclass
class TrainResult:
    """What `train()` returns. Episodes are the training episodes, in the order they ended."""

    config: Any
    modules: dict[str, torch.nn.Module]
    """the trained networks by name (e.g. {"actor": ..., "critic": ...})"""
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    episode_end_steps: list[int] = field(default_factory=list)
    """global environment step (summed over envs) at which each episode ended"""
    metrics: list[dict[str, float]] = field(default_factory=list)
    """one dict per update: "global_step" plus the losses and statistics of that update"""
    global_steps: int = 0
    wall_time_s: float = 0.0
    time_breakdown_s: dict[str, float] = field(default_factory=dict)
    """seconds spent in "env" (stepping), "inference" (acting) and "update" (learning)"""

    def mean_return(self, last: int = 20) -> float:
        """Mean return of the last `last` finished training episodes (nan if none finished)."""
        r = self.episode_returns[-last:]
        return float(np.mean(r)) if r else float("nan")


class EpisodeTracker:
    """Episode returns and lengths over a NEXT_STEP-autoreset vector env, without relying on wrappers.

    Call `step(rewards, terminations, truncations, global_step, active)` after every `env.step`; it returns
    the boolean mask of envs whose transition of this step was real: False for the reset step that follows
    a done, and for a slot that was not active before the step (infos["active"] of a flattened multi-agent
    env: its agent finished and its env has not reset yet). Without `active` every slot counts as active."""

    def __init__(self, num_envs: int):
        self.num_envs = num_envs
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.prev_done = np.zeros(num_envs, dtype=bool)
        self.prev_active: np.ndarray | None = None
        """infos["active"] of the last call, None when the env reports none (every slot active)"""
        self.finished_returns: list[float] = []
        self.finished_lengths: list[int] = []
        self.finished_steps: list[int] = []
        self.finished_envs: list[int] = []
        """the env index of each finished episode"""

    def step(self, rewards, terminations, truncations, global_step: int = 0, active=None) -> np.ndarray:
        """active [num_envs] bool: infos["active"] of this step (the slots still in their episode after it),
        or None when the env reports none."""
        valid = ~self.prev_done if self.prev_active is None else ~self.prev_done & self.prev_active
        rewards = np.asarray(rewards, dtype=np.float64)
        self.returns[valid] += rewards[valid]
        self.lengths[valid] += 1
        done = (np.asarray(terminations) | np.asarray(truncations)) & valid
        for i in np.flatnonzero(done):
            self.finished_returns.append(float(self.returns[i]))
            self.finished_lengths.append(int(self.lengths[i]))
            self.finished_steps.append(int(global_step))
            self.finished_envs.append(int(i))
        self.returns[done] = 0.0
        self.lengths[done] = 0
        self.prev_done = done
        self._set_active(active)
        return valid

    def fill(
        self, result: TrainResult, global_steps: int, wall_time_s: float, time_breakdown_s: dict[str, float]
    ) -> TrainResult:
        """Writes the finished episodes and the run's totals into `result` (end of a train())."""
        result.episode_returns = list(self.finished_returns)
        result.episode_lengths = list(self.finished_lengths)
        result.episode_end_steps = list(self.finished_steps)
        result.global_steps = global_steps
        result.wall_time_s = wall_time_s
        result.time_breakdown_s = dict(time_breakdown_s)
        return result

    def reset(self, active=None) -> None:
        """After an explicit `env.reset()`: every env starts a new episode; `active` as in `step` (the
        reset's infos["active"])."""
        self.returns[:] = 0.0
        self.lengths[:] = 0
        self.prev_done[:] = False
        self._set_active(active)

    def _set_active(self, active) -> None:
        if active is not None:
            active = np.array(active, dtype=bool)
            if active.shape != (self.num_envs,):
                raise ValueError(f"EpisodeTracker: active must have shape ({self.num_envs},), got {active.shape}")
        self.prev_active = active


def emit(log: LogFn | None, global_step: int, metrics: dict[str, float], result: TrainResult) -> None:
    """Passes one update's `metrics` to `log` (the trainers' shared logging path). A `log` object that also has a
    `watch(result)` method is first shown the live TrainResult, whose modules are the networks being trained, so
    a caller can evaluate or checkpoint them between updates (`nextrl train --eval-every`) without changing the
    run: a plain function just gets (global_step, metrics)."""
    if log is None:
        return
    watch = getattr(log, "watch", None)
    if watch is not None:
        watch(result)
    log(global_step, metrics)


class TensorBoardLog:
    """A `log` callback that writes every metric as a TensorBoard scalar (tag = the metric's key, step = the
    global env step) to event files in `log_dir`; `global_step` itself is the step, not a scalar. Needs the
    `tensorboard` extra (pip install 'nextrl[tensorboard]'), imported here, not at import of nextrl. Use as a
    context manager or call close()."""

    def __init__(self, log_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError(
                "TensorBoardLog: TensorBoard logging needs the tensorboard package: pip install 'nextrl[tensorboard]'"
            ) from None
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def __call__(self, global_step: int, metrics: dict[str, float]) -> None:
        step = int(global_step)
        for key, value in metrics.items():
            if key != "global_step":
                self.writer.add_scalar(key, float(value), global_step=step)

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> TensorBoardLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def flatten_agents(fn: str, env):
    """The env as a trainer takes it: a MarlVectorEnv becomes `FlattenAgents(env)` (num_envs = N * A, slot
    i * A + a is agent a of env i, one policy shared by all agents); any other env is returned unchanged.
    Agents of several groups are refused (ValueError): a shared policy would have to play every role from
    padded observations; wrap the env in nextrl.marl.FlattenAgents yourself to do that on purpose."""
    if not isinstance(env, MarlVectorEnv):
        return env
    if len(env.groups) > 1:
        sizes = {g: int(env.observation_space(env.possible_agents[sl.start]).shape[0]) for g, sl in env.groups.items()}
        raise ValueError(
            f"{fn}: a multi-agent env is flattened into one shared policy only when its agents form one group; "
            f"{type(env).__name__} has groups {sizes} (name: obs_size). Pass nextrl.marl.FlattenAgents(env) to "
            f"share one policy across the groups on observations padded to {env.obs_size}"
        )
    return FlattenAgents(env)


@contextlib.contextmanager
def seeded(seed: int, fn: str = "seeded") -> Iterator[torch.Generator]:
    """Seeds torch's global generator for the block and restores it afterwards, so network initialization
    and sampling inside follow `seed` without leaking state to the caller. Yields a generator seeded too.
    `seed` must be an int in [0, 2**64) (else TypeError / ValueError naming `fn`, the caller): torch would
    wrap a negative seed and fail on a larger one with its own overflow error."""
    seed = check_seed(fn, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def episode_quotas(num_episodes: int, num_envs: int) -> np.ndarray:
    """Episodes each env contributes to an evaluation of `num_episodes`: [num_envs] int64, as even as possible
    (env i gets (num_episodes + i) // num_envs, as Stable-Baselines3's evaluate_policy)."""
    return (num_episodes + np.arange(num_envs, dtype=np.int64)) // num_envs


def evaluate(
    act: Callable[[np.ndarray], np.ndarray], env, num_episodes: int, *, seed: int, max_steps: int = 1_000_000
) -> np.ndarray:
    """Runs `act(obs) -> actions` (batched, numpy in and out) on a vector env until every env has finished its
    quota of episodes (`episode_quotas`); returns those `num_episodes` returns [num_episodes] in the order
    they ended. `max_steps` bounds the vector-env steps.

    Each env contributes a fixed number of episodes, fixed before any runs: keeping instead the first
    `num_episodes` to end over all envs favours short episodes and biases the mean (low on CartPole, where
    short episodes are bad ones). Episodes beyond an env's quota are run but not counted.

    A MarlVectorEnv is flattened (`flatten_agents`): `act` sees [N * A, obs_size] and an episode is one
    agent's, its return that agent's."""
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, (int, np.integer)) or num_episodes < 1:
        raise ValueError(f"evaluate: num_episodes must be an integer >= 1, got {num_episodes!r}")
    env = flatten_agents("evaluate", env)
    obs, infos = env.reset(seed=seed)
    quotas = episode_quotas(int(num_episodes), env.num_envs)
    counted = np.zeros(env.num_envs, dtype=np.int64)
    returns: list[float] = []
    tracker = EpisodeTracker(env.num_envs)
    tracker.reset(infos.get("active"))
    for _ in range(max_steps):
        obs, rewards, terms, truncs, infos = env.step(act(obs))
        before = len(tracker.finished_returns)
        tracker.step(rewards, terms, truncs, active=infos.get("active"))
        for ret, i in zip(tracker.finished_returns[before:], tracker.finished_envs[before:]):
            if counted[i] < quotas[i]:
                counted[i] += 1
                returns.append(ret)
        if np.all(counted >= quotas):
            return np.asarray(returns)
    raise RuntimeError(f"evaluate: only {len(returns)} of {num_episodes} episodes ended within {max_steps} steps")


def save_checkpoint(path: str | Path, result: TrainResult, extra: dict[str, Any] | None = None) -> None:
    """Writes the modules' state dicts, the config (as a dict) and `extra` to one torch file."""
    config = dataclasses.asdict(result.config) if dataclasses.is_dataclass(result.config) else result.config
    torch.save(
        {"modules": {k: m.state_dict() for k, m in result.modules.items()}, "config": config, "extra": extra or {}},
        Path(path),
    )


def load_checkpoint(path: str | Path, modules: dict[str, torch.nn.Module]) -> dict[str, Any]:
    """Loads state dicts into `modules` (same names as saved); returns {"config": ..., "extra": ...}.
    Raises KeyError naming any module missing from the file."""
    data = torch.load(Path(path), map_location="cpu", weights_only=True)
    missing = sorted(set(modules) - set(data["modules"]))
    if missing:
        raise KeyError(f"load_checkpoint: {path} has no module(s) {missing}; it holds {sorted(data['modules'])}")
    for name, module in modules.items():
        module.load_state_dict(data["modules"][name])
    return {"config": data["config"], "extra": data["extra"]}


__all__ = [
    "EpisodeTracker",
    "LogFn",
    "TensorBoardLog",
    "TrainResult",
    "emit",
    "episode_quotas",
    "evaluate",
    "flatten_agents",
    "load_checkpoint",
    "save_checkpoint",
    "seeded",
]
