"""NOTEARS, linear version (Zheng, Aragam, Ravikumar & Xing 2018, "DAGs with NO TEARS", NeurIPS):
continuous score-based structure learning.

minimise 1/(2n) ||X - X W||_F^2 + lambda1 ||W||_1  subject to  h(W) = tr(exp(W * W)) - d = 0,
by the augmented Lagrangian with L-BFGS-B on W = W+ - W- (W+, W- >= 0). Edges with |W_ij| < w_threshold are
dropped. The least-squares score identifies the DAG (not only its CPDAG) when noise variances are equal.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt

from nextrl.causal.ci_tests import _check_data
from nextrl.causal.graphs import DAG


@dataclass(frozen=True)
class NotearsConfig:
    lambda1: float = 0.01
    """L1 penalty on the weights"""
    w_threshold: float = 0.3
    """edges with |weight| below this are removed after optimisation"""
    max_iter: int = 100
    """augmented-Lagrangian outer iterations"""
    h_tol: float = 1e-8
    """stop once the acyclicity violation h(W) is below this"""
    rho_max: float = 1e16
    """largest penalty weight"""


@dataclass
class NotearsResult:
    graph: DAG
    weights: np.ndarray
    """[p, p] thresholded weights, weights[i, j] for i -> j"""
    h: float
    """acyclicity violation of the unthresholded solution"""


def notears_linear(
    data: np.ndarray,
    config: NotearsConfig = NotearsConfig(),
    *,
    names: Sequence[Hashable] | None = None,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> NotearsResult:
    """Linear NOTEARS on data: [num_samples, num_vars]; returns the thresholded DAG and its weights."""
    x, names = _check_data("notears_linear", data, names)
    x = x.astype(np.float64)
    x = x - x.mean(0)
    n, d = x.shape
    cfg = config

    def unpack(w2):
        return (w2[: d * d] - w2[d * d :]).reshape(d, d)

    def objective(w2, rho, alpha):
        w = unpack(w2)
        r = x - x @ w
        loss = 0.5 / n * (r**2).sum()
        g_loss = -1.0 / n * x.T @ r
        e = sla.expm(w * w)
        h = np.trace(e) - d
        g_h = e.T * w * 2
        obj = loss + 0.5 * rho * h * h + alpha * h + cfg.lambda1 * w2.sum()
        g = g_loss + (rho * h + alpha) * g_h
        return obj, np.concatenate([(g + cfg.lambda1).ravel(), (-g + cfg.lambda1).ravel()])

    w_est = np.zeros(2 * d * d)
    rho, alpha, h = 1.0, 0.0, np.inf
    bounds = [(0, 0) if i == j else (0, None) for _ in range(2) for i in range(d) for j in range(d)]
    for it in range(cfg.max_iter):
        while rho < cfg.rho_max:
            sol = sopt.minimize(objective, w_est, args=(rho, alpha), method="L-BFGS-B", jac=True, bounds=bounds)
            w_new = sol.x
            w = unpack(w_new)
            h_new = float(np.trace(sla.expm(w * w)) - d)
            if h_new > 0.25 * h:
                rho *= 10
            else:
                break
        w_est, h = w_new, h_new
        alpha += rho * h
        if progress is not None:
            progress(it, {"causal/h": h, "causal/rho": rho})
        if h <= cfg.h_tol or rho >= cfg.rho_max:
            break
    w = unpack(w_est)
    w[np.abs(w) < cfg.w_threshold] = 0.0
    return NotearsResult(DAG.from_adjacency(w != 0, names), w, h)
