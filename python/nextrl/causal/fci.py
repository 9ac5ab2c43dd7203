"""FCI: causal discovery with latent confounders (Spirtes, Meek & Richardson 1995; orientation rules of
Zhang 2008, "On the completeness of orientation rules for causal discovery in the presence of latent
confounders and selection bias", AIJ 172).

Steps: the PC-stable skeleton (pc.skeleton, batched CI tests); unshielded colliders; the Possible-D-SEP
stage (more edges removed with conditioning sets drawn from Possible-D-SEP); colliders again on the final
skeleton; rules R1-R4 and R8-R10 to a fixpoint. R5-R7 (selection bias) are not applied: the result assumes
no selection variables. Returns a PAG (graphs.py marks: CIRCLE / ARROW / TAIL at each end).
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


def _pd_edge(m, u, v) -> bool:
    """The edge u *-* v is potentially directed from u to v: no arrowhead at u, no tail at v."""
    return m[v, u] != ARROW and m[u, v] != TAIL and m[u, v] != NONE


def _upd_first_nodes(m: np.ndarray, a: int, target: int, adj: np.ndarray, exclude: int) -> set[int]:
    """Second nodes mu of the uncovered potentially directed paths a, mu, ..., target (not through exclude)."""
    firsts: set[int] = set()
    p = m.shape[0]
    for mu in np.flatnonzero(adj[a]).tolist():
        if mu == exclude or not _pd_edge(m, a, mu):
            continue
        if mu == target:
            firsts.add(mu)
            continue
        # DFS over (prev, cur) with uncovered triples
        stack = [(a, mu, frozenset((a, mu)))]
        found = False
        while stack and not found:
            prev, cur, on = stack.pop()
            for nxt in range(p):
                if nxt in on or nxt == exclude or not adj[cur, nxt] or adj[prev, nxt] or not _pd_edge(m, cur, nxt):
                    continue
                if nxt == target:
                    found = True
                    break
                if len(on) < p:
                    stack.append((cur, nxt, on | {nxt}))
        if found:
            firsts.add(mu)
    return firsts


def _discriminating(m, adj, sepsets, a, b, c) -> bool:
    """R4 on the triple (a, b, c) with a -> c, a <-* b, b o-* c; returns True if something changed."""
    p = m.shape[0]
    seen = {a, b, c}
    frontier = [a]
    while frontier:
        v = frontier.pop(0)
        for w in range(p):
            if w in seen or not adj[w, v] or m[w, v] != ARROW:
                continue
            if not adj[w, c]:
                d = w
                if b in sepsets.get((min(d, c), max(d, c)), ()):
                    m[b, c], m[c, b] = ARROW, TAIL
                else:
                    m[a, b] = m[b, a] = m[c, b] = m[b, c] = ARROW
                return True
            if m[w, c] == ARROW and m[c, w] == TAIL and m[v, w] == ARROW:
                seen.add(w)
                frontier.append(w)
    return False


def orient_pag(m: np.ndarray, sepsets: dict) -> np.ndarray:
    """Zhang's rules R1-R4 and R8-R10 on a PAG mark matrix whose colliders are already oriented."""
    m = m.copy()
    adj = m != NONE
    p = m.shape[0]
    changed = True
    while changed:
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
                        and ((m[b, a] == TAIL and m[b, c] == ARROW) or (m[b, c] == ARROW and m[c, b] == TAIL))
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
        # R4: discriminating paths
        for c in range(p):
            for b in np.flatnonzero(adj[c]).tolist():
                if m[c, b] != CIRCLE:
                    continue
                for a in np.flatnonzero(adj[b] & adj[c]).tolist():
                    if m[b, a] == ARROW and m[a, c] == ARROW and m[c, a] == TAIL and m[c, b] == CIRCLE:
                        if _discriminating(m, adj, sepsets, a, b, c):
                            changed = True
                            break
        # R8-R10 on every a o-> c
        for a in range(p):
            for c in np.flatnonzero(adj[a]).tolist():
                if not (m[a, c] == ARROW and m[c, a] == CIRCLE):
                    continue
                # R8: a -> b -> c or a -o b -> c
                if any(
                    m[b, a] == TAIL and m[a, b] in (ARROW, CIRCLE) and m[b, c] == ARROW and m[c, b] == TAIL
                    for b in np.flatnonzero(adj[a] & adj[c]).tolist()
                ):
                    m[c, a] = TAIL
                    changed = True
                    continue
                # R9: an uncovered potentially directed path a, b, ..., c with b and c non-adjacent
                firsts = _upd_first_nodes(m, a, c, adj, exclude=-1)
                if any(b != c and not adj[b, c] for b in firsts):
                    m[c, a] = TAIL
                    changed = True
                    continue
                # R10: b -> c <- d and uncovered p.d. paths a..b, a..d whose second nodes differ and are
                # non-adjacent
                pa = [b for b in np.flatnonzero(adj[c]).tolist() if m[b, c] == ARROW and m[c, b] == TAIL]
                done = False
                for b, d in combinations(pa, 2):
                    fb = _upd_first_nodes(m, a, b, adj, exclude=c)
                    fd = _upd_first_nodes(m, a, d, adj, exclude=c)
                    if any(mu != om and not adj[mu, om] for mu in fb for om in fd):
                        done = True
                        break
                if done:
                    m[c, a] = TAIL
                    changed = True
    return m


def fci(
    data: np.ndarray | None = None,
    *,
    ci_test="fisherz",
    alpha: float = 0.05,
    names: Sequence[Hashable] | None = None,
    max_cond_size: int | None = None,
    possible_dsep_stage: bool = True,
    progress: Progress | None = None,
) -> FCIResult:
    """FCI. Arguments as pc(); possible_dsep_stage=False skips the Possible-D-SEP removals (faster, may keep
    extra edges). Returns the PAG, the separating sets by name and the number of CI tests."""
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
    m = orient_pag(m, sepsets)
    seps = {}
    for (i, j), s in sepsets.items():
        named = frozenset(names[k] for k in s)
        seps[(names[i], names[j])] = seps[(names[j], names[i])] = named
    return FCIResult(PAG(names, m), seps, num_tests)
