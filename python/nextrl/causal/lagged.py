"""Time-lagged discovery on RL transitions: PC over (s_t, a_t, s_{t+1}) with temporal tiers, so every edge
into a next-state component comes from the current state or action (a transition graph)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nextrl.causal.pc import Knowledge, PCResult, Progress, pc


def transition_names(state_names: Sequence[str], action_names: Sequence[str]) -> list[str]:
    """'x[t]' for states and actions, then 'x[t+1]' for next states."""
    return [f"{v}[t]" for v in state_names] + [f"{v}[t]" for v in action_names] + [f"{v}[t+1]" for v in state_names]


def discover_transitions(
    obs: np.ndarray,
    actions: np.ndarray,
    next_obs: np.ndarray,
    *,
    state_names: Sequence[str] | None = None,
    action_names: Sequence[str] | None = None,
    ci_test: str = "fisherz",
    alpha: float = 0.05,
    max_cond_size: int | None = None,
    contemporaneous: bool = False,
    progress: Progress | None = None,
) -> PCResult:
    """PC on transitions. obs, next_obs: [N, S]; actions: [N, A]. Tier 0 = (s_t, a_t), tier 1 = s_{t+1}; edges
    inside tier 0 are forbidden (the policy and the past are not modelled), and inside tier 1 too unless
    contemporaneous=True. The parents of each 'x[t+1]' in the result are what drives it."""
    obs, next_obs = np.asarray(obs, np.float64), np.asarray(next_obs, np.float64)
    actions = np.asarray(actions, np.float64)
    if actions.ndim == 1:
        actions = actions[:, None]
    if obs.ndim != 2 or next_obs.shape != obs.shape or actions.ndim != 2 or actions.shape[0] != obs.shape[0]:
        raise ValueError(
            f"discover_transitions: obs, actions, next_obs must have shapes (N, S), (N, A), (N, S), "
            f"got {obs.shape}, {actions.shape}, {next_obs.shape}"
        )
    s_names = [f"s{i}" for i in range(obs.shape[1])] if state_names is None else list(state_names)
    a_names = [f"a{i}" for i in range(actions.shape[1])] if action_names is None else list(action_names)
    if len(s_names) != obs.shape[1] or len(a_names) != actions.shape[1]:
        raise ValueError(
            f"discover_transitions: state_names / action_names must have {obs.shape[1]} / "
            f"{actions.shape[1]} entries, got {len(s_names)} / {len(a_names)}"
        )
    names = transition_names(s_names, a_names)
    k = obs.shape[1] + actions.shape[1]
    knowledge = Knowledge(tiers=(tuple(names[:k]), tuple(names[k:])), forbid_within_tiers=(True, not contemporaneous))
    return pc(
        np.hstack([obs, actions, next_obs]),
        ci_test=ci_test,
        alpha=alpha,
        names=names,
        max_cond_size=max_cond_size,
        knowledge=knowledge,
        progress=progress,
    )
