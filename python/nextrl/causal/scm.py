"""Structural causal models with additive noise: x_j = f_j(pa_j) + u_j, the u_j independent.

An `SCM` holds a DAG, one mechanism f_j per variable and a noise distribution per variable (Gaussian with a
standard deviation, or any sampler). It samples with a seed, performs hard interventions do(X = x) by graph
surgery (X's mechanism becomes the constant, its incoming edges are cut, and every descendant is recomputed
from it) and soft interventions (a mechanism replaced or shifted, parents kept), builds interventional
datasets and answers counterfactuals by abduction-action-prediction (Pearl 2009, sec. 7.1): the noise of
an observed unit is u_j = x_j - f_j(pa_j) (exact for additive noise), the intervention is applied, and the
model is evaluated again with the same noise. Average and conditional treatment effects follow.

`fit_scm` learns the mechanisms from data and a graph: ordinary least squares (linear-Gaussian SCM) or a
small torch MLP per variable (nonlinear additive-noise SCM), and the noise scale from the residuals.

Data are arrays [num_samples, num_variables] whose columns follow `scm.nodes`, or mappings (dicts, pandas
DataFrames) from variable name to a column [num_samples]. Graphs are nextrl.causal.graphs.DAG or
networkx.DiGraph.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

Mechanism = Callable[[np.ndarray], np.ndarray]
"""f(parents [n, k] float64, columns in the order of `SCM.parents[node]`) -> [n] float64"""
NoiseSampler = Callable[[np.random.Generator, int], np.ndarray]
"""sampler(rng, n) -> [n] float64 noise draws"""


# ----------------------------------------------------------------------------------------------- mechanisms
@dataclass(frozen=True)
class LinearMechanism:
    """f(pa) = pa @ weights + intercept."""

    weights: np.ndarray
    """[k] one coefficient per parent"""
    intercept: float = 0.0

    def __call__(self, parents: np.ndarray) -> np.ndarray:
        return parents @ np.asarray(self.weights, dtype=np.float64) + self.intercept


@dataclass(frozen=True)
class ConstantMechanism:
    """The mechanism of a variable under do(X = value): a constant, or one value per sample ([n])."""

    value: float | np.ndarray

    def __call__(self, parents: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.value, dtype=np.float64), (len(parents),)).copy()


@dataclass(frozen=True)
class ShiftedMechanism:
    """A soft intervention: f'(pa) = scale * f(pa) + shift, the parents kept."""

    base: Mechanism
    shift: float = 0.0
    scale: float = 1.0

    def __call__(self, parents: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(self.base(parents), dtype=np.float64) + self.shift


class MLPMechanism:
    """A small torch MLP f(pa) on standardized inputs, fitted by `fit_mechanism`; evaluated in float64 out."""

    def __init__(self, net, x_mean: np.ndarray, x_std: np.ndarray, y_mean: float, y_std: float):
        self.net, self.x_mean, self.x_std, self.y_mean, self.y_std = net, x_mean, x_std, y_mean, y_std

    def __call__(self, parents: np.ndarray) -> np.ndarray:
        import torch

        x = torch.as_tensor((parents - self.x_mean) / self.x_std, dtype=torch.float32)
        with torch.no_grad():
            y = self.net(x)[:, 0].double().numpy()
        return y * self.y_std + self.y_mean


def fit_mechanism(
    x: np.ndarray,
    y: np.ndarray,
    kind: str = "linear",
    *,
    seed: int = 0,
    hidden: int = 32,
    steps: int = 600,
    batch_size: int = 256,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
) -> tuple[Mechanism, np.ndarray]:
    """Regresses y [n] on x [n, k]; returns (mechanism, residuals [n]).

    kind "linear": ordinary least squares with an intercept (numpy lstsq); "mlp": a k -> hidden -> hidden -> 1
    tanh MLP trained by Adam on the mean squared error for `steps` minibatches of `batch_size`, inputs and
    output standardized. A variable without parents (k = 0) gets its mean."""
    x = np.asarray(x, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[1] == 0:
        mech = ConstantMechanism(float(y.mean()))
        return mech, y - y.mean()
    if kind == "linear":
        design = np.hstack([x, np.ones((len(x), 1))])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        mech = LinearMechanism(coef[:-1].copy(), float(coef[-1]))
        return mech, y - mech(x)
    if kind != "mlp":
        raise ValueError(f"fit_mechanism: kind must be 'linear' or 'mlp', got {kind!r}")
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    x_mean, x_std = x.mean(0), x.std(0) + 1e-8
    y_mean, y_std = float(y.mean()), float(y.std() + 1e-8)
    xt = torch.as_tensor((x - x_mean) / x_std, dtype=torch.float32)
    yt = torch.as_tensor((y - y_mean) / y_std, dtype=torch.float32)
    layers = [
        torch.nn.Linear(x.shape[1], hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, 1),
    ]
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, torch.nn.Linear):  # seeded initialisation, no global generator
                bound = 1.0 / layer.in_features**0.5
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(xt)
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch_size, n),), generator=gen)
        loss = torch.mean((net(xt[idx])[:, 0] - yt[idx]) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mech = MLPMechanism(net.eval(), x_mean, x_std, y_mean, y_std)
    return mech, y - mech(x)


# ---------------------------------------------------------------------------------------------- input checks
def as_digraph(func: str, graph) -> nx.DiGraph:
    """The networkx DiGraph of a nextrl DAG or a networkx DiGraph; ValueError if it has a cycle."""
    g = graph if isinstance(graph, nx.DiGraph) else getattr(graph, "graph", None)  # graphs.DAG: .graph
    if not isinstance(g, nx.DiGraph):
        raise TypeError(
            f"{func}: graph must be a nextrl.causal.graphs.DAG or a networkx.DiGraph, got {type(graph).__name__}"
        )
    if not nx.is_directed_acyclic_graph(g):
        edges = nx.find_cycle(g)
        cycle = " -> ".join(str(u) for u, _ in edges) + f" -> {edges[0][0]}"
        raise ValueError(f"{func}: graph must be acyclic (a DAG), got the cycle {cycle}")
    return g


def check_names(func: str, what: str, names, valid: Sequence[Hashable]) -> None:
    """ValueError naming the valid variables for every name of `names` not in `valid`."""
    valid_set = set(valid)
    for name in names:
        if name not in valid_set:
            raise ValueError(
                f"{func}: {what} must be variables of the model ({', '.join(map(str, valid))}), got {name!r}"
            )


def as_data(func: str, data, nodes: Sequence[Hashable], name: str = "data") -> np.ndarray:
    """[n, p] float64 with columns in `nodes` order, from an array or a mapping name -> column; finite."""
    if isinstance(data, Mapping) or hasattr(data, "columns"):
        keys = list(data.keys()) if isinstance(data, Mapping) else list(data.columns)
        check_names(func, f"{name} columns", keys, nodes)
        missing = [v for v in nodes if v not in set(keys)]
        if missing:
            raise ValueError(f"{func}: {name} must have a column for every variable, got none for {missing}")
        cols = [np.asarray(data[v]) for v in nodes]
        if any(c.dtype.kind not in "fiub" for c in cols):
            raise TypeError(f"{func}: {name} must be numeric, got dtypes {[str(c.dtype) for c in cols]}")
        x = np.stack([c.astype(np.float64).reshape(-1) for c in cols], axis=1)
    else:
        a = np.asarray(data)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{func}: {name} must be a numeric array, got dtype {a.dtype}")
        if a.ndim != 2 or a.shape[1] != len(nodes):
            raise ValueError(f"{func}: {name} must have shape (num_samples, {len(nodes)}), got {a.shape}")
        x = a.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        col = nodes[int(np.nonzero(bad.any(0))[0][0])]
        raise ValueError(
            f"{func}: {name} must be finite, got {int(bad.sum())} NaN or inf value(s) (first in column {col!r})"
        )
    return x


def _check_value(func: str, node, value, n: int | None = None):
    v = np.asarray(value, dtype=np.float64) if not callable(value) else None
    if v is None or (v.ndim > 1) or (v.ndim == 1 and n is not None and len(v) != n):
        raise ValueError(f"{func}: the value of {node!r} must be a number or one number per sample, got {value!r}")
    if not np.isfinite(v).all():
        raise ValueError(f"{func}: the value of {node!r} must be finite, got {value!r}")
    return float(v) if v.ndim == 0 else v


# ---------------------------------------------------------------------------------------------------- SCM
class SCM:
    """An additive-noise structural causal model over the nodes of a DAG.

    mechanisms: node -> f(parents [n, k]) -> [n], parents in the order of `self.parents[node]` (the graph's
      predecessors sorted by node order); every node needs one.
    noise: node -> standard deviation of a Gaussian noise (a float >= 0) or a sampler(rng, n) -> [n];
      missing nodes have no noise.
    nodes: column order of data arrays (default: the graph's node order).
    """

    def __init__(
        self,
        graph,
        mechanisms: Mapping[Hashable, Mechanism],
        noise: Mapping[Hashable, float | NoiseSampler] | None = None,
        *,
        nodes: Sequence[Hashable] | None = None,
        intervened: Sequence[Hashable] = (),
    ):
        g = as_digraph("SCM", graph)
        self.graph = g
        self.nodes = list(g.nodes if isinstance(graph, nx.DiGraph) else graph.nodes) if nodes is None else list(nodes)
        if set(self.nodes) != set(g.nodes) or len(set(self.nodes)) != len(self.nodes):
            raise ValueError(
                f"SCM: nodes must list each node of the graph once ({sorted(map(str, g.nodes))}), got {self.nodes}"
            )
        self._index = {v: i for i, v in enumerate(self.nodes)}
        check_names("SCM", "mechanism keys", mechanisms, self.nodes)
        missing = [v for v in self.nodes if v not in mechanisms]
        if missing:
            raise ValueError(f"SCM: mechanisms must cover every node, got none for {missing}")
        noise = dict(noise or {})
        check_names("SCM", "noise keys", noise, self.nodes)
        for v, s in noise.items():
            if not callable(s) and not (np.isfinite(s) and s >= 0):
                raise ValueError(f"SCM: noise of {v!r} must be a standard deviation >= 0 or a sampler, got {s!r}")
        self.mechanisms = dict(mechanisms)
        self.noise = {v: noise.get(v, 0.0) for v in self.nodes}
        self.parents = {v: sorted(g.predecessors(v), key=self._index.__getitem__) for v in self.nodes}
        self.order = list(nx.lexicographical_topological_sort(g, key=self._index.__getitem__))
        check_names("SCM", "intervened", intervened, self.nodes)
        self.intervened = frozenset(intervened)
        """the nodes set by do(): their values ignore any noise given to `propagate`"""

    def __repr__(self) -> str:
        edges = ", ".join(f"{u}->{v}" for u, v in self.graph.edges)
        return f"SCM(nodes={self.nodes}, edges=[{edges}])"

    def index(self, node: Hashable) -> int:
        check_names("SCM.index", "node", [node], self.nodes)
        return self._index[node]

    def _copy(self, graph: nx.DiGraph, mechanisms: dict, noise: dict, intervened=None) -> SCM:
        return SCM(
            graph, mechanisms, noise, nodes=self.nodes, intervened=self.intervened if intervened is None else intervened
        )

    # ------------------------------------------------------------------------------------- sampling
    def sample_noise(self, num_samples: int, *, seed: int | np.random.Generator | None) -> np.ndarray:
        """Noise draws [n, p] (columns in node order); node j's column is drawn j-th from `seed`."""
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"SCM.sample: num_samples must be an integer >= 1, got {num_samples!r}")
        rng = np.random.default_rng(seed)
        u = np.zeros((int(num_samples), len(self.nodes)))
        for j, v in enumerate(self.nodes):
            s = self.noise[v]
            u[:, j] = s(rng, int(num_samples)) if callable(s) else rng.standard_normal(int(num_samples)) * s
        return u

    def propagate(self, noise: np.ndarray) -> np.ndarray:
        """The structural equations evaluated in topological order with the given noise [n, p] -> x [n, p]
        (the noise of intervened nodes is ignored: do(X = x) fixes X whatever its noise was)."""
        noise = as_data("SCM.propagate", noise, self.nodes, "noise")
        x = np.zeros_like(noise)
        for v in self.order:
            j = self._index[v]
            pa = x[:, [self._index[p] for p in self.parents[v]]]
            x[:, j] = np.asarray(self.mechanisms[v](pa), dtype=np.float64).reshape(-1)
            if v not in self.intervened:
                x[:, j] += noise[:, j]
        return x

    def sample(
        self, num_samples: int, *, seed: int | np.random.Generator | None, return_noise: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """num_samples draws [n, p] of the model (and the noise [n, p] if `return_noise`). Models that differ
        only by interventions draw the same noise from the same seed (common random numbers)."""
        u = self.sample_noise(num_samples, seed=seed)
        x = self.propagate(u)
        return (x, u) if return_noise else x

    # --------------------------------------------------------------------------------- interventions
    def do(self, interventions: Mapping[Hashable, float | np.ndarray]) -> SCM:
        """The model under the hard intervention do(X = x) for every X of `interventions` (a number, or one
        number per sample [n]): X's mechanism becomes the constant, its incoming edges and its noise are
        removed, and all of its descendants follow from the new value when sampled."""
        if not isinstance(interventions, Mapping):
            raise TypeError(
                f"SCM.do: interventions must be a mapping variable -> value, got {type(interventions).__name__}"
            )
        check_names("SCM.do", "intervention targets", interventions, self.nodes)
        g = self.graph.copy()
        mechanisms, noise = dict(self.mechanisms), dict(self.noise)
        for v, value in interventions.items():
            g.remove_edges_from(list(g.in_edges(v)))
            mechanisms[v] = ConstantMechanism(_check_value("SCM.do", v, value))
            noise[v] = 0.0
        return self._copy(g, mechanisms, noise, self.intervened | set(interventions))

    def soft(
        self,
        node: Hashable,
        *,
        mechanism: Mechanism | None = None,
        shift: float = 0.0,
        scale: float = 1.0,
        noise: float | NoiseSampler | None = None,
    ) -> SCM:
        """A soft intervention on `node`: its mechanism replaced by `mechanism` (same parents) and/or changed to
        scale * f + shift, and its noise replaced if `noise` is given. The graph is unchanged."""
        check_names("SCM.soft", "node", [node], self.nodes)
        if not (np.isfinite(shift) and np.isfinite(scale)):
            raise ValueError(f"SCM.soft: shift and scale must be finite, got {shift} and {scale}")
        mechanisms, noise_map = dict(self.mechanisms), dict(self.noise)
        base = mechanism if mechanism is not None else self.mechanisms[node]
        mechanisms[node] = base if (shift == 0.0 and scale == 1.0) else ShiftedMechanism(base, shift, scale)
        if noise is not None:
            noise_map[node] = noise
        return self._copy(self.graph.copy(), mechanisms, noise_map, self.intervened - {node})

    # ------------------------------------------------------------------------------ counterfactuals
    def abduct(self, data) -> np.ndarray:
        """The noise [n, p] that explains each observed unit: u_j = x_j - f_j(pa_j) (exact: additive noise)."""
        x = as_data("SCM.abduct", data, self.nodes)
        u = np.zeros_like(x)
        for v in self.nodes:
            j = self._index[v]
            pa = x[:, [self._index[p] for p in self.parents[v]]]
            u[:, j] = x[:, j] - np.asarray(self.mechanisms[v](pa), dtype=np.float64).reshape(-1)
        return u

    def counterfactual(self, data, interventions: Mapping[Hashable, float | np.ndarray]) -> np.ndarray:
        """What each observed unit [n, p] would have been under do(interventions): abduction of its noise,
        action (the intervened model), prediction (the intervened model with the unit's noise)."""
        u = self.abduct(data)
        return self.do(interventions).propagate(u)

    # ----------------------------------------------------------------------------------------- effects
    def _check_effect(self, func: str, treatment, outcome) -> tuple[int, int]:
        check_names(func, "treatment and outcome", [treatment, outcome], self.nodes)
        return self._index[treatment], self._index[outcome]

    def ate(
        self,
        treatment: Hashable,
        outcome: Hashable,
        treated: float,
        control: float,
        *,
        num_samples: int = 10_000,
        seed: int | None = 0,
    ) -> float:
        """Average treatment effect E[Y | do(T = treated)] - E[Y | do(T = control)], by Monte Carlo over
        `num_samples` draws with common noise (so the difference has no sampling noise for a linear model)."""
        _, jy = self._check_effect("SCM.ate", treatment, outcome)
        u = self.sample_noise(num_samples, seed=seed)
        y1 = self.do({treatment: treated}).propagate(u)[:, jy]
        y0 = self.do({treatment: control}).propagate(u)[:, jy]
        return float(np.mean(y1 - y0))

    def individual_effects(
        self, data, treatment: Hashable, outcome: Hashable, treated: float, control: float
    ) -> np.ndarray:
        """Counterfactual effect on the outcome of each observed unit: Y_{T=treated} - Y_{T=control}, [n]."""
        _, jy = self._check_effect("SCM.individual_effects", treatment, outcome)
        u = self.abduct(data)
        return self.do({treatment: treated}).propagate(u)[:, jy] - self.do({treatment: control}).propagate(u)[:, jy]

    def cate(
        self,
        treatment: Hashable,
        outcome: Hashable,
        treated: float,
        control: float,
        condition: Callable[[dict], np.ndarray],
        *,
        num_samples: int = 10_000,
        seed: int | None = 0,
    ) -> float:
        """Conditional average treatment effect E[Y_{T=treated} - Y_{T=control} | condition], the condition an
        event on the observed (factual) variables: `condition({name: column [n]}) -> bool mask [n]`. Estimated
        on `num_samples` draws of the model by counterfactuals of the units that meet the condition."""
        self._check_effect("SCM.cate", treatment, outcome)
        x = self.sample(num_samples, seed=seed)
        mask = np.asarray(condition({v: x[:, j] for j, v in enumerate(self.nodes)}), dtype=bool)
        if mask.shape != (len(x),):
            raise ValueError(f"SCM.cate: condition must return a bool mask of shape ({len(x)},), got {mask.shape}")
        if not mask.any():
            raise ValueError(f"SCM.cate: condition must hold for some of the {len(x)} samples, got none")
        return float(self.individual_effects(x[mask], treatment, outcome, treated, control).mean())


# -------------------------------------------------------------------------------------------------- fitting
def fit_scm(
    data, graph, *, nodes: Sequence[Hashable] | None = None, mechanism: str = "linear", seed: int = 0, **fit_kwargs
) -> SCM:
    """An SCM with the structure of `graph` fitted to `data`: each variable regressed on its parents
    (`fit_mechanism` with kind = `mechanism`, "linear" or "mlp", and `fit_kwargs`), its noise Gaussian with the
    standard deviation of the residuals. `nodes`: the column order of an array `data` (default: the graph's)."""
    g = as_digraph("fit_scm", graph)
    if mechanism not in ("linear", "mlp"):
        raise ValueError(f"fit_scm: mechanism must be 'linear' or 'mlp', got {mechanism!r}")
    order = list(g.nodes if isinstance(graph, nx.DiGraph) else graph.nodes) if nodes is None else list(nodes)
    check_names("fit_scm", "nodes", order, list(g.nodes))
    x = as_data("fit_scm", data, order)
    if len(x) < 2:
        raise ValueError(f"fit_scm: data must have at least 2 samples, got {len(x)}")
    index = {v: i for i, v in enumerate(order)}
    mechanisms, noise = {}, {}
    for k, v in enumerate(order):
        pa = sorted(g.predecessors(v), key=index.__getitem__)
        mech, resid = fit_mechanism(
            x[:, [index[p] for p in pa]], x[:, index[v]], mechanism, seed=seed + k, **fit_kwargs
        )
        mechanisms[v], noise[v] = mech, float(resid.std())
    return SCM(g, mechanisms, noise, nodes=order)


def linear_scm(
    weights: np.ndarray,
    noise_std: Sequence[float],
    nodes: Sequence[Hashable] | None = None,
    intercepts: Sequence[float] | None = None,
) -> SCM:
    """A linear-Gaussian SCM x = W^T x + b + u from a weighted adjacency matrix [p, p] (weights[i, j] != 0:
    i -> j with that coefficient) and noise standard deviations [p]."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"linear_scm: weights must be a square matrix, got shape {w.shape}")
    p = len(w)
    nodes = list(range(p)) if nodes is None else list(nodes)
    if len(nodes) != p or len(noise_std) != p:
        raise ValueError(
            f"linear_scm: nodes and noise_std must have {p} entries, got {len(nodes)} and {len(noise_std)}"
        )
    b = np.zeros(p) if intercepts is None else np.asarray(intercepts, dtype=np.float64)
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((nodes[i], nodes[j]) for i, j in zip(*np.nonzero(w)))
    mechanisms = {}
    for j, v in enumerate(nodes):
        pa = [i for i in range(p) if w[i, j] != 0]
        mechanisms[v] = LinearMechanism(w[pa, j].copy(), float(b[j]))
    return SCM(g, mechanisms, dict(zip(nodes, map(float, noise_std))), nodes=nodes)


# --------------------------------------------------------------------------------------- interventional data
@dataclass
class InterventionalDataset:
    """Samples from several regimes of one model: data [N, p] (columns `nodes`), regimes [N] int (index into
    `interventions`; {} is the observational regime)."""

    data: np.ndarray
    regimes: np.ndarray
    interventions: list[dict]
    nodes: list

    def targets(self) -> np.ndarray:
        """[N, p] bool: True where the sample's regime intervened on that variable."""
        t = np.zeros((len(self.interventions), len(self.nodes)), dtype=bool)
        for r, iv in enumerate(self.interventions):
            for v in iv:
                t[r, self.nodes.index(v)] = True
        return t[self.regimes]

    def regime(self, r: int) -> np.ndarray:
        return self.data[self.regimes == r]


def interventional_dataset(
    scm: SCM, interventions: Sequence[Mapping[Hashable, float]], num_samples: int, *, seed: int
) -> InterventionalDataset:
    """`num_samples` draws of each regime: scm.do(iv) for iv in `interventions` ({} = observational), each
    regime with its own noise stream of `seed`."""
    if len(interventions) == 0:
        raise ValueError(
            "interventional_dataset: interventions must list at least one regime ({} for observational), got none"
        )
    seeds = np.random.SeedSequence(seed).spawn(len(interventions))
    blocks = [
        scm.do(dict(iv)).sample(num_samples, seed=np.random.default_rng(s)) for iv, s in zip(interventions, seeds)
    ]
    regimes = np.repeat(np.arange(len(interventions)), num_samples)
    return InterventionalDataset(np.concatenate(blocks), regimes, [dict(iv) for iv in interventions], list(scm.nodes))


__all__ = [
    "SCM",
    "ConstantMechanism",
    "InterventionalDataset",
    "LinearMechanism",
    "MLPMechanism",
    "ShiftedMechanism",
    "as_data",
    "as_digraph",
    "check_names",
    "fit_mechanism",
    "fit_scm",
    "interventional_dataset",
    "linear_scm",
]
