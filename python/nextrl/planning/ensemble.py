"""Learned dynamics for planning: a probabilistic ensemble of MLPs in PyTorch (PETS, Chua et al. 2018) and its
export to the C++ rollout model (csrc/planning/learned_model.h), so CEM / iCEM / MPPI plan through it in one C++
call.

- `GaussianEnsemble`: E members, each an MLP from the normalized (state, action) to the next-state delta (and the
  reward with `reward_head=True`), with a Gaussian head (mean and log-variance, soft-bounded by learned
  max_logvar / min_logvar, Chua et al. 2018, appendix A.1) or a deterministic one. Members run batched
  (`torch.baddbmm` over [E, N, in]). `fit` trains it by Gaussian NLL (or MSE) on bootstrap resamples, one per member,
  with the bound penalty 0.01 (sum max_logvar - sum min_logvar), on normalized inputs and (by default) normalized
  targets, so that the loss does not scale with the deltas' or rewards' units; optionally with Janner et al. 2019's
  holdout, early stopping and elites (the members of lowest holdout MSE, which rollouts and the export use).
- `LearnedModel.from_torch(ensemble, reward=...)`: the C++ model with the elites' weights (float32; the target
  normalizer folded into the last layer, exactly, so the C++ kernels need no output scaling), the particles
  (TS-1 or TS-inf) and the reward: the model's head or a named function of (s, a, s') for the shipped envs
  ("pendulum" with max_torque, the action cost's clip: PendulumVectorEnv's config.max_torque, Gymnasium's 2 by
  default; "cartpole"; "quadratic" with q, r, max_norm: PointMass is q = 1, r = action_cost, max_norm = 3).
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
        self.register_buffer("out_mean", torch.zeros(self.outputs))
        self.register_buffer("out_std", torch.ones(self.outputs))
        self.register_buffer("elite_mask", torch.ones(members, dtype=torch.bool))
        self.register_buffer("holdout_losses", torch.full((members,), math.nan))
        self.holdout_indices = np.zeros(0, dtype=np.int64)
        """rows of the last `fit`'s data held out (empty without a holdout)"""

    @property
    def elites(self) -> torch.Tensor:
        """The members rollouts and the C++ export use, ascending (int64 [k]; all members until a fit with
        num_elites < members). Stored as the fixed-size buffer elite_mask, so checkpoints load into a new ensemble."""
        return torch.nonzero(self.elite_mask).flatten()

    @elites.setter
    def elites(self, members) -> None:
        idx = torch.as_tensor(members, dtype=torch.long).reshape(-1)
        if len(idx) == 0 or idx.min() < 0 or idx.max() >= self.members:
            raise ValueError(f"GaussianEnsemble: elites must be member indices in [0, {self.members}), got {members!r}")
        mask = torch.zeros(self.members, dtype=torch.bool)
        mask[idx] = True
        self.elite_mask.copy_(mask)

    def fit_normalizer(self, states: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor | None = None) -> None:
        """Sets in_mean / in_std to the mean and std of the inputs (and out_mean / out_std to those of the targets
        [N, outputs], if given); a std below 1e-6 becomes 1."""

        def moments(x):
            std = x.std(0, unbiased=False)
            return x.mean(0), torch.where(std < 1e-6, torch.ones_like(std), std)

        x = torch.cat([states, actions], dim=-1).reshape(-1, self.state_dim + self.action_dim).float()
        for buf, v in zip((self.in_mean, self.in_std), moments(x)):
            buf.copy_(v)
        if targets is not None:
            for buf, v in zip((self.out_mean, self.out_std), moments(targets.reshape(-1, self.outputs).float())):
                buf.copy_(v)

    def forward(self, states: torch.Tensor, actions: torch.Tensor):
        """(mean, logvar) of the targets: the normalized head's outputs mapped back by out_mean / out_std."""
        mean, lv = self.normalized(states, actions)
        mean = mean * self.out_std + self.out_mean
        return mean, None if lv is None else lv + 2.0 * torch.log(self.out_std)

    def normalized(self, states: torch.Tensor, actions: torch.Tensor):
        """(mean, logvar) of the normalized targets (target - out_mean) / out_std: the network's own head."""
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
        """Gaussian NLL (up to constants) plus the bound penalty, or MSE for a deterministic head, of the normalized
        targets (targets - out_mean) / out_std; inputs [E, N, .]."""
        mean, lv = self.normalized(states, actions)
        targets = (targets - self.out_mean) / self.out_std
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
        normalize_targets: bool = True,
        holdout_ratio: float = 0.0,
        num_elites: int | None = None,
        max_epochs_since_update: int | None = None,
    ) -> list[float]:
        """Fits the ensemble to transitions (float arrays [N, S], [N, A], [N, S], [N]) by minibatch Adam on a
        bootstrap resample per member; refits the normalizers first (inputs, and with `normalize_targets` the
        targets: next-state deltas and rewards, so that the loss does not scale with them). Returns the mean training
        loss of each epoch.

        Janner et al. 2019's model training, as options: `holdout_ratio` of the rows (a random subset, int(N *
        ratio)) are held out of training and the normalizers; after each epoch every member's holdout MSE (of the
        normalized targets, the mean's error) is measured; with `max_epochs_since_update` = m, a member's weights are
        kept (snapshot) whenever its holdout loss improves by more than 1% of its best, training stops once no
        member improved for more than m epochs (or after `epochs`), and each member returns to its best snapshot.
        `elites` becomes the `num_elites` members of lowest final holdout loss (`holdout_losses`), which rollouts and
        the C++ export use; without a holdout every member is an elite."""
        fn = "GaussianEnsemble.fit"
        s = torch.as_tensor(np.asarray(states, dtype=np.float32))
        a = torch.as_tensor(np.asarray(actions, dtype=np.float32)).reshape(len(s), -1)
        d = torch.as_tensor(np.asarray(next_states, dtype=np.float32)) - s
        if s.ndim != 2 or s.shape[1] != self.state_dim or a.shape[1] != self.action_dim or d.shape != s.shape:
            raise ValueError(
                f"{fn}: states / next_states must be [N, {self.state_dim}] and actions "
                f"[N, {self.action_dim}], got {tuple(s.shape)}, {tuple(a.shape)}, {tuple(np.shape(next_states))}"
            )
        if self.reward_head:
            if rewards is None:
                raise ValueError(f"{fn}: a model with a reward head needs rewards")
            d = torch.cat([d, torch.as_tensor(np.asarray(rewards, dtype=np.float32)).reshape(-1, 1)], dim=1)
        if not (torch.isfinite(s).all() and torch.isfinite(a).all() and torch.isfinite(d).all()):
            raise ValueError(f"{fn}: the transitions must be finite, got NaN or inf")
        if not 0.0 <= holdout_ratio < 1.0:
            raise ValueError(f"{fn}: holdout_ratio must be in [0, 1), got {holdout_ratio!r}")
        N = len(s)
        n_hold = int(N * holdout_ratio)
        k = self.members if num_elites is None else num_elites
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.members:
            raise ValueError(f"{fn}: num_elites must be an int in [1, members = {self.members}], got {num_elites!r}")
        if (k < self.members or max_epochs_since_update is not None) and not 1 <= n_hold < N:
            raise ValueError(
                f"{fn}: num_elites < members and max_epochs_since_update need a holdout of 1 to N - 1 rows "
                f"(holdout_ratio > 0), got {n_hold} of {N} rows"
            )
        if max_epochs_since_update is not None and (
            isinstance(max_epochs_since_update, bool)
            or not isinstance(max_epochs_since_update, int)
            or max_epochs_since_update < 0
        ):
            raise ValueError(f"{fn}: max_epochs_since_update must be an int >= 0, got {max_epochs_since_update!r}")
        gen = torch.Generator().manual_seed(seed)
        if n_hold:
            split = torch.randperm(N, generator=gen)
            hold, train = split[:n_hold], split[n_hold:]
            s, a, d, hs, ha, hd = s[train], a[train], d[train], s[hold], a[hold], d[hold]
            self.holdout_indices = hold.numpy().copy()
        else:
            self.holdout_indices = np.zeros(0, dtype=np.int64)
        self.fit_normalizer(s, a, d if normalize_targets else None)
        if not normalize_targets:
            self.out_mean.zero_()
            self.out_std.fill_(1.0)
        N = len(s)
        boot = torch.randint(0, N, (self.members, N), generator=gen)
        opt = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
        best = torch.full((self.members,), math.inf)
        members_params = (*self.weights, *self.biases)  # [E, ...] each: a member's snapshot is its slices
        snapshot = [p.detach().clone() for p in members_params] if max_epochs_since_update is not None else None
        since_update = 0
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
            if max_epochs_since_update is not None:
                cur = self.holdout_mse(hs, ha, hd)
                better = torch.isinf(best) | ((best - cur) / best > 0.01)  # Janner et al.'s _save_best
                if better.any():
                    for p, saved in zip(members_params, snapshot):
                        saved[better] = p.detach()[better]
                    best = torch.where(better, cur, best)
                    since_update = 0
                else:
                    since_update += 1
                if since_update > max_epochs_since_update:
                    break
        if max_epochs_since_update is not None:
            with torch.no_grad():
                for p, saved in zip(members_params, snapshot):
                    p.copy_(saved)
        if n_hold:
            self.holdout_losses.copy_(self.holdout_mse(hs, ha, hd))
        else:
            self.holdout_losses.fill_(math.nan)
        self._set_elites(k)
        return losses

    def _set_elites(self, k: int) -> None:
        if k == self.members or torch.isnan(self.holdout_losses).any():
            self.elites = torch.arange(self.members)
        else:
            self.elites = torch.sort(torch.argsort(self.holdout_losses, stable=True)[:k]).values

    def export_params(self) -> dict[str, list[torch.Tensor] | torch.Tensor | None]:
        """The elites' weights [k, out, in] and biases [k, out] with the target normalizer folded into the last layer
        (mean rows: W * out_std, b * out_std + out_mean; log-variance rows and both bounds: + 2 log out_std, exact
        since the soft bounds commute with a shift), and the bounds; so a plain MLP with these weights computes
        `forward`. Member j of the export is member elites[j] of the ensemble."""
        idx, n = self.elites, self.outputs
        with torch.no_grad():
            weights = [w.detach()[idx].clone() for w in self.weights]
            biases = [b.detach()[idx].clone() for b in self.biases]
            weights[-1][:, :n] *= self.out_std[:, None]
            biases[-1][:, :n] = biases[-1][:, :n] * self.out_std + self.out_mean
            out = {"weights": weights, "biases": biases, "max_logvar": None, "min_logvar": None}
            if self.gaussian:
                shift = 2.0 * torch.log(self.out_std)
                biases[-1][:, n:] += shift
                out["max_logvar"] = self.max_logvar.detach() + shift
                out["min_logvar"] = self.min_logvar.detach() + shift
        return out

    def holdout_mse(self, states: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Each member's mean squared error [E] of its mean on rows ([n, S], [n, A], [n, outputs]) in the normalized
        target space ((target - out_mean) / out_std), averaged over rows and outputs."""
        with torch.no_grad():
            mean, _ = self.normalized(states[None], actions[None])
            t = (targets - self.out_mean) / self.out_std
            return ((mean - t[None]) ** 2).mean(dim=(1, 2))


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
        self.elites = np.arange(int(core.members))
        """the ensemble members the C++ members are (GaussianEnsemble.elites at export): C++ member j is elites[j]"""
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
        max_torque: float = 2.0,
        particles: int = 20,
        propagation: str = "ts1",
        generic: bool = False,
    ) -> LearnedModel:
        if not isinstance(ensemble, GaussianEnsemble):
            raise TypeError(f"LearnedModel.from_torch: ensemble must be a GaussianEnsemble, got {type(ensemble)}")
        if reward not in REWARDS:
            raise ValueError(f"LearnedModel.from_torch: reward must be one of {REWARDS}, got {reward!r}")
        check_max_torque("LearnedModel.from_torch", max_torque)
        if propagation not in ("ts1", "tsinf"):
            raise ValueError(f"LearnedModel.from_torch: propagation must be 'ts1' or 'tsinf', got {propagation!r}")
        for w in (*ensemble.parameters(), ensemble.out_mean, ensemble.out_std):
            if not torch.isfinite(w).all():
                raise ValueError("LearnedModel.from_torch: the ensemble's weights must be finite, got NaN or inf")
        g = ensemble.gaussian
        params = ensemble.export_params()
        core = _core._MlpEnsembleModel(
            [_f32(w) for w in params["weights"]],
            [_f32(b) for b in params["biases"]],
            ensemble.activation,
            g,
            ensemble.reward_head,
            ensemble.state_dim,
            ensemble.action_dim,
            _f32(ensemble.in_mean),
            _f32(ensemble.in_std),
            max_logvar=_f32(params["max_logvar"]) if g else None,
            min_logvar=_f32(params["min_logvar"]) if g else None,
            reward=reward,
            q=None if q is None else np.ascontiguousarray(q, dtype=np.float64).reshape(-1),
            r=None if r is None else np.ascontiguousarray(r, dtype=np.float64).reshape(-1),
            max_norm=float(max_norm),
            max_torque=float(max_torque),
            particles=int(particles),
            propagation=propagation,
            generic=bool(generic),
        )
        model = cls(core, low, high)
        model.elites = ensemble.elites.numpy().copy()
        return model

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
        """Exported member `member`'s (ensemble member elites[member]) (mean [n, O], bounded logvar [n, O] or None) of
        rows (states [n, S], actions [n, A])."""
        return self._model.predict(
            np.ascontiguousarray(states, dtype=np.float32), np.ascontiguousarray(actions, dtype=np.float64), member
        )

    def evaluate(self, actions: np.ndarray, gamma: float = 1.0) -> np.ndarray:
        """Mean particle returns [num_problems, count] of actions [num_problems, count, horizon, action_dim]."""
        if self.num_problems < 1:
            raise ValueError("evaluate: the model has no start states; call set_states(states) first")
        return self._model.evaluate(np.ascontiguousarray(actions, dtype=np.float64), float(gamma))


def check_max_torque(fn: str, max_torque) -> float:
    """max_torque of the "pendulum" reward as a float; a clear error unless it is a finite real > 0."""
    if isinstance(max_torque, bool) or not isinstance(max_torque, (int, float, np.integer, np.floating)):
        raise ValueError(f"{fn}: max_torque must be a finite number > 0, got {max_torque!r}")
    if not (math.isfinite(max_torque) and max_torque > 0):
        raise ValueError(f"{fn}: max_torque must be a finite number > 0, got {max_torque!r}")
    return float(max_torque)


def check_first_holdout(fn: str, value: int, holdout_ratio: float, field_name: str, offset: int = 0) -> None:
    """Refuses up front a config whose first model fit (on `value` + `offset` transitions, `value` set by
    `field_name`) would hold out int(rows * holdout_ratio) = 0 rows, which GaussianEnsemble.fit refuses when elites
    or early stopping rank the members by holdout loss. Janner et al.'s code never fits before thousands of steps,
    and mbrl-lib silently scores the members on their training data when the validation split is empty: a config
    error, then, not a case for fit to paper over."""
    rows = value + offset
    if int(rows * holdout_ratio) >= 1:
        return
    need = max(1, math.ceil(1.0 / holdout_ratio))
    while int(need * holdout_ratio) < 1:
        need += 1
    sees = f"{field_name} + {offset}" if offset else field_name
    raise ValueError(
        f"{fn}: num_elites < members and max_epochs_since_update need a holdout of >= 1 row at the first model fit, "
        f"which sees {sees} = {rows} transitions: int({rows} * holdout_ratio {holdout_ratio}) = 0; raise "
        f"{field_name} to >= {need - offset} or holdout_ratio to >= 1 / {rows}"
    )


def env_max_torque(fn: str, env, max_torque=None) -> float:
    """The "pendulum" reward's max_torque for a (vector) env: `max_torque` if given (checked), else the env's own
    config.max_torque (PendulumVectorEnv), else the bound of its action space if that is a symmetric finite 1-D box
    (Gymnasium's Pendulum-v1: 2)."""
    if max_torque is not None:
        return check_max_torque(fn, max_torque)
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    if config is not None and hasattr(config, "max_torque"):
        return check_max_torque(fn, config.max_torque)
    space = getattr(env, "single_action_space", None)
    low = np.asarray(getattr(space, "low", np.nan), dtype=np.float64).reshape(-1)
    high = np.asarray(getattr(space, "high", np.nan), dtype=np.float64).reshape(-1)
    if high.shape == (1,) and low.shape == (1,) and np.isfinite(high[0]) and high[0] > 0 and low[0] == -high[0]:
        return float(high[0])
    raise ValueError(
        f"{fn}: reward 'pendulum' clips the torque at max_torque, and the env has no config.max_torque and no "
        f"symmetric finite 1-D action box to take it from (got {space}); set max_torque"
    )


def _named_reward(reward, s, a, s2, q, r, max_norm, max_torque=2.0):
    """reward, terminated of a step ([..., S], [..., A], [..., S]) in float64, as learned_model.h computes them."""
    s, a, s2 = s.double(), a.double(), s2.double()
    if reward == "pendulum":
        th = torch.atan2(s[..., 1], s[..., 0])
        u = a[..., 0].clamp(-max_torque, max_torque)
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
    max_torque: float = 2.0,
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
                    e = int(model.elites[int(members[t, p])])
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
                    rew, term = _named_reward(
                        reward, s, actions[b, :, t].expand(P, N, A), s2, q, r, max_norm, max_torque
                    )
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


__all__ = ["GaussianEnsemble", "LearnedModel", "check_max_torque", "env_max_torque", "torch_returns"]
