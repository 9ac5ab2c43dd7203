// FrozenLake and CliffWalking, step for step as Gymnasium 1.4's toy_text envs (frozen_lake.py,
// cliffwalking.py): the same state encoding (row * ncol + col), action order, rewards, terminations,
// slippery outcome lists and info["prob"]. Only the random numbers differ (Philox, not NumPy).
// Both are tabular: Outcome(c, s, a, k) is the k-th entry of Gymnasium's P[s][a], and Step draws k with
// the entries' probabilities, so the stepped dynamics and the exported model are one function.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

// Index k of the outcomes [(a - 1) % 4, a, (a + 1) % 4] of a slippery move: 0 and 2 with probability
// fail each, 1 with 1 - 2 fail (Gymnasium's categorical_sample over the same list). 32-bit uniforms.
inline int SlipOutcome(Rng& rng, double fail) {
  const double u = static_cast<double>(rng.NextU32()) * 0x1.0p-32;
  return static_cast<int>(u >= fail) + static_cast<int>(u >= 1.0 - fail);  // branch-free: k is random
}

// SlipOutcome with integer thresholds: for a 32-bit x, x * 2^-32 >= t exactly when x >= ceil(t * 2^32)
// (the scaling is exact in double), so SlipThresholds(fail) and SlipOutcome(x, th) draw the same k.
struct SlipThresholds {
  uint64_t lo = 0, hi = 0;
  SlipThresholds() = default;
  explicit SlipThresholds(double fail)
      : lo(static_cast<uint64_t>(std::ceil(fail * 0x1.0p32))),
        hi(static_cast<uint64_t>(std::ceil((1.0 - fail) * 0x1.0p32))) {}
};
inline int SlipOutcome(uint32_t x, SlipThresholds th) {
  return static_cast<int>(x >= th.lo) + static_cast<int>(x >= th.hi);
}

inline int SlipDirection(int a, int k) { return (a + k + 3) % 4; }  // k = 0, 1, 2: a - 1, a, a + 1

// Outcome(c, s, a, k) for every (s, a, k), tabulated once per VecEnv (Prepare) so that a step is a
// lookup: entry (s * 4 + a) * K + k, K = 3 outcomes when slippery, else 1.
struct OutcomeTable {
  int64_t outcomes = 0;
  double fail = 0.0;
  SlipThresholds thresholds;
  std::vector<int64_t> next;
  std::vector<float> reward;
  std::vector<double> p;
  std::vector<uint8_t> terminal;
  struct Entry {  // the same, one entry per (s, a, k) for StepBlock: a step reads one 24-byte entry
    int64_t next;
    double p;
    StepOut out;
  };
  std::vector<Entry> entries;
};

template <class Env>
void PrepareOutcomes(typename Env::Config& c) {
  OutcomeTable t;
  t.outcomes = Env::Slippery(c) ? 3 : 1;
  t.fail = Env::FailRate(c);
  t.thresholds = SlipThresholds(t.fail);
  const int64_t n = Env::NumStates(c) * Env::kNumActions * t.outcomes;
  t.next.resize(static_cast<size_t>(n));
  t.reward.resize(static_cast<size_t>(n));
  t.p.resize(static_cast<size_t>(n));
  t.terminal.resize(static_cast<size_t>(n));
  for (int64_t s = 0; s < Env::NumStates(c); ++s)
    for (int64_t a = 0; a < Env::kNumActions; ++a)
      for (int64_t k = 0; k < t.outcomes; ++k) {
        const size_t i = static_cast<size_t>((s * Env::kNumActions + a) * t.outcomes + k);
        const Transition o = Env::Outcome(c, s, a, static_cast<int>(k));
        t.next[i] = o.next;
        t.reward[i] = static_cast<float>(o.reward);
        t.p[i] = o.p;
        t.terminal[i] = o.terminal;
        t.entries.push_back({o.next, o.p, StepOut{t.reward[i], o.terminal}});
      }
  c.table = std::move(t);
}

// The shared Step of a toy-text env: draw the outcome, move, report its probability in info[0].
template <class Env>
StepOut ToyTextStep(const typename Env::Config& c, int64_t& s, int64_t a, Rng& rng, int64_t* obs, double* info) {
  const OutcomeTable& t = c.table;
  const int k = t.outcomes == 3 ? SlipOutcome(rng, t.fail) : 0;
  const size_t i = static_cast<size_t>((s * Env::kNumActions + a) * t.outcomes + k);
  s = t.next[i];
  obs[0] = s;
  info[0] = t.p[i];
  return {t.reward[i], t.terminal[i] != 0};
}

// The same step over a block of envs (VecEnv's StepBlock hook): one loop, the table in registers, no call
// per env. state(e) is the env's int64_t state.
template <class Env, class State>
void ToyTextStepBlock(const typename Env::Config& c, Env* envs, Rng* rngs, int64_t count, const int64_t* actions,
                      const uint8_t* skip, int64_t* obs, double* info, StepOut* out, State state) {
  const OutcomeTable& t = c.table;
  const OutcomeTable::Entry* __restrict table = t.entries.data();
  auto move = [&](int64_t j, size_t i) {
    const OutcomeTable::Entry& e = table[i];
    state(envs[j]) = e.next;
    obs[j] = e.next;
    info[j] = e.p;
    out[j] = e.out;
  };
  if (t.outcomes == 3) {
    const SlipThresholds th = t.thresholds;
    for (int64_t j = 0; j < count; ++j) {
      if (skip[j]) continue;
      const int k = SlipOutcome(rngs[j].NextU32(), th);
      move(j, static_cast<size_t>((state(envs[j]) * Env::kNumActions + actions[j]) * 3 + k));
    }
  } else {
    for (int64_t j = 0; j < count; ++j)
      if (!skip[j]) move(j, static_cast<size_t>(state(envs[j]) * Env::kNumActions + actions[j]));
  }
}

template <class Env>
void ToyTextTransitions(const typename Env::Config& c, int64_t s, int64_t a, std::vector<Transition>& out) {
  out.clear();
  const int n = Env::NumOutcomes(c, s);
  for (int k = 0; k < n; ++k) out.push_back(Env::Outcome(c, s, a, k));
}

// FrozenLake-v1. Actions: 0 left, 1 down, 2 right, 3 up. Tiles: S start, F frozen, H hole, G goal.
// Reward reward_goal / reward_hole / reward_frozen on entering a G / H / other tile; G and H terminate.
// Slippery: the intended move with probability success_rate, each perpendicular one with
// (1 - success_rate) / 2. The start is uniform over the S tiles.
struct FrozenLake {
  struct Config {
    int64_t nrow = 4, ncol = 4;
    std::string desc = "SFFFFHFHFFFHHFFG";  // nrow * ncol tile letters, row-major, row 0 at the top
    bool is_slippery = true;
    double success_rate = 1.0 / 3.0;
    double reward_goal = 1.0, reward_hole = 0.0, reward_frozen = 0.0;  // Gymnasium's reward_schedule
    int64_t max_steps = 100;
    OutcomeTable table;  // filled by Prepare
    std::vector<int64_t> starts;  // the S tiles, filled by Prepare
  };
  using Obs = int64_t;
  using Action = int64_t;
  static constexpr std::array<const char*, 1> kInfoNames{"prob"};
  static constexpr int64_t kNumActions = 4;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.nrow >= 1 && c.ncol >= 1 && c.nrow <= 4096 && c.ncol <= 4096, std::invalid_argument,
                 "FrozenLake: the map must have 1 to 4096 rows and columns, got ", c.nrow, " x ", c.ncol);
    NEXTRL_CHECK(static_cast<int64_t>(c.desc.size()) == c.nrow * c.ncol, std::invalid_argument,
                 "FrozenLake: desc must have nrow * ncol = ", c.nrow * c.ncol, " letters, got ", c.desc.size());
    int64_t starts = 0;
    for (char ch : c.desc) {
      NEXTRL_CHECK(ch == 'S' || ch == 'F' || ch == 'H' || ch == 'G', std::invalid_argument,
                   "FrozenLake: map letters must be S, F, H or G, got '", ch, "'");
      starts += ch == 'S';
    }
    NEXTRL_CHECK(starts >= 1, std::invalid_argument, "FrozenLake: the map must have at least one start tile S");
    NEXTRL_CHECK(c.success_rate >= 0.0 && c.success_rate <= 1.0, std::invalid_argument,
                 "FrozenLake: success_rate must be in [0, 1], got ", c.success_rate);
    NEXTRL_CHECK(std::isfinite(c.reward_goal) && std::isfinite(c.reward_hole) && std::isfinite(c.reward_frozen),
                 std::invalid_argument, "FrozenLake: reward_schedule must be finite");
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "FrozenLake: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {}; }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config&, const Action* a) {
    return (*a >= 0 && *a < kNumActions) ? nullptr : "must be in [0, 4)";
  }
  static bool AllActionsValid(const Config&, const Action* a, int64_t count) { return AllBelow(a, count, kNumActions); }

  static bool Slippery(const Config& c) { return c.is_slippery; }
  static double FailRate(const Config& c) { return (1.0 - c.success_rate) / 2.0; }
  static void Prepare(Config& c) {
    PrepareOutcomes<FrozenLake>(c);
    c.starts = StartStates(c);
  }
  static bool Final(const Config& c, int64_t s) { return c.desc[s] == 'G' || c.desc[s] == 'H'; }
  static int NumOutcomes(const Config& c, int64_t s) { return (c.is_slippery && !Final(c, s)) ? 3 : 1; }
  // The k-th entry of Gymnasium's P[s][a].
  static Transition Outcome(const Config& c, int64_t s, int64_t a, int k) {
    if (Final(c, s)) return {1.0, s, 0.0, true};
    int64_t row = s / c.ncol, col = s % c.ncol;
    const int dir = c.is_slippery ? SlipDirection(static_cast<int>(a), k) : static_cast<int>(a);
    switch (dir) {
      case 0:
        col = col > 0 ? col - 1 : 0;
        break;
      case 1:
        row = row + 1 < c.nrow ? row + 1 : row;
        break;
      case 2:
        col = col + 1 < c.ncol ? col + 1 : col;
        break;
      default:
        row = row > 0 ? row - 1 : 0;
    }
    const int64_t next = row * c.ncol + col;
    const char tile = c.desc[next];
    const double reward = tile == 'G' ? c.reward_goal : (tile == 'H' ? c.reward_hole : c.reward_frozen);
    const double p = !c.is_slippery ? 1.0 : (k == 1 ? c.success_rate : FailRate(c));
    return {p, next, reward, tile == 'G' || tile == 'H'};
  }

  // Tabular model.
  static int64_t NumStates(const Config& c) { return c.nrow * c.ncol; }
  static int64_t NumActions(const Config&) { return kNumActions; }
  static std::vector<int64_t> StartStates(const Config& c) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < NumStates(c); ++i)
      if (c.desc[i] == 'S') s.push_back(i);
    return s;
  }
  static void Transitions(const Config& c, int64_t s, int64_t a, std::vector<Transition>& out) {
    ToyTextTransitions<FrozenLake>(c, s, a, out);
  }

  explicit FrozenLake(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  int64_t StateId() const { return s_; }
  // State (envs/env_state.h): the tile index row * ncol + col.
  template <class F>
  void VisitState(F&& f) {
    f(s_);
  }
  const char* CheckState() const { return s_ >= 0 && s_ < NumStates(*cfg_) ? nullptr : "has a tile outside the map"; }

  void Reset(Rng& rng, Obs* obs, double* info) {
    const std::vector<int64_t>& starts = cfg_->starts;
    const int64_t n = static_cast<int64_t>(starts.size());
    s_ = starts[static_cast<size_t>(n > 1 ? rng.Below(n) : 0)];  // uniform over the S tiles
    obs[0] = s_;
    info[0] = 1.0;
  }
  StepOut Step(const Action* a, Rng& rng, Obs* obs, double* info) {
    return ToyTextStep<FrozenLake>(*cfg_, s_, *a, rng, obs, info);
  }
  static void StepBlock(const Config& c, FrozenLake* envs, Rng* rngs, int64_t count, const Action* actions,
                        const uint8_t* skip, Obs* obs, double* info, StepOut* out) {
    ToyTextStepBlock(c, envs, rngs, count, actions, skip, obs, info, out, [](auto& e) -> int64_t& { return e.s_; });
  }

 private:
  const Config* cfg_;
  int64_t s_ = 0;
};

// CliffWalking-v1 (Sutton & Barto Example 6.6): a 4 x 12 grid, start (3, 0), goal (3, 11), cliff
// (3, 1..10). Actions: 0 up, 1 right, 2 down, 3 left. Reward -1 per move; stepping into the cliff
// gives -100 and returns to the start (no termination); entering the goal terminates. Slippery: the
// intended move or either perpendicular one, 1/3 each. Gymnasium sets no time limit (max_steps = 0).
struct CliffWalking {
  struct Config {
    bool is_slippery = false;
    int64_t max_steps = 0;
    OutcomeTable table;  // filled by Prepare
  };
  using Obs = int64_t;
  using Action = int64_t;
  static constexpr std::array<const char*, 1> kInfoNames{"prob"};
  static constexpr int64_t kNumActions = 4, kRows = 4, kCols = 12;
  static constexpr int64_t kStart = (kRows - 1) * kCols, kGoal = kRows * kCols - 1;
  static constexpr double kStepReward = -1.0, kCliffReward = -100.0;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "CliffWalking: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {}; }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config&, const Action* a) {
    return (*a >= 0 && *a < kNumActions) ? nullptr : "must be in [0, 4)";
  }
  static bool AllActionsValid(const Config&, const Action* a, int64_t count) { return AllBelow(a, count, kNumActions); }

  static bool Slippery(const Config& c) { return c.is_slippery; }
  static double FailRate(const Config&) { return 1.0 / 3.0; }
  static void Prepare(Config& c) { PrepareOutcomes<CliffWalking>(c); }
  static int NumOutcomes(const Config& c, int64_t) { return c.is_slippery ? 3 : 1; }
  static Transition Outcome(const Config& c, int64_t s, int64_t a, int k) {
    static constexpr int64_t kDRow[4] = {-1, 0, 1, 0}, kDCol[4] = {0, 1, 0, -1};
    const int dir = c.is_slippery ? SlipDirection(static_cast<int>(a), k) : static_cast<int>(a);
    const int64_t row = std::min(std::max(s / kCols + kDRow[dir], int64_t{0}), kRows - 1);
    const int64_t col = std::min(std::max(s % kCols + kDCol[dir], int64_t{0}), kCols - 1);
    const double p = c.is_slippery ? 1.0 / 3.0 : 1.0;
    if (row == kRows - 1 && col >= 1 && col <= kCols - 2) return {p, kStart, kCliffReward, false};
    const int64_t next = row * kCols + col;
    return {p, next, kStepReward, next == kGoal};
  }

  // Tabular model.
  static int64_t NumStates(const Config&) { return kRows * kCols; }
  static int64_t NumActions(const Config&) { return kNumActions; }
  static std::vector<int64_t> StartStates(const Config&) { return {kStart}; }
  static void Transitions(const Config& c, int64_t s, int64_t a, std::vector<Transition>& out) {
    ToyTextTransitions<CliffWalking>(c, s, a, out);
  }

  explicit CliffWalking(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  int64_t StateId() const { return s_; }
  // State (envs/env_state.h): the tile index row * ncol + col.
  template <class F>
  void VisitState(F&& f) {
    f(s_);
  }
  const char* CheckState() const { return s_ >= 0 && s_ < NumStates(*cfg_) ? nullptr : "has a tile outside the map"; }

  void Reset(Rng&, Obs* obs, double* info) {
    s_ = kStart;
    obs[0] = s_;
    info[0] = 1.0;
  }
  StepOut Step(const Action* a, Rng& rng, Obs* obs, double* info) {
    return ToyTextStep<CliffWalking>(*cfg_, s_, *a, rng, obs, info);
  }
  static void StepBlock(const Config& c, CliffWalking* envs, Rng* rngs, int64_t count, const Action* actions,
                        const uint8_t* skip, Obs* obs, double* info, StepOut* out) {
    ToyTextStepBlock(c, envs, rngs, count, actions, skip, obs, info, out, [](auto& e) -> int64_t& { return e.s_; });
  }

 private:
  const Config* cfg_;
  int64_t s_ = kStart;
};

}  // namespace nextrl::envs
