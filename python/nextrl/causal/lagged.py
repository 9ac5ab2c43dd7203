"""Time-lagged discovery on RL transitions: PC over (s_t, a_t, s_{t+1}) with temporal tiers, so every edge
into a next-state component comes from the current state or action (a transition graph).

Deterministic mechanisms. Simulated dynamics are often noise-free (CausalThrust: vel_{t+1} = vel_t +
0.05 force_t + 0.1 thrust_t, pos_{t+1} = pos_t + 0.1 vel_{t+1}). A deterministic relation breaks
faithfulness: any set that determines X makes X independent of everything, so Fisher-z reports spurious
independences (and partial correlations of 0/0) and PC deletes true edges. We follow the two-step treatment
of deterministic relations in constraint-based search (Luo 2006, "Learning Bayesian networks in
semi-deterministic systems", Canadian AI; Mabrouk, Gonzales, Jouve-Kan & Wuillemin 2014, "An efficient
Bayesian network structure learning algorithm in the presence of deterministic relations", ECAI; the
faithfulness analysis of Lemeire, Meganck, Cartella & Liu 2012, IJAR 53):
1. detect deterministic next-state variables, here by a near-zero unexplained-variance fraction of a linear
   regression (`deterministic_tol`), and take the smallest determining set as the variable's parents (known
   edges; every other candidate edge into it is forbidden). With contemporaneous edges the determining
   sets are not unique (information equivalence: pos_{t+1} is determined by (pos_t, vel_{t+1}) and by
   (pos_t, vel_t, force_t, thrust_t)); variables with smaller lagged determining sets are resolved first and
   may serve as parents of later ones, the simplest-decomposition choice of Lemeire et al.;
2. run PC with a CI test that never concludes independence from a degenerate test, one whose variables
   {x, y} + S contain a (near-)deterministic relation (p-value 0: the edge is kept at that test).
Linear detection only: with ci_test other than 'fisherz' the treatment is off.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from nextrl.causal.ci_tests import FisherZ
from nextrl.causal.pc import Knowledge, PCResult, Progress, pc

_SUBSET_BUDGET = 20_000  # subsets scanned for a smallest determining set before backward elimination
_SLACK = 10.0  # a determining set may leave at most this times the unexplained fraction of all candidates


def transition_names(state_names: Sequence[str], action_names: Sequence[str]) -> list[str]:
    """'x[t]' for states and actions, then 'x[t+1]' for next states."""
    return [f"{v}[t]" for v in state_names] + [f"{v}[t]" for v in action_names] + [f"{v}[t+1]" for v in state_names]


def unexplained_fraction(corr: np.ndarray, y: int, cond: Sequence[int]) -> float:
    """1 - R^2 of the least-squares regression of variable y on cond, from a correlation matrix [p, p]."""
    cond = list(cond)
    if not cond:
        return 1.0
    r_ss = corr[np.ix_(cond, cond)]
    r_sy = corr[cond, y]
    beta = np.linalg.lstsq(r_ss, r_sy, rcond=1e-12)[0]
    return float(max(1.0 - r_sy @ beta, 0.0))


def _smallest_determining_set(corr: np.ndarray, y: int, cands: list[int], tol: float) -> tuple[int, ...] | None:
    """A smallest subset of cands that explains y as well as all of cands do (unexplained fraction within
    _SLACK times theirs), or None if cands do not determine y (fraction >= tol). The slack matters for
    near-deterministic terms: in pos_{t+1} = pos_t + 0.1 vel_t + 0.005 force_t, (pos_t, vel_t) alone leave a
    fraction far below any fixed tol, but far above the full set's. Exhaustive by size within _SUBSET_BUDGET
    subsets, then backward elimination (a minimal, not always smallest, set)."""
    full = unexplained_fraction(corr, y, cands)
    if full >= tol:
        return None
    bound = max(_SLACK * full, 1e-12)
    scanned = 0
    for size in range(1, len(cands) + 1):
        for s in combinations(cands, size):
            scanned += 1
            if scanned > _SUBSET_BUDGET:
                break
            if unexplained_fraction(corr, y, s) <= bound:
                return s
        if scanned > _SUBSET_BUDGET:
            break
    keep = list(cands)
    for c in list(cands):
        rest = [v for v in keep if v != c]
        if unexplained_fraction(corr, y, rest) <= bound:
            keep = rest
    return tuple(keep)


def deterministic_parents(
    corr: np.ndarray, num_lagged: int, *, contemporaneous: bool = False, tol: float = 1e-3
) -> dict[int, tuple[int, ...]]:
    """Deterministic next-state variables and their parents (step 1 of the module docstring).

    corr: [p, p] correlation matrix of (s_t, a_t, s_{t+1}) with the num_lagged variables of tier 0 first.
    Returns {index of a determined next-state variable: indices of its smallest determining set}, the sets
    drawn from tier 0, and with contemporaneous=True also from the other next-state variables (those
    determined by tier 0 only after the ones with smaller lagged sets, so the result is acyclic)."""
    p = corr.shape[0]
    lagged = list(range(num_lagged))
    found = {y: _smallest_determining_set(corr, y, lagged, tol) for y in range(num_lagged, p)}
    det = {y: s for y, s in found.items() if s is not None}
    if not contemporaneous:
        return det
    out: dict[int, tuple[int, ...]] = {}
    later = set(det)
    for y in sorted(det, key=lambda v: (len(det[v]), v)):
        later.discard(y)
        cands = lagged + [v for v in range(num_lagged, p) if v != y and v not in later]
        out[y] = _smallest_determining_set(corr, y, cands, tol) or det[y]
    return out


class DeterminismGuardedFisherZ:
    """Fisher-z test whose p-value is 0 (dependent) for a degenerate query: one whose variables {x, y} + S
    contain a near-deterministic relation, i.e. one of them has an unexplained-variance fraction < tol
    given the others (step 2 of the module docstring). num_degenerate counts the queries answered so."""

    def __init__(self, data: np.ndarray, names: Sequence | None = None, *, tol: float = 1e-3):
        self.base = FisherZ(data, names)
        self.names, self.num_vars, self.num_samples = self.base.names, self.base.num_vars, self.base.num_samples
        self.tol = tol
        self.num_degenerate = 0

    def degenerate(self, x, y, cond) -> np.ndarray:
        """[B] bool: the query's correlation matrix has a member with unexplained fraction < tol."""
        ids = np.concatenate([np.asarray(x, np.int64)[:, None], np.asarray(y, np.int64)[:, None], cond], 1)
        r = self.base.corr[ids[:, :, None], ids[:, None, :]]  # [B, k+2, k+2]
        w, v = np.linalg.eigh(r)
        # diag(R^-1)_i = sum_j v_ij^2 / w_j; its inverse is the unexplained fraction of member i
        inv_diag = np.einsum("bij,bj->bi", v * v, 1.0 / np.maximum(w, 1e-300))
        return (1.0 / inv_diag).min(1) < self.tol

    def pvalues(self, x, y, cond) -> np.ndarray:
        x, y = np.asarray(x, np.int64), np.asarray(y, np.int64)
        cond = np.asarray(cond, np.int64).reshape(len(x), -1)
        out = np.zeros(len(x))
        if not len(x):
            return out
        bad = self.degenerate(x, y, cond)
        self.num_degenerate += int(bad.sum())
        ok = ~bad
        if ok.any():
            out[ok] = self.base.pvalues(x[ok], y[ok], cond[ok])
        return out


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
    deterministic_tol: float | None = 1e-3,
    progress: Progress | None = None,
) -> PCResult:
    """PC on transitions. obs, next_obs: [N, S]; actions: [N, A]. Tier 0 = (s_t, a_t), tier 1 = s_{t+1}; edges
    inside tier 0 are forbidden (the policy and the past are not modelled), and inside tier 1 too unless
    contemporaneous=True. The parents of each 'x[t+1]' in the result are what drives it.

    deterministic_tol: with ci_test='fisherz', the unexplained-variance fraction below which a variable
    counts as determined by others (module docstring); None turns the treatment off."""
    obs, next_obs = np.asarray(obs, np.float64), np.asarray(next_obs, np.float64)
    actions = np.asarray(actions, np.float64)
    if actions.ndim == 1:
        actions = actions[:, None]
    if obs.ndim != 2 or next_obs.shape != obs.shape or actions.ndim != 2 or actions.shape[0] != obs.shape[0]:
        raise ValueError(
            f"discover_transitions: obs, actions, next_obs must have shapes (N, S), (N, A), (N, S), "
            f"got {obs.shape}, {actions.shape}, {next_obs.shape}"
        )
    if deterministic_tol is not None and not 0.0 < deterministic_tol < 1.0:
        raise ValueError(
            f"discover_transitions: deterministic_tol must be in (0, 1) or None, got {deterministic_tol!r}"
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
    data = np.hstack([obs, actions, next_obs])
    test, required, forbidden = ci_test, (), ()
    if ci_test == "fisherz" and deterministic_tol is not None:
        test = DeterminismGuardedFisherZ(data, names, tol=deterministic_tol)
        det = deterministic_parents(test.base.corr, k, contemporaneous=contemporaneous, tol=deterministic_tol)
        required = tuple((names[d], names[y]) for y, ds in det.items() for d in ds)
        others = range(len(names)) if contemporaneous else range(k)
        forbidden = tuple((names[c], names[y]) for y, ds in det.items() for c in others if c != y and c not in ds)
    knowledge = Knowledge(
        required=required,
        forbidden=forbidden,
        tiers=(tuple(names[:k]), tuple(names[k:])),
        forbid_within_tiers=(True, not contemporaneous),
    )
    return pc(
        data if isinstance(test, str) else None,
        ci_test=test,
        alpha=alpha,
        names=names if isinstance(test, str) else None,
        max_cond_size=max_cond_size,
        knowledge=knowledge,
        progress=progress,
    )
