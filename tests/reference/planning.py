"""Slow, obviously-correct NumPy versions of the planners (csrc/planning/) and of an exact-dynamics rollout.

- `normals`: the planners' noise from a NumPy Philox4x32-10 (Salmon et al. 2011) and Box-Muller, addressed as
  csrc/planning/noise.h states (no nextrl import);
- `colored`: power-law noise through NumPy's FFT (the `colorednoise` package's spectral shaping, unit variance);
- `cem` / `mppi`: one problem at a time, loop by loop, over any `evaluate(b, X [R, H, A]) -> returns [R]`;
- `env_returns`: returns of candidate sequences by stepping a nextrl vector env itself from a copied state.
"""

from __future__ import annotations

import math

import numpy as np

MASK = np.uint64(0xFFFFFFFF)
M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85


def philox(seed: int, stream: int, counters: np.ndarray) -> list[np.ndarray]:
    """Philox4x32-10 of each counter (uint64) under key `seed` and the stream in counter words 2, 3: 4 word arrays."""
    counters = np.asarray(counters, dtype=np.uint64)
    c0, c1 = counters & MASK, counters >> np.uint64(32)
    c2 = np.full_like(counters, stream & 0xFFFFFFFF)
    c3 = np.full_like(counters, stream >> 32)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0, p1 = M0 * c0, M1 * c2  # < 2**64: exact in uint64
        n0 = (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0)
        n2 = (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1)
        c0, c1, c2, c3 = n0, p1 & MASK, n2, p0 & MASK
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return [c0, c1, c2, c3]


def unit(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    return (((hi << np.uint64(32)) | lo) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def normals(seed: int, stream: int, counter0: int, index0: int, n: int) -> np.ndarray:
    """Normal number index0 + k, k < n: half of the Box-Muller pair of Philox block counter0 + index // 2."""
    idx = index0 + np.arange(n, dtype=np.uint64)
    w = philox(seed, stream, np.uint64(counter0) + idx // np.uint64(2))
    u1, u2 = 1.0 - unit(w[0], w[1]), unit(w[2], w[3])
    r = np.sqrt(-2.0 * np.log(u1))
    return np.where(idx % np.uint64(2) == 0, r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2))


def plan_normals(seed: int, round: int, problem: int, iteration: int, rows: int, H: int, A: int) -> np.ndarray:
    """[rows, H, A]: the noise of a plan's sampled candidates (stream (round << 32) | problem, counter i << 32)."""
    return normals(seed, (round << 32) | problem, iteration << 32, 0, rows * H * A).reshape(rows, H, A)


def colored(z: np.ndarray, beta: float) -> np.ndarray:
    """z [..., H] white along the last axis -> power spectral density 1 / f^beta (f_0 = f_1), unit variance."""
    H = z.shape[-1]
    if beta == 0 or H == 1:
        return z
    f = np.fft.rfftfreq(H)
    f[0] = f[1]
    s = f ** (-beta / 2)
    delta = np.zeros(H)
    delta[0] = 1.0
    norm = np.sqrt(np.sum(np.fft.irfft(s * np.fft.rfft(delta), n=H) ** 2))
    return np.fft.irfft(s * np.fft.rfft(z, axis=-1), n=H, axis=-1) / norm


def cem(
    evaluate,
    mean,
    std,
    low,
    high,
    *,
    population,
    num_elites,
    iterations,
    alpha,
    seed,
    round=0,
    noise_beta=0.0,
    population_decay=1.0,
    num_keep=0,
    add_mean=False,
    prev_elites=None,
) -> dict:
    """The CEM family of csrc/planning/cem.h, problem by problem. mean, std: [B, H, A]."""
    mean, std = np.array(mean, dtype=np.float64), np.array(std, dtype=np.float64)
    B, H, A = mean.shape
    K = num_elites
    out = {k: [] for k in ("mean", "std", "best", "best_return", "elites", "returns", "elite_rows", "weights")}
    for b in range(B):
        m, sd = mean[b].copy(), std[b].copy()
        best, best_ret = m.copy(), -math.inf
        elites = None
        rets, rows = [], []
        for i in range(iterations):
            n = population
            if population_decay != 1.0 and i > 0:
                n = min(population, max(math.floor(population * population_decay ** -float(i)), 2 * K))
            y = plan_normals(seed, round, b, i, n, H, A)
            y = np.swapaxes(colored(np.swapaxes(y, 1, 2), noise_beta), 1, 2)
            X = [np.clip(m + sd * y, low, high)]
            if i == 0 and prev_elites is not None and num_keep > 0:
                X.append(np.asarray(prev_elites[b][:num_keep]))
            elif i > 0 and num_keep > 0:
                X.append(elites[:num_keep])
            if add_mean and i == iterations - 1:
                X.append(m[None])
            X = np.concatenate(X)
            R = np.asarray(evaluate(b, X), dtype=np.float64)
            order = np.argsort(-R, kind="stable")[:K]
            elites = X[order]
            m = alpha * m + (1 - alpha) * elites.mean(axis=0)
            sd = alpha * sd + (1 - alpha) * elites.std(axis=0)
            if R[order[0]] > best_ret:
                best_ret, best = R[order[0]], X[order[0]].copy()
            rets.append(R)
            rows.append(order)
        for key, value in (
            ("mean", m),
            ("std", sd),
            ("best", best),
            ("best_return", best_ret),
            ("elites", elites),
            ("returns", rets),
            ("elite_rows", rows),
        ):
            out[key].append(value)
    for key in ("mean", "std", "best", "best_return", "elites", "elite_rows"):
        out[key] = np.array(out[key])
    return out


def mppi(evaluate, mean, sigma, low, high, *, population, iterations, temperature, smoothing, seed, round=0) -> dict:
    """csrc/planning/mppi.h, problem by problem; also returns the last iteration's weights [B, N] (normalized)."""
    mean = np.array(mean, dtype=np.float64)
    B, H, A = mean.shape
    out = {k: [] for k in ("mean", "best", "best_return", "returns", "weights")}
    for b in range(B):
        m, best, best_ret, rets = mean[b].copy(), mean[b].copy(), -math.inf, []
        for i in range(iterations):
            v = m + sigma * plan_normals(seed, round, b, i, population, H, A)
            u = v.copy()
            for h in range(1, H):
                u[:, h] = (1 - smoothing) * v[:, h] + smoothing * u[:, h - 1]
            X = np.clip(u, low, high)
            R = np.asarray(evaluate(b, X), dtype=np.float64)
            w = np.exp((R - R.max()) / temperature)
            if R.max() > best_ret:
                best_ret, best = R.max(), X[np.argmax(R)].copy()
            m = np.einsum("n,nha->ha", w, X) / w.sum()
            rets.append(R)
        for key, value in (
            ("mean", m),
            ("best", best),
            ("best_return", best_ret),
            ("returns", rets),
            ("weights", w / w.sum()),
        ):
            out[key].append(value)
    return {k: np.array(v) for k, v in out.items()}


def env_returns(make_env, state_row: np.ndarray, actions: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Returns [N] of sequences actions [N, H, A] by stepping a vector env of N copies of the env in state_row (from
    get_state()): sum_t gamma^t r_t until each copy terminates. make_env(num_envs) builds the env; the copies must
    not reach their time limit within H steps. Discrete envs get min(floor(x), n - 1)."""
    N, H, A = actions.shape
    env = make_env(N)
    env.reset(seed=0)
    env.set_state(np.tile(state_row, (N, 1)))
    n = getattr(env.single_action_space, "n", None)
    total, discount, done = np.zeros(N), 1.0, np.zeros(N, dtype=bool)
    for h in range(H):
        x = actions[:, h]
        a = np.minimum(np.floor(x[:, 0]), n - 1).astype(np.int64) if n is not None else x.astype(np.float32)
        _, r, term, trunc, _ = env.step(a)
        assert not np.any(trunc & ~done), "a copy reached its time limit inside the horizon"
        total += np.where(done, 0.0, discount * r.astype(np.float64))
        done |= term
        discount *= gamma
    return total
