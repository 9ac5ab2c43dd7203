// PredatorPrey: the course documents' predator-prey gridworld (CA17 E-1) made correct and batched.
// A grid_size x grid_size grid with P predators and M prey; cells may be shared (no collisions).
//   Entities: predators 0..P-1, then prey 0..M-1. Agents: the predators ("predator_k"), followed by the
//   prey ("prey_k") when prey_policy = kLearning; with kRandom the prey are scripted and move uniformly
//   at random (one Rng::Below(5) per uncaptured prey, in prey order, before anything moves).
//   Reset: every entity on a distinct cell, uniform (entity by entity: Below(G * G) until a free cell;
//   cell c is x = c % G, y = c / G).
//   Actions (5): 0 stay, 1 up (y + 1), 2 down, 3 left (x - 1), 4 right. Moves into the border stay in
//   place; the action mask marks them 0 (advisory).
//   Capture: after all moves, an uncaptured prey is captured when at least capture_min_predators
//   predators are within Manhattan distance capture_radius of it. A captured prey leaves the grid.
//   Rewards: every predator gets capture_reward per prey captured this step (a team reward); a captured
//   prey gets -capture_reward. Distance shaping (potential-based, Ng et al. 1999, gamma = 1): a predator
//   gets shaping * (d_before - d_after), d = Manhattan distance to its nearest prey among those uncaptured
//   at the start of the step; a learning prey gets shaping * (d_after - d_before), d = distance to its
//   nearest predator. No reward for merely being close (the documents' 1 / (d + 1) paid for hovering).
//   Termination: a prey agent when captured; every agent when no prey is left. Truncation: max_steps.
//   Observation (every agent, size 2 + 3 (P + M - 1)): [x / G, y / G], then for each other entity in
//   entity order: [(x_e - x) / G, (y_e - y) / G, 1], or [0, 0, 0] for a captured prey. A captured prey
//   agent's observation stays frozen at its capture step. (The documents' always-zero "velocity" entries
//   are gone.)
//   Global state (size 3 (P + M)): [x / G, y / G, alive] of every entity, in entity order.
//   Infos: captures (this step), prey_left.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

enum class PreyPolicy : int { kRandom = 0, kLearning = 1 };

// dx, dy of actions stay, up, down, left, right (PredatorPrey and TargetCollection).
inline constexpr int64_t kMoveDx[5] = {0, 0, 0, -1, 1};
inline constexpr int64_t kMoveDy[5] = {0, 1, -1, 0, 0};
inline constexpr int64_t kNumMoves = 5;

// Mask of the moves of an agent at (x, y) on a G x G grid that do not run into the border.
inline void GridMoveMask(int64_t x, int64_t y, int64_t G, uint8_t* mask) {
  for (int64_t k = 0; k < kNumMoves; ++k) {
    const int64_t nx = x + kMoveDx[k], ny = y + kMoveDy[k];
    mask[k] = (k == 0 || (nx >= 0 && ny >= 0 && nx < G && ny < G)) ? 1 : 0;
  }
}

inline int64_t ClampCoord(int64_t v, int64_t G) { return v < 0 ? 0 : (v >= G ? G - 1 : v); }

struct PredatorPrey {
  static constexpr int64_t kMaxEntities = 64;
  struct Config {
    int64_t num_predators = 2, num_prey = 1, grid_size = 10, max_steps = 100;
    PreyPolicy prey_policy = PreyPolicy::kRandom;
    int64_t capture_radius = 0, capture_min_predators = 1;
    float capture_reward = 10.0f, shaping = 0.0f;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 2> kInfoNames{"captures", "prey_left"};

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_predators >= 1 && c.num_prey >= 1 && c.num_predators + c.num_prey <= kMaxEntities,
                 std::invalid_argument, "PredatorPrey: num_predators and num_prey must be >= 1 with at most ",
                 kMaxEntities, " in all, got ", c.num_predators, " and ", c.num_prey);
    NEXTRL_CHECK(c.grid_size >= 2 && c.grid_size <= 4096, std::invalid_argument,
                 "PredatorPrey: grid_size must be in [2, 4096], got ", c.grid_size);
    NEXTRL_CHECK(c.num_predators + c.num_prey <= c.grid_size * c.grid_size, std::invalid_argument,
                 "PredatorPrey: ", c.num_predators + c.num_prey, " entities do not fit on distinct cells of a ",
                 c.grid_size, " x ", c.grid_size, " grid");
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "PredatorPrey: max_steps must be >= 0, got ", c.max_steps);
    NEXTRL_CHECK(c.capture_radius >= 0, std::invalid_argument, "PredatorPrey: capture_radius must be >= 0, got ",
                 c.capture_radius);
    NEXTRL_CHECK(c.capture_min_predators >= 1 && c.capture_min_predators <= c.num_predators, std::invalid_argument,
                 "PredatorPrey: capture_min_predators must be in [1, num_predators = ", c.num_predators, "], got ",
                 c.capture_min_predators);
    NEXTRL_CHECK(std::isfinite(c.capture_reward) && std::isfinite(c.shaping), std::invalid_argument,
                 "PredatorPrey: capture_reward and shaping must be finite");
  }
  static int64_t NumEntities(const Config& c) { return c.num_predators + c.num_prey; }
  static int64_t ObsSize(const Config& c) { return 2 + 3 * (NumEntities(c) - 1); }
  static std::vector<AgentGroup> Groups(const Config& c) {
    std::vector<AgentGroup> g{{"predator", c.num_predators, ObsSize(c)}};
    if (c.prey_policy == PreyPolicy::kLearning) g.push_back({"prey", c.num_prey, ObsSize(c)});
    return g;
  }
  static int64_t StateSize(const Config& c) { return 3 * NumEntities(c); }
  static int64_t ActionSize(const Config&) { return 1; }
  static int64_t NumActions(const Config&) { return kNumMoves; }
  static const char* CheckAction(const Config&, int64_t, const Action* a) {
    return (*a >= 0 && *a < kNumMoves) ? nullptr : "must be in [0, 5) (stay, up, down, left, right)";
  }

  explicit PredatorPrey(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  // State (envs/env_state.h): cells of predators then prey, which prey are alive, how many.
  template <class F>
  void VisitState(F&& f) {
    const int64_t e = cfg_->num_predators + cfg_->num_prey;
    f(x_, e), f(y_, e), f(alive_, e), f(prey_left_);
  }
  const char* CheckState() const {
    const int64_t e = cfg_->num_predators + cfg_->num_prey, g = cfg_->grid_size;
    for (int64_t k = 0; k < e; ++k)
      if (x_[k] < 0 || y_[k] < 0 || x_[k] >= g || y_[k] >= g) return "has a cell outside the grid";
    return prey_left_ >= 0 && prey_left_ <= cfg_->num_prey ? nullptr : "has a prey count outside [0, num_prey]";
  }

  void Reset(Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t E = NumEntities(c), G = c.grid_size;
    for (int64_t e = 0; e < E; ++e) {
      bool taken;
      do {
        const int64_t cell = rng.Below(G * G);
        x_[e] = cell % G, y_[e] = cell / G;
        taken = false;
        for (int64_t f = 0; f < e; ++f) taken = taken || (x_[f] == x_[e] && y_[f] == y_[e]);
      } while (taken);
      alive_[e] = 1;
    }
    prey_left_ = c.num_prey;
    s.info[0] = 0.0;
    Observe(s);
  }

  void Step(const Action* a, Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t P = c.num_predators, E = NumEntities(c), G = c.grid_size;
    const bool learning = c.prey_policy == PreyPolicy::kLearning;
    int64_t move[kMaxEntities];
    for (int64_t e = P; e < E; ++e)  // scripted prey draw first, in prey order
      move[e] = alive_[e] ? (learning ? a[e] : rng.Below(kNumMoves)) : 0;
    for (int64_t p = 0; p < P; ++p) move[p] = a[p];
    int64_t d_before[kMaxEntities];
    for (int64_t e = 0; e < E; ++e) d_before[e] = NearestOpponent(e);
    for (int64_t e = 0; e < E; ++e) {
      if (!alive_[e]) continue;
      x_[e] = ClampCoord(x_[e] + kMoveDx[move[e]], G);
      y_[e] = ClampCoord(y_[e] + kMoveDy[move[e]], G);
    }
    const int64_t num_agents = learning ? E : P;
    for (int64_t k = 0; k < num_agents; ++k) s.rewards[k] = 0.0f, s.terminated[k] = 0;
    // Shaping over the prey set of the start of the step (captures below do not change it).
    for (int64_t e = 0; e < num_agents; ++e) {
      if (!alive_[e] || c.shaping == 0.0f) continue;
      const double diff = static_cast<double>(d_before[e] - NearestOpponent(e));
      s.rewards[e] += static_cast<float>(e < P ? c.shaping * diff : -c.shaping * diff);
    }
    int64_t captures = 0;
    for (int64_t q = P; q < E; ++q) {
      if (!alive_[q]) continue;
      int64_t near = 0;
      for (int64_t p = 0; p < P; ++p)
        near += (std::llabs(x_[p] - x_[q]) + std::llabs(y_[p] - y_[q]) <= c.capture_radius) ? 1 : 0;
      if (near < c.capture_min_predators) continue;
      alive_[q] = 0;
      captures += 1;
      if (learning) s.rewards[q] -= c.capture_reward, s.terminated[q] = 1;
    }
    prey_left_ -= captures;
    for (int64_t p = 0; p < P; ++p) s.rewards[p] += static_cast<float>(captures) * c.capture_reward;
    if (prey_left_ == 0)
      for (int64_t k = 0; k < num_agents; ++k) s.terminated[k] = 1;
    s.info[0] = static_cast<double>(captures);
    Observe(s);
  }

  int64_t x(int64_t e) const { return x_[e]; }
  int64_t y(int64_t e) const { return y_[e]; }

 private:
  // Manhattan distance from entity e to the nearest alive entity of the other kind (0 if none).
  int64_t NearestOpponent(int64_t e) const {
    const int64_t P = cfg_->num_predators, E = NumEntities(*cfg_);
    const bool pred = e < P;
    int64_t best = -1;
    for (int64_t f = pred ? P : 0; f < (pred ? E : P); ++f) {
      if (!alive_[f]) continue;
      const int64_t d = std::llabs(x_[f] - x_[e]) + std::llabs(y_[f] - y_[e]);
      if (best < 0 || d < best) best = d;
    }
    return best < 0 ? 0 : best;
  }

  void Observe(const MarlSlot<Obs>& s) const {
    const Config& c = *cfg_;
    const int64_t E = NumEntities(c), G = c.grid_size, size = ObsSize(c);
    const bool learning = c.prey_policy == PreyPolicy::kLearning;
    const float inv = 1.0f / static_cast<float>(G);
    for (int64_t e = 0; e < E; ++e) {
      s.state[3 * e] = alive_[e] ? static_cast<float>(x_[e]) * inv : 0.0f;
      s.state[3 * e + 1] = alive_[e] ? static_cast<float>(y_[e]) * inv : 0.0f;
      s.state[3 * e + 2] = alive_[e] ? 1.0f : 0.0f;
    }
    const int64_t num_agents = learning ? E : c.num_predators;
    for (int64_t k = 0; k < num_agents; ++k) {
      if (!alive_[k]) continue;  // a captured prey agent keeps its last observation and mask
      float* o = s.obs + k * size;
      o[0] = static_cast<float>(x_[k]) * inv;
      o[1] = static_cast<float>(y_[k]) * inv;
      int64_t j = 2;
      for (int64_t e = 0; e < E; ++e) {
        if (e == k) continue;
        o[j] = alive_[e] ? static_cast<float>(x_[e] - x_[k]) * inv : 0.0f;
        o[j + 1] = alive_[e] ? static_cast<float>(y_[e] - y_[k]) * inv : 0.0f;
        o[j + 2] = alive_[e] ? 1.0f : 0.0f;
        j += 3;
      }
      GridMoveMask(x_[k], y_[k], G, s.action_mask + k * kNumMoves);
    }
    s.info[1] = static_cast<double>(prey_left_);
  }

  const Config* cfg_;
  int64_t x_[kMaxEntities] = {}, y_[kMaxEntities] = {};
  uint8_t alive_[kMaxEntities] = {};
  int64_t prey_left_ = 0;
};

}  // namespace nextrl::marl
