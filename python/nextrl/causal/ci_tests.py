"""Conditional-independence tests, batched: one call answers many (x, y | S) questions.

Every test has `num_vars`, `names` and `pvalues(x, y, cond) -> [B] float64` where x, y: [B] int64 and
cond: [B, d] int64 (one conditioning-set size d per call). A large p-value means "independent".

- FisherZ: partial correlation from the correlation matrix, Fisher's z transform (Kalisch & Buehlmann 2007).
  All B tests of one call are solved as one batch of small linear systems.
- ChiSquare: Pearson chi-square or G-square on contingency tables stratified by S, with the degrees of
  freedom reduced for empty rows and columns per stratum (causal-learn's and Tetrad's convention).
- KCI: the kernel conditional-independence test of Zhang, Peters, Janzing & Schoelkopf (UAI 2011) with
  Gaussian kernels and the gamma approximation of the null, with causal-learn's KCI_UInd / KCI_CInd choices
  (widths, centering, regularisation, eigenvalue threshold), so its p-values equal causal-learn's.
- RandomFeatureCI: a kernel CI test with random Fourier features (RCIT, Strobl, Zhang & Visweswaran 2019),
  gamma approximation of the null.
- DSeparation: an oracle that answers from a known DAG (p = 1 if d-separated, else 0).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.special import ndtr
from scipy.stats import chi2, gamma

from nextrl.causal.graphs import DAG

_CHUNK = 65536


def _check_data(func: str, data: np.ndarray, names: Sequence[Hashable] | None) -> tuple[np.ndarray, list]:
    if not isinstance(data, np.ndarray):
        data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{func}: data must be a numeric array, got dtype {data.dtype}")
    if data.ndim != 2:
        raise ValueError(f"{func}: data must have shape (num_samples, num_vars), got {data.shape}")
    n, p = data.shape
    if p < 2:
        raise ValueError(f"{func}: data must have at least 2 columns, got {p}")
    names = list(range(p)) if names is None else list(names)
    if len(names) != p:
        raise ValueError(f"{func}: names must have {p} entries (one per column), got {len(names)}")
    if len(set(names)) != p:
        raise ValueError(f"{func}: names must be unique, got {names}")
    bad = ~np.isfinite(data).all(axis=0) if data.dtype.kind == "f" else np.zeros(p, bool)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{func}: data must be finite, got NaN or inf in column {j} ({names[j]!r})")
    if n < 2:
        raise ValueError(f"{func}: data must have at least 2 samples, got {n}")
    const = (data == data[:1]).all(axis=0)
    if const.any():
        j = int(np.flatnonzero(const)[0])
        raise ValueError(
            f"{func}: data columns must not be constant, got column {j} ({names[j]!r}) equal to {data[0, j]} everywhere"
        )
    return data, names


def _check_query(func: str, num_vars: int, x, y, cond) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, np.int64).reshape(-1)
    y = np.asarray(y, np.int64).reshape(-1)
    cond = np.asarray(cond, np.int64)
    if cond.ndim == 1 and cond.size == 0:
        cond = cond.reshape(x.shape[0], 0)
    if cond.ndim != 2 or cond.shape[0] != x.shape[0] or y.shape != x.shape:
        raise ValueError(
            f"{func}: x, y and cond must have shapes (B,), (B,), (B, d), got {x.shape}, {y.shape}, {cond.shape}"
        )
    for a in (x, y, cond):
        if a.size and (a.min() < 0 or a.max() >= num_vars):
            raise ValueError(f"{func}: variable indices must be in [0, {num_vars}), got {a.min()}..{a.max()}")
    return x, y, cond


class FisherZ:
    """Fisher-z test of zero partial correlation, for linear-Gaussian data.

    data: [num_samples, num_vars] float. Precomputes the correlation matrix once (np.corrcoef).
    """

    def __init__(self, data: np.ndarray, names: Sequence[Hashable] | None = None):
        data, self.names = _check_data("fisher_z", data, names)
        self.num_samples, self.num_vars = data.shape
        self.corr = np.corrcoef(data.astype(np.float64, copy=False), rowvar=False)

    @classmethod
    def from_correlation(cls, corr: np.ndarray, num_samples: int, names: Sequence[Hashable] | None = None):
        """From a correlation (or covariance) matrix [p, p] and the sample size that produced it."""
        c = np.asarray(corr, np.float64)
        if c.ndim != 2 or c.shape[0] != c.shape[1]:
            raise ValueError(f"fisher_z: corr must be a square matrix, got shape {c.shape}")
        d = np.sqrt(np.diag(c))
        if not (np.isfinite(c).all() and (d > 0).all()):
            raise ValueError("fisher_z: corr must be finite with a positive diagonal, got otherwise")
        self = cls.__new__(cls)
        self.corr = c / d[:, None] / d[None, :]
        self.num_samples, self.num_vars = int(num_samples), c.shape[0]
        self.names = list(range(self.num_vars)) if names is None else list(names)
        return self

    def partial_correlations(self, x, y, cond) -> np.ndarray:
        """Partial correlations r(x, y | cond): [B]."""
        x, y, cond = _check_query("fisher_z", self.num_vars, x, y, cond)
        return (
            np.concatenate([self._partial(x[s], y[s], cond[s]) for s in _chunks(x.shape[0])])
            if x.shape[0]
            else np.zeros(0)
        )

    def _partial(self, x, y, cond) -> np.ndarray:
        c = self.corr
        d = cond.shape[1]
        if d == 0:
            return c[x, y]
        if d == 1:
            z = cond[:, 0]
            rxy, rxz, ryz = c[x, y], c[x, z], c[y, z]
            den = np.sqrt(np.abs((1.0 - rxz * rxz) * (1.0 - ryz * ryz)))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = (rxy - rxz * ryz) / den
            bad = ~(den > 1e-12)
            if bad.any():
                self._singular(x[bad][0], y[bad][0], cond[bad][0])
            return r
        # Schur complement of R_SS in R_{xyS}: the 2x2 residual covariance of (x, y) given S.
        s_s = c[cond[:, :, None], cond[:, None, :]]  # [B, d, d]
        s_ab = c[cond[:, :, None], np.stack([x, y], 1)[:, None, :]]  # [B, d, 2]
        try:
            sol = np.linalg.solve(s_s, s_ab)  # [B, d, 2]
        except np.linalg.LinAlgError:
            for b in range(x.shape[0]):
                if np.linalg.cond(s_s[b]) > 1e12:
                    self._singular(x[b], y[b], cond[b])
            raise
        m = np.einsum("bki,bkj->bij", s_ab, sol)
        m00 = 1.0 - m[:, 0, 0]
        m11 = 1.0 - m[:, 1, 1]
        m01 = c[x, y] - m[:, 0, 1]
        den = np.sqrt(np.abs(m00 * m11))
        bad = ~(den > 1e-12)
        if bad.any():
            self._singular(x[bad][0], y[bad][0], cond[bad][0])
        return m01 / den

    def _singular(self, x, y, cond):
        cols = [self.names[int(v)] for v in (x, y, *cond)]
        raise ValueError(
            f"fisher_z: the correlation matrix of columns {cols} must be non-singular, got a singular "
            "one (a deterministic relation or a duplicated column)"
        )

    def pvalues(self, x, y, cond) -> np.ndarray:
        cond = np.asarray(cond, np.int64)
        d = cond.shape[1] if cond.ndim == 2 else 0
        if self.num_samples - d - 3 < 1:
            raise ValueError(
                f"fisher_z: num_samples must be at least the conditioning size + 4 = {d + 4}, got {self.num_samples}"
            )
        r = self.partial_correlations(x, y, cond)
        r = np.where(np.abs(r) >= 1.0, (1.0 - np.finfo(float).eps) * np.sign(r), r)
        stat = np.sqrt(self.num_samples - d - 3) * np.abs(np.arctanh(r))
        return 2.0 * (1.0 - ndtr(stat))  # written as causal-learn does, so p-value ties sort alike


def _chunks(b: int, size: int = _CHUNK):
    return [slice(i, min(i + size, b)) for i in range(0, b, size)]


class ChiSquare:
    """Chi-square (or G-square with g_square=True) test for discrete data.

    data: [num_samples, num_vars] of category labels (any numeric values; recoded to 0..k-1 per column).
    """

    def __init__(self, data: np.ndarray, names: Sequence[Hashable] | None = None, g_square: bool = False):
        func = "g_square" if g_square else "chi_square"
        data, self.names = _check_data(func, data, names)
        self.func = func
        self.g_square = g_square
        self.num_samples, self.num_vars = data.shape
        codes = np.empty(data.shape, np.int64)
        for j in range(self.num_vars):
            codes[:, j] = np.unique(data[:, j], return_inverse=True)[1].reshape(-1)
        self.codes_t = np.ascontiguousarray(codes.T)  # [p, n]
        self.card = codes.max(axis=0) + 1

    def pvalues(self, x, y, cond) -> np.ndarray:
        x, y, cond = _check_query(self.func, self.num_vars, x, y, cond)
        out = np.empty(x.shape[0])
        if not x.shape[0]:
            return out
        sig = np.concatenate([self.card[cond], self.card[x][:, None], self.card[y][:, None]], 1)
        keys, inverse = np.unique(sig, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        for g, key in enumerate(keys):
            members = np.flatnonzero(inverse == g)
            k = int(np.prod(key[:-2]))
            cells = k * int(key[-2]) * int(key[-1])
            step = max(1, min(len(members), 20_000_000 // max(cells, self.num_samples)))
            for s in range(0, len(members), step):
                b = members[s : s + step]
                out[b] = self._group(x[b], y[b], cond[b], key)
        return out

    def _group(self, x, y, cond, key) -> np.ndarray:
        cx, cy = int(key[-2]), int(key[-1])
        cards_s = key[:-2].astype(np.int64)
        g = x.shape[0]
        ct = self.codes_t
        if cond.shape[1]:
            mult = np.ones(len(cards_s), np.int64)
            mult[:-1] = np.cumprod(cards_s[1:][::-1])[::-1]
            s_idx = np.einsum("gkn,k->gn", ct[cond], mult)  # [G, n]
            k = int(np.prod(cards_s))
            if k > self.num_samples:  # sparse strata: re-index the observed configurations per test
                return np.array([self._one_sparse(x[i], y[i], s_idx[i], cx, cy) for i in range(g)])
        else:
            s_idx = np.zeros((g, self.num_samples), np.int64)
            k = 1
        cell = (s_idx * cx + ct[x]) * cy + ct[y] + (np.arange(g, dtype=np.int64) * (k * cx * cy))[:, None]
        counts = np.bincount(cell.reshape(-1), minlength=g * k * cx * cy).reshape(g, k, cx, cy)
        return self._pvalue(counts.astype(np.float64))

    def _one_sparse(self, x, y, s_idx, cx, cy) -> float:
        _, inv = np.unique(s_idx, return_inverse=True)
        k = int(inv.max()) + 1
        cell = (inv.reshape(-1) * cx + self.codes_t[x]) * cy + self.codes_t[y]
        counts = np.bincount(cell, minlength=k * cx * cy).reshape(1, k, cx, cy)
        return float(self._pvalue(counts.astype(np.float64))[0])

    def _pvalue(self, obs: np.ndarray) -> np.ndarray:
        """obs: [G, K, m, q] counts per test, stratum, x value, y value."""
        n_s = obs.sum(axis=(2, 3))  # [G, K]
        n_sx = obs.sum(axis=3)  # [G, K, m]
        n_sy = obs.sum(axis=2)  # [G, K, q]
        exp = n_sx[..., :, None] * n_sy[..., None, :] / np.maximum(n_s, 1)[..., None, None]
        safe = np.where(exp == 0, 1.0, exp)
        if self.g_square:
            ratio = obs / safe
            ratio[ratio == 0] = 1.0
            stat = 2.0 * (obs * np.log(ratio)).sum(axis=(1, 2, 3))
        else:
            stat = ((obs - exp) ** 2 / safe).sum(axis=(1, 2, 3))
        m, q = obs.shape[2], obs.shape[3]
        zero_rows = (n_sx == 0).sum(axis=2)
        zero_cols = (n_sy == 0).sum(axis=2)
        dof = np.where(n_s > 0, (m - 1 - zero_rows) * (q - 1 - zero_cols), 0).sum(axis=1)
        return np.where(dof == 0, 1.0, chi2.sf(stat, np.maximum(dof, 1)))


def _zscore(v: np.ndarray) -> np.ndarray:
    """Columns to zero mean and unit standard deviation with ddof=1 (as causal-learn and the Matlab KCI)."""
    sd = v.std(0, ddof=1)
    return (v - v.mean(0)) / np.where(sd > 0, sd, np.inf)


def _center(k: np.ndarray) -> np.ndarray:
    """H K H with H = I - 1/n, for a symmetric K: [n, n]."""
    col = k.mean(0)
    return k - col[None, :] - col[:, None] + col.mean()


def _gaussian_gram(v: np.ndarray, theta: float) -> np.ndarray:
    """exp(-theta / 2 * ||v_i - v_j||^2): [n, n] for v: [n, d]."""
    return np.exp(-0.5 * theta * squareform(pdist(v, "sqeuclidean")))


def _median_theta(v: np.ndarray) -> float:
    """causal-learn's median heuristic: width sigma = sqrt(2) * median of the nonzero pairwise distances,
    returned as theta = 1 / sigma^2 (all samples are used; causal-learn subsamples 1000 at random above that)."""
    d = pdist(v, "euclidean")
    d = d[d > 0]
    return 1.0 / (2.0 * float(np.median(d)) ** 2) if d.size else 1.0


def _psd_part(k: np.ndarray, thresh: float) -> np.ndarray:
    """V diag(w) V^T over the eigenpairs of sym(k) with w > max(w) * thresh (causal-learn's get_uuprod)."""
    w, v = np.linalg.eigh(0.5 * (k + k.T))
    keep = w > w.max() * thresh
    v = v[:, keep] * np.sqrt(w[keep])
    return v @ v.T


class KCI:
    """Kernel-based conditional-independence test (KCI, Zhang et al. 2011), gamma approximation of the null.

    data: [num_samples, num_vars] float. Every variable is standardised (ddof=1). Gaussian kernels
    k(a, b) = exp(-theta / 2 ||a - b||^2) with theta from `est_width`:
      'empirical' (default, causal-learn's): unconditional theta = d / w^2 with w = 0.8, 0.5, 0.3 for
        n < 200, < 1200, else; conditional theta = 1 / (w^2 d_S) with w = 1.2, 0.7, 0.4 for x, y and S;
      'median': sigma = sqrt(2) * median pairwise distance (unconditional: of the raw x and y columns;
        conditional: of the standardised [x, S / 2], y and S);
      'manual': sigma = width_x, width_y, width_z.
    Unconditional (HSIC): statistic tr(Kx~ Ky~) with Kx~ = H Kx H; gamma with mean tr(Kx~) tr(Ky~) / n and
    variance 2 ||Kx~||^2 ||Ky~||^2 / n^2. Conditional: x is kernelised with S as [x, S / 2]; with
    R = epsilon (Kz~ + epsilon I)^-1 the statistic is tr(R Kx~ R R Ky~ R), and the gamma matches the mean and
    variance of the null built from the eigenpairs of R Kx~ R and R Ky~ R above `thresh` times the largest.
    These are causal-learn's KCI_UInd / KCI_CInd (approx=True, use_gp=False) choices; the gamma moments are
    computed from the two truncated matrices in O(n^2) instead of causal-learn's [n, n_x * n_y] feature
    products, and R comes from one eigendecomposition of Kz~ per conditioning set (cached). O(n^3) per
    conditional test, O(n^2) per unconditional one.
    """

    def __init__(
        self,
        data: np.ndarray,
        names: Sequence[Hashable] | None = None,
        *,
        est_width: str = "empirical",
        width_x: float | None = None,
        width_y: float | None = None,
        width_z: float | None = None,
        epsilon: float = 1e-3,
        thresh: float = 1e-5,
    ):
        data, self.names = _check_data("kci", data, names)
        if est_width not in ("empirical", "median", "manual"):
            raise ValueError(f"kci: est_width must be 'empirical', 'median' or 'manual', got {est_width!r}")
        if est_width == "manual":
            for k, w in (("width_x", width_x), ("width_y", width_y), ("width_z", width_z)):
                if w is None or not w > 0:
                    raise ValueError(f"kci: {k} must be a positive kernel width with est_width='manual', got {w!r}")
        if not epsilon > 0:
            raise ValueError(f"kci: epsilon must be > 0, got {epsilon!r}")
        if not 0 <= thresh < 1:
            raise ValueError(f"kci: thresh must be in [0, 1), got {thresh!r}")
        self.num_samples, self.num_vars = data.shape
        self.raw = data.astype(np.float64)
        self.data = _zscore(self.raw)
        self.est_width, self.epsilon, self.thresh = est_width, float(epsilon), float(thresh)
        self.widths = (width_x, width_y, width_z)
        self._uncond: dict[int, np.ndarray] = {}
        self._resid: dict[tuple[int, ...], np.ndarray] = {}

    def _theta(self, which: int, v: np.ndarray, d_cond: int) -> float:
        n = self.num_samples
        if self.est_width == "manual":
            return 1.0 / self.widths[which] ** 2
        if self.est_width == "median":
            return _median_theta(v)
        if d_cond == 0:  # causal-learn's set_width_empirical_hsic
            w = 0.8 if n < 200 else 0.5 if n < 1200 else 0.3
            return v.shape[1] / w**2
        w = 1.2 if n < 200 else 0.7 if n < 1200 else 0.4  # set_width_empirical_kci, on S's dimension
        return 1.0 / (w**2 * d_cond)

    def _centered_uncond(self, v: int, which: int) -> np.ndarray:
        key = v if self.est_width != "manual" else (v, which)
        hit = self._uncond.get(key)
        if hit is None:
            theta = self._theta(which, self.raw[:, [v]], 0)
            hit = _center(_gaussian_gram(self.data[:, [v]], theta))
            if self.num_samples <= 2000:
                self._uncond[key] = hit
        return hit

    def _residualizer(self, cond: tuple[int, ...]) -> np.ndarray:
        """R = epsilon (Kz~ + epsilon I)^-1: [n, n], symmetric."""
        hit = self._resid.get(cond)
        if hit is None:
            z = self.data[:, list(cond)]
            kz = _center(_gaussian_gram(z, self._theta(2, z, len(cond))))
            w, u = np.linalg.eigh(kz)
            hit = (u * (self.epsilon / (w + self.epsilon))) @ u.T
            if len(self._resid) < 64:
                self._resid[cond] = hit
        return hit

    def statistics(self, x, y, cond) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(statistic, gamma shape, gamma scale): three [B] arrays."""
        x, y, cond = _check_query("kci", self.num_vars, x, y, cond)
        out = np.empty((3, x.shape[0]))
        for i, (a, b, c) in enumerate(zip(x.tolist(), y.tolist(), cond.tolist())):
            out[:, i] = self._one(a, b, tuple(c))
        return out[0], out[1], out[2]

    def _one(self, x: int, y: int, cond: tuple[int, ...]) -> tuple[float, float, float]:
        n = self.num_samples
        if not cond:
            kx, ky = self._centered_uncond(x, 0), self._centered_uncond(y, 1)
            stat = float((kx * ky).sum())
            mean = np.trace(kx) * np.trace(ky) / n
            var = 2.0 * (kx * kx).sum() * (ky * ky).sum() / n**2
        else:
            d = self.data
            z = d[:, list(cond)]
            xz = np.hstack([d[:, [x]], 0.5 * z])
            kx = _center(_gaussian_gram(xz, self._theta(0, xz, len(cond))))
            ky = _center(_gaussian_gram(d[:, [y]], self._theta(1, d[:, [y]], len(cond))))
            r = self._residualizer(cond)
            kx, ky = r @ kx @ r, r @ ky @ r
            stat = float((kx * ky).sum())
            # the null sum_ij lx_i ly_j (u_i v_j)^2-weighted chi2's: its moments through uu^T = Ax o Ay
            prod = _psd_part(kx, self.thresh) * _psd_part(ky, self.thresh)
            mean = float(np.trace(prod))
            var = 2.0 * float((prod * prod).sum())
        if not (mean > 0 and var > 0):
            return stat, np.nan, np.nan
        return stat, mean * mean / var, var / mean

    def pvalues(self, x, y, cond) -> np.ndarray:
        stat, shape, scale = self.statistics(x, y, cond)
        ok = np.isfinite(shape)
        out = np.ones_like(stat)
        out[ok] = gamma.sf(stat[ok], shape[ok], scale=scale[ok])
        return out


class RandomFeatureCI:
    """Kernel conditional-independence test with random Fourier features (RCIT; RIT when S is empty).

    Gaussian-kernel features of x, y (num_features each) and S (num_cond_features) with the median-distance
    bandwidth; the features of x and y are residualised on those of S by ridge regression, the statistic is
    n * ||Cov(res_x, res_y)||_F^2 and its null is approximated by a gamma distribution with matched mean
    and variance. Features are drawn from a generator keyed by (seed, x, y, S), so a p-value does not
    depend on the order of the calls.
    """

    def __init__(
        self,
        data: np.ndarray,
        names: Sequence[Hashable] | None = None,
        *,
        num_features: int = 5,
        num_cond_features: int = 100,
        ridge: float = 1e-10,
        seed: int = 0,
    ):
        data, self.names = _check_data("random_feature_ci", data, names)
        self.num_samples, self.num_vars = data.shape
        x = data.astype(np.float64)
        self.data = (x - x.mean(0)) / x.std(0)
        self.num_features, self.num_cond_features = num_features, num_cond_features
        self.ridge, self.seed = ridge, seed

    def _features(self, v: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
        sub = v[: min(500, v.shape[0])]
        dist = np.sqrt(((sub[:, None, :] - sub[None, :, :]) ** 2).sum(-1))
        width = np.median(dist[np.triu_indices(sub.shape[0], 1)])
        width = width if width > 0 else 1.0
        w = rng.standard_normal((v.shape[1], num)) / width
        b = rng.uniform(0.0, 2.0 * np.pi, num)
        f = np.sqrt(2.0) * np.cos(v @ w + b)
        return f - f.mean(0)

    def pvalues(self, x, y, cond) -> np.ndarray:
        x, y, cond = _check_query("random_feature_ci", self.num_vars, x, y, cond)
        return np.array([self._one(int(a), int(b), c) for a, b, c in zip(x, y, cond)])

    def _one(self, x: int, y: int, cond: np.ndarray) -> float:
        a, b = min(x, y), max(x, y)
        rng = np.random.default_rng([self.seed, a, b, *sorted(int(v) for v in cond)])
        d = self.data
        fx = self._features(d[:, [a]], self.num_features, rng)
        fy = self._features(d[:, [b]], self.num_features, rng)
        n = d.shape[0]
        if cond.size:
            fz = self._features(d[:, cond], self.num_cond_features, rng)
            gram = fz.T @ fz + self.ridge * n * np.eye(fz.shape[1])
            fx = fx - fz @ np.linalg.solve(gram, fz.T @ fx)
            fy = fy - fz @ np.linalg.solve(gram, fz.T @ fy)
        cov = fx.T @ fy / n
        stat = n * float((cov**2).sum())
        prod = (fx[:, :, None] * fy[:, None, :]).reshape(n, -1)
        prod = prod - prod.mean(0)
        lam = np.clip(np.linalg.eigvalsh(prod.T @ prod / n), 0.0, None)
        mean, var = lam.sum(), 2.0 * (lam**2).sum()
        if mean <= 0 or var <= 0:
            return 1.0
        return float(gamma.sf(stat, mean * mean / var, scale=var / mean))


class DSeparation:
    """Oracle test from a known DAG: p = 1.0 when x and y are d-separated by S in `dag`, else 0.0.

    Variables are indexed in `names` order (default: the DAG's node order); `names` may be a subset of the
    nodes, the others being latent (for FCI). Tests sharing (x, S) are
    answered by one Bayes-ball reachability pass (Koller & Friedman 2009, algorithm 3.1); tests/causal
    checks it against networkx's is_d_separator."""

    def __init__(self, dag: DAG, names: Sequence[Hashable] | None = None):
        if not isinstance(dag, DAG):
            raise TypeError(f"d_separation: dag must be a nextrl.causal.DAG, got {type(dag).__name__}")
        self.names = list(dag.nodes) if names is None else list(names)
        if not set(self.names) <= set(dag.nodes) or len(set(self.names)) != len(self.names):
            raise ValueError(f"d_separation: names must be distinct nodes of the DAG {dag.nodes}, got {self.names}")
        self.dag = dag
        self.num_vars = len(self.names)
        self.num_samples = None
        order = self.names + [v for v in dag.nodes if v not in set(self.names)]  # observed first, then latent
        pos = {v: i for i, v in enumerate(order)}
        self._num_nodes = len(order)
        self._parents = [[pos[u] for u in dag.graph.predecessors(v)] for v in order]
        self._children = [[pos[u] for u in dag.graph.successors(v)] for v in order]
        self._cache: dict[tuple[int, frozenset], np.ndarray] = {}

    def reachable(self, x: int, cond: frozenset) -> np.ndarray:
        """[num_vars] bool: the observed nodes d-connected to x given cond (cond itself excluded)."""
        key = (x, cond)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        anc = set(cond)
        stack = list(cond)
        while stack:
            for u in self._parents[stack.pop()]:
                if u not in anc:
                    anc.add(u)
                    stack.append(u)
        out = np.zeros(self._num_nodes, bool)
        seen: set[tuple[int, bool]] = set()
        todo = [(x, True)]  # (node, arrived from a child)
        while todo:
            v, up = todo.pop()
            if (v, up) in seen:
                continue
            seen.add((v, up))
            if v not in cond:
                out[v] = True
            if up and v not in cond:
                todo.extend((u, True) for u in self._parents[v])
                todo.extend((u, False) for u in self._children[v])
            elif not up:
                if v not in cond:
                    todo.extend((u, False) for u in self._children[v])
                if v in anc:
                    todo.extend((u, True) for u in self._parents[v])
        out[x] = False
        out = out[: self.num_vars]
        self._cache[key] = out
        return out

    def pvalues(self, x, y, cond) -> np.ndarray:
        x, y, cond = _check_query("d_separation", self.num_vars, x, y, cond)
        out = np.empty(x.shape[0])
        for i, (a, b, c) in enumerate(zip(x.tolist(), y.tolist(), cond.tolist())):
            out[i] = 0.0 if self.reachable(a, frozenset(c))[b] else 1.0
        return out


def make_ci_test(data: np.ndarray, method: str, names: Sequence[Hashable] | None = None, **kwargs):
    """Build a test by name: 'fisherz', 'chisq', 'gsq', 'kci' (kernel) or 'rcit' (kernel, random features)."""
    if method == "fisherz":
        return FisherZ(data, names, **kwargs)
    if method in ("chisq", "gsq"):
        return ChiSquare(data, names, g_square=method == "gsq", **kwargs)
    if method == "kci":
        return KCI(data, names, **kwargs)
    if method in ("rcit", "kernel"):
        return RandomFeatureCI(data, names, **kwargs)
    raise ValueError(f"make_ci_test: method must be one of 'fisherz', 'chisq', 'gsq', 'kci', 'rcit', got {method!r}")
