// VecEnv<Env>: N copies of one environment stepped in one call, writing into preallocated buffers.
//
// An Env is a plain struct (EnvPool's spec + Reset/Step shape, PufferLib's size):
//   struct Config { ... };                                 plain fields, shared by all copies
//   using Obs = float | int64_t | uint8_t;                 observation element type
//   using Action = int64_t | float;                        action element type
//   static constexpr std::array<const char*, K> kInfoNames;   per-step scalar infos (info["cost"], ...)
//   static void Validate(const Config&);                   throws std::invalid_argument on a bad config
//   static std::vector<int64_t> ObsShape(const Config&);
//   static int64_t ActionSize(const Config&);              1 for a Discrete action
//   static const char* CheckAction(const Config&, const Action* a);   nullptr if valid, else "must be ..."
//   explicit Env(const Config&);                           keeps a pointer to the VecEnv's config
//   int64_t MaxSteps() const;                              truncation after this many steps; 0: never
//   void Reset(Rng&, Obs* obs, double* info);
//   StepOut Step(const Action* a, Rng&, Obs* obs, double* info);
//   template <class F> void VisitState(F&& f);             its State: f(field) for every field that changes
//                                                          after construction (envs/env_state.h); optionally
//   const char* CheckState() const;                        nullptr when a restored State is valid
// A tabular env also has int64_t StateId() const, static int64_t NumStates(const Config&), static int64_t
// NumActions(const Config&), static void Transitions(const Config&, int64_t s, int64_t a,
// std::vector<Transition>& out) (its exact model) and static std::vector<int64_t> StartStates(const Config&).
// Optionally static void Prepare(Config&): called once on the VecEnv's own copy of the config, after
// Validate, to precompute lookup tables that every copy then shares.
// Step and Reset write the whole observation and every info entry; they never throw, allocate or print.
// MaxSteps() is read at each reset of the env (it may differ between copies, not within an episode).
//
// Optional batched step (the hook of envs whose per-env Step is too small to pay a call per env):
//   static void StepBlock(const Config& c, Env* envs, Rng* rngs, int64_t count, const Action* actions,
//                         const uint8_t* skip, Obs* obs, double* info, StepOut* out);
// steps envs[j] for every j in [0, count) with skip[j] == 0, with exactly the results Step would give
// (the same draws from rngs[j]), writing obs + j * obs_size, info + j * kNumInfo and out[j]; actions,
// obs and info are the block's rows (action j at actions + j * action_size). Envs and rngs with
// skip[j] != 0 must be left unchanged; their obs / info / out entries may be written (the engine
// overwrites them). skip is needs_reset in NEXT_STEP mode (those envs are reset by the engine instead)
// and all zeros otherwise. VecEnv::Step calls it on consecutive blocks of kStepBlock envs (in parallel
// over blocks above kMinParallelEnvs envs), so a block's arrays stay in cache between the env's loop and
// the engine's bookkeeping; without StepBlock the engine calls Step per env. A batch of N equals N single
// envs either way: VecEnv<Stepwise<Env>> ignores the StepBlock, and tests/envs/test_vec_env.py checks the
// two against each other.
//
// Optional Box bounds, declared here once and read by the Python spaces (obs_bounds / action_bounds):
//   static Bounds ObsBounds(const Config&);      per observation element (continuous observations)
//   static Bounds ActionBounds(const Config&);   per action element (continuous actions)
//
// Optional quick action check: static bool AllActionsValid(const Config&, const Action* actions, int64_t count),
// true exactly when CheckAction accepts each of the count envs' actions (discrete envs: AllBelow(actions,
// count, number of actions)); without it the quick pass calls CheckAction per env.
//
// One Step: a quick validity pass over all actions (the exact per-env checks, which name the first bad
// env, run only when it fails, so every error comes before any env moves); then per block the env's
// step, one branch-free bookkeeping loop over the block's arrays (rewards, flags, truncation, running
// return and length; it vectorizes with baseline SSE2), and the rare per-env work last (NEXT_STEP resets,
// SAME_STEP final observations and resets).
//
// Autoreset follows Gymnasium 1.x (https://farama.org/Vector-Autoreset-Mode):
//   kNextStep: the step after a termination or truncation resets that env, ignores its action and
//              returns the first observation with reward 0 and both flags false.
//   kSameStep: a finished env is reset inside the same step; the returned observation is the new
//              episode's first, and the final observation and infos go to final_obs / final_info.
//   kDisabled: finished envs must be reset explicitly (Reset with a mask); stepping one is an error.
// Time limit: the step that reaches MaxSteps reports truncated = true, whether or not it also terminates
// (Gymnasium's TimeLimit wrapper: `if elapsed_steps >= max_episode_steps: truncated = True`).
// State: GetState / SetState copy every env's State, Rng and engine counters as [num_envs, state_bytes()]
// rows (see state_bytes()); a restored env continues bit for bit.
// Randomness: env i owns Rng(seed + i, 0) after Reset(seed) (Gymnasium's seed + i rule), so a batch
// of N equals N single envs seeded seed, seed + 1, ...; results do not depend on the thread count.
#pragma once
#include <array>
#include <bit>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/check.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "common/rng.h"
#include "common/simd_math.h"
#include "envs/driver_core.h"
#include "envs/env_state.h"

namespace nextrl::envs {

// The padding is a named member that every constructor zeroes (StepOut{} and StepOut{r, t}), so a
// StepOut has no indeterminate bytes (valgrind reported the implicit padding read as a word below);
// the default constructor stays trivial, so arrays of StepOut cost nothing until written.
struct StepOut {
  float reward;
  bool terminated;
  uint8_t padding_[3];
  StepOut() = default;
  constexpr StepOut(float r, bool t) : reward(r), terminated(t), padding_{0, 0, 0} {}
};
static_assert(sizeof(StepOut) == 8 && offsetof(StepOut, terminated) == 4 && sizeof(bool) == 1 &&
                  offsetof(StepOut, padding_) == 5 && std::is_trivially_copyable_v<StepOut> &&
                  std::is_trivially_default_constructible_v<StepOut>,
              "VecEnv's bookkeeping reads a StepOut as one 8-byte word, with no implicit padding");

// Box bounds of an observation or action vector, element by element (infinity where unbounded).
struct Bounds {
  std::vector<double> low, high;
};
// [-limit, limit] in each of n elements.
inline Bounds Symmetric(std::vector<double> limit) {
  Bounds b{limit, limit};
  for (double& x : b.low) x = -x;
  return b;
}
inline Bounds Symmetric(int64_t n, double limit) {
  return Symmetric(std::vector<double>(static_cast<size_t>(n), limit));
}

// One outcome of a tabular env's transition model (for exact dynamic programming):
// from state s under action a, with probability p, the next state, the reward and whether it ends.
struct Transition {
  double p;
  int64_t next;
  double reward;
  bool terminal;
};

// True when every a[i], i < count, is in [0, n): one pass that vectorizes (AVX2 clone), for the optional
// Env::AllActionsValid of envs whose CheckAction accepts exactly the actions in [0, n).
template <class T>
NEXTRL_TARGET_CLONES_AVX2 bool AllBelow(const T* a, int64_t count, int64_t n) {
  uint64_t bad = 0;
  for (int64_t i = 0; i < count; ++i) bad |= static_cast<uint64_t>(a[i]) >= static_cast<uint64_t>(n);
  return bad == 0;
}

// Envs per block of VecEnv::Step (and per Env::StepBlock call).
inline constexpr int64_t kStepBlock = 256;

template <class Env>
concept HasStepBlock = requires(const typename Env::Config& c, Env* envs, Rng* rngs, const typename Env::Action* a,
                                const uint8_t* skip, typename Env::Obs* obs, double* info,
                                StepOut* out) { Env::StepBlock(c, envs, rngs, int64_t{0}, a, skip, obs, info, out); };

// Env without its StepBlock: VecEnv<Stepwise<Env>> steps one env at a time through Env::Step (the tests compare
// it with VecEnv<Env> to check a StepBlock against Step).
template <class Env>
struct Stepwise : Env {
  using Env::Env;
  template <class... A>
  static void StepBlock(A&&...) = delete;
};

template <class Env>
class VecEnv : public DriverCore<VecEnv<Env>, Env> {
  using Base = DriverCore<VecEnv<Env>, Env>;
  friend Base;
  using Base::config_, Base::mode_, Base::num_envs_, Base::envs_, Base::rngs_, Base::needs_reset_, Base::episode_done_,
      Base::num_done_;

 public:
  using Base::kNumInfo;
  using typename Base::Action, typename Base::Config, typename Base::Obs;

  VecEnv(int64_t num_envs, const Config& config, Autoreset mode)
      : Base("VecEnv", num_envs, config, mode, [](const Config& c) {
          // obs and final obs, infos and final infos, and the engine's counters
          int64_t obs_size = 1;
          for (int64_t d : Env::ObsShape(c)) obs_size *= d;
          return 2.0 * sizeof(Obs) * static_cast<double>(obs_size) + 16.0 * kNumInfo + 62.0;
        }) {
    obs_shape_ = Env::ObsShape(config_);
    obs_size_ = 1;
    for (int64_t d : obs_shape_) obs_size_ *= d;
    action_size_ = Env::ActionSize(config_);
    const size_t n = static_cast<size_t>(num_envs);
    obs_.assign(n * static_cast<size_t>(obs_size_), Obs{});
    final_obs_.assign(n * static_cast<size_t>(obs_size_), Obs{});
    infos_.assign(n * static_cast<size_t>(kNumInfo), 0.0);
    final_infos_.assign(n * static_cast<size_t>(kNumInfo), 0.0);
    rewards_.assign(n, 0.0f);
    terminations_.assign(n, 0);
    truncations_.assign(n, 0);
    episode_return_.assign(n, 0.0);
    episode_length_.assign(n, 0);
    running_return_.assign(n, 0.0);
    running_length_.assign(n, 0);
    limit_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t max_steps = envs_[i].MaxSteps();
      limit_[i] = max_steps > 0 ? max_steps : INT64_MAX;
    }
    block_done_.assign(static_cast<size_t>((num_envs + kStepBlock - 1) / kStepBlock), 0);
  }

  // actions: [num_envs, action_size]. Validates every action before any env moves. Returns the number of
  // envs that finished an episode in this call (those with episode_done set).
  int64_t Step(const Action* actions) {
    CheckActions(actions);
    switch (mode_) {
      case Autoreset::kNextStep:
        StepBlocks<Autoreset::kNextStep>(actions);
        break;
      case Autoreset::kSameStep:
        StepBlocks<Autoreset::kSameStep>(actions);
        break;
      default:
        StepBlocks<Autoreset::kDisabled>(actions);
    }
    int64_t done = 0;
    for (int64_t d : block_done_) done += d;
    num_done_ = done;
    return done;
  }

  int64_t obs_size() const { return obs_size_; }
  int64_t action_size() const { return action_size_; }
  const std::vector<int64_t>& obs_shape() const { return obs_shape_; }

  // Buffers, rewritten by every call: [num_envs, ...] row-major.
  Obs* obs() { return obs_.data(); }
  Obs* final_obs() { return final_obs_.data(); }
  double* infos() { return infos_.data(); }
  double* final_infos() { return final_infos_.data(); }
  float* rewards() { return rewards_.data(); }
  uint8_t* terminations() { return terminations_.data(); }
  uint8_t* truncations() { return truncations_.data(); }
  // When episode_done[i] (DriverCore) is set, env i's finished episode's return and length (entries of the
  // other envs are unspecified: the running return and length outside SAME_STEP mode, where a finished env
  // stays unreset until the next call, so the running values are the episode's).
  double* episode_return() { return mode_ == Autoreset::kSameStep ? episode_return_.data() : running_return_.data(); }
  int64_t* episode_length() { return mode_ == Autoreset::kSameStep ? episode_length_.data() : running_length_.data(); }

  // Batched state: DriverCore's state_bytes / GetState / SetState. VecEnv's part of a row: its counters
  // (needs_reset, last reward and flags, running and finished episode return / length, time limit) and its
  // observation and info rows; final_obs / final_infos (outputs of the step that finished an episode) are
  // not part of it.

 private:
  void ResetOne(int64_t i) {
    envs_[i].Reset(rngs_[i], obs_.data() + i * obs_size_, infos_.data() + i * kNumInfo);
    rewards_[i] = 0.0f;
    terminations_[i] = truncations_[i] = 0;
    needs_reset_[i] = 0;
    running_return_[i] = 0.0;
    running_length_[i] = 0;
    const int64_t max_steps = envs_[i].MaxSteps();
    limit_[i] = max_steps > 0 ? max_steps : INT64_MAX;
  }

  // The first error in env order, or nothing. A quick pass over all actions comes first; only when it
  // finds a bad action (or, autoreset disabled, a finished env) does the exact pass look for the culprit.
  void CheckActions(const Action* actions) const {
    bool ok = true;
    if constexpr (requires { Env::AllActionsValid(config_, actions, num_envs_); }) {
      ok = Env::AllActionsValid(config_, actions, num_envs_);  // true exactly when every CheckAction passes
    } else {
      for (int64_t i = 0; i < num_envs_; ++i) ok &= Env::CheckAction(config_, actions + i * action_size_) == nullptr;
    }
    if (ok && !this->AnyBlocked()) return;
    for (int64_t i = 0; i < num_envs_; ++i) {
      if (this->ActionsIgnored(i)) continue;
      const char* err = Env::CheckAction(config_, actions + i * action_size_);
      NEXTRL_CHECK(err == nullptr, std::invalid_argument, "step: actions[", i, "] ", err);
    }
  }

  // The engine's per-step bookkeeping of a block, branch-free over its arrays: rewards, flags, running and
  // finished episode statistics, and (WriteNeedsReset) needs_reset = done. Envs with skip set get flags 0
  // here and are reset by the caller. Returns the number of finished episodes.
  template <bool WriteNeedsReset>
  NEXTRL_TARGET_CLONES_AVX2 static int64_t Bookkeep(int64_t count, const uint8_t* __restrict skip,
                                                    const StepOut* __restrict out, const int64_t* __restrict limit,
                                                    float* __restrict rew, uint8_t* __restrict term,
                                                    uint8_t* __restrict trunc, uint8_t* __restrict ep_done,
                                                    double* __restrict run_ret, int64_t* __restrict run_len,
                                                    uint8_t* __restrict nr) {
    // Two loops, each of one lane width, so that both vectorize with baseline x86-64 SSE2: 64-bit lanes for
    // the running statistics and the truncation test (a sign bit, as SSE2 has no 64-bit compare; a StepOut
    // is read as one 8-byte word: the float, then the bool), byte lanes for the flags.
    uint8_t terminated[kStepBlock], over[kStepBlock];
    for (int64_t j = 0; j < count; ++j) {
      uint64_t word;
      std::memcpy(&word, out + j, sizeof(word));
      const float r = std::bit_cast<float>(static_cast<uint32_t>(word));
      const int64_t len = run_len[j] + 1;
      run_len[j] = len;
      run_ret[j] += r;
      rew[j] = r;
      terminated[j] = static_cast<uint8_t>(word >> 32);
      over[j] = static_cast<uint8_t>(static_cast<uint64_t>(limit[j] - len - 1) >> 63);  // len >= limit >= 1
    }
    uint32_t finished = 0;
    for (int64_t j = 0; j < count; ++j) {
      const uint8_t live = skip[j] ^ 1;
      const uint8_t te = terminated[j] & 1 & live;
      const uint8_t tr = over[j] & live;  // Gymnasium's TimeLimit: truncated on the last step, terminated or not
      const uint8_t done = te | tr;
      term[j] = te;
      trunc[j] = tr;
      ep_done[j] = done;
      if constexpr (WriteNeedsReset) nr[j] = done;
      finished += done;
    }
    return static_cast<int64_t>(finished);
  }

  // f(j) for every j with skip[j] != 0 (skip: kStepBlock bytes of 0 / 1), in order, eight bytes at a time:
  // skipped envs are few, and one unpredictable branch per env would cost more than their work.
  template <class F>
  static void SkippedEach(const uint8_t* skip, F&& f) {
    static_assert(std::endian::native == std::endian::little, "byte j of the word is bits 8 j to 8 j + 7");
    for (int64_t j0 = 0; j0 < kStepBlock; j0 += 8) {
      uint64_t word;
      std::memcpy(&word, skip + j0, sizeof word);
      for (; word != 0; word &= word - 1) f(j0 + std::countr_zero(word) / 8);
    }
  }

  template <Autoreset M>
  void StepBlocks(const Action* actions) {
    const int64_t blocks = static_cast<int64_t>(block_done_.size());
    ParallelFor(blocks, (kMinParallelEnvs + kStepBlock - 1) / kStepBlock, [&](int64_t b) {
      const int64_t i0 = b * kStepBlock;
      const int64_t count = i0 + kStepBlock <= num_envs_ ? kStepBlock : num_envs_ - i0;
      block_done_[static_cast<size_t>(b)] = StepBlockAt<M>(i0, count, actions + i0 * action_size_);
    });
  }

  // Steps envs [i0, i0 + count): the env's step (batched or one by one), then the engine's branch-free
  // bookkeeping over the block's arrays, then the rare per-env work (resets, final observations).
  template <Autoreset M>
  int64_t StepBlockAt(int64_t i0, int64_t count, const Action* actions) {
    StepOut out[kStepBlock];
    alignas(8) uint8_t skip[kStepBlock];  // all kStepBlock entries set: SkippedEach reads whole words
    const uint8_t* nr = needs_reset_.data() + i0;
    uint8_t any_skip = 0;
    for (int64_t j = 0; j < count; ++j) {
      skip[j] = M == Autoreset::kNextStep ? nr[j] : 0;
      any_skip |= skip[j];
    }
    if (count < kStepBlock) std::memset(skip + count, 0, static_cast<size_t>(kStepBlock - count));
    Obs* obs = obs_.data() + i0 * obs_size_;
    double* info = infos_.data() + i0 * kNumInfo;
    if constexpr (HasStepBlock<Env>) {
      Env::StepBlock(config_, envs_.data() + i0, rngs_.data() + i0, count, actions, skip, obs, info, out);
    } else {
      Env* envs = envs_.data() + i0;
      Rng* rngs = rngs_.data() + i0;
      for (int64_t j = 0; j < count; ++j)
        if (!skip[j])
          out[j] = envs[j].Step(actions + j * action_size_, rngs[j], obs + j * obs_size_, info + j * kNumInfo);
    }
    if (any_skip) SkippedEach(skip, [&](int64_t j) { out[j] = StepOut{}; });  // reward 0, not terminated
    const int64_t finished = Bookkeep<M != Autoreset::kSameStep>(
        count, skip, out, limit_.data() + i0, rewards_.data() + i0, terminations_.data() + i0, truncations_.data() + i0,
        episode_done_.data() + i0, running_return_.data() + i0, running_length_.data() + i0, needs_reset_.data() + i0);
    if (M == Autoreset::kNextStep && any_skip)  // the reset step: first observation, reward 0, flags false
      SkippedEach(skip, [&](int64_t j) { ResetOne(i0 + j); });
    if (M == Autoreset::kSameStep && finished > 0) {
      for (int64_t j = 0; j < count; ++j) {
        const int64_t i = i0 + j;
        if (!episode_done_[i]) continue;
        std::memcpy(final_obs_.data() + i * obs_size_, obs + j * obs_size_,
                    sizeof(Obs) * static_cast<size_t>(obs_size_));
        std::memcpy(final_infos_.data() + i * kNumInfo, info + j * kNumInfo,
                    sizeof(double) * static_cast<size_t>(kNumInfo));
        const float r = rewards_[i];
        const uint8_t te = terminations_[i], tr = truncations_[i];
        episode_return_[i] = running_return_[i];
        episode_length_[i] = running_length_[i];
        ResetOne(i);
        rewards_[i] = r;  // the step's own reward and flags are reported
        terminations_[i] = te;
        truncations_[i] = tr;
      }
    }
    return finished;
  }

  // The engine's per-env part of a state row.
  struct Counters {
    bool needs_reset = false, terminated = false, truncated = false, episode_done = false;
    float reward = 0.0f;
    double running_return = 0.0, episode_return = 0.0;
    int64_t running_length = 0, episode_length = 0, limit = 1;
    template <class F>
    void VisitState(F& f) {
      f(needs_reset), f(terminated), f(truncated), f(episode_done), f(reward);
      f(running_return), f(episode_return), f(running_length), f(episode_length), f(limit);
    }
    const char* Check() const {
      if (running_length < 0 || episode_length < 0) return "has a negative episode length";
      if (limit < 1) return "has a time limit below 1";
      return nullptr;
    }
  };
  Counters CountersOf(int64_t i) const {
    return Counters{
        needs_reset_[i] != 0, terminations_[i] != 0, truncations_[i] != 0, episode_done_[i] != 0, rewards_[i],
        running_return_[i],   episode_return_[i],    running_length_[i],   episode_length_[i],    limit_[i]};
  }
  void SetCounters(int64_t i, const Counters& c) {
    needs_reset_[i] = c.needs_reset, terminations_[i] = c.terminated, truncations_[i] = c.truncated;
    episode_done_[i] = c.episode_done, rewards_[i] = c.reward, running_return_[i] = c.running_return;
    episode_return_[i] = c.episode_return, running_length_[i] = c.running_length;
    episode_length_[i] = c.episode_length, limit_[i] = c.limit;
  }
  Counters NewCounters() const { return Counters{}; }
  // One env's buffer rows (null: sizing only).
  struct Rows {
    Obs* obs = nullptr;
    double* info = nullptr;
  };
  Rows RowsOf(int64_t i) { return Rows{obs_.data() + i * obs_size_, infos_.data() + i * kNumInfo}; }
  struct Scratch {
    std::vector<Obs> obs;
    std::vector<double> info;
    explicit Scratch(const VecEnv& v)
        : obs(static_cast<size_t>(v.obs_size_)), info(static_cast<size_t>(kNumInfo) + 1) {}
    Rows rows() { return Rows{obs.data(), info.data()}; }
  };
  template <class F>
  void VisitRows(F& f, Rows r) const {
    f(r.obs, obs_size_);
    f(r.info, kNumInfo);
  }

  int64_t obs_size_ = 0, action_size_ = 0;
  std::vector<int64_t> obs_shape_;
  std::vector<Obs> obs_, final_obs_;
  std::vector<double> infos_, final_infos_;
  std::vector<float> rewards_;
  std::vector<uint8_t> terminations_, truncations_;
  std::vector<double> episode_return_, running_return_;
  std::vector<int64_t> episode_length_, running_length_;
  std::vector<int64_t> limit_;       // MaxSteps() of the current episode (INT64_MAX: none)
  std::vector<int64_t> block_done_;  // episodes finished per block in the last Step
};

}  // namespace nextrl::envs
