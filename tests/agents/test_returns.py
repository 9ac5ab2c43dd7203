"""Return scans (csrc/rl/returns.h via nextrl.agents.returns) against the O(T^2) references in
tests/reference/returns.py, hand-computed tiny cases, closed forms, and every boundary error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl import _core
from nextrl.agents import returns as R
from reference import returns as ref


def _rollout(rng, T, N, dtype, p_term=0.1, p_trunc=0.1):
    rewards = rng.normal(size=(T, N)).astype(dtype)
    values = rng.normal(size=(T, N)).astype(dtype)
    next_values = rng.normal(size=(T, N)).astype(dtype)  # deliberately not values shifted: the general case
    terms = rng.random((T, N)) < p_term
    truncs = (rng.random((T, N)) < p_trunc) & ~terms
    return rewards, values, next_values, terms, truncs


TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-12, atol=1e-12)}
SHAPES = [(1, 1), (7, 3), (40, 5), (33, 130)]  # 130 columns: the parallel path


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,N", SHAPES)
def test_gae_matches_reference(rng, dtype, T, N):
    r, v, nv, term, trunc = _rollout(rng, T, N, dtype)
    adv, ret = R.gae(r, v, nv, term, trunc, gamma=0.97, lam=0.9)
    assert adv.dtype == dtype and adv.shape == (T, N)
    expected = ref.gae(r, v, nv, term, trunc, 0.97, 0.9)
    np.testing.assert_allclose(adv, expected, **TOL[dtype])
    np.testing.assert_allclose(ret, expected + v, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,N", SHAPES)
def test_discounted_returns_match_reference(rng, dtype, T, N):
    r, _, nv, term, trunc = _rollout(rng, T, N, dtype)
    np.testing.assert_allclose(
        R.discounted_returns(r, term, trunc, gamma=0.95, next_values=nv),
        ref.discounted_returns(r, term, trunc, 0.95, nv),
        **TOL[dtype],
    )
    np.testing.assert_allclose(
        R.discounted_returns(r, term, trunc, gamma=0.95),
        ref.discounted_returns(r, term, trunc, 0.95, None),
        **TOL[dtype],
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,N", SHAPES)
@pytest.mark.parametrize("n_steps", [1, 3, 50])
def test_nstep_returns_match_reference(rng, dtype, T, N, n_steps):
    r, _, nv, term, trunc = _rollout(rng, T, N, dtype)
    np.testing.assert_allclose(
        R.nstep_returns(r, nv, term, trunc, gamma=0.9, n_steps=n_steps),
        ref.nstep_returns(r, nv, term, trunc, 0.9, n_steps),
        **TOL[dtype],
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,N", SHAPES)
@pytest.mark.parametrize("bars", [(1.0, 1.0, 1.0), (0.7, 1.3, 2.0)])
def test_vtrace_matches_reference(rng, dtype, T, N, bars):
    r, v, nv, term, trunc = _rollout(rng, T, N, dtype)
    log_rhos = rng.normal(scale=0.7, size=(T, N)).astype(dtype)
    vs, pg = R.vtrace(r, v, nv, term, trunc, log_rhos, gamma=0.93, rho_bar=bars[0], c_bar=bars[1], pg_rho_bar=bars[2])
    evs, epg = ref.vtrace(r, v, nv, term, trunc, log_rhos, 0.93, *bars)
    np.testing.assert_allclose(vs, evs, **TOL[dtype])
    np.testing.assert_allclose(pg, epg, **TOL[dtype])


# ---------------------------------------------------------------------------------- hand cases
def _tiny():
    r = np.array([[1.0], [2.0], [3.0]])
    v = np.array([[0.5], [1.0], [1.5]])
    nv = np.array([[1.0], [1.5], [2.0]])  # values shifted, V(last obs) = 2
    return r, v, nv


@pytest.mark.parametrize(
    "done,expected",
    [
        # deltas 1.4, 2.35, 3.3; gamma lam = 0.72
        ("none", [1.4 + 0.72 * (2.35 + 0.72 * 3.3), 2.35 + 0.72 * 3.3, 3.3]),
        # termination at t=1: delta_1 = 2 - 1 = 1 (no bootstrap), and A_0 does not see A_2
        ("term", [1.4 + 0.72 * 1.0, 1.0, 3.3]),
        # truncation at t=1: delta_1 keeps its bootstrap 2 + 0.9 * 1.5 - 1, the scan stops
        ("trunc", [1.4 + 0.72 * 2.35, 2.35, 3.3]),
    ],
)
def test_gae_hand_computed(done, expected):
    r, v, nv = _tiny()
    term = np.zeros((3, 1), bool)
    trunc = np.zeros((3, 1), bool)
    if done == "term":
        term[1] = True
    if done == "trunc":
        trunc[1] = True
    adv, ret = R.gae(r, v, nv, term, trunc, gamma=0.9, lam=0.8)
    np.testing.assert_allclose(adv[:, 0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ret[:, 0], np.array(expected) + v[:, 0], rtol=0, atol=1e-12)


def test_discounted_and_nstep_hand_computed():
    r, _, nv = _tiny()
    no = np.zeros((3, 1), bool)
    term = no.copy()
    term[1] = True
    # bootstrap 2 at the end: G_2 = 3 + 0.9 * 2, G_1 = 2 + 0.9 G_2, G_0 = 1 + 0.9 G_1
    g2 = 3 + 0.9 * 2
    np.testing.assert_allclose(
        R.discounted_returns(r, no, no, gamma=0.9, next_values=nv)[:, 0],
        [1 + 0.9 * (2 + 0.9 * g2), 2 + 0.9 * g2, g2],
        atol=1e-12,
    )
    np.testing.assert_allclose(R.discounted_returns(r, term, no, gamma=0.9)[:, 0], [1 + 0.9 * 2, 2, 3], atol=1e-12)
    # 2-step: G_0 = 1 + 0.9 * 2 + 0.81 * V(s'_1) = 1 + 1.8 + 0.81 * 1.5; G_2 only has one step left
    np.testing.assert_allclose(
        R.nstep_returns(r, nv, no, no, gamma=0.9, n_steps=2)[:, 0],
        [1 + 1.8 + 0.81 * 1.5, 2 + 2.7 + 0.81 * 2.0, 3 + 0.9 * 2.0],
        atol=1e-12,
    )
    trunc = no.copy()
    trunc[0] = True  # truncated after step 0: bootstrap from V(s'_0) = 1
    np.testing.assert_allclose(
        R.nstep_returns(r, nv, no, trunc, gamma=0.9, n_steps=2)[:, 0],
        [1 + 0.9 * 1.0, 2 + 2.7 + 0.81 * 2.0, 3 + 0.9 * 2.0],
        atol=1e-12,
    )


def test_vtrace_hand_computed():
    r, v, nv = _tiny()
    no = np.zeros((3, 1), bool)
    # ratios 2, 0.5, 1 with rho_bar = c_bar = 1: rho = c = [1, 0.5, 1]
    log_rhos = np.log(np.array([[2.0], [0.5], [1.0]]))
    vs, pg = R.vtrace(r, v, nv, no, no, log_rhos, gamma=0.9)
    d = np.array([1.4, 0.5 * 2.35, 3.3])  # rho_t * delta_t
    a2 = d[2]
    a1 = d[1] + 0.9 * 0.5 * a2  # c_1 = 0.5
    a0 = d[0] + 0.9 * 1.0 * a1  # c_0 = 1
    np.testing.assert_allclose(vs[:, 0], [0.5 + a0, 1.0 + a1, 1.5 + a2], atol=1e-12)
    vs1, vs2 = 1.0 + a1, 1.5 + a2
    np.testing.assert_allclose(
        pg[:, 0], [1.0 * (1 + 0.9 * vs1 - 0.5), 0.5 * (2 + 0.9 * vs2 - 1.0), 1.0 * (3 + 0.9 * 2.0 - 1.5)], atol=1e-12
    )


def test_vtrace_on_policy_is_lambda_one_return(rng):
    """With pi = mu and bars >= 1, V-trace targets are the GAE(lambda=1) returns (Espeholt et al. remark 1)."""
    r, v, _, term, trunc = _rollout(rng, 30, 4, np.float64)
    nv = R.next_values_from(v, rng.normal(size=4))
    vs, pg = R.vtrace(r, v, nv, term, trunc, np.zeros_like(r), gamma=0.99)
    adv, ret = R.gae(r, v, nv, term, trunc, gamma=0.99, lam=1.0)
    np.testing.assert_allclose(vs, ret, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        R.discounted_returns(r, term, trunc, gamma=0.99, next_values=nv), ret, rtol=1e-12, atol=1e-12
    )


def test_gae_lambda_zero_is_td_error_and_one_step_return(rng):
    r, v, nv, term, trunc = _rollout(rng, 12, 3, np.float64)
    adv, _ = R.gae(r, v, nv, term, trunc, gamma=0.9, lam=0.0)
    np.testing.assert_allclose(adv, r + 0.9 * np.where(term, 0.0, nv) - v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        R.nstep_returns(r, nv, term, trunc, gamma=0.9, n_steps=1),
        r + 0.9 * np.where(term, 0.0, nv),
        rtol=1e-12,
        atol=1e-12,
    )


def test_torch_in_torch_out(rng):
    r, v, nv, term, trunc = _rollout(rng, 9, 2, np.float32)
    adv, ret = R.gae(
        torch.from_numpy(r),
        torch.from_numpy(v),
        torch.from_numpy(nv),
        torch.from_numpy(term),
        torch.from_numpy(trunc.astype(np.float32)),
        gamma=0.99,
        lam=0.95,
    )
    assert isinstance(adv, torch.Tensor) and adv.dtype == torch.float32
    np.testing.assert_allclose(adv.numpy(), ref.gae(r, v, nv, term, trunc, 0.99, 0.95), rtol=1e-4, atol=1e-4)
    nvt = R.next_values_from(torch.from_numpy(v), torch.ones(2))
    np.testing.assert_array_equal(nvt.numpy(), np.concatenate([v[1:], np.ones((1, 2), np.float32)]))


def test_non_contiguous_input_is_accepted(rng):
    r, v, nv, term, trunc = _rollout(rng, 8, 6, np.float64)
    adv, _ = R.gae(r[:, ::2], v[:, ::2], nv[:, ::2], term[:, ::2], trunc[:, ::2], gamma=0.9, lam=0.9)
    np.testing.assert_allclose(
        adv, ref.gae(r[:, ::2], v[:, ::2], nv[:, ::2], term[:, ::2], trunc[:, ::2], 0.9, 0.9), rtol=1e-12, atol=1e-12
    )


# ---------------------------------------------------------------------------------- errors
def _args(T=4, N=2, dtype=np.float64):
    z = np.zeros((T, N), dtype)
    f = np.zeros((T, N), bool)
    return z, z.copy(), z.copy(), f, f.copy()


def test_errors_python_layer():
    r, v, nv, term, trunc = _args()
    with pytest.raises(TypeError, match="gae: rewards must have dtype float32 or float64, got int64"):
        R.gae(np.zeros((4, 2), np.int64), v, nv, term, trunc, gamma=0.9, lam=0.9)
    with pytest.raises(TypeError, match="gae: values must have dtype float64 like rewards, got float32"):
        R.gae(r, v.astype(np.float32), nv, term, trunc, gamma=0.9, lam=0.9)
    with pytest.raises(TypeError, match="terminations must be bool or numeric 0/1"):
        R.gae(r, v, nv, term.astype(str), trunc, gamma=0.9, lam=0.9)


def test_errors_binding():
    r, v, nv, term, trunc = _args()
    with pytest.raises(ValueError, match=r"gae: rewards must be 2-D \[T, N\], got shape \(4,\)"):
        R.gae(r[:, 0], v, nv, term, trunc, gamma=0.9, lam=0.9)
    with pytest.raises(ValueError, match=r"gae: rewards must have T >= 1 and N >= 1, got shape \(0, 2\)"):
        R.gae(r[:0], v[:0], nv[:0], term[:0], trunc[:0], gamma=0.9, lam=0.9)
    with pytest.raises(ValueError, match=r"gae: next_values must have shape \(4, 2\) like rewards, got \(3, 2\)"):
        R.gae(r, v, nv[:3], term, trunc, gamma=0.9, lam=0.9)
    with pytest.raises(ValueError, match=r"gae: truncations must have shape \(4, 2\) like rewards, got \(4,\)"):
        R.gae(r, v, nv, term, trunc[:, 0], gamma=0.9, lam=0.9)
    with pytest.raises(ValueError, match=r"gae: gamma must be in \[0, 1\], got 1.5"):
        R.gae(r, v, nv, term, trunc, gamma=1.5, lam=0.9)
    with pytest.raises(ValueError, match=r"gae: lam must be in \[0, 1\], got -0.1"):
        R.gae(r, v, nv, term, trunc, gamma=0.9, lam=-0.1)
    with pytest.raises(ValueError, match="nstep_returns: n_steps must be >= 1, got 0"):
        R.nstep_returns(r, nv, term, trunc, gamma=0.9, n_steps=0)
    with pytest.raises(ValueError, match="vtrace: c_bar must be > 0, got 0"):
        R.vtrace(r, v, nv, term, trunc, r, gamma=0.9, c_bar=0.0)
    with pytest.raises(ValueError, match="vtrace: log_rhos must have shape"):
        R.vtrace(r, v, nv, term, trunc, r[:2], gamma=0.9)
    with pytest.raises(ValueError, match=r"discounted_returns: gamma must be in \[0, 1\]"):
        R.discounted_returns(r, term, trunc, gamma=-1.0)
    # the raw bindings refuse what the wrappers would convert, and never copy silently
    with pytest.raises(TypeError, match="gae: values must have dtype float64 like rewards, got float32"):
        _core.gae(r, v.astype(np.float32), nv, term, trunc, 0.9, 0.9)
    with pytest.raises(TypeError, match="gae: rewards must have dtype float32 or float64, got int32"):
        _core.gae(r.astype(np.int32), v, nv, term, trunc, 0.9, 0.9)
    with pytest.raises(TypeError, match="gae: terminations must have dtype bool or uint8, got float64"):
        _core.gae(r, v, nv, r, trunc, 0.9, 0.9)
    with pytest.raises(TypeError, match="gae: values must be C-contiguous"):
        _core.gae(r, np.asfortranarray(np.zeros((4, 2))), nv, term, trunc, 0.9, 0.9)
    with pytest.raises(TypeError, match="gae: rewards must be C-contiguous"):
        _core.gae(np.zeros((2, 4)).T, v, nv, term, trunc, 0.9, 0.9)
    with pytest.raises(TypeError, match="discounted_returns: next_values must be a numpy array or None"):
        _core.discounted_returns(r, [1.0], term, trunc, 0.9)
