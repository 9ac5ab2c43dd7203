// The planners' sampling noise: standard normals addressed by (seed, stream, index), and iCEM's colored
// (power-law) noise as a fixed linear map of white noise along the horizon.
//
// Normal number `index` of (seed, stream) is one half of a Box-Muller pair drawn from one Philox4x32-10 block
// (common/rng.h), block counter = counter0 + index / 2:
//   u1 = 1 - Unit(w0, w1) in (0, 1],  u2 = Unit(w2, w3) in [0, 1),  r = sqrt(-2 ln u1)
//   normal(2 k) = r cos(2 pi u2),  normal(2 k + 1) = r sin(2 pi u2)
// where Unit(hi, lo) is the top 53 bits of the 64-bit word hi:lo over 2^53 (UnitFromWords). A value depends
// only on its address, so the draws do not depend on threads or chunking, and a NumPy Philox reproduces them
// (tests/reference/planning.py) to an ulp (ln is LogUnit below, within 1 ulp of libm's; sin / cos are SinCos's).
//
// Planners address their noise as: stream = (round << 32) | problem, counter0 = iteration << 32, index =
// candidate * (horizon * action_dim) + h * action_dim + a (rows of the candidates that are sampled, not the
// kept elites or the mean). `round` is the caller's plan counter (MPC: the number of plans made so far).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/rng.h"
#include "common/simd_math.h"

namespace nextrl::planning {

inline constexpr double kTwoPi = 6.28318530717958647692;

inline uint64_t NoiseStream(uint64_t round, int64_t problem) { return (round << 32) | static_cast<uint64_t>(problem); }
inline uint64_t NoiseCounter(int64_t iteration) { return static_cast<uint64_t>(iteration) << 32; }

// ln(x) for x in [2^-53, 1] without branches, so that a loop of it vectorizes (fdlibm's e_log.c, Sun Microsystems
// 1993: x = 2^k (1 + f) with 1 + f in [sqrt(2) / 2, sqrt(2)), ln(1 + f) = f - f^2 / 2 + s (f^2 / 2 + R(s^2)), s = f /
// (2 + f), R its minimax polynomial; error < 1 ulp). Normal doubles only (the Box-Muller u1 is one).
inline double LogUnit(double x) {
  using simd_detail::Bits, simd_detail::FromBits, simd_detail::Select;
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kLg1 = 6.666666666666735130e-01, kLg2 = 3.999999999940941908e-01, kLg3 = 2.857142874366239149e-01;
  constexpr double kLg4 = 2.222219843214978396e-01, kLg5 = 1.818357216161805012e-01, kLg6 = 1.531383769920937332e-01;
  constexpr double kLg7 = 1.479819860511658591e-01, kSqrt2 = 1.41421356237309504880;
  const uint64_t bits = Bits(x);
  const double m = FromBits((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);  // [1, 2)
  const bool big = m > kSqrt2;
  // the exponent field as a double without an int64 -> double conversion (AVX2 has none): 2^52 + e - 2^52
  const double e = FromBits((bits >> 52) | 0x4330000000000000ull) - 0x1.0p52;
  const double k = (e - 1023.0) + Select(big, 1.0, 0.0);
  const double f = Select(big, 0.5 * m, m) - 1.0;
  const double hfsq = 0.5 * f * f, s = f / (2.0 + f), z = s * s, w = z * z;
  const double t1 = w * (kLg2 + w * (kLg4 + w * kLg6)), t2 = z * (kLg1 + w * (kLg3 + w * (kLg5 + w * kLg7)));
  return k * kLn2Hi - ((hfsq - (s * (hfsq + (t1 + t2)) + k * kLn2Lo)) - f);
}

// Box-Muller pairs of `count` consecutive blocks from block counter `first` (count <= kNormalTile): r[j] = sqrt(-2 ln
// u1), angle turned into s[j] = sin(2 pi u2), c[j] = cos(2 pi u2). Philox four blocks at a time (their multiplies
// overlap), then vectorizable log and sine / cosine passes (AVX2 clone where the CPU has it; SinCosArray equals SinCos
// bit for bit, so the values do not depend on the instruction set).
inline constexpr int64_t kNormalTile = 64;
template <class = void>
NEXTRL_TARGET_CLONES_AVX2 void NormalPairs(uint64_t seed, uint64_t stream, uint64_t first, int64_t count, double* r,
                                           double* s, double* c) {
  double u1[kNormalTile], angle[kNormalTile];
  int64_t j = 0;
  for (; j + 4 <= count; j += 4) {
    Philox4x32 w[4];
    PhiloxN<4>(seed, stream, first + static_cast<uint64_t>(j), w);
    for (int k = 0; k < 4; ++k) {
      u1[j + k] = 1.0 - UnitFromWords(w[k].v[0], w[k].v[1]);
      angle[j + k] = kTwoPi * UnitFromWords(w[k].v[2], w[k].v[3]);
    }
  }
  for (; j < count; ++j) {
    const Philox4x32 w = Philox(seed, stream, first + static_cast<uint64_t>(j));
    u1[j] = 1.0 - UnitFromWords(w.v[0], w.v[1]);
    angle[j] = kTwoPi * UnitFromWords(w.v[2], w.v[3]);
  }
  for (j = 0; j < count; ++j) r[j] = std::sqrt(-2.0 * LogUnit(u1[j]));
  SinCosArray(angle, s, c, count);
}

// out[k] = normal(index0 + k) of (seed, stream) at block counter counter0 + (index0 + k) / 2, k in [0, n).
inline void Normals(uint64_t seed, uint64_t stream, uint64_t counter0, uint64_t index0, int64_t n, double* out) {
  if (n <= 0) return;
  double r[kNormalTile], s[kNormalTile], c[kNormalTile];
  const uint64_t end = index0 + static_cast<uint64_t>(n);
  for (uint64_t pair = index0 / 2; 2 * pair < end; pair += kNormalTile) {
    const uint64_t last = std::min<uint64_t>(pair + kNormalTile, (end + 1) / 2);  // pairs [pair, last)
    NormalPairs(seed, stream, counter0 + pair, static_cast<int64_t>(last - pair), r, s, c);
    for (uint64_t q = pair; q < last; ++q) {
      const int64_t j = static_cast<int64_t>(q - pair);
      if (2 * q >= index0) out[2 * q - index0] = r[j] * c[j];
      if (2 * q + 1 >= index0 && 2 * q + 1 < end) out[2 * q + 1 - index0] = r[j] * s[j];
    }
  }
}

// iCEM's colored noise (Pinneri et al. 2020, after Timmer & Koenig 1995 as in the `colorednoise` package):
// white noise z along the horizon, filtered in the frequency domain by |f|^(-beta / 2) (f_0 taken as f_1 =
// 1 / horizon), back to the time domain and scaled to unit variance. As a matrix: y = C z with C the
// circulant of the kernel c_m = (1 / H) sum_k S_k cos(2 pi k m / H), S_k = max(min(k, H - k), 1)^(-beta / 2)
// (the frequency grid's |f| in units of 1 / H), divided by sqrt(sum_m c_m^2). beta = 0 and H = 1 give
// exactly the identity (white noise). Returns C row-major [H, H]: y_t = sum_j C[t, j] z_j.
inline std::vector<double> ColoredNoiseMatrix(int64_t horizon, double beta) {
  const int64_t H = horizon;
  std::vector<double> m(static_cast<size_t>(H * H), 0.0);
  if (beta == 0.0 || H == 1) {
    for (int64_t t = 0; t < H; ++t) m[static_cast<size_t>(t * H + t)] = 1.0;
    return m;
  }
  std::vector<double> kernel(static_cast<size_t>(H));
  double norm2 = 0.0;
  for (int64_t d = 0; d < H; ++d) {
    double sum = 0.0;
    for (int64_t k = 0; k < H; ++k) {
      const int64_t f = k < H - k ? k : H - k;
      const double scale = std::pow(static_cast<double>(f > 0 ? f : 1), -beta / 2.0);
      sum += scale * std::cos(kTwoPi * static_cast<double>((k * d) % H) / static_cast<double>(H));
    }
    kernel[static_cast<size_t>(d)] = sum / static_cast<double>(H);
    norm2 += kernel[static_cast<size_t>(d)] * kernel[static_cast<size_t>(d)];
  }
  const double inv = 1.0 / std::sqrt(norm2);
  for (int64_t t = 0; t < H; ++t)
    for (int64_t j = 0; j < H; ++j)
      m[static_cast<size_t>(t * H + j)] = kernel[static_cast<size_t>((t - j + H) % H)] * inv;
  return m;
}

}  // namespace nextrl::planning
