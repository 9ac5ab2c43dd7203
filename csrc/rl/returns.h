// Return scans over rollouts: GAE, n-step returns, discounted returns, V-trace.
//
// One argument order for every scan: policy-free sizes (T, N), the inputs, the scalars, the outputs.
//   Every array is [T, N] row-major (time first, env second), C-contiguous:
//     rewards[t, n]        reward of the transition taken at step t by env n
//     values[t, n]         V(s_t), the value of the observation the action at step t was taken from
//     next_values[t, n]    V(s'_t), the value of the observation returned by step t (the true final
//                          observation when the episode ended at t; with next-step autoreset this is
//                          values[t + 1, n] for t < T - 1); used to bootstrap on truncation and at t = T - 1
//     terminations[t, n]   1 if the episode reached a terminal state at step t (no bootstrap), else 0
//     truncations[t, n]    1 if the episode was cut at step t (time limit: bootstrap from next_values)
//   An episode boundary (termination or truncation) stops every scan: nothing after step t leaks into
//   step t. Flags are uint8 0/1.
// Preconditions (checked in bindings/rl.cpp, not here): shapes agree, T >= 1, N >= 1, 0 <= gamma <= 1,
// 0 <= lambda <= 1, n_steps >= 1, clip thresholds > 0. Columns are independent and scanned in parallel.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/parallel.h"

namespace nextrl::rl {

// Columns per thread below which a scan stays serial.
inline constexpr int64_t kMinParallelColumns = 64;

// Generalized advantage estimation, Schulman et al. 2016 (arXiv:1506.02438) eq. 16, per env column:
//   delta_t = r_t + gamma (1 - term_t) V(s'_t) - V(s_t)
//   A_t     = delta_t + gamma lambda (1 - term_t)(1 - trunc_t) A_{t+1},   A_T = 0
// advantages: [T, N] output.
template <typename Real>
void Gae(int64_t T, int64_t N, const Real* rewards, const Real* values, const Real* next_values,
         const uint8_t* terminations, const uint8_t* truncations, Real gamma, Real lambda, Real* advantages) {
  ParallelFor(N, kMinParallelColumns, [=](int64_t n) {
    Real acc = 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t i = t * N + n;
      const Real not_term = terminations[i] ? Real(0) : Real(1);
      const Real cont = (terminations[i] || truncations[i]) ? Real(0) : Real(1);
      const Real delta = rewards[i] + gamma * not_term * next_values[i] - values[i];
      acc = delta + gamma * lambda * cont * acc;
      advantages[i] = acc;
    }
  });
}

// Discounted returns, per env column:
//   G_t = r_t + gamma (1 - term_t) [ trunc_t V(s'_t) + (1 - trunc_t) G_{t+1} ],   G_T = V(s'_{T-1})
// i.e. Monte Carlo returns inside the rollout, bootstrapped from next_values where an episode is
// truncated and at the rollout's end. next_values may be nullptr: no bootstrap (taken as 0).
// returns: [T, N] output.
template <typename Real>
void DiscountedReturns(int64_t T, int64_t N, const Real* rewards, const Real* next_values, const uint8_t* terminations,
                       const uint8_t* truncations, Real gamma, Real* returns) {
  ParallelFor(N, kMinParallelColumns, [=](int64_t n) {
    Real next = 0;  // G_{t+1}
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t i = t * N + n;
      const Real bootstrap = next_values ? next_values[i] : Real(0);
      Real tail;
      if (terminations[i]) {
        tail = 0;
      } else if (truncations[i] || t == T - 1) {
        tail = bootstrap;
      } else {
        tail = next;
      }
      next = rewards[i] + gamma * tail;
      returns[i] = next;
    }
  });
}

// n-step returns, per env column: with m = min(n_steps, steps to the end of the episode or rollout),
//   G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m (1 - term_{t+m-1}) V(s'_{t+m-1})
// where the episode's last step counts as its end (so a truncated tail bootstraps from its final
// observation's value and a terminated one does not). returns: [T, N] output.
template <typename Real>
void NStepReturns(int64_t T, int64_t N, const Real* rewards, const Real* next_values, const uint8_t* terminations,
                  const uint8_t* truncations, Real gamma, int64_t n_steps, Real* returns) {
  ParallelFor(N, kMinParallelColumns, [=](int64_t n) {
    // Forward window per start step; O(T n_steps), fine for the n_steps (<= ~20) used in practice.
    for (int64_t t = 0; t < T; ++t) {
      Real g = 0, discount = 1;
      for (int64_t k = 0; k < n_steps; ++k) {
        const int64_t s = t + k;
        const int64_t i = s * N + n;
        g += discount * rewards[i];
        discount *= gamma;
        const bool episode_end = terminations[i] || truncations[i];
        if (episode_end || k == n_steps - 1 || s == T - 1) {
          if (!terminations[i]) g += discount * next_values[i];
          break;
        }
      }
      returns[t * N + n] = g;
    }
  });
}

// V-trace targets, Espeholt et al. 2018 (arXiv:1802.01561) eq. 1 and the policy-gradient advantage of
// section 4.2, per env column. log_rhos[t, n] = log pi(a_t | s_t) - log mu(a_t | s_t).
//   rho_t = min(rho_bar, exp(log_rho_t)),  c_t = min(c_bar, exp(log_rho_t))
//   delta_t = rho_t (r_t + gamma (1 - term_t) V(s'_t) - V(s_t))
//   vs_t - V(s_t) = delta_t + gamma c_t (1 - term_t)(1 - trunc_t) (vs_{t+1} - V(s_{t+1}))
//   pg_adv_t = min(pg_rho_bar, exp(log_rho_t)) (r_t + gamma (1 - term_t) next_vs_t - V(s_t))
// where next_vs_t = V(s'_t) + [not done at t and t < T - 1] (vs_{t+1} - V(s_{t+1})): the V-trace target
// of the next state, or the plain bootstrap value at a truncation and at the rollout's end.
// vs, pg_advantages: [T, N] outputs.
template <typename Real>
void VTrace(int64_t T, int64_t N, const Real* rewards, const Real* values, const Real* next_values,
            const uint8_t* terminations, const uint8_t* truncations, const Real* log_rhos, Real gamma, Real rho_bar,
            Real c_bar, Real pg_rho_bar, Real* vs, Real* pg_advantages) {
  ParallelFor(N, kMinParallelColumns, [=](int64_t n) {
    Real acc = 0;  // vs_{t+1} - V(s_{t+1}); 0 past the rollout's end
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t i = t * N + n;
      const Real ratio = std::exp(log_rhos[i]);
      const Real rho = std::min(rho_bar, ratio), c = std::min(c_bar, ratio), pg_rho = std::min(pg_rho_bar, ratio);
      const Real not_term = terminations[i] ? Real(0) : Real(1);
      const Real cont = (terminations[i] || truncations[i]) ? Real(0) : Real(1);
      const Real next_vs = next_values[i] + cont * acc;
      const Real delta = rho * (rewards[i] + gamma * not_term * next_values[i] - values[i]);
      pg_advantages[i] = pg_rho * (rewards[i] + gamma * not_term * next_vs - values[i]);
      acc = delta + gamma * c * cont * acc;
      vs[i] = values[i] + acc;
    }
  });
}

}  // namespace nextrl::rl
