import numpy as np
import pytest

from nextrl.causal import DAG, DSeparation, fci


def test_latent_confounder_pag_oracle():
    # X1 -> X2 <- L -> X3 <- X4 with L latent: X1 o-> X2 <-> X3 <-o X4
    d = DAG(["X1", "X2", "X3", "X4", "L"], [("X1", "X2"), ("L", "X2"), ("L", "X3"), ("X4", "X3")])
    g = fci(ci_test=DSeparation(d, ["X1", "X2", "X3", "X4"])).graph
    assert g.edge_strings() == ["X1 o-> X2", "X2 <-> X3", "X3 <-o X4"]


def test_y_structure_orients_the_visible_edge():
    d = DAG(list("ABCD"), [("A", "C"), ("B", "C"), ("C", "D")])
    assert fci(ci_test=DSeparation(d)).graph.edge_strings() == ["A o-> C", "B o-> C", "C --> D"]


def test_latent_confounder_from_data():
    rng = np.random.default_rng(0)
    n = 5000
    lat, x1, x4 = rng.standard_normal((3, n))
    x2 = x1 + lat + rng.standard_normal(n)
    x3 = lat + x4 + rng.standard_normal(n)
    g = fci(np.c_[x1, x2, x3, x4], names=["X1", "X2", "X3", "X4"]).graph
    assert g.mark("X2", "X3") == ">" and g.mark("X3", "X2") == ">"
    assert g.edge_strings() == ["X1 o-> X2", "X2 <-> X3", "X3 <-o X4"]


def test_errors():
    with pytest.raises(ValueError, match="fci: data must be given"):
        fci(None)
    with pytest.raises(ValueError, match="fci: alpha must be in"):
        fci(np.zeros((3, 3)), alpha=0)
