"""MBPO: model-based policy optimization (Janner, Fu, Zhang, Levine 2019, "When to trust your model", arXiv:1906.08253).

SAC (nextrl.agents.sac: its losses, `update`, networks and the shared off-policy loop) trained on a mix of real
transitions and short rollouts of a learned model that branch from real states:

1. `sac.learning_starts` env steps of uniform random actions fill the real buffer D_env.
2. Every `model_train_freq` env steps a probabilistic ensemble (nextrl.planning.GaussianEnsemble: E members,
   Gaussian heads, bootstrap resamples, Gaussian NLL) is refit on all of D_env.
3. Every `rollout_every` env steps, `rollout_batch_size` states are drawn uniformly from D_env and the current
   policy is rolled out from each for k model steps (`rollout_length`, or the linear schedule of Janner et al.
   over env steps); each step samples the next state (and the reward, with the reward head) from one ensemble
   member's Gaussian: with propagation "ts1" a member drawn at random for every rollout and step (as Janner et
   al.'s code and Chua et al.'s TS-1), with "tsinf" one member per rollout for all its steps. A rollout stops at
   the first predicted termination. The transitions go into the model buffer D_model, which keeps the last
   `model_retain` rounds of rollouts.
4. Every env step: `sac.gradient_steps` SAC updates (G, the update-to-data ratio), each on a batch of
   `sac.batch_size` with int(batch_size * real_ratio) transitions from D_env and the rest from D_model (all from
   D_env while D_model is empty), as Janner et al.'s code mixes them.

The reward of a model transition is the ensemble's reward head (reward="head", learned as in MBPO) or a named
function of (s, a, s') (nextrl.planning.ensemble: "pendulum", "cartpole", "quadratic" with q, r, max_norm), which
also gives the terminations (cartpole: pole or cart out of bounds; quadratic: ||s'|| > max_norm). With the head
nothing terminates in the model (Pendulum, the tasks without terminations).

Janner et al.'s model training is available as options (`JANNER_MODEL`: 7 members, 5 elites by holdout loss,
holdout 0.2, early stopping after 5 epochs without a > 1% holdout improvement, each member back to its best epoch;
GaussianEnsemble.fit); the defaults stay 5 members, all used, no holdout (the settings the measured figures below
were taken with). The ensemble learns normalized targets (next-state deltas and rewards scaled by their mean and
std; Janner et al. normalize only the inputs): with a learned reward of a large range (-pos^2 on the point mass
below, rewards down to -1e5) the raw-target NLL grew to 2.4e8; normalized it stays near its floor. That alone does
not make MBPO learn that task with a learned reward: measured (seeds 0 / 1, 300 env steps as the test) the policy
still diverges (returns near -1.4e6) in at least one seed, because the reward head's error near the goal (200 to
3000 on rewards in [-10, 0] once the data span -1e5..0) swamps the signal; with the known reward it learns (the
test's docstring has the figures).

Measured: tests/agents/model_based/test_mbpo.py's docstring (a 1-D point mass, MBPO against SAC alone on the same
env-step budget) and `nextrl run model-based` (Pendulum, 5 seeds, 3000 env steps: MBPO with G = 10 reaches -200 in 2
of 5 seeds, SAC with G = 1 in none; final return IQM -218 [-262, -161] with normalized targets, -429 [-1157, -198]
without; nextrl.experiments.model_based).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents import offpolicy, sac
from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.networks import mlp
from nextrl.agents.offpolicy import box_bounds
from nextrl.agents.offpolicy_nets import EnsembleMLP, LogAlpha, adams, make_target
from nextrl.agents.replay import ReplayBatch, ReplayBuffer
from nextrl.agents.rollout import check_env
from nextrl.planning.ensemble import (
    REWARDS,
    GaussianEnsemble,
    _named_reward,
    check_first_holdout,
    check_max_torque,
    env_max_torque,
)


def _default_sac() -> sac.SACConfig:
    return sac.SACConfig(total_timesteps=5_000, learning_starts=250, gradient_steps=10, hidden=(256, 256))


@dataclass(frozen=True)
class MBPOConfig:
    sac: sac.SACConfig = field(default_factory=_default_sac)
    """the SAC part: total_timesteps, learning_starts (random steps before the first model), gradient_steps (G per
    train_frequency env steps), batch_size, networks, rates, gamma, tau, entropy tuning; buffer_size is D_env's
    capacity; n_step must be 1"""
    model_train_freq: int = 250
    """env steps between two refits of the ensemble (the first at learning_starts)"""
    members: int = 5
    """ensemble size E (Janner et al.: 7)"""
    num_elites: int = 5
    """the members of lowest holdout loss that rollouts draw from (Janner et al.: 5 of 7); needs holdout_ratio > 0
    unless it equals members"""
    holdout_ratio: float = 0.0
    """fraction of D_env held out of each refit to rank the members and stop early (Janner et al.: 0.2), in [0, 1)"""
    max_epochs_since_update: int | None = None
    """early stopping: a refit ends once no member's holdout loss improved by > 1% for more than this many epochs,
    and each member returns to its best epoch (Janner et al.: 5); None trains every epoch"""
    normalize_targets: bool = True
    """the ensemble learns normalized targets (next-state deltas and rewards scaled by their mean and std), so its
    loss does not grow with the reward's scale"""
    model_hidden: tuple[int, ...] = (200, 200, 200)
    """hidden widths of each member"""
    model_activation: str = "silu"
    model_updates: int = 1000
    """gradient steps per refit at most (as many epochs over D_env's training rows as that takes, at least one; early
    stopping may end it sooner)"""
    model_batch_size: int = 256
    model_lr: float = 1e-3
    model_weight_decay: float = 5e-5
    rollout_every: int = 250
    """env steps between two rounds of branched rollouts (each after the refit, if one is due)"""
    rollout_batch_size: int = 400
    """rollouts per round (M), each from a state drawn uniformly from D_env"""
    rollout_length: int = 1
    """k, the model steps of each rollout (unless rollout_schedule is set)"""
    rollout_schedule: tuple[int, int, int, int] | None = None
    """(a, b, k_a, k_b): k rises linearly from k_a at env step a to k_b at env step b, clipped to [k_a, k_b] and
    rounded down (Janner et al.'s schedule, in env steps instead of epochs)"""
    model_retain: int = 20
    """rounds of rollouts D_model keeps (capacity rollout_batch_size * max k * model_retain)"""
    real_ratio: float = 0.05
    """fraction of each SAC batch drawn from D_env, in [0, 1]"""
    propagation: str = "ts1"
    """"ts1": a random member per rollout and step; "tsinf": one random member per rollout"""
    reward: str = "head"
    """the model's reward: "head" (learned) or a named function (pendulum, cartpole, quadratic)"""
    q: tuple[float, ...] | None = None
    """quadratic reward: state weights"""
    r: tuple[float, ...] | None = None
    """quadratic reward: action weights"""
    max_norm: float = math.inf
    """quadratic reward: a model state with ||s'|| above it terminates"""
    max_torque: float | None = None
    """pendulum reward: the torque the action cost is clipped to (finite, > 0); None takes the env's
    (PendulumVectorEnv's config.max_torque, else a symmetric 1-D action box's bound: Gymnasium's 2)"""

    def __post_init__(self):
        fn = "MBPOConfig"
        if not isinstance(self.sac, sac.SACConfig):
            raise TypeError(f"{fn}: sac must be a SACConfig, got {type(self.sac).__name__}")
        if self.sac.n_step != 1:
            raise ValueError(f"{fn}: sac.n_step must be 1 (model transitions are one step), got {self.sac.n_step}")
        for name in (
            "model_train_freq",
            "members",
            "model_updates",
            "model_batch_size",
            "rollout_every",
            "rollout_batch_size",
            "rollout_length",
            "model_retain",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{fn}: {name} must be an int >= 1, got {v!r}")
        if self.rollout_schedule is not None:
            s = tuple(self.rollout_schedule)
            if len(s) != 4 or any(isinstance(x, bool) or not isinstance(x, int) for x in s):
                raise ValueError(
                    f"{fn}: rollout_schedule must be 4 ints (a, b, k_a, k_b), got {self.rollout_schedule!r}"
                )
            a, b, ka, kb = s
            if not (0 <= a < b and 1 <= ka <= kb):
                raise ValueError(f"{fn}: rollout_schedule needs 0 <= a < b and 1 <= k_a <= k_b, got {s}")
        if isinstance(self.num_elites, bool) or not isinstance(self.num_elites, int):
            raise ValueError(f"{fn}: num_elites must be an int, got {self.num_elites!r}")
        if not 1 <= self.num_elites <= self.members:
            raise ValueError(f"{fn}: num_elites must be in [1, members = {self.members}], got {self.num_elites}")
        if not 0.0 <= self.holdout_ratio < 1.0:
            raise ValueError(f"{fn}: holdout_ratio must be in [0, 1), got {self.holdout_ratio!r}")
        if self.holdout_ratio == 0.0 and (self.num_elites < self.members or self.max_epochs_since_update is not None):
            raise ValueError(
                f"{fn}: num_elites < members and max_epochs_since_update need holdout_ratio > 0 (the holdout ranks "
                "the members and stops training); set holdout_ratio, or num_elites = members and "
                "max_epochs_since_update = None"
            )
        m = self.max_epochs_since_update
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 0):
            raise ValueError(f"{fn}: max_epochs_since_update must be None or an int >= 0, got {m!r}")
        if self.num_elites < self.members or m is not None:
            # the first refit comes at env step learning_starts + 1, on that many transitions with one env
            check_first_holdout(
                fn,
                min(self.sac.learning_starts, self.sac.buffer_size - 1),
                self.holdout_ratio,
                "sac.learning_starts",
                1,
            )
        if not 0.0 <= self.real_ratio <= 1.0:
            raise ValueError(f"{fn}: real_ratio must be in [0, 1], got {self.real_ratio!r}")
        if self.propagation not in ("ts1", "tsinf"):
            raise ValueError(f"{fn}: propagation must be 'ts1' or 'tsinf', got {self.propagation!r}")
        if self.reward not in REWARDS:
            raise ValueError(f"{fn}: reward must be one of {REWARDS}, got {self.reward!r}")
        if self.reward == "quadratic" and (self.q is None or self.r is None):
            raise ValueError(f"{fn}: reward 'quadratic' needs q and r")
        if self.max_torque is not None:
            check_max_torque(fn, self.max_torque)


JANNER_MODEL = {"members": 7, "num_elites": 5, "holdout_ratio": 0.2, "max_epochs_since_update": 5}
"""Janner et al. 2019's model-training settings: MBPOConfig(**JANNER_MODEL, ...)"""


def rollout_length(cfg: MBPOConfig, global_step: int) -> int:
    """k at env step `global_step`: cfg.rollout_length, or the schedule min(max(k_a + (t - a) / (b - a) * (k_b -
    k_a), k_a), k_b) rounded down."""
    if cfg.rollout_schedule is None:
        return cfg.rollout_length
    a, b, ka, kb = cfg.rollout_schedule
    return int(min(max(ka + (global_step - a) / (b - a) * (kb - ka), ka), kb))


def max_rollout_length(cfg: MBPOConfig) -> int:
    return cfg.rollout_length if cfg.rollout_schedule is None else cfg.rollout_schedule[3]


@dataclass
class Rollouts:
    """Branched model rollouts of M rollouts and k steps."""

    obs: Tensor
    """[k, M, S] float32: the state each step starts from (row t = 0: the real start states)"""
    actions: Tensor
    """[k, M, A] float32: the policy's actions"""
    rewards: Tensor
    """[k, M] float32"""
    next_obs: Tensor
    """[k, M, S] float32: the sampled next states"""
    terminations: Tensor
    """[k, M] bool: the model predicts a termination at this step"""
    alive: Tensor
    """[k, M] bool: the rollout had not terminated before this step (its transition is real model data)"""
    members: Tensor
    """[k, M] int64: the ensemble member that produced each step"""
    starts: np.ndarray
    """[M] int64: the D_env slots the rollouts branch from"""


def branched_rollouts(
    ensemble: GaussianEnsemble,
    policy,
    buffer: ReplayBuffer,
    num_rollouts: int,
    length: int,
    *,
    rng: np.random.Generator,
    generator: torch.Generator,
    propagation: str = "ts1",
    reward: str = "head",
    q=None,
    r=None,
    max_norm: float = math.inf,
    max_torque: float = 2.0,
) -> Rollouts:
    """`num_rollouts` rollouts of `length` model steps from states drawn uniformly (with replacement, by `rng`) from
    the first len(buffer) slots of `buffer`; policy(obs [M, S]) -> actions [M, A] (torch, no grad). Members (uniform
    over ensemble.elites) and Gaussian noise come from `generator`."""
    if len(buffer) == 0:
        raise ValueError("branched_rollouts: the real buffer is empty; add transitions first")
    S, elites, M = ensemble.state_dim, ensemble.elites, num_rollouts
    starts = rng.integers(0, len(buffer), size=M)
    s = torch.from_numpy(buffer.obs[starts].reshape(M, S))
    if propagation == "ts1":
        members = elites[torch.randint(0, len(elites), (length, M), generator=generator)]
    else:
        members = elites[torch.randint(0, len(elites), (1, M), generator=generator)].expand(length, M).clone()
    rows = torch.arange(M)
    out = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "terminations", "alive")}
    alive = torch.ones(M, dtype=torch.bool)
    with torch.no_grad():
        for t in range(length):
            a = policy(s).reshape(M, -1).float()
            mean, lv = ensemble(s[None], a[None])  # [E, M, O]
            y = mean[members[t], rows]
            if lv is not None:
                y = y + torch.exp(0.5 * lv[members[t], rows]) * torch.randn(y.shape, generator=generator)
            s2 = s + y[:, :S]
            if reward == "head":
                rew, term = y[:, S], torch.zeros(M, dtype=torch.bool)
            else:
                rew, term = _named_reward(reward, s, a, s2, q, r, max_norm, max_torque)
            for key, v in (("obs", s), ("actions", a), ("rewards", rew.float()), ("next_obs", s2)):
                out[key].append(v)
            out["terminations"].append(term)
            out["alive"].append(alive.clone())
            alive &= ~term
            s = s2
    stacked = {k: torch.stack(v) for k, v in out.items()}
    return Rollouts(**stacked, members=members, starts=starts)


def store_rollouts(model_buffer: ReplayBuffer, rollouts: Rollouts) -> int:
    """Adds the alive transitions of `rollouts` to D_model (one row per rollout: num_envs = M); returns how many."""
    k, M = rollouts.rewards.shape
    no_trunc = np.zeros(M, dtype=bool)
    for t in range(k):
        model_buffer.add(
            rollouts.obs[t].numpy().reshape(M, *model_buffer.obs_shape),
            rollouts.actions[t].numpy().reshape(M, *model_buffer.action_shape),
            rollouts.rewards[t].numpy(),
            rollouts.next_obs[t].numpy().reshape(M, *model_buffer.obs_shape),
            rollouts.terminations[t].numpy(),
            no_trunc,
            rollouts.alive[t].numpy(),
        )
    return int(rollouts.alive.sum())


def real_count(batch_size: int, real_ratio: float, model_size: int) -> int:
    """Rows of a SAC batch drawn from D_env: int(batch_size * real_ratio), or all of them while D_model is empty."""
    return batch_size if model_size == 0 else int(batch_size * real_ratio)


def mixed_batch(
    real: ReplayBuffer, model: ReplayBuffer, batch_size: int, real_ratio: float, rng: np.random.Generator
) -> ReplayBatch:
    """A SAC batch: real_count(...) uniform draws from D_env first, then the rest from D_model."""
    n_real = real_count(batch_size, real_ratio, len(model))
    parts = [real.sample(n_real, rng)] if n_real else []
    if n_real < batch_size:
        parts.append(model.sample(batch_size - n_real, rng))
    if len(parts) == 1:
        return parts[0]
    a, b = parts
    return ReplayBatch(
        *(torch.cat([getattr(a, f), getattr(b, f)]) for f in ("obs", "actions", "rewards", "next_obs")),
        terminations=torch.cat([a.terminations, b.terminations]),
        discounts=torch.cat([a.discounts, b.discounts]),
        weights=torch.cat([a.weights, b.weights]),
        indices=np.concatenate([a.indices, b.indices]),
    )


def train(
    env: gym.vector.VectorEnv, cfg: MBPOConfig = MBPOConfig(), *, seed: int, log: LogFn | None = None
) -> TrainResult:
    """Trains MBPO on a Box-action vector env with flat Box observations; result.modules holds SAC's networks
    (as sac.train) and the ensemble ("ensemble"). Each update's metrics add losses/model (the last refit's final
    epoch loss), charts/rollout_length and charts/model_buffer (transitions in D_model)."""
    fn = "mbpo.train"
    if not isinstance(cfg, MBPOConfig):
        raise TypeError(f"{fn}: cfg must be an MBPOConfig, got {type(cfg).__name__}")
    env = check_env(fn, env)
    space = box_bounds(fn, env)
    obs_space = env.single_observation_space
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise TypeError(f"{fn}: env must have flat Box observations, got {obs_space}")
    max_torque = env_max_torque(fn, env, cfg.max_torque) if cfg.reward == "pendulum" else 2.0
    sc = cfg.sac
    num_envs = env.num_envs
    obs_dim, act_dim = int(obs_space.shape[0]), int(np.prod(space.shape))
    low, high = torch.as_tensor(space.low, dtype=torch.float32), torch.as_tensor(space.high, dtype=torch.float32)
    scale, bias = (high - low).reshape(-1) / 2, (high + low).reshape(-1) / 2
    target_entropy = float(-act_dim if sc.target_entropy is None else sc.target_entropy)
    with seeded(seed, fn) as generator:
        rng = np.random.default_rng(seed)
        actor = mlp(obs_dim, 2 * act_dim, sc.hidden, activation=nn.ReLU)
        critic = EnsembleMLP(obs_dim + act_dim, 1, 2, sc.hidden)
        critic_target = make_target(critic, None, fn, "critic")
    ensemble = GaussianEnsemble(
        obs_dim,
        act_dim,
        members=cfg.members,
        hidden=tuple(cfg.model_hidden),
        activation=cfg.model_activation,
        reward_head=cfg.reward == "head",
        seed=seed,
    )
    log_alpha = LogAlpha(sc.alpha)
    optimizers = adams(
        fn,
        sc.param_lrs,
        {
            "actor": ({"actor": actor}, sc.policy_lr),
            "critic": ({"critic": critic}, sc.q_lr),
            "alpha": ({"log_alpha": log_alpha}, sc.q_lr),
        },
    )
    buffer = ReplayBuffer(sc.buffer_size, obs_space.shape, space.shape, num_envs=num_envs, gamma=sc.gamma)
    model_buffer = ReplayBuffer(
        cfg.rollout_batch_size * max_rollout_length(cfg) * cfg.model_retain,
        obs_space.shape,
        space.shape,
        num_envs=cfg.rollout_batch_size,
        gamma=sc.gamma,
    )
    result = TrainResult(
        config=cfg,
        modules={
            "actor": actor,
            "critic": critic,
            "critic_target": critic_target,
            "log_alpha": log_alpha,
            "ensemble": ensemble,
        },
    )
    state = {"fit_step": None, "rollout_step": None, "refits": 0, "model_loss": math.nan, "k": 0}

    def sample_actions(obs: Tensor) -> Tensor:
        mean, log_std = sac.gaussian_params(actor(obs))
        noise = torch.randn(len(obs), act_dim, generator=generator)
        return sac.squashed_gaussian(mean, log_std, noise, scale, bias)[0]

    def act(obs: np.ndarray, global_step: int) -> np.ndarray:
        if global_step <= sc.learning_starts:
            return rng.uniform(space.low, space.high, size=(num_envs, *space.shape)).astype(np.float32)
        with torch.no_grad():
            a = sample_actions(torch.as_tensor(obs, dtype=torch.float32).reshape(num_envs, -1))
        return a.numpy().reshape(num_envs, *space.shape)

    def refit() -> None:
        n = len(buffer)
        if (cfg.num_elites < cfg.members or cfg.max_epochs_since_update is not None) and int(n * cfg.holdout_ratio) < 1:
            raise ValueError(  # episode ends before learning_starts (their reset steps are not stored) left too few
                f"mbpo.train: the first model fit has {n} transitions, too few for a holdout of holdout_ratio "
                f"{cfg.holdout_ratio} (num_elites < members, max_epochs_since_update); raise sac.learning_starts"
            )
        s, a, s2 = buffer.obs[:n], buffer.actions[:n].reshape(n, -1), buffer.next_obs[:n]
        epochs = max(1, cfg.model_updates // math.ceil((n - int(n * cfg.holdout_ratio)) / cfg.model_batch_size))
        losses = ensemble.fit(
            s,
            a,
            s2,
            buffer.rewards[:n] if cfg.reward == "head" else None,
            epochs=epochs,
            batch_size=cfg.model_batch_size,
            lr=cfg.model_lr,
            weight_decay=cfg.model_weight_decay,
            seed=seed + state["refits"],
            normalize_targets=cfg.normalize_targets,
            holdout_ratio=cfg.holdout_ratio,
            num_elites=cfg.num_elites,
            max_epochs_since_update=cfg.max_epochs_since_update,
        )
        state["refits"] += 1
        state["model_loss"] = losses[-1]

    def learn(num_updates: int, global_step: int) -> dict[str, float]:
        if state["fit_step"] is None or global_step - state["fit_step"] >= cfg.model_train_freq:
            refit()
            state["fit_step"] = global_step
        if state["rollout_step"] is None or global_step - state["rollout_step"] >= cfg.rollout_every:
            state["k"] = rollout_length(cfg, global_step)
            rollouts = branched_rollouts(
                ensemble,
                sample_actions,
                buffer,
                cfg.rollout_batch_size,
                state["k"],
                rng=rng,
                generator=generator,
                propagation=cfg.propagation,
                reward=cfg.reward,
                q=cfg.q,
                r=cfg.r,
                max_norm=cfg.max_norm,
                max_torque=max_torque,
            )
            store_rollouts(model_buffer, rollouts)
            state["rollout_step"] = global_step
        batch = mixed_batch(buffer, model_buffer, sc.batch_size, cfg.real_ratio, rng)
        b = sc.batch_size
        batch.obs, batch.next_obs = batch.obs.reshape(b, -1), batch.next_obs.reshape(b, -1)
        batch.actions = batch.actions.reshape(b, -1)
        metrics = sac.update(
            actor,
            critic,
            critic_target,
            log_alpha.value,
            optimizers,
            batch,
            sc,
            scale,
            bias,
            target_entropy,
            generator,
            update_actor=num_updates % sc.policy_frequency == 0,
        )
        metrics["losses/model"] = state["model_loss"]
        metrics["charts/rollout_length"] = float(state["k"])
        metrics["charts/model_buffer"] = float(len(model_buffer))
        return metrics

    return offpolicy.run(
        env,
        result,
        buffer,
        act,
        learn,
        seed=seed,
        total_timesteps=sc.total_timesteps,
        learning_starts=sc.learning_starts,
        train_frequency=sc.train_frequency,
        gradient_steps=sc.gradient_steps,
        log=log,
    )


__all__ = [
    "JANNER_MODEL",
    "MBPOConfig",
    "Rollouts",
    "branched_rollouts",
    "max_rollout_length",
    "mixed_batch",
    "real_count",
    "rollout_length",
    "store_rollouts",
    "train",
]
