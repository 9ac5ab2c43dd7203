// MPE particle worlds (Lowe et al. 2017, "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive
// Environments"), with the definitions of mpe2 1.1 (Farama): simple_spread_v3 and simple_tag_v3, full
// observability, no curriculum, no terminate_on_success.
//   Physics (mpe2 _mpe_utils/core.py, all in double): dt 0.1, damping 0.25, contact_force 100,
//   contact_margin 1e-3, mass 1. Each step: action force u * sensitivity on every agent; for every pair
//   a < b of colliding entities (agents, then landmarks) the soft contact force
//   F = contact_force * (p_a - p_b) / d * k * log(1 + exp(-(d - (size_a + size_b)) / k)), +F on a and -F on b
//   when movable; then p += v dt, v *= 1 - damping, v += F / m dt, and |v| clamped to max_speed.
//   Discrete actions (5): 0 no-op, 1 u_x = -1, 2 u_x = +1, 3 u_y = -1, 4 u_y = +1. Continuous actions
//   [5] in [0, 1]: u = (a2 - a1, a4 - a3). Sensitivity: 5 unless the agent has an accel.
//   Every agent is truncated after max_cycles steps; nothing terminates.
// simple_spread (N agents "agent_k", N landmarks): agents size 0.15, collide; landmarks do not collide.
//   Reset: agent and landmark positions U(-1, 1)^2 (agents first), velocities 0.
//   Reward: (1 - local_ratio) * global + local_ratio * local, global = -sum over landmarks of the
//   distance to the nearest agent, local = -(number of other agents within size_a + size_b).
//   Observation [4 + 2N + 4(N - 1)]: [v, p, landmark p - p (N), other agent p - p (N - 1), comm 0 (2 (N - 1))].
// simple_tag (A adversaries "adversary_k", then G good agents "agent_k", L obstacles):
//   adversaries size 0.075, accel 3, max_speed 1; good agents size 0.05, accel 4, max_speed 1.3;
//   obstacles size 0.2, collide, fixed. Reset: agents U(-1, 1)^2, obstacles U(-0.9, 0.9)^2.
//   Reward: each adversary +10 per colliding (good, adversary) pair; a good agent -10 per adversary it
//   collides with, minus bound(|x|) + bound(|y|), bound(x) = 0 below 0.9, 10 (x - 0.9) below 1, else
//   min(exp(2x - 2), 10).
//   Observation: [v, p, obstacle p - p (L), other agent p - p, velocities of the other good agents]:
//   adversaries 4 + 2L + 2(A + G - 1) + 2G, good agents 4 + 2L + 2(A + G - 1) + 2(G - 1).
// Global state (mpe2's state()): the concatenation of every agent's (unpadded) observation.
// WorldState writes [entities, 4] = (p_x, p_y, v_x, v_y) in double, agents then landmarks.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

enum class MpeScenario : int { kSpread = 0, kTag = 1 };

struct MpeConfig {
  MpeScenario scenario = MpeScenario::kSpread;
  int64_t num_agents = 3;                                    // simple_spread: N
  int64_t num_good = 1, num_adversaries = 3, num_obstacles = 2;  // simple_tag
  int64_t max_cycles = 25;
  double local_ratio = 0.5;  // simple_spread
};

template <bool kContinuous>
struct Mpe {
  static constexpr int64_t kMaxEntities = 64;
  static constexpr double kDt = 0.1, kDamping = 0.25, kContactForce = 100.0, kMargin = 1e-3;
  using Config = MpeConfig;
  using Obs = float;
  using Action = std::conditional_t<kContinuous, float, int64_t>;
  static constexpr std::array<const char*, 0> kInfoNames{};

  static bool Spread(const Config& c) { return c.scenario == MpeScenario::kSpread; }
  static int64_t NumAgents(const Config& c) { return Spread(c) ? c.num_agents : c.num_good + c.num_adversaries; }
  static int64_t NumLandmarks(const Config& c) { return Spread(c) ? c.num_agents : c.num_obstacles; }

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.scenario == MpeScenario::kSpread || c.scenario == MpeScenario::kTag, std::invalid_argument,
                 "Mpe: unknown scenario");
    if (Spread(c)) {
      NEXTRL_CHECK(c.num_agents >= 1 && 2 * c.num_agents <= kMaxEntities, std::invalid_argument,
                   "simple_spread: N must be in [1, ", kMaxEntities / 2, "], got ", c.num_agents);
      NEXTRL_CHECK(c.local_ratio >= 0.0 && c.local_ratio <= 1.0, std::invalid_argument,
                   "simple_spread: local_ratio must be in [0, 1], got ", c.local_ratio);
    } else {
      NEXTRL_CHECK(c.num_good >= 1 && c.num_adversaries >= 1 && c.num_obstacles >= 0 &&
                       c.num_good + c.num_adversaries + c.num_obstacles <= kMaxEntities,
                   std::invalid_argument, "simple_tag: num_good and num_adversaries must be >= 1, num_obstacles >= 0, ",
                   "at most ", kMaxEntities, " entities in all");
    }
    NEXTRL_CHECK(c.max_cycles >= 1, std::invalid_argument, "Mpe: max_cycles must be >= 1, got ", c.max_cycles);
  }
  static int64_t AgentObsSize(const Config& c, bool adversary) {
    const int64_t n = NumAgents(c), l = NumLandmarks(c);
    if (Spread(c)) return 4 + 2 * l + 4 * (n - 1);
    return 4 + 2 * l + 2 * (n - 1) + 2 * (adversary ? c.num_good : c.num_good - 1);
  }
  static std::vector<AgentGroup> Groups(const Config& c) {
    if (Spread(c)) return {{"agent", c.num_agents, AgentObsSize(c, false)}};
    return {{"adversary", c.num_adversaries, AgentObsSize(c, true)}, {"agent", c.num_good, AgentObsSize(c, false)}};
  }
  static int64_t StateSize(const Config& c) {
    if (Spread(c)) return c.num_agents * AgentObsSize(c, false);
    return c.num_adversaries * AgentObsSize(c, true) + c.num_good * AgentObsSize(c, false);
  }
  static int64_t ActionSize(const Config&) { return kContinuous ? 5 : 1; }
  static int64_t NumActions(const Config&) { return kContinuous ? 0 : 5; }
  static const char* CheckAction(const Config&, int64_t, const Action* a) {
    if constexpr (kContinuous) {
      for (int k = 0; k < 5; ++k)
        if (!(a[k] >= 0.0f && a[k] <= 1.0f)) return "must have 5 entries in [0, 1]";
      return nullptr;
    } else {
      return (*a >= 0 && *a < 5) ? nullptr : "must be in [0, 5) (no-op, -x, +x, -y, +y)";
    }
  }

  explicit Mpe(const Config& c) : cfg_(&c) {
    const int64_t n = NumAgents(c), l = NumLandmarks(c);
    num_entities_ = n + l;
    for (int64_t e = 0; e < num_entities_; ++e) {
      const bool agent = e < n;
      const bool adversary = !Spread(c) && e < c.num_adversaries;
      movable_[e] = agent;
      if (Spread(c)) {
        size_[e] = agent ? 0.15 : 0.05;
        collide_[e] = agent;
        accel_[e] = 5.0;
        max_speed_[e] = -1.0;
      } else {
        size_[e] = agent ? (adversary ? 0.075 : 0.05) : 0.2;
        collide_[e] = true;
        accel_[e] = adversary ? 3.0 : 4.0;
        max_speed_[e] = agent ? (adversary ? 1.0 : 1.3) : -1.0;
      }
    }
  }
  int64_t MaxSteps() const { return cfg_->max_cycles; }
  // State (envs/env_state.h): positions and velocities of the entities (sizes and the rest come from the Config).
  template <class F>
  void VisitState(F&& f) {
    f(px_, num_entities_), f(py_, num_entities_), f(vx_, num_entities_), f(vy_, num_entities_);
  }

  void Reset(Rng& rng, const MarlSlot<Obs>& s) {
    const int64_t n = NumAgents(*cfg_);
    const double lim = Spread(*cfg_) ? 1.0 : 0.9;
    for (int64_t e = 0; e < num_entities_; ++e) {
      const double r = e < n ? 1.0 : lim;
      px_[e] = rng.Uniform(-r, r);
      py_[e] = rng.Uniform(-r, r);
      vx_[e] = vy_[e] = 0.0;
    }
    Observe(s);
  }

  void Step(const Action* a, Rng&, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t n = NumAgents(c), E = num_entities_;
    double fx[kMaxEntities], fy[kMaxEntities];
    bool has_f[kMaxEntities];
    for (int64_t e = 0; e < E; ++e) {
      has_f[e] = e < n;
      fx[e] = fy[e] = 0.0;
      if (e >= n) continue;
      double ux = 0.0, uy = 0.0;
      if constexpr (kContinuous) {
        const float* u = a + 5 * e;
        ux = static_cast<double>(u[2] - u[1]);  // float32 differences, as mpe2 on Box samples
        uy = static_cast<double>(u[4] - u[3]);
      } else {
        const int64_t k = a[e];
        ux = k == 1 ? -1.0 : (k == 2 ? 1.0 : 0.0);
        uy = k == 3 ? -1.0 : (k == 4 ? 1.0 : 0.0);
      }
      fx[e] = ux * accel_[e];
      fy[e] = uy * accel_[e];
    }
    for (int64_t i = 0; i < E; ++i) {
      for (int64_t j = i + 1; j < E; ++j) {
        if (!collide_[i] || !collide_[j]) continue;
        const double dx = px_[i] - px_[j], dy = py_[i] - py_[j];
        const double dist = std::sqrt(dx * dx + dy * dy);
        const double x = -(dist - (size_[i] + size_[j])) / kMargin;
        // Beyond 50 margins apart the force is below 100 * 1e-3 * exp(-50) ~ 2e-23, under one ulp of any
        // nonzero velocity: skipped (mpe2 adds it). Otherwise logaddexp(0, x) as NumPy computes it.
        if (x < -50.0) continue;
        const double pen = (std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)))) * kMargin;
        const double gx = kContactForce * dx / dist * pen, gy = kContactForce * dy / dist * pen;
        if (movable_[i]) fx[i] += gx, fy[i] += gy, has_f[i] = true;
        if (movable_[j]) fx[j] -= gx, fy[j] -= gy, has_f[j] = true;
      }
    }
    for (int64_t e = 0; e < n; ++e) {
      px_[e] += vx_[e] * kDt;
      py_[e] += vy_[e] * kDt;
      vx_[e] *= 1.0 - kDamping;
      vy_[e] *= 1.0 - kDamping;
      if (has_f[e]) vx_[e] += fx[e] * kDt, vy_[e] += fy[e] * kDt;
      if (max_speed_[e] >= 0.0) {
        const double speed = std::sqrt(vx_[e] * vx_[e] + vy_[e] * vy_[e]);
        if (speed > max_speed_[e]) vx_[e] = vx_[e] / speed * max_speed_[e], vy_[e] = vy_[e] / speed * max_speed_[e];
      }
    }
    if (Spread(c)) {
      double global = 0.0;
      for (int64_t l = n; l < E; ++l) {  // sqrt is monotone and correctly rounded: sqrt(min d^2) = min d
        double best = 0.0;
        for (int64_t k = 0; k < n; ++k) {
          const double dx = px_[k] - px_[l], dy = py_[k] - py_[l], d2 = dx * dx + dy * dy;
          if (k == 0 || d2 < best) best = d2;
        }
        global -= std::sqrt(best);
      }
      double local[kMaxEntities];
      for (int64_t k = 0; k < n; ++k) local[k] = 0.0;
      for (int64_t k = 0; k < n; ++k)
        for (int64_t m = k + 1; m < n; ++m)
          if (Collides(k, m)) local[k] -= 1.0, local[m] -= 1.0;
      for (int64_t k = 0; k < n; ++k)
        s.rewards[k] = static_cast<float>(global * (1.0 - c.local_ratio) + local[k] * c.local_ratio);
    } else {
      const int64_t A = c.num_adversaries;
      double caught = 0.0;
      for (int64_t g = A; g < n; ++g)
        for (int64_t v = 0; v < A; ++v) caught += Collides(g, v) ? 10.0 : 0.0;
      for (int64_t v = 0; v < A; ++v) s.rewards[v] = static_cast<float>(caught);
      for (int64_t g = A; g < n; ++g) {
        double r = 0.0;
        for (int64_t v = 0; v < A; ++v) r -= Collides(v, g) ? 10.0 : 0.0;
        r -= Bound(std::abs(px_[g])) + Bound(std::abs(py_[g]));
        s.rewards[g] = static_cast<float>(r);
      }
    }
    for (int64_t k = 0; k < n; ++k) s.terminated[k] = 0;
    Observe(s);
  }

  void WorldState(double* out) const {
    for (int64_t e = 0; e < num_entities_; ++e) {
      out[4 * e] = px_[e], out[4 * e + 1] = py_[e], out[4 * e + 2] = vx_[e], out[4 * e + 3] = vy_[e];
    }
  }
  static int64_t NumEntities(const Config& c) { return NumAgents(c) + NumLandmarks(c); }

 private:
  static double Bound(double x) {
    if (x < 0.9) return 0.0;
    if (x < 1.0) return (x - 0.9) * 10.0;
    return std::min(std::exp(2.0 * x - 2.0), 10.0);
  }
  // mpe2's is_collision, dist < size_i + size_j, compared squared (the two differ only within an ulp).
  bool Collides(int64_t i, int64_t j) const {
    const double dx = px_[i] - px_[j], dy = py_[i] - py_[j], r = size_[i] + size_[j];
    return dx * dx + dy * dy < r * r;
  }

  void Observe(const MarlSlot<Obs>& s) const {
    const Config& c = *cfg_;
    const int64_t n = NumAgents(c), E = num_entities_;
    const int64_t width = std::max(AgentObsSize(c, true), AgentObsSize(c, false));
    float* state = s.state;
    for (int64_t k = 0; k < n; ++k) {
      float* o = s.obs + k * width;
      int64_t j = 0;
      o[j++] = static_cast<float>(vx_[k]);
      o[j++] = static_cast<float>(vy_[k]);
      o[j++] = static_cast<float>(px_[k]);
      o[j++] = static_cast<float>(py_[k]);
      for (int64_t l = n; l < E; ++l) {
        o[j++] = static_cast<float>(px_[l] - px_[k]);
        o[j++] = static_cast<float>(py_[l] - py_[k]);
      }
      for (int64_t m = 0; m < n; ++m) {
        if (m == k) continue;
        o[j++] = static_cast<float>(px_[m] - px_[k]);
        o[j++] = static_cast<float>(py_[m] - py_[k]);
      }
      if (Spread(c)) {
        for (int64_t m = 0; m < 2 * (n - 1); ++m) o[j++] = 0.0f;  // silent agents' comm
      } else {
        for (int64_t m = c.num_adversaries; m < n; ++m) {
          if (m == k) continue;
          o[j++] = static_cast<float>(vx_[m]);
          o[j++] = static_cast<float>(vy_[m]);
        }
      }
      for (int64_t m = j; m < width; ++m) o[m] = 0.0f;
      std::memcpy(state, o, sizeof(float) * static_cast<size_t>(j));
      state += j;
    }
    AllowAll(s.action_mask, n * NumActions(c));
  }

  const Config* cfg_;
  int64_t num_entities_ = 0;
  double px_[kMaxEntities] = {}, py_[kMaxEntities] = {}, vx_[kMaxEntities] = {}, vy_[kMaxEntities] = {};
  double size_[kMaxEntities] = {}, accel_[kMaxEntities] = {}, max_speed_[kMaxEntities] = {};
  bool movable_[kMaxEntities] = {}, collide_[kMaxEntities] = {};
};

}  // namespace nextrl::marl
