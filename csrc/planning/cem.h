// The cross-entropy method over action sequences, one call for a whole plan of B independent problems:
// CEM with PlaNet's / mbrl-lib's semantics, random shooting as its degenerate case, and iCEM's additions.
//
// Per problem, a diagonal Gaussian (mean, std) over [horizon, action_dim] sequences. Iteration i:
//   1. candidates, in this row order:
//      - N_i sampled: x = clip(mean + std * y, low, high), y = noise (noise.h: white, or colored with exponent
//        noise_beta along the horizon), N_i = min(N, max(floor(N * population_decay^-i), 2 K));
//      - num_keep kept elites: the first num_keep of the previous iteration's elites (i > 0), or of
//        prev_elites (i = 0, when given: the caller's shifted elites of its previous plan);
//      - the mean itself, in the last iteration when add_mean;
//   2. returns from the rollout model (discounted by gamma, zero after a termination);
//   3. elites: the K best (ties: the earlier row; NaN ranks last, and is reported);
//   4. mean <- alpha mean + (1 - alpha) mean(elites), std <- alpha std + (1 - alpha) std(elites) (population
//      std, ddof 0), element by element;
// and the best candidate of all iterations is kept (the first of equal returns).
//   CEM (Chua et al. 2018 / PlaNet, Hafner et al. 2019; mbrl-lib's CEMOptimizer with clipped_normal):
//     noise_beta = 0, population_decay = 1, num_keep = 0, add_mean = false; the plan is the final mean.
//   Random shooting: iterations = 1, num_elites = 1, alpha = 0: the plan (mean = best) is the best sample.
//   iCEM (Pinneri et al. 2020, Alg. 1): noise_beta > 0 (2-4 in the paper), population_decay > 1, num_keep =
//     floor(xi K) (xi = 0.3), add_mean, prev_elites = the last plan's elites shifted by one step; the plan is
//     the best candidate.
// Preconditions (checked in bindings/planning.cpp): shapes as documented below, 1 <= K <= N, num_keep <= K,
// population_decay >= 1, 0 <= alpha <= 1, mean / std finite with std >= 0, low <= high, num_prev >= num_keep
// when prev_elites is given.
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

struct CemSettings {
  int64_t population = 500;  // N
  int64_t num_elites = 50;   // K
  int64_t iterations = 5;
  double alpha = 0.1;
  double gamma = 1.0;
  double noise_beta = 0.0;
  double population_decay = 1.0;
  int64_t num_keep = 0;
  bool add_mean = false;
  uint64_t seed = 0;
  uint64_t round = 0;
};

// Candidates sampled in iteration i (N_i above).
inline int64_t SampledAt(const CemSettings& c, int64_t i) {
  if (c.population_decay == 1.0 || i == 0) return c.population;
  const double decayed = std::floor(static_cast<double>(c.population) * std::pow(c.population_decay, -double(i)));
  return std::min(c.population, std::max(static_cast<int64_t>(decayed), 2 * c.num_elites));
}
// Rows of the largest iteration (for the record's width).
inline int64_t MaxRows(const CemSettings& c) { return c.population + c.num_keep + (c.add_mean ? 1 : 0); }

// Buffers of one plan (B = num_problems, L = horizon * action_dim).
struct CemBuffers {
  double* mean;                          // [B, L] in: the initial mean; out: the final mean
  double* std;                           // [B, L] in: the initial std; out: the final std
  const double* prev_elites = nullptr;   // [B, num_prev, L] or null
  int64_t num_prev = 0;
  double* best;                          // [B, L] out: the best candidate seen (the initial mean if none ranks)
  double* best_return;                   // [B] out (-inf if every return was NaN)
  double* elites;                        // [B, K, L] out: the last iteration's elites, best first
  uint8_t* nan;                          // [B] out: 1 when some candidate of the problem returned NaN
  double* record_returns = nullptr;      // [B, iterations, MaxRows] or null: every candidate's return (NaN pad)
  int64_t* record_elites = nullptr;      // [B, iterations, K] or null: the elites' rows, best first
};

inline void PlanCem(const RolloutModel& model, const PlanShape& s, const Box& box, const CemSettings& c,
                    const CemBuffers& io) {
  const int64_t B = s.num_problems, H = s.horizon, A = s.action_dim, L = s.row(), K = c.num_elites;
  const int64_t max_rows = MaxRows(c);
  std::vector<double> pop(static_cast<size_t>(B * max_rows * L)), ret(static_cast<size_t>(B * max_rows));
  const bool colored = c.noise_beta != 0.0 && H > 1;
  const std::vector<double> color = colored ? ColoredNoiseMatrix(H, c.noise_beta) : std::vector<double>{};
  for (int64_t b = 0; b < B; ++b) {
    std::copy(io.mean + b * L, io.mean + (b + 1) * L, io.best + b * L);
    io.best_return[b] = -std::numeric_limits<double>::infinity();
    io.nan[b] = 0;
  }
  for (int64_t i = 0; i < c.iterations; ++i) {
    const int64_t sampled = SampledAt(c, i);
    const int64_t kept = i == 0 ? (io.prev_elites != nullptr ? c.num_keep : 0) : c.num_keep;
    const bool with_mean = c.add_mean && i == c.iterations - 1;
    const int64_t rows = sampled + kept + (with_mean ? 1 : 0);
    const uint64_t counter = NoiseCounter(i);
    BuildAndEvaluate(model, s, c.gamma, rows, max_rows, pop.data(), ret.data(), [&](int64_t b, int64_t r, double* x) {
      const double* mean = io.mean + b * L;
      if (r >= sampled + kept) {
        std::copy(mean, mean + L, x);
        return;
      }
      if (r >= sampled) {
        const double* src =
            i == 0 ? io.prev_elites + (b * io.num_prev + (r - sampled)) * L : io.elites + (b * K + (r - sampled)) * L;
        std::copy(src, src + L, x);
        return;
      }
      const double* sd = io.std + b * L;
      Normals(c.seed, NoiseStream(c.round, b), counter, static_cast<uint64_t>(r * L), L, x);
      if (colored) {
        thread_local std::vector<double> z;
        z.assign(x, x + L);
        for (int64_t h = 0; h < H; ++h)
          for (int64_t a = 0; a < A; ++a) {
            double sum = 0.0;
            for (int64_t j = 0; j < H; ++j)
              sum += color[static_cast<size_t>(h * H + j)] * z[static_cast<size_t>(j * A + a)];
            x[h * A + a] = sum;
          }
      }
      for (int64_t h = 0; h < H; ++h)  // e = h A + a without a division per element
        for (int64_t a = 0, e = h * A; a < A; ++a, ++e) x[e] = box.Clip(mean[e] + sd[e] * x[e], a);
    });
    ParallelFor(B, 2, [&](int64_t b) {
      const double* p = pop.data() + b * max_rows * L;
      const double* rb = ret.data() + b * max_rows;
      std::vector<int64_t> order;
      if (RankTop(rb, rows, K, order)) io.nan[b] = 1;
      double* el = io.elites + b * K * L;
      for (int64_t k = 0; k < K; ++k) std::copy(p + order[k] * L, p + (order[k] + 1) * L, el + k * L);
      double* mean = io.mean + b * L;
      double* sd = io.std + b * L;
      for (int64_t e = 0; e < L; ++e) {
        double m = 0.0;
        for (int64_t k = 0; k < K; ++k) m += el[k * L + e];
        m /= static_cast<double>(K);
        double v = 0.0;
        for (int64_t k = 0; k < K; ++k) v += (el[k * L + e] - m) * (el[k * L + e] - m);
        v /= static_cast<double>(K);
        mean[e] = c.alpha * mean[e] + (1.0 - c.alpha) * m;
        sd[e] = c.alpha * sd[e] + (1.0 - c.alpha) * std::sqrt(v);
      }
      if (!std::isnan(rb[order[0]])) TrackBest(p + order[0] * L, rb[order[0]], L, io.best + b * L, io.best_return + b);
      if (io.record_returns != nullptr) {
        double* rec = io.record_returns + (b * c.iterations + i) * max_rows;
        for (int64_t r = 0; r < max_rows; ++r) rec[r] = r < rows ? rb[r] : std::numeric_limits<double>::quiet_NaN();
      }
      if (io.record_elites != nullptr)
        for (int64_t k = 0; k < K; ++k) io.record_elites[(b * c.iterations + i) * K + k] = order[k];
    });
  }
}

}  // namespace nextrl::planning
