"""Sampling planners over action sequences: CEM (with random shooting as its degenerate case), iCEM and MPPI.

Each planner is a frozen dataclass of hyperparameters with one method, `plan(model, ...)`, which optimizes B
independent problems at once and returns a `PlanResult`. The model decides the path:
- a C++ rollout model (`ExactModel(env)`, or any `nextrl._core._RolloutModel`): the whole plan (every
  iteration, candidate and horizon step of every problem) runs in one C++ call with the GIL released
  (csrc/planning/cem.h, mppi.h), in parallel, with results independent of the thread count;
- a torch objective `objective(actions [M, horizon, action_dim]) -> returns [M]` (M = num_problems *
  rows, problem-major): the same steps in PyTorch (nextrl.planning.torch_path), drawing the same noise, so
  both paths give the same plan on the same model and seed (to float tolerance).

Semantics (PlaNet, Hafner et al. 2019; mbrl-lib's CEMOptimizer with clipped sampling; csrc/planning/cem.h has
the full statement): a diagonal Gaussian over [horizon, action_dim] sequences, candidates clip(mean + std * noise)
in the action box, the top num_elites by return refit the Gaussian (population std), momentum alpha, and the plan
is the final mean. Returns are discounted by gamma and count zero after a termination (rollout models; a torch
objective computes its own returns). Noise: standard normals addressed by (seed, round, problem, iteration,
candidate, element) (csrc/planning/noise.h), so a plan is reproducible from its seed and round (MPC passes the
number of plans made so far as the round).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nextrl import _core
from nextrl._checks import check_seed
from nextrl.planning.models import ExactModel, core_model, is_rollout_model


@dataclass
class PlanResult:
    """One plan of B problems (numpy arrays from the C++ path, tensors from the torch path)."""

    actions: Any
    """[B, horizon, action_dim] the sequences to execute: the final mean (CEM, random shooting, MPPI) or the best
    candidate (iCEM)"""
    mean: Any
    """[B, horizon, action_dim] the final mean (the warm start of the next plan, shifted)"""
    std: Any
    """[B, horizon, action_dim] the final std (CEM family; None for MPPI)"""
    best: Any
    """[B, horizon, action_dim] the best candidate of all iterations (the first of equal returns)"""
    best_return: Any
    """[B] its return"""
    elites: Any = None
    """[B, num_elites, horizon, action_dim] the last iteration's elites, best first (CEM family)"""
    returns: Any = None
    """with record=True: [B, iterations, rows] every candidate's return (NaN past an iteration's rows)"""
    elite_rows: Any = None
    """with record=True (CEM family): [B, iterations, num_elites] the rows of the elites, best first"""


# ------------------------------------------------------------------------------------------------ checks
def _check_int(owner: str, name: str, value, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")


def _check_real(owner: str, name: str, value, low: float, high: float = math.inf, *, open_low=False, open_high=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} {value!r}")
    bad_low = value <= low if open_low else value < low
    bad_high = value >= high if open_high else value > high
    if not math.isfinite(value) or bad_low or bad_high:
        lo, hi = "(" if open_low else "[", ")" if open_high or high == math.inf else "]"
        raise ValueError(f"{owner}: {name} must be finite and in {lo}{low}, {high}{hi}, got {value}")


def _as_array(x, dtype=np.float64) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _finite(fn: str, name: str, x: np.ndarray) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{fn}: {name} must be finite, got NaN or inf")


@dataclass
class _Problem:
    """A plan's checked inputs: shapes, the box, the initial mean (and std) as float64 arrays."""

    B: int
    H: int
    A: int
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    std: np.ndarray | None
    torch_path: bool


def _problem(fn, planner, model, mean, std, low, high, num_problems, init_std) -> _Problem:
    H = planner.horizon
    from nextrl.planning.ensemble import LearnedModel
    from nextrl.planning.latent import LatentModel

    if isinstance(model, (ExactModel, LearnedModel)):
        if model.num_problems < 1:
            raise ValueError(f"{fn}: the model has no start states; call model.sync() or model.set_states(states)")
        low = model.low if low is None else low
        high = model.high if high is None else high
        B, A = model.num_problems, model.action_dim
    elif isinstance(model, (_core._RolloutModel, LatentModel)):
        if model.num_problems < 1:
            raise ValueError(f"{fn}: the model has no start states; call set_states(states) first")
        B, A = model.num_problems, model.action_dim
    elif callable(model):
        B, A = None, None
    else:
        raise TypeError(
            f"{fn}: model must be an ExactModel, a C++ rollout model or a torch objective "
            f"(callable: actions [M, horizon, action_dim] -> returns [M]), got {type(model).__name__}"
        )
    if low is None or high is None:
        raise ValueError(f"{fn}: low and high (the action box, [action_dim] each) are required for this model")
    low, high = _as_array(low), _as_array(high)
    if A is None:
        A = low.shape[0] if low.ndim == 1 else -1
    if low.shape != (A,) or high.shape != (A,):
        raise ValueError(
            f"{fn}: low and high must have shape ({A},) (one bound per action element), got {low.shape} and "
            f"{high.shape}"
        )
    _finite(fn, "low and high", np.concatenate([low, high]))
    if np.any(low > high):
        raise ValueError(f"{fn}: low must be <= high element by element, got low={low} high={high}")
    if B is None:
        if mean is not None:
            B = int(np.shape(mean)[0]) if np.ndim(mean) == 3 else -1
        else:
            _check_int(fn, "num_problems", 1 if num_problems is None else num_problems)
            B = 1 if num_problems is None else int(num_problems)
    if mean is None:
        mean = np.broadcast_to((low + high) / 2, (B, H, A)).copy()
    else:
        mean = _as_array(mean)
        if mean.shape != (B, H, A):
            raise ValueError(
                f"{fn}: mean must have shape (num_problems, horizon, action_dim) = {(B, H, A)}, got {mean.shape}"
            )
        _finite(fn, "mean", mean)
    if init_std is not None:
        if std is None:
            std = np.broadcast_to(init_std * (high - low), (B, H, A)).copy()
        else:
            std = _as_array(std)
            if std.shape != (B, H, A):
                raise ValueError(f"{fn}: std must have shape {(B, H, A)}, got {std.shape}")
            _finite(fn, "std", std)
            if np.any(std < 0):
                raise ValueError(f"{fn}: std must be >= 0")
    return _Problem(B, H, A, low, high, np.ascontiguousarray(mean), std, not is_rollout_model(model))


def _check_prev(fn: str, p: _Problem, prev_elites, num_keep: int):
    if prev_elites is None:
        return None
    prev = _as_array(prev_elites)
    if prev.ndim != 4 or prev.shape[0] != p.B or prev.shape[2:] != (p.H, p.A) or prev.shape[1] < num_keep:
        raise ValueError(
            f"{fn}: prev_elites must have shape ({p.B}, >= num_keep = {num_keep}, {p.H}, {p.A}), got {prev.shape}"
        )
    _finite(fn, "prev_elites", prev)
    return np.ascontiguousarray(prev)


def _round_arg(fn: str, round) -> int:
    _check_int(fn, "round", round, low=0)
    if round >= 2**32:
        raise ValueError(f"{fn}: round must be < 2**32, got {round}")
    return int(round)


# ------------------------------------------------------------------------------------------ the CEM family
def _plan_cem_family(
    planner,
    fn,
    model,
    *,
    mean,
    std,
    low,
    high,
    num_problems,
    seed,
    round,
    prev_elites,
    record,
    device,
    dtype,
    noise_beta,
    population_decay,
    num_keep,
    add_mean,
    use_best,
) -> PlanResult:
    seed = check_seed(fn, seed)
    round = _round_arg(fn, round)
    p = _problem(fn, planner, model, mean, std, low, high, num_problems, planner.init_std)
    prev = _check_prev(fn, p, prev_elites, num_keep)
    settings = dict(
        population=planner.population,
        num_elites=planner.num_elites,
        iterations=planner.iterations,
        alpha=float(planner.alpha),
        noise_beta=float(noise_beta),
        population_decay=float(population_decay),
        num_keep=int(num_keep),
        add_mean=bool(add_mean),
    )
    if p.torch_path:
        from nextrl.planning import torch_path

        out = torch_path.cem(
            fn, model, p, prev, seed=seed, round=round, record=record, device=device, dtype=dtype, **settings
        )
    else:
        out = _core._plan_cem(
            core_model(model),
            p.mean,
            np.ascontiguousarray(p.std),
            p.low,
            p.high,
            gamma=float(planner.gamma),
            seed=seed,
            round=round,
            prev_elites=prev,
            record=bool(record),
            **settings,
        )
    return PlanResult(
        actions=out["best"] if use_best else out["mean"],
        mean=out["mean"],
        std=out["std"],
        best=out["best"],
        best_return=out["best_return"],
        elites=out["elites"],
        returns=out.get("returns"),
        elite_rows=out.get("elite_rows"),
    )


def _check_cem_fields(owner: str, c, *, init_std: bool = True) -> None:
    """The hyperparameters CEM, iCEM and CategoricalCEM share (init_std: only the Gaussian ones have it)."""
    _check_int(owner, "horizon", c.horizon)
    _check_int(owner, "population", c.population)
    _check_int(owner, "num_elites", c.num_elites)
    if c.num_elites > c.population:
        raise ValueError(f"{owner}: num_elites must be <= population = {c.population}, got {c.num_elites}")
    _check_int(owner, "iterations", c.iterations)
    _check_real(owner, "alpha", c.alpha, 0.0, 1.0)
    _check_real(owner, "gamma", c.gamma, 0.0)
    if init_std:
        _check_real(owner, "init_std", c.init_std, 0.0)


_PLAN_DOC = """Optimizes every problem of `model` (see the module docstring for the models) and returns a PlanResult.

        mean, std: [B, horizon, action_dim] the initial Gaussian (default: the box's middle and init_std * (high -
            low)); MPC passes the previous plan's mean shifted by the steps it executed.
        low, high: [action_dim] the action box (default: the ExactModel's; required for a torch objective).
        num_problems: B for a torch objective when `mean` is not given (default 1).
        seed, round: the noise's address (csrc/planning/noise.h).
        record: also return every candidate's return (and the elites' rows).
        device, dtype: the torch path's tensors (default: cpu, float64)."""


@dataclass(frozen=True)
class CEM:
    """The cross-entropy method (PlaNet / mbrl-lib semantics, csrc/planning/cem.h); the plan is the final mean."""

    horizon: int = 15
    """steps per action sequence"""
    population: int = 500
    """candidates per iteration"""
    num_elites: int = 50
    """top candidates that refit the Gaussian (<= population)"""
    iterations: int = 5
    alpha: float = 0.1
    """momentum: mean <- alpha mean + (1 - alpha) elite mean (std likewise), in [0, 1]"""
    gamma: float = 1.0
    """discount of the rollout models' returns"""
    init_std: float = 0.25
    """initial std as a fraction of the box width high - low (mbrl-lib: (high - low) / 4)"""

    def __post_init__(self):
        _check_cem_fields(type(self).__name__, self)

    @classmethod
    def random_shooting(cls, horizon: int = 15, population: int = 1000, gamma: float = 1.0, init_std: float = 0.5):
        """Random shooting as degenerate CEM: one iteration, one elite, no momentum: the plan is the best of
        `population` candidates clip(mid + init_std * (high - low) * N(0, 1)) (init_std 0.5: spread over the box)."""
        return cls(
            horizon=horizon,
            population=population,
            num_elites=1,
            iterations=1,
            alpha=0.0,
            gamma=gamma,
            init_std=init_std,
        )

    def plan(
        self,
        model,
        *,
        mean=None,
        std=None,
        low=None,
        high=None,
        num_problems=None,
        seed: int = 0,
        round: int = 0,
        record: bool = False,
        device=None,
        dtype=None,
    ) -> PlanResult:
        return _plan_cem_family(
            self,
            "CEM.plan",
            model,
            mean=mean,
            std=std,
            low=low,
            high=high,
            num_problems=num_problems,
            seed=seed,
            round=round,
            prev_elites=None,
            record=record,
            device=device,
            dtype=dtype,
            noise_beta=0.0,
            population_decay=1.0,
            num_keep=0,
            add_mean=False,
            use_best=False,
        )

    plan.__doc__ = _PLAN_DOC


@dataclass(frozen=True)
class ICEM:
    """iCEM (Pinneri et al. 2020, "Sample-efficient cross-entropy method for real-time planning"): CEM with colored
    noise, a shrinking population, elites kept across iterations and plans, and the mean added to the last
    iteration; the plan is the best candidate. MPC keeps the elites: pass the last plan's elites shifted by one
    step as `prev_elites`."""

    horizon: int = 15
    population: int = 300
    """candidates of the first iteration; iteration i samples max(population * population_decay^-i, 2 num_elites)"""
    num_elites: int = 30
    iterations: int = 3
    alpha: float = 0.1
    gamma: float = 1.0
    init_std: float = 0.25
    noise_beta: float = 2.0
    """colored-noise exponent: power spectral density 1 / f^beta along the horizon (0: white noise)"""
    population_decay: float = 1.25
    """>= 1"""
    keep_fraction: float = 0.3
    """fraction xi of the elites carried into the next iteration (and, through prev_elites, into the next plan)"""
    add_mean: bool = True
    """the mean joins the last iteration's candidates"""

    def __post_init__(self):
        owner = type(self).__name__
        _check_cem_fields(owner, self)
        _check_real(owner, "noise_beta", self.noise_beta, 0.0)
        _check_real(owner, "population_decay", self.population_decay, 1.0)
        _check_real(owner, "keep_fraction", self.keep_fraction, 0.0, 1.0)

    @property
    def num_keep(self) -> int:
        """floor(keep_fraction * num_elites)"""
        return math.floor(self.keep_fraction * self.num_elites)

    def plan(
        self,
        model,
        *,
        mean=None,
        std=None,
        low=None,
        high=None,
        num_problems=None,
        seed: int = 0,
        round: int = 0,
        prev_elites=None,
        record: bool = False,
        device=None,
        dtype=None,
    ) -> PlanResult:
        return _plan_cem_family(
            self,
            "ICEM.plan",
            model,
            mean=mean,
            std=std,
            low=low,
            high=high,
            num_problems=num_problems,
            seed=seed,
            round=round,
            prev_elites=prev_elites,
            record=record,
            device=device,
            dtype=dtype,
            noise_beta=self.noise_beta,
            population_decay=self.population_decay,
            num_keep=self.num_keep,
            add_mean=self.add_mean,
            use_best=True,
        )

    plan.__doc__ = (
        _PLAN_DOC
        + """
        prev_elites: [B, >= num_keep, horizon, action_dim] the previous plan's elites, shifted (MPC does this)."""
    )


@dataclass(frozen=True)
class MPPI:
    """Model-predictive path integral control (Williams et al. 2017; csrc/planning/mppi.h): candidates mean + sigma *
    noise (optionally smoothed along the horizon), weights exp((R - max R) / temperature), the plan is the
    weighted mean."""

    horizon: int = 15
    population: int = 500
    iterations: int = 1
    temperature: float = 1.0
    """> 0: lower concentrates the weights on the best candidates"""
    noise_std: float = 0.25
    """sigma as a fraction of the box width high - low"""
    smoothing: float = 0.0
    """in [0, 1): u_h = (1 - smoothing) v_h + smoothing u_{h-1} (0: none)"""
    gamma: float = 1.0

    def __post_init__(self):
        owner = type(self).__name__
        _check_int(owner, "horizon", self.horizon)
        _check_int(owner, "population", self.population)
        _check_int(owner, "iterations", self.iterations)
        _check_real(owner, "temperature", self.temperature, 0.0, open_low=True)
        _check_real(owner, "noise_std", self.noise_std, 0.0)
        _check_real(owner, "smoothing", self.smoothing, 0.0, 1.0, open_high=True)
        _check_real(owner, "gamma", self.gamma, 0.0)

    def plan(
        self,
        model,
        *,
        mean=None,
        low=None,
        high=None,
        num_problems=None,
        seed: int = 0,
        round: int = 0,
        record: bool = False,
        device=None,
        dtype=None,
    ) -> PlanResult:
        fn = "MPPI.plan"
        seed = check_seed(fn, seed)
        round = _round_arg(fn, round)
        p = _problem(fn, self, model, mean, None, low, high, num_problems, None)
        sigma = self.noise_std * (p.high - p.low)
        settings = dict(
            population=self.population,
            iterations=self.iterations,
            temperature=float(self.temperature),
            smoothing=float(self.smoothing),
        )
        if p.torch_path:
            from nextrl.planning import torch_path

            out = torch_path.mppi(
                fn, model, p, sigma, seed=seed, round=round, record=record, device=device, dtype=dtype, **settings
            )
        else:
            out = _core._plan_mppi(
                core_model(model),
                p.mean,
                sigma,
                p.low,
                p.high,
                gamma=float(self.gamma),
                seed=seed,
                round=round,
                record=bool(record),
                **settings,
            )
        return PlanResult(
            actions=out["mean"],
            mean=out["mean"],
            std=None,
            best=out["best"],
            best_return=out["best_return"],
            returns=out.get("returns"),
        )

    plan.__doc__ = _PLAN_DOC


@dataclass(frozen=True)
class CategoricalCEM:
    """CEM over discrete action sequences (csrc/planning/categorical_cem.h): an independent categorical distribution
    per horizon step, candidates drawn from it by inverse CDF, the elites' action frequencies refit it with momentum
    alpha; the plan is the most probable action of each step. For models with one discrete action per step (an
    ExactModel of CartPole or a grid world; a torch objective over [M, horizon, 1] sequences of action indices)."""

    horizon: int = 15
    population: int = 500
    num_elites: int = 50
    iterations: int = 5
    alpha: float = 0.1
    """p <- alpha p + (1 - alpha) elite frequencies, in [0, 1]"""
    gamma: float = 1.0

    def __post_init__(self):
        _check_cem_fields(type(self).__name__, self, init_std=False)

    def plan(
        self,
        model,
        *,
        probs=None,
        num_actions=None,
        num_problems=None,
        seed: int = 0,
        round: int = 0,
        record: bool = False,
        device=None,
        dtype=None,
    ) -> PlanResult:
        """Optimizes every problem of `model` and returns a PlanResult whose `actions` [B, horizon, 1] are action
        indices (float64) and whose `std` field holds the final probabilities [B, horizon, num_actions].

        probs: [B, horizon, num_actions] the initial distributions (default uniform); num_actions: required for a torch
        objective when probs is not given (an ExactModel knows its own); num_problems: B for a torch objective."""
        fn = "CategoricalCEM.plan"
        seed = check_seed(fn, seed)
        round = _round_arg(fn, round)
        H = self.horizon
        torch_path = not is_rollout_model(model)
        if torch_path:
            if not callable(model):
                raise TypeError(f"{fn}: model must be an ExactModel, a C++ rollout model or a torch objective")
            B = None
        else:
            core = core_model(model)
            if core.num_problems < 1:
                raise ValueError(f"{fn}: the model has no start states; call model.sync() or model.set_states(states)")
            if core.action_dim != 1:
                raise ValueError(
                    f"{fn}: the model must take one discrete action per step, got action_dim {core.action_dim}"
                )
            B = int(core.num_problems)
            n_model = getattr(model, "num_actions", 0) or None
            num_actions = n_model if num_actions is None else num_actions
        if probs is None:
            if num_actions is None:
                raise ValueError(f"{fn}: num_actions (or probs) is required for this model")
            _check_int(fn, "num_actions", num_actions)
            if B is None:
                _check_int(fn, "num_problems", 1 if num_problems is None else num_problems)
                B = 1 if num_problems is None else int(num_problems)
            probs = np.full((B, H, int(num_actions)), 1.0 / int(num_actions))
        else:
            probs = _as_array(probs)
            if probs.ndim != 3 or (B is not None and probs.shape[0] != B) or probs.shape[1] != H:
                raise ValueError(
                    f"{fn}: probs must have shape (num_problems{'' if B is None else ' = ' + str(B)}, horizon = {H}, "
                    f"num_actions), got {probs.shape}"
                )
            if num_actions is not None and probs.shape[2] != num_actions:
                raise ValueError(f"{fn}: probs must have num_actions = {num_actions} columns, got {probs.shape[2]}")
            if not np.all(np.isfinite(probs)) or np.any(probs < 0) or np.any(np.abs(probs.sum(-1) - 1) > 1e-6):
                raise ValueError(f"{fn}: probs must be finite, >= 0, and sum to 1 over the last axis")
            B = probs.shape[0]
        settings = dict(
            population=self.population, num_elites=self.num_elites, iterations=self.iterations, alpha=float(self.alpha)
        )
        if torch_path:
            from nextrl.planning import torch_path as tp

            out = tp.categorical_cem(
                fn,
                model,
                np.ascontiguousarray(probs),
                seed=seed,
                round=round,
                record=record,
                device=device,
                dtype=dtype,
                **settings,
            )
            mode = out["probs"].argmax(-1, keepdim=True).to(out["probs"].dtype)
        else:
            out = _core._plan_categorical_cem(
                core_model(model),
                np.ascontiguousarray(probs),
                gamma=float(self.gamma),
                seed=seed,
                round=round,
                record=bool(record),
                **settings,
            )
            mode = out["probs"].argmax(-1)[..., None].astype(np.float64)
        return PlanResult(
            actions=mode,
            mean=mode,
            std=out["probs"],
            best=out["best"],
            best_return=out["best_return"],
            elites=out["elites"],
            returns=out.get("returns"),
            elite_rows=out.get("elite_rows"),
        )


Planner = CEM | ICEM | MPPI | CategoricalCEM

__all__ = ["CEM", "ICEM", "MPPI", "CategoricalCEM", "PlanResult", "Planner"]
