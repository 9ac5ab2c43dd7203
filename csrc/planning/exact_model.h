// ExactModel<Env>: the exact-dynamics rollout model. It holds one start state per problem, decoded from rows of
// VecEnv<Env>::GetState (envs/env_state.h: the env's State, then its Rng, then the driver's part, which is
// ignored here), and evaluates candidate action sequences by stepping copies of that env, Rng included, through
// the env's own Step (or its StepBlock, which gives the same results): a rollout equals stepping the real env
// from the same state with the same actions, noise and all (every candidate of a problem sees the same draws).
// The driver's time limit is not applied (the planner sees the dynamics, not the episode's clock).
//
// Actions: a candidate's float64 elements are cast to float for continuous envs; for discrete envs (Action =
// int64_t, one element) the element x in the box [0, num_actions] picks action min(floor(x), num_actions - 1)
// (a continuous relaxation, so the Gaussian planners apply unchanged).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "envs/env_state.h"
#include "envs/vec_env.h"
#include "planning/rollout_model.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace nextrl::planning {

// Actions of a discrete env (1 for continuous ones).
template <class Env>
int64_t NumDiscreteActions(const typename Env::Config& c) {
  if constexpr (!std::is_integral_v<typename Env::Action>) {
    return 1;
  } else if constexpr (requires { Env::NumActions(c); }) {
    return Env::NumActions(c);
  } else {
    return Env::kNumActions;
  }
}

template <class Env>
class ExactModel final : public RolloutModel {
 public:
  using Config = typename Env::Config;
  using Action = typename Env::Action;
  using Obs = typename Env::Obs;
  static constexpr bool kDiscrete = std::is_integral_v<Action>;
  static constexpr int64_t kNumInfo = static_cast<int64_t>(Env::kInfoNames.size());

  // config: a validated and Prepare'd config (a VecEnv's, which is both); state_bytes: the length of that
  // VecEnv's state rows. The model keeps its own copy of the config.
  ExactModel(const Config& config, int64_t state_bytes)
      : config_(std::make_unique<Config>(config)), state_bytes_(state_bytes) {
    action_size_ = Env::ActionSize(*config_);
    obs_size_ = 1;
    for (int64_t d : Env::ObsShape(*config_)) obs_size_ *= d;
    num_actions_ = NumDiscreteActions<Env>(*config_);
  }

  int64_t num_problems() const override { return static_cast<int64_t>(starts_.size()); }
  int64_t action_dim() const override { return action_size_; }
  int64_t state_bytes() const { return state_bytes_; }
  int64_t num_actions() const { return num_actions_; }
  const Config& config() const { return *config_; }

  // rows: [count, state_bytes] rows of VecEnv<Env>::GetState; problem i starts from row i. Every row is checked
  // before anything changes: throws std::invalid_argument naming the first bad one.
  void SetStates(const uint8_t* rows, int64_t count) {
    std::vector<Env> envs;
    std::vector<Rng> rngs(static_cast<size_t>(count));
    envs.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      envs.emplace_back(*config_);
      envs::StateReader f{rows + i * state_bytes_};
      envs.back().VisitState(f);
      rngs[static_cast<size_t>(i)].VisitState(f);
      const char* err = f.error;
      if (err == nullptr) err = envs::CheckEnvState(envs.back());
      if (err == nullptr) err = rngs[static_cast<size_t>(i)].CheckState();
      NEXTRL_CHECK(err == nullptr, std::invalid_argument, "set_states: states[", i,
                   "] must be a row of get_state() of an env of this type and config, got one that ", err);
    }
    starts_ = std::move(envs);
    rngs_ = std::move(rngs);
  }

  void Evaluate(int64_t b, const double* actions, int64_t count, int64_t horizon, double gamma,
                double* returns) const override {
    for (int64_t j0 = 0; j0 < count; j0 += envs::kStepBlock) {
      const int64_t m = std::min(envs::kStepBlock, count - j0);
      EvaluateBlock(b, actions + j0 * horizon * action_size_, m, horizon, gamma, returns + j0);
    }
  }

 private:
  // count <= kStepBlock candidates stepped side by side, as VecEnv steps a block.
  void EvaluateBlock(int64_t b, const double* actions, int64_t count, int64_t horizon, double gamma,
                     double* returns) const {
    const size_t n = static_cast<size_t>(count);
    std::vector<Env> envs(n, starts_[static_cast<size_t>(b)]);
    std::vector<Rng> rngs(n, rngs_[static_cast<size_t>(b)]);
    std::vector<Action> act(n * static_cast<size_t>(action_size_));
    std::vector<Obs> obs(n * static_cast<size_t>(obs_size_));
    std::vector<double> info(std::max<size_t>(1, n * static_cast<size_t>(kNumInfo)));
    std::vector<envs::StepOut> out(n);
    alignas(8) uint8_t done[envs::kStepBlock] = {};
    // Locals, not members, in the action loop: its stores (int64_t actions for discrete envs) may alias the
    // members, which then were reloaded and reconverted every element (a quarter of CartPole's plan time).
    const int64_t A = action_size_, row = horizon * A;
    const double top = static_cast<double>(num_actions_ - 1);
    Action* act_p = act.data();
    for (int64_t j = 0; j < count; ++j) returns[j] = 0.0;
    double discount = 1.0;
    for (int64_t h = 0; h < horizon; ++h) {
      for (int64_t j = 0; j < count; ++j)
        for (int64_t a = 0; a < A; ++a) act_p[j * A + a] = ToAction(actions[j * row + h * A + a], top);
      if constexpr (envs::HasStepBlock<Env>) {
        Env::StepBlock(*config_, envs.data(), rngs.data(), count, act.data(), done, obs.data(), info.data(),
                       out.data());
      } else {
        for (int64_t j = 0; j < count; ++j)
          if (!done[j])
            out[static_cast<size_t>(j)] =
                envs[static_cast<size_t>(j)].Step(act.data() + j * action_size_, rngs[static_cast<size_t>(j)],
                                                  obs.data() + j * obs_size_, info.data() + j * kNumInfo);
      }
      uint8_t all_done = 1;
      for (int64_t j = 0; j < count; ++j) {
        if (!done[j]) {
          returns[j] += discount * static_cast<double>(out[static_cast<size_t>(j)].reward);
          done[j] = out[static_cast<size_t>(j)].terminated ? 1 : 0;
        }
        all_done &= done[j];
      }
      if (all_done) break;
      discount *= gamma;
    }
  }

  // top: num_actions - 1 as a double (discrete envs).
  static Action ToAction(double x, [[maybe_unused]] double top) {
    if constexpr (kDiscrete) {
      // NaN and f <= 0 give 0. Without branches where SSE2 is (maxsd / minsd compute exactly these two selects):
      // random candidates make the branches a coin flip.
      const double f = std::floor(x);
#ifdef __SSE2__
      const __m128d lo = _mm_max_sd(_mm_set_sd(f), _mm_setzero_pd());  // f > 0 ? f : 0
      return static_cast<Action>(_mm_cvtsd_f64(_mm_min_sd(lo, _mm_set_sd(top))));  // lo < top ? lo : top
#else
      const double lo = f > 0.0 ? f : 0.0;
      return static_cast<Action>(lo < top ? lo : top);
#endif
    } else {
      return static_cast<Action>(x);
    }
  }

  std::unique_ptr<Config> config_;  // the envs point to it: its address never changes
  int64_t state_bytes_ = 0, action_size_ = 1, obs_size_ = 1, num_actions_ = 1;
  std::vector<Env> starts_;
  std::vector<Rng> rngs_;
};

}  // namespace nextrl::planning
