"""Drawings of causal graphs (DAG, CPDAG, PAG) with networkx and matplotlib, and of discovered graphs next to
the true one on shared node positions.

Edges are drawn from the mark matrix (graphs.py): an ARROW mark is an arrowhead at that end, a TAIL mark
none, a CIRCLE mark a small open circle near that end (PAGs). Against a truth, each pair of nodes is
  correct      adjacent in both with the same marks at both ends (green),
  misoriented  adjacent in both with other marks (orange),
  extra        adjacent in the estimate only (red),
  missing      adjacent in the truth only (grey, dashed, drawn with the truth's marks).
A DAG given as the truth is compared through its CPDAG, as graphs.compare() does.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import networkx as nx
import numpy as np

from nextrl.causal.graphs import ARROW, CIRCLE, DAG, NONE, _as_marks, _MarkGraph

STATUS_COLORS = {"correct": "tab:green", "misoriented": "tab:orange", "extra": "tab:red", "missing": "0.6"}
TRUTH_COLOR = "black"


def edge_status(estimate: _MarkGraph, truth: _MarkGraph) -> dict[str, list[tuple[Hashable, Hashable]]]:
    """Node pairs (u, v), u before v in the estimate's node order, by status: 'correct', 'misoriented',
    'extra', 'missing' (see the module docstring)."""
    if isinstance(truth, DAG):
        truth = truth.to_cpdag()
    nodes = list(estimate.nodes)
    a = _as_marks("edge_status", estimate, nodes)
    b = _as_marks("edge_status", truth, nodes)
    out: dict[str, list] = {k: [] for k in STATUS_COLORS}
    for i, j in zip(*np.triu_indices(len(nodes), 1), strict=True):
        ea, eb = a[i, j] != NONE, b[i, j] != NONE
        if ea and eb:
            key = "correct" if a[i, j] == b[i, j] and a[j, i] == b[j, i] else "misoriented"
        elif ea:
            key = "extra"
        elif eb:
            key = "missing"
        else:
            continue
        out[key].append((nodes[i], nodes[j]))
    return out


def layered_layout(layers: Sequence[Sequence[Hashable]]) -> dict[Hashable, tuple[float, float]]:
    """Positions with one column per layer (e.g. time tiers), nodes top to bottom in the given order, row r of
    every column at the same height (so s_t and s_{t+1} line up when listed alike)."""
    return {v: (float(x), -float(r)) for x, layer in enumerate(layers) for r, v in enumerate(layer)}


def default_layout(graph: _MarkGraph) -> dict[Hashable, tuple[float, float]]:
    """Deterministic positions from the skeleton (Kamada-Kawai; a circle if it has no edge)."""
    g = graph.skeleton()
    if g.number_of_edges() == 0:
        return {v: tuple(p) for v, p in nx.circular_layout(g).items()}
    return {v: tuple(p) for v, p in nx.kamada_kawai_layout(g).items()}


def _arrowstyle(mu: int, mv: int) -> str:
    head_u, head_v = mu == ARROW, mv == ARROW
    return {(False, False): "-", (False, True): "-|>", (True, False): "<|-", (True, True): "<|-|>"}[(head_u, head_v)]


def draw_graph(
    ax,
    graph: _MarkGraph,
    pos: Mapping[Hashable, tuple[float, float]],
    *,
    truth: _MarkGraph | None = None,
    title: str = "",
    node_size: int = 1500,
) -> None:
    """Draws `graph` on matplotlib axes `ax` at positions `pos` (every node). With a `truth`, edges are colored
    by edge_status() and the truth's missing edges are drawn dashed; without one, all edges are black."""
    nodes = list(graph.nodes)
    missing = set(nodes) - set(pos)
    if missing:
        raise ValueError(f"draw_graph: pos must give every node a position, got none for {sorted(map(str, missing))}")
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    m = graph.marks
    idx = {v: i for i, v in enumerate(nodes)}
    if truth is not None:
        status = edge_status(graph, truth)
        tmarks = _as_marks("draw_graph", truth.to_cpdag() if isinstance(truth, DAG) else truth, nodes)
    else:
        upper = zip(*np.triu_indices(len(nodes), 1), strict=True)
        status = {"truth": [(nodes[i], nodes[j]) for i, j in upper if m[i, j]]}
        tmarks = None
    circles = []
    for key, pairs in status.items():
        marks = tmarks if key == "missing" else m
        color = TRUTH_COLOR if key == "truth" else STATUS_COLORS[key]
        for u, v in pairs:
            i, j = idx[u], idx[v]
            mu, mv = marks[j, i], marks[i, j]  # mark at u, mark at v
            nx.draw_networkx_edges(
                g,
                pos,
                edgelist=[(u, v)],
                ax=ax,
                arrows=True,
                arrowstyle=_arrowstyle(mu, mv),
                arrowsize=18,
                width=2.0 if key != "missing" else 1.5,
                edge_color=color,
                style="dashed" if key == "missing" else "solid",
                node_size=node_size,
            )
            for end, other, mark in ((u, v, mu), (v, u, mv)):
                if mark == CIRCLE:
                    circles.append((end, other, color))
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=node_size, node_color="white", edgecolors="black")
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
    if circles:
        span = np.ptp(np.array(list(pos.values()), dtype=float), axis=0).max() or 1.0
        for end, other, color in circles:
            p, q = np.asarray(pos[end], float), np.asarray(pos[other], float)
            d = q - p
            c = p + d / (np.linalg.norm(d) or 1.0) * 0.12 * span
            ax.plot(*c, "o", markersize=7, markerfacecolor="white", markeredgecolor=color, markeredgewidth=1.5)
    ax.set_title(title, fontsize=9)
    ax.margins(0.15)
    ax.set_axis_off()


def plot_discovery(
    path: str | Path,
    truth: _MarkGraph,
    estimates: Sequence[tuple[str, _MarkGraph]],
    *,
    pos: Mapping[Hashable, tuple[float, float]] | None = None,
    title: str = "",
    truth_title: str = "truth",
    columns: int = 3,
) -> Path:
    """One PNG: the truth in the first panel, then each (title, estimate) colored against it, all on the same
    node positions (default: default_layout(truth)). Returns the path written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    pos = default_layout(truth) if pos is None else pos
    k = 1 + len(estimates)
    cols = min(columns, k)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows + 0.6), dpi=100, squeeze=False)
    draw_graph(axes[0, 0], truth, pos, title=truth_title)
    for ax, (name, est) in zip(axes.flat[1:], estimates, strict=False):
        draw_graph(ax, est, pos, truth=truth, title=name)
    for ax in axes.flat[k:]:
        ax.set_axis_off()
    handles = [
        Line2D([], [], color=c, linestyle="--" if s == "missing" else "-", linewidth=2, label=s)
        for s, c in STATUS_COLORS.items()
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ["STATUS_COLORS", "default_layout", "draw_graph", "edge_status", "layered_layout", "plot_discovery"]
