import networkx as nx
import numpy as np
import pytest

from nextrl.causal import CPDAG, DAG, DSeparation, compare, shd


def test_dag_queries_and_cpdag():
    d = DAG(list("abcde"), [("a", "c"), ("b", "c"), ("c", "d"), ("d", "e")])
    assert d.parents("c") == ["a", "b"] and d.children("c") == ["d"]
    assert d.ancestors("e") == {"a", "b", "c", "d"}
    assert d.markov_blanket("a") == {"b", "c"}
    assert d.is_d_separated("a", "b") and not d.is_d_separated("a", "b", {"c"})
    assert not d.is_d_separated("a", "b", {"e"})  # a descendant of the collider opens it
    cp = d.to_cpdag()
    assert sorted(cp.directed_edges) == [("a", "c"), ("b", "c"), ("c", "d"), ("d", "e")]
    chain = DAG(list("xyz"), [("x", "y"), ("y", "z")]).to_cpdag()
    assert chain.undirected_edges == [("x", "y"), ("y", "z")] and not chain.directed_edges


def test_shd_and_precision_recall():
    truth = DAG(list("abc"), [("a", "c"), ("b", "c")])
    est = CPDAG.from_edges(list("abc"), directed=[("a", "c")], undirected=[("b", "c"), ("a", "b")])
    assert shd(est, truth) == 2
    m = compare(est, truth)
    assert m.skeleton_recall == 1.0 and m.skeleton_precision == pytest.approx(2 / 3)
    assert m.arrowhead_precision == 1.0 and m.arrowhead_recall == 0.5
    assert shd(truth.to_cpdag(), truth) == 0


def test_to_dag_extension_is_in_the_class():
    d = DAG(list("abcd"), [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")])
    ext = d.to_cpdag().to_dag()
    assert shd(ext.to_cpdag(), d) == 0


def test_bayes_ball_oracle_matches_networkx():
    rng = np.random.default_rng(0)
    from nextrl.causal import random_dag

    d = random_dag(9, 0.3, seed=1)
    o = DSeparation(d)
    for _ in range(300):
        x, y = rng.choice(9, 2, replace=False)
        z = [int(v) for v in rng.choice(9, rng.integers(0, 4), replace=False) if v not in (x, y)]
        want = nx.is_d_separator(d.graph, {d.nodes[x]}, {d.nodes[y]}, {d.nodes[v] for v in z})
        got = o.pvalues([x], [y], np.array([z], np.int64).reshape(1, len(z)))[0] == 1.0
        assert got == want


def test_errors():
    with pytest.raises(ValueError, match="DAG: edges must form an acyclic graph, got the cycle"):
        DAG(list("ab"), [("a", "b"), ("b", "a")])
    d = DAG(list("ab"), [("a", "b")])
    with pytest.raises(ValueError, match="DAG.parents: node must be one of"):
        d.parents("q")
    with pytest.raises(ValueError, match="DAG: node must be one of"):
        DAG(list("ab"), [("a", "z")])
    with pytest.raises(TypeError, match="shd: graphs must be DAG, CPDAG or PAG"):
        shd(d.to_cpdag(), "a->b")
