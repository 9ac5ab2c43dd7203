"""PlaNet (Hafner et al. 2019, arXiv:1811.04551): an RSSM world model learned from sequence windows, and MPC by
CEM in its latent space.

Loop: `seed_steps` env steps of uniform random actions; then every `train_every` steps per env, `train_steps`
gradient steps of the RSSM loss (nextrl.models.rssm) on `batch_size` windows of `seq_len` steps from the
SequenceReplayBuffer. Acting: the filter state is updated with the executed action and the new observation
(obs_step, is_first on the first observation of an episode), CEM plans over [horizon, action_dim] sequences from
it (every env is one problem; candidates are scored by the model's imagine_returns: rewards read off the state
after each action, times the product of the continue probabilities), the first action of the plan plus Gaussian
exploration noise (PlaNet: std 0.3) is executed. The latent rollouts run in C++ (planner_backend "cpp": the RSSM
exported to nextrl.planning.latent after every training phase) or through the planners' torch path ("torch").
PlaNet's planner re-initializes its belief to N(0, 1) (init_std 0.5 of the box width [-1, 1]) at every step; the
latent rollouts use the prior's mean (sample=False; categorical latents: the mode).

Discrete action spaces (an extension of the paper): the RSSM takes one-hot actions [n], CategoricalCEM plans over
[horizon] action-index sequences (a categorical distribution per step, uniform at every plan, refit to the elites
with momentum `categorical_alpha`), the C++ latent model takes the indices (LatentModel.from_rssm(num_actions=n)),
and exploration is epsilon-greedy (`epsilon`) instead of Gaussian noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, seeded
from nextrl.agents.offpolicy import box_bounds
from nextrl.agents.replay import SequenceReplayBuffer
from nextrl.agents.rollout import check_env
from nextrl.models.conv import observation_input
from nextrl.models.rssm import RSSM, RSSMConfig, model_batch
from nextrl.planning.latent import LatentModel
from nextrl.planning.optimizers import CEM, CategoricalCEM, _check_int, _check_real


@dataclass(frozen=True)
class PlaNetConfig:
    total_timesteps: int = 100_000
    """environment steps summed over all envs"""
    seed_steps: int = 5_000
    """initial steps (summed over envs) with uniform random actions, before any training"""
    pretrain_steps: int = 0
    """gradient steps once the seed phase ends, before the first plan (DreamerV1's `pretrain`; PlaNet 0)"""
    train_every: int = 100
    """env steps per env between training phases"""
    train_steps: int = 100
    """gradient steps per training phase (PlaNet: 100 per collected episode)"""
    batch_size: int = 50
    """windows per gradient step (PlaNet 50)"""
    seq_len: int = 50
    """steps per window (PlaNet 50); must not exceed the steps stored per env"""
    lr: float = 1e-3
    """Adam step size (PlaNet 1e-3, eps 1e-4)"""
    grad_clip: float = 1000.0
    """gradient-norm clip (PlaNet 1000)"""
    buffer_size: int = 1_000_000
    """steps kept in replay, summed over envs"""
    model: RSSMConfig = field(default_factory=lambda: RSSMConfig(kl_mode="free_nats", free_nats=3.0))
    """the world model (PlaNet: Gaussian latent, free nats 3 on the total KL)"""
    horizon: int = 12
    """planning horizon (PlaNet 12)"""
    population: int = 1000
    """CEM candidates per iteration (PlaNet 1000)"""
    num_elites: int = 100
    """CEM top candidates (PlaNet 100)"""
    iterations: int = 10
    """CEM iterations (PlaNet 10)"""
    gamma: float = 1.0
    """discount of the imagined returns"""
    exploration_noise: float = 0.3
    """std of the Gaussian noise added to planned actions while collecting, in action units (PlaNet 0.3)"""
    epsilon: float = 0.1
    """discrete actions: probability of a uniform random action instead of the planned one while collecting"""
    categorical_alpha: float = 0.1
    """discrete actions: CategoricalCEM's momentum, p <- alpha p + (1 - alpha) elite frequencies"""
    planner_backend: str = "cpp"
    """"cpp": latent CEM through the C++ latent rollout model (nextrl.planning.latent); "torch": the planners' torch
    path over the RSSM modules (the same plan to float tolerance)"""

    def __post_init__(self):
        if isinstance(self.pretrain_steps, bool) or not isinstance(self.pretrain_steps, int) or self.pretrain_steps < 0:
            raise ValueError(f"PlaNetConfig: pretrain_steps must be an int >= 0, got {self.pretrain_steps!r}")
        for name in ("total_timesteps", "train_every", "train_steps", "batch_size", "seq_len", "buffer_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"PlaNetConfig: {name} must be an int >= 1, got {v!r}")
        if isinstance(self.seed_steps, bool) or not isinstance(self.seed_steps, int) or self.seed_steps < 0:
            raise ValueError(f"PlaNetConfig: seed_steps must be an int >= 0, got {self.seed_steps!r}")
        if not self.exploration_noise >= 0:
            raise ValueError(f"PlaNetConfig: exploration_noise must be >= 0, got {self.exploration_noise}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"PlaNetConfig: epsilon must be in [0, 1], got {self.epsilon}")
        if not self.lr > 0:
            raise ValueError(f"PlaNetConfig: lr must be > 0, got {self.lr}")
        if self.planner_backend not in ("cpp", "torch"):
            raise ValueError(f"PlaNetConfig: planner_backend must be 'cpp' or 'torch', got {self.planner_backend!r}")
        for name in ("horizon", "population", "num_elites", "iterations"):  # named as here, not as the planner's
            _check_int("PlaNetConfig", name, getattr(self, name))
        if self.num_elites > self.population:
            raise ValueError(
                f"PlaNetConfig: num_elites must be <= population = {self.population}, got {self.num_elites}"
            )
        _check_real("PlaNetConfig", "categorical_alpha", self.categorical_alpha, 0.0, 1.0)
        _check_real("PlaNetConfig", "gamma", self.gamma, 0.0)
        self.planner()  # the planners' own checks, passed by the above
        self.planner(discrete=True)

    def planner(self, discrete: bool = False) -> CEM | CategoricalCEM:
        """The latent planner: CEM over the action box, or CategoricalCEM over action indices (discrete)."""
        if discrete:
            return CategoricalCEM(
                self.horizon, self.population, self.num_elites, self.iterations, self.categorical_alpha, self.gamma
            )
        return CEM(self.horizon, self.population, self.num_elites, self.iterations, 0.0, self.gamma, 0.5)


def plan_actions(
    model: RSSM,
    state: dict[str, torch.Tensor],
    planner: CEM | CategoricalCEM,
    low,
    high,
    *,
    seed: int,
    round: int,
    latent: LatentModel | None = None,
) -> np.ndarray:
    """CEM in latent space from the filtered states [B, ...] of B envs; returns the first actions [B, action_dim].
    A CategoricalCEM planner (discrete actions, `model` trained on one-hot actions [n]; low / high unused) returns
    the first action indices [B] (int64).
    latent: `model` exported by LatentModel.from_rssm (the C++ path; num_actions=n when discrete), or None for the
    torch path."""
    discrete = isinstance(planner, CategoricalCEM)
    n = model.action_dim
    if discrete and latent is not None and latent.num_actions != n:
        raise ValueError(
            f"plan_actions: a CategoricalCEM planner needs the latent model exported with num_actions={n} "
            f"(LatentModel.from_rssm(model, num_actions={n})), got num_actions={latent.num_actions}"
        )
    if latent is not None:
        latent.set_states(state, seed=seed, round=round)
        if discrete:
            return planner.plan(latent, seed=seed, round=round).actions[:, 0, 0].astype(np.int64)
        return planner.plan(latent, low=low, high=high, seed=seed, round=round).actions[:, 0]
    B = state["deter"].shape[0]
    start = {k: state[k] for k in ("deter", "stoch")}

    def objective(actions: torch.Tensor) -> torch.Tensor:  # [B * R, H, A], problem-major
        rows = actions.shape[0] // B
        s = {k: v.repeat_interleave(rows, 0) for k, v in start.items()}
        if discrete:  # [B * R, H, 1] action indices -> one-hot
            actions = torch.nn.functional.one_hot(actions[..., 0].long(), n).float()
        return model.imagine_returns(s, actions, gamma=planner.gamma)

    with torch.no_grad():
        if discrete:
            res = planner.plan(objective, num_actions=n, num_problems=B, seed=seed, round=round, dtype=torch.float32)
            return res.actions[:, 0, 0].numpy().astype(np.int64)
        res = planner.plan(objective, low=low, high=high, num_problems=B, seed=seed, round=round, dtype=torch.float32)
    return res.actions[:, 0].numpy()


def update(model: RSSM, opt: torch.optim.Optimizer, batch: dict, cfg: PlaNetConfig, generator) -> dict[str, float]:
    loss, info, _ = model.loss(batch, generator=generator)
    opt.zero_grad()
    loss.backward()
    info["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
    opt.step()
    return info


def train(env: gym.vector.VectorEnv, cfg: PlaNetConfig = PlaNetConfig(), *, seed: int, log: LogFn | None = None):
    """Trains PlaNet on a vector env (NEXT_STEP autoreset) with a Box or Discrete action space and vector
    observations [obs_dim] or float images (C, H, W) (the RSSM's conv encoder and decoder, cfg.model.cnn_depth).
    The world model is result.modules["model"]."""
    env = check_env("planet.train", env)
    space = env.single_action_space
    discrete = isinstance(space, gym.spaces.Discrete)
    if not discrete:
        if not isinstance(space, gym.spaces.Box):
            raise TypeError(f"planet.train: env must have a Box or Discrete action space, got {space}")
        space = box_bounds("planet.train", env)
    obs_space = env.single_observation_space
    E = env.num_envs
    obs_dim = observation_input("planet.train", obs_space)  # images: the RSSM's conv encoder / decoder
    act_dim = int(space.n) if discrete else int(np.prod(space.shape))  # discrete: one-hot actions into the RSSM
    steps_per_env = max(1, cfg.buffer_size // E)
    if cfg.seq_len + 1 > steps_per_env:
        raise ValueError(
            f"planet.train: seq_len + 1 ({cfg.seq_len + 1}) must be <= the steps stored per env "
            f"(buffer_size // num_envs = {steps_per_env})"
        )
    planner = cfg.planner(discrete)
    with seeded(seed, "planet.train") as generator:
        rng = np.random.default_rng(seed)
        model = RSSM(obs_dim, act_dim, cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=1e-4)
    buffer = SequenceReplayBuffer(cfg.buffer_size, obs_space.shape, (act_dim,), num_envs=E)
    result = TrainResult(config=cfg, modules={"model": model})
    tracker = EpisodeTracker(E)
    times = {"env": 0.0, "inference": 0.0, "update": 0.0}
    start_time = time.perf_counter()

    obs, _ = env.reset(seed=seed)
    state = model.initial(E)
    prev_action = torch.zeros(E, act_dim)
    is_first = torch.ones(E, dtype=torch.bool)
    prev_done = np.zeros(E, dtype=bool)
    global_step, plans, step, pretrained = 0, 0, 0, False
    latent = None
    while global_step < cfg.total_timesteps:
        t0 = time.perf_counter()
        with torch.no_grad():
            embed = model.encode(torch.as_tensor(obs, dtype=torch.float32))
            state, _ = model.obs_step(state, prev_action, embed, is_first, generator=generator, sample=False)
        if discrete:
            if global_step < cfg.seed_steps:
                index = rng.integers(act_dim, size=E)
            else:
                if cfg.planner_backend == "cpp" and latent is None:
                    latent = LatentModel.from_rssm(model, num_actions=act_dim)  # the last training phase's weights
                index = plan_actions(model, state, planner, None, None, seed=seed, round=plans, latent=latent)
                plans += 1
                explore = rng.random(E) < cfg.epsilon
                index = np.where(explore, rng.integers(act_dim, size=E), index)
            action = np.eye(act_dim, dtype=np.float32)[index]
            env_action = (index + int(space.start)).astype(space.dtype)
        else:
            if global_step < cfg.seed_steps:
                action = rng.uniform(space.low, space.high, size=(E, act_dim)).astype(np.float32)
            else:
                if cfg.planner_backend == "cpp" and latent is None:
                    latent = LatentModel.from_rssm(model)  # the weights of the last training phase
                action = plan_actions(
                    model, state, planner, space.low, space.high, seed=seed, round=plans, latent=latent
                )
                plans += 1
                action = action + cfg.exploration_noise * rng.standard_normal(action.shape)
                action = np.clip(action, space.low, space.high).astype(np.float32)
            env_action = action.reshape(E, *space.shape)
        t1 = time.perf_counter()
        next_obs, rewards, terms, truncs, _ = env.step(env_action)
        t2 = time.perf_counter()
        times["inference"] += t1 - t0
        times["env"] += t2 - t1
        valid = tracker.step(rewards, terms, truncs, global_step)
        buffer.add(obs, action, rewards, terms, truncs, valid)
        is_first = torch.as_tensor(prev_done)  # this step was a reset step: next_obs starts an episode
        prev_done = (np.asarray(terms) | np.asarray(truncs)) & valid
        prev_action = torch.as_tensor(action)
        obs = next_obs
        global_step += E
        step += 1
        ready = global_step >= cfg.seed_steps and len(buffer) // E > cfg.seq_len
        pretrain = cfg.pretrain_steps if ready and not pretrained else 0
        if ready and (pretrain or step % cfg.train_every == 0):
            pretrained = True
            t3 = time.perf_counter()
            for _ in range(pretrain + cfg.train_steps):
                batch = model_batch(buffer.sample(cfg.batch_size, cfg.seq_len + 1, rng), act_dim)
                info = update(model, opt, batch, cfg, generator)
            latent = None
            times["update"] += time.perf_counter() - t3
            metrics = {f"losses/{k}": v for k, v in info.items()}
            metrics["global_step"] = global_step
            result.metrics.append(metrics)
            emit(log, global_step, metrics, result)
    return tracker.fill(result, global_step, time.perf_counter() - start_time, times)


__all__ = ["PlaNetConfig", "plan_actions", "train", "update"]
