// Helpers shared by the continuous-control envs (point_mass.h, classic_control.h): the finite-action
// check of CheckAction, clipping to a box, and squared norms.
#pragma once
#include <cmath>
#include <cstdint>

namespace nextrl::envs {

// nullptr when a[0..n) are all finite, else the message that VecEnv::Step reports.
inline const char* CheckFiniteAction(const float* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(a[i])) return "must be finite, got NaN or inf";
  return nullptr;
}

template <typename T>
inline T Clip(T x, T lo, T hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

inline double SquaredNorm(const double* x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

}  // namespace nextrl::envs
