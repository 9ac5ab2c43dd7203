// The planners' sampling noise: standard normals addressed by (seed, stream, index), and iCEM's colored
// (power-law) noise as a fixed linear map of white noise along the horizon.
//
// Normal number `index` of (seed, stream) is one half of a Box-Muller pair drawn from one Philox4x32-10 block
// (common/rng.h), block counter = counter0 + index / 2:
//   u1 = 1 - Unit(w0, w1) in (0, 1],  u2 = Unit(w2, w3) in [0, 1),  r = sqrt(-2 ln u1)
//   normal(2 k) = r cos(2 pi u2),  normal(2 k + 1) = r sin(2 pi u2)
// where Unit(hi, lo) is the top 53 bits of the 64-bit word hi:lo over 2^53 (UnitFromWords). A value depends
// only on its address, so the draws do not depend on threads or chunking, and a NumPy Philox reproduces them
// (tests/reference/planning.py) to the last ulp of libm's log / cos / sin.
//
// Planners address their noise as: stream = (round << 32) | problem, counter0 = iteration << 32, index =
// candidate * (horizon * action_dim) + h * action_dim + a (rows of the candidates that are sampled, not the
// kept elites or the mean). `round` is the caller's plan counter (MPC: the number of plans made so far).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/rng.h"
#include "common/simd_math.h"

namespace nextrl::planning {

inline constexpr double kTwoPi = 6.28318530717958647692;

inline uint64_t NoiseStream(uint64_t round, int64_t problem) { return (round << 32) | static_cast<uint64_t>(problem); }
inline uint64_t NoiseCounter(int64_t iteration) { return static_cast<uint64_t>(iteration) << 32; }

// out[k] = normal(index0 + k) of (seed, stream) at block counter counter0 + (index0 + k) / 2, k in [0, n).
inline void Normals(uint64_t seed, uint64_t stream, uint64_t counter0, uint64_t index0, int64_t n, double* out) {
  int64_t k = 0;
  uint64_t index = index0;
  while (k < n) {
    const Philox4x32 r = Philox(seed, stream, counter0 + index / 2);
    const double u1 = 1.0 - UnitFromWords(r.v[0], r.v[1]);
    const double u2 = UnitFromWords(r.v[2], r.v[3]);
    const double rad = std::sqrt(-2.0 * std::log(u1));
    double s, c;
    SinCos(kTwoPi * u2, s, c);
    if ((index & 1) == 0) {
      out[k++] = rad * c;
      ++index;
      if (k == n) break;
    }
    out[k++] = rad * s;
    ++index;
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
