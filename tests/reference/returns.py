"""Direct O(T^2) NumPy references for the return scans (nextrl.agents.returns): every quantity is the
discounted sum written out over the steps up to the end of the episode, no backward recursion.

All arrays are [T, N]; `episode_end(t)` is the first step s >= t whose transition ended the episode
(termination or truncation), or T - 1 when the rollout ends first."""

from __future__ import annotations

import numpy as np


def episode_end(terminations: np.ndarray, truncations: np.ndarray, t: int, n: int) -> int:
    T = terminations.shape[0]
    for s in range(t, T):
        if terminations[s, n] or truncations[s, n]:
            return s
    return T - 1


def gae(rewards, values, next_values, terminations, truncations, gamma, lam):
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            e = episode_end(terminations, truncations, t, n)
            for s in range(t, e + 1):
                delta = rewards[s, n] + gamma * (0.0 if terminations[s, n] else next_values[s, n]) - values[s, n]
                adv[t, n] += (gamma * lam) ** (s - t) * delta
    return adv


def discounted_returns(rewards, terminations, truncations, gamma, next_values=None):
    T, N = rewards.shape
    out = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            e = episode_end(terminations, truncations, t, n)
            g = sum(gamma ** (s - t) * rewards[s, n] for s in range(t, e + 1))
            if not terminations[e, n] and next_values is not None:
                g += gamma ** (e - t + 1) * next_values[e, n]
            out[t, n] = g
    return out


def nstep_returns(rewards, next_values, terminations, truncations, gamma, n_steps):
    T, N = rewards.shape
    out = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            e = min(episode_end(terminations, truncations, t, n), t + n_steps - 1)
            g = sum(gamma ** (s - t) * rewards[s, n] for s in range(t, e + 1))
            if not terminations[e, n]:
                g += gamma ** (e - t + 1) * next_values[e, n]
            out[t, n] = g
    return out


def vtrace(rewards, values, next_values, terminations, truncations, log_rhos, gamma, rho_bar, c_bar, pg_rho_bar):
    """Espeholt et al. 2018 eq. 1 summed out; pg advantage of section 4.2."""
    T, N = rewards.shape
    ratio = np.exp(log_rhos)
    rho, c, pg_rho = np.minimum(rho_bar, ratio), np.minimum(c_bar, ratio), np.minimum(pg_rho_bar, ratio)
    vs = np.zeros((T, N))
    pg = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            e = episode_end(terminations, truncations, t, n)
            total = 0.0
            for s in range(t, e + 1):
                boot = 0.0 if terminations[s, n] else next_values[s, n]
                delta = rho[s, n] * (rewards[s, n] + gamma * boot - values[s, n])
                total += gamma ** (s - t) * np.prod(c[t:s, n]) * delta
            vs[t, n] = values[t, n] + total
        for t in range(T):
            e = episode_end(terminations, truncations, t, n)
            # the V-trace target of the next state; at the episode's (or rollout's) last step, V(s'_t)
            next_vs = next_values[t, n] + (vs[t + 1, n] - values[t + 1, n] if t < e else 0.0)
            boot = 0.0 if terminations[t, n] else next_vs
            pg[t, n] = pg_rho[t, n] * (rewards[t, n] + gamma * boot - values[t, n])
    return vs, pg
