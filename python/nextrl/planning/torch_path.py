"""The planners' torch path: the optimizer steps of csrc/planning/cem.h and mppi.h in PyTorch, for a model written
in PyTorch as an objective over candidate sequences (mbrl-lib's `obj_fun`):

    objective(actions: Tensor[M, horizon, action_dim]) -> Tensor[M]   (M = num_problems * rows, problem-major)

The noise is the C++ path's (nextrl._core._planning_normals, colored by _core._colored_noise_matrix), so on the
same returns both paths rank, refit and return the same sequences (to float tolerance; in float64 to the last
bits of the element-wise arithmetic). Called by the planners' `plan` (nextrl.planning.optimizers); not public.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nextrl import _core


def _normals(seed: int, round: int, B: int, iteration: int, rows: int, H: int, A: int, device, dtype) -> torch.Tensor:
    """[B, rows, H, A]: the noise of `rows` sampled candidates of every problem (csrc/planning/noise.h)."""
    z = np.stack([_core._planning_normals(seed, round, b, iteration, 0, rows * H * A) for b in range(B)])
    return torch.as_tensor(z.reshape(B, rows, H, A), device=device, dtype=dtype)


def _returns(fn: str, objective, pop: torch.Tensor) -> torch.Tensor:
    """objective over the flattened population [B, R, H, A] -> returns [B, R]; NaN is an error."""
    B, R, H, A = pop.shape
    with torch.no_grad():
        ret = objective(pop.reshape(B * R, H, A))
    if not isinstance(ret, torch.Tensor):
        raise TypeError(f"{fn}: the objective must return a tensor, got {type(ret).__name__}")
    if ret.shape != (B * R,):
        raise ValueError(
            f"{fn}: the objective must return one value per candidate, shape ({B * R},), got {tuple(ret.shape)}"
        )
    ret = ret.to(dtype=pop.dtype, device=pop.device).reshape(B, R)
    bad = torch.isnan(ret).any(dim=1)
    if bool(bad.any()):
        b = int(torch.nonzero(bad)[0, 0])
        raise ValueError(
            f"{fn}: the model returned NaN for a candidate of problem {b} (NaN in the model's weights or output)"
        )
    return ret


def _tensors(p, device, dtype):
    device = torch.device("cpu") if device is None else torch.device(device)
    dtype = torch.float64 if dtype is None else dtype
    t = lambda x: torch.as_tensor(np.ascontiguousarray(x), device=device, dtype=dtype)
    return device, dtype, t


def _track_best(best, best_return, pop, ret, top_rows):
    """best / best_return [B, ...] replaced where the iteration's top candidate beats them strictly."""
    idx = torch.arange(pop.shape[0], device=pop.device)
    top = ret[idx, top_rows]
    better = top > best_return
    best_return = torch.where(better, top, best_return)
    best = torch.where(better[:, None, None], pop[idx, top_rows], best)
    return best, best_return


def cem(
    fn,
    objective,
    p,
    prev,
    *,
    population,
    num_elites,
    iterations,
    alpha,
    noise_beta,
    population_decay,
    num_keep,
    add_mean,
    seed,
    round,
    record,
    device,
    dtype,
) -> dict:
    device, dtype, t = _tensors(p, device, dtype)
    B, H, A, K = p.B, p.H, p.A, num_elites
    low, high = t(p.low), t(p.high)
    mean, std = t(p.mean), t(p.std)
    color = t(_core._colored_noise_matrix(H, noise_beta)) if noise_beta != 0.0 and H > 1 else None
    best, best_return = mean.clone(), torch.full((B,), -math.inf, device=device, dtype=dtype)
    max_rows = population + num_keep + (1 if add_mean else 0)
    rec_returns = torch.full((B, iterations, max_rows), math.nan, device=device, dtype=dtype) if record else None
    rec_elites = torch.zeros((B, iterations, K), device=device, dtype=torch.int64) if record else None
    elites = None
    for i in range(iterations):
        sampled = population
        if population_decay != 1.0 and i > 0:
            sampled = min(population, max(math.floor(population * population_decay ** -float(i)), 2 * K))
        y = _normals(seed, round, B, i, sampled, H, A, device, dtype)
        if color is not None:
            y = torch.einsum("tj,bnja->bnta", color, y)
        parts = [torch.maximum(torch.minimum(mean[:, None] + std[:, None] * y, high), low)]
        if i == 0 and prev is not None and num_keep > 0:
            parts.append(t(prev[:, :num_keep]))
        elif i > 0 and num_keep > 0:
            parts.append(elites[:, :num_keep])
        if add_mean and i == iterations - 1:
            parts.append(mean[:, None])
        pop = torch.cat(parts, dim=1)
        ret = _returns(fn, objective, pop)
        order = torch.sort(ret, dim=1, descending=True, stable=True).indices[:, :K]
        elites = torch.gather(pop, 1, order[:, :, None, None].expand(B, K, H, A))
        new_mean = elites.mean(dim=1)
        new_std = ((elites - new_mean[:, None]) ** 2).mean(dim=1).sqrt()
        mean = alpha * mean + (1.0 - alpha) * new_mean
        std = alpha * std + (1.0 - alpha) * new_std
        best, best_return = _track_best(best, best_return, pop, ret, order[:, 0])
        if record:
            rec_returns[:, i, : ret.shape[1]] = ret
            rec_elites[:, i] = order
    out = {"mean": mean, "std": std, "best": best, "best_return": best_return, "elites": elites}
    if record:
        out["returns"], out["elite_rows"] = rec_returns, rec_elites
    return out


def mppi(
    fn, objective, p, sigma, *, population, iterations, temperature, smoothing, seed, round, record, device, dtype
) -> dict:
    device, dtype, t = _tensors(p, device, dtype)
    B, H, A = p.B, p.H, p.A
    low, high, sigma = t(p.low), t(p.high), t(sigma)
    mean = t(p.mean)
    best, best_return = mean.clone(), torch.full((B,), -math.inf, device=device, dtype=dtype)
    rec_returns = torch.empty((B, iterations, population), device=device, dtype=dtype) if record else None
    for i in range(iterations):
        v = mean[:, None] + sigma * _normals(seed, round, B, i, population, H, A, device, dtype)
        if smoothing != 0.0:
            steps = [v[:, :, 0]]
            for h in range(1, H):
                steps.append((1.0 - smoothing) * v[:, :, h] + smoothing * steps[-1])
            v = torch.stack(steps, dim=2)
        pop = torch.maximum(torch.minimum(v, high), low)
        ret = _returns(fn, objective, pop)
        top, arg = ret.max(dim=1)
        best, best_return = _track_best(best, best_return, pop, ret, arg)
        w = torch.exp((ret - top[:, None]) / temperature)
        mean = (w[:, :, None, None] * pop).sum(dim=1) / w.sum(dim=1)[:, None, None]
        if record:
            rec_returns[:, i] = ret
    out = {"mean": mean, "best": best, "best_return": best_return}
    if record:
        out["returns"] = rec_returns
    return out


def categorical_cem(
    fn, objective, probs, *, population, num_elites, iterations, alpha, seed, round, record, device, dtype
) -> dict:
    """csrc/planning/categorical_cem.h in PyTorch: the same uniforms (nextrl._core._planning_uniforms), the same
    inverse-CDF sampling (cumulative sums in float64, in order), elites and frequency refit."""
    device, dtype, t = _tensors(None, device, dtype)
    B, H, n = probs.shape
    K = num_elites
    p = torch.as_tensor(probs, device=device, dtype=torch.float64)
    best = p.argmax(-1, keepdim=True).to(dtype)
    best_return = torch.full((B,), -math.inf, device=device, dtype=dtype)
    rec_returns = torch.empty((B, iterations, population), device=device, dtype=dtype) if record else None
    rec_elites = torch.zeros((B, iterations, K), device=device, dtype=torch.int64) if record else None
    elites = None
    for i in range(iterations):
        u = np.stack([_core._planning_uniforms(seed, round, b, i, 0, population * H) for b in range(B)])
        u = torch.as_tensor(u.reshape(B, population, H), device=device, dtype=torch.float64)
        cdf = torch.cumsum(p[..., :-1], dim=-1)  # [B, H, n - 1]
        actions = (u[..., None] >= cdf[:, None]).sum(-1)  # the count of c_k <= u = the smallest k with u < c_k
        pop = actions.to(dtype)[..., None]  # [B, N, H, 1]
        ret = _returns(fn, objective, pop)
        order = torch.sort(ret, dim=1, descending=True, stable=True).indices[:, :K]
        elites = torch.gather(pop, 1, order[:, :, None, None].expand(B, K, H, 1))
        freq = torch.nn.functional.one_hot(elites[..., 0].long(), n).to(torch.float64).mean(dim=1)  # [B, H, n]
        p = alpha * p + (1.0 - alpha) * freq
        best, best_return = _track_best(best, best_return, pop, ret, order[:, 0])
        if record:
            rec_returns[:, i] = ret
            rec_elites[:, i] = order
    out = {"probs": p.to(dtype), "best": best, "best_return": best_return, "elites": elites}
    if record:
        out["returns"], out["elite_rows"] = rec_returns, rec_elites
    return out
