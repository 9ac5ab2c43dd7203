"""Return scans over rollouts [T, N] (time first): GAE, discounted and n-step returns, V-trace.

The scans run in C++ (csrc/rl/returns.h), one call per rollout, parallel over envs, GIL released. These
wrappers take NumPy arrays or torch tensors (returned as the same kind, dtype and device); float inputs
must share one dtype, float32 or float64 (no silent casting), flags may be bool or any numeric 0/1.

Conventions (shared by every scan):
    rewards[t, n]      reward of the transition taken at step t by env n
    values[t, n]       V(s_t)
    next_values[t, n]  V of the observation returned by step t: the true final observation when the episode
                       ended at t. Under NEXT_STEP autoreset this is values[t + 1, n] for t < T - 1 and
                       V(last obs) for t = T - 1 (see `next_values_from`).
    terminations       the episode ended in a terminal state at t: no bootstrap
    truncations        the episode was cut at t (time limit): bootstrap from next_values[t]
Arrays may carry more axes after N (an agent axis: [T, N, A]); every column is scanned on its own, and the
results have the input's shape. An episode boundary stops every scan, so the reset step that follows a done
under NEXT_STEP autoreset never leaks into the done step; its own (meaningless) entry must be masked out by
the caller.
"""

from __future__ import annotations

import numpy as np
import torch

from nextrl import _core

_Array = np.ndarray | torch.Tensor


def _floats(fn: str, name: str, x, dtype: np.dtype | None) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fn}: {name} must have dtype float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{fn}: {name} must have dtype {dtype} like rewards, got {a.dtype}")
    return np.ascontiguousarray(a)


def _flags(fn: str, name: str, x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype != np.bool_:
        if a.dtype.kind not in "uif":
            raise TypeError(f"{fn}: {name} must be bool or numeric 0/1, got dtype {a.dtype}")
        a = a != 0
    return np.ascontiguousarray(a)


def _out(result: np.ndarray, like) -> _Array:
    result = result.reshape(np.shape(like))
    if isinstance(like, torch.Tensor):
        return torch.from_numpy(result).to(like.device)
    return result


def _columns(fn: str, rewards, **arrays):
    """[T, N, ...] arrays with more than two axes as [T, N * ...] views (every column is scanned on its own),
    rewards first, in the order given; 2-D (and malformed) inputs pass through for the binding to check."""
    shape = tuple(np.shape(rewards))
    out = [rewards, *arrays.values()]
    if len(shape) <= 2:
        return out
    for name, a in arrays.items():
        if a is not None and tuple(np.shape(a)) != shape:
            raise ValueError(f"{fn}: {name} must have shape {shape} like rewards, got {tuple(np.shape(a))}")

    def cols(a):
        if a is None:
            return None
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu()
        return a.reshape(shape[0], int(np.prod(shape[1:])))

    return [cols(a) for a in out]


def next_values_from(values: _Array, last_value: _Array) -> _Array:
    """next_values [T, N] under NEXT_STEP autoreset: values shifted up by one step, with `last_value` [N]
    (the value of the observation returned by the rollout's last step) in the last row."""
    if isinstance(values, torch.Tensor):
        return torch.cat([values[1:], torch.as_tensor(last_value, dtype=values.dtype).reshape(1, -1)], dim=0)
    values = np.asarray(values)
    return np.concatenate([values[1:], np.asarray(last_value, dtype=values.dtype).reshape(1, -1)], axis=0)


def gae(
    rewards: _Array,
    values: _Array,
    next_values: _Array,
    terminations: _Array,
    truncations: _Array,
    *,
    gamma: float,
    lam: float,
) -> tuple[_Array, _Array]:
    """Generalized advantage estimation (Schulman et al. 2016, arXiv:1506.02438):
        delta_t = r_t + gamma (1 - term_t) V(s'_t) - V(s_t)
        A_t = sum_l (gamma lam)^l delta_{t+l}, summed up to the end of the episode or rollout.
    Returns (advantages, returns = advantages + values), each [T, N]."""
    fn = "gae"
    rc, vc, nvc, tc, trc = _columns(
        fn, rewards, values=values, next_values=next_values, terminations=terminations, truncations=truncations
    )
    r = _floats(fn, "rewards", rc, None)
    v = _floats(fn, "values", vc, r.dtype)
    adv = _core.gae(
        r,
        v,
        _floats(fn, "next_values", nvc, r.dtype),
        _flags(fn, "terminations", tc),
        _flags(fn, "truncations", trc),
        float(gamma),
        float(lam),
    )
    return _out(adv, rewards), _out(adv + v, rewards)


def discounted_returns(
    rewards: _Array, terminations: _Array, truncations: _Array, *, gamma: float, next_values: _Array | None = None
) -> _Array:
    """Discounted returns G_t = sum_k gamma^k r_{t+k} up to the episode's (or rollout's) last step, plus
    gamma^m V(s') there when the episode was truncated or the rollout ends (not on termination). With
    `next_values=None` nothing is bootstrapped (pure Monte Carlo inside the rollout). [T, N]."""
    fn = "discounted_returns"
    rc, nvc, tc, trc = _columns(
        fn, rewards, next_values=next_values, terminations=terminations, truncations=truncations
    )
    r = _floats(fn, "rewards", rc, None)
    nv = None if nvc is None else _floats(fn, "next_values", nvc, r.dtype)
    out = _core.discounted_returns(r, nv, _flags(fn, "terminations", tc), _flags(fn, "truncations", trc), float(gamma))
    return _out(out, rewards)


def nstep_returns(
    rewards: _Array, next_values: _Array, terminations: _Array, truncations: _Array, *, gamma: float, n_steps: int
) -> _Array:
    """n-step returns: with m = min(n_steps, steps to the end of the episode or rollout),
    G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m (1 - term) V(s'_{t+m-1}). [T, N]."""
    fn = "nstep_returns"
    rc, nvc, tc, trc = _columns(
        fn, rewards, next_values=next_values, terminations=terminations, truncations=truncations
    )
    r = _floats(fn, "rewards", rc, None)
    out = _core.nstep_returns(
        r,
        _floats(fn, "next_values", nvc, r.dtype),
        _flags(fn, "terminations", tc),
        _flags(fn, "truncations", trc),
        float(gamma),
        int(n_steps),
    )
    return _out(out, rewards)


def vtrace(
    rewards: _Array,
    values: _Array,
    next_values: _Array,
    terminations: _Array,
    truncations: _Array,
    log_rhos: _Array,
    *,
    gamma: float,
    rho_bar: float = 1.0,
    c_bar: float = 1.0,
    pg_rho_bar: float | None = None,
) -> tuple[_Array, _Array]:
    """V-trace (Espeholt et al. 2018, arXiv:1802.01561), log_rhos = log pi(a|s) - log mu(a|s):
        vs_t = V(s_t) + sum_k gamma^k (prod_{i<k} c_{t+i}) rho_{t+k} delta_{t+k}
    with rho = min(rho_bar, ratio), c = min(c_bar, ratio), up to the end of the episode or rollout, and
        pg_adv_t = min(pg_rho_bar, ratio) (r_t + gamma (1 - term_t) vs_{t+1} - V(s_t))
    where vs_{t+1} is V(s'_t) at a truncation or the rollout's end. pg_rho_bar defaults to rho_bar.
    Returns (vs, pg_advantages), each [T, N]."""
    fn = "vtrace"
    rc, vc, nvc, tc, trc, lc = _columns(
        fn,
        rewards,
        values=values,
        next_values=next_values,
        terminations=terminations,
        truncations=truncations,
        log_rhos=log_rhos,
    )
    r = _floats(fn, "rewards", rc, None)
    vs, pg = _core.vtrace(
        r,
        _floats(fn, "values", vc, r.dtype),
        _floats(fn, "next_values", nvc, r.dtype),
        _flags(fn, "terminations", tc),
        _flags(fn, "truncations", trc),
        _floats(fn, "log_rhos", lc, r.dtype),
        float(gamma),
        float(rho_bar),
        float(c_bar),
        float(rho_bar if pg_rho_bar is None else pg_rho_bar),
    )
    return _out(vs, rewards), _out(pg, rewards)


__all__ = ["discounted_returns", "gae", "next_values_from", "nstep_returns", "vtrace"]
