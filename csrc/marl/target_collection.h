// TargetCollection: the course documents' multi-agent target-collection gridworld (CA14 §3.3) with
// consistent collisions and a true observation size.
//   A grid_size x grid_size grid, N agents ("agent_k") and T targets. Reset: agents, then targets, on
//   distinct cells, uniform (one by one: Below(G * G) until a free cell; cell c is x = c % G, y = c / G).
//   Actions (5): 0 stay, 1 up (y + 1), 2 down, 3 left (x - 1), 4 right; a move into the border stays
//   (masked 0 in the advisory action mask).
//   Collision rule, iterated to a fixed point: a moving agent's move is cancelled (it stays) when
//     (a) another agent's destination is the same cell,
//     (b) it would swap cells with another agent, or
//     (c) its destination is the cell of an agent that stays.
//   Cancelled moves turn into stays, which can cancel further moves; every pass cancels at least one,
//   so at most N passes. Afterwards no two agents share a cell. Every agent whose move was cancelled
//   gets collision_penalty (a move into the border is not a collision).
//   Rewards: target_reward to an agent that ends on an uncollected target (which is then collected);
//   team_bonus * (targets collected this step) / N to every agent; -step_penalty to every agent.
//   Termination: every agent when all targets are collected. Truncation: max_steps.
//   Observation (size 2 + 2 (N - 1) + 3 T, what the documents meant to declare): [x / G, y / G], the
//   other agents' [(x_j - x) / G, (y_j - y) / G] in agent order, then every target's
//   [(x_t - x) / G, (y_t - y) / G, 1], or [0, 0, 0] once collected.
//   Global state (size 2 N + 3 T): [x / G, y / G] of every agent, then [x / G, y / G, uncollected] of
//   every target.
//   Infos: targets_collected (cumulative), collisions (agents whose move was cancelled this step).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/predator_prey.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

// Applies the collision rule above to N agents at (x, y) with wanted cells (dx, dy): on return (dx, dy)
// hold the cells they end on and cancelled[k] = 1 for every agent whose move was cancelled.
inline void ResolveGridMoves(int64_t N, const int64_t* x, const int64_t* y, int64_t* dx, int64_t* dy,
                             uint8_t* cancelled) {
  for (int64_t k = 0; k < N; ++k) cancelled[k] = 0;
  for (;;) {
    bool changed = false;
    uint8_t cancel[64] = {};
    for (int64_t i = 0; i < N; ++i) {
      if (dx[i] == x[i] && dy[i] == y[i]) continue;  // staying
      for (int64_t j = 0; j < N && !cancel[i]; ++j) {
        if (j == i) continue;
        const bool same_dest = dx[j] == dx[i] && dy[j] == dy[i];
        const bool swap = dx[j] == x[i] && dy[j] == y[i] && x[j] == dx[i] && y[j] == dy[i];
        cancel[i] = same_dest || swap;  // same_dest covers (c): a staying j has destination = its cell
      }
    }
    for (int64_t i = 0; i < N; ++i) {
      if (!cancel[i]) continue;
      dx[i] = x[i], dy[i] = y[i], cancelled[i] = 1;
      changed = true;
    }
    if (!changed) return;
  }
}

struct TargetCollection {
  static constexpr int64_t kMaxAgents = 64, kMaxTargets = 256;
  struct Config {
    int64_t grid_size = 8, num_agents = 4, num_targets = 3, max_steps = 100;
    float target_reward = 10.0f, team_bonus = 2.0f, step_penalty = 0.1f, collision_penalty = 0.5f;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 2> kInfoNames{"targets_collected", "collisions"};

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_agents >= 1 && c.num_agents <= kMaxAgents, std::invalid_argument,
                 "TargetCollection: num_agents must be in [1, ", kMaxAgents, "], got ", c.num_agents);
    NEXTRL_CHECK(c.num_targets >= 1 && c.num_targets <= kMaxTargets, std::invalid_argument,
                 "TargetCollection: num_targets must be in [1, ", kMaxTargets, "], got ", c.num_targets);
    NEXTRL_CHECK(c.grid_size >= 2 && c.grid_size <= 4096, std::invalid_argument,
                 "TargetCollection: grid_size must be in [2, 4096], got ", c.grid_size);
    NEXTRL_CHECK(c.num_agents + c.num_targets <= c.grid_size * c.grid_size, std::invalid_argument,
                 "TargetCollection: ", c.num_agents, " agents and ", c.num_targets,
                 " targets do not fit on distinct cells of a ", c.grid_size, " x ", c.grid_size, " grid");
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "TargetCollection: max_steps must be >= 0, got ",
                 c.max_steps);
    NEXTRL_CHECK(std::isfinite(c.target_reward) && std::isfinite(c.team_bonus) && std::isfinite(c.step_penalty) &&
                     std::isfinite(c.collision_penalty),
                 std::invalid_argument, "TargetCollection: rewards must be finite");
  }
  static int64_t ObsSize(const Config& c) { return 2 + 2 * (c.num_agents - 1) + 3 * c.num_targets; }
  static std::vector<AgentGroup> Groups(const Config& c) { return {{"agent", c.num_agents, ObsSize(c)}}; }
  static int64_t StateSize(const Config& c) { return 2 * c.num_agents + 3 * c.num_targets; }
  static int64_t ActionSize(const Config&) { return 1; }
  static int64_t NumActions(const Config&) { return kNumMoves; }
  static const char* CheckAction(const Config&, int64_t, const Action* a) {
    return (*a >= 0 && *a < kNumMoves) ? nullptr : "must be in [0, 5) (stay, up, down, left, right)";
  }

  explicit TargetCollection(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  // State (envs/env_state.h): agents' and targets' cells, which targets remain, how many were collected.
  template <class F>
  void VisitState(F&& f) {
    const int64_t n = cfg_->num_agents, t = cfg_->num_targets;
    f(x_, n), f(y_, n), f(tx_, t), f(ty_, t), f(present_, t), f(collected_);
  }
  const char* CheckState() const {
    const int64_t g = cfg_->grid_size;
    for (int64_t k = 0; k < cfg_->num_agents; ++k)
      if (x_[k] < 0 || y_[k] < 0 || x_[k] >= g || y_[k] >= g) return "has a cell outside the grid";
    for (int64_t k = 0; k < cfg_->num_targets; ++k)
      if (tx_[k] < 0 || ty_[k] < 0 || tx_[k] >= g || ty_[k] >= g) return "has a cell outside the grid";
    return collected_ >= 0 && collected_ <= cfg_->num_targets ? nullptr : "has a count outside [0, num_targets]";
  }

  void Reset(Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t N = c.num_agents, T = c.num_targets, G = c.grid_size;
    for (int64_t e = 0; e < N + T; ++e) {
      int64_t ex, ey;
      bool taken;
      do {
        const int64_t cell = rng.Below(G * G);
        ex = cell % G, ey = cell / G;
        taken = false;
        for (int64_t f = 0; f < e && !taken; ++f)
          taken = f < N ? (x_[f] == ex && y_[f] == ey) : (tx_[f - N] == ex && ty_[f - N] == ey);
      } while (taken);
      if (e < N) {
        x_[e] = ex, y_[e] = ey;
      } else {
        tx_[e - N] = ex, ty_[e - N] = ey, present_[e - N] = 1;
      }
    }
    collected_ = 0;
    s.info[1] = 0.0;
    Observe(s);
  }

  void Step(const Action* a, Rng&, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t N = c.num_agents, T = c.num_targets, G = c.grid_size;
    int64_t dx[kMaxAgents], dy[kMaxAgents];
    uint8_t cancelled[kMaxAgents];
    for (int64_t k = 0; k < N; ++k) {
      dx[k] = ClampCoord(x_[k] + kMoveDx[a[k]], G);
      dy[k] = ClampCoord(y_[k] + kMoveDy[a[k]], G);
    }
    ResolveGridMoves(N, x_, y_, dx, dy, cancelled);
    int64_t collisions = 0, newly = 0;
    for (int64_t k = 0; k < N; ++k) {
      x_[k] = dx[k], y_[k] = dy[k];
      s.rewards[k] = -c.step_penalty;
      if (cancelled[k]) s.rewards[k] -= c.collision_penalty, collisions += 1;
      for (int64_t t = 0; t < T; ++t) {
        if (present_[t] && tx_[t] == x_[k] && ty_[t] == y_[k]) {
          present_[t] = 0;
          s.rewards[k] += c.target_reward;
          newly += 1;
        }
      }
    }
    collected_ += newly;
    const float bonus = c.team_bonus * static_cast<float>(newly) / static_cast<float>(N);
    const uint8_t done = collected_ == T;
    for (int64_t k = 0; k < N; ++k) s.rewards[k] += bonus, s.terminated[k] = done;
    s.info[1] = static_cast<double>(collisions);
    Observe(s);
  }

 private:
  void Observe(const MarlSlot<Obs>& s) const {
    const Config& c = *cfg_;
    const int64_t N = c.num_agents, T = c.num_targets, G = c.grid_size, size = ObsSize(c);
    const float inv = 1.0f / static_cast<float>(G);
    for (int64_t k = 0; k < N; ++k) {
      float* o = s.obs + k * size;
      o[0] = static_cast<float>(x_[k]) * inv;
      o[1] = static_cast<float>(y_[k]) * inv;
      int64_t j = 2;
      for (int64_t m = 0; m < N; ++m) {
        if (m == k) continue;
        o[j++] = static_cast<float>(x_[m] - x_[k]) * inv;
        o[j++] = static_cast<float>(y_[m] - y_[k]) * inv;
      }
      for (int64_t t = 0; t < T; ++t) {
        o[j++] = present_[t] ? static_cast<float>(tx_[t] - x_[k]) * inv : 0.0f;
        o[j++] = present_[t] ? static_cast<float>(ty_[t] - y_[k]) * inv : 0.0f;
        o[j++] = present_[t] ? 1.0f : 0.0f;
      }
      GridMoveMask(x_[k], y_[k], G, s.action_mask + k * kNumMoves);
      s.state[2 * k] = o[0];
      s.state[2 * k + 1] = o[1];
    }
    for (int64_t t = 0; t < T; ++t) {
      s.state[2 * N + 3 * t] = static_cast<float>(tx_[t]) * inv;
      s.state[2 * N + 3 * t + 1] = static_cast<float>(ty_[t]) * inv;
      s.state[2 * N + 3 * t + 2] = present_[t] ? 1.0f : 0.0f;
    }
    s.info[0] = static_cast<double>(collected_);
  }

  const Config* cfg_;
  int64_t x_[kMaxAgents] = {}, y_[kMaxAgents] = {};
  int64_t tx_[kMaxTargets] = {}, ty_[kMaxTargets] = {};
  uint8_t present_[kMaxTargets] = {};
  int64_t collected_ = 0;
};

}  // namespace nextrl::marl
