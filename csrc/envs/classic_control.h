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
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "common/simd_math.h"
#include "envs/control_common.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

// ----------------------------------------------------------------------------------------------- CartPole
// Barto, Sutton & Anderson (1983), Euler integration with tau = 0.02. State [x, x_dot, theta, theta_dot]
// ~ U(init_low, init_high)^4 at reset. Action 0 pushes left, 1 right, with force 10. Terminates when
// |x| > 2.4 or |theta| > 12 degrees. Reward 1 per step (terminating step included); with
// sutton_barto_reward, 0 per step and -1 on the terminating step. Truncates after max_steps (500: v1).
struct CartPole {
  struct Config {
    bool sutton_barto_reward = false;
    int64_t max_steps = 500;
    double init_low = -0.05, init_high = 0.05;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kStateSize = 4, kNumActions = 2;
  static constexpr double kGravity = 9.8, kMassCart = 1.0, kMassPole = 0.1, kTotalMass = kMassPole + kMassCart;
  static constexpr double kLength = 0.5;  // half the pole's length
  static constexpr double kPoleMassLength = kMassPole * kLength, kForceMag = 10.0, kTau = 0.02;
  static constexpr double kThetaThreshold = 12 * 2 * 3.14159265358979323846 / 360, kXThreshold = 2.4;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(std::isfinite(c.init_low) && std::isfinite(c.init_high) && c.init_low <= c.init_high,
                 std::invalid_argument,
                 "CartPole: init_low and init_high must be finite with init_low <= init_high, got ",
                 c.init_low, " and ", c.init_high);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "CartPole: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {kStateSize}; }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config&, const Action* a) {
    return (*a == 0 || *a == 1) ? nullptr : "must be 0 or 1";
  }

  explicit CartPole(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const double* State() const { return s_; }
  void SetState(const double* s) {
    for (int64_t k = 0; k < kStateSize; ++k) s_[k] = s[k];
  }
  static int64_t StateSize(const Config&) { return kStateSize; }

  void Reset(Rng& rng, Obs* obs, double*) {
    for (double& x : s_) x = rng.Uniform(cfg_->init_low, cfg_->init_high);
    Observe(obs);
  }

  StepOut Step(const Action* a, Rng&, Obs* obs, double*) {
    double sintheta, costheta;
    SinCos(s_[2], sintheta, costheta);
    const bool terminated = Dynamics(s_, *a == 1, sintheta, costheta, s_);
    Observe(obs);
    return {Reward(*cfg_, terminated), terminated};
  }

  // VecEnv's batched step: envs[j] for every j in [0, count) with skip[j] == 0, with exactly Step's
  // results (the same operations in the same order; SinCosSmallCore and SinCosCore are bit-identical to
  // SinCos where they apply). Envs with skip[j] != 0 keep their state; their obs and out entries are
  // written with junk. Chunks of kChunk envs are gathered into structure-of-arrays (4x4 transposes of
  // the states) and stepped in one vectorized loop (AVX2 clone where the CPU has it, no FMA, see
  // common/simd_math.h): without the sincos range reduction when every |theta| <= kSinCosSmallArg (always,
  // in practice: an episode ends at 0.21), with it up to kSinCosMaxArg; a chunk with some |theta|
  // beyond (or NaN) steps env by env through Step.
  NEXTRL_TARGET_CLONES_AVX2
  static void StepBlock(const Config& c, CartPole* envs, Rng* rngs, int64_t count, const Action* actions,
                        const uint8_t* skip, Obs* obs, double* info, StepOut* out) {
    for (int64_t j0 = 0; j0 < count; j0 += kChunk) {
      const int64_t m = count - j0 < kChunk ? count - j0 : kChunk;
      StepChunk(c, envs + j0, rngs + j0, m, actions + j0, skip + j0, obs + j0 * kStateSize, info, out + j0);
    }
  }

 private:
  static constexpr int64_t kChunk = 64;

  __attribute__((always_inline)) static void StepChunk(const Config& c, CartPole* e, Rng* rngs, int64_t m,
                                                       const Action* actions, const uint8_t* skip, Obs* obs,
                                                       double* info, StepOut* out) {
    using simd_detail::V4d;
    alignas(32) double cur[kStateSize][kChunk], next[kStateSize][kChunk];
    uint8_t push[kChunk], term[kChunk];
    const int64_t m4 = m & ~int64_t{3};
    for (int64_t j = 0; j < m4; j += 4) {  // rows of 4 envs -> columns x, x_dot, theta, theta_dot
      V4d r0, r1, r2, r3;
      Load4(e[j].s_, r0);
      Load4(e[j + 1].s_, r1);
      Load4(e[j + 2].s_, r2);
      Load4(e[j + 3].s_, r3);
      simd_detail::Transpose4(r0, r1, r2, r3);
      Store4(&cur[0][j], r0);
      Store4(&cur[1][j], r1);
      Store4(&cur[2][j], r2);
      Store4(&cur[3][j], r3);
    }
    for (int64_t j = m4; j < m; ++j)
      for (int64_t k = 0; k < kStateSize; ++k) cur[k][j] = e[j].s_[k];
    int64_t num_big = 0, num_not_small = 0;  // counts, not flags: the loop vectorizes
    for (int64_t j = 0; j < m; ++j) {
      const double a = std::fabs(cur[2][j]);
      num_big += !(a <= kSinCosMaxArg);
      num_not_small += !(a <= kSinCosSmallArg);
    }
    if (num_big != 0) {
      for (int64_t j = 0; j < m; ++j)
        if (skip[j] == 0) out[j] = e[j].Step(actions + j, rngs[j], obs + j * kStateSize, info);
      return;
    }
    for (int64_t j = 0; j < m; ++j) push[j] = actions[j] == 1;
    if (num_not_small == 0) {
      StepColumns<true>(m, cur, push, next, term);
    } else {
      StepColumns<false>(m, cur, push, next, term);
    }
    for (int64_t j = 0; j < m4; j += 4) {  // columns -> rows; obs rows are the states rounded to float
      V4d r0, r1, r2, r3;
      Load4(&next[0][j], r0);
      Load4(&next[1][j], r1);
      Load4(&next[2][j], r2);
      Load4(&next[3][j], r3);
      simd_detail::Transpose4(r0, r1, r2, r3);
      StoreRow(e[j], obs + j * kStateSize, r0);
      StoreRow(e[j + 1], obs + (j + 1) * kStateSize, r1);
      StoreRow(e[j + 2], obs + (j + 2) * kStateSize, r2);
      StoreRow(e[j + 3], obs + (j + 3) * kStateSize, r3);
    }
    for (int64_t j = m4; j < m; ++j)
      for (int64_t k = 0; k < kStateSize; ++k) {
        e[j].s_[k] = next[k][j];
        obs[j * kStateSize + k] = static_cast<float>(next[k][j]);
      }
    int64_t num_skipped = 0;
    for (int64_t j = 0; j < m; ++j) num_skipped += skip[j] != 0;
    for (int64_t j = 0; j < m && num_skipped != 0; ++j)  // skipped envs keep their state
      if (skip[j] != 0)
        for (int64_t k = 0; k < kStateSize; ++k) e[j].s_[k] = cur[k][j];
    // out[j] = {reward, terminated} as one 8-byte word (the reward's bits, then the bool): this vectorizes.
    static_assert(sizeof(StepOut) == 8 && offsetof(StepOut, terminated) == 4 &&
                  __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
    const float reward_term = Reward(c, true), reward_live = Reward(c, false);
    uint32_t bits_term, bits_live;
    std::memcpy(&bits_term, &reward_term, sizeof bits_term);
    std::memcpy(&bits_live, &reward_live, sizeof bits_live);
    const uint64_t word_term = bits_term | (uint64_t{1} << 32), word_live = bits_live;
    uint64_t words[kChunk];
    for (int64_t j = 0; j < m; ++j) words[j] = term[j] ? word_term : word_live;
    std::memcpy(static_cast<void*>(out), words, static_cast<size_t>(m) * sizeof(StepOut));
  }

  __attribute__((always_inline)) static void Load4(const double* p, simd_detail::V4d& v) {
    v = *reinterpret_cast<const simd_detail::V4dU*>(p);
  }
  __attribute__((always_inline)) static void Store4(double* p, const simd_detail::V4d& v) {
    *reinterpret_cast<simd_detail::V4dU*>(p) = v;
  }
  // A new state row and its observation (the state rounded to float).
  __attribute__((always_inline)) static void StoreRow(CartPole& env, Obs* obs, const simd_detail::V4d& row) {
    Store4(env.s_, row);
    *reinterpret_cast<simd_detail::V4fU*>(obs) = __builtin_convertvector(row, simd_detail::V4f);
  }

  // The vectorized loop: next = Dynamics(cur), term = out of bounds.
  template <bool kSmall>
  __attribute__((always_inline)) static void StepColumns(int64_t m, const double (&cur)[kStateSize][kChunk],
                                                         const uint8_t* push, double (&next)[kStateSize][kChunk],
                                                         uint8_t* term) {
    for (int64_t j = 0; j < m; ++j) {
      double sintheta, costheta, s[kStateSize], ns[kStateSize];
      for (int64_t k = 0; k < kStateSize; ++k) s[k] = cur[k][j];
      if constexpr (kSmall) {
        SinCosSmallCore(s[2], sintheta, costheta);
      } else {
        SinCosCore(s[2], sintheta, costheta);
      }
      term[j] = Dynamics(s, push[j] != 0, sintheta, costheta, ns);
      for (int64_t k = 0; k < kStateSize; ++k) next[k][j] = ns[k];
    }
  }

  // Gymnasium's CartPoleEnv.step ("euler" integrator), operation for operation: s -> next (may alias);
  // returns whether the new state is out of bounds.
  static bool Dynamics(const double* s, bool push_right, double sintheta, double costheta, double* next) {
    const double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    const double force = push_right ? kForceMag : -kForceMag;
    const double temp = (force + kPoleMassLength * (theta_dot * theta_dot) * sintheta) / kTotalMass;
    const double thetaacc =
        (kGravity * sintheta - costheta * temp) /
        (kLength * (4.0 / 3.0 - kMassPole * (costheta * costheta) / kTotalMass));
    const double xacc = temp - kPoleMassLength * thetaacc * costheta / kTotalMass;
    next[0] = x + kTau * x_dot;
    next[1] = x_dot + kTau * xacc;
    next[2] = theta + kTau * theta_dot;
    next[3] = theta_dot + kTau * thetaacc;
    return (next[0] < -kXThreshold) | (next[0] > kXThreshold) | (next[2] < -kThetaThreshold) |
           (next[2] > kThetaThreshold);
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
// u = clip(action, -2, 2):
//   cost = normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2,   reward = -cost
//   theta_dot' = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -8, 8),  theta' = theta + theta_dot' dt
// with dt = 0.05, m = l = 1. Never terminates; truncates after max_steps (200: v1).
struct Pendulum {
  struct Config {
    double g = 10.0;
    int64_t max_steps = 200;
    double init_theta = 3.14159265358979323846, init_theta_dot = 1.0;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kStateSize = 2;
  static constexpr double kMaxSpeed = 8.0, kDt = 0.05, kMass = 1.0, kLength = 1.0;
  static constexpr float kMaxTorque = 2.0f;
  static constexpr double kPi = 3.14159265358979323846;

  static void Validate(const Config& c) {
    NEXTRL_CHECK(std::isfinite(c.g), std::invalid_argument, "Pendulum: g must be finite, got ", c.g);
    NEXTRL_CHECK(std::isfinite(c.init_theta) && std::isfinite(c.init_theta_dot) && c.init_theta >= 0 &&
                     c.init_theta_dot >= 0,
                 std::invalid_argument, "Pendulum: init_theta and init_theta_dot must be finite and >= 0, got ",
                 c.init_theta, " and ", c.init_theta_dot);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "Pendulum: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {3}; }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config&, const Action* a) { return CheckFiniteAction(a, 1); }

  explicit Pendulum(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const double* State() const { return s_; }
  static int64_t StateSize(const Config&) { return kStateSize; }

  void Reset(Rng& rng, Obs* obs, double*) {
    s_[0] = rng.Uniform(-cfg_->init_theta, cfg_->init_theta);
    s_[1] = rng.Uniform(-cfg_->init_theta_dot, cfg_->init_theta_dot);
    Observe(obs);
  }

  StepOut Step(const Action* a, Rng&, Obs* obs, double*) {
    const double th = s_[0], thdot = s_[1];
    const float u = Clip(a[0], -kMaxTorque, kMaxTorque);
    // float32 terms, as NumPy 2 evaluates Gymnasium's `0.001 * (u**2)` and `3.0 / (m * l**2) * u`.
    const float u_cost = 0.001f * (u * u);
    const float torque = static_cast<float>(3.0 / (kMass * kLength * kLength)) * u;
    const double cost = AngleNormalize(th) * AngleNormalize(th) + 0.1 * (thdot * thdot) + static_cast<double>(u_cost);
    double newthdot = thdot + (3.0 * cfg_->g / (2.0 * kLength) * std::sin(th) + static_cast<double>(torque)) * kDt;
    newthdot = Clip(newthdot, -kMaxSpeed, kMaxSpeed);
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
