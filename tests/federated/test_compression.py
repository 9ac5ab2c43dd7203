"""Top-k with error feedback, QSGD unbiasedness and variance, their composition, and counted bytes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nextrl.federated import compression as cp


def _vec(d=1000, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=d))


def test_topk_keeps_largest_and_roundtrips():
    v = _vec()
    msg = cp.encode(v, ratio=0.1)
    assert msg.k == 100 and msg.indices.dtype == np.int32
    out = cp.decode(msg, torch.float64)
    keep = np.argsort(-np.abs(v.numpy()))[:100]
    np.testing.assert_array_equal(np.sort(keep), msg.indices)
    np.testing.assert_allclose(out.numpy()[keep], v.numpy()[keep].astype(np.float32), rtol=0)
    assert np.count_nonzero(out.numpy()) == 100
    back = cp.Message.from_bytes(msg.to_bytes())
    assert torch.equal(cp.decode(back), cp.decode(msg))


def test_topk_never_zeroes_a_small_vector():
    msg = cp.encode(torch.tensor([0.3, -2.0]), ratio=0.2)  # the documents' k = int(0.2 * 2) = 0
    assert msg.k == 1 and cp.decode(msg).tolist() == [0.0, -2.0]


def test_error_feedback_accumulates_residual_exactly():
    ef = cp.ErrorFeedback(50, ratio=0.1, levels=0)
    total_in, total_out = torch.zeros(50, dtype=torch.float64), torch.zeros(50, dtype=torch.float64)
    for t in range(30):
        u = _vec(50, seed=t)
        before = ef.residual.clone()
        msg = ef.encode(u)
        dec = cp.decode(msg, torch.float64)
        torch.testing.assert_close(ef.residual, before + u - dec, rtol=0, atol=1e-12)
        total_in += u
        total_out += dec
    # nothing is lost, only delayed: sent + residual = everything put in
    torch.testing.assert_close(total_out + ef.residual, total_in, rtol=0, atol=1e-9)


def test_qsgd_unbiased_and_variance_bound():
    d, s, draws = 64, 4, 4000
    v = _vec(d, seed=1)
    outs = np.stack([cp.decode(cp.encode(v, levels=s, seed=i), torch.float64).numpy() for i in range(draws)])
    mean, se = outs.mean(axis=0), outs.std(axis=0, ddof=1) / math.sqrt(draws)
    # float32 norm on the wire: bias at most |v_i| * 2**-24; the mean within 5 standard errors
    assert np.all(np.abs(mean - v.numpy()) <= 5 * se + 1e-6)
    var = np.mean(np.sum((outs - v.numpy()) ** 2, axis=1))
    bound = min(d / s**2, math.sqrt(d) / s) * float(v.norm()) ** 2
    assert var <= bound


def test_composition_keeps_sparsity_and_counts_bytes():
    d, ratio, s = 10_000, 0.01, 15
    v = _vec(d, seed=2)
    msg = cp.encode(v, ratio=ratio, levels=s, seed=0)
    out = cp.decode(msg)
    assert np.count_nonzero(out.numpy()) <= msg.k == 100  # quantizing the kept values never fills the zeros
    assert set(np.flatnonzero(out.numpy())) <= set(msg.indices.tolist())
    bits = 1 + math.ceil(math.log2(s + 1))  # 5
    expected = 24 + 100 * 4 + 4 + math.ceil(100 * bits / 8)
    assert msg.nbytes == len(msg.to_bytes()) == expected == 24 + msg.indices.nbytes + 4 + msg.codes.nbytes
    back = cp.Message.from_bytes(msg.to_bytes())
    assert torch.equal(cp.decode(back), out)
    dense = cp.encode(v)
    assert dense.nbytes == len(dense.to_bytes()) == 24 + 4 * d == 24 + cp.dense_nbytes(d)


def test_bad_compression_inputs():
    with pytest.raises(ValueError, match=r"encode: ratio must be in \(0, 1\], got 0"):
        cp.encode(_vec(10), ratio=0)
    with pytest.raises(ValueError, match=r"encode: ratio must be in \(0, 1\], got 1.5"):
        cp.encode(_vec(10), ratio=1.5)
    with pytest.raises(ValueError, match=r"encode: update must be finite"):
        cp.encode(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"encode: levels must be an int in \[1, 32767\]"):
        cp.encode(_vec(10), levels=-3)
    with pytest.raises(ValueError, match=r"ErrorFeedback.encode: update must have 5 entries, got 10"):
        cp.ErrorFeedback(5, ratio=0.5).encode(_vec(10))


@pytest.mark.parametrize("levels", [1, 2, 4, 8, 16, 100, 255, 32767])
def test_qsgd_codes_are_packed_as_the_bit_matrix_reference(levels):
    """The wire bytes equal the obvious packing: each entry's code (level, sign in the top bit) written LSB first at
    1 + ceil(log2(s + 1)) bits, the bit stream packed little-endian; decoding returns sign * level * norm / s."""
    v = _vec(301, seed=levels).numpy()
    norm, codes = cp.qsgd_codes(v, levels, np.random.default_rng(7))
    bits = 1 + max(1, math.ceil(math.log2(levels + 1)))
    # the documented float32 level arithmetic, float32 uniforms from the same generator
    r = np.minimum(np.abs(v).astype(np.float32) * np.float32(levels / np.linalg.norm(v)), np.float32(levels))
    low = np.floor(r)
    lv = (low + (np.random.default_rng(7).random(v.shape, dtype=np.float32) < r - low)).astype(np.int64)
    code = lv | ((v < 0).astype(np.int64) << (bits - 1))
    bitmat = ((code[:, None] >> np.arange(bits)) & 1).astype(np.uint8)
    np.testing.assert_array_equal(codes, np.packbits(bitmat.reshape(-1), bitorder="little"))
    assert norm == pytest.approx(float(np.linalg.norm(v)), rel=1e-12)
    expected = np.float32(norm).astype(np.float64) * np.where(v < 0, -1.0, 1.0) * lv / levels
    np.testing.assert_array_equal(cp.qsgd_values(norm, codes, v.size, levels), expected)
    f32 = cp.qsgd_values(norm, codes, v.size, levels, np.float32)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, expected.astype(np.float32), rtol=2**-23, atol=0)
