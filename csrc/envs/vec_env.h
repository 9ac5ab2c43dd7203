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
// A tabular env also has int64_t StateId() const, static int64_t NumStates(const Config&), static int64_t
// NumActions(const Config&), static void Transitions(const Config&, int64_t s, int64_t a,
// std::vector<Transition>& out) (its exact model) and static std::vector<int64_t> StartStates(const Config&).
// Optionally static void Prepare(Config&): called once on the VecEnv's own copy of the config, after
// Validate, to precompute lookup tables that every copy then shares.
// Step and Reset write the whole observation and every info entry; they never throw, allocate or print.
//
// Autoreset follows Gymnasium 1.x (https://farama.org/Vector-Autoreset-Mode):
//   kNextStep: the step after a termination or truncation resets that env, ignores its action and
//              returns the first observation with reward 0 and both flags false.
//   kSameStep: a finished env is reset inside the same step; the returned observation is the new
//              episode's first, and the final observation and infos go to final_obs / final_info.
//   kDisabled: finished envs must be reset explicitly (Reset with a mask); stepping one is an error.
// Randomness: env i owns Rng(seed + i, 0) after Reset(seed) (Gymnasium's seed + i rule), so a batch
// of N equals N single envs seeded seed, seed + 1, ...; results do not depend on the thread count.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "common/rng.h"

namespace nextrl::envs {

enum class Autoreset : int { kNextStep = 0, kSameStep = 1, kDisabled = 2 };

struct StepOut {
  float reward;
  bool terminated;
};

// One outcome of a tabular env's transition model (for exact dynamic programming):
// from state s under action a, with probability p, the next state, the reward and whether it ends.
struct Transition {
  double p;
  int64_t next;
  double reward;
  bool terminal;
};

// Envs per thread below which stepping stays on one thread (a step costs ~10-100 ns).
inline constexpr int64_t kMinParallelEnvs = 2048;

// [cartpole] Optional batched step of an Env (CartPole::StepBlock documents the contract): VecEnv::Step
// hands it blocks of kStepBlock envs, then does the per-env bookkeeping.
template <class Env>
concept HasStepBlock = requires(const typename Env::Config& c, Env* e, Rng* r, const typename Env::Action* a,
                                const uint8_t* skip, typename Env::Obs* obs, double* info, StepOut* out) {
  Env::StepBlock(c, e, r, int64_t{0}, a, skip, obs, info, out);
};
inline constexpr int64_t kStepBlock = 256;

template <class Env>
class VecEnv {
 public:
  using Config = typename Env::Config;
  using Obs = typename Env::Obs;
  using Action = typename Env::Action;
  static constexpr int64_t kNumInfo = static_cast<int64_t>(Env::kInfoNames.size());

  VecEnv(int64_t num_envs, const Config& config, Autoreset mode) : config_(config), mode_(mode) {
    NEXTRL_CHECK(num_envs >= 1, std::invalid_argument, "VecEnv: num_envs must be >= 1, got ", num_envs);
    Env::Validate(config_);
    if constexpr (requires { Env::Prepare(config_); }) Env::Prepare(config_);
    num_envs_ = num_envs;
    obs_shape_ = Env::ObsShape(config_);
    obs_size_ = 1;
    for (int64_t d : obs_shape_) obs_size_ *= d;
    action_size_ = Env::ActionSize(config_);
    envs_.reserve(static_cast<size_t>(num_envs));
    for (int64_t i = 0; i < num_envs; ++i) envs_.emplace_back(config_);
    rngs_.resize(static_cast<size_t>(num_envs));
    const size_t n = static_cast<size_t>(num_envs);
    obs_.assign(n * static_cast<size_t>(obs_size_), Obs{});
    final_obs_.assign(n * static_cast<size_t>(obs_size_), Obs{});
    infos_.assign(n * static_cast<size_t>(kNumInfo), 0.0);
    final_infos_.assign(n * static_cast<size_t>(kNumInfo), 0.0);
    rewards_.assign(n, 0.0f);
    terminations_.assign(n, 0);
    truncations_.assign(n, 0);
    needs_reset_.assign(n, 1);
    episode_done_.assign(n, 0);
    episode_return_.assign(n, 0.0);
    episode_length_.assign(n, 0);
    running_return_.assign(n, 0.0);
    running_length_.assign(n, 0);
  }
  VecEnv(const VecEnv&) = delete;
  VecEnv& operator=(const VecEnv&) = delete;

  // Resets the envs where mask[i] != 0 (all when mask is null). With has_seed, env i is reseeded
  // with seed + i first; otherwise its stream continues.
  void Reset(bool has_seed, uint64_t seed, const uint8_t* mask) {
    ParallelFor(num_envs_, kMinParallelEnvs, [&](int64_t i) {
      if (mask != nullptr && mask[i] == 0) return;
      if (has_seed) rngs_[i] = Rng(seed + static_cast<uint64_t>(i), 0);
      ResetOne(i);
      episode_done_[i] = 0;
    });
  }

  // actions: [num_envs, action_size]. Validates every action before any env moves.
  void Step(const Action* actions) {
    for (int64_t i = 0; i < num_envs_; ++i) {
      if (needs_reset_[i]) {
        NEXTRL_CHECK(mode_ != Autoreset::kDisabled, std::invalid_argument, "step: env ", i,
                     " has finished its episode and autoreset is disabled; reset it first with "
                     "reset(options={\"reset_mask\": mask})");
        if (mode_ == Autoreset::kNextStep) continue;  // its action is ignored
      }
      const char* err = Env::CheckAction(config_, actions + i * action_size_);
      NEXTRL_CHECK(err == nullptr, std::invalid_argument, "step: actions[", i, "] ", err);
    }
    if constexpr (HasStepBlock<Env>) {  // [cartpole]
      const int64_t num_blocks = (num_envs_ + kStepBlock - 1) / kStepBlock;
      ParallelFor(num_blocks, kMinParallelEnvs / kStepBlock,
                  [&](int64_t b) { StepBlockAt(b * kStepBlock, actions); });
    } else {
      ParallelFor(num_envs_, kMinParallelEnvs, [&](int64_t i) { StepOne(i, actions + i * action_size_); });
    }
  }

  int64_t num_envs() const { return num_envs_; }
  int64_t obs_size() const { return obs_size_; }
  int64_t action_size() const { return action_size_; }
  const std::vector<int64_t>& obs_shape() const { return obs_shape_; }
  const Config& config() const { return config_; }
  Autoreset mode() const { return mode_; }
  Env& env(int64_t i) { return envs_[static_cast<size_t>(i)]; }
  const Env& env(int64_t i) const { return envs_[static_cast<size_t>(i)]; }
  Rng& rng(int64_t i) { return rngs_[static_cast<size_t>(i)]; }

  // Buffers, rewritten by every call: [num_envs, ...] row-major.
  Obs* obs() { return obs_.data(); }
  Obs* final_obs() { return final_obs_.data(); }
  double* infos() { return infos_.data(); }
  double* final_infos() { return final_infos_.data(); }
  float* rewards() { return rewards_.data(); }
  uint8_t* terminations() { return terminations_.data(); }
  uint8_t* truncations() { return truncations_.data(); }
  // episode_done[i] = 1 when env i finished an episode in the last call; its return and length follow.
  uint8_t* episode_done() { return episode_done_.data(); }
  double* episode_return() { return episode_return_.data(); }
  int64_t* episode_length() { return episode_length_.data(); }
  uint8_t* needs_reset() { return needs_reset_.data(); }

 private:
  void ResetOne(int64_t i) {
    envs_[i].Reset(rngs_[i], obs_.data() + i * obs_size_, infos_.data() + i * kNumInfo);
    rewards_[i] = 0.0f;
    terminations_[i] = truncations_[i] = 0;
    needs_reset_[i] = 0;
    running_return_[i] = 0.0;
    running_length_[i] = 0;
  }

  void StepOne(int64_t i, const Action* action) {
    episode_done_[i] = 0;
    if (needs_reset_[i] && mode_ == Autoreset::kNextStep) {
      ResetOne(i);
      return;
    }
    Obs* obs = obs_.data() + i * obs_size_;
    double* info = infos_.data() + i * kNumInfo;
    FinishStep(i, envs_[i].Step(action, rngs_[i], obs, info));
  }

  // [cartpole] Steps envs [i0, i0 + kStepBlock) through Env::StepBlock, then does StepOne's bookkeeping for
  // all of them in one loop without data-dependent branches and resets the few that need it in a second one.
  void StepBlockAt(int64_t i0, const Action* actions) {
    const int64_t count = num_envs_ - i0 < kStepBlock ? num_envs_ - i0 : kStepBlock;
    uint8_t skip[kStepBlock];
    StepOut out[kStepBlock];
    const bool next_step = mode_ == Autoreset::kNextStep, same_step = mode_ == Autoreset::kSameStep;
    for (int64_t j = 0; j < count; ++j) skip[j] = next_step & needs_reset_[i0 + j];
    Env::StepBlock(config_, envs_.data() + i0, rngs_.data() + i0, count, actions + i0 * action_size_, skip,
                   obs_.data() + i0 * obs_size_, infos_.data() + i0 * kNumInfo, out);
    // Local restrict pointers: the uint8 stores would otherwise make the compiler reload every buffer pointer.
    const Env* __restrict envs = envs_.data() + i0;
    float* __restrict rewards = rewards_.data() + i0;
    uint8_t* __restrict terms = terminations_.data() + i0;
    uint8_t* __restrict truncs = truncations_.data() + i0;
    uint8_t* __restrict done_out = episode_done_.data() + i0;
    uint8_t* __restrict needs_reset = needs_reset_.data() + i0;
    double* __restrict run_ret = running_return_.data() + i0;
    double* __restrict ep_ret = episode_return_.data() + i0;
    int64_t* __restrict run_len = running_length_.data() + i0;
    int64_t* __restrict ep_len = episode_length_.data() + i0;
    int64_t max_steps[kStepBlock];
    for (int64_t j = 0; j < count; ++j) max_steps[j] = envs[j].MaxSteps();
    float step_rewards[kStepBlock];
    uint8_t step_terms[kStepBlock];
    for (int64_t j = 0; j < count; ++j) {
      step_rewards[j] = out[j].reward;
      step_terms[j] = out[j].terminated;
    }
    int64_t num_done = 0;
    // A skipped env gets ResetOne's values. (GCC keeps this loop scalar in the baseline build: mixed widths,
    // and -ftrapping-math stops it from if-converting FP ops under a condition.)
    for (int64_t j = 0; j < count; ++j) {
      const bool sk = skip[j] != 0, term = !sk & (step_terms[j] != 0);
      const float step_reward = step_rewards[j];
      const double ret0 = run_ret[j], ep_ret0 = ep_ret[j];
      const int64_t len0 = run_len[j], ep_len0 = ep_len[j];
      const float reward = sk ? 0.0f : step_reward;
      const double ret = (sk ? 0.0 : ret0) + reward;  // the add outside the select
      const int64_t len = sk ? 0 : len0 + 1;
      const bool trunc = !sk & !term & (max_steps[j] > 0) & (len >= max_steps[j]), done = term | trunc;
      rewards[j] = reward;
      terms[j] = term;
      truncs[j] = trunc;
      run_ret[j] = ret;
      run_len[j] = len;
      done_out[j] = done;
      ep_ret[j] = done ? ret : ep_ret0;
      ep_len[j] = done ? len : ep_len0;
      needs_reset[j] = same_step ? needs_reset[j] : done;
      num_done += done;
    }
    for (int64_t i = i0; i < i0 + count; ++i)
      if (skip[i - i0]) envs_[i].Reset(rngs_[i], obs_.data() + i * obs_size_, infos_.data() + i * kNumInfo);
    if (!same_step || num_done == 0) return;
    for (int64_t i = i0; i < i0 + count; ++i) {
      if (!episode_done_[i]) continue;
      std::memcpy(final_obs_.data() + i * obs_size_, obs_.data() + i * obs_size_,
                  sizeof(Obs) * static_cast<size_t>(obs_size_));
      std::memcpy(final_infos_.data() + i * kNumInfo, infos_.data() + i * kNumInfo,
                  sizeof(double) * static_cast<size_t>(kNumInfo));
      const float reward = rewards_[i];
      const uint8_t term = terminations_[i], trunc = truncations_[i];
      ResetOne(i);
      rewards_[i] = reward;  // the step's own reward and flags are reported
      terminations_[i] = term;
      truncations_[i] = trunc;
    }
  }

  // The bookkeeping after env i's Step returned `out` (its obs and info are written).
  void FinishStep(int64_t i, const StepOut& out) {
    Obs* obs = obs_.data() + i * obs_size_;
    double* info = infos_.data() + i * kNumInfo;
    running_return_[i] += out.reward;
    running_length_[i] += 1;
    const int64_t max_steps = envs_[i].MaxSteps();
    const bool truncated = !out.terminated && max_steps > 0 && running_length_[i] >= max_steps;
    rewards_[i] = out.reward;
    terminations_[i] = out.terminated;
    truncations_[i] = truncated;
    if (!(out.terminated || truncated)) return;
    episode_done_[i] = 1;
    episode_return_[i] = running_return_[i];
    episode_length_[i] = running_length_[i];
    if (mode_ == Autoreset::kSameStep) {
      std::memcpy(final_obs_.data() + i * obs_size_, obs, sizeof(Obs) * static_cast<size_t>(obs_size_));
      std::memcpy(final_infos_.data() + i * kNumInfo, info, sizeof(double) * static_cast<size_t>(kNumInfo));
      const float reward = rewards_[i];
      ResetOne(i);
      rewards_[i] = reward;  // the step's own reward and flags are reported
      terminations_[i] = out.terminated;
      truncations_[i] = truncated;
    } else {
      needs_reset_[i] = 1;
    }
  }

  Config config_;
  Autoreset mode_;
  int64_t num_envs_ = 0, obs_size_ = 0, action_size_ = 0;
  std::vector<int64_t> obs_shape_;
  std::vector<Env> envs_;
  std::vector<Rng> rngs_;
  std::vector<Obs> obs_, final_obs_;
  std::vector<double> infos_, final_infos_;
  std::vector<float> rewards_;
  std::vector<uint8_t> terminations_, truncations_, needs_reset_, episode_done_;
  std::vector<double> episode_return_, running_return_;
  std::vector<int64_t> episode_length_, running_length_;
};

}  // namespace nextrl::envs
