// CartPole and Pendulum with the dynamics, rewards, terminations and time limits of Gymnasium's
// CartPole-v1 and Pendulum-v1 (gymnasium/envs/classic_control/{cartpole,pendulum}.py, Gymnasium 1.x).
// States are double as in Gymnasium; observations are float32. Where Gymnasium's NumPy 2 code computes
// in float32 (a float32 action times a Python float), the same float32 operation is done here, so a step
// from the same state agrees to the last bits of float32.
#pragma once
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "common/simd_math.h"
#include "envs/control_common.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

// ----------------------------------------------------------------------------------------------- CartPole
// Barto, Sutton & Anderson (1983), Euler integration with tau = 0.02. State [x, x_dot, theta, theta_dot]
// ~ U(init_low, init_high)^4 at reset. Action 0 pushes left, 1 right, with force force_mag. Terminates when
// |x| > 2.4 or |theta| > 12 degrees. Reward 1 per step (terminating step included); with
// sutton_barto_reward, 0 per step and -1 on the terminating step. Truncates after max_steps (500: v1).
// The physical constants are config fields with Gymnasium's values as defaults (gravity 9.8, masscart 1.0,
// masspole 0.1, length 0.5 = half the pole's length, force_mag 10.0); total_mass and polemass_length are
// formed from them at each step as Gymnasium forms them, so the defaults give Gymnasium's bits.
struct CartPole {
  struct Config {
    bool sutton_barto_reward = false;
    int64_t max_steps = 500;
    double init_low = -0.05, init_high = 0.05;
    double gravity = 9.8, masscart = 1.0, masspole = 0.1;
    double length = 0.5;  // half the pole's length
    double force_mag = 10.0;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kStateSize = 4, kNumActions = 2;
  static constexpr double kTau = 0.02;
  static constexpr double kThetaThreshold = 12 * 2 * 3.14159265358979323846 / 360, kXThreshold = 2.4;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(std::isfinite(c.init_low) && std::isfinite(c.init_high) && c.init_low <= c.init_high,
                 std::invalid_argument,
                 "CartPole: init_low and init_high must be finite with init_low <= init_high, got ", c.init_low,
                 " and ", c.init_high);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "CartPole: max_steps must be >= 0, got ", c.max_steps);
    const std::pair<const char*, double> physical[] = {{"gravity", c.gravity},
                                                       {"masscart", c.masscart},
                                                       {"masspole", c.masspole},
                                                       {"length", c.length},
                                                       {"force_mag", c.force_mag}};
    for (const auto& [name, v] : physical)
      NEXTRL_CHECK(std::isfinite(v) && v > 0, std::invalid_argument, "CartPole: ", name,
                   " must be finite and > 0, got ", v);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {kStateSize}; }
  static int64_t ActionSize(const Config&) { return 1; }
  // Gymnasium's: twice the termination thresholds for x and theta, velocities unbounded.
  static Bounds ObsBounds(const Config&) {
    const double inf = std::numeric_limits<double>::infinity();
    return Symmetric({2 * kXThreshold, inf, 2 * kThetaThreshold, inf});
  }
  static const char* CheckAction(const Config&, const Action* a) {
    return (*a == 0 || *a == 1) ? nullptr : "must be 0 or 1";
  }
  static bool AllActionsValid(const Config&, const Action* a, int64_t count) { return AllBelow(a, count, kNumActions); }

  explicit CartPole(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const double* State() const { return s_; }
  void SetState(const double* s) {
    for (int64_t k = 0; k < kStateSize; ++k) s_[k] = s[k];
  }
  static int64_t StateSize(const Config&) { return kStateSize; }
  // State (envs/env_state.h): [x, x_dot, theta, theta_dot].
  template <class F>
  void VisitState(F&& f) {
    f(s_);
  }

  void Reset(Rng& rng, Obs* obs, double*) {
    rng.Uniforms(cfg_->init_low, cfg_->init_high, s_, kStateSize);
    Observe(obs);
  }

  // Gymnasium's CartPoleEnv.step ("euler" integrator), operation for operation, on D = double or V4d (four
  // envs, one per lane): s -> next (may alias); returns whether the new state is out of bounds (a bool,
  // or a V4i lane mask).
  template <class D>
  __attribute__((always_inline)) static auto Dynamics(const Config& c, const D* s, D force, D sintheta, D costheta,
                                                      D* next) -> decltype(D{} < 0.0) {
    const double total_mass = c.masspole + c.masscart, polemass_length = c.masspole * c.length;
    const D x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    const D temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
    const D thetaacc = (c.gravity * sintheta - costheta * temp) /
                       (c.length * (4.0 / 3.0 - c.masspole * (costheta * costheta) / total_mass));
    const D xacc = temp - polemass_length * thetaacc * costheta / total_mass;
    next[0] = x + kTau * x_dot;
    next[1] = x_dot + kTau * xacc;
    next[2] = theta + kTau * theta_dot;
    next[3] = theta_dot + kTau * thetaacc;
    return (next[0] < -kXThreshold) | (next[0] > kXThreshold) | (next[2] < -kThetaThreshold) |
           (next[2] > kThetaThreshold);
  }
  StepOut Step(const Action* a, Rng&, Obs* obs, double*) {
    double sintheta, costheta;
    SinCos(s_[2], sintheta, costheta);
    const bool terminated = Dynamics(*cfg_, s_, *a == 1 ? cfg_->force_mag : -cfg_->force_mag, sintheta, costheta, s_);
    Observe(obs);
    return {Reward(*cfg_, terminated), terminated};
  }

  // VecEnv's batched step: envs[j] for every j in [0, count) with skip[j] == 0, with exactly Step's
  // results (the same operations in the same order: Dynamics and SinCosSmallCore on four lanes equal four
  // scalar calls, and SinCosSmallCore equals SinCos where it applies). Envs with skip[j] != 0 keep their
  // state; their obs and out entries are written with junk. Groups of 4 envs are loaded as rows, turned
  // into columns x, x_dot, theta, theta_dot by a 4x4 transpose, stepped as one V4d each (AVX2 clone where
  // the CPU has it, no FMA, see common/simd_math.h) and transposed back, kGroups groups at a time. The
  // sincos skips its range reduction, so every |theta| of those groups must be <= kSinCosSmallArg
  // (always, in practice: an episode ends at 0.21); groups with some |theta| beyond (or NaN), and the
  // count % 4 last envs, step env by env through Step.
  NEXTRL_TARGET_CLONES_AVX2
  static void StepBlock(const Config& c, CartPole* envs, Rng* rngs, int64_t count, const Action* actions,
                        const uint8_t* skip, Obs* obs, double* info, StepOut* out) {
    // out[j] = {reward, terminated} as one 8-byte word: the reward's bits, then the bool.
    static_assert(sizeof(StepOut) == 8 && offsetof(StepOut, terminated) == 4 &&
                  __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
    const Words words{OutWord(Reward(c, true), true), OutWord(Reward(c, false), false)};
    int64_t j = 0;
    for (; j + 4 * kGroups <= count; j += 4 * kGroups)
      StepGroups<kGroups>(c, envs, rngs, j, actions, skip, obs, info, out, words);
    for (; j + 4 <= count; j += 4) StepGroups<1>(c, envs, rngs, j, actions, skip, obs, info, out, words);
    StepEach(envs + j, rngs + j, count - j, actions + j, skip + j, obs + j * kStateSize, info, out + j);
  }

 private:
  struct Words {
    int64_t term, live;  // out words of a terminating and of a live step
  };

  // Groups stepped together (measured on Zen 3 with AVX2: 1 group 7.2 ns per env, 2 groups 5.9, 4 and 16
  // about 6.2).
  static constexpr int kGroups = 2;

  // G groups of 4 envs from envs + j, stage by stage (load, sincos, dynamics, store): a group's chain of
  // sincos and divisions is long, and independent chains side by side keep the units busy where one
  // would wait on its latencies.
  template <int G>
  __attribute__((always_inline)) static void StepGroups(const Config& c, CartPole* envs, Rng* rngs, int64_t j,
                                                        const Action* actions, const uint8_t* skip, Obs* obs,
                                                        double* info, StepOut* out, const Words& words) {
    using simd_detail::V4d, simd_detail::V4i;
    V4d row[G][kStateSize], col[G][kStateSize];
    V4i all_small = {-1, -1, -1, -1};
    for (int g = 0; g < G; ++g) {
      for (int k = 0; k < 4; ++k) col[g][k] = row[g][k] = LoadRow(envs[j + 4 * g + k]);
      simd_detail::Transpose4(col[g][0], col[g][1], col[g][2], col[g][3]);
      all_small &= simd_detail::Abs(col[g][2]) <= kSinCosSmallArg;
    }
    if (!(all_small[0] & all_small[1] & all_small[2] & all_small[3])) {
      StepEach(envs + j, rngs + j, 4 * G, actions + j, skip + j, obs + j * kStateSize, info, out + j);
      return;
    }
    V4d sintheta[G], costheta[G], next[G][kStateSize];
    V4i term[G];
    for (int g = 0; g < G; ++g) SinCosSmallCore(col[g][2], sintheta[g], costheta[g]);
    for (int g = 0; g < G; ++g) {
      const V4i push_right = *reinterpret_cast<const simd_detail::V4iU*>(actions + j + 4 * g) == 1;
      const V4d force =
          simd_detail::Select(push_right, simd_detail::Splat<V4d>(c.force_mag), simd_detail::Splat<V4d>(-c.force_mag));
      term[g] = Dynamics(c, col[g], force, sintheta[g], costheta[g], next[g]);
    }
    uint8_t skip_any = 0;
    for (int64_t i = j; i < j + 4 * G; ++i) skip_any |= skip[i];
    for (int g = 0; g < G; ++g) {
      simd_detail::Transpose4(next[g][0], next[g][1], next[g][2], next[g][3]);
      for (int k = 0; k < 4; ++k) {
        const int64_t i = j + 4 * g + k;
        if (skip_any != 0 && skip[i] != 0) next[g][k] = row[g][k];  // skipped envs keep their state
        StoreRow(envs[i], next[g][k]);
        *reinterpret_cast<simd_detail::V4fU*>(obs + i * kStateSize) =
            __builtin_convertvector(next[g][k], simd_detail::V4f);
      }
      *reinterpret_cast<simd_detail::V4iU*>(out + j + 4 * g) = (words.term & term[g]) | (words.live & ~term[g]);
    }
  }

  static int64_t OutWord(float reward, bool terminated) {
    uint32_t bits;
    std::memcpy(&bits, &reward, sizeof bits);
    return static_cast<int64_t>(bits | (static_cast<uint64_t>(terminated) << 32));
  }
  __attribute__((always_inline)) static simd_detail::V4d LoadRow(const CartPole& env) {
    return *reinterpret_cast<const simd_detail::V4dU*>(env.s_);
  }
  __attribute__((always_inline)) static void StoreRow(CartPole& env, const simd_detail::V4d& row) {
    *reinterpret_cast<simd_detail::V4dU*>(env.s_) = row;
  }
  static void StepEach(CartPole* e, Rng* rngs, int64_t m, const Action* actions, const uint8_t* skip, Obs* obs,
                       double* info, StepOut* out) {
    for (int64_t j = 0; j < m; ++j)
      if (skip[j] == 0) out[j] = e[j].Step(actions + j, rngs[j], obs + j * kStateSize, info);
  }

  static float Reward(const Config& c, bool terminated) {
    if (c.sutton_barto_reward) return terminated ? -1.0f : 0.0f;
    return 1.0f;
  }
  void Observe(Obs* obs) const {
    for (int64_t k = 0; k < kStateSize; ++k) obs[k] = static_cast<float>(s_[k]);
  }
  const Config* cfg_;
  double s_[kStateSize] = {};
};

// ----------------------------------------------------------------------------------------------- Pendulum
// State [theta, theta_dot] ~ U([-init_theta, -init_theta_dot], [init_theta, init_theta_dot]) at reset
// (Gymnasium's x_init = pi, y_init = 1). Observation [cos theta, sin theta, theta_dot]. With
// u = clip(action, -max_torque, max_torque) (in float32, as Gymnasium clips the float32 action):
//   cost = normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2,   reward = -cost
//   theta_dot' = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -max_speed, max_speed),
//   theta' = theta + theta_dot' dt
// with dt = 0.05, m = l = 1. max_torque (2) and max_speed (8) are config fields with Gymnasium's values as
// defaults; the action bounds are +-max_torque and the theta_dot observation bounds +-max_speed. Never
// terminates; truncates after max_steps (200: v1).
struct Pendulum {
  struct Config {
    double g = 10.0;
    int64_t max_steps = 200;
    double init_theta = 3.14159265358979323846, init_theta_dot = 1.0;
    double max_torque = 2.0, max_speed = 8.0;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kStateSize = 2;
  static constexpr double kDt = 0.05, kMass = 1.0, kLength = 1.0;
  static constexpr double kPi = 3.14159265358979323846;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(std::isfinite(c.g), std::invalid_argument, "Pendulum: g must be finite, got ", c.g);
    NEXTRL_CHECK(
        std::isfinite(c.init_theta) && std::isfinite(c.init_theta_dot) && c.init_theta >= 0 && c.init_theta_dot >= 0,
        std::invalid_argument, "Pendulum: init_theta and init_theta_dot must be finite and >= 0, got ", c.init_theta,
        " and ", c.init_theta_dot);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "Pendulum: max_steps must be >= 0, got ", c.max_steps);
    const std::pair<const char*, double> limits[] = {{"max_torque", c.max_torque}, {"max_speed", c.max_speed}};
    for (const auto& [name, v] : limits)
      NEXTRL_CHECK(std::isfinite(v) && v > 0, std::invalid_argument, "Pendulum: ", name,
                   " must be finite and > 0, got ", v);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {3}; }
  static int64_t ActionSize(const Config&) { return 1; }
  static Bounds ObsBounds(const Config& c) { return Symmetric({1.0, 1.0, c.max_speed}); }  // cos, sin, theta_dot
  static Bounds ActionBounds(const Config& c) { return Symmetric(1, static_cast<float>(c.max_torque)); }
  static const char* CheckAction(const Config&, const Action* a) { return CheckFiniteAction(a, 1); }

  explicit Pendulum(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const double* State() const { return s_; }
  static int64_t StateSize(const Config&) { return kStateSize; }
  // State (envs/env_state.h): [theta, theta_dot].
  template <class F>
  void VisitState(F&& f) {
    f(s_);
  }

  void Reset(Rng& rng, Obs* obs, double*) {
    s_[0] = rng.Uniform(-cfg_->init_theta, cfg_->init_theta);
    s_[1] = rng.Uniform(-cfg_->init_theta_dot, cfg_->init_theta_dot);
    Observe(obs);
  }

  StepOut Step(const Action* a, Rng&, Obs* obs, double*) {
    const double th = s_[0], thdot = s_[1];
    const float max_torque = static_cast<float>(cfg_->max_torque);
    const float u = Clip(a[0], -max_torque, max_torque);
    // float32 terms, as NumPy 2 evaluates Gymnasium's `0.001 * (u**2)` and `3.0 / (m * l**2) * u`.
    const float u_cost = 0.001f * (u * u);
    const float torque = static_cast<float>(3.0 / (kMass * kLength * kLength)) * u;
    const double cost = AngleNormalize(th) * AngleNormalize(th) + 0.1 * (thdot * thdot) + static_cast<double>(u_cost);
    double newthdot = thdot + (3.0 * cfg_->g / (2.0 * kLength) * std::sin(th) + static_cast<double>(torque)) * kDt;
    newthdot = Clip(newthdot, -cfg_->max_speed, cfg_->max_speed);
    s_[0] = th + newthdot * kDt;
    s_[1] = newthdot;
    Observe(obs);
    return {static_cast<float>(-cost), false};
  }

 private:
  // ((x + pi) mod 2 pi) - pi with Python's (floored) modulo.
  static double AngleNormalize(double x) {
    double r = std::fmod(x + kPi, 2.0 * kPi);
    if (r < 0) r += 2.0 * kPi;
    return r - kPi;
  }
  void Observe(Obs* obs) const {
    obs[0] = static_cast<float>(std::cos(s_[0]));
    obs[1] = static_cast<float>(std::sin(s_[0]));
    obs[2] = static_cast<float>(s_[1]);
  }
  const Config* cfg_;
  double s_[kStateSize] = {};
};

}  // namespace nextrl::envs
