// Model-predictive path integral control (Williams et al. 2017, "Information theoretic MPC for model-based
// reinforcement learning"; mbrl-lib's MPPIOptimizer without its overwritten-noise bug), one call for a plan of
// B independent problems. Per problem, a mean sequence [horizon, action_dim] and a fixed noise scale sigma
// [action_dim]. Iteration i:
//   1. N candidates: v_h = mean_h + sigma * z_h (z: white normals, noise.h), smoothed along the horizon by
//      u_0 = v_0, u_h = (1 - smoothing) v_h + smoothing u_{h-1}, then clipped to the box;
//   2. returns R_n from the rollout model;
//   3. weights w_n = exp((R_n - max_m R_m) / temperature) (w = 0 for a NaN return, which is reported);
//   4. mean <- sum_n w_n u_n / sum_n w_n.
// The plan is the final mean; the best candidate of all iterations is also kept.
// Preconditions (checked in bindings/planning.cpp): N >= 1, temperature > 0, 0 <= smoothing < 1, sigma >= 0 and
// mean finite, low <= high.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "planning/noise.h"
#include "planning/population.h"
#include "planning/rollout_model.h"

namespace nextrl::planning {

struct MppiSettings {
  int64_t population = 500;  // N
  int64_t iterations = 1;
  double temperature = 1.0;
  double smoothing = 0.0;
  double gamma = 1.0;
  uint64_t seed = 0;
  uint64_t round = 0;
};

struct MppiBuffers {
  double* mean;                      // [B, L] in: the initial mean; out: the final mean
  const double* sigma;               // [action_dim]
  double* best;                      // [B, L] out
  double* best_return;               // [B] out
  uint8_t* nan;                      // [B] out
  double* record_returns = nullptr;  // [B, iterations, N] or null
};

inline void PlanMppi(const RolloutModel& model, const PlanShape& s, const Box& box, const MppiSettings& c,
                     const MppiBuffers& io) {
  const int64_t B = s.num_problems, H = s.horizon, A = s.action_dim, L = s.row(), N = c.population;
  std::vector<double> pop(static_cast<size_t>(B * N * L)), ret(static_cast<size_t>(B * N));
  for (int64_t b = 0; b < B; ++b) {
    std::copy(io.mean + b * L, io.mean + (b + 1) * L, io.best + b * L);
    io.best_return[b] = -std::numeric_limits<double>::infinity();
    io.nan[b] = 0;
  }
  for (int64_t i = 0; i < c.iterations; ++i) {
    const uint64_t counter = NoiseCounter(i);
    BuildAndEvaluate(model, s, c.gamma, N, N, pop.data(), ret.data(), [&](int64_t b, int64_t r, double* x) {
      const double* mean = io.mean + b * L;
      Normals(c.seed, NoiseStream(c.round, b), counter, static_cast<uint64_t>(r * L), L, x);
      for (int64_t h = 0; h < H; ++h)  // e = h A + a without a division per element
        for (int64_t a = 0, e = h * A; a < A; ++a, ++e) x[e] = mean[e] + io.sigma[a] * x[e];
      if (c.smoothing != 0.0)
        for (int64_t e = A; e < L; ++e) x[e] = (1.0 - c.smoothing) * x[e] + c.smoothing * x[e - A];
      for (int64_t h = 0; h < H; ++h)  // clipped after the whole sequence is smoothed (u_{h-1} unclipped)
        for (int64_t a = 0, e = h * A; a < A; ++a, ++e) x[e] = box.Clip(x[e], a);
    });
    ParallelFor(B, 2, [&](int64_t b) {
      const double* p = pop.data() + b * N * L;
      const double* rb = ret.data() + b * N;
      double top = -std::numeric_limits<double>::infinity();
      int64_t arg = -1;
      for (int64_t n = 0; n < N; ++n) {
        if (std::isnan(rb[n])) {
          io.nan[b] = 1;
        } else if (arg < 0 || rb[n] > top) {
          top = rb[n], arg = n;
        }
      }
      if (io.record_returns != nullptr) std::copy(rb, rb + N, io.record_returns + (b * c.iterations + i) * N);
      if (arg < 0 || std::isinf(top)) return;  // no usable return: the mean stays
      TrackBest(p + arg * L, top, L, io.best + b * L, io.best_return + b);
      double* mean = io.mean + b * L;
      std::fill(mean, mean + L, 0.0);
      double total = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        if (std::isnan(rb[n])) continue;
        const double w = std::exp((rb[n] - top) / c.temperature);
        total += w;
        for (int64_t e = 0; e < L; ++e) mean[e] += w * p[n * L + e];
      }
      for (int64_t e = 0; e < L; ++e) mean[e] /= total;
    });
  }
}

}  // namespace nextrl::planning
