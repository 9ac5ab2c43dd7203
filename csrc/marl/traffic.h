// Traffic: the course documents' autonomous-vehicle road (CA12 §3.3) as a single-lane ring road with
// car following, real collisions and a safety cost.
//   N vehicles ("vehicle_k") of length vehicle_length on a ring of length road_length, in ring order:
//   vehicle k + 1 (mod N) drives ahead of vehicle k. Reset: slots of L / N, each vehicle at
//   (k + 1/2) L / N + U(-j, j), j = (L / N - vehicle_length - min_gap) / 2 (every gap starts >= min_gap);
//   speed U(0, 10), target speed U(10, 20) m/s.
//   Action [1], clipped to [-1, 1]: acceleration a * max_accel. Explicit Euler, dt: v = clip(v + a dt,
//   0, v_max), then s += v dt, with s unwrapped (it only grows), so the gap to the leader,
//   g_k = s_{k+1} - s_k - vehicle_length (+ L for the last vehicle), can never skip a crossing.
//   Collision: g_k < 0 after the move (bumpers overlap or the follower passed through the leader);
//   both vehicles get -collision_penalty and the episode terminates for every vehicle.
//   Reward: -0.1 |v - v_target| + 0.05 v - safety_penalty [g_k < min_gap] - collision_penalty [collided].
//   Infos: cost = vehicles that are closer than min_gap to their leader or collided (the safety cost),
//   collisions = vehicles in a collision.
//   Observation [6]: [v / v_max, v_target / v_max, g_ahead / L, (v_leader - v) / v_max, g_behind / L,
//   (v_follower - v) / v_max]. Global state [3 N]: [(s mod L) / L, v / v_max, v_target / v_max].
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

struct Traffic {
  static constexpr int64_t kMaxVehicles = 256;
  struct Config {
    int64_t num_vehicles = 4, max_steps = 200;
    double road_length = 100.0, vehicle_length = 4.0, min_gap = 2.0, dt = 0.1, max_accel = 3.0, v_max = 25.0;
    double safety_penalty = 1.0, collision_penalty = 10.0;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 2> kInfoNames{"cost", "collisions"};

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_vehicles >= 1 && c.num_vehicles <= kMaxVehicles, std::invalid_argument,
                 "Traffic: num_vehicles must be in [1, ", kMaxVehicles, "], got ", c.num_vehicles);
    NEXTRL_CHECK(c.vehicle_length >= 0.0 && c.min_gap >= 0.0 && c.dt > 0.0 && c.max_accel > 0.0 && c.v_max > 0.0,
                 std::invalid_argument, "Traffic: vehicle_length, min_gap >= 0 and dt, max_accel, v_max > 0 required");
    NEXTRL_CHECK(c.road_length / static_cast<double>(c.num_vehicles) > c.vehicle_length + c.min_gap,
                 std::invalid_argument, "Traffic: road_length / num_vehicles must exceed vehicle_length + min_gap = ",
                 c.vehicle_length + c.min_gap, ", got ", c.road_length / static_cast<double>(c.num_vehicles));
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "Traffic: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<AgentGroup> Groups(const Config& c) { return {{"vehicle", c.num_vehicles, 6}}; }
  static int64_t StateSize(const Config& c) { return 3 * c.num_vehicles; }
  static int64_t ActionSize(const Config&) { return 1; }
  static int64_t NumActions(const Config&) { return 0; }
  static const char* CheckAction(const Config&, int64_t, const Action* a) {
    return std::isfinite(*a) ? nullptr : "must be finite";
  }

  explicit Traffic(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  // State (envs/env_state.h): positions, speeds and target speeds of the vehicles.
  template <class F>
  void VisitState(F&& f) {
    const int64_t n = cfg_->num_vehicles;
    f(s_, n), f(v_, n), f(target_, n);
  }

  void Reset(Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t N = c.num_vehicles;
    const double slot = c.road_length / static_cast<double>(N), j = (slot - c.vehicle_length - c.min_gap) / 2.0;
    for (int64_t k = 0; k < N; ++k) {
      s_[k] = (static_cast<double>(k) + 0.5) * slot + rng.Uniform(-j, j);
      v_[k] = rng.Uniform(0.0, 10.0);
      target_[k] = rng.Uniform(10.0, 20.0);
    }
    s.info[0] = s.info[1] = 0.0;
    Observe(s);
  }

  void Step(const Action* a, Rng&, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t N = c.num_vehicles;
    for (int64_t k = 0; k < N; ++k) {
      const double acc = std::clamp(static_cast<double>(a[k]), -1.0, 1.0) * c.max_accel;
      v_[k] = std::clamp(v_[k] + acc * c.dt, 0.0, c.v_max);
      s_[k] += v_[k] * c.dt;
    }
    bool collided[kMaxVehicles] = {};
    bool any = false;
    for (int64_t k = 0; k < N; ++k) {
      if (Gap(k) < 0.0) collided[k] = collided[(k + 1) % N] = any = true;
    }
    int64_t cost = 0, collisions = 0;
    for (int64_t k = 0; k < N; ++k) {
      const bool unsafe = Gap(k) < c.min_gap;
      double r = -0.1 * std::abs(v_[k] - target_[k]) + 0.05 * v_[k];
      if (unsafe) r -= c.safety_penalty;
      if (collided[k]) r -= c.collision_penalty, collisions += 1;
      cost += (unsafe || collided[k]) ? 1 : 0;
      s.rewards[k] = static_cast<float>(r);
      s.terminated[k] = any;
    }
    s.info[0] = static_cast<double>(cost);
    s.info[1] = static_cast<double>(collisions);
    Observe(s);
  }

 private:
  // Gap from vehicle k's front bumper to its leader's rear bumper (N = 1: the ring behind itself).
  double Gap(int64_t k) const {
    const Config& c = *cfg_;
    const int64_t N = c.num_vehicles;
    const double lead = k + 1 < N ? s_[k + 1] : s_[0] + c.road_length;
    return lead - s_[k] - c.vehicle_length;
  }

  void Observe(const MarlSlot<Obs>& s) const {
    const Config& c = *cfg_;
    const int64_t N = c.num_vehicles;
    for (int64_t k = 0; k < N; ++k) {
      const int64_t lead = (k + 1) % N, follow = (k + N - 1) % N;
      float* o = s.obs + 6 * k;
      o[0] = static_cast<float>(v_[k] / c.v_max);
      o[1] = static_cast<float>(target_[k] / c.v_max);
      o[2] = static_cast<float>(Gap(k) / c.road_length);
      o[3] = static_cast<float>((v_[lead] - v_[k]) / c.v_max);
      o[4] = static_cast<float>(Gap(follow) / c.road_length);
      o[5] = static_cast<float>((v_[follow] - v_[k]) / c.v_max);
      s.state[3 * k] = static_cast<float>(std::fmod(s_[k], c.road_length) / c.road_length);
      s.state[3 * k + 1] = o[0];
      s.state[3 * k + 2] = o[1];
    }
  }

  const Config* cfg_;
  double s_[kMaxVehicles] = {}, v_[kMaxVehicles] = {}, target_[kMaxVehicles] = {};
};

}  // namespace nextrl::marl
