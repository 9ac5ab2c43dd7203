// DriverCore<Derived, Env>: the part of a vector-env driver that does not depend on how many agents an env
// has, shared by envs::VecEnv<Env> (one agent per env, csrc/envs/vec_env.h) and marl::VecMarlEnv<Env>
// (agent groups, csrc/marl/vec_marl_env.h):
//   - the envs, their Rng streams (env i owns Rng(seed + i, 0) after Reset(seed): Gymnasium's seed + i rule)
//     and the autoreset mode;
//   - construction: num_envs checked, the config validated (and Env::Prepare'd), the memory refused before
//     allocating when it cannot fit (common/memory.h);
//   - seeded and masked resets, needs_reset / episode_done and the count of finished episodes;
//   - the check that a step does not move an env that finished with autoreset disabled;
//   - the batched state's framing (envs/env_state.h): row i = env i's VisitState fields, its Rng, the
//     driver's Counters and its buffer rows; set_state checks every row before any env changes.
// The drivers keep their own buffers and step loops (VecEnv's is the blocked, branch-free hot loop).
//
// CRTP: Derived (a friend) supplies
//   void ResetOne(int64_t i);                 reset env i (its Rng already set) and the driver's outputs
//   struct Counters { VisitState(f); const char* Check() const; };  the driver's per-env state
//   Counters NewCounters() const;  Counters CountersOf(int64_t i) const;  void SetCounters(int64_t i, const Counters&);
//   struct Rows;  Rows RowsOf(int64_t i);     env i's rows of the driver's buffers (Rows{}: sizing only)
//   struct Scratch { explicit Scratch(const Derived&); Rows rows(); };   rows to check a state row into
//   template <class F> void VisitRows(F& f, Rows r) const;             f(pointer, count) per buffer row
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "common/rng.h"
#include "envs/env_state.h"

namespace nextrl::envs {

enum class Autoreset : int { kNextStep = 0, kSameStep = 1, kDisabled = 2 };

// Envs per thread below which a driver stays on one thread (a step costs ~10-100 ns).
inline constexpr int64_t kMinParallelEnvs = 2048;

template <class Derived, class Env>
class DriverCore {
 public:
  using EnvType = Env;
  using Config = typename Env::Config;
  using Obs = typename Env::Obs;
  using Action = typename Env::Action;
  static constexpr int64_t kNumInfo = static_cast<int64_t>(Env::kInfoNames.size());

  DriverCore(const DriverCore&) = delete;
  DriverCore& operator=(const DriverCore&) = delete;

  // Resets the envs where mask[i] != 0 (all when mask is null). With has_seed, env i is reseeded with
  // seed + i first; otherwise its stream continues.
  void Reset(bool has_seed, uint64_t seed, const uint8_t* mask) {
    ParallelFor(num_envs_, kMinParallelEnvs, [&](int64_t i) {
      if (mask != nullptr && mask[i] == 0) return;
      if (has_seed) rngs_[i] = Rng(seed + static_cast<uint64_t>(i), 0);
      self().ResetOne(i);
      episode_done_[i] = 0;
    });
    CountDone();
  }

  int64_t num_envs() const { return num_envs_; }
  const Config& config() const { return config_; }
  Autoreset mode() const { return mode_; }
  Env& env(int64_t i) { return envs_[static_cast<size_t>(i)]; }
  const Env& env(int64_t i) const { return envs_[static_cast<size_t>(i)]; }
  Rng& rng(int64_t i) { return rngs_[static_cast<size_t>(i)]; }
  // [num_envs]: env i finished its episode and waits for a reset (NEXT_STEP: the next step; DISABLED: an
  // explicit one).
  uint8_t* needs_reset() { return needs_reset_.data(); }
  // [num_envs]: env i finished an episode in the last call.
  uint8_t* episode_done() { return episode_done_.data(); }
  // Number of envs with episode_done set (by the last Step, Reset or SetState).
  int64_t num_done() const { return num_done_; }

  // Bytes of one env's state row.
  int64_t state_bytes() const {
    StateSizer f;
    auto c = self().NewCounters();
    VisitRow(f, const_cast<Env&>(envs_[0]), const_cast<Rng&>(rngs_[0]), c, typename Derived::Rows{});
    return static_cast<int64_t>(f.bytes);
  }
  // out: [num_envs, state_bytes()].
  void GetState(uint8_t* out) const {
    const int64_t bytes = state_bytes();
    auto& d = const_cast<Derived&>(self());
    ParallelFor(num_envs_, kMinParallelEnvs, [&](int64_t i) {
      StateWriter f{out + i * bytes};
      auto c = d.CountersOf(i);
      VisitRow(f, d.envs_[i], d.rngs_[i], c, d.RowsOf(i));
    });
  }
  // in: [num_envs, state_bytes()]. Every row is checked before any env changes: throws std::invalid_argument
  // naming the first bad row (nothing restored then). A restored env continues bit for bit.
  void SetState(const uint8_t* in) {
    const int64_t bytes = state_bytes();
    typename Derived::Scratch scratch(self());
    for (int64_t i = 0; i < num_envs_; ++i) {
      Env env = envs_[i];
      Rng rng;
      auto c = self().NewCounters();
      StateReader f{in + i * bytes};
      VisitRow(f, env, rng, c, scratch.rows());
      const char* err = f.error;
      if (err == nullptr) err = CheckEnvState(env);
      if (err == nullptr) err = rng.CheckState();
      if (err == nullptr) err = c.Check();
      NEXTRL_CHECK(err == nullptr, std::invalid_argument, "set_state: states[", i,
                   "] must be a row of get_state() of an env of this type and config, got one that ", err);
    }
    ParallelFor(num_envs_, kMinParallelEnvs, [&](int64_t i) {
      StateReader f{in + i * bytes};
      auto c = self().NewCounters();
      VisitRow(f, envs_[i], rngs_[i], c, self().RowsOf(i));
      self().SetCounters(i, c);
    });
    CountDone();
  }

 protected:
  // bytes_per_env(config): the derived driver's buffers per env (the envs, Rngs and flags here are counted).
  template <class BytesPerEnv>
  DriverCore(const char* driver, int64_t num_envs, const Config& config, Autoreset mode, BytesPerEnv&& bytes_per_env)
      : config_(config), mode_(mode), num_envs_(num_envs) {
    NEXTRL_CHECK(num_envs >= 1, std::invalid_argument, driver, ": num_envs must be >= 1, got ", num_envs);
    Env::Validate(config_);
    if constexpr (requires { Env::Prepare(config_); }) Env::Prepare(config_);
    const double per_env = static_cast<double>(sizeof(Env) + sizeof(Rng)) + 2.0 + bytes_per_env(config_);
    CheckAllocation(driver, StrCat(num_envs, " envs").c_str(), per_env * static_cast<double>(num_envs));
    const size_t n = static_cast<size_t>(num_envs);
    envs_.reserve(n);
    for (size_t i = 0; i < n; ++i) envs_.emplace_back(config_);
    rngs_.resize(n);
    needs_reset_.assign(n, 1);
    episode_done_.assign(n, 0);
  }
  ~DriverCore() = default;

  // For a step's exact action check of env i: throws when env i finished its episode and autoreset is
  // disabled; true when its actions are ignored (NEXT_STEP resets it in this step instead).
  bool ActionsIgnored(int64_t i) const {
    if (!needs_reset_[i]) return false;
    NEXTRL_CHECK(mode_ != Autoreset::kDisabled, std::invalid_argument, "step: env ", i,
                 " has finished its episode and autoreset is disabled; reset it first with "
                 "reset(options={\"reset_mask\": mask})");
    return mode_ == Autoreset::kNextStep;
  }
  // True when some env finished with autoreset disabled (a step must then fail): one branch-free pass.
  bool AnyBlocked() const {
    if (mode_ != Autoreset::kDisabled) return false;
    uint8_t finished = 0;
    for (uint8_t f : needs_reset_) finished |= f;
    return finished != 0;
  }
  void CountDone() {
    int64_t done = 0;
    for (uint8_t d : episode_done_) done += d;
    num_done_ = done;
  }

  Config config_;
  Autoreset mode_;
  int64_t num_envs_;
  std::vector<Env> envs_;
  std::vector<Rng> rngs_;
  std::vector<uint8_t> needs_reset_, episode_done_;
  int64_t num_done_ = 0;

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self() { return static_cast<Derived&>(*this); }

  template <class F, class C, class Rows>  // Derived::Counters and Derived::Rows (incomplete here)
  void VisitRow(F& f, Env& env, Rng& rng, C& c, Rows rows) const {
    env.VisitState(f);
    rng.VisitState(f);
    c.VisitState(f);
    self().VisitRows(f, rows);
  }
};

}  // namespace nextrl::envs
