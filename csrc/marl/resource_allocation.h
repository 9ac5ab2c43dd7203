// ResourceAllocation: the course documents' resource-sharing game (CA12 §3.2), batched, with the social
// welfare measures the documents only describe.
//   N agents share R resources of capacities c_r (one episode drains them). Private utilities: at each
//   reset, w_i ~ U(0, 2)^R per agent; agent i observes its own w_i, never the others'.
//   Action [R], clipped to [0, 1]: the fraction of what remains of each resource that the agent requests,
//   x_ir = a_ir * remaining_r. Proportional rationing: where sum_i x_ir > remaining_r, every request for r
//   is scaled by remaining_r / sum_i x_ir. Allocations accumulate; remaining_r -= sum_i x_ir.
//   Reward: r_i = <x_i, w_i> (utility gained this step); U_i = <alloc_i, w_i> is the running utility.
//   Termination: every agent when every remaining_r <= done_threshold. Truncation: max_steps.
//   Observation [4R]: [own allocation / c, remaining / c, total allocated / c, own w / 2].
//   Global state [2 N R + R]: [every allocation / c (N R), remaining / c, every w / 2 (N R)].
//   Infos: utilitarian = sum_i U_i, egalitarian = min_i U_i, nash = (prod_i U_i)^(1/N) (the geometric-
//   mean form of Nash social welfare; 0 when some U_i = 0).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

struct ResourceAllocation {
  static constexpr int64_t kMaxAgents = 64, kMaxResources = 32;
  struct Config {
    int64_t num_agents = 4, num_resources = 3, max_steps = 20;
    std::vector<double> capacities;  // [R]; empty: 10 each
    double done_threshold = 0.1;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 3> kInfoNames{"utilitarian", "egalitarian", "nash"};

  static double Capacity(const Config& c, int64_t r) {
    return c.capacities.empty() ? 10.0 : c.capacities[static_cast<size_t>(r)];
  }
  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_agents >= 1 && c.num_agents <= kMaxAgents, std::invalid_argument,
                 "ResourceAllocation: num_agents must be in [1, ", kMaxAgents, "], got ", c.num_agents);
    NEXTRL_CHECK(c.num_resources >= 1 && c.num_resources <= kMaxResources, std::invalid_argument,
                 "ResourceAllocation: num_resources must be in [1, ", kMaxResources, "], got ", c.num_resources);
    NEXTRL_CHECK(c.capacities.empty() || static_cast<int64_t>(c.capacities.size()) == c.num_resources,
                 std::invalid_argument, "ResourceAllocation: capacities must have num_resources = ", c.num_resources,
                 " entries, got ", c.capacities.size());
    for (double v : c.capacities)
      NEXTRL_CHECK(std::isfinite(v) && v > 0.0, std::invalid_argument,
                   "ResourceAllocation: capacities must be finite and > 0, got ", v);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "ResourceAllocation: max_steps must be >= 0, got ",
                 c.max_steps);
    NEXTRL_CHECK(c.done_threshold >= 0.0, std::invalid_argument,
                 "ResourceAllocation: done_threshold must be >= 0, got ", c.done_threshold);
  }
  static std::vector<AgentGroup> Groups(const Config& c) { return {{"agent", c.num_agents, 4 * c.num_resources}}; }
  static int64_t StateSize(const Config& c) { return 2 * c.num_agents * c.num_resources + c.num_resources; }
  static int64_t ActionSize(const Config& c) { return c.num_resources; }
  static int64_t NumActions(const Config&) { return 0; }
  static const char* CheckAction(const Config& c, int64_t, const Action* a) {
    for (int64_t r = 0; r < c.num_resources; ++r)
      if (!std::isfinite(a[r])) return "must be finite";
    return nullptr;
  }

  explicit ResourceAllocation(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  // State (envs/env_state.h): valuations, allocations (rows of kMaxResources) and what remains.
  template <class F>
  void VisitState(F&& f) {
    f(&w_[0][0], cfg_->num_agents * kMaxResources), f(&alloc_[0][0], cfg_->num_agents * kMaxResources);
    f(remaining_, cfg_->num_resources);
  }

  void Reset(Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    for (int64_t i = 0; i < c.num_agents; ++i)
      for (int64_t r = 0; r < c.num_resources; ++r) w_[i][r] = rng.Uniform(0.0, 2.0), alloc_[i][r] = 0.0;
    for (int64_t r = 0; r < c.num_resources; ++r) remaining_[r] = Capacity(c, r);
    Observe(s);
  }

  void Step(const Action* a, Rng&, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t N = c.num_agents, R = c.num_resources;
    double x[kMaxAgents][kMaxResources];
    for (int64_t r = 0; r < R; ++r) {
      double total = 0.0;
      for (int64_t i = 0; i < N; ++i) {
        const double f = std::clamp(static_cast<double>(a[i * R + r]), 0.0, 1.0);
        x[i][r] = f * remaining_[r];
        total += x[i][r];
      }
      if (total > remaining_[r]) {
        const double scale = remaining_[r] / total;
        total = 0.0;
        for (int64_t i = 0; i < N; ++i) x[i][r] *= scale, total += x[i][r];
      }
      remaining_[r] = std::max(0.0, remaining_[r] - total);
    }
    bool drained = true;
    for (int64_t r = 0; r < R; ++r) drained = drained && remaining_[r] <= c.done_threshold;
    for (int64_t i = 0; i < N; ++i) {
      double gain = 0.0;
      for (int64_t r = 0; r < R; ++r) alloc_[i][r] += x[i][r], gain += x[i][r] * w_[i][r];
      s.rewards[i] = static_cast<float>(gain);
      s.terminated[i] = drained;
    }
    Observe(s);
  }

 private:
  void Observe(const MarlSlot<Obs>& s) const {
    const Config& c = *cfg_;
    const int64_t N = c.num_agents, R = c.num_resources;
    double total[kMaxResources];
    for (int64_t r = 0; r < R; ++r) {
      total[r] = 0.0;
      for (int64_t i = 0; i < N; ++i) total[r] += alloc_[i][r];
    }
    float* st = s.state;
    for (int64_t i = 0; i < N; ++i) {
      float* o = s.obs + i * 4 * R;
      for (int64_t r = 0; r < R; ++r) {
        const double cap = Capacity(c, r);
        o[r] = static_cast<float>(alloc_[i][r] / cap);
        o[R + r] = static_cast<float>(remaining_[r] / cap);
        o[2 * R + r] = static_cast<float>(total[r] / cap);
        o[3 * R + r] = static_cast<float>(w_[i][r] / 2.0);
        st[i * R + r] = o[r];
        st[N * R + R + i * R + r] = o[3 * R + r];
      }
    }
    for (int64_t r = 0; r < R; ++r) st[N * R + r] = static_cast<float>(remaining_[r] / Capacity(c, r));
    double util = 0.0, egal = 0.0, log_sum = 0.0;
    bool zero = false;
    for (int64_t i = 0; i < N; ++i) {
      double u = 0.0;
      for (int64_t r = 0; r < R; ++r) u += alloc_[i][r] * w_[i][r];
      util += u;
      egal = i == 0 ? u : std::min(egal, u);
      if (u <= 0.0)
        zero = true;
      else
        log_sum += std::log(u);
    }
    s.info[0] = util;
    s.info[1] = egal;
    s.info[2] = zero ? 0.0 : std::exp(log_sum / static_cast<double>(N));
  }

  const Config* cfg_;
  double w_[kMaxAgents][kMaxResources] = {}, alloc_[kMaxAgents][kMaxResources] = {};
  double remaining_[kMaxResources] = {};
};

}  // namespace nextrl::marl
