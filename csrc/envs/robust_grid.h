// RobustGridWorld: domain randomization per env, the documents' RobustEnvironment (CA-robust §3.4).
// Every reset draws the episode's parameters (size, observation noise, action-failure probability,
// reward noise, number of obstacles) uniformly from the Config's ranges, unless SetPending fixed some of
// them for that env's next reset (reset(options={"params": ...}) in Python). They are reported in infos
// at every step.
//   Grid: size x size, start (0, 0), goal (size - 1, size - 1); actions as GridWorld (0 up, 1 down,
//   2 left, 3 right); a move into the border leaves the agent in place.
//   Obstacles: distinct cells drawn uniformly from the interior [1, size - 2]^2. The border is never
//   blocked and joins the start to the goal, so the goal is always reachable.
//   Action failure: with probability action_failure_prob the agent stays (the documents' action 4).
//   Reward: moving into an obstacle reverts the move and gives -obstacle_penalty; entering the goal gives
//   goal_reward and terminates; otherwise -step_penalty - distance_penalty * |goal - pos|_1. Plus
//   reward_noise * N(0, 1).
//   Observation [6]: [x / s, y / s, (gx - x) / s, (gy - y) / s, s / 10, num_obstacles / 10], each plus
//   obs_noise * N(0, 1), then clipped to [-kObsLimit, kObsLimit] (noise-free values lie in [-1, 385]) so that
//   the observation space is bounded.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "envs/gridworld.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

struct RobustGridWorld {
  struct Config {
    int64_t min_size = 5, max_size = 7;
    double min_obs_noise = 0.0, max_obs_noise = 0.1;
    double min_action_failure = 0.0, max_action_failure = 0.1;
    double min_reward_noise = 0.0, max_reward_noise = 0.5;
    int64_t min_obstacles = 0, max_obstacles = 2;  // capped at the interior's (size - 2)^2 cells
    double goal_reward = 10.0, obstacle_penalty = 5.0, step_penalty = 0.1, distance_penalty = 0.01;
    int64_t max_steps = 100;
  };
  // One episode's parameters; the order of kInfoNames and of SetPending's values.
  struct Params {
    int64_t size = 0;
    double obs_noise = 0.0, action_failure = 0.0, reward_noise = 0.0;
    int64_t num_obstacles = 0;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 5> kInfoNames{"size", "obs_noise", "action_failure_prob", "reward_noise",
                                                         "num_obstacles"};
  static constexpr int64_t kNumActions = 4, kObsDim = 6, kMinSize = 3, kMaxSize = 64;
  static constexpr float kScale = 10.0f;  // of the size and obstacle-count features
  static constexpr float kObsLimit = 1000.0f;

  static int64_t Interior(int64_t size) { return (size - 2) * (size - 2); }

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.min_size >= kMinSize && c.min_size <= c.max_size && c.max_size <= kMaxSize, std::invalid_argument,
                 "RobustGridWorld: size range must satisfy 3 <= min_size <= max_size <= 64, got [", c.min_size, ", ",
                 c.max_size, "]");
    auto range = [](double lo, double hi, double top, const char* name) {
      NEXTRL_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo >= 0.0 && lo <= hi && hi <= top, std::invalid_argument,
                   "RobustGridWorld: ", name, " range must satisfy 0 <= min <= max", top < 1e300 ? " <= 1" : "",
                   ", got [", lo, ", ", hi, "]");
    };
    range(c.min_obs_noise, c.max_obs_noise, 1e308, "obs_noise");
    range(c.min_action_failure, c.max_action_failure, 1.0, "action_failure_prob");
    range(c.min_reward_noise, c.max_reward_noise, 1e308, "reward_noise");
    NEXTRL_CHECK(c.min_obstacles >= 0 && c.min_obstacles <= c.max_obstacles && c.min_obstacles <= Interior(c.min_size),
                 std::invalid_argument,
                 "RobustGridWorld: num_obstacles range must satisfy 0 <= min <= max and min <= "
                 "(min_size - 2)^2 = ",
                 Interior(c.min_size), ", got [", c.min_obstacles, ", ", c.max_obstacles, "]");
    NEXTRL_CHECK(std::isfinite(c.goal_reward) && std::isfinite(c.obstacle_penalty) && std::isfinite(c.step_penalty) &&
                     std::isfinite(c.distance_penalty),
                 std::invalid_argument, "RobustGridWorld: rewards must be finite");
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "RobustGridWorld: max_steps must be >= 0, got ", c.max_steps);
  }
  // nullptr if p can be an episode of this config, else what is wrong (for SetPending).
  static const char* CheckParams(const Config& c, const Params& p) {
    if (p.size < kMinSize || p.size > c.max_size) return "size must be in [3, max_size]";
    if (!(std::isfinite(p.obs_noise) && p.obs_noise >= 0.0)) return "obs_noise must be finite and >= 0";
    if (!(p.action_failure >= 0.0 && p.action_failure <= 1.0)) return "action_failure_prob must be in [0, 1]";
    if (!(std::isfinite(p.reward_noise) && p.reward_noise >= 0.0)) return "reward_noise must be finite and >= 0";
    if (p.num_obstacles < 0 || p.num_obstacles > Interior(p.size)) return "num_obstacles must be in [0, (size - 2)^2]";
    return nullptr;
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {kObsDim}; }
  static int64_t ActionSize(const Config&) { return 1; }
  static Bounds ObsBounds(const Config&) { return Symmetric(kObsDim, kObsLimit); }
  static const char* CheckAction(const Config&, const Action* a) {
    return (*a >= 0 && *a < kNumActions) ? nullptr : "must be in [0, 4)";
  }
  static bool AllActionsValid(const Config&, const Action* a, int64_t count) { return AllBelow(a, count, kNumActions); }

  explicit RobustGridWorld(const Config& c)
      : cfg_(&c),
        blocked_(static_cast<size_t>(c.max_size * c.max_size), 0),
        scratch_(static_cast<size_t>(Interior(c.max_size)), 0) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const Params& params() const { return params_; }
  bool Blocked(int64_t x, int64_t y) const { return blocked_[static_cast<size_t>(y * cfg_->max_size + x)] != 0; }
  int64_t x() const { return x_; }
  int64_t y() const { return y_; }

  // Fixes the fields of the next reset's Params whose bit is set in `fields` (bit k: kInfoNames[k]);
  // the caller has checked the completed Params with CheckParams.
  void SetPending(const Params& p, unsigned fields) {
    pending_ = p;
    pending_fields_ = fields;
  }
  unsigned pending_fields() const { return pending_fields_; }
  const Params& pending() const { return pending_; }
  // State (envs/env_state.h): the episode's parameters and obstacles, the position, the pending parameters.
  template <class F>
  void VisitState(F&& f) {
    for (Params* p : {&params_, &pending_})
      f(p->size), f(p->obs_noise), f(p->action_failure), f(p->reward_noise), f(p->num_obstacles);
    f(pending_fields_), f(blocked_), f(x_), f(y_);
  }
  const char* CheckState() const {
    if (CheckParams(*cfg_, params_) != nullptr) return "has invalid episode parameters";
    if (pending_fields_ >= 32u) return "has pending fields beyond the 5 parameters";
    // The pending fields as set_pending checks them: the others at their most demanding draw.
    const unsigned f = pending_fields_;
    const Params pending{(f & 1u) ? pending_.size : cfg_->min_size, (f & 2u) ? pending_.obs_noise : 0.0,
                         (f & 4u) ? pending_.action_failure : 0.0, (f & 8u) ? pending_.reward_noise : 0.0,
                         (f & 16u) ? pending_.num_obstacles : 0};
    if (CheckParams(*cfg_, pending) != nullptr) return "has invalid pending parameters";
    if (x_ < 0 || y_ < 0 || x_ >= params_.size || y_ >= params_.size) return "has a position outside the grid";
    return nullptr;
  }

  void Reset(Rng& rng, Obs* obs, double* info) {
    const Config& c = *cfg_;
    const unsigned f = pending_fields_;
    Params& p = params_;
    p.size = (f & 1u) ? pending_.size : c.min_size + rng.Below(c.max_size - c.min_size + 1);
    p.obs_noise = (f & 2u) ? pending_.obs_noise : rng.Uniform(c.min_obs_noise, c.max_obs_noise);
    p.action_failure = (f & 4u) ? pending_.action_failure : rng.Uniform(c.min_action_failure, c.max_action_failure);
    p.reward_noise = (f & 8u) ? pending_.reward_noise : rng.Uniform(c.min_reward_noise, c.max_reward_noise);
    if (f & 16u) {
      p.num_obstacles = pending_.num_obstacles;
    } else {
      const int64_t hi = std::min(c.max_obstacles, Interior(p.size));
      const int64_t lo = std::min(c.min_obstacles, hi);
      p.num_obstacles = lo + rng.Below(hi - lo + 1);
    }
    pending_fields_ = 0;
    PlaceObstacles(rng);
    x_ = y_ = 0;
    Observe(rng, obs, info);
  }

  StepOut Step(const Action* a, Rng& rng, Obs* obs, double* info) {
    const Config& c = *cfg_;
    const int64_t s = params_.size, goal = s - 1;
    double reward;
    bool terminal = false;
    if (params_.action_failure > 0.0 && rng.Bernoulli(params_.action_failure)) {
      reward = -c.step_penalty - c.distance_penalty * static_cast<double>(2 * goal - x_ - y_);
    } else {
      int64_t nx = x_ + kGridDx[*a], ny = y_ + kGridDy[*a];
      if (nx < 0 || ny < 0 || nx >= s || ny >= s) nx = x_, ny = y_;
      if (Blocked(nx, ny)) {
        reward = -c.obstacle_penalty;
      } else {
        x_ = nx, y_ = ny;
        terminal = x_ == goal && y_ == goal;
        reward =
            terminal ? c.goal_reward : -c.step_penalty - c.distance_penalty * static_cast<double>(2 * goal - x_ - y_);
      }
    }
    if (params_.reward_noise > 0.0) reward += params_.reward_noise * rng.Normal();
    Observe(rng, obs, info);
    return {static_cast<float>(reward), terminal};
  }

 private:
  // Partial Fisher-Yates over the interior cells: num_obstacles distinct ones, uniformly.
  void PlaceObstacles(Rng& rng) {
    const int64_t s = params_.size, inner = s - 2, m = Interior(s), stride = cfg_->max_size;
    std::fill(blocked_.begin(), blocked_.end(), uint8_t{0});
    for (int64_t k = 0; k < m; ++k) scratch_[static_cast<size_t>(k)] = static_cast<int32_t>(k);
    for (int64_t k = 0; k < params_.num_obstacles; ++k) {
      const int64_t j = k + rng.Below(m - k);
      std::swap(scratch_[static_cast<size_t>(k)], scratch_[static_cast<size_t>(j)]);
      const int64_t cell = scratch_[static_cast<size_t>(k)];
      blocked_[static_cast<size_t>((1 + cell / inner) * stride + 1 + cell % inner)] = 1;
    }
  }

  void Observe(Rng& rng, Obs* obs, double* info) const {
    const float s = static_cast<float>(params_.size), g = s - 1.0f;
    const float fx = static_cast<float>(x_), fy = static_cast<float>(y_);
    obs[0] = fx / s;
    obs[1] = fy / s;
    obs[2] = (g - fx) / s;
    obs[3] = (g - fy) / s;
    obs[4] = s / kScale;
    obs[5] = static_cast<float>(params_.num_obstacles) / kScale;
    if (params_.obs_noise > 0.0)
      for (int64_t k = 0; k < kObsDim; ++k)
        obs[k] = std::clamp(obs[k] + static_cast<float>(params_.obs_noise * rng.Normal()), -kObsLimit, kObsLimit);
    info[0] = static_cast<double>(params_.size);
    info[1] = params_.obs_noise;
    info[2] = params_.action_failure;
    info[3] = params_.reward_noise;
    info[4] = static_cast<double>(params_.num_obstacles);
  }

  const Config* cfg_;
  std::vector<uint8_t> blocked_;  // [max_size, max_size], row y, column x
  std::vector<int32_t> scratch_;
  Params params_, pending_;
  unsigned pending_fields_ = 0;
  int64_t x_ = 0, y_ = 0;
};

}  // namespace nextrl::envs
