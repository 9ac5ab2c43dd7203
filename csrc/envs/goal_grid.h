// GoalGridWorld: a goal-conditioned gridworld in Gymnasium-Robotics' GoalEnv form, for hindsight
// experience replay. Each reset draws the goal uniformly over the free cells other than the start.
//   Grid: width x height, walls from `walls` (the border blocks too); actions as GridWorld (0 up,
//   1 down, 2 left, 3 right). The start is fixed or (start_x = -1) uniform over the free cells.
//   Observation [6] float: observation [x, y], achieved_goal [x, y], desired_goal [gx, gy]; the Python
//   wrapper splits it into the Dict of those three keys.
//   Reward = compute_reward(achieved_goal, desired_goal): sparse -1 until the goal (0 on it), or dense
//   -|achieved - desired|_1. Reaching the goal terminates when terminate_on_success. info["is_success"].
// Validate requires the free cells to be connected, so every drawn goal is reachable.
#pragma once
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

struct GoalGridWorld {
  struct Config {
    int64_t width = 8, height = 8;
    std::vector<uint8_t> walls;  // [height * width] 1 = wall; empty: none
    int64_t start_x = 0, start_y = 0;  // start_x = -1: uniform over the free cells at each reset
    bool dense = false;
    bool terminate_on_success = true;
    int64_t max_steps = 50;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 1> kInfoNames{"is_success"};
  static constexpr int64_t kNumActions = 4, kObsDim = 6;

  static bool Wall(const Config& c, int64_t x, int64_t y) {
    if (x < 0 || y < 0 || x >= c.width || y >= c.height) return true;
    return !c.walls.empty() && c.walls[static_cast<size_t>(y * c.width + x)] != 0;
  }

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.width >= 1 && c.height >= 1 && c.width <= 4096 && c.height <= 4096, std::invalid_argument,
                 "GoalGridWorld: width and height must be in [1, 4096], got ", c.width, " x ", c.height);
    const int64_t n = c.width * c.height;
    NEXTRL_CHECK(c.walls.empty() || static_cast<int64_t>(c.walls.size()) == n, std::invalid_argument,
                 "GoalGridWorld: walls must have height * width = ", n, " entries, got ", c.walls.size());
    for (uint8_t w : c.walls)
      NEXTRL_CHECK(w <= 1, std::invalid_argument, "GoalGridWorld: wall values must be 0 or 1, got ", int(w));
    // Free cells must form one 4-connected component with at least 2 cells (flood fill).
    std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
    std::vector<int64_t> stack;
    int64_t free_cells = 0, reached = 0;
    for (int64_t s = 0; s < n; ++s) free_cells += !Wall(c, s % c.width, s / c.width);
    NEXTRL_CHECK(free_cells >= 2, std::invalid_argument, "GoalGridWorld: the grid needs at least 2 free cells, got ",
                 free_cells);
    for (int64_t s = 0; s < n && stack.empty() && reached == 0; ++s)
      if (!Wall(c, s % c.width, s / c.width)) stack.push_back(s), seen[static_cast<size_t>(s)] = 1;
    while (!stack.empty()) {
      const int64_t s = stack.back();
      stack.pop_back();
      ++reached;
      for (int a = 0; a < 4; ++a) {
        const int64_t nx = s % c.width + kGridDx[a], ny = s / c.width + kGridDy[a];
        if (Wall(c, nx, ny) || seen[static_cast<size_t>(ny * c.width + nx)]) continue;
        seen[static_cast<size_t>(ny * c.width + nx)] = 1;
        stack.push_back(ny * c.width + nx);
      }
    }
    NEXTRL_CHECK(reached == free_cells, std::invalid_argument,
                 "GoalGridWorld: the free cells must be connected (some goals would be unreachable)");
    if (c.start_x != -1)
      NEXTRL_CHECK(c.start_x >= 0 && c.start_x < c.width && c.start_y >= 0 && c.start_y < c.height &&
                       !Wall(c, c.start_x, c.start_y),
                   std::invalid_argument, "GoalGridWorld: start (", c.start_x, ", ", c.start_y,
                   ") must be a free cell of the grid");
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "GoalGridWorld: max_steps must be >= 0, got ", c.max_steps);
  }
  static std::vector<int64_t> ObsShape(const Config&) { return {kObsDim}; }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config&, const Action* a) {
    return (*a >= 0 && *a < kNumActions) ? nullptr : "must be in [0, 4)";
  }
  static bool AllActionsValid(const Config&, const Action* a, int64_t count) { return AllBelow(a, count, kNumActions); }
  static double Reward(const Config& c, int64_t ax, int64_t ay, int64_t dx, int64_t dy) {
    if (c.dense) return -static_cast<double>(std::llabs(ax - dx) + std::llabs(ay - dy));
    return (ax == dx && ay == dy) ? 0.0 : -1.0;
  }

  explicit GoalGridWorld(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  // State (envs/env_state.h): the agent's and the goal's cells.
  template <class F>
  void VisitState(F&& f) {
    f(x_), f(y_), f(gx_), f(gy_);
  }
  const char* CheckState() const {
    const Config& c = *cfg_;
    const bool in =
        x_ >= 0 && y_ >= 0 && gx_ >= 0 && gy_ >= 0 && x_ < c.width && gx_ < c.width && y_ < c.height && gy_ < c.height;
    return in && !Wall(c, x_, y_) && !Wall(c, gx_, gy_) ? nullptr : "has a cell outside the grid or in a wall";
  }

  void Reset(Rng& rng, Obs* obs, double* info) {
    const Config& c = *cfg_;
    if (c.start_x != -1) {
      x_ = c.start_x, y_ = c.start_y;
    } else {
      do x_ = rng.Below(c.width), y_ = rng.Below(c.height);
      while (Wall(c, x_, y_));
    }
    do gx_ = rng.Below(c.width), gy_ = rng.Below(c.height);  // Validate: another free cell exists
    while (Wall(c, gx_, gy_) || (gx_ == x_ && gy_ == y_));
    Observe(obs, info);
  }

  StepOut Step(const Action* a, Rng&, Obs* obs, double* info) {
    const Config& c = *cfg_;
    const int64_t nx = x_ + kGridDx[*a], ny = y_ + kGridDy[*a];
    if (!Wall(c, nx, ny)) x_ = nx, y_ = ny;
    Observe(obs, info);
    return {static_cast<float>(Reward(c, x_, y_, gx_, gy_)), c.terminate_on_success && info[0] != 0.0};
  }

 private:
  void Observe(Obs* obs, double* info) const {
    obs[0] = obs[2] = static_cast<float>(x_);
    obs[1] = obs[3] = static_cast<float>(y_);
    obs[4] = static_cast<float>(gx_);
    obs[5] = static_cast<float>(gy_);
    info[0] = (x_ == gx_ && y_ == gy_) ? 1.0 : 0.0;
  }

  const Config* cfg_;
  int64_t x_ = 0, y_ = 0, gx_ = 0, gy_ = 0;
};

}  // namespace nextrl::envs
