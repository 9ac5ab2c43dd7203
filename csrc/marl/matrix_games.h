// Matrix games for multi-agent learning and game-theory code.
//
// MatrixGame: a two-player normal-form game with n actions each, played for `rounds` rounds (1: one-shot).
//   payoffs: [n, n, 2] row-major, payoffs[a0][a1][p] = reward of player p when player 0 plays a0 and
//   player 1 plays a1. Observation (both players, also the global state), size 2n + 1:
//   [1 if first round, one-hot(previous a0) (n), one-hot(previous a1) (n)]. Every agent terminates
//   after the last round. The tables of the named games are in python/nextrl/marl/matrix_games.py.
//
// TwoStepGame: the two-step cooperative game of QMIX (Rashid et al. 2018, ICML, Fig. 3 / Sec. 6.1).
//   State 0: agent 0's action picks the next state (0 -> 2A, 1 -> 2B), agent 1's action is irrelevant,
//   reward 0. State 2A: reward 7 for every joint action. State 2B: payoff [[0, 1], [1, 8]]. Both agents
//   get the shared reward and terminate after step 2. Optimal joint return 8 (via 2B, both play 1).
//   Observation = global state = one-hot of the state (0, 2A, 2B).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

struct MatrixGame {
  struct Config {
    int64_t num_actions = 2;
    std::vector<float> payoffs = {3, 3, 0, 5, 5, 0, 1, 1};  // prisoner's dilemma (Axelrod 1984)
    int64_t rounds = 1;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kNumPlayers = 2;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_actions >= 1 && c.num_actions <= 1024, std::invalid_argument,
                 "MatrixGame: num_actions must be in [1, 1024], got ", c.num_actions);
    const int64_t want = c.num_actions * c.num_actions * kNumPlayers;
    NEXTRL_CHECK(static_cast<int64_t>(c.payoffs.size()) == want, std::invalid_argument,
                 "MatrixGame: payoffs must have num_actions * num_actions * 2 = ", want, " entries, got ",
                 c.payoffs.size());
    for (float v : c.payoffs)
      NEXTRL_CHECK(std::isfinite(v), std::invalid_argument, "MatrixGame: payoffs must be finite");
    NEXTRL_CHECK(c.rounds >= 1, std::invalid_argument, "MatrixGame: rounds must be >= 1, got ", c.rounds);
  }
  static int64_t ObsSize(const Config& c) { return 2 * c.num_actions + 1; }
  static std::vector<AgentGroup> Groups(const Config& c) { return {{"player", kNumPlayers, ObsSize(c)}}; }
  static int64_t StateSize(const Config& c) { return ObsSize(c); }
  static int64_t ActionSize(const Config&) { return 1; }
  static int64_t NumActions(const Config& c) { return c.num_actions; }
  static const char* CheckAction(const Config& c, int64_t, const Action* a) {
    return (*a >= 0 && *a < c.num_actions) ? nullptr : "must be in [0, num_actions)";
  }

  explicit MatrixGame(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return 0; }
  // State (envs/env_state.h): rounds played.
  template <class F>
  void VisitState(F&& f) {
    f(round_);
  }
  const char* CheckState() const { return round_ >= 0 ? nullptr : "has a negative round"; }

  void Reset(Rng&, const MarlSlot<Obs>& s) {
    round_ = 0;
    Observe(s, -1, -1);
  }

  void Step(const Action* a, Rng&, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t n = c.num_actions;
    for (int64_t p = 0; p < kNumPlayers; ++p) s.rewards[p] = c.payoffs[(a[0] * n + a[1]) * kNumPlayers + p];
    round_ += 1;
    const uint8_t done = round_ >= c.rounds;
    s.terminated[0] = s.terminated[1] = done;
    Observe(s, a[0], a[1]);
  }

 private:
  void Observe(const MarlSlot<Obs>& s, int64_t a0, int64_t a1) const {
    const int64_t n = cfg_->num_actions, size = ObsSize(*cfg_);
    float* o = s.state;
    std::memset(o, 0, sizeof(float) * static_cast<size_t>(size));
    o[0] = round_ == 0 ? 1.0f : 0.0f;
    if (a0 >= 0) o[1 + a0] = 1.0f, o[1 + n + a1] = 1.0f;
    for (int64_t p = 0; p < kNumPlayers; ++p)
      std::memcpy(s.obs + p * size, o, sizeof(float) * static_cast<size_t>(size));
    AllowAll(s.action_mask, kNumPlayers * n);
  }

  const Config* cfg_;
  int64_t round_ = 0;
};

struct TwoStepGame {
  struct Config {};
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kStates = 3;  // 0: first step, 1: 2A, 2: 2B
  static constexpr float kPayoff2A[2][2] = {{7, 7}, {7, 7}};
  static constexpr float kPayoff2B[2][2] = {{0, 1}, {1, 8}};

  static void Validate(const Config&) {}
  static std::vector<AgentGroup> Groups(const Config&) { return {{"agent", 2, kStates}}; }
  static int64_t StateSize(const Config&) { return kStates; }
  static int64_t ActionSize(const Config&) { return 1; }
  static int64_t NumActions(const Config&) { return 2; }
  static const char* CheckAction(const Config&, int64_t, const Action* a) {
    return (*a == 0 || *a == 1) ? nullptr : "must be 0 or 1";
  }

  explicit TwoStepGame(const Config&) {}
  int64_t MaxSteps() const { return 0; }
  // State (envs/env_state.h): 0 first stage, 1 / 2 the second stage's games.
  template <class F>
  void VisitState(F&& f) {
    f(state_);
  }
  const char* CheckState() const { return state_ >= 0 && state_ < kStates ? nullptr : "has a stage outside [0, 3)"; }

  void Reset(Rng&, const MarlSlot<Obs>& s) {
    state_ = 0;
    Observe(s);
  }

  void Step(const Action* a, Rng&, const MarlSlot<Obs>& s) {
    float r = 0.0f;
    if (state_ == 0) {
      state_ = a[0] == 0 ? 1 : 2;
      s.terminated[0] = s.terminated[1] = 0;
    } else {
      r = state_ == 1 ? kPayoff2A[a[0]][a[1]] : kPayoff2B[a[0]][a[1]];
      s.terminated[0] = s.terminated[1] = 1;
    }
    s.rewards[0] = s.rewards[1] = r;
    Observe(s);
  }

 private:
  void Observe(const MarlSlot<Obs>& s) const {
    for (int64_t k = 0; k < kStates; ++k) s.state[k] = k == state_ ? 1.0f : 0.0f;
    for (int64_t p = 0; p < 2; ++p) std::memcpy(s.obs + p * kStates, s.state, sizeof(float) * kStates);
    AllowAll(s.action_mask, 4);
  }

  int64_t state_ = 0;
};

}  // namespace nextrl::marl
