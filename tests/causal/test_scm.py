"""SCMs: sampling, do() and soft interventions against the closed forms of linear SCMs (x = (u + c) (I - W)^-1
after surgery), treatment effects against total effects, fitting, interventional datasets, PC recovery of the
documents' 3-variable SCM with its action, and the errors users can reach."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from nextrl.causal.scm import SCM, LinearMechanism, fit_scm, interventional_dataset, linear_scm

NODES = ("X1", "X2", "X3", "action")


def doc_weights() -> np.ndarray:
    w = np.zeros((4, 4))
    w[0, 1], w[3, 1], w[1, 2], w[0, 2] = 0.7, 0.5, 0.8, 0.3
    return w


def random_linear(p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = np.triu(rng.uniform(0.5, 1.5, (p, p)) * rng.choice([-1, 1], (p, p)) * (rng.random((p, p)) < 0.5), 1)
    perm = rng.permutation(p)  # node order unrelated to the causal order
    return w[np.ix_(perm, perm)], rng.uniform(0.3, 1.0, p)


def closed_form(w: np.ndarray, u: np.ndarray, do: dict[int, float]) -> np.ndarray:
    """x = (u' + c) (I - W')^-1 with W' the surgered weights, u' the noise zeroed at intervened nodes."""
    w2, u2, c = w.copy(), u.copy(), np.zeros(len(w))
    for j, v in do.items():
        w2[:, j] = 0.0
        u2[:, j] = 0.0
        c[j] = v
    return (u2 + c) @ np.linalg.inv(np.eye(len(w)) - w2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sample_and_do_equal_the_closed_form(seed):
    w, std = random_linear(6, seed)
    scm = linear_scm(w, std)
    x, u = scm.sample(500, seed=seed, return_noise=True)
    np.testing.assert_allclose(x, closed_form(w, u, {}), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(u.std(0), std, rtol=0.15)
    for do in ({0: 1.5}, {2: -0.7, 4: 2.0}):
        xd, ud = scm.do(do).sample(500, seed=seed, return_noise=True)
        np.testing.assert_allclose(xd, closed_form(w, u, do), rtol=1e-10, atol=1e-10)
        for j, v in do.items():
            assert np.all(xd[:, j] == v) and np.all(ud[:, j] == 0)


def test_do_changes_exactly_the_descendants():
    scm = linear_scm(doc_weights(), [0.5, 0.3, 0.4, 0.2], nodes=NODES)
    x = scm.sample(200, seed=3)
    xd = scm.do({"X2": 1.0}).sample(200, seed=3)  # same noise: common random numbers
    np.testing.assert_array_equal(xd[:, [0, 3]], x[:, [0, 3]])  # X1, action: not descendants of X2
    np.testing.assert_allclose(xd[:, 2], x[:, 2] + 0.8 * (1.0 - x[:, 1]), rtol=1e-12, atol=1e-12)
    g = scm.do({"X2": 1.0}).graph
    assert set(g.in_edges("X2")) == set() and set(g.out_edges("X2")) == {("X2", "X3")}
    xd1 = scm.do({"X1": 2.0}).sample(200, seed=3)  # propagates through X2 to X3
    np.testing.assert_allclose(xd1[:, 1], x[:, 1] + 0.7 * (2.0 - x[:, 0]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xd1[:, 2], x[:, 2] + (0.8 * 0.7 + 0.3) * (2.0 - x[:, 0]), rtol=1e-12, atol=1e-12)


def test_interventional_moments_equal_closed_form():
    scm = linear_scm(doc_weights(), [0.5, 0.3, 0.4, 0.2], nodes=NODES)
    x = scm.do({"X2": 1.0}).sample(200_000, seed=0)
    # E[X3 | do(X2=1)] = 0.8, Var = 0.3^2 * 0.5^2 + 0.4^2
    np.testing.assert_allclose(x[:, 2].mean(), 0.8, atol=0.005)
    np.testing.assert_allclose(x[:, 2].var(), 0.09 * 0.25 + 0.16, rtol=0.02)


@pytest.mark.parametrize("seed", [0, 1])
def test_ate_equals_the_total_effect(seed):
    w, std = random_linear(6, seed)
    scm = linear_scm(w, std)
    total = np.linalg.inv(np.eye(6) - w)  # total[i, j]: effect of a unit change of i on j
    for i, j in ((0, 5), (3, 1), (2, 4)):
        np.testing.assert_allclose(scm.ate(i, j, 1.0, 0.0, num_samples=100, seed=seed), total[i, j], atol=1e-12)


def test_soft_interventions():
    scm = linear_scm(doc_weights(), [0.5, 0.3, 0.4, 0.2], nodes=NODES)
    x = scm.sample(300, seed=1)
    xs = scm.soft("X2", shift=0.5).sample(300, seed=1)  # f2 + 0.5, parents kept
    np.testing.assert_allclose(xs[:, 1], x[:, 1] + 0.5, atol=1e-12)
    np.testing.assert_allclose(xs[:, 2], x[:, 2] + 0.8 * 0.5, atol=1e-12)
    new = scm.soft("X3", mechanism=LinearMechanism(np.array([0.0, 2.0])))  # parents (X1, X2): X3 = 2 X2 + u
    assert set(new.graph.in_edges("X3")) == {("X1", "X3"), ("X2", "X3")}
    _, u = scm.sample(300, seed=1, return_noise=True)
    np.testing.assert_allclose(new.sample(300, seed=1)[:, 2], 2 * x[:, 1] + u[:, 2], atol=1e-12)
    wider = scm.soft("X1", noise=1.5).sample(100_000, seed=0)
    np.testing.assert_allclose(wider[:, 0].std(), 1.5, rtol=0.02)


def test_cate_on_a_nonlinear_scm():
    # Y = T X + u: the effect of T on Y is X, so CATE(X > 0) = E[X | X > 0] = sqrt(2 / pi) for X ~ N(0, 1)
    g = nx.DiGraph([("X", "Y"), ("T", "Y")])
    scm = SCM(
        g,
        {"X": lambda pa: np.zeros(len(pa)), "T": lambda pa: np.zeros(len(pa)), "Y": lambda pa: pa[:, 0] * pa[:, 1]},
        {"X": 1.0, "T": 1.0, "Y": 0.1},
        nodes=["X", "T", "Y"],
    )
    cate = scm.cate("T", "Y", 1.0, 0.0, lambda c: c["X"] > 0, num_samples=200_000, seed=0)
    np.testing.assert_allclose(cate, np.sqrt(2 / np.pi), rtol=0.01)
    x = scm.sample(100, seed=4)
    np.testing.assert_allclose(scm.individual_effects(x, "T", "Y", 2.0, 0.0), 2 * x[:, 0], atol=1e-12)
    np.testing.assert_allclose(scm.ate("T", "Y", 1.0, 0.0, num_samples=200_000, seed=0), 0.0, atol=0.01)


def test_fit_linear_recovers_the_weights_and_effects():
    truth = linear_scm(doc_weights(), [0.5, 0.3, 0.4, 0.6], nodes=NODES)
    data = truth.sample(20_000, seed=0)
    fitted = fit_scm(data, truth.graph, nodes=NODES)
    np.testing.assert_allclose(fitted.mechanisms["X2"].weights, [0.7, 0.5], atol=0.02)  # parents X1, action
    np.testing.assert_allclose(fitted.mechanisms["X3"].weights, [0.3, 0.8], atol=0.02)  # parents X1, X2
    np.testing.assert_allclose([fitted.noise[v] for v in NODES], [0.5, 0.3, 0.4, 0.6], rtol=0.03)
    np.testing.assert_allclose(fitted.ate("X1", "X3", 1.0, 0.0), 0.86, atol=0.03)
    by_name = fit_scm({v: data[:, k] for k, v in enumerate(NODES)}, truth.graph)  # mapping input
    np.testing.assert_allclose(by_name.mechanisms["X3"].weights, fitted.mechanisms["X3"].weights, rtol=1e-12)


def test_fit_mlp_learns_a_nonlinear_mechanism():
    g = nx.DiGraph([("X", "Y")])
    scm = SCM(
        g,
        {"X": lambda pa: np.zeros(len(pa)), "Y": lambda pa: np.sin(2 * pa[:, 0])},
        {"X": 1.0, "Y": 0.1},
        nodes=["X", "Y"],
    )
    fitted = fit_scm(scm.sample(3000, seed=0), g, nodes=["X", "Y"], mechanism="mlp", steps=300, seed=0, lr=1e-2)
    grid = np.linspace(-1.5, 1.5, 31)[:, None]
    np.testing.assert_allclose(fitted.mechanisms["Y"](grid), np.sin(2 * grid[:, 0]), atol=0.1)
    assert 0.08 < fitted.noise["Y"] < 0.15


def test_interventional_dataset():
    scm = linear_scm(doc_weights(), [0.5, 0.3, 0.4, 0.2], nodes=NODES)
    ds = interventional_dataset(scm, [{}, {"X2": 1.0}, {"action": -1.0}], 50, seed=0)
    assert ds.data.shape == (150, 4) and list(np.bincount(ds.regimes)) == [50, 50, 50]
    assert np.all(ds.regime(1)[:, 1] == 1.0) and np.all(ds.regime(2)[:, 3] == -1.0)
    t = ds.targets()
    assert t.sum() == 100 and t[50:100, 1].all() and t[100:, 3].all() and not t[:50].any()


def test_pc_recovers_the_documents_scm_with_the_action():
    pc_mod = pytest.importorskip("nextrl.causal.pc")
    from nextrl.causal.graphs import DAG, shd

    scm = linear_scm(doc_weights(), [0.5, 0.3, 0.4, 0.0], nodes=NODES)
    scm = scm.soft("action", noise=lambda rng, n: rng.uniform(-1, 1, n))  # the document's a ~ U(-1, 1)
    truth = DAG(NODES, [("X1", "X2"), ("X2", "X3"), ("X1", "X3"), ("action", "X2")])
    exact = 0
    for seed in range(10):  # each marginal test of alpha = 0.05 can reject a true independence
        est = pc_mod.pc(scm.sample(2000, seed=seed), names=list(NODES), alpha=0.05).graph
        if shd(est, truth) == 0:
            exact += 1
            # the v-structure X1 -> X2 <- action orients every edge (Meek R1): the DAG itself
            assert sorted(est.directed_edges) == sorted(truth.edges)
    assert exact >= 8


# ---------------------------------------------------------------------------------------------------- errors
def test_errors():
    scm = linear_scm(doc_weights(), [0.5, 0.3, 0.4, 0.2], nodes=NODES)
    with pytest.raises(ValueError, match=r"SCM.do: intervention targets must be variables of the model .*got 'X9'"):
        scm.do({"X9": 1.0})
    with pytest.raises(ValueError, match="SCM.do: the value of 'X1' must be finite"):
        scm.do({"X1": np.nan})
    with pytest.raises(TypeError, match="SCM.do: interventions must be a mapping"):
        scm.do([("X1", 1.0)])
    with pytest.raises(ValueError, match="SCM.soft: node must be variables of the model"):
        scm.soft("Z", shift=1.0)
    with pytest.raises(ValueError, match="SCM.ate: treatment and outcome must be variables"):
        scm.ate("X1", "Y", 1.0, 0.0)
    cyclic = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")])
    with pytest.raises(ValueError, match="SCM: graph must be acyclic"):
        SCM(cyclic, {v: (lambda pa: pa.sum(1)) for v in "abc"})
    with pytest.raises(ValueError, match="fit_scm: graph must be acyclic"):
        fit_scm(np.zeros((10, 3)), cyclic, nodes=list("abc"))
    with pytest.raises(TypeError, match="SCM: graph must be a nextrl.causal.graphs.DAG or a networkx.DiGraph"):
        SCM([("a", "b")], {})
    with pytest.raises(ValueError, match="SCM: mechanisms must cover every node"):
        SCM(nx.DiGraph([("a", "b")]), {"a": lambda pa: pa.sum(1)})
    x = scm.sample(20, seed=0)
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"fit_scm: data must be finite, got 1 NaN or inf value\(s\) .*'X3'"):
        fit_scm(x, scm.graph, nodes=NODES)
    with pytest.raises(ValueError, match="SCM.abduct: data must be finite"):
        scm.counterfactual(x, {"X1": 0.0})
    with pytest.raises(ValueError, match=r"SCM.abduct: data must have shape \(num_samples, 4\), got \(20, 3\)"):
        scm.abduct(x[:, :3])
    with pytest.raises(ValueError, match="SCM.abduct: data columns must be variables of the model .*got 'Z'"):
        scm.abduct({"X1": [0.0], "X2": [0.0], "X3": [0.0], "action": [0.0], "Z": [1.0]})
    with pytest.raises(TypeError, match="SCM.abduct: data must be a numeric array, got dtype <U1"):
        scm.abduct(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError, match="SCM.sample: num_samples must be an integer >= 1, got 0"):
        scm.sample(0, seed=0)
    with pytest.raises(ValueError, match="fit_scm: mechanism must be 'linear' or 'mlp', got 'gp'"):
        fit_scm(scm.sample(20, seed=0), scm.graph, mechanism="gp")
