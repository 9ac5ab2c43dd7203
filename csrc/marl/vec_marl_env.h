// VecMarlEnv<Env>: N copies of one multi-agent environment stepped in one call, writing into
// preallocated buffers shaped [num_envs, num_agents, ...]. The multi-agent twin of envs::VecEnv<Env>
// (csrc/envs/vec_env.h) on the same envs::DriverCore (csrc/envs/driver_core.h): same construction checks,
// autoreset modes, per-env Philox stream Rng(seed + i, 0), resets, batched state framing and validation
// of every action before anything moves.
//
// A multi-agent Env is a plain struct:
//   struct Config { ... };
//   using Obs = float;  using Action = int64_t | float;
//   static constexpr std::array<const char*, K> kInfoNames;   per-env scalar infos
//   static void Validate(const Config&);                       throws std::invalid_argument
//   static std::vector<AgentGroup> Groups(const Config&);      contiguous agent groups, in agent order
//   static int64_t StateSize(const Config&);                   global state for centralized critics
//   static int64_t ActionSize(const Config&);                  per agent; 1 for a Discrete action
//   static int64_t NumActions(const Config&);                  Discrete size (action masks); 0 if continuous
//   static const char* CheckAction(const Config&, int64_t agent, const Action* a);  nullptr if valid
//   explicit Env(const Config&);
//   int64_t MaxSteps() const;                                  truncation after this many steps; 0: never
//   void Reset(Rng&, const MarlSlot<Obs>&);                    writes obs, state, masks, infos
//   void Step(const Action* actions /*[num_agents, action_size]*/, Rng&, const MarlSlot<Obs>&);
// Step writes every agent's observation row (padded with zeros past its group's obs_size), reward and
// termination flag, the state, the action masks (when NumActions > 0) and every info entry; Reset writes
// all but rewards and flags. They never throw, allocate or print. Action masks are advisory: a masked
// action is legal and does what the env documents (e.g. a move into the border stays in place).
//
// Heterogeneous agents: the observation buffer has the largest group's obs_size per agent; an agent of a
// group with a smaller obs_size uses the first obs_size entries of its row, the rest are 0. Action size
// and Discrete size are common to all agents.
//
// Agents finish individually. active[i, a] = 1 while agent a of env i is in its episode: its action is
// used and its reward counts. On the step where it terminates (the env says so) or is truncated (the env
// reached MaxSteps), its flag is 1 and it becomes inactive; afterwards its reward and flags are 0, its
// action is ignored (not validated) and its observation is whatever the env writes (envs freeze it).
// An env's episode ends when no agent is active; autoreset then follows Gymnasium 1.x as in vec_env.h:
//   kNextStep: the next step resets it, ignores its actions and returns first observations, reward 0.
//   kSameStep: it is reset inside the same step; final observations / state / infos go to final_*.
//   kDisabled: it must be reset explicitly (Reset with a mask); stepping it is an error.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/check.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "common/rng.h"
#include "envs/driver_core.h"
#include "envs/env_state.h"

namespace nextrl::marl {

using envs::Autoreset;
using envs::kMinParallelEnvs;

// Agents first .. first + count - 1 form one group (predators, prey, ...); they share obs_size.
struct AgentGroup {
  std::string name;
  int64_t count;
  int64_t obs_size;
};

// One env's rows of the driver's buffers (non-owning).
template <class Obs>
struct MarlSlot {
  Obs* obs;               // [num_agents, obs_size]
  float* state;           // [state_size]
  float* rewards;         // [num_agents]
  uint8_t* terminated;    // [num_agents]
  uint8_t* action_mask;   // [num_agents, num_actions]; nullptr when the actions are continuous
  double* info;           // [num_info]
  const uint8_t* active;  // [num_agents], read only: agents still in the episode
};

// Fills an action mask with ones (every action legal); for envs without constraints.
inline void AllowAll(uint8_t* mask, int64_t n) {
  if (mask != nullptr) std::memset(mask, 1, static_cast<size_t>(n));
}

template <class Env>
class VecMarlEnv : public envs::DriverCore<VecMarlEnv<Env>, Env> {
  using Base = envs::DriverCore<VecMarlEnv<Env>, Env>;
  friend Base;
  using Base::config_, Base::mode_, Base::num_envs_, Base::envs_, Base::rngs_, Base::needs_reset_, Base::episode_done_,
      Base::num_done_;

 public:
  using Base::kNumInfo;
  using typename Base::Action, typename Base::Config, typename Base::Obs;
  using Slot = MarlSlot<Obs>;

  VecMarlEnv(int64_t num_envs, const Config& config, Autoreset mode)
      : Base("VecMarlEnv", num_envs, config, mode, [](const Config& c) {
          int64_t agents = 0, obs = 0;
          for (const AgentGroup& g : Env::Groups(c)) agents += g.count, obs = std::max(obs, g.obs_size);
          return static_cast<double>(agents) * (2.0 * sizeof(Obs) * obs + 40.0 + Env::NumActions(c)) +
                 8.0 * Env::StateSize(c) + 16.0 * kNumInfo + 30.0;
        }) {
    groups_ = Env::Groups(config_);
    for (const AgentGroup& g : groups_) {
      for (int64_t k = 0; k < g.count; ++k) {
        agent_names_.push_back(g.name + "_" + std::to_string(k));
      }
      num_agents_ += g.count;
      obs_size_ = std::max(obs_size_, g.obs_size);
    }
    state_size_ = Env::StateSize(config_);
    action_size_ = Env::ActionSize(config_);
    num_actions_ = Env::NumActions(config_);
    const size_t n = static_cast<size_t>(num_envs), na = n * static_cast<size_t>(num_agents_);
    obs_.assign(na * static_cast<size_t>(obs_size_), Obs{});
    final_obs_.assign(obs_.size(), Obs{});
    state_.assign(n * static_cast<size_t>(state_size_), 0.0f);
    final_state_.assign(state_.size(), 0.0f);
    masks_.assign(na * static_cast<size_t>(num_actions_), 1);
    infos_.assign(n * static_cast<size_t>(kNumInfo), 0.0);
    final_infos_.assign(infos_.size(), 0.0);
    rewards_.assign(na, 0.0f);
    terminations_.assign(na, 0);
    truncations_.assign(na, 0);
    active_.assign(na, 0);
    active_scratch_.assign(na, 0);
    episode_return_.assign(na, 0.0);
    running_return_.assign(na, 0.0);
    episode_length_.assign(n, 0);
    running_length_.assign(n, 0);
  }

  // actions: [num_envs, num_agents, action_size]. Validates every used action before any env moves.
  // Returns the number of envs that finished an episode in this call (those with episode_done set).
  int64_t Step(const Action* actions) {
    for (int64_t i = 0; i < num_envs_; ++i) {
      if (this->ActionsIgnored(i)) continue;
      for (int64_t a = 0; a < num_agents_; ++a) {
        if (!active_[i * num_agents_ + a]) continue;
        const char* err = Env::CheckAction(config_, a, actions + (i * num_agents_ + a) * action_size_);
        NEXTRL_CHECK(err == nullptr, std::invalid_argument, "step: actions[", i, ", ", a, "] (agent '", agent_names_[a],
                     "') ", err);
      }
    }
    ParallelFor(num_envs_, kMinParallelEnvs, [&](int64_t i) { StepOne(i, actions + i * num_agents_ * action_size_); });
    this->CountDone();
    return num_done_;
  }

  int64_t num_agents() const { return num_agents_; }
  int64_t obs_size() const { return obs_size_; }
  int64_t state_size() const { return state_size_; }
  int64_t action_size() const { return action_size_; }
  int64_t num_actions() const { return num_actions_; }
  const std::vector<AgentGroup>& groups() const { return groups_; }
  const std::vector<std::string>& agent_names() const { return agent_names_; }

  // Buffers, rewritten by every call, row-major.
  Obs* obs() { return obs_.data(); }                    // [N, A, obs_size]
  Obs* final_obs() { return final_obs_.data(); }        // [N, A, obs_size]
  float* state() { return state_.data(); }              // [N, state_size]
  float* final_state() { return final_state_.data(); }  // [N, state_size]
  uint8_t* action_masks() { return masks_.data(); }     // [N, A, num_actions]
  double* infos() { return infos_.data(); }             // [N, K]
  double* final_infos() { return final_infos_.data(); }
  float* rewards() { return rewards_.data(); }          // [N, A]
  uint8_t* terminations() { return terminations_.data(); }
  uint8_t* truncations() { return truncations_.data(); }
  uint8_t* active() { return active_.data(); }          // [N, A]: in the episode after this call
  // When episode_done[i] (DriverCore) is set, env i's finished episode's per-agent returns and length.
  double* episode_return() { return episode_return_.data(); }  // [N, A]
  int64_t* episode_length() { return episode_length_.data(); }  // [N]

  // Batched state: DriverCore's state_bytes / GetState / SetState. VecMarlEnv's part of a row: its counters
  // (needs_reset, episode_done, running and finished length; per agent active, last reward and flags,
  // running and finished return) and its observation, state, action-mask and info rows.

 private:
  Slot SlotOf(int64_t i, const uint8_t* active) {
    const int64_t A = num_agents_;
    return Slot{obs_.data() + i * A * obs_size_,
                state_.data() + i * state_size_,
                rewards_.data() + i * A,
                terminations_.data() + i * A,
                num_actions_ > 0 ? masks_.data() + i * A * num_actions_ : nullptr,
                infos_.data() + i * kNumInfo,
                active};
  }

  // Env::Reset writes observations, state, masks and infos; rewards and flags are the driver's.
  void ResetOne(int64_t i, bool clear_step_outputs = true) {
    const int64_t A = num_agents_;
    std::memset(active_.data() + i * A, 1, static_cast<size_t>(A));
    std::memset(obs_.data() + i * A * obs_size_, 0, sizeof(Obs) * static_cast<size_t>(A * obs_size_));
    envs_[i].Reset(rngs_[i], SlotOf(i, active_.data() + i * A));
    for (int64_t a = 0; a < A; ++a) {
      if (clear_step_outputs) {
        rewards_[i * A + a] = 0.0f;
        terminations_[i * A + a] = truncations_[i * A + a] = 0;
      }
      running_return_[i * A + a] = 0.0;
    }
    needs_reset_[i] = 0;
    running_length_[i] = 0;
  }

  void StepOne(int64_t i, const Action* actions) {
    const int64_t A = num_agents_;
    episode_done_[i] = 0;
    if (needs_reset_[i] && mode_ == Autoreset::kNextStep) {
      ResetOne(i);
      return;
    }
    // The env sees the agents active before this step (a copy: the driver updates active_ after).
    uint8_t* was_active = active_scratch_.data() + i * A;
    std::memcpy(was_active, active_.data() + i * A, static_cast<size_t>(A));
    envs_[i].Step(actions, rngs_[i], SlotOf(i, was_active));
    running_length_[i] += 1;
    const int64_t max_steps = envs_[i].MaxSteps();
    const bool time_up = max_steps > 0 && running_length_[i] >= max_steps;
    bool any_active = false;
    for (int64_t a = 0; a < A; ++a) {
      const int64_t k = i * A + a;
      if (!was_active[a]) {
        rewards_[k] = 0.0f;
        terminations_[k] = truncations_[k] = 0;
        continue;
      }
      terminations_[k] = terminations_[k] ? 1 : 0;
      truncations_[k] = time_up ? 1 : 0;  // as Gymnasium's TimeLimit: on the last step, terminated or not
      running_return_[k] += rewards_[k];
      active_[k] = !(terminations_[k] || truncations_[k]);
      any_active = any_active || active_[k];
    }
    if (any_active) return;
    episode_done_[i] = 1;
    episode_length_[i] = running_length_[i];
    for (int64_t a = 0; a < A; ++a) episode_return_[i * A + a] = running_return_[i * A + a];
    if (mode_ == Autoreset::kSameStep) {
      std::memcpy(final_obs_.data() + i * A * obs_size_, obs_.data() + i * A * obs_size_,
                  sizeof(Obs) * static_cast<size_t>(A * obs_size_));
      std::memcpy(final_state_.data() + i * state_size_, state_.data() + i * state_size_,
                  sizeof(float) * static_cast<size_t>(state_size_));
      std::memcpy(final_infos_.data() + i * kNumInfo, infos_.data() + i * kNumInfo,
                  sizeof(double) * static_cast<size_t>(kNumInfo));
      ResetOne(i, /*clear_step_outputs=*/false);  // the step's own rewards and flags are reported
    } else {
      needs_reset_[i] = 1;
    }
  }

  // The driver's per-env part of a state row.
  struct Counters {
    bool needs_reset = false, episode_done = false;
    int64_t running_length = 0, episode_length = 0;
    std::vector<uint8_t> active, terminated, truncated;  // [A] 0 / 1, visited as flags
    std::vector<float> reward;                            // [A]
    std::vector<double> running_return, episode_return;   // [A]
    explicit Counters(int64_t A)
        : active(static_cast<size_t>(A)),
          terminated(static_cast<size_t>(A)),
          truncated(static_cast<size_t>(A)),
          reward(static_cast<size_t>(A)),
          running_return(static_cast<size_t>(A)),
          episode_return(static_cast<size_t>(A)) {}
    const char* Check() const {
      return running_length < 0 || episode_length < 0 ? "has a negative episode length" : nullptr;
    }
    template <class F>
    void VisitState(F& f) {
      f(needs_reset), f(episode_done), f(running_length), f(episode_length);
      const int64_t A = static_cast<int64_t>(active.size());
      for (auto* flags : {&active, &terminated, &truncated}) envs::VisitFlags(f, envs::FlagRow{flags->data(), A});
      f(reward), f(running_return), f(episode_return);
    }
  };
  Counters NewCounters() const { return Counters(num_agents_); }
  Counters CountersOf(int64_t i) const {
    const int64_t A = num_agents_;
    Counters c(A);
    c.needs_reset = needs_reset_[i] != 0, c.episode_done = episode_done_[i] != 0;
    c.running_length = running_length_[i], c.episode_length = episode_length_[i];
    for (int64_t a = 0; a < A; ++a) {
      const size_t k = static_cast<size_t>(i * A + a), j = static_cast<size_t>(a);
      c.active[j] = active_[k], c.terminated[j] = terminations_[k], c.truncated[j] = truncations_[k];
      c.reward[j] = rewards_[k], c.running_return[j] = running_return_[k], c.episode_return[j] = episode_return_[k];
    }
    return c;
  }
  void SetCounters(int64_t i, const Counters& c) {
    const int64_t A = num_agents_;
    needs_reset_[i] = c.needs_reset, episode_done_[i] = c.episode_done;
    running_length_[i] = c.running_length, episode_length_[i] = c.episode_length;
    for (int64_t a = 0; a < A; ++a) {
      const size_t k = static_cast<size_t>(i * A + a), j = static_cast<size_t>(a);
      active_[k] = c.active[j], terminations_[k] = c.terminated[j], truncations_[k] = c.truncated[j];
      rewards_[k] = c.reward[j], running_return_[k] = c.running_return[j], episode_return_[k] = c.episode_return[j];
    }
  }
  // One env's buffer rows (null: sizing only).
  struct Rows {
    Obs* obs = nullptr;
    float* state = nullptr;
    uint8_t* masks = nullptr;
    double* info = nullptr;
  };
  Rows RowsOf(int64_t i) {
    const int64_t A = num_agents_;
    return Rows{obs_.data() + i * A * obs_size_, state_.data() + i * state_size_, masks_.data() + i * A * num_actions_,
                infos_.data() + i * kNumInfo};
  }
  struct Scratch {
    std::vector<Obs> obs;
    std::vector<float> state;
    std::vector<uint8_t> masks;
    std::vector<double> info;
    explicit Scratch(const VecMarlEnv& v)
        : obs(static_cast<size_t>(v.num_agents_ * v.obs_size_)),
          state(static_cast<size_t>(v.state_size_) + 1),
          masks(static_cast<size_t>(v.num_agents_ * v.num_actions_) + 1),
          info(static_cast<size_t>(kNumInfo) + 1) {}
    Rows rows() { return Rows{obs.data(), state.data(), masks.data(), info.data()}; }
  };
  template <class F>
  void VisitRows(F& f, Rows r) const {
    f(r.obs, num_agents_ * obs_size_);
    f(r.state, state_size_);
    if constexpr (std::is_same_v<F, envs::StateSizer>) {
      f(r.masks, num_agents_ * num_actions_);
    } else {
      envs::VisitFlags(f, envs::FlagRow{r.masks, num_agents_ * num_actions_});
    }
    f(r.info, kNumInfo);
  }

  int64_t num_agents_ = 0, obs_size_ = 0, state_size_ = 0, action_size_ = 0, num_actions_ = 0;
  std::vector<AgentGroup> groups_;
  std::vector<std::string> agent_names_;
  std::vector<Obs> obs_, final_obs_;
  std::vector<float> state_, final_state_, rewards_;
  std::vector<uint8_t> masks_;
  std::vector<double> infos_, final_infos_;
  std::vector<uint8_t> terminations_, truncations_, active_, active_scratch_;
  std::vector<double> episode_return_, running_return_;
  std::vector<int64_t> episode_length_, running_length_;
};

}  // namespace nextrl::marl
