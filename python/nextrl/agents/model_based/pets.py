"""PETS: probabilistic ensembles with trajectory sampling (Chua et al. 2018, "Deep reinforcement learning in a
handful of trials using probabilistic dynamics models").

Loop: `init_steps` env steps of uniform random actions, then every `train_every` env steps the ensemble
(nextrl.planning.GaussianEnsemble: E members, Gaussian heads with learned soft log-variance bounds, input
normalization) is refit by Gaussian NLL on bootstrap resamples of all data so far, exported to the C++ rollout
model (csrc/planning/learned_model.h) and used by MPC: every step, one CEM / iCEM / MPPI plan for all envs at once
(one problem per env, from its current observation) through P particles (TS-1 or TS-inf), the first action
executed and the mean kept, shifted by one step, as the next plan's warm start (PlaNet / mbrl-lib's
`keep_last_solution`).

The reward is a known function of (s, a, s') ("pendulum", "cartpole", "quadratic" with q, r, max_norm, as Chua et
al. give the reward to the planner) or a learned head (reward="head"). Observations are the model's states (the
shipped control envs are fully observed). The env: a Gymnasium vector env with a Box action space, in NEXT_STEP
(a step after a done only resets: its transition is skipped) or SAME_STEP autoreset mode (the true next
observation is info["final_obs"]).

The ensemble learns normalized targets (GaussianEnsemble.fit); Janner et al. 2019's holdout, early stopping and elites
are options (num_elites, holdout_ratio, max_epochs_since_update; off by default, as Chua et al. plan through every
member): with them the planner's C++ model holds only the elites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from gymnasium import spaces

from nextrl._checks import check_seed
from nextrl.planning import CEM, ICEM, MPPI, GaussianEnsemble, LearnedModel
from nextrl.planning.ensemble import check_first_holdout, check_max_torque, env_max_torque


@dataclass(frozen=True)
class PETSConfig:
    total_steps: int = 5000
    """env steps in all (summed over envs)"""
    init_steps: int = 200
    """random-action env steps before the first model"""
    train_every: int = 200
    """env steps between refits (an episode of Pendulum)"""
    members: int = 5
    hidden: tuple[int, ...] = (200, 200, 200)
    activation: str = "silu"
    updates: int = 1000
    """gradient steps per refit (as many epochs over the data as that takes, at least one)"""
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 5e-5
    particles: int = 20
    propagation: str = "ts1"
    planner: CEM | ICEM | MPPI = field(default_factory=lambda: CEM(horizon=25, population=400, num_elites=40))
    reward: str = "pendulum"
    """named reward of the planner (nextrl.planning.ensemble: pendulum, cartpole, quadratic) or "head" (learned)"""
    q: tuple[float, ...] | None = None
    r: tuple[float, ...] | None = None
    max_norm: float = math.inf
    max_torque: float | None = None
    """pendulum reward: the torque the action cost is clipped to (finite, > 0); None takes the env's
    (PendulumVectorEnv's config.max_torque, else a symmetric 1-D action box's bound: Gymnasium's 2)"""
    normalize_targets: bool = True
    """the ensemble learns normalized targets (next-state deltas and rewards scaled by their mean and std)"""
    num_elites: int | None = None
    """plan through only the members of lowest holdout loss (Janner et al. 2019's elites; Chua et al. use all, the
    default None); needs holdout_ratio > 0"""
    holdout_ratio: float = 0.0
    """fraction of the data held out of each refit to rank the members (and stop early), in [0, 1)"""
    max_epochs_since_update: int | None = None
    """early stopping on the holdout loss (GaussianEnsemble.fit); None trains every epoch"""


@dataclass
class PETSResult:
    config: PETSConfig
    ensemble: GaussianEnsemble
    episode_returns: list[float] = field(default_factory=list)
    episode_steps: list[int] = field(default_factory=list)
    """total env steps when each episode ended"""
    train_losses: list[float] = field(default_factory=list)
    """the last epoch's loss of each refit"""


def _check(cfg: PETSConfig) -> None:
    for name in ("total_steps", "train_every", "members", "updates", "batch_size", "particles"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"PETS: {name} must be an int >= 1, got {v!r}")
    if isinstance(cfg.init_steps, bool) or not isinstance(cfg.init_steps, int) or cfg.init_steps < 1:
        raise ValueError(f"PETS: init_steps must be an int >= 1 (the first model needs data), got {cfg.init_steps!r}")
    if not isinstance(cfg.planner, (CEM, ICEM, MPPI)):
        raise TypeError(f"PETS: planner must be a CEM, ICEM or MPPI, got {type(cfg.planner).__name__}")
    if cfg.propagation not in ("ts1", "tsinf"):
        raise ValueError(f"PETS: propagation must be 'ts1' or 'tsinf', got {cfg.propagation!r}")
    k = cfg.num_elites
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= cfg.members):
        raise ValueError(f"PETS: num_elites must be None or an int in [1, members = {cfg.members}], got {k!r}")
    if not 0.0 <= cfg.holdout_ratio < 1.0:
        raise ValueError(f"PETS: holdout_ratio must be in [0, 1), got {cfg.holdout_ratio!r}")
    if cfg.holdout_ratio == 0.0 and ((k is not None and k < cfg.members) or cfg.max_epochs_since_update is not None):
        raise ValueError("PETS: num_elites < members and max_epochs_since_update need holdout_ratio > 0")
    m = cfg.max_epochs_since_update
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 0):
        raise ValueError(f"PETS: max_epochs_since_update must be None or an int >= 0, got {m!r}")
    if (k is not None and k < cfg.members) or m is not None:
        check_first_holdout("PETS", cfg.init_steps, cfg.holdout_ratio, "init_steps")
    if cfg.max_torque is not None:
        check_max_torque("PETS", cfg.max_torque)


class PETS:
    """A PETS agent over a vector env: `act(obs)` plans, `observe(...)` stores transitions, `refit()` trains."""

    def __init__(self, env, cfg: PETSConfig = PETSConfig(), *, seed: int = 0):
        _check(cfg)
        self.seed = check_seed("PETS", seed)
        space = env.single_action_space
        if not isinstance(space, spaces.Box):
            raise TypeError(f"PETS: the env must have a Box action space, got {type(space).__name__}")
        obs_space = env.single_observation_space
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            raise TypeError(f"PETS: the env must have flat Box observations, got {obs_space}")
        self.cfg, self.env = cfg, env
        self.num_envs = int(env.num_envs)
        self.low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        self.high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        self.state_dim, self.action_dim = int(obs_space.shape[0]), int(self.low.shape[0])
        self.max_torque = env_max_torque("PETS", env, cfg.max_torque) if cfg.reward == "pendulum" else 2.0
        """the pendulum reward's max_torque (cfg.max_torque, else the env's)"""
        self.ensemble = GaussianEnsemble(
            self.state_dim,
            self.action_dim,
            members=cfg.members,
            hidden=tuple(cfg.hidden),
            activation=cfg.activation,
            reward_head=cfg.reward == "head",
            seed=self.seed,
        )
        self.model: LearnedModel | None = None
        self.rng = np.random.default_rng(self.seed)
        self.data: dict[str, list] = {"s": [], "a": [], "s2": [], "r": []}
        self.rounds = 0
        self.refits = 0
        self._mid = (self.low + self.high) / 2
        self.reset_plan()

    def reset_plan(self, mask: np.ndarray | None = None) -> None:
        H = self.cfg.planner.horizon
        if mask is None:
            self._mean = np.broadcast_to(self._mid, (self.num_envs, H, self.action_dim)).copy()
        else:
            self._mean[mask] = self._mid

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions [num_envs, action_dim] (float64): uniform random before the first refit, else one plan for all."""
        if self.model is None:
            return self.rng.uniform(self.low, self.high, size=(self.num_envs, self.action_dim))
        self.model.set_states(np.asarray(obs, dtype=np.float32), seed=self.seed, round=self.rounds)
        result = self.cfg.planner.plan(self.model, mean=self._mean, seed=self.seed, round=self.rounds)
        self.rounds += 1
        plan = np.asarray(result.actions)
        mean = np.asarray(result.mean)
        self._mean = np.concatenate([mean[:, 1:], np.broadcast_to(self._mid, (self.num_envs, 1, self.action_dim))], 1)
        return plan[:, 0]

    def observe(self, s, a, s2, r) -> None:
        self.data["s"].append(np.asarray(s, dtype=np.float32))
        self.data["a"].append(np.asarray(a, dtype=np.float32).reshape(len(s), -1))
        self.data["s2"].append(np.asarray(s2, dtype=np.float32))
        self.data["r"].append(np.asarray(r, dtype=np.float32))

    def refit(self) -> float:
        c = self.cfg
        s, a, s2, r = (np.concatenate(self.data[k]) for k in ("s", "a", "s2", "r"))
        epochs = max(1, c.updates // math.ceil((len(s) - int(len(s) * c.holdout_ratio)) / c.batch_size))
        losses = self.ensemble.fit(
            s,
            a,
            s2,
            r if c.reward == "head" else None,
            epochs=epochs,
            batch_size=c.batch_size,
            lr=c.lr,
            weight_decay=c.weight_decay,
            seed=self.seed + self.refits,
            normalize_targets=c.normalize_targets,
            holdout_ratio=c.holdout_ratio,
            num_elites=c.num_elites,
            max_epochs_since_update=c.max_epochs_since_update,
        )
        self.refits += 1
        self.model = LearnedModel.from_torch(
            self.ensemble,
            low=self.low,
            high=self.high,
            reward=c.reward,
            q=c.q,
            r=c.r,
            max_norm=c.max_norm,
            max_torque=self.max_torque,
            particles=c.particles,
            propagation=c.propagation,
        )
        return losses[-1]


def train(env, cfg: PETSConfig = PETSConfig(), *, seed: int) -> PETSResult:
    """Runs PETS on `env` for cfg.total_steps env steps (reset with `seed`) and returns the episodes' returns."""
    seed = check_seed("pets.train", seed)
    torch.manual_seed(seed)
    agent = PETS(env, cfg, seed=seed)
    result = PETSResult(config=cfg, ensemble=agent.ensemble)
    same_step = str(getattr(env, "autoreset_mode", "")).endswith("SAME_STEP")
    obs, _ = env.reset(seed=seed)
    n = agent.num_envs
    ep_ret = np.zeros(n)
    after_done = np.zeros(n, dtype=bool)
    steps = since_fit = 0
    while steps < cfg.total_steps:
        if (agent.model is None and steps >= cfg.init_steps) or (
            agent.model is not None and since_fit >= cfg.train_every
        ):
            result.train_losses.append(agent.refit())
            since_fit = 0
        a = agent.act(obs)
        env_a = a.reshape((n, *env.single_action_space.shape)).astype(env.single_action_space.dtype)
        obs2, r, term, trunc, info = env.step(env_a)
        done = np.asarray(term) | np.asarray(trunc)
        real = ~after_done
        nxt = np.array(obs2, dtype=np.float32, copy=True)
        if same_step and done.any():
            for i in np.flatnonzero(done):
                nxt[i] = info["final_obs"][i]
        if real.any():
            agent.observe(obs[real], a[real], nxt[real], np.asarray(r)[real])
        ep_ret[real] += np.asarray(r, dtype=np.float64)[real]
        steps += int(real.sum())
        since_fit += int(real.sum())
        for i in np.flatnonzero(done & real):
            result.episode_returns.append(float(ep_ret[i]))
            result.episode_steps.append(steps)
            ep_ret[i] = 0.0
        if done.any():
            agent.reset_plan(done)
        after_done = done & real if not same_step else np.zeros(n, dtype=bool)
        obs = obs2
    return result


__all__ = ["PETS", "PETSConfig", "PETSResult", "train"]
