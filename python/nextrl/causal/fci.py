"""FCI: causal discovery with latent confounders (Spirtes, Meek & Richardson 1995; orientation rules of
Zhang 2008, "On the completeness of orientation rules for causal discovery in the presence of latent
confounders and selection bias", AIJ 172).

Steps: the PC-stable skeleton (pc.skeleton, batched CI tests); unshielded colliders; the Possible-D-SEP
stage (more edges removed with conditioning sets drawn from Possible-D-SEP); colliders again on the final
skeleton; Zhang's rules R1-R10 in his schedule (orient_pag). R5-R7 add the tails of selection bias and can be
left out (selection_bias=False). Returns a PAG (graphs.py marks: CIRCLE / ARROW / TAIL at each end).

Checked in tests/causal/test_fci.py: with d-separation oracles, mark for mark against causal-learn's fci and
against a brute-force PAG (the marks shared by all Markov-equivalent MAGs). causal-learn 0.1.4.8 differs
where its R9 / R10 depart from Zhang: R9's uncovered-path search is a breadth-first search with one visited
set (it can miss an uncovered path), R10 accepts any semi-directed paths (not uncovered p.d. ones), and
its R4 runs only in a sweep where R1-R3 changed something. On data the skeletons can differ too: its
Possible-D-SEP stage tests only sets of size >= 2 that are not subsets of an adjacency set.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from nextrl.causal.ci_tests import make_ci_test
from nextrl.causal.graphs import ARROW, CIRCLE, NONE, PAG, TAIL
from nextrl.causal.pc import Progress, skeleton


@dataclass
class FCIResult:
    graph: PAG
    sepsets: dict[tuple[Hashable, Hashable], frozenset] = field(repr=False)
    num_tests: int


def _colliders(m: np.ndarray, sepsets: dict) -> None:
    adj = m != NONE
    p = m.shape[0]
    for b in range(p):
        nb = np.flatnonzero(adj[b])
        for a, c in combinations(nb.tolist(), 2):
            if not adj[a, c] and b not in sepsets[(min(a, c), max(a, c))]:
                m[a, b] = ARROW
                m[c, b] = ARROW


def possible_dsep(m: np.ndarray, x: int) -> set[int]:
    """Nodes v reachable from x by a path on which every inner node is a collider or sits in a triangle."""
    adj = m != NONE
    out: set[int] = set()
    seen: set[tuple[int, int]] = set()
    stack = [(x, int(v)) for v in np.flatnonzero(adj[x])]
    while stack:
        u, v = stack.pop()
        if (u, v) in seen:
            continue
        seen.add((u, v))
        out.add(v)
        for w in np.flatnonzero(adj[v]).tolist():
            if w != u and w != x and (adj[u, w] or (m[u, v] == ARROW and m[w, v] == ARROW)):
                stack.append((v, w))
    out.discard(x)
    return out


def _pd_edge(m: np.ndarray, u: int, v: int) -> bool:
    """The edge u *-* v is potentially directed from u to v: no arrowhead at u, no tail at v."""
    return m[u, v] != NONE and m[v, u] != ARROW and m[u, v] != TAIL


def _circle_edge(m: np.ndarray, u: int, v: int) -> bool:
    return m[u, v] == CIRCLE and m[v, u] == CIRCLE


def _uncovered_path(adj: np.ndarray, step_ok, a: int, mu: int, target: int, avoid: frozenset, last_ok) -> list | None:
    """A simple path a, mu, ..., target whose edges all pass step_ok(u, v) and whose consecutive triples are all
    unshielded (an uncovered path, Zhang 2008), not through `avoid`; last_ok(u) is an extra condition
    on the node before target. Depth-first over simple paths: exponential in the worst case, like any exact
    search over them, cheap on the sparse PAGs FCI returns. Returns the path or None."""
    p = adj.shape[0]
    stack = [[a, mu]]
    while stack:
        path = stack.pop()
        prev, cur = path[-2], path[-1]
        for nxt in np.flatnonzero(adj[cur]).tolist():
            if nxt in path or nxt in avoid or adj[prev, nxt] or not step_ok(cur, nxt):
                continue
            if nxt == target:
                if last_ok(cur):
                    return path + [nxt]
            elif len(path) < p:
                stack.append(path + [nxt])
    return None


def _upd_path(m: np.ndarray, adj: np.ndarray, a: int, mu: int, target: int, avoid: frozenset) -> bool:
    """An uncovered potentially directed path a, mu, ..., target exists (mu may be target)."""
    if mu in avoid or not _pd_edge(m, a, mu):
        return False
    if mu == target:
        return True
    return _uncovered_path(adj, lambda u, v: _pd_edge(m, u, v), a, mu, target, avoid, lambda u: True) is not None


def _discriminating(m: np.ndarray, adj: np.ndarray, sepsets: dict, a: int, b: int, c: int) -> bool:
    """R4 for a -> c, a <-* b, b o-* c: search back from a, breadth first, for a discriminating path
    <d, ..., a, b, c> (every node between d and b a collider on it and a parent of c, d not adjacent to c);
    orient b -> c if b is in Sepset(d, c), else a <-> b <-> c. Returns True if it oriented something."""
    p = m.shape[0]
    seen = {a, b, c}
    frontier = [a]
    while frontier:
        v = frontier.pop(0)
        for w in range(p):
            if w in seen or not adj[w, v] or m[w, v] != ARROW:
                continue
            if not adj[w, c]:
                if b in sepsets.get((min(w, c), max(w, c)), ()):
                    m[b, c], m[c, b] = ARROW, TAIL
                else:
                    m[a, b] = m[b, a] = m[c, b] = m[b, c] = ARROW
                return True
            if m[w, c] == ARROW and m[c, w] == TAIL and m[v, w] == ARROW:
                seen.add(w)
                frontier.append(w)
    return False


def _rules_r1_r4(m: np.ndarray, adj: np.ndarray, sepsets: dict) -> bool:
    """One sweep of Zhang's R1-R4 (arrowheads, and tails from R1 and R4); True if a mark changed."""
    p = m.shape[0]
    changed = False
    for b in range(p):
        nb = np.flatnonzero(adj[b]).tolist()
        for a in nb:
            for c in nb:
                if a == c:
                    continue
                # R1: a *-> b o-* c, a and c non-adjacent => b -> c
                if m[a, b] == ARROW and m[c, b] == CIRCLE and not adj[a, c]:
                    m[b, c], m[c, b] = ARROW, TAIL
                    changed = True
                # R2: a -> b *-> c or a *-> b -> c, with a *-o c => a *-> c
                if (
                    adj[a, c]
                    and m[a, c] == CIRCLE
                    and m[a, b] == ARROW
                    and m[b, c] == ARROW
                    and (m[b, a] == TAIL or m[c, b] == TAIL)
                ):
                    m[a, c] = ARROW
                    changed = True
    # R3: a *-> b <-* c, a *-o d o-* c, a and c non-adjacent, d *-o b => d *-> b
    for d in range(p):
        for b in np.flatnonzero(adj[d]).tolist():
            if m[d, b] != CIRCLE:
                continue
            cands = [a for a in np.flatnonzero(adj[b] & adj[d]).tolist() if m[a, b] == ARROW and m[a, d] == CIRCLE]
            if any(not adj[a, c] for a, c in combinations(cands, 2)):
                m[d, b] = ARROW
                changed = True
    # R4: discriminating paths for b, with b o-* c
    for c in range(p):
        for b in np.flatnonzero(adj[c]).tolist():
            for a in np.flatnonzero(adj[b] & adj[c]).tolist():
                if m[c, b] != CIRCLE:
                    break
                if m[b, a] == ARROW and m[a, c] == ARROW and m[c, a] == TAIL:
                    changed |= _discriminating(m, adj, sepsets, a, b, c)
    return changed


def _rules_r5_r7(m: np.ndarray, adj: np.ndarray) -> bool:
    """One sweep of Zhang's R5-R7 (tails from selection bias); True if a mark changed."""
    p = m.shape[0]
    changed = False
    # R5: a o-o b and an uncovered circle path <a, g, ..., t, b> with a, t and b, g non-adjacent => a -- b and
    # every edge on the path undirected
    for a in range(p):
        for b in np.flatnonzero(adj[a]).tolist():
            if not _circle_edge(m, a, b):
                continue
            for g in np.flatnonzero(adj[a]).tolist():
                if g == b or adj[b, g] or not _circle_edge(m, a, g):
                    continue
                path = _uncovered_path(
                    adj,
                    lambda u, v: _circle_edge(m, u, v),
                    a,
                    g,
                    b,
                    frozenset(),
                    lambda t: not adj[a, t],
                )
                if path is not None:
                    for u, v in zip(path, path[1:] + path[:1]):
                        m[u, v] = m[v, u] = TAIL
                    changed = True
                    break
    # R6: a -- b and b o-* c => b -* c
    # R7: a -o b o-* c with a and c non-adjacent => b -* c
    for b in range(p):
        nb = np.flatnonzero(adj[b]).tolist()
        undirected = any(m[a, b] == TAIL and m[b, a] == TAIL for a in nb)
        tail_circle = [a for a in nb if m[b, a] == TAIL and m[a, b] == CIRCLE]
        for c in nb:
            if m[c, b] != CIRCLE:
                continue
            if undirected or any(a != c and not adj[a, c] for a in tail_circle):
                m[c, b] = TAIL
                changed = True
    return changed


def _rules_r8_r10(m: np.ndarray, adj: np.ndarray) -> bool:
    """One sweep of Zhang's R8-R10 (tails on a o-> c); True if a mark changed."""
    p = m.shape[0]
    changed = False
    for a in range(p):
        for c in np.flatnonzero(adj[a]).tolist():
            if not (m[a, c] == ARROW and m[c, a] == CIRCLE):
                continue
            both = np.flatnonzero(adj[a] & adj[c]).tolist()
            # R8: a -> b -> c or a -o b -> c
            r8 = any(m[b, a] == TAIL and m[a, b] != TAIL and m[b, c] == ARROW and m[c, b] == TAIL for b in both)
            # R9: an uncovered p.d. path <a, b, ..., c> with b and c non-adjacent
            r9 = not r8 and any(
                b != c and not adj[b, c] and _upd_path(m, adj, a, b, c, frozenset())
                for b in np.flatnonzero(adj[a]).tolist()
            )
            # R10: b -> c <- d, uncovered p.d. paths <a, mu, ..., b> and <a, w, ..., d> with mu != w
            # non-adjacent (mu may be b, w may be d)
            r10 = False
            pa = [b for b in np.flatnonzero(adj[c]).tolist() if m[b, c] == ARROW and m[c, b] == TAIL]
            if not (r8 or r9) and len(pa) >= 2:
                firsts = [mu for mu in np.flatnonzero(adj[a]).tolist() if mu != c and _pd_edge(m, a, mu)]
                reach = {b: [mu for mu in firsts if _upd_path(m, adj, a, mu, b, frozenset((c,)))] for b in pa}
                r10 = any(
                    mu != w and not adj[mu, w] for b, d in combinations(pa, 2) for mu in reach[b] for w in reach[d]
                )
            if r8 or r9 or r10:
                m[c, a] = TAIL
                changed = True
    return changed


def orient_pag(m: np.ndarray, sepsets: dict, *, selection_bias: bool = True) -> np.ndarray:
    """Zhang's (2008) rules on a PAG mark matrix whose unshielded colliders are already oriented.

    Zhang's schedule: R1-R4 to their fixpoint, then R5-R7, then R8-R10, each group only
    once the groups before it no longer change anything, repeated until nothing changes. R5-R7 only add
    tails that stand for selection variables; selection_bias=False leaves them out (Zhang shows
    R1-R4 and R8-R10 are complete when there is no selection bias)."""
    m = m.copy()
    adj = m != NONE
    while True:
        if _rules_r1_r4(m, adj, sepsets):
            continue
        if selection_bias and _rules_r5_r7(m, adj):
            continue
        if not _rules_r8_r10(m, adj):
            return m


def fci(
    data: np.ndarray | None = None,
    *,
    ci_test="fisherz",
    alpha: float = 0.05,
    names: Sequence[Hashable] | None = None,
    max_cond_size: int | None = None,
    possible_dsep_stage: bool = True,
    selection_bias: bool = True,
    progress: Progress | None = None,
) -> FCIResult:
    """FCI. Arguments as pc(); possible_dsep_stage=False skips the Possible-D-SEP removals (faster, may keep
    extra edges); selection_bias=False leaves out R5-R7 (no selection variables assumed). Returns the PAG,
    the separating sets by name and the number of CI tests."""
    if not isinstance(alpha, (int, float)) or not 0.0 < alpha < 1.0:
        raise ValueError(f"fci: alpha must be in (0, 1), got {alpha!r}")
    if isinstance(ci_test, str):
        if data is None:
            raise ValueError(f"fci: data must be given with ci_test={ci_test!r}, got None")
        test = make_ci_test(data, ci_test, names)
    elif hasattr(ci_test, "pvalues") and hasattr(ci_test, "num_vars"):
        test = ci_test
    else:
        raise TypeError(f"fci: ci_test must be a method name or a CI test object, got {type(ci_test).__name__}")
    names = list(test.names)
    sk = skeleton(test, alpha, max_cond_size, progress=progress)
    sepsets = dict(sk.sepsets)
    num_tests = sk.num_tests
    m = np.where(sk.adjacency, CIRCLE, NONE).astype(np.int8)
    if possible_dsep_stage:
        _colliders(m, sepsets)
        pds = {x: possible_dsep(m, x) for x in range(len(names))}
        adj = sk.adjacency.copy()
        for x, y in np.argwhere(np.triu(adj)).tolist():
            removed = False
            for a, b in ((x, y), (y, x)):
                pool = sorted(pds[a] - {a, b})
                top = len(pool) if max_cond_size is None else min(len(pool), max_cond_size)
                for size in range(1, top + 1):
                    sets = np.array(list(combinations(pool, size)), np.int64).reshape(-1, size)
                    pv = test.pvalues(np.full(len(sets), a), np.full(len(sets), b), sets)
                    num_tests += len(sets)
                    hit = np.flatnonzero(pv > alpha)
                    if hit.size:
                        sepsets[(x, y)] = frozenset(int(v) for v in sets[hit[0]])
                        removed = True
                        break
                if removed:
                    break
            if removed:
                adj[x, y] = adj[y, x] = False
        m = np.where(adj, CIRCLE, NONE).astype(np.int8)
    _colliders(m, sepsets)
    m = orient_pag(m, sepsets, selection_bias=selection_bias)
    seps = {}
    for (i, j), s in sepsets.items():
        named = frozenset(names[k] for k in s)
        seps[(names[i], names[j])] = seps[(names[j], names[i])] = named
    return FCIResult(PAG(names, m), seps, num_tests)
