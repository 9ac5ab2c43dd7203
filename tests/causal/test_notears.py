import numpy as np
import pytest

from nextrl.causal import NotearsConfig, notears_linear, random_dag, sample_linear_gaussian


@pytest.mark.parametrize("seed", range(2))
def test_recovers_equal_variance_dag(seed):
    dag = random_dag(5, 0.4, seed=seed)
    x = sample_linear_gaussian(dag, 1000, seed=seed)
    r = notears_linear(x, NotearsConfig(h_tol=1e-6), names=dag.nodes)
    np.testing.assert_array_equal(r.graph.adjacency_matrix(), dag.adjacency_matrix())


def test_errors():
    with pytest.raises(ValueError, match="notears_linear: data must be finite"):
        notears_linear(np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]))
