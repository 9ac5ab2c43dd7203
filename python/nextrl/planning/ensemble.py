"""Learned dynamics for planning: a probabilistic ensemble of MLPs in PyTorch (PETS, Chua et al. 2018) and its
export to the C++ rollout model (csrc/planning/learned_model.h), so CEM / iCEM / MPPI plan through it in one C++
call.

- `GaussianEnsemble`: E members, each an MLP from the normalized (state, action) to the next-state delta (and the
  reward with `reward_head=True`), with a Gaussian head (mean and log-variance, soft-bounded by learned
  max_logvar / min_logvar, Chua et al. 2018, appendix A.1) or a deterministic one. Members run batched
  (`torch.baddbmm` over [E, N, in]). `fit` trains it by Gaussian NLL (or MSE) on bootstrap resamples, one per member,
  with the bound penalty 0.01 (sum max_logvar - sum min_logvar).
- `LearnedModel.from_torch(ensemble, reward=...)`: the C++ model with the ensemble's weights (float32), the particles
  (TS-1 or TS-inf) and the reward: the model's head or a named function of (s, a, s') for the shipped envs
  ("pendulum", "cartpole", "quadratic" with q, r, max_norm: PointMass is q = 1, r = action_cost, max_norm = 3).
  Its forward equals the torch forward to float32 rounding (tests/planning/test_learned_model.py: 1e-5).
- `torch_returns(ensemble, ...)`: the same particle rollouts in PyTorch, drawing the same members and noise as the
  C++ model (for tests and as the torch path's objective).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nextrl import _core

ACTIVATIONS = {"relu": F.relu, "silu": F.silu, "tanh": torch.tanh}
REWARDS = ("head", "pendulum", "cartpole", "quadratic")


class GaussianEnsemble(nn.Module):
    """E batched MLPs: (state [S], action [A]) -> next-state delta [S] (+ reward) with a Gaussian or deterministic
    head. `forward(states [E or 1, N, S], actions [E or 1, N, A]) -> (mean [E, N, O], logvar [E, N, O] or None)`."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        members: int = 5,
        hidden: tuple[int, ...] = (200, 200, 200),
        activation: str = "silu",
        gaussian: bool = True,
        reward_head: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        for name, v in (("state_dim", state_dim), ("action_dim", action_dim), ("members", members)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"GaussianEnsemble: {name} must be an int >= 1, got {v!r}")
        if not hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"GaussianEnsemble: hidden must be a non-empty tuple of ints >= 1, got {hidden!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"GaussianEnsemble: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.state_dim, self.action_dim, self.members = state_dim, action_dim, members
        self.hidden, self.activation = tuple(hidden), activation
        self.gaussian, self.reward_head = bool(gaussian), bool(reward_head)
        self.outputs = state_dim + (1 if reward_head else 0)
        gen = torch.Generator().manual_seed(seed)
        sizes = [state_dim + action_dim, *hidden, self.outputs * (2 if gaussian else 1)]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            # mbrl-lib's init: truncated normal, std 1 / (2 sqrt(fan_in)), zero bias
            w = torch.empty(members, fan_out, fan_in)
            nn.init.trunc_normal_(w, std=1.0 / (2.0 * math.sqrt(fan_in)), a=-2.0, b=2.0, generator=gen)
            w.mul_(1.0)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(members, fan_out)))
        if gaussian:
            self.max_logvar = nn.Parameter(torch.full((self.outputs,), 0.5))
            self.min_logvar = nn.Parameter(torch.full((self.outputs,), -10.0))
        self.register_buffer("in_mean", torch.zeros(state_dim + action_dim))
        self.register_buffer("in_std", torch.ones(state_dim + action_dim))

    def fit_normalizer(self, states: torch.Tensor, actions: torch.Tensor) -> None:
        x = torch.cat([states, actions], dim=-1).reshape(-1, self.state_dim + self.action_dim).float()
        self.in_mean.copy_(x.mean(0))
        std = x.std(0, unbiased=False)
        self.in_std.copy_(torch.where(std < 1e-6, torch.ones_like(std), std))

    def forward(self, states: torch.Tensor, actions: torch.Tensor):
        x = (torch.cat([states, actions], dim=-1) - self.in_mean) / self.in_std
        if x.shape[0] == 1 and self.members > 1:
            x = x.expand(self.members, *x.shape[1:])
        act = ACTIVATIONS[self.activation]
        n = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b[:, None, :], x, w.transpose(1, 2))
            if i < n - 1:
                x = act(x)
        if not self.gaussian:
            return x, None
        n_out = self.outputs
        mean, raw = x[..., :n_out], x[..., n_out:]
        lv = self.max_logvar - F.softplus(self.max_logvar - raw)
        lv = self.min_logvar + F.softplus(lv - self.min_logvar)
        return mean, lv

    def loss(self, states, actions, targets) -> torch.Tensor:
        """Gaussian NLL (up to constants) plus the bound penalty, or MSE for a deterministic head; inputs [E, N, .]."""
        mean, lv = self(states, actions)
        if not self.gaussian:
            return ((mean - targets) ** 2).mean()
        nll = ((mean - targets) ** 2 * torch.exp(-lv) + lv).mean()
        return nll + 0.01 * (self.max_logvar.sum() - self.min_logvar.sum())

    def fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        rewards: np.ndarray | None = None,
        *,
        epochs: int = 50,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        seed: int = 0,
    ) -> list[float]:
        """Fits the ensemble to transitions (float arrays [N, S], [N, A], [N, S], [N]) by minibatch Adam on a
        bootstrap resample per member; refits the input normalizer first. Returns the mean loss of each epoch."""
        s = torch.as_tensor(np.asarray(states, dtype=np.float32))
        a = torch.as_tensor(np.asarray(actions, dtype=np.float32)).reshape(len(s), -1)
        d = torch.as_tensor(np.asarray(next_states, dtype=np.float32)) - s
        if s.ndim != 2 or s.shape[1] != self.state_dim or a.shape[1] != self.action_dim or d.shape != s.shape:
            raise ValueError(
                f"GaussianEnsemble.fit: states / next_states must be [N, {self.state_dim}] and actions "
                f"[N, {self.action_dim}], got {tuple(s.shape)}, {tuple(a.shape)}, {tuple(np.shape(next_states))}"
            )
        if self.reward_head:
            if rewards is None:
                raise ValueError("GaussianEnsemble.fit: a model with a reward head needs rewards")
            d = torch.cat([d, torch.as_tensor(np.asarray(rewards, dtype=np.float32)).reshape(-1, 1)], dim=1)
        if not (torch.isfinite(s).all() and torch.isfinite(a).all() and torch.isfinite(d).all()):
            raise ValueError("GaussianEnsemble.fit: the transitions must be finite, got NaN or inf")
        self.fit_normalizer(s, a)
        gen = torch.Generator().manual_seed(seed)
        N = len(s)
        boot = torch.randint(0, N, (self.members, N), generator=gen)
        opt = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
        losses = []
        for _ in range(epochs):
            perm = boot[:, torch.randperm(N, generator=gen)]
            total, batches = 0.0, 0
            for i in range(0, N, batch_size):
                idx = perm[:, i : i + batch_size]
                loss = self.loss(s[idx], a[idx], d[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach())
                batches += 1
            losses.append(total / batches)
        return losses


def _f32(x) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)


class LearnedModel:
    """The C++ rollout model of a `GaussianEnsemble` (a snapshot of its weights: export again after training).
    Planners take it like an ExactModel; `set_states(obs, seed, round)` sets one problem per row of obs."""

    def __init__(self, core, low, high):
        self._model = core
        self.low = np.asarray(low, dtype=np.float64).reshape(-1)
        self.high = np.asarray(high, dtype=np.float64).reshape(-1)
        self.action_dim = int(core.action_dim)
        self._starts = None
        if self.low.shape != (self.action_dim,) or self.high.shape != (self.action_dim,):
            raise ValueError(
                f"LearnedModel: low and high must have shape ({self.action_dim},), got {self.low.shape} and "
                f"{self.high.shape}"
            )

    @classmethod
    def from_torch(
        cls,
        ensemble: GaussianEnsemble,
        *,
        low,
        high,
        reward: str = "head",
        q=None,
        r=None,
        max_norm: float = math.inf,
        particles: int = 20,
        propagation: str = "ts1",
        generic: bool = False,
    ) -> LearnedModel:
        if not isinstance(ensemble, GaussianEnsemble):
            raise TypeError(f"LearnedModel.from_torch: ensemble must be a GaussianEnsemble, got {type(ensemble)}")
        if reward not in REWARDS:
            raise ValueError(f"LearnedModel.from_torch: reward must be one of {REWARDS}, got {reward!r}")
        if propagation not in ("ts1", "tsinf"):
            raise ValueError(f"LearnedModel.from_torch: propagation must be 'ts1' or 'tsinf', got {propagation!r}")
        for w in ensemble.parameters():
            if not torch.isfinite(w).all():
                raise ValueError("LearnedModel.from_torch: the ensemble's weights must be finite, got NaN or inf")
        g = ensemble.gaussian
        core = _core._MlpEnsembleModel(
            [_f32(w) for w in ensemble.weights],
            [_f32(b) for b in ensemble.biases],
            ensemble.activation,
            g,
            ensemble.reward_head,
            ensemble.state_dim,
            ensemble.action_dim,
            _f32(ensemble.in_mean),
            _f32(ensemble.in_std),
            max_logvar=_f32(ensemble.max_logvar) if g else None,
            min_logvar=_f32(ensemble.min_logvar) if g else None,
            reward=reward,
            q=None if q is None else np.ascontiguousarray(q, dtype=np.float64).reshape(-1),
            r=None if r is None else np.ascontiguousarray(r, dtype=np.float64).reshape(-1),
            max_norm=float(max_norm),
            particles=int(particles),
            propagation=propagation,
            generic=bool(generic),
        )
        return cls(core, low, high)

    @property
    def num_problems(self) -> int:
        return int(self._model.num_problems)

    @property
    def core(self):
        return self._model

    @property
    def isa(self) -> str:
        """The dense kernel in use: "avx512", "avx2" (AVX2 + FMA) or "generic"."""
        return self._model.isa

    def set_states(self, states, seed: int = 0, round: int = 0) -> None:
        """Start states [num_problems, state_dim] (observations); seed and round address the particles' noise."""
        s = np.asarray(states.detach().cpu().numpy() if isinstance(states, torch.Tensor) else states)
        if s.ndim == 1:
            s = s[None]
        if not np.all(np.isfinite(s)):
            raise ValueError("set_states: states must be finite, got NaN or inf")
        self._starts = np.ascontiguousarray(s, dtype=np.float32)
        self._model.set_states(self._starts, seed, round)

    def predict(self, states, actions, member: int):
        """Member `member`'s (mean [n, O], bounded logvar [n, O] or None) of rows (states [n, S], actions [n, A])."""
        return self._model.predict(
            np.ascontiguousarray(states, dtype=np.float32), np.ascontiguousarray(actions, dtype=np.float64), member
        )

    def evaluate(self, actions: np.ndarray, gamma: float = 1.0) -> np.ndarray:
        """Mean particle returns [num_problems, count] of actions [num_problems, count, horizon, action_dim]."""
        if self.num_problems < 1:
            raise ValueError("evaluate: the model has no start states; call set_states(states) first")
        return self._model.evaluate(np.ascontiguousarray(actions, dtype=np.float64), float(gamma))


def _named_reward(reward, s, a, s2, q, r, max_norm):
    """reward, terminated of a step ([..., S], [..., A], [..., S]) in float64, as learned_model.h computes them."""
    s, a, s2 = s.double(), a.double(), s2.double()
    if reward == "pendulum":
        th = torch.atan2(s[..., 1], s[..., 0])
        u = a[..., 0].clamp(-2.0, 2.0)
        return -(th**2 + 0.1 * s[..., 2] ** 2 + 0.001 * u**2), torch.zeros_like(th, dtype=torch.bool)
    if reward == "cartpole":
        term = (s2[..., 0].abs() > 2.4) | (s2[..., 2].abs() > 12.0 * 2.0 * math.pi / 360.0)
        return torch.ones_like(s2[..., 0]), term
    q = torch.as_tensor(q, dtype=torch.float64)
    rr = torch.as_tensor(r, dtype=torch.float64)
    cost = (q * s2**2).sum(-1) + (rr * a**2).sum(-1)
    return -cost, s2.norm(dim=-1) > max_norm


def torch_returns(
    ensemble: GaussianEnsemble,
    model: LearnedModel,
    actions: torch.Tensor,
    *,
    gamma: float = 1.0,
    reward: str = "head",
    q=None,
    r=None,
    max_norm: float = math.inf,
) -> torch.Tensor:
    """The particle returns of `model.evaluate` computed in PyTorch from `ensemble` (float32 network, float64
    rewards), with the members and noise the C++ model draws: actions [B, N, H, A] -> returns [B, N]."""
    core = model.core
    B, N, H, A = actions.shape
    P, S, n_out = int(core.particles), ensemble.state_dim, ensemble.outputs
    starts = torch.as_tensor(np.asarray(core_starts(model)), dtype=torch.float32)
    out = torch.zeros(B, N, dtype=torch.float64)
    with torch.no_grad():
        for b in range(B):
            members = torch.as_tensor(core.members_of(b, H))
            s = starts[b].expand(P, N, S).clone()
            ret = torch.zeros(P, N, dtype=torch.float64)
            done = torch.zeros(P, N, dtype=torch.bool)
            disc = 1.0
            for t in range(H):
                a = actions[b, :, t].float()
                y = torch.empty(P, N, n_out)
                for p in range(P):
                    e = int(members[t, p])
                    mean, lv = ensemble(s[p][None], a[None])
                    mean = _member(mean, e)
                    if ensemble.gaussian:
                        z = _core._planning_normals(int(core.seed), int(core.round), b, t, p * n_out, n_out)
                        eps = torch.as_tensor(z, dtype=torch.float32)
                        mean = mean + torch.exp(0.5 * _member(lv, e)) * eps
                    y[p] = mean
                s2 = s + y[..., :S]
                if reward == "head":
                    rew, term = y[..., S].double(), torch.zeros(P, N, dtype=torch.bool)
                else:
                    rew, term = _named_reward(reward, s, actions[b, :, t].expand(P, N, A), s2, q, r, max_norm)
                ret += torch.where(done, 0.0, disc * rew)
                done |= term
                s = s2
                disc *= gamma
            out[b] = ret.mean(0)
    return out


def _member(x: torch.Tensor, e: int) -> torch.Tensor:
    return x[e] if x.shape[0] > 1 else x[0]


def core_starts(model: LearnedModel) -> np.ndarray:
    return model._starts


__all__ = ["GaussianEnsemble", "LearnedModel", "torch_returns"]
