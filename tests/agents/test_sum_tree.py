"""The C++ sum-tree of prioritized replay (csrc/rl/sum_tree.h) against the cumsum + searchsorted
reference (tests/reference/sum_tree.py): totals, minima, searches, stratified sampling frequencies
(chi-square) and every input error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nextrl._core import SumTree
from reference.sum_tree import SumTreeReference


@pytest.mark.parametrize("capacity", [1, 2, 3, 7, 8, 100, 1025])
def test_updates_total_min_and_find_match_reference(capacity, rng):
    tree, ref = SumTree(capacity), SumTreeReference(capacity)
    assert tree.capacity == capacity
    assert tree.total() == 0.0 and tree.min() == np.inf
    for _ in range(5):  # batched updates with duplicates (the later one wins) and zeros
        n = int(rng.integers(1, 2 * capacity + 1))
        idx = rng.integers(0, capacity, size=n)
        pri = rng.integers(0, 10, size=n).astype(np.float64)  # integers: every prefix sum is exact
        tree.update(idx, pri)
        ref.update(idx, pri)
        np.testing.assert_array_equal(tree.priorities(), ref.priorities)
        np.testing.assert_array_equal(tree.get(idx), ref.priorities[idx])
        assert tree.total() == ref.total()
        assert tree.min() == ref.min()
        if ref.total() > 0:
            # every boundary of the prefix sums, half-way points, 0 and the total itself
            cumsum = np.cumsum(ref.priorities)
            masses = np.concatenate(
                [[0.0, ref.total()], cumsum[cumsum < ref.total()], np.arange(0.5, ref.total(), 1.0)]
            )
            found = tree.find(masses)
            assert found.dtype == np.int64
            np.testing.assert_array_equal(found, ref.find(masses))
            assert np.all(ref.priorities[found] > 0)


def test_float_priorities_find_matches_reference_away_from_boundaries(rng):
    capacity = 1000
    tree, ref = SumTree(capacity), SumTreeReference(capacity)
    idx = rng.permutation(capacity)
    pri = rng.exponential(size=capacity) ** 2
    pri[rng.random(capacity) < 0.1] = 0.0
    tree.update(idx, pri)
    ref.update(idx, pri)
    np.testing.assert_allclose(tree.total(), ref.total(), rtol=1e-12, atol=0)
    assert tree.min() == 0.0
    masses = rng.random(20_000) * ref.total()
    cumsum = np.cumsum(ref.priorities)
    # rounding may differ only within a few ulps of a prefix-sum boundary; there are none at this margin
    gap = np.abs(masses[:, None] - cumsum[None, :]).min(axis=1)
    keep = gap > 1e-9 * ref.total()
    assert keep.mean() > 0.99
    np.testing.assert_array_equal(tree.find(masses[keep]), ref.find(masses[keep]))
    u = rng.random(4096)
    np.testing.assert_array_equal(tree.sample(u), ref.sample(u))


def test_many_updates_do_not_drift(rng):
    tree = SumTree(64)
    for _ in range(2000):
        tree.update(rng.integers(0, 64, size=8), rng.random(8) * 1e6)
    tree.update(np.arange(64), np.ones(64))
    assert tree.total() == 64.0 and tree.min() == 1.0


def test_stratified_sampling_frequencies_chi_square(rng):
    capacity = 50
    pri = rng.uniform(0.1, 3.0, size=capacity)
    pri[[3, 17]] = 0.0  # never drawn
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), pri)
    batch, rounds = 64, 800
    counts = np.zeros(capacity, dtype=np.int64)
    for _ in range(rounds):
        counts += np.bincount(tree.sample(rng.random(batch)), minlength=capacity)
    assert counts[3] == 0 and counts[17] == 0
    live = pri > 0
    expected = batch * rounds * pri[live] / pri.sum()
    # stratification only lowers the variance, so the multinomial chi-square is conservative
    assert stats.chisquare(counts[live], expected).pvalue > 1e-3
    # and the test has power: uniform frequencies are rejected
    uniform = np.full(live.sum(), batch * rounds / live.sum())
    assert stats.chisquare(counts[live], uniform).pvalue < 1e-6


def test_find_of_uniform_masses_chi_square(rng):
    pri = np.array([1.0, 2.0, 0.0, 4.0, 8.0, 0.5])
    tree = SumTree(len(pri))
    tree.update(np.arange(len(pri)), pri)
    n = 40_000
    counts = np.bincount(tree.find(rng.random(n) * tree.total()), minlength=len(pri))
    assert counts[2] == 0
    live = pri > 0
    assert stats.chisquare(counts[live], n * pri[live] / pri.sum()).pvalue > 1e-3


def test_stratified_sample_covers_every_segment():
    tree = SumTree(4)
    tree.update(np.arange(4), np.ones(4))
    np.testing.assert_array_equal(tree.sample(np.full(4, 0.5)), [0, 1, 2, 3])
    np.testing.assert_array_equal(tree.sample(np.full(2, 0.99)), [1, 3])


def test_accepts_any_integer_and_real_dtype():
    tree = SumTree(5)
    tree.update(np.array([1, 4], dtype=np.uint8), np.array([2, 3], dtype=np.int32))
    np.testing.assert_array_equal(tree.priorities(), [0, 2, 0, 0, 3])
    tree.update(np.array([0], dtype=np.int16), np.array([0.5], dtype=np.float32))
    assert tree.total() == 5.5 and tree.min() == 0.5
    assert tree.find(np.array([0.25], dtype=np.float32))[0] == 0


# ------------------------------------------------------------------------------ errors
def test_errors():
    with pytest.raises(ValueError, match=r"SumTree: capacity must be >= 1, got 0"):
        SumTree(0)
    tree = SumTree(10)
    with pytest.raises(ValueError, match=r"SumTree.sample: total priority must be > 0, got 0; update"):
        tree.sample(np.array([0.5]))
    with pytest.raises(ValueError, match=r"SumTree.find: total priority must be > 0"):
        tree.find(np.array([0.0]))
    with pytest.raises(IndexError, match=r"SumTree.update: index 10 out of range for capacity 10 \(at position 1\)"):
        tree.update(np.array([0, 10]), np.array([1.0, 1.0]))
    with pytest.raises(IndexError, match=r"SumTree.update: index -1 out of range for capacity 10"):
        tree.update(np.array([-1]), np.array([1.0]))
    with pytest.raises(IndexError, match=r"SumTree.get: index 11 out of range for capacity 10"):
        tree.get(np.array([11]))
    with pytest.raises(ValueError, match=r"SumTree.update: priorities must be finite and >= 0, got -1 at position 0"):
        tree.update(np.array([2]), np.array([-1.0]))
    with pytest.raises(ValueError, match=r"SumTree.update: priorities must be finite and >= 0, got nan"):
        tree.update(np.array([2, 3]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"SumTree.update: priorities must be finite and >= 0, got inf"):
        tree.update(np.array([2]), np.array([np.inf]))
    assert tree.total() == 0.0  # a refused update changes nothing
    with pytest.raises(
        ValueError, match=r"SumTree.update: indices and priorities must have the same length, got 2 and 1"
    ):
        tree.update(np.array([1, 2]), np.array([1.0]))
    with pytest.raises(TypeError, match=r"SumTree.update: indices must have an integer dtype, got float64"):
        tree.update(np.array([1.0]), np.array([1.0]))
    with pytest.raises(TypeError, match=r"SumTree.update: priorities must have a real dtype, got complex128"):
        tree.update(np.array([1]), np.array([1.0 + 1j]))
    with pytest.raises(ValueError, match=r"SumTree.update: indices must be 1-D, got 2 dimensions"):
        tree.update(np.zeros((2, 1), dtype=np.int64), np.array([1.0, 1.0]))
    tree.update(np.array([1, 2]), np.array([1.0, 3.0]))
    with pytest.raises(ValueError, match=r"SumTree.sample: uniforms must be in \[0, 1\), got 1 at position 1"):
        tree.sample(np.array([0.2, 1.0]))
    with pytest.raises(ValueError, match=r"SumTree.sample: uniforms must be in \[0, 1\), got -0.1"):
        tree.sample(np.array([-0.1]))
    with pytest.raises(ValueError, match=r"SumTree.sample: uniforms must hold >= 1 draw, got 0"):
        tree.sample(np.array([]))
    with pytest.raises(ValueError, match=r"SumTree.find: masses must be in \[0, total\] = \[0, 4\], got 4.5"):
        tree.find(np.array([4.5]))
    with pytest.raises(ValueError, match=r"SumTree.find: masses must be in \[0, total\] = \[0, 4\], got nan"):
        tree.find(np.array([np.nan]))
    with pytest.raises(TypeError, match=r"SumTree.sample: uniforms must have a real dtype, got <U1"):
        tree.sample(np.array(["a"]))
