"""PC against causal-learn (test-only peer), the d-separation oracle on textbook networks, SHD on random
linear-Gaussian DAGs, column-permutation invariance, background knowledge and errors."""

import warnings

import numpy as np
import pytest

from nextrl.causal import (
    DAG,
    Knowledge,
    network,
    oracle_pc,
    pc,
    random_dag,
    sample_discrete,
    sample_linear_gaussian,
    shd,
)
from nextrl.causal.graphs import ARROW, TAIL


def _cl_marks(g):
    m = np.zeros(g.shape, np.int8)
    m[g.T == -1] = TAIL
    m[g.T == 1] = ARROW
    return m


def _causal_learn_pc(x, method, **kw):
    cl = pytest.importorskip("causallearn.search.ConstraintBased.PC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _cl_marks(cl.pc(x, 0.05, method, show_progress=False, **kw).G.graph)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "rules", [{}, {"uc_priority": 3}, {"uc_rule": 1, "uc_priority": 2}, {"uc_rule": 2, "uc_priority": 4}]
)
def test_equals_causal_learn_fisherz(seed, rules):
    dag = random_dag(10, 0.3, seed=seed)
    x = sample_linear_gaussian(dag, 500, seed=seed + 100)
    ours = pc(x, cycle_check="causal-learn", **rules).graph.marks
    np.testing.assert_array_equal(ours, _causal_learn_pc(x, "fisherz", **rules))


@pytest.mark.parametrize("seed", range(2))
def test_equals_causal_learn_chisq(seed):
    dag = random_dag(7, 0.35, seed=seed)
    x = sample_discrete(dag, 2000, seed=seed)
    np.testing.assert_array_equal(pc(x, ci_test="chisq").graph.marks, _causal_learn_pc(x, "chisq"))


@pytest.mark.parametrize("name", ["asia", "sachs", "child", "alarm"])
def test_oracle_recovers_textbook_cpdag(name):
    dag = network(name)
    assert shd(oracle_pc(dag).graph, dag) == 0


def test_mean_shd_on_random_linear_gaussian_dags():
    shds = []
    for seed in range(10):
        dag = random_dag(10, 0.2, seed=seed)
        x = sample_linear_gaussian(dag, 1000, seed=seed + 50)
        shds.append(shd(pc(x, names=dag.nodes).graph, dag))
    assert np.mean(shds) <= 2.0, shds


def test_skeleton_invariant_to_column_order():
    dag = random_dag(9, 0.3, seed=4)
    x = sample_linear_gaussian(dag, 300, seed=5)  # small n: plenty of borderline tests
    base = pc(x, names=dag.nodes).graph.skeleton()
    rng = np.random.default_rng(0)
    for _ in range(5):
        perm = rng.permutation(9)
        g = pc(x[:, perm], names=[dag.nodes[i] for i in perm]).graph.skeleton()
        assert {frozenset(e) for e in g.edges} == {frozenset(e) for e in base.edges}


def test_seed_common_cause_example_any_column_order():
    # the inventory's order-dependence bug: C causes A and B; A - B must go whichever column C is
    rng = np.random.default_rng(0)
    c = rng.standard_normal(2000)
    a, b = c + rng.standard_normal(2000), c + rng.standard_normal(2000)
    for cols, names in (([a, b, c], "ABC"), ([c, a, b], "CAB")):
        g = pc(np.c_[tuple(cols)], names=list(names)).graph
        assert {frozenset(e) for e in g.skeleton().edges} == {frozenset("CA"), frozenset("CB")}


def test_background_knowledge_and_progress():
    dag = DAG(list("abc"), [("a", "b"), ("b", "c")])
    x = sample_linear_gaussian(dag, 2000, seed=0)
    assert pc(x, names=list("abc")).graph.undirected_edges == [("a", "b"), ("b", "c")]
    seen = []
    g = pc(
        x,
        names=list("abc"),
        knowledge=Knowledge(tiers=(("a",), ("b",), ("c",))),
        progress=lambda d, info: seen.append((d, info["causal/edges"])),
    ).graph
    assert sorted(g.directed_edges) == [("a", "b"), ("b", "c")]
    assert seen and seen[0][0] == 0
    g = pc(x, names=list("abc"), knowledge=Knowledge(required=(("a", "c"),), forbidden=(("b", "a"),))).graph
    assert ("a", "c") in g.directed_edges and ("a", "b") in g.directed_edges


def test_errors():
    x = sample_linear_gaussian(random_dag(4, 0.5, seed=0), 100, seed=0)
    with pytest.raises(ValueError, match="pc: alpha must be in"):
        pc(x, alpha=1.5)
    with pytest.raises(ValueError, match="pc: data must have at least max conditioning size"):
        pc(x[:5])
    with pytest.raises(ValueError, match="Knowledge: node must be one of"):
        pc(x, knowledge=Knowledge(forbidden=(("zz", 0),)))
    with pytest.raises(TypeError, match="pc: max_cond_size must be an int or None"):
        pc(x, max_cond_size=1.5)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="fisher_z: data must be finite"):
        pc(bad)
    with pytest.raises(ValueError, match="pc: uc_priority must be one of"):
        pc(x, uc_rule=2, uc_priority=0)
