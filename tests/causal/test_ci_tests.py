import numpy as np
import pytest

from nextrl.causal import ChiSquare, FisherZ, RandomFeatureCI


def _reference_partial(x, i, j, s):
    """OLS residuals and their correlation: the textbook definition."""
    z = np.c_[np.ones(len(x)), x[:, s]]
    ri = x[:, i] - z @ np.linalg.lstsq(z, x[:, i], rcond=None)[0]
    rj = x[:, j] - z @ np.linalg.lstsq(z, x[:, j], rcond=None)[0]
    return np.corrcoef(ri, rj)[0, 1]


def test_fisher_z_batched_equals_regression_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    t = FisherZ(x)
    conds = np.array([[2, 3, 4], [0, 5, 2], [1, 3, 5]])
    xs, ys = np.array([0, 1, 0]), np.array([1, 3, 4])
    got = t.partial_correlations(xs, ys, conds)
    want = [_reference_partial(x, a, b, list(c)) for a, b, c in zip(xs, ys, conds)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        t.partial_correlations([0], [1], np.array([[2]])), [_reference_partial(x, 0, 1, [2])], rtol=1e-9, atol=1e-12
    )


def test_fisher_z_decisions():
    rng = np.random.default_rng(1)
    z = rng.standard_normal(2000)
    a, b = z + rng.standard_normal(2000), z + rng.standard_normal(2000)
    t = FisherZ(np.c_[a, b, z])
    assert t.pvalues([0], [1], np.zeros((1, 0), np.int64))[0] < 1e-6
    assert t.pvalues([0], [1], np.array([[2]]))[0] > 0.01


def test_chi_square_and_g_square():
    rng = np.random.default_rng(2)
    z = rng.integers(0, 3, 3000)
    a = (z + (rng.random(3000) < 0.2)) % 3
    b = (z + (rng.random(3000) < 0.2)) % 3
    x = np.c_[a, b, z]
    for g in (False, True):
        t = ChiSquare(x, g_square=g)
        assert t.pvalues([0], [1], np.zeros((1, 0), np.int64))[0] < 1e-6
        assert t.pvalues([0], [1], np.array([[2]]))[0] > 0.01


def test_kernel_test_sees_nonlinear_dependence():
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, 600)
    y = np.cos(x) + 0.2 * rng.standard_normal(600)
    w = rng.standard_normal(600)
    t = RandomFeatureCI(np.c_[x, y, w])
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.1  # invisible to a correlation test
    assert t.pvalues([0], [1], np.zeros((1, 0), np.int64))[0] < 1e-3
    assert t.pvalues([0], [2], np.zeros((1, 0), np.int64))[0] > 0.01


def test_errors():
    x = np.random.default_rng(0).standard_normal((50, 3))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="fisher_z: data must be finite, got NaN or inf in column 1"):
        FisherZ(bad)
    const = x.copy()
    const[:, 2] = 1.0
    with pytest.raises(ValueError, match="fisher_z: data columns must not be constant, got column 2"):
        FisherZ(const)
    with pytest.raises(TypeError, match="fisher_z: data must be a numeric array"):
        FisherZ(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="fisher_z: num_samples must be at least the conditioning size"):
        FisherZ(x[:4]).pvalues([0], [1], np.array([[2]]))
