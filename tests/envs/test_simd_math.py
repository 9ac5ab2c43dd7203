"""The branch-free sincos of csrc/common/simd_math.h (CartPole's vectorized step) through the _sincos test hook:
errors in ulps against mpmath's exact values, agreement with NumPy, the special values, and bit-identical
results of the vectorized (AVX2 clone where the CPU has it) and the scalar baseline path."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from nextrl import _core

MAX_ARG = 2.0**19 * math.pi / 2  # kSinCosMaxArg: beyond it, std::sin / std::cos
mpmath.mp.prec = 200


def _ulp_errors(x: np.ndarray, got: np.ndarray, func) -> np.ndarray:
    """|got - f(x)| in units of the last place of the exactly rounded f(x)."""
    out = np.empty(len(x))
    for k, (xi, gi) in enumerate(zip(x.tolist(), got.tolist())):
        exact = func(mpmath.mpf(xi))
        ulp = np.spacing(abs(float(exact)))
        out[k] = float(abs(mpmath.mpf(gi) - exact)) / ulp
    return out


def _arguments(rng: np.random.Generator) -> dict[str, np.ndarray]:
    k = np.round(np.exp(rng.uniform(0, np.log(5e5), 600)))
    near = k * (np.pi / 2)
    return {
        "reduced range [-pi/4, pi/4]": rng.uniform(-np.pi / 4, np.pi / 4, 1500),
        "cartpole range [-0.3, 0.3]": rng.uniform(-0.3, 0.3, 1000),
        "[-20, 20]": rng.uniform(-20, 20, 1500),
        "log-uniform 1e-8 .. 8e5, both signs": np.exp(rng.uniform(np.log(1e-8), np.log(MAX_ARG), 1500))
        * rng.choice([-1.0, 1.0], 1500),
        # next to multiples of pi/2: the reduction cancels most bits here
        "k pi/2 and its neighbours": np.concatenate([near, np.nextafter(near, np.inf), np.nextafter(near, -np.inf)]),
    }


@pytest.mark.parametrize("case", list(_arguments(np.random.default_rng(0))))
def test_error_below_one_ulp_against_mpmath(case):
    x = _arguments(np.random.default_rng(0))[case]
    s, c = _core._sincos(x, True)
    err_s, err_c = _ulp_errors(x, s, mpmath.sin), _ulp_errors(x, c, mpmath.cos)
    # fdlibm's kernels with an exact reduction: < 1 ulp (measured: at most 0.76)
    assert err_s.max() < 0.8, (case, err_s.max(), x[err_s.argmax()])
    assert err_c.max() < 0.8, (case, err_c.max(), x[err_c.argmax()])


def test_agrees_with_numpy_to_one_ulp():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-10, 10, 200_000), rng.uniform(-MAX_ARG, MAX_ARG, 100_000)])
    s, c = _core._sincos(x, True)
    ref_s, ref_c = np.sin(x), np.cos(x)
    assert np.all(np.abs(s - ref_s) <= np.spacing(np.abs(ref_s)))
    assert np.all(np.abs(c - ref_c) <= np.spacing(np.abs(ref_c)))
    # correctly rounded in most cases, like NumPy's (glibc's) sin / cos
    assert (s == ref_s).mean() > 0.9 and (c == ref_c).mean() > 0.9


def test_special_values():
    s, c = _core._sincos(np.array([0.0, -0.0]), True)
    np.testing.assert_array_equal(s, [0.0, -0.0])
    assert not np.signbit(s[0]) and np.signbit(s[1])
    np.testing.assert_array_equal(c, [1.0, 1.0])
    tiny = np.array([5e-324, -5e-324, 1e-300, 2.0**-30, -(2.0**-28)])  # sin x = x, cos x = 1 to the last bit
    s, c = _core._sincos(tiny, True)
    np.testing.assert_array_equal(s, tiny)
    np.testing.assert_array_equal(c, 1.0)
    s, c = _core._sincos(np.array([np.nan, np.inf, -np.inf]), True)
    assert np.isnan(s).all() and np.isnan(c).all()
    # multiples of pi/2 as doubles: sin(pi) = 1.2246e-16 (pi's rounding error), not 0
    k = np.arange(-64, 65, dtype=np.float64)
    s, c = _core._sincos(k * (np.pi / 2), True)
    np.testing.assert_array_equal(s, np.sin(k * (np.pi / 2)))
    np.testing.assert_array_equal(c, np.cos(k * (np.pi / 2)))


def test_beyond_the_bound_is_libm():
    """Above kSinCosMaxArg both paths call std::sin / std::cos: equal to math.sin / math.cos (glibc)."""
    x = np.array([np.nextafter(MAX_ARG, np.inf), -2.0 * MAX_ARG, 1e7, 1e22, -1e300, 1.7976931348623157e308])
    for vectorized in (True, False):
        s, c = _core._sincos(x, vectorized)
        np.testing.assert_array_equal(s, [math.sin(v) for v in x])
        np.testing.assert_array_equal(c, [math.cos(v) for v in x])
    inside = np.array([MAX_ARG, -MAX_ARG, np.nextafter(MAX_ARG, 0)])
    s, c = _core._sincos(inside, True)
    np.testing.assert_allclose(s, np.sin(inside), rtol=0, atol=1e-15)
    np.testing.assert_allclose(c, np.cos(inside), rtol=0, atol=1e-15)


def test_vectorized_and_scalar_paths_are_bit_identical():
    rng = np.random.default_rng(2)
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 50_001),
            rng.uniform(-3 * MAX_ARG, 3 * MAX_ARG, 50_000),
            rng.standard_normal(1000) * 1e-200,
            [0.0, -0.0, np.nan, np.inf, -np.inf],
        ]
    )
    rng.shuffle(x)  # mixes in-range, out-of-range and special values inside the vector lanes
    sv, cv = _core._sincos(x, True)
    ss, cs = _core._sincos(x, False)
    assert sv.tobytes() == ss.tobytes() and cv.tobytes() == cs.tobytes()
