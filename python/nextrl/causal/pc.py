"""PC-stable (Spirtes, Glymour & Scheines 2000; Colombo & Maathuis 2014, JMLR 15) with causal-learn's
collider rules, Meek's orientation rules and background knowledge.

skeleton(): order-independent: at each conditioning size d every adjacent ordered pair (x, y) is tested
against every subset of size d of adj(x) \\ {y}, all in ONE batched call of the CI test, and the edges found
independent are removed only after the whole level. Separating sets are the union of all separating sets
found for the pair at that level (causal-learn's choice: a triple is a collider only if the middle node is in
none of them).
orient(): background knowledge, unshielded colliders (uc_rule 0 = separating sets, 1 = MaxP,
2 = definite MaxP; uc_priority 0 = overwrite, 1 = bidirected on conflict, 2 = keep existing, 3 = stronger
colliders first, 4 = stronger* first; -1 = the rule's default), then Meek's R1-R3 (and R4 when background
knowledge is given). The triples are visited in causal-learn's order, so conflicting finite-sample
orientations resolve the same way and the CPDAG is causal-learn's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from itertools import chain, combinations

import numpy as np

from nextrl.causal.ci_tests import DSeparation, make_ci_test
from nextrl.causal.graphs import ARROW, CPDAG, NONE, TAIL, _meek_r4

Progress = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class Knowledge:
    """Background knowledge over variable names.

    required: edges (a, b) that must appear as a -> b (never removed by the skeleton search).
    forbidden: edges (a, b) that must not appear as a -> b (forbidding both directions removes the edge).
    tiers: ordered groups of names; a variable in a later tier cannot cause one in an earlier tier (e.g.
        [[s_t..., a_t...], [s_{t+1}...]]). Names outside every tier are unconstrained.
    forbid_within_tiers: also forbid edges inside a tier (e.g. between next-state components).
    """

    required: tuple[tuple[Hashable, Hashable], ...] = ()
    forbidden: tuple[tuple[Hashable, Hashable], ...] = ()
    tiers: tuple[tuple[Hashable, ...], ...] = ()
    forbid_within_tiers: bool | Sequence[bool] = False

    def matrices(self, names: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
        """(forbidden, required): [p, p] bool, [i, j] about the edge names[i] -> names[j]."""
        idx = {v: i for i, v in enumerate(names)}

        def at(v):
            if v not in idx:
                raise ValueError(f"Knowledge: node must be one of {list(names)}, got {v!r}")
            return idx[v]

        p = len(names)
        forb = np.zeros((p, p), bool)
        req = np.zeros((p, p), bool)
        for a, b in self.forbidden:
            forb[at(a), at(b)] = True
        for a, b in self.required:
            req[at(a), at(b)] = True
        tier = np.full(p, -1)
        within = self.forbid_within_tiers
        for t, group in enumerate(self.tiers):
            for v in group:
                if tier[at(v)] >= 0:
                    raise ValueError(f"Knowledge: tiers must not overlap, got {v!r} in tiers {tier[at(v)]} and {t}")
                tier[at(v)] = t
            w = within if isinstance(within, bool) else bool(within[t])
            if w:
                ids = [at(v) for v in group]
                forb[np.ix_(ids, ids)] = True
        both = (tier[:, None] >= 0) & (tier[None, :] >= 0)
        forb |= both & (tier[:, None] > tier[None, :])
        np.fill_diagonal(forb, False)
        clash = req & forb
        if clash.any():
            i, j = np.argwhere(clash)[0]
            raise ValueError(
                f"Knowledge: required and forbidden edges must not overlap, got {names[i]!r} -> {names[j]!r} in both"
            )
        if (req & req.T).any():
            i, j = np.argwhere(req & req.T)[0]
            raise ValueError(f"Knowledge: required edges must not form a 2-cycle, got {names[i]!r} <-> {names[j]!r}")
        return forb, req


@dataclass
class SkeletonResult:
    adjacency: np.ndarray
    """[p, p] bool, symmetric"""
    sepsets: dict[tuple[int, int], frozenset[int]]
    """(i, j) with i < j, for every removed pair: the union of the separating sets found at its level"""
    depth: int
    """the largest conditioning size tested"""
    num_tests: int


@dataclass
class PCResult:
    graph: CPDAG
    sepsets: dict[tuple[Hashable, Hashable], frozenset] = field(repr=False)
    """both (a, b) and (b, a) for every non-adjacent pair, by variable name"""
    depth: int
    num_tests: int


# ------------------------------------------------------------------------------------------------ skeleton
def skeleton(
    ci_test,
    alpha: float = 0.05,
    max_cond_size: int | None = None,
    forbidden: np.ndarray | None = None,
    required: np.ndarray | None = None,
    progress: Progress | None = None,
) -> SkeletonResult:
    """PC-stable adjacency search. `forbidden` / `required`: [p, p] bool from Knowledge.matrices."""
    p = ci_test.num_vars
    adj = ~np.eye(p, dtype=bool)
    keep = np.zeros((p, p), bool) if required is None else (required | required.T)
    ban = np.zeros((p, p), bool) if forbidden is None else (forbidden & forbidden.T)
    sepsets: dict[tuple[int, int], frozenset[int]] = {}
    num_tests = 0
    depth = -1
    while adj.sum(1).max() - 1 > depth:
        depth += 1
        if max_cond_size is not None and depth > max_cond_size:
            depth -= 1
            break
        xs, ys, conds = [], [], []
        for x in range(p):
            nb = np.flatnonzero(adj[x])
            if len(nb) - 1 < depth:
                continue
            combos = np.array(list(combinations(nb.tolist(), depth)), np.int64) if depth else np.zeros((1, 0), np.int64)
            for y in nb:
                if keep[x, y]:
                    continue
                c = combos[~(combos == y).any(1)] if depth else combos
                if not len(c):
                    continue
                xs.append(np.full(len(c), x, np.int64))
                ys.append(np.full(len(c), y, np.int64))
                conds.append(c)
        removed = ban & adj if depth == 0 else np.zeros((p, p), bool)
        level_tests = 0
        if xs:
            x = np.concatenate(xs)
            y = np.concatenate(ys)
            cond = np.concatenate(conds)
            pv = ci_test.pvalues(x, y, cond)
            level_tests = len(x)
            ind = pv > alpha
            xi, yi, ci = x[ind], y[ind], cond[ind]
            removed[xi, yi] = True
            lo, hi = np.minimum(xi, yi), np.maximum(xi, yi)
            members: dict[tuple[int, int], set[int]] = defaultdict(set)
            if depth:
                pair = lo * p + hi
                flat = np.unique(np.stack([np.repeat(pair, depth), ci.reshape(-1)], 1), axis=0)
                for pr, s in flat.tolist():
                    members[divmod(pr, p)].add(s)
            removed |= removed.T
            for i, j in zip(*np.nonzero(np.triu(removed))):
                sepsets[(int(i), int(j))] = frozenset(members.get((int(i), int(j)), ()))
        else:
            removed |= removed.T
            for i, j in zip(*np.nonzero(np.triu(removed))):
                sepsets[(int(i), int(j))] = frozenset()
        adj &= ~removed
        num_tests += level_tests
        if progress is not None:
            progress(depth, {"causal/tests": float(level_tests), "causal/edges": float(adj.sum() // 2)})
    return SkeletonResult(adj, sepsets, max(depth, 0), num_tests)


# ------------------------------------------------------------------------------ causal-learn's triple order
def _adj_order(m: np.ndarray) -> list[tuple[int, int]]:
    """causal-learn's find_adj(): ordered pairs (j, i) with a tail at i, then with an arrowhead at i,
    row-major in i."""
    t = np.argwhere(m.T == TAIL)
    a = np.argwhere(m.T == ARROW)
    return [(int(j), int(i)) for i, j in chain(t, a)]


def _triples(m: np.ndarray, shielded: bool) -> list[tuple[int, int, int]]:
    adj = m != NONE
    order = _adj_order(m)
    starts: dict[int, list[int]] = defaultdict(list)
    for a, b in order:
        starts[a].append(b)
    return [(a, b, c) for a, b in order for c in starts[b] if c != a and bool(adj[a, c]) == shielded]


def _kites(tri: list[tuple[int, int, int]], adj: np.ndarray) -> list[tuple[int, int, int, int]]:
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, j, d in tri:
        groups[(i, d)].append(j)
    return [(i, j, k, d) for i, j, d in tri for k in groups[(i, d)] if j < k and not adj[j, k]]


# --------------------------------------------------------------------------------------------- orientation
class _CausalLearnPaths:
    """causal-learn's GeneralGraph.dpath, reproduced: an ancestor matrix updated incrementally when a
    directed edge is added (not a full transitive closure) and rebuilt, edge by edge from the last one, when
    a directed edge is removed. Its Meek rules ask it whether an orientation would close a cycle."""

    def __init__(self, m: np.ndarray):
        self.d = np.eye(m.shape[0], dtype=bool)
        self.m = m

    def add(self, i: int, j: int):
        row, col = self.d[i].copy(), self.d[:, j].copy()
        self.d[j, row] = True
        self.d[col, i] = True

    def rebuild(self):
        m = self.m
        self.d = np.eye(m.shape[0], dtype=bool)
        edges = [(i, j) for i, j in np.argwhere(np.triu(m != NONE, 1)).tolist()]
        for i, j in reversed(edges):
            if m[i, j] == ARROW and m[j, i] == TAIL:
                self.add(i, j)
            elif m[j, i] == ARROW and m[i, j] == TAIL:
                self.add(j, i)

    def is_ancestor(self, a: int, b: int) -> bool:
        return bool(self.d[b, a])


class _Orienter:
    def __init__(self, marks, sepsets, ci_test, forbidden, required, knowledge: bool, compat: bool = False):
        self.m = marks
        self.paths = _CausalLearnPaths(marks) if compat else None
        self.adj = marks != NONE
        self.sepsets = sepsets
        self.test = ci_test
        self.forb, self.req = forbidden, required
        self.knowledge = knowledge
        self.definite_uc: list[tuple[int, int, int]] = []
        self.definite_non_uc: list[tuple[int, int, int]] = []

    def directed(self, i, j) -> bool:
        return self.m[i, j] == ARROW and self.m[j, i] == TAIL

    def undirected(self, i, j) -> bool:
        return self.m[i, j] == TAIL and self.m[j, i] == TAIL

    def orient(self, i, j):
        if self.paths is not None and (self.directed(i, j) or self.directed(j, i)):
            self.m[i, j] = self.m[j, i] = NONE
            self.paths.rebuild()
        self.m[i, j], self.m[j, i] = ARROW, TAIL
        if self.paths is not None:
            self.paths.add(i, j)

    def is_ancestor(self, a, b) -> bool:
        """a is an ancestor of b along fully directed edges."""
        if self.paths is not None:
            return self.paths.is_ancestor(a, b)
        d = (self.m == ARROW) & (self.m.T == TAIL)
        seen = np.zeros(len(d), bool)
        stack = [b]
        seen[b] = True
        while stack:
            v = stack.pop()
            if v == a:
                return True
            pa = np.flatnonzero(d[:, v] & ~seen)
            seen[pa] = True
            stack.extend(pa.tolist())
        return False

    def uc_blocked(self, x, y, z) -> bool:
        return bool(self.forb[x, y] or self.forb[z, y] or self.req[y, x] or self.req[y, z])

    # -- p-values of x _||_ z | S over the conditioning sets causal-learn enumerates
    def cond_sets(self, x, z):
        sets = []
        seen = set()
        for v in (x, z):
            nb = np.flatnonzero(self.adj[v]).tolist()
            for s in chain.from_iterable(combinations(nb, r) for r in range(len(nb) + 1)):
                if s not in seen:
                    seen.add(s)
                    sets.append(s)
        return sets

    def pvals(self, x, z, sets) -> list[float]:
        out = [0.0] * len(sets)
        by_size: dict[int, list[int]] = defaultdict(list)
        for k, s in enumerate(sets):
            by_size[len(s)].append(k)
        for size, ks in by_size.items():
            cond = np.array([sets[k] for k in ks], np.int64).reshape(len(ks), size)
            pv = self.test.pvalues(np.full(len(ks), x), np.full(len(ks), z), cond)
            for k, v in zip(ks, pv.tolist()):
                out[k] = v
        return out

    def collider(self, x, y, z, priority):
        if priority == 0:
            self.orient(x, y)
            self.orient(z, y)
        elif priority == 1:
            for a in (x, z):
                if self.undirected(a, y):
                    self.orient(a, y)
                elif self.directed(y, a):
                    self.m[a, y] = self.m[y, a] = ARROW
                    if self.paths is not None:
                        self.paths.rebuild()
        elif not self.directed(y, x) and not self.directed(y, z):
            self.orient(x, y)
            self.orient(z, y)
            return True
        return False

    def apply_sorted(self, scores: dict, descending: bool):
        for (x, y, z), _ in sorted(scores.items(), key=lambda kv: kv[1], reverse=descending):
            if self.knowledge and self.uc_blocked(x, y, z):
                continue
            if self.collider(x, y, z, 2):
                self.definite_uc.append((x, y, z))

    def uc_sepset(self, priority: int):
        ut = [t for t in _triples(self.m, False) if t[0] < t[2]]
        pending = []
        for x, y, z in ut:
            if self.knowledge and self.uc_blocked(x, y, z):
                continue
            if y not in self.sepsets[(x, z)]:
                if priority <= 2:
                    self.collider(x, y, z, priority)
                else:
                    pending.append((x, y, z))
        scores = {}
        for x, y, z in pending:
            sets = [s for s in self.cond_sets(x, z) if (y in s) == (priority == 3)]
            scores[(x, y, z)] = max(self.pvals(x, z, sets))
        self.apply_sorted(scores, descending=priority == 4)

    def uc_maxp(self, priority: int):
        ut = [t for t in _triples(self.m, False) if t[0] < t[2]]
        scores = {}
        for x, y, z in ut:
            if self.knowledge and self.uc_blocked(x, y, z):
                continue
            sets = self.cond_sets(x, z)
            pv = self.pvals(x, z, sets)
            p_with = max(v for s, v in zip(sets, pv) if y in s)
            p_without = max(v for s, v in zip(sets, pv) if y not in s)
            if p_without > p_with:
                if priority <= 2:
                    self.collider(x, y, z, priority)
                else:
                    scores[(x, y, z)] = p_with if priority == 3 else p_without
        self.apply_sorted(scores, descending=priority == 4)

    def uc_definite_maxp(self, alpha: float, priority: int):
        ut = [t for t in _triples(self.m, False) if t[0] < t[2]]
        scores = {}
        for x, y, z in ut:
            sets = self.cond_sets(x, z)
            pv = self.pvals(x, z, sets)
            with_y = [v for s, v in zip(sets, pv) if y in s]
            without_y = [v for s, v in zip(sets, pv) if y not in s]
            uc = all(v <= alpha for v in with_y)
            nuc = all(v <= alpha for v in without_y)
            p_with = max(with_y, default=0.0) if uc else 0.0
            p_without = max(without_y, default=0.0)
            if uc and (not nuc or p_without > p_with):
                scores[(x, y, z)] = p_with if priority in (2, 3) else p_without
            elif nuc:
                self.definite_non_uc.append((x, y, z))
        if priority == 2:
            for x, y, z in scores:
                if self.knowledge and self.uc_blocked(x, y, z):
                    continue
                if self.collider(x, y, z, 2):
                    self.definite_uc.append((x, y, z))
        else:
            self.apply_sorted(scores, descending=priority == 4)

    # -- Meek
    def blocked(self, a, b) -> bool:
        return bool(self.knowledge and (self.forb[a, b] or self.req[b, a]))

    def try_orient(self, a, b) -> bool:
        """Orient a -> b unless knowledge forbids it or b is already an ancestor of a."""
        if self.blocked(a, b):
            return False
        if self.is_ancestor(b, a):
            return False
        self.orient(a, b)
        return True

    def meek(self, definite: bool = False):
        ut = _triples(self.m, False)
        tri = _triples(self.m, True)
        kites = _kites(tri, self.adj)
        changed = True
        while changed:
            changed = False
            if definite:
                for i, j, k in self.definite_non_uc:
                    if self.directed(i, j) and self.undirected(j, k) and not self.blocked(j, k):
                        changed |= self.try_orient(j, k)
                    elif self.directed(k, j) and self.undirected(j, i) and not self.blocked(j, i):
                        changed |= self.try_orient(j, i)
            else:
                for i, j, k in ut:
                    if self.directed(i, j) and self.undirected(j, k):
                        changed |= self.try_orient(j, k)
            for i, j, k in tri:
                if self.directed(i, j) and self.directed(j, k) and self.undirected(i, k):
                    changed |= self.try_orient(i, k)
            uc, nuc = set(self.definite_uc), set(self.definite_non_uc)
            for i, j, k, d in kites:
                if definite:
                    ok = (
                        ((j, d, k) in uc or (k, d, j) in uc)
                        and ((j, i, k) in nuc or (k, i, j) in nuc)
                        and self.undirected(i, d)
                    )
                else:
                    ok = (
                        self.undirected(i, j)
                        and self.undirected(i, k)
                        and self.directed(j, d)
                        and self.directed(k, d)
                        and self.undirected(i, d)
                    )
                if ok:
                    changed |= self.try_orient(i, d)
            if self.knowledge and not definite:
                for a, b in np.argwhere((self.m == TAIL) & (self.m.T == TAIL)).tolist():
                    if self.undirected(a, b) and _meek_r4(self.m, self.adj, a, b):
                        changed |= self.try_orient(a, b)


def orient(
    adjacency: np.ndarray,
    sepsets: dict[tuple[int, int], frozenset[int]],
    ci_test=None,
    *,
    alpha: float = 0.05,
    uc_rule: int = 0,
    uc_priority: int = 2,
    forbidden: np.ndarray | None = None,
    required: np.ndarray | None = None,
    cycle_check: str = "exact",
) -> np.ndarray:
    """Orient a skeleton into a CPDAG mark matrix (see the module docstring for the rules).

    adjacency: [p, p] bool; sepsets as from skeleton(). ci_test is needed by uc_rule 1 and 2 and by
    uc_priority 3 and 4. cycle_check: how the Meek rules refuse an orientation that would close a directed
    cycle (possible only when finite-sample colliders conflict): "exact" (reachability) or "causal-learn"
    (its incremental ancestor matrix, which misses some paths and can then return a directed cycle; use it
    to reproduce causal-learn's output bit for bit). Returns marks: [p, p] int8 (graphs.py convention)."""
    if cycle_check not in ("exact", "causal-learn"):
        raise ValueError(f"orient: cycle_check must be 'exact' or 'causal-learn', got {cycle_check!r}")
    p = adjacency.shape[0]
    m = np.where(adjacency, TAIL, NONE).astype(np.int8)
    knowledge = forbidden is not None or required is not None
    forb = np.zeros((p, p), bool) if forbidden is None else forbidden
    req = np.zeros((p, p), bool) if required is None else required
    o = _Orienter(m, sepsets, ci_test, forb, req, knowledge, compat=cycle_check == "causal-learn")
    if knowledge:
        for i, j in np.argwhere(np.triu(adjacency)).tolist():
            if forb[j, i] and not forb[i, j]:
                o.orient(i, j)
            elif forb[i, j] and not forb[j, i]:
                o.orient(j, i)
            elif req[j, i]:
                o.orient(j, i)
            elif req[i, j]:
                o.orient(i, j)
    if uc_rule == 0:
        o.uc_sepset(3 if uc_priority == -1 else uc_priority)
        o.meek()
    elif uc_rule == 1:
        o.uc_maxp(3 if uc_priority == -1 else uc_priority)
        o.meek()
    else:
        o.uc_definite_maxp(alpha, 4 if uc_priority == -1 else uc_priority)
        o.meek(definite=True)
        o.meek()
    return o.m


# ---------------------------------------------------------------------------------------------- entry point
def pc(
    data: np.ndarray | None = None,
    *,
    ci_test="fisherz",
    alpha: float = 0.05,
    names: Sequence[Hashable] | None = None,
    max_cond_size: int | None = None,
    uc_rule: int = 0,
    uc_priority: int = 2,
    knowledge: Knowledge | None = None,
    cycle_check: str = "exact",
    progress: Progress | None = None,
) -> PCResult:
    """PC-stable causal discovery.

    data: [num_samples, num_vars]; ci_test: 'fisherz' (linear-Gaussian), 'chisq' / 'gsq' (discrete), 'kci' or 'rcit'
    (kernel) or a test object (e.g. DSeparation(dag), then data may be None). names: one per column
    (default 0..p-1). max_cond_size: largest conditioning set tested (None: unbounded). uc_rule /
    uc_priority: causal-learn's collider rules (defaults as causal-learn's pc()). knowledge: background
    knowledge. cycle_check: see orient() ("causal-learn" reproduces causal-learn exactly, even when its
    Meek rules close a directed cycle). progress(depth, {"causal/tests", "causal/edges"}) is called after
    each conditioning size.
    Returns the CPDAG, the separating sets, the depth reached and the number of tests.
    """
    if not isinstance(alpha, (int, float)) or not 0.0 < alpha < 1.0:
        raise ValueError(f"pc: alpha must be in (0, 1), got {alpha!r}")
    if uc_rule not in (0, 1, 2):
        raise ValueError(f"pc: uc_rule must be 0, 1 or 2, got {uc_rule!r}")
    allowed = (-1, 2, 3, 4) if uc_rule == 2 else (-1, 0, 1, 2, 3, 4)
    if uc_priority not in allowed:
        raise ValueError(f"pc: uc_priority must be one of {allowed} for uc_rule={uc_rule}, got {uc_priority!r}")
    if max_cond_size is not None and (
        not isinstance(max_cond_size, (int, np.integer)) or isinstance(max_cond_size, bool)
    ):
        raise TypeError(f"pc: max_cond_size must be an int or None, got {type(max_cond_size).__name__}")
    if max_cond_size is not None and max_cond_size < 0:
        raise ValueError(f"pc: max_cond_size must be >= 0, got {max_cond_size}")
    if knowledge is not None and not isinstance(knowledge, Knowledge):
        raise TypeError(f"pc: knowledge must be a Knowledge, got {type(knowledge).__name__}")
    if isinstance(ci_test, str):
        if data is None:
            raise ValueError(f"pc: data must be given with ci_test={ci_test!r}, got None")
        test = make_ci_test(data, ci_test, names)
        if ci_test == "fisherz":
            p = test.num_vars
            top = p - 2 if max_cond_size is None else min(max_cond_size, p - 2)
            if test.num_samples < top + 4:
                raise ValueError(
                    f"pc: data must have at least max conditioning size + 4 = {top + 4} samples for "
                    f"the fisherz test with {p} variables, got {test.num_samples} (lower "
                    "max_cond_size or add samples)"
                )
    elif hasattr(ci_test, "pvalues") and hasattr(ci_test, "num_vars"):
        test = ci_test
        if names is not None and list(names) != list(test.names):
            raise ValueError(f"pc: names must match the CI test's names {test.names}, got {list(names)}")
    else:
        raise TypeError(
            f"pc: ci_test must be a method name or a CI test object with pvalues(), got {type(ci_test).__name__}"
        )
    names = list(test.names)
    forb = req = None
    if knowledge is not None:
        forb, req = knowledge.matrices(names)
    sk = skeleton(test, alpha, max_cond_size, forb, req, progress)
    marks = orient(
        sk.adjacency,
        sk.sepsets,
        test,
        alpha=alpha,
        uc_rule=uc_rule,
        uc_priority=uc_priority,
        forbidden=forb,
        required=req,
        cycle_check=cycle_check,
    )
    seps = {}
    for (i, j), s in sk.sepsets.items():
        named = frozenset(names[k] for k in s)
        seps[(names[i], names[j])] = seps[(names[j], names[i])] = named
    return PCResult(CPDAG(names, marks), seps, sk.depth, sk.num_tests)


def oracle_pc(dag, **kwargs) -> PCResult:
    """PC with the d-separation oracle of `dag`: returns the DAG's CPDAG when the rules are right."""
    return pc(None, ci_test=DSeparation(dag), **kwargs)
