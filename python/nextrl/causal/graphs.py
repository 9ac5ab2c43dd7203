"""Causal graph types on networkx: DAG, CPDAG (Markov equivalence class) and PAG, with the metrics that
compare a learned graph with the truth.

Marks. Every graph also has a mark matrix `marks: [p, p] int8` in the pcalg convention: `marks[i, j]` is
the mark at node j on the edge between i and j, NONE (0, no edge), CIRCLE (1), ARROW (2) or TAIL (3). So
i -> j is `marks[i, j] == ARROW and marks[j, i] == TAIL`, i -- j is TAIL at both ends and i <-> j ARROW at
both ends. The discovery algorithms work on these matrices and wrap their result in a graph object.

References: Meek (1995) "Causal inference and causal explanation with background knowledge" (rules R1-R4);
Tsamardinos et al. (2006) for the structural Hamming distance between equivalence classes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

NONE, CIRCLE, ARROW, TAIL = 0, 1, 2, 3
_MARK_CHAR = {CIRCLE: "o", ARROW: ">", TAIL: "-"}


def _check_names(func: str, nodes: Sequence[Hashable]) -> list:
    nodes = list(nodes)
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"{func}: nodes must be unique, got {nodes}")
    return nodes


def _index(func: str, index: dict, node: Hashable) -> int:
    try:
        return index[node]
    except (KeyError, TypeError):
        raise ValueError(f"{func}: node must be one of {list(index)}, got {node!r}") from None


class _MarkGraph:
    """Common storage: ordered node names and a mark matrix."""

    def __init__(self, nodes: Sequence[Hashable], marks: np.ndarray):
        self.nodes = _check_names(type(self).__name__, nodes)
        self._index = {v: i for i, v in enumerate(self.nodes)}
        marks = np.asarray(marks)
        p = len(self.nodes)
        if marks.shape != (p, p):
            raise ValueError(f"{type(self).__name__}: marks must have shape ({p}, {p}), got {marks.shape}")
        if np.any((marks != NONE) != (marks.T != NONE)) or np.any(np.diag(marks) != NONE):
            raise ValueError(
                f"{type(self).__name__}: marks must be an adjacency-symmetric matrix with an empty "
                "diagonal, got an edge with a mark at one end only"
            )
        self.marks = marks.astype(np.int8)

    def index(self, node: Hashable) -> int:
        return _index(f"{type(self).__name__}.index", self._index, node)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    def adjacency(self) -> np.ndarray:
        """Skeleton as a symmetric boolean matrix [p, p]."""
        return self.marks != NONE

    def adjacent(self, node: Hashable) -> list:
        i = _index(f"{type(self).__name__}.adjacent", self._index, node)
        return [self.nodes[j] for j in np.flatnonzero(self.marks[i] != NONE)]

    def skeleton(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(self.nodes)
        ii, jj = np.nonzero(np.triu(self.marks != NONE))
        g.add_edges_from((self.nodes[i], self.nodes[j]) for i, j in zip(ii, jj))
        return g

    def edge_strings(self) -> list[str]:
        """Every edge as text, e.g. 'a --> b', 'a --- b', 'a o-> b', in node order."""
        out = []
        p = self.num_nodes
        for i in range(p):
            for j in range(i + 1, p):
                if self.marks[i, j] != NONE:
                    left = {ARROW: "<", TAIL: "-", CIRCLE: "o"}[int(self.marks[j, i])]
                    right = _MARK_CHAR[int(self.marks[i, j])]
                    out.append(f"{self.nodes[i]} {left}-{right} {self.nodes[j]}")
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        if set(self.nodes) != set(other.nodes):
            return False
        perm = [other._index[v] for v in self.nodes]
        return bool(np.array_equal(self.marks, other.marks[np.ix_(perm, perm)]))

    def __hash__(self) -> int:  # graphs are mutable containers: compare by value, do not hash
        raise TypeError(f"unhashable type: '{type(self).__name__}'")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.edge_strings()})"


class DAG(_MarkGraph):
    """A directed acyclic graph over named nodes.

    `DAG(nodes, edges)` with `edges` as (parent, child) pairs; raises ValueError on a cycle or an unknown node.
    `graph` is the networkx DiGraph.
    """

    def __init__(self, nodes: Sequence[Hashable], edges: Iterable[tuple[Hashable, Hashable]]):
        nodes = _check_names("DAG", nodes)
        index = {v: i for i, v in enumerate(nodes)}
        g = nx.DiGraph()
        g.add_nodes_from(nodes)
        for u, v in edges:
            _index("DAG", index, u)
            _index("DAG", index, v)
            if u == v:
                raise ValueError(f"DAG: edges must join two different nodes, got a self-loop on {u!r}")
            g.add_edge(u, v)
        if not nx.is_directed_acyclic_graph(g):
            cycle = " -> ".join(str(u) for u, _ in nx.find_cycle(g))
            raise ValueError(f"DAG: edges must form an acyclic graph, got the cycle {cycle}")
        marks = np.zeros((len(nodes), len(nodes)), np.int8)
        for u, v in g.edges:
            marks[index[u], index[v]] = ARROW
            marks[index[v], index[u]] = TAIL
        super().__init__(nodes, marks)
        self.graph = g

    @classmethod
    def from_adjacency(cls, adjacency: np.ndarray, nodes: Sequence[Hashable] | None = None) -> DAG:
        """From a 0/1 or weighted matrix [p, p] with adjacency[i, j] != 0 meaning i -> j."""
        a = np.asarray(adjacency)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"DAG.from_adjacency: adjacency must be a square matrix, got shape {a.shape}")
        nodes = list(range(a.shape[0])) if nodes is None else list(nodes)
        if len(nodes) != a.shape[0]:
            raise ValueError(f"DAG.from_adjacency: nodes must have {a.shape[0]} names, got {len(nodes)}")
        ii, jj = np.nonzero(a)
        return cls(nodes, [(nodes[i], nodes[j]) for i, j in zip(ii, jj)])

    @property
    def edges(self) -> list[tuple]:
        return list(self.graph.edges)

    def adjacency_matrix(self) -> np.ndarray:
        """Boolean [p, p], True at [i, j] for i -> j, in node order."""
        return self.marks == ARROW

    def _check(self, func: str, node: Hashable) -> Hashable:
        _index(f"DAG.{func}", self._index, node)
        return node

    def parents(self, node: Hashable) -> list:
        return sorted(self.graph.predecessors(self._check("parents", node)), key=self._index.__getitem__)

    def children(self, node: Hashable) -> list:
        return sorted(self.graph.successors(self._check("children", node)), key=self._index.__getitem__)

    def ancestors(self, node: Hashable) -> set:
        return nx.ancestors(self.graph, self._check("ancestors", node))

    def descendants(self, node: Hashable) -> set:
        return nx.descendants(self.graph, self._check("descendants", node))

    def markov_blanket(self, node: Hashable) -> set:
        """Parents, children and the children's other parents."""
        self._check("markov_blanket", node)
        blanket = set(self.graph.predecessors(node)) | set(self.graph.successors(node))
        for c in self.graph.successors(node):
            blanket |= set(self.graph.predecessors(c))
        blanket.discard(node)
        return blanket

    def topological_order(self) -> list:
        return list(nx.lexicographical_topological_sort(self.graph, key=self._index.__getitem__))

    def is_d_separated(self, x: Hashable | Iterable, y: Hashable | Iterable, z: Iterable = ()) -> bool:
        """d-separation of node sets x and y given z (networkx's is_d_separator)."""
        xs, ys, zs = (_as_set(self, "is_d_separated", a) for a in (x, y, z))
        if xs & ys or (xs | ys) & zs:
            raise ValueError(f"DAG.is_d_separated: x, y and z must be disjoint, got {xs}, {ys}, {zs}")
        return nx.is_d_separator(self.graph, xs, ys, zs)

    def v_structures(self) -> list[tuple]:
        """Unshielded colliders (a, c, b) with a -> c <- b, a and b non-adjacent, a before b in node order."""
        out = []
        adj = self.marks != NONE
        for c in self.nodes:
            pa = self.parents(c)
            for k, a in enumerate(pa):
                for b in pa[k + 1 :]:
                    if not adj[self._index[a], self._index[b]]:
                        out.append((a, c, b))
        return out

    def to_cpdag(self) -> CPDAG:
        """The CPDAG of this DAG's Markov equivalence class: v-structures, then Meek's rules R1-R3."""
        m = np.where(self.marks != NONE, TAIL, NONE).astype(np.int8)
        for a, c, b in self.v_structures():
            ia, ic, ib = self._index[a], self._index[c], self._index[b]
            m[ia, ic] = m[ib, ic] = ARROW
        return CPDAG(self.nodes, meek_closure(m))


def _as_set(g: _MarkGraph, func: str, a) -> set:
    if isinstance(a, str) or not isinstance(a, Iterable):
        a = [a]
    out = set(a)
    for v in out:
        _index(f"{type(g).__name__}.{func}", g._index, v)
    return out


class CPDAG(_MarkGraph):
    """A partially directed graph: directed edges (i -> j) and undirected ones (i -- j).

    The output of PC and the representation of a Markov equivalence class. Bidirected edges (i <-> j) appear
    only when PC's uc_priority=1 meets conflicting colliders.
    """

    def __init__(self, nodes: Sequence[Hashable], marks: np.ndarray):
        super().__init__(nodes, marks)
        bad = (self.marks == CIRCLE).any()
        if bad:
            raise ValueError("CPDAG: marks must be TAIL or ARROW, got a CIRCLE mark (use PAG)")

    @classmethod
    def from_edges(
        cls, nodes: Sequence[Hashable], directed: Iterable[tuple] = (), undirected: Iterable[tuple] = ()
    ) -> CPDAG:
        nodes = _check_names("CPDAG.from_edges", nodes)
        idx = {v: i for i, v in enumerate(nodes)}
        m = np.zeros((len(nodes), len(nodes)), np.int8)
        for u, v in directed:
            i, j = _index("CPDAG.from_edges", idx, u), _index("CPDAG.from_edges", idx, v)
            m[i, j], m[j, i] = ARROW, TAIL
        for u, v in undirected:
            i, j = _index("CPDAG.from_edges", idx, u), _index("CPDAG.from_edges", idx, v)
            m[i, j] = m[j, i] = TAIL
        return cls(nodes, m)

    def _pairs(self, mask: np.ndarray) -> list[tuple]:
        ii, jj = np.nonzero(mask)
        return [(self.nodes[i], self.nodes[j]) for i, j in zip(ii, jj)]

    @property
    def directed_edges(self) -> list[tuple]:
        return self._pairs((self.marks == ARROW) & (self.marks.T == TAIL))

    @property
    def undirected_edges(self) -> list[tuple]:
        return self._pairs(np.triu((self.marks == TAIL) & (self.marks.T == TAIL)))

    @property
    def bidirected_edges(self) -> list[tuple]:
        return self._pairs(np.triu((self.marks == ARROW) & (self.marks.T == ARROW)))

    @property
    def graph(self) -> nx.DiGraph:
        """networkx view: i -> j as one arc, i -- j as two arcs (i, j) and (j, i), i <-> j as an arc pair
        with attribute bidirected=True."""
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from(self.directed_edges)
        for u, v in self.undirected_edges:
            g.add_edge(u, v)
            g.add_edge(v, u)
        for u, v in self.bidirected_edges:
            g.add_edge(u, v, bidirected=True)
            g.add_edge(v, u, bidirected=True)
        return g

    def parents(self, node: Hashable) -> list:
        i = _index("CPDAG.parents", self._index, node)
        return [self.nodes[j] for j in np.flatnonzero((self.marks[:, i] == ARROW) & (self.marks[i, :] == TAIL))]

    def children(self, node: Hashable) -> list:
        i = _index("CPDAG.children", self._index, node)
        return [self.nodes[j] for j in np.flatnonzero((self.marks[i, :] == ARROW) & (self.marks[:, i] == TAIL))]

    def neighbors(self, node: Hashable) -> list:
        """Nodes joined to `node` by an undirected edge."""
        i = _index("CPDAG.neighbors", self._index, node)
        return [self.nodes[j] for j in np.flatnonzero((self.marks[i, :] == TAIL) & (self.marks[:, i] == TAIL))]

    def is_dag(self) -> bool:
        return not self.undirected_edges and not self.bidirected_edges

    def to_dag(self) -> DAG:
        """A consistent DAG extension (Dor & Tarsi 1992); ValueError if the graph has none."""
        m = self.marks.copy()
        if ((m == ARROW) & (m.T == ARROW)).any():
            raise ValueError("CPDAG.to_dag: graph must have no bidirected edge, got one")
        p = len(self.nodes)
        directed = (m == ARROW) & (m.T == TAIL)
        undirected = (m == TAIL) & (m.T == TAIL)
        alive = np.ones(p, bool)
        edges = [(self.nodes[i], self.nodes[j]) for i, j in zip(*np.nonzero(directed))]
        while alive.any():
            found = False
            for x in np.flatnonzero(alive):
                if (directed[x] & alive).any():  # x must be a sink among the remaining nodes
                    continue
                nb = np.flatnonzero(undirected[x] & alive)
                adj = directed | directed.T | undirected
                nb_adj = np.flatnonzero((adj[x]) & alive)
                if all(adj[y, nb_adj[nb_adj != y]].all() for y in nb):
                    edges.extend((self.nodes[y], self.nodes[x]) for y in nb)
                    alive[x] = False
                    undirected[x, :] = undirected[:, x] = False
                    found = True
                    break
            if not found:
                raise ValueError("CPDAG.to_dag: graph must admit a consistent DAG extension, got one that does not")
        return DAG(self.nodes, edges)


class PAG(_MarkGraph):
    """A partial ancestral graph (FCI's output): each edge end is a CIRCLE, an ARROW or a TAIL.

    i o-> j: marks[i, j] == ARROW, marks[j, i] == CIRCLE; i <-> j: a latent common cause; i --> j: i is an
    ancestor of j; circles are marks left undetermined by the equivalence class.
    """

    def mark(self, u: Hashable, v: Hashable) -> str:
        """The mark at v on the edge u *-* v: 'o', '>', '-', or '' when not adjacent."""
        i, j = _index("PAG.mark", self._index, u), _index("PAG.mark", self._index, v)
        return _MARK_CHAR.get(int(self.marks[i, j]), "")

    @property
    def graph(self) -> nx.Graph:
        """networkx view: an undirected graph whose edges carry the attribute marks={u: mark at u, v: mark at v}."""
        g = nx.Graph()
        g.add_nodes_from(self.nodes)
        ii, jj = np.nonzero(np.triu(self.marks != NONE))
        for i, j in zip(ii, jj):
            u, v = self.nodes[i], self.nodes[j]
            g.add_edge(u, v, marks={u: _MARK_CHAR[int(self.marks[j, i])], v: _MARK_CHAR[int(self.marks[i, j])]})
        return g


# --------------------------------------------------------------------------------------------- Meek rules
def meek_closure(marks: np.ndarray, forbidden: np.ndarray | None = None, rule4: bool = False) -> np.ndarray:
    """Meek's orientation rules applied to a fixpoint on a PDAG mark matrix (TAIL / ARROW marks only).

    R1: a -> b -- c, a and c non-adjacent => b -> c.  R2: a -> b -> c and a -- c => a -> c.
    R3: a -- b, a -- c, b -> d <- c, a -- d, b and c non-adjacent => a -> d.
    R4 (`rule4`, needed only with background knowledge): a -- d, a adjacent to b and c, b -> c -> d, b and d
    non-adjacent => a -> d.
    `forbidden[i, j]` True forbids orienting i -> j. Returns a new matrix.
    """
    m = marks.copy()
    p = m.shape[0]
    adj = m != NONE
    forb = np.zeros((p, p), bool) if forbidden is None else forbidden

    def directed(i, j):
        return m[i, j] == ARROW and m[j, i] == TAIL

    def undirected(i, j):
        return m[i, j] == TAIL and m[j, i] == TAIL

    changed = True
    while changed:
        changed = False
        for b in range(p):
            for c in np.flatnonzero(adj[b]):
                if not undirected(b, c) or forb[b, c]:
                    continue
                # R1
                if any(directed(a, b) and not adj[a, c] for a in np.flatnonzero(adj[b]) if a != c):
                    m[b, c], changed = ARROW, True
                    continue
                # R2: b -> a -> c
                if any(directed(b, a) and directed(a, c) for a in np.flatnonzero(adj[b] & adj[c])):
                    m[b, c], changed = ARROW, True
                    continue
                # R3: b -- a1, b -- a2, a1 -> c <- a2, a1 and a2 non-adjacent
                cands = [a for a in np.flatnonzero(adj[b] & adj[c]) if undirected(b, a) and directed(a, c)]
                if any(not adj[a1, a2] for k, a1 in enumerate(cands) for a2 in cands[k + 1 :]):
                    m[b, c], changed = ARROW, True
                    continue
                # R4: b -- a (or any adjacency) with a -> d -> c, b adjacent to d, a and c non-adjacent
                if rule4 and _meek_r4(m, adj, b, c):
                    m[b, c], changed = ARROW, True
    return m


def _meek_r4(m: np.ndarray, adj: np.ndarray, b: int, c: int) -> bool:
    """R4 for b -- c: some d adjacent to b with d -> c, and some a adjacent to b with a -> d, a and c
    non-adjacent => b -> c (Meek 1995, rule 4; pcalg's form)."""
    for d in np.flatnonzero(adj[b] & adj[c]):
        if not (m[d, c] == ARROW and m[c, d] == TAIL):
            continue
        for a in np.flatnonzero(adj[b] & adj[d]):
            if a != c and not adj[a, c] and m[a, d] == ARROW and m[d, a] == TAIL:
                return True
    return False


# --------------------------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class GraphMetrics:
    shd: int
    """structural Hamming distance: node pairs whose edge (absent, undirected, either direction) differs"""
    skeleton_precision: float
    skeleton_recall: float
    arrowhead_precision: float
    """of the arrowheads in the estimate (i -> j counts j), the fraction also in the truth"""
    arrowhead_recall: float
    skeleton_f1: float


def _as_marks(func: str, g: _MarkGraph, order: list) -> np.ndarray:
    if not isinstance(g, _MarkGraph):
        raise TypeError(f"{func}: graphs must be DAG, CPDAG or PAG, got {type(g).__name__}")
    if set(g.nodes) != set(order):
        raise ValueError(
            f"{func}: both graphs must have the same nodes, got {sorted(map(str, g.nodes))} and "
            f"{sorted(map(str, order))}"
        )
    perm = [g._index[v] for v in order]
    return g.marks[np.ix_(perm, perm)]


def shd(estimate: _MarkGraph, truth: _MarkGraph) -> int:
    """Structural Hamming distance between two graphs over the same nodes. A DAG given as `truth` is first
    turned into its CPDAG, so the distance is between equivalence classes; each node pair whose edge differs
    (missing, extra, or differently marked) counts 1."""
    if isinstance(truth, DAG):
        truth = truth.to_cpdag()
    if isinstance(estimate, DAG):
        estimate = estimate.to_cpdag()
    a = _as_marks("shd", estimate, estimate.nodes)
    b = _as_marks("shd", truth, estimate.nodes)
    diff = (a != b) | (a.T != b.T)
    return int(np.triu(diff, 1).sum())


def _pr(tp: int, n_est: int, n_true: int) -> tuple[float, float]:
    return (tp / n_est if n_est else 1.0), (tp / n_true if n_true else 1.0)


def compare(estimate: _MarkGraph, truth: _MarkGraph) -> GraphMetrics:
    """SHD and the precision / recall of the skeleton and of the arrowheads (truth's CPDAG if it is a DAG)."""
    if isinstance(truth, DAG):
        truth = truth.to_cpdag()
    a = _as_marks("compare", estimate, estimate.nodes)
    b = _as_marks("compare", truth, estimate.nodes)
    sa, sb = np.triu(a != NONE, 1), np.triu(b != NONE, 1)
    sp, sr = _pr(int((sa & sb).sum()), int(sa.sum()), int(sb.sum()))
    aa, ab = a == ARROW, b == ARROW
    ap, ar = _pr(int((aa & ab).sum()), int(aa.sum()), int(ab.sum()))
    f1 = 2 * sp * sr / (sp + sr) if sp + sr > 0 else 0.0
    return GraphMetrics(shd(estimate, truth), sp, sr, ap, ar, f1)
