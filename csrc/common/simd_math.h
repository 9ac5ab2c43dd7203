// Branch-free double sine and cosine that compilers vectorize: a loop of SinCosCore over arrays becomes
// SIMD code (4 lanes with AVX2), where a loop of std::sin / std::cos stays two libm calls per element.
//
// Method (fdlibm's, Sun Microsystems 1993, as in glibc's and musl's sin/cos for medium arguments):
//   1. Cody-Waite reduction: q = rint(x * 2/pi), r = x - q pi/2 with pi/2 split into three 33-bit parts
//      (q * part is exact for |q| < 2^20) and a 53-bit tail, the subtractions carried in double-double
//      (TwoSum), so r = r_hi + r_lo to ~2^-100 relative even next to a multiple of pi/2.
//   2. fdlibm's minimax polynomials __kernel_sin / __kernel_cos on [-pi/4, pi/4] (degree 13 / 14), which
//      take the tail r_lo, selected and sign-flipped by q mod 4 with bit operations.
// Error: < 1 ulp against the exact value for |x| <= kSinCosMaxArg (tests/envs/test_simd_math.py measures
// it against mpmath; most results equal the correctly rounded one). Beyond kSinCosMaxArg, and for NaN and
// inf, SinCos and SinCosArray call std::sin / std::cos; SinCosCore alone returns NaN for non-finite x and
// inaccurate values beyond the bound. Signed zeros follow libm: sin(-0) = -0, cos(+-0) = 1.
//
// Rounding is the same on every instruction set: every operation is a plain IEEE double add, multiply,
// divide, compare or bit operation, none fused. The code that calls these kernels is compiled without FMA
// contraction (the AVX2 clones target "avx2" without "fma", and CMakeLists.txt compiles the control envs'
// bindings and batch_plan.cpp with -ffp-contract=off, which also keeps -march=native builds equal), so
// scalar, SSE2 and AVX2 code give bit-identical results.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

// Put on a function whose loops call SinCosCore: GCC / Clang compile it twice, for AVX2 (without FMA) and
// for the baseline, and pick one at load time from the CPU (ifunc). Empty off x86-64, or when defined empty
// beforehand (-DNEXTRL_TARGET_CLONES_AVX2=: baseline code only, to compare the two).
#ifndef NEXTRL_TARGET_CLONES_AVX2
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NEXTRL_TARGET_CLONES_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define NEXTRL_TARGET_CLONES_AVX2
#endif
#endif

namespace nextrl {

// |x| up to which the branch-free path is accurate: 2^19 pi/2, so that |q| < 2^20 (fdlibm's medium range).
inline constexpr double kSinCosMaxArg = 0x1.921fb54442d18p+19;

namespace simd_detail {

inline uint64_t Bits(double x) {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline double FromBits(uint64_t u) {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Four doubles / floats as one value (GCC / Clang vector extensions: one AVX register where the function is
// compiled for AVX, two SSE2 registers otherwise). For moving rows of 4 in and out of structure-of-arrays.
typedef double V4d __attribute__((vector_size(32)));
typedef float V4f __attribute__((vector_size(16)));
typedef int64_t V4i __attribute__((vector_size(32)));
// Unaligned, aliasing views for loads and stores: *reinterpret_cast<const V4dU*>(p) reads p[0..4).
typedef double V4dU __attribute__((vector_size(32), aligned(8), may_alias));
typedef float V4fU __attribute__((vector_size(16), aligned(4), may_alias));
typedef int64_t V4iU __attribute__((vector_size(32), aligned(8), may_alias));

// Functions that take or return V4d by value are always inlined: an out-of-line copy compiled for the
// baseline would pass V4d in memory where an AVX2 caller passes it in a register (GCC's -Wpsabi note, which
// CMakeLists.txt silences for this reason).
#define NEXTRL_VEC_INLINE inline __attribute__((always_inline))

// The kernels below are templates over D = double or V4d (lane-wise: the same operations in the same order,
// so a V4d result equals four double results bit for bit). Bits / FromBits / Select / Splat are their
// type-generic pieces; a comparison of V4d values gives a V4i mask of all-ones / zero lanes.
NEXTRL_VEC_INLINE V4i Bits(V4d x) { return reinterpret_cast<V4i>(x); }
NEXTRL_VEC_INLINE V4d FromBits(V4i u) { return reinterpret_cast<V4d>(u); }

// cond ? a : b with integer masks (compilers keep these selects in vector code; ternaries on doubles may
// become branches).
inline double Select(bool cond, double a, double b) {
  const uint64_t m = 0 - static_cast<uint64_t>(cond);
  return FromBits((Bits(a) & m) | (Bits(b) & ~m));
}
NEXTRL_VEC_INLINE V4d Select(V4i mask, V4d a, V4d b) { return FromBits((Bits(a) & mask) | (Bits(b) & ~mask)); }
NEXTRL_VEC_INLINE V4d Abs(V4d x) { return FromBits(Bits(x) & 0x7fffffffffffffffLL); }

template <class D>
NEXTRL_VEC_INLINE D Splat(double v) {
  if constexpr (std::is_same_v<D, double>) {
    return v;
  } else {
    return D{v, v, v, v};
  }
}

// In-place transpose of the 4x4 matrix with rows a, b, c, d.
__attribute__((always_inline)) inline void Transpose4(V4d& a, V4d& b, V4d& c, V4d& d) {
  const V4d t0 = __builtin_shuffle(a, b, V4i{0, 4, 2, 6}), t1 = __builtin_shuffle(a, b, V4i{1, 5, 3, 7});
  const V4d t2 = __builtin_shuffle(c, d, V4i{0, 4, 2, 6}), t3 = __builtin_shuffle(c, d, V4i{1, 5, 3, 7});
  a = __builtin_shuffle(t0, t2, V4i{0, 1, 4, 5});
  b = __builtin_shuffle(t1, t3, V4i{0, 1, 4, 5});
  c = __builtin_shuffle(t0, t2, V4i{2, 3, 6, 7});
  d = __builtin_shuffle(t1, t3, V4i{2, 3, 6, 7});
}

inline constexpr double kInvPio2 = 0x1.45f306dc9c883p-1;  // 2/pi rounded
inline constexpr double kPio2_1 = 0x1.921fb544p+0;        // pi/2 = kPio2_1 + kPio2_2 + kPio2_3 + kPio2_3t
inline constexpr double kPio2_2 = 0x1.0b4611a6p-34;       // (+ 7e-49): the first three have 33 bits
inline constexpr double kPio2_3 = 0x1.3198a2ep-69;
inline constexpr double kPio2_3t = 0x1.b839a252049c1p-104;
inline constexpr double kRound = 0x1.8p52;  // (t + kRound) - kRound = rint(t) for |t| < 2^51

// fdlibm k_sin.c / k_cos.c coefficients.
inline constexpr double kS1 = -1.66666666666666324348e-01, kS2 = 8.33333333332248946124e-03,
                        kS3 = -1.98412698298579493134e-04, kS4 = 2.75573137070700676789e-06,
                        kS5 = -2.50507602534068634195e-08, kS6 = 1.58969099521155010221e-10;
inline constexpr double kC1 = 4.16666666666666019037e-02, kC2 = -1.38888888888741095749e-03,
                        kC3 = 2.48015872894767294178e-05, kC4 = -2.75573143513906633035e-07,
                        kC5 = 2.08757232129817482790e-09, kC6 = -1.13596475577881948265e-11;

// sin(x + y) for |x| <= pi/4, |y| <= ulp(x) / 2 (fdlibm __kernel_sin with iy = 1).
template <class D>
NEXTRL_VEC_INLINE D KernelSin(D x, D y) {
  const D z = x * x, v = z * x;
  const D r = kS2 + z * (kS3 + z * (kS4 + z * (kS5 + z * kS6)));
  return x - ((z * (0.5 * y - v * r) - y) - v * kS1);
}

// cos(x + y) for |x| <= pi/4 (fdlibm __kernel_cos; its branches on |x| become selects of qx).
template <class D>
NEXTRL_VEC_INLINE D KernelCos(D x, D y) {
  const D z = x * x;
  const D r = z * (kC1 + z * (kC2 + z * (kC3 + z * (kC4 + z * (kC5 + z * kC6)))));
  const auto ax = Bits(x) & 0x7fffffffffffffffLL;  // uint64_t or V4i; non-negative either way
  const auto hi = ax >> 32;
  // |x| / 4 with its low word cleared; 0.28125 above 0.78125; 0 below 0.3 (then a = 1, hz = z / 2).
  D qx = FromBits((ax - (int64_t{0x00200000} << 32)) & ~int64_t{0xffffffff});
  qx = Select(hi > 0x3fe90000, Splat<D>(0.28125), qx);
  qx = Select(hi < 0x3fd33333, Splat<D>(0.0), qx);
  const D hz = 0.5 * z - qx, a = 1.0 - qx;
  return a - (hz - (z * r - x * y));
}

}  // namespace simd_detail

// sin(x) and cos(x) without branches, accurate for |x| <= kSinCosMaxArg (see the header comment).
inline void SinCosCore(double x, double& s, double& c) {
  using namespace simd_detail;
  const double shifted = x * kInvPio2 + kRound;
  const double q = shifted - kRound;
  const uint64_t n = Bits(shifted);  // its low bits hold q in two's complement: q mod 4 = n & 3
  // r = x - q pi/2 in double-double (hi, lo). q * kPio2_k are exact; x - q kPio2_1 is exact (Sterbenz).
  const double r1 = x - q * kPio2_1;
  const double a2 = q * kPio2_2, h2 = r1 - a2, b2 = h2 - r1;  // TwoSum(r1, -a2)
  const double l2 = (r1 - (h2 - b2)) - (a2 + b2);
  const double a3 = q * kPio2_3, h3 = h2 - a3, b3 = h3 - h2;  // TwoSum(h2, -a3)
  const double l3 = ((h2 - (h3 - b3)) - (a3 + b3)) + l2 - q * kPio2_3t;
  const double y0 = h3 + l3, y1 = l3 - (y0 - h3);  // FastTwoSum: |h3| >= |l3|
  const double ks = KernelSin(y0, y1), kc = KernelCos(y0, y1);
  // Quadrant n: (sin, cos) = (ks, kc), (kc, -ks), (-ks, -kc), (-kc, ks).
  const bool swap = (n & 1) != 0;
  const uint64_t sign_s = (n & 2) << 62, sign_c = ((n + 1) & 2) << 62;
  const double s0 = Select(swap, kc, ks), c0 = Select(swap, ks, kc);
  s = Select(x == 0.0, x, FromBits(Bits(s0) ^ sign_s));  // keeps the sign of -0 (y0 = -0 + 0 is +0)
  c = FromBits(Bits(c0) ^ sign_c);
}

// |x| up to which SinCosSmallCore applies (q = 0 below pi/4; a margin keeps clear of the rounding of 2/pi x).
inline constexpr double kSinCosSmallArg = 0.75;

// SinCosCore for |x| <= kSinCosSmallArg without the reduction, bit-identical to SinCosCore there (q = 0,
// r_hi = x and r_lo = +0 exactly): half the operations, for loops whose arguments are known to be small.
// D = double or simd_detail::V4d (four at once, equal to four scalar calls).
template <class D>
NEXTRL_VEC_INLINE void SinCosSmallCore(D x, D& s, D& c) {
  using namespace simd_detail;
  const D zero = Splat<D>(0.0);
  s = Select(x == 0.0, x, KernelSin(x, zero));
  c = KernelCos(x, zero);
}

// SinCosCore with std::sin / std::cos beyond kSinCosMaxArg and for NaN / inf.
inline void SinCos(double x, double& s, double& c) {
  if (!(std::fabs(x) <= kSinCosMaxArg)) {
    s = std::sin(x);
    c = std::cos(x);
    return;
  }
  SinCosCore(x, s, c);
}

// s[i], c[i] = sin(x[i]), cos(x[i]) for i in [0, n): a vectorizable pass, then std::sin / std::cos for the
// (rare) elements beyond kSinCosMaxArg or not finite. Results equal SinCos element by element.
inline void SinCosArray(const double* __restrict x, double* __restrict s, double* __restrict c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) SinCosCore(x[i], s[i], c[i]);
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::fabs(x[i]) <= kSinCosMaxArg)) {
      s[i] = std::sin(x[i]);
      c[i] = std::cos(x[i]);
    }
  }
}

}  // namespace nextrl
