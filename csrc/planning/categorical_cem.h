// Categorical CEM: the cross-entropy method over discrete action sequences, one call for a plan of B problems
// (Rubinstein & Kroese 2004, ch. 4, the discrete CEM; as in CEM planners for discrete actions).
//
// Per problem, independent categorical distributions p[h, k] over the num_actions actions of each horizon step h
// (one action element per step: discrete envs). Iteration i:
//   1. N candidates: the action of candidate r at step h is the smallest k with u < c_k, c_k = p[h, 0] + ... +
//      p[h, k] summed in order in float64 (k = n - 1 when u is at or above c_{n-2}), u the uniform double
//      UnitFromWords(Philox(seed, NoiseStream(round, b), (i << 32) + r H + h)) in [0, 1); a candidate's elements
//      are the actions as float64 values k (ExactModel's discrete relaxation maps k to action k);
//   2. returns from the rollout model (discounted by gamma, zero after a termination);
//   3. elites: the K best (ties: the earlier row; NaN ranks last and is reported);
//   4. p[h, k] <- alpha p[h, k] + (1 - alpha) f[h, k], f the frequency of action k at step h among the elites.
// The plan is the most probable action of each step (the lowest k among ties) of the final p; the best candidate
// of all iterations is also kept. Preconditions (checked in bindings/planning.cpp): p finite, >= 0, each row summing
// to 1 within 1e-6; 1 <= K <= N; 0 <= alpha <= 1; the model's action_dim is 1.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "common/rng.h"
#include "planning/noise.h"
#include "planning/population.h"
#include "planning/rollout_model.h"

namespace nextrl::planning {

struct CategoricalCemSettings {
  int64_t population = 500, num_elites = 50, iterations = 5, num_actions = 2;
  double alpha = 0.1, gamma = 1.0;
  uint64_t seed = 0, round = 0;
};

struct CategoricalCemBuffers {
  double* probs;                     // [B, H, n] in: the initial p; out: the final p
  double* best;                      // [B, H] out: the best candidate seen (the initial mode if none ranks)
  double* best_return;               // [B] out
  double* elites;                    // [B, K, H] out: the last iteration's elites, best first
  uint8_t* nan;                      // [B] out
  double* record_returns = nullptr;  // [B, iterations, N] or null
  int64_t* record_elites = nullptr;  // [B, iterations, K] or null
};

// The action of uniform u under the categorical row p[0, n).
inline int64_t SampleCategorical(const double* p, int64_t n, double u) {
  double c = 0.0;
  for (int64_t k = 0; k < n - 1; ++k) {
    c += p[k];
    if (u < c) return k;
  }
  return n - 1;
}

inline int64_t ModeOf(const double* p, int64_t n) {
  int64_t arg = 0;
  for (int64_t k = 1; k < n; ++k)
    if (p[k] > p[arg]) arg = k;
  return arg;
}

inline void PlanCategoricalCem(const RolloutModel& model, const PlanShape& s, const CategoricalCemSettings& c,
                               const CategoricalCemBuffers& io) {
  const int64_t B = s.num_problems, H = s.horizon, n = c.num_actions, N = c.population, K = c.num_elites;
  std::vector<double> pop(static_cast<size_t>(B * N * H)), ret(static_cast<size_t>(B * N));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) io.best[b * H + h] = static_cast<double>(ModeOf(io.probs + (b * H + h) * n, n));
    io.best_return[b] = -std::numeric_limits<double>::infinity();
    io.nan[b] = 0;
  }
  for (int64_t i = 0; i < c.iterations; ++i) {
    BuildAndEvaluate(model, s, c.gamma, N, N, pop.data(), ret.data(), [&](int64_t b, int64_t r, double* x) {
      const uint64_t stream = NoiseStream(c.round, b);
      for (int64_t h = 0; h < H; ++h) {
        const uint64_t counter = (static_cast<uint64_t>(i) << 32) + static_cast<uint64_t>(r * H + h);
        const double u = UniformDouble(c.seed, stream, counter);
        x[h] = static_cast<double>(SampleCategorical(io.probs + (b * H + h) * n, n, u));
      }
    });
    ParallelFor(B, 2, [&](int64_t b) {
      const double* p = pop.data() + b * N * H;
      const double* rb = ret.data() + b * N;
      std::vector<int64_t> order;
      if (RankTop(rb, N, K, order)) io.nan[b] = 1;
      double* el = io.elites + b * K * H;
      for (int64_t k = 0; k < K; ++k) std::copy(p + order[k] * H, p + (order[k] + 1) * H, el + k * H);
      std::vector<double> freq(static_cast<size_t>(n));
      for (int64_t h = 0; h < H; ++h) {
        std::fill(freq.begin(), freq.end(), 0.0);
        for (int64_t k = 0; k < K; ++k) freq[static_cast<size_t>(el[k * H + h])] += 1.0;
        double* ph = io.probs + (b * H + h) * n;
        for (int64_t a = 0; a < n; ++a)
          ph[a] = c.alpha * ph[a] + (1.0 - c.alpha) * (freq[static_cast<size_t>(a)] / static_cast<double>(K));
      }
      if (!std::isnan(rb[order[0]])) TrackBest(p + order[0] * H, rb[order[0]], H, io.best + b * H, io.best_return + b);
      if (io.record_returns != nullptr) std::copy(rb, rb + N, io.record_returns + (b * c.iterations + i) * N);
      if (io.record_elites != nullptr)
        for (int64_t k = 0; k < K; ++k) io.record_elites[(b * c.iterations + i) * K + k] = order[k];
    });
  }
}

}  // namespace nextrl::planning
