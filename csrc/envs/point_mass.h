// The course documents' small continuous-control tasks, with their bugs fixed:
//   PointMass       CA18 ContinuousControlEnv: 4-D nonlinear point mass regulated to the origin, 2-D action.
//   CausalThrust    CA17 CausalEnvironment: 1-D thrust, velocity and an external force, known causal graph,
//                   optional do(force = v) intervention; the 200-step limit works and actions are [1]-shaped.
//   HeteroPointMass CA17 BaseEnvironment: 4 reward / noise variants for federated clients. The document added
//                   a 2-D action to a 4-D state (a broadcast error); here the state is a 2-D double integrator
//                   [px, py, vx, vy] with v += dt a, p += dt v (semi-implicit Euler), so every dim is controllable.
// All actions are clipped to [-1, 1] (as the documents do) and must be finite (CheckAction).
// States are double; observations are the state cast to float32.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "envs/control_common.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

// ---------------------------------------------------------------------------------------------- PointMass
// s ~ U(-init_range, init_range)^4 at reset. With a = clip(action, -1, 1):
//   s0' = s0 + 0.1 a0 + 0.05 sin(s1)
//   s1' = s1 + 0.1 a1 + 0.02 s0 s2
//   s2' = 0.9 s2 + 0.1 tanh(a0 + a1)
//   s3' = 0.95 s3 + 0.1 N(0, nuisance_std^2)        (an uncontrollable AR(1) nuisance)
//   then s' += N(0, noise_std^2) on every dim.
// Reward -||s'||^2 - action_cost ||a||^2; terminates when ||s'|| > max_norm; truncates after max_steps.
struct PointMass {
  struct Config {
    double noise_std = 0.02;
    double nuisance_std = 0.1;
    double init_range = 1.0;
    double max_norm = 3.0;
    double action_cost = 0.01;
    int64_t max_steps = 200;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kStateSize = 4, kActionSize = 2;
  static constexpr double kGain = 0.1, kCoupling01 = 0.05, kCoupling102 = 0.02;
  static constexpr double kDecay2 = 0.9, kDecay3 = 0.95, kNuisanceGain = 0.1;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.noise_std >= 0 && c.nuisance_std >= 0 && std::isfinite(c.noise_std) && std::isfinite(c.nuisance_std),
                 std::invalid_argument, "PointMass: noise_std and nuisance_std must be finite and >= 0, got ",
                 c.noise_std, " and ", c.nuisance_std);
    NEXTRL_CHECK(c.init_range >= 0 && std::isfinite(c.init_range), std::invalid_argument,
                 "PointMass: init_range must be finite and >= 0, got ", c.init_range);
    NEXTRL_CHECK(c.max_norm > 0, std::invalid_argument, "PointMass: max_norm must be > 0, got ", c.max_norm);
    NEXTRL_CHECK(std::isfinite(c.action_cost), std::invalid_argument, "PointMass: action_cost must be finite, got ",
                 c.action_cost);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "PointMass: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {kStateSize}; }
  static int64_t ActionSize(const Config&) { return kActionSize; }
  static Bounds ObsBounds(const Config&) { return Symmetric(kStateSize, std::numeric_limits<double>::infinity()); }
  static Bounds ActionBounds(const Config&) { return Symmetric(kActionSize, 1.0); }  // clipped to [-1, 1]
  static const char* CheckAction(const Config&, const Action* a) { return CheckFiniteAction(a, kActionSize); }

  explicit PointMass(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const double* State() const { return s_; }
  static int64_t StateSize(const Config&) { return kStateSize; }
  // State (envs/env_state.h).
  template <class F>
  void VisitState(F&& f) {
    f(s_);
  }

  void Reset(Rng& rng, Obs* obs, double*) {
    for (double& x : s_) x = rng.Uniform(-cfg_->init_range, cfg_->init_range);
    Observe(obs);
  }

  StepOut Step(const Action* action, Rng& rng, Obs* obs, double*) {
    double n[kDraws];
    Draw(rng, n);
    return Apply(action, n, obs);
  }

  // VecEnv's batched step (vec_env.h), with exactly Step's results: an env whose rng is at the same position as
  // the previous stepped env's was before its step gets the same draws, so they are copied, not drawn again (the
  // planners' ExactModel steps many copies of one env and its rng side by side, and the draws are most of a step).
  static void StepBlock(const Config&, PointMass* envs, Rng* rngs, int64_t count, const Action* actions,
                        const uint8_t* skip, Obs* obs, double*, StepOut* out) {
    double n[kDraws];
    int64_t last = -1;  // the last env stepped: n are its draws, rngs[last] its rng after them
    Rng before;         // rngs[last] before its draws
    for (int64_t j = 0; j < count; ++j) {
      if (skip[j]) continue;
      if (last >= 0 && rngs[j].SameState(before)) {
        rngs[j] = rngs[last];
      } else {
        before = rngs[j];
        Draw(rngs[j], n);
      }
      last = j;
      out[j] = envs[j].Apply(actions + j * kActionSize, n, obs + j * kStateSize);
    }
  }

 private:
  static constexpr int kDraws = 1 + kStateSize;  // the nuisance's normal, then one per dim
  static void Draw(Rng& rng, double* n) {
    for (int k = 0; k < kDraws; ++k) n[k] = rng.Normal();
  }
  // The step from the draws n (Draw's).
  StepOut Apply(const Action* action, const double* n, Obs* obs) {
    const Config& c = *cfg_;
    const double a0 = Clip(static_cast<double>(action[0]), -1.0, 1.0);
    const double a1 = Clip(static_cast<double>(action[1]), -1.0, 1.0);
    double next[kStateSize] = {
        s_[0] + kGain * a0 + kCoupling01 * std::sin(s_[1]),
        s_[1] + kGain * a1 + kCoupling102 * s_[0] * s_[2],
        kDecay2 * s_[2] + kGain * std::tanh(a0 + a1),
        kDecay3 * s_[3] + kNuisanceGain * c.nuisance_std * n[0],
    };
    for (int64_t k = 0; k < kStateSize; ++k) s_[k] = next[k] + c.noise_std * n[1 + k];
    const double norm2 = SquaredNorm(s_, kStateSize);
    Observe(obs);
    return {static_cast<float>(-norm2 - c.action_cost * (a0 * a0 + a1 * a1)), norm2 > c.max_norm * c.max_norm};
  }

  void Observe(Obs* obs) const {
    for (int64_t k = 0; k < kStateSize; ++k) obs[k] = static_cast<float>(s_[k]);
  }
  const Config* cfg_;
  double s_[kStateSize] = {};
};

// ------------------------------------------------------------------------------------------- CausalThrust
// State [pos, vel, force]; reset pos = vel = 0, force = clip(N(0, force_init_std^2), -1, 1). With
// a = clip(action, -1, 1), in this order:
//   vel' = clip(vel + 0.1 a + 0.05 force, -max_speed, max_speed)
//   pos' = pos + 0.1 vel'
//   force' = clip(force + N(0, force_walk_std^2), -max_force, max_force)
// Reward -|pos'| - action_cost |a|; terminates when |pos'| > max_position; truncates after max_steps.
// Causal graph (time-lagged): action_t -> vel_t+1, force_t -> vel_t+1, vel_t -> vel_t+1, vel_t+1 -> pos_t+1,
// pos_t -> pos_t+1, force_t -> force_t+1 (summary graph: action -> vel, force -> vel, vel -> pos).
// Intervention do(force = v): SetForceIntervention(v) before a reset fixes force = v for the episodes that
// follow (the random walk is switched off); NaN removes it.
struct CausalThrust {
  struct Config {
    double force_init_std = 0.1;
    double force_walk_std = 0.05;
    double max_speed = 2.0;
    double max_force = 1.0;
    double max_position = 5.0;
    double action_cost = 0.01;
    int64_t max_steps = 200;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 1> kInfoNames{"force_intervened"};
  static constexpr int64_t kStateSize = 3, kActionSize = 1;
  static constexpr double kThrustGain = 0.1, kForceGain = 0.05, kDt = 0.1;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.force_init_std >= 0 && c.force_walk_std >= 0 && std::isfinite(c.force_init_std) &&
                     std::isfinite(c.force_walk_std),
                 std::invalid_argument, "CausalThrust: force_init_std and force_walk_std must be finite and >= 0, got ",
                 c.force_init_std, " and ", c.force_walk_std);
    NEXTRL_CHECK(c.max_speed > 0 && c.max_force >= 0 && c.max_position > 0 && std::isfinite(c.max_speed) &&
                     std::isfinite(c.max_force),
                 std::invalid_argument,
                 "CausalThrust: max_speed and max_position must be > 0 and max_force >= 0 (all finite), got ",
                 c.max_speed, ", ", c.max_position, ", ", c.max_force);
    NEXTRL_CHECK(std::isfinite(c.action_cost), std::invalid_argument, "CausalThrust: action_cost must be finite, got ",
                 c.action_cost);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "CausalThrust: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {kStateSize}; }
  static int64_t ActionSize(const Config&) { return kActionSize; }
  static Bounds ObsBounds(const Config& c) {
    return Symmetric({std::numeric_limits<double>::infinity(), c.max_speed, c.max_force});  // pos, vel, force
  }
  static Bounds ActionBounds(const Config&) { return Symmetric(kActionSize, 1.0); }  // clipped to [-1, 1]
  static const char* CheckAction(const Config&, const Action* a) { return CheckFiniteAction(a, kActionSize); }

  explicit CausalThrust(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const double* State() const { return s_; }
  static int64_t StateSize(const Config&) { return kStateSize; }
  // Precondition (checked in the binding): NaN or |v| <= max_force.
  void SetForceIntervention(double v) { do_force_ = v; }
  double ForceIntervention() const { return do_force_; }
  // State (envs/env_state.h): the dynamics, the pending do(force) and whether this episode is intervened.
  template <class F>
  void VisitState(F&& f) {
    f(s_), f(do_force_), f(intervened_);
  }
  const char* CheckState() const {
    return std::isnan(do_force_) || std::abs(do_force_) <= cfg_->max_force ? nullptr
                                                                           : "has a do(force) beyond max_force";
  }

  void Reset(Rng& rng, Obs* obs, double* info) {
    const Config& c = *cfg_;
    const double f = rng.Normal() * c.force_init_std;
    intervened_ = !std::isnan(do_force_);
    s_[0] = s_[1] = 0.0;
    s_[2] = intervened_ ? do_force_ : Clip(f, -c.max_force, c.max_force);
    Observe(obs, info);
  }

  StepOut Step(const Action* action, Rng& rng, Obs* obs, double* info) {
    const Config& c = *cfg_;
    const double a = Clip(static_cast<double>(action[0]), -1.0, 1.0);
    const double noise = rng.Normal() * c.force_walk_std;
    s_[1] = Clip(s_[1] + kThrustGain * a + kForceGain * s_[2], -c.max_speed, c.max_speed);
    s_[0] += kDt * s_[1];
    if (!intervened_) s_[2] = Clip(s_[2] + noise, -c.max_force, c.max_force);
    Observe(obs, info);
    return {static_cast<float>(-std::abs(s_[0]) - c.action_cost * std::abs(a)), std::abs(s_[0]) > c.max_position};
  }

 private:
  void Observe(Obs* obs, double* info) const {
    for (int64_t k = 0; k < kStateSize; ++k) obs[k] = static_cast<float>(s_[k]);
    info[0] = intervened_ ? 1.0 : 0.0;
  }
  const Config* cfg_;
  double s_[kStateSize] = {};
  double do_force_ = std::numeric_limits<double>::quiet_NaN();
  bool intervened_ = false;
};

// ---------------------------------------------------------------------------------------- HeteroPointMass
// State [px, py, vx, vy] ~ U(-init_range, init_range)^4 at reset. With a = clip(action, -1, 1):
//   v' = v + 0.1 a,  p' = p + 0.1 v',  then s' += N(0, sigma^2) on every dim, sigma = noise_std (1 + 0.2 variant).
// Reward by variant (the document's), on s':
//   0: -||s'||^2 - c ||a||^2       1: sum(s') - ||s'||^2 - c ||a||^2
//   2: +1 if ||s'|| < 0.5 else -0.1 ||s'||                 3: sin(sum(s')) - c ||a||^2      (c = action_cost)
// Terminates when ||s'|| > max_norm; truncates after max_steps. Each env keeps its own variant (SetVariant,
// applied at its next reset; Config::variant is the default), so one batch can hold every client type.
struct HeteroPointMass {
  struct Config {
    int64_t variant = 0;
    double noise_std = 0.1;
    double init_range = 0.5;
    double max_norm = 5.0;
    double action_cost = 0.01;
    int64_t max_steps = 150;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 1> kInfoNames{"variant"};
  static constexpr int64_t kStateSize = 4, kActionSize = 2, kNumVariants = 4;
  static constexpr double kDt = 0.1, kNoisePerVariant = 0.2, kGoalRadius = 0.5, kGoalReward = 1.0,
                          kDistancePenalty = 0.1;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.variant >= 0 && c.variant < kNumVariants, std::invalid_argument,
                 "HeteroPointMass: variant must be in [0, 4), got ", c.variant);
    NEXTRL_CHECK(c.noise_std >= 0 && std::isfinite(c.noise_std), std::invalid_argument,
                 "HeteroPointMass: noise_std must be finite and >= 0, got ", c.noise_std);
    NEXTRL_CHECK(c.init_range >= 0 && std::isfinite(c.init_range), std::invalid_argument,
                 "HeteroPointMass: init_range must be finite and >= 0, got ", c.init_range);
    NEXTRL_CHECK(c.max_norm > 0, std::invalid_argument, "HeteroPointMass: max_norm must be > 0, got ", c.max_norm);
    NEXTRL_CHECK(std::isfinite(c.action_cost), std::invalid_argument,
                 "HeteroPointMass: action_cost must be finite, got ", c.action_cost);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "HeteroPointMass: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {kStateSize}; }
  static int64_t ActionSize(const Config&) { return kActionSize; }
  static Bounds ObsBounds(const Config&) { return Symmetric(kStateSize, std::numeric_limits<double>::infinity()); }
  static Bounds ActionBounds(const Config&) { return Symmetric(kActionSize, 1.0); }  // clipped to [-1, 1]
  static const char* CheckAction(const Config&, const Action* a) { return CheckFiniteAction(a, kActionSize); }

  explicit HeteroPointMass(const Config& c) : cfg_(&c), next_variant_(c.variant), variant_(c.variant) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const double* State() const { return s_; }
  static int64_t StateSize(const Config&) { return kStateSize; }
  // Precondition (checked in the binding): 0 <= v < kNumVariants.
  void SetVariant(int64_t v) { next_variant_ = v; }
  int64_t Variant() const { return variant_; }
  // State (envs/env_state.h): the dynamics, this episode's variant and the next reset's.
  template <class F>
  void VisitState(F&& f) {
    f(s_), f(next_variant_), f(variant_);
  }
  const char* CheckState() const {
    const bool ok = variant_ >= 0 && variant_ < kNumVariants && next_variant_ >= 0 && next_variant_ < kNumVariants;
    return ok ? nullptr : "has a variant outside [0, 4)";
  }

  void Reset(Rng& rng, Obs* obs, double* info) {
    variant_ = next_variant_;
    for (double& x : s_) x = rng.Uniform(-cfg_->init_range, cfg_->init_range);
    Observe(obs, info);
  }

  StepOut Step(const Action* action, Rng& rng, Obs* obs, double* info) {
    const Config& c = *cfg_;
    const double a[2] = {Clip(static_cast<double>(action[0]), -1.0, 1.0),
                         Clip(static_cast<double>(action[1]), -1.0, 1.0)};
    const double sigma = c.noise_std * (1.0 + kNoisePerVariant * static_cast<double>(variant_));
    for (int k = 0; k < 2; ++k) {
      s_[2 + k] += kDt * a[k];
      s_[k] += kDt * s_[2 + k];
    }
    for (double& x : s_) x += sigma * rng.Normal();
    const double norm2 = SquaredNorm(s_, kStateSize), norm = std::sqrt(norm2);
    const double sum = s_[0] + s_[1] + s_[2] + s_[3];
    const double cost = c.action_cost * (a[0] * a[0] + a[1] * a[1]);
    double reward;
    switch (variant_) {
      case 0:
        reward = -norm2 - cost;
        break;
      case 1:
        reward = sum - norm2 - cost;
        break;
      case 2:
        reward = norm < kGoalRadius ? kGoalReward : -kDistancePenalty * norm;
        break;
      default:
        reward = std::sin(sum) - cost;
        break;
    }
    Observe(obs, info);
    return {static_cast<float>(reward), norm > c.max_norm};
  }

 private:
  void Observe(Obs* obs, double* info) const {
    for (int64_t k = 0; k < kStateSize; ++k) obs[k] = static_cast<float>(s_[k]);
    info[0] = static_cast<double>(variant_);
  }
  const Config* cfg_;
  double s_[kStateSize] = {};
  int64_t next_variant_, variant_;
};

}  // namespace nextrl::envs
