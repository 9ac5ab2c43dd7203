"""A model-predictive agent on a (causal or non-causal) transition model: random-shooting MPC with a
cross-entropy refinement (CEM, Rubinstein 1999; the planner of PETS, Chua et al. 2018, arXiv:1805.12114).

At every step it samples `num_candidates` action sequences of length `horizon` per env, rolls each out with
the model's mean prediction (causal.world_model.TransitionModel.predict), scores them with the known reward,
refits a Gaussian to the `num_elites` best for `iterations` rounds, and executes the first action of the best
sequence found. `train` is the whole agent: random-policy transitions from the env, a model fitted on them
with the given graph (the true one, a discovered one, or "full" for the non-causal baseline), then planning.
The same planner on the two models is the honest comparison: only the model's structure differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextrl.causal.counterfactual import RewardFn, TerminatedFn, collect_episodes
from nextrl.causal.world_model import (
    THRUST_ACTIONS,
    THRUST_STATES,
    TransitionModel,
    causal_thrust_reward,
    causal_thrust_terminated,
    fit_world_model,
)


@dataclass(frozen=True)
class MPCConfig:
    horizon: int = 10
    """planning horizon in steps"""
    num_candidates: int = 64
    """action sequences sampled per env and round"""
    num_elites: int = 8
    """best sequences the next round's Gaussian is fitted to"""
    iterations: int = 2
    """CEM rounds (1: plain random shooting)"""
    action_low: float = -1.0
    action_high: float = 1.0
    """bounds of every action component"""

    def __post_init__(self):
        for name in ("horizon", "num_candidates", "num_elites", "iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"MPCConfig: {name} must be >= 1, got {getattr(self, name)}")
        if self.num_elites > self.num_candidates:
            raise ValueError(
                f"MPCConfig: num_elites must be <= num_candidates, got {self.num_elites} > {self.num_candidates}"
            )
        if not self.action_low < self.action_high:
            raise ValueError(
                f"MPCConfig: action_low must be < action_high, got {self.action_low} and {self.action_high}"
            )


def plan(
    model: TransitionModel,
    state: np.ndarray,
    reward_fn: RewardFn,
    cfg: MPCConfig,
    rng: np.random.Generator,
    *,
    terminated_fn: TerminatedFn | None = None,
) -> np.ndarray:
    """The first actions [B, A] of the best planned sequences from states [B, S]."""
    s0 = np.asarray(state, dtype=np.float64)
    b, a_dim, n, h = len(s0), model.num_actions, cfg.num_candidates, cfg.horizon
    lo, hi = cfg.action_low, cfg.action_high
    mean = np.zeros((b, 1, h, a_dim))
    std = np.full((b, 1, h, a_dim), (hi - lo) / 2)
    best_seq, best_ret = np.zeros((b, h, a_dim)), np.full(b, -np.inf)
    for it in range(cfg.iterations):
        if it == 0:
            seqs = rng.uniform(lo, hi, (b, n, h, a_dim))
        else:
            seqs = np.clip(mean + std * rng.standard_normal((b, n, h, a_dim)), lo, hi)
        s = np.repeat(s0, n, axis=0)
        ret = np.zeros(b * n)
        alive = np.ones(b * n, dtype=bool)
        flat = seqs.reshape(b * n, h, a_dim)
        for k in range(h):
            s2 = model.predict(s, flat[:, k])
            ret += np.where(alive, reward_fn(s, flat[:, k], s2), 0.0)
            if terminated_fn is not None:
                alive &= ~np.asarray(terminated_fn(s2), dtype=bool)
            s = s2
        ret = ret.reshape(b, n)
        top = np.argsort(-ret, axis=1)[:, : cfg.num_elites]
        elites = np.take_along_axis(seqs, top[:, :, None, None], axis=1)
        mean, std = elites.mean(1, keepdims=True), elites.std(1, keepdims=True) + 1e-3
        better = ret[np.arange(b), top[:, 0]] > best_ret
        best_ret = np.where(better, ret[np.arange(b), top[:, 0]], best_ret)
        best_seq[better] = seqs[np.arange(b), top[:, 0]][better]
    return best_seq[:, 0]


def mpc_policy(
    model: TransitionModel, reward_fn: RewardFn, cfg: MPCConfig, *, seed: int, terminated_fn: TerminatedFn | None = None
):
    """policy(obs [B, S]) -> actions [B, A] float32 planning with `model`."""
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray) -> np.ndarray:
        return plan(model, obs, reward_fn, cfg, rng, terminated_fn=terminated_fn).astype(np.float32)

    return act


@dataclass(frozen=True)
class CausalAgentConfig:
    num_transitions: int = 2000
    """random-policy env steps the model is fitted on"""
    num_envs: int = 20
    """envs collecting them"""
    mechanism: str = "mlp"
    """'linear' (least squares) or 'mlp' mechanisms"""
    hidden: int = 32
    """width of each mechanism's MLP"""
    fit_steps: int = 600
    """Adam minibatches per mechanism"""
    max_steps: int = 100
    """episode limit of the env"""
    mpc: MPCConfig = MPCConfig()

    def __post_init__(self):
        if self.num_transitions < 2 or self.num_envs < 1 or self.max_steps < 1 or self.fit_steps < 1:
            raise ValueError(
                f"CausalAgentConfig: num_transitions must be >= 2 and num_envs, max_steps, fit_steps "
                f">= 1, got {self.num_transitions}, {self.num_envs}, {self.max_steps}, {self.fit_steps}"
            )
        if self.mechanism not in ("linear", "mlp"):
            raise ValueError(f"CausalAgentConfig: mechanism must be 'linear' or 'mlp', got {self.mechanism!r}")


@dataclass
class AgentResult:
    model: TransitionModel
    eval_returns: np.ndarray
    """[episodes] returns of the planning agent"""


def collect_transitions(
    env_id: str, policy, num_transitions: int, *, seed: int, num_envs: int, env_kwargs: dict | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(obs [N, S], actions [N, A], next_obs [N, S]) of real steps of `env_id` (nextrl.envs.collect_dataset)."""
    from nextrl.envs import collect_dataset

    d = collect_dataset(env_id, policy, num_transitions, seed, num_envs=num_envs, env_kwargs=env_kwargs)
    return d.observations, d.actions.reshape(len(d), -1), d.next_observations


def fit_thrust_model(
    graph, cfg: CausalAgentConfig, *, seed: int, policy="random", env_kwargs: dict | None = None
) -> TransitionModel:
    """A model of CausalThrust fitted on `cfg.num_transitions` transitions of `policy` with `graph`."""
    obs, act, nxt_obs = collect_transitions(
        "nextrl/CausalThrust-v0",
        policy,
        cfg.num_transitions,
        seed=seed,
        num_envs=cfg.num_envs,
        env_kwargs={"max_steps": cfg.max_steps, **(env_kwargs or {})},
    )
    kw = {"hidden": cfg.hidden, "steps": cfg.fit_steps} if cfg.mechanism == "mlp" else {}
    return fit_world_model(
        obs,
        act,
        nxt_obs,
        graph,
        state_names=THRUST_STATES,
        action_names=THRUST_ACTIONS,
        mechanism=cfg.mechanism,
        seed=seed,
        **kw,
    )


def evaluate_thrust(
    model: TransitionModel, cfg: CausalAgentConfig, episodes: int, *, seed: int, force: float | None = None
) -> np.ndarray:
    """Returns [episodes] of the MPC agent on CausalThrust (under do(force = `force`) if given)."""
    act = mpc_policy(model, causal_thrust_reward, cfg.mpc, seed=seed, terminated_fn=causal_thrust_terminated)
    options = None if force is None else {"force": float(force)}
    ep = collect_episodes(
        "nextrl/CausalThrust-v0",
        act,
        episodes,
        seed=seed,
        env_kwargs={"max_steps": cfg.max_steps},
        reset_options=options,
    )
    return ep.returns()


def train(
    cfg: CausalAgentConfig,
    graph,
    *,
    seed: int,
    eval_episodes: int = 8,
    eval_force: float | None = None,
    policy="random",
) -> AgentResult:
    """The agent on CausalThrust: fit the model on `cfg.num_transitions` transitions of `policy` with `graph`
    (e.g. `CausalThrustVectorEnv.causal_graph(temporal=True)` as a networkx graph, or "full"), then plan."""
    model = fit_thrust_model(graph, cfg, seed=seed, policy=policy)
    return AgentResult(model, evaluate_thrust(model, cfg, eval_episodes, seed=10_000 + seed, force=eval_force))


def constant_policy(value: float = 0.0):
    """policy(obs [B, S]) -> [B, 1] of a constant action (the do-nothing baseline for value 0)."""

    def act(obs: np.ndarray) -> np.ndarray:
        return np.full((len(obs), 1), float(value), dtype=np.float32)

    return act


__all__ = [
    "AgentResult",
    "CausalAgentConfig",
    "MPCConfig",
    "collect_transitions",
    "constant_policy",
    "evaluate_thrust",
    "fit_thrust_model",
    "mpc_policy",
    "plan",
    "train",
]
