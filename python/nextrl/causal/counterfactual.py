"""Counterfactual policy evaluation: what return would policy pi' have had on this logged episode?

Pearl's abduction-action-prediction along a trajectory (Buesing et al. 2019, "Woulda, coulda, shoulda",
arXiv:1811.06272, for the RL form): the noise of every logged transition is recovered from the transition
model, u_t = s_{t+1} - f(pa(s_t, a_t)) (abduction, exact for additive noise); the logged policy is replaced by
pi' (action); the model is replayed from the logged initial state with pi' acting and the same noise u_t
(prediction). The counterfactual episode stops where the logged one stopped (the noise after it was never
observed) or earlier, where the counterfactual episode terminates.

`replay_returns` gives the ground truth for envs whose noise draws do not depend on the actions (CausalThrust:
its force random walk draws one normal per step whatever the action): the real env replayed with the same seed
under pi' is the counterfactual world itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from nextrl.causal.world_model import Policy, TransitionModel

RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""reward(states [B, S], actions [B, A], next_states [B, S]) -> [B]"""
TerminatedFn = Callable[[np.ndarray], np.ndarray]
"""terminated(next_states [B, S]) -> [B] bool"""


@dataclass
class Episodes:
    """Logged episodes, padded to the longest: step t of episode e is valid for t < lengths[e]."""

    obs: np.ndarray
    """[E, T + 1, S] observations (after the end: the final one repeated)"""
    actions: np.ndarray
    """[E, T, A] actions as given to the env"""
    rewards: np.ndarray
    """[E, T] (0 after the end)"""
    lengths: np.ndarray
    """[E] int64 steps of each episode"""
    terminated: np.ndarray
    """[E] bool: the episode terminated (else it was truncated)"""
    states: np.ndarray | None = None
    """[E, T + 1, S] exact float64 env states, where the env exposes them"""

    def returns(self, gamma: float = 1.0) -> np.ndarray:
        t = np.arange(self.rewards.shape[1])
        return (self.rewards * gamma**t).sum(1)


def collect_episodes(
    env_id: str,
    policy: Policy,
    num_episodes: int,
    *,
    seed: int,
    env_kwargs: dict | None = None,
    reset_options: dict | None = None,
) -> Episodes:
    """One episode from each of `num_episodes` copies of `env_id` (reset with `seed`, env i with seed + i, and
    `reset_options`, e.g. {"force": 0.5} for do(force) on CausalThrust), acting with policy(obs [E, S])."""
    import gymnasium as gym

    import nextrl  # noqa: F401  (registers the nextrl/ ids)

    if num_episodes < 1:
        raise ValueError(f"collect_episodes: num_episodes must be >= 1, got {num_episodes}")
    env = gym.make_vec(env_id, num_envs=num_episodes, **(env_kwargs or {}))
    try:
        max_steps = int(env.config.max_steps)
        obs, _ = env.reset(seed=seed, options=reset_options)
        has_states = hasattr(env, "states")
        e, s_dim = obs.shape
        a_dim = int(np.prod(env.single_action_space.shape))
        o = np.zeros((e, max_steps + 1, s_dim))
        st = np.zeros((e, max_steps + 1, s_dim)) if has_states else None
        acts = np.zeros((e, max_steps, a_dim))
        rew = np.zeros((e, max_steps))
        lengths = np.full(e, max_steps, dtype=np.int64)
        term = np.zeros(e, dtype=bool)
        alive = np.ones(e, dtype=bool)
        o[:, 0] = obs
        if has_states:
            st[:, 0] = env.states()
        for t in range(max_steps):
            a = np.asarray(policy(obs), dtype=np.float32).reshape(e, a_dim)
            obs, r, terminated, truncated, _ = env.step(a)
            acts[alive, t], rew[alive, t], o[alive, t + 1] = a[alive], r[alive], obs[alive]
            if has_states:
                st[alive, t + 1] = env.states()[alive]
            ended = alive & (terminated | truncated)
            lengths[ended], term[ended] = t + 1, terminated[ended]
            alive &= ~ended
            if not alive.any():
                break
    finally:
        env.close()
    for i in range(e):  # pad after the end with the final observation
        o[i, lengths[i] + 1 :] = o[i, lengths[i]]
        if st is not None:
            st[i, lengths[i] + 1 :] = st[i, lengths[i]]
    return Episodes(o, acts, rew, lengths, term, st)


@dataclass
class CounterfactualResult:
    returns: np.ndarray
    """[E] counterfactual returns"""
    lengths: np.ndarray
    """[E] steps of each counterfactual episode (<= the logged length)"""
    states: np.ndarray
    """[E, T + 1, S] counterfactual states"""
    actions: np.ndarray
    """[E, T, A] counterfactual actions"""
    noise: np.ndarray
    """[E, T, S] the noise used (abducted, or sampled)"""


def counterfactual_returns(
    model: TransitionModel,
    episodes: Episodes,
    policy: Policy,
    reward_fn: RewardFn,
    *,
    terminated_fn: TerminatedFn | None = None,
    gamma: float = 1.0,
    interventions: Mapping[str, float] | None = None,
    use_states: bool = False,
    noise: str = "abducted",
    seed: int | None = None,
) -> CounterfactualResult:
    """The return each logged episode would have had under `policy` (and do(interventions)), by abduction of
    the transition noise, action, prediction. `use_states`: abduct from the exact env states instead of the
    (float32) observations. noise="sampled" replaces the abducted noise by fresh draws from the model's noise
    distribution (seeded): the interventional, not counterfactual, estimate, for comparison."""
    if noise not in ("abducted", "sampled"):
        raise ValueError(f"counterfactual_returns: noise must be 'abducted' or 'sampled', got {noise!r}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"counterfactual_returns: gamma must be in [0, 1], got {gamma}")
    if use_states and episodes.states is None:
        raise ValueError("counterfactual_returns: use_states needs episodes with exact states, got none")
    x = episodes.states if use_states else episodes.obs
    e, t_max, s_dim = x.shape[0], x.shape[1] - 1, x.shape[2]
    a_dim = episodes.actions.shape[2]
    if noise == "abducted":
        u = model.abduct(
            x[:, :-1].reshape(-1, s_dim), episodes.actions.reshape(-1, a_dim), x[:, 1:].reshape(-1, s_dim)
        ).reshape(e, t_max, s_dim)
    else:
        u = np.random.default_rng(seed).standard_normal((e, t_max, s_dim)) * model.noise_std
    valid = np.arange(t_max)[None, :] < episodes.lengths[:, None]
    u = np.where(valid[:, :, None], u, 0.0)
    s = x[:, 0].copy()
    states = np.zeros_like(x)
    acts = np.zeros((e, t_max, a_dim))
    states[:, 0] = s
    ret = np.zeros(e)
    lengths = np.zeros(e, dtype=np.int64)
    alive = episodes.lengths > 0
    for t in range(t_max):
        a = np.asarray(policy(s), dtype=np.float64).reshape(e, a_dim)
        s2 = model.predict(s, a, u[:, t], interventions=interventions)
        r = np.asarray(reward_fn(s, a, s2), dtype=np.float64)
        ret += np.where(alive, gamma**t * r, 0.0)
        lengths += alive
        states[:, t + 1], acts[:, t] = s2, a
        done = t + 1 >= episodes.lengths
        if terminated_fn is not None:
            done = done | np.asarray(terminated_fn(s2), dtype=bool)
        alive = alive & ~done
        s = s2
        if not alive.any():
            break
    return CounterfactualResult(ret, lengths, states, acts, u)


def replay_returns(
    env_id: str,
    policy: Policy,
    lengths: np.ndarray,
    *,
    seed: int,
    env_kwargs: dict | None = None,
    reset_options: dict | None = None,
    gamma: float = 1.0,
) -> np.ndarray:
    """Ground-truth counterfactual returns [E] for envs whose noise does not depend on the actions: the env
    replayed with the logged seed under `policy`, each episode cut at its logged length (or its own end)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    ep = collect_episodes(env_id, policy, len(lengths), seed=seed, env_kwargs=env_kwargs, reset_options=reset_options)
    t = np.arange(ep.rewards.shape[1])
    keep = t[None, :] < lengths[:, None]
    return (ep.rewards * keep * gamma**t).sum(1)


__all__ = ["CounterfactualResult", "Episodes", "collect_episodes", "counterfactual_returns", "replay_returns"]
