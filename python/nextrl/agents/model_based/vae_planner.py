"""The documents' imagination agent done right (CA13's ImaginationBasedAgent): MPC in the latent space of the
variational world model (nextrl.models.vae_world_model) with a value function trained on real returns.

CA13 planned with a world model whose transition never learned (see vae_world_model.py), regressed its value
net on immediate imagined rewards and trained a REINFORCE policy on random imagined actions. Here:
  world model   VAEWorldModel trained by its ELBO on the real transitions (o, a, r, o') of a replay buffer;
  value         V(o), an MLP trained by squared error on the discounted returns of the agent's own finished
                episodes, G_t = r_t + gamma G_{t+1}, with G = 0 after a termination and gamma V(o_T) after a
                truncation (the time limit is not part of the state);
  planning      CEM over action sequences [horizon, action_dim] (nextrl.planning's torch path); a sequence is
                scored in imagination from z_0 = the encoder mean of the real observation, with the prior means
                z_{h+1} = mean p(z | z_h, a_h):
                    J = sum_{h < H} gamma^h r(z_h, a_h) + gamma^H V(decoder(z_H))    (use_value)
                the value read off the decoded terminal latent (V is trained on real observations). Without the
                value (use_value=False) J is the H-step model return alone, CA13's myopic objective.
Acting: `seed_steps` of uniform random actions, then the first action of each env's plan plus Gaussian noise.
Every `train_every` steps per env: `model_steps` ELBO steps and `value_steps` value steps on minibatches.
The planning-horizon sweep is `nextrl run world-models` (horizons with and without the value).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, seeded
from nextrl.agents.offpolicy import box_bounds
from nextrl.agents.rollout import check_env
from nextrl.models.rssm import mlp
from nextrl.models.vae_world_model import VAEWorldModel, VAEWorldModelConfig
from nextrl.planning.optimizers import CEM


@dataclass(frozen=True)
class VAEPlannerConfig:
    total_timesteps: int = 20_000
    """environment steps summed over all envs (0: no step, the networks only)"""
    num_envs: int = 1
    """envs that `nextrl train` makes (train() runs on the env it is given)"""
    seed_steps: int = 2_000
    """initial steps (summed over envs) of uniform random actions"""
    train_every: int = 10
    """env steps per env between training phases"""
    model_steps: int = 20
    """world-model gradient steps per training phase"""
    value_steps: int = 20
    """value gradient steps per training phase (none before the first episode ends)"""
    batch_size: int = 128
    """transitions (model) and (observation, return) pairs (value) per gradient step"""
    buffer_size: int = 100_000
    """transitions and value targets kept, each"""
    model: VAEWorldModelConfig = field(default_factory=lambda: VAEWorldModelConfig(latent=8, hidden=64))
    model_lr: float = 3e-3
    value_lr: float = 3e-3
    value_hidden: int = 64
    """width of the value MLP (2 hidden layers)"""
    gamma: float = 0.9
    """discount of the returns the value learns and of the imagined returns"""
    use_value: bool = True
    """add gamma^H V(decoder(z_H)) to the imagined return"""
    horizon: int = 5
    """planning horizon H"""
    population: int = 200
    num_elites: int = 20
    iterations: int = 4
    exploration_noise: float = 0.1
    """std of the Gaussian noise on planned actions while collecting, in action units"""

    def __post_init__(self):
        for name in ("num_envs", "train_every", "batch_size", "buffer_size", "value_hidden"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"VAEPlannerConfig: {name} must be an int >= 1, got {v!r}")
        for name in ("total_timesteps", "seed_steps", "model_steps", "value_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"VAEPlannerConfig: {name} must be an int >= 0, got {v!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"VAEPlannerConfig: gamma must be in [0, 1], got {self.gamma}")
        if not (self.model_lr > 0 and self.value_lr > 0):
            raise ValueError(
                f"VAEPlannerConfig: model_lr and value_lr must be > 0, got {self.model_lr}, {self.value_lr}"
            )
        if not self.exploration_noise >= 0:
            raise ValueError(f"VAEPlannerConfig: exploration_noise must be >= 0, got {self.exploration_noise}")
        self.planner()  # CEM's own checks (horizon, population, num_elites, iterations)

    def planner(self) -> CEM:
        return CEM(self.horizon, self.population, self.num_elites, self.iterations, 0.0, self.gamma, 0.5)


def discounted_returns(rewards: np.ndarray, gamma: float, bootstrap: float) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1} over one episode's rewards [T], G_T = bootstrap (0 after a termination,
    V(final observation) after a truncation). Returns [T] float64."""
    out = np.empty(len(rewards), dtype=np.float64)
    g = float(bootstrap)
    for t in range(len(rewards) - 1, -1, -1):
        g = float(rewards[t]) + gamma * g
        out[t] = g
    return out


def imagined_returns(
    model: VAEWorldModel, value: nn.Module | None, obs: Tensor, actions: Tensor, gamma: float
) -> Tensor:
    """J of the module docstring for action sequences [M, H, action_dim] from observations [M, obs_dim] (one per
    sequence); `value` None leaves out the terminal value. Returns [M]."""
    z = model.encode(obs)[0]
    ret = torch.zeros(actions.shape[0], dtype=obs.dtype)
    for h in range(actions.shape[1]):
        ret = ret + gamma**h * model.reward(z, actions[:, h])
        z = model.prior(z, actions[:, h])[0]
    if value is not None:
        ret = ret + gamma ** actions.shape[1] * value(model.decoder(z))[:, 0]
    return ret


def plan_actions(model, value, obs: np.ndarray, planner: CEM, low, high, *, seed: int, round: int) -> np.ndarray:
    """CEM from each env's observation [B, obs_dim]; returns the first planned actions [B, action_dim]."""
    start = torch.as_tensor(np.asarray(obs, dtype=np.float32))
    B = start.shape[0]

    def objective(actions: Tensor) -> Tensor:  # [B * R, H, A], problem-major
        return imagined_returns(model, value, start.repeat_interleave(actions.shape[0] // B, 0), actions, planner.gamma)

    with torch.no_grad():
        res = planner.plan(objective, low=low, high=high, num_problems=B, seed=seed, round=round, dtype=torch.float32)
    return res.actions[:, 0].numpy()


def deterministic_policy(modules: dict, action_space, cfg: VAEPlannerConfig, *, seed: int = 0):
    """act(obs [N, obs_dim] numpy) -> actions [N, action_dim]: the first action of the plan from each observation
    (plan_actions with cfg's planner, the value if cfg.use_value), without exploration noise, for common.evaluate.
    The plan depends on the observation alone; the planner's noise is addressed by (seed, call number)."""
    model, value = modules["model"], modules["value"] if cfg.use_value else None
    planner, calls = cfg.planner(), [0]

    def act(obs: np.ndarray) -> np.ndarray:
        calls[0] += 1
        a = plan_actions(model, value, obs, planner, action_space.low, action_space.high, seed=seed, round=calls[0])
        return a.reshape(len(a), *action_space.shape).astype(np.float32)

    return act


class _Ring:
    """Fixed-size ring of rows of several float32 arrays."""

    def __init__(self, capacity: int, **shapes):
        self.data = {k: np.zeros((capacity, *s), dtype=np.float32) for k, s in shapes.items()}
        self.capacity, self.size, self.pos = capacity, 0, 0

    def add(self, **rows) -> None:
        n = len(next(iter(rows.values())))
        for i in range(n):
            for k, v in rows.items():
                self.data[k][self.pos] = v[i]
            self.pos = (self.pos + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, Tensor]:
        idx = rng.integers(0, self.size, batch_size)
        return {k: torch.from_numpy(v[idx]) for k, v in self.data.items()}


def train(
    env: gym.vector.VectorEnv, cfg: VAEPlannerConfig = VAEPlannerConfig(), *, seed: int, log: LogFn | None = None
) -> TrainResult:
    """Trains the agent on a Box-action vector env with vector observations (NEXT_STEP autoreset). Modules:
    "model" (VAEWorldModel) and "value" (obs [B, obs_dim] -> [B, 1])."""
    env = check_env("vae_planner.train", env)
    space = box_bounds("vae_planner.train", env)
    obs_space = env.single_observation_space
    if len(obs_space.shape) != 1:
        raise ValueError(f"vae_planner.train: observations must be vectors [obs_dim], got shape {obs_space.shape}")
    E, obs_dim, act_dim = env.num_envs, int(obs_space.shape[0]), int(np.prod(space.shape))
    planner = cfg.planner()
    with seeded(seed, "vae_planner.train") as generator:
        rng = np.random.default_rng(seed)
        model = VAEWorldModel(obs_dim, act_dim, cfg.model)
        value = mlp(obs_dim, 1, cfg.value_hidden, 2)
    model_opt = torch.optim.Adam(model.parameters(), lr=cfg.model_lr)
    value_opt = torch.optim.Adam(value.parameters(), lr=cfg.value_lr)
    transitions = _Ring(cfg.buffer_size, obs=(obs_dim,), actions=(act_dim,), rewards=(), next_obs=(obs_dim,))
    targets = _Ring(cfg.buffer_size, obs=(obs_dim,), returns=())
    episodes: list[list[tuple[np.ndarray, float]]] = [[] for _ in range(E)]
    result = TrainResult(config=cfg, modules={"model": model, "value": value})
    tracker = EpisodeTracker(E)
    times = {"env": 0.0, "inference": 0.0, "update": 0.0}
    start_time = time.perf_counter()

    obs, _ = env.reset(seed=seed)
    global_step, plans, step = 0, 0, 0
    while global_step < cfg.total_timesteps:
        t0 = time.perf_counter()
        if global_step < cfg.seed_steps:
            action = rng.uniform(space.low, space.high, size=(E, act_dim)).astype(np.float32)
        else:
            v = value if cfg.use_value else None
            action = plan_actions(model, v, obs, planner, space.low, space.high, seed=seed, round=plans)
            plans += 1
            action = np.clip(action + cfg.exploration_noise * rng.standard_normal(action.shape), space.low, space.high)
            action = action.astype(np.float32)
        t1 = time.perf_counter()
        next_obs, rewards, terms, truncs, _ = env.step(action.reshape(E, *space.shape))
        t2 = time.perf_counter()
        times["inference"] += t1 - t0
        times["env"] += t2 - t1
        global_step += E
        step += 1
        valid = tracker.step(rewards, terms, truncs, global_step)
        ok = np.flatnonzero(valid)
        transitions.add(
            obs=obs[ok], actions=action[ok], rewards=np.asarray(rewards)[ok], next_obs=np.asarray(next_obs)[ok]
        )
        for i in ok:
            episodes[i].append((np.array(obs[i]), float(rewards[i])))
            if terms[i] or truncs[i]:
                boot = 0.0
                if not terms[i]:
                    with torch.no_grad():
                        boot = float(value(torch.as_tensor(next_obs[i : i + 1], dtype=torch.float32))[0, 0])
                ep_obs = np.stack([o for o, _ in episodes[i]])
                g = discounted_returns(np.array([r for _, r in episodes[i]]), cfg.gamma, boot)
                targets.add(obs=ep_obs, returns=g)
                episodes[i] = []
        obs = next_obs
        if global_step >= min(cfg.seed_steps, cfg.total_timesteps) and step % cfg.train_every == 0:
            t3 = time.perf_counter()
            info: dict[str, float] = {}
            for _ in range(cfg.model_steps):
                b = transitions.sample(cfg.batch_size, rng)
                loss, info = model.loss(b["obs"], b["actions"], b["rewards"], b["next_obs"], generator=generator)
                model_opt.zero_grad()
                loss.backward()
                model_opt.step()
            for _ in range(cfg.value_steps if targets.size else 0):
                b = targets.sample(cfg.batch_size, rng)
                v_loss = 0.5 * ((value(b["obs"])[:, 0] - b["returns"]) ** 2).mean()
                value_opt.zero_grad()
                v_loss.backward()
                value_opt.step()
                info["value"] = float(v_loss.detach())
            times["update"] += time.perf_counter() - t3
            metrics = {f"losses/{k}": v for k, v in info.items()}
            metrics["global_step"] = global_step
            result.metrics.append(metrics)
            emit(log, global_step, metrics, result)
    return tracker.fill(result, global_step, time.perf_counter() - start_time, times)


__all__ = [
    "VAEPlannerConfig",
    "deterministic_policy",
    "discounted_returns",
    "imagined_returns",
    "plan_actions",
    "train",
]
