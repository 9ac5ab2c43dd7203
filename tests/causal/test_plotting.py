"""Graph drawings: edge classification against the truth, PNGs for DAG / CPDAG / PAG estimates, and the
knowledge-refined target the causal experiment scores CausalThrust against."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.causal.graphs import ARROW, CIRCLE, CPDAG, DAG, PAG, TAIL, compare
from nextrl.causal.plotting import default_layout, draw_graph, edge_status, layered_layout, plot_discovery


def _cpdag(nodes, directed=(), undirected=()):
    idx = {v: i for i, v in enumerate(nodes)}
    m = np.zeros((len(nodes), len(nodes)), np.int8)
    for a, b in directed:
        m[idx[a], idx[b]], m[idx[b], idx[a]] = ARROW, TAIL
    for a, b in undirected:
        m[idx[a], idx[b]] = m[idx[b], idx[a]] = TAIL
    return CPDAG(nodes, m)


def test_edge_status_against_a_dag_uses_its_cpdag():
    truth = DAG("abcd", [("a", "c"), ("b", "c"), ("c", "d")])  # CPDAG: a -> c <- b, c -> d
    est = _cpdag("abcd", directed=[("a", "c"), ("d", "c")], undirected=[("a", "b")])
    got = edge_status(est, truth)
    assert got == {
        "correct": [("a", "c")],
        "misoriented": [("c", "d")],
        "extra": [("a", "b")],
        "missing": [("b", "c")],
    }
    m = compare(est, truth)
    assert m.shd == len(got["misoriented"]) + len(got["extra"]) + len(got["missing"])


def test_layouts():
    pos = layered_layout([["x[t]", "y[t]"], ["x[t+1]"]])
    assert pos == {"x[t]": (0.0, 0.0), "y[t]": (0.0, -1.0), "x[t+1]": (1.0, 0.0)}
    g = DAG("abc", [("a", "b")])
    p1, p2 = default_layout(g), default_layout(g)
    assert set(p1) == {"a", "b", "c"} and p1 == p2


def test_plot_discovery_writes_png_for_cpdag_and_pag(tmp_path):
    truth = DAG("abcd", [("a", "c"), ("b", "c"), ("c", "d")])
    m = np.zeros((4, 4), np.int8)
    m[0, 2], m[2, 0] = ARROW, CIRCLE  # a o-> c
    m[1, 2], m[2, 1] = ARROW, CIRCLE  # b o-> c
    m[2, 3], m[3, 2] = ARROW, TAIL  # c -> d
    pag = PAG("abcd", m)
    est = _cpdag("abcd", directed=[("a", "c")], undirected=[("c", "d"), ("a", "b")])
    path = plot_discovery(tmp_path / "g.png", truth, [("pc", est), ("fci", pag)], title="t")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 5000


def test_draw_graph_needs_every_position():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"draw_graph: pos must give every node a position, got none for \['c'\]"):
        draw_graph(ax, DAG("abc", [("a", "b")]), {"a": (0, 0), "b": (1, 0)})
    plt.close(fig)


def test_thrust_target_is_the_dag():
    from nextrl.experiments.causal import _thrust_knowledge, _thrust_truth, knowledge_target

    names, truth = _thrust_truth()
    target = knowledge_target(truth, _thrust_knowledge(names))
    np.testing.assert_array_equal(target.marks, truth.marks)  # every edge crosses or sits in a tier order
    assert truth.to_cpdag().marks.tolist() != truth.marks.tolist()  # while the plain CPDAG leaves one undirected
