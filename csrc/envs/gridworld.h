// GridWorld: the course documents' SimpleGridWorld made reusable (CA14 §3.1): a width x height grid,
// start and goal cells, impassable walls, terminal pits, a goal reward and a per-step penalty, and a
// step limit. Coordinates: x to the right, y up; cell index y * width + x.
//   Actions (4): 0 up (y + 1), 1 down (y - 1), 2 left (x - 1), 3 right (x + 1). A move into the border
//   or a wall leaves the agent in place.
//   Reward: goal_reward on entering the goal (terminates), pit_reward on entering a pit (terminates),
//   else -step_penalty.
//   Observations: kCoords [x, y] as floats; kOneHot [height * width]; kImage [3, 2r + 1, 2r + 1], an
//   egocentric view of radius r = view_radius with channels wall (border included), goal, pit.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

enum class GridObs : int { kCoords = 0, kOneHot = 1, kImage = 2 };

inline constexpr uint8_t kCellFree = 0, kCellWall = 1, kCellPit = 2;
// dx, dy of actions up, down, left, right.
inline constexpr int kGridDx[4] = {0, 0, -1, 1};
inline constexpr int kGridDy[4] = {1, -1, 0, 0};

struct GridWorld {
  struct Config {
    int64_t width = 5, height = 5;
    int64_t start_x = 0, start_y = 0;  // start_x = -1: uniform over free non-goal cells at each reset
    int64_t goal_x = 4, goal_y = 4;
    std::vector<uint8_t> cells;  // [height * width] kCellFree / kCellWall / kCellPit; empty: all free
    float goal_reward = 1.0f, step_penalty = 0.1f, pit_reward = -1.0f;
    int64_t max_steps = 100;
    GridObs obs_mode = GridObs::kCoords;
    int64_t view_radius = 2;
    // Filled by Prepare: next cell of (cell, action), reward / termination on entering a cell, and the
    // cell's coordinates observation [x, y].
    std::vector<int32_t> next_cell;
    std::vector<float> enter_reward;
    std::vector<uint8_t> enter_terminal;
    std::vector<StepOut> enter_out;
    std::vector<float> cell_xy;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 0> kInfoNames{};
  static constexpr int64_t kNumActions = 4;

  static uint8_t Cell(const Config& c, int64_t x, int64_t y) {
    if (x < 0 || y < 0 || x >= c.width || y >= c.height) return kCellWall;
    return c.cells.empty() ? kCellFree : c.cells[static_cast<size_t>(y * c.width + x)];
  }

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.width >= 1 && c.height >= 1 && c.width * c.height >= 2 && c.width <= 4096 && c.height <= 4096,
                 std::invalid_argument, "GridWorld: width and height must be in [1, 4096] with at least 2 cells, got ",
                 c.width, " x ", c.height);
    NEXTRL_CHECK(c.cells.empty() || static_cast<int64_t>(c.cells.size()) == c.width * c.height, std::invalid_argument,
                 "GridWorld: cells must have height * width = ", c.width * c.height, " entries, got ", c.cells.size());
    for (uint8_t v : c.cells)
      NEXTRL_CHECK(v <= kCellPit, std::invalid_argument,
                   "GridWorld: cell values must be 0 (free), 1 (wall) or 2 (pit), got ", int(v));
    NEXTRL_CHECK(c.goal_x >= 0 && c.goal_x < c.width && c.goal_y >= 0 && c.goal_y < c.height, std::invalid_argument,
                 "GridWorld: goal (", c.goal_x, ", ", c.goal_y, ") is outside the ", c.width, " x ", c.height, " grid");
    NEXTRL_CHECK(Cell(c, c.goal_x, c.goal_y) == kCellFree, std::invalid_argument,
                 "GridWorld: the goal cell must be free");
    if (c.start_x != -1) {
      NEXTRL_CHECK(c.start_x >= 0 && c.start_x < c.width && c.start_y >= 0 && c.start_y < c.height,
                   std::invalid_argument, "GridWorld: start (", c.start_x, ", ", c.start_y, ") is outside the grid");
      NEXTRL_CHECK(Cell(c, c.start_x, c.start_y) == kCellFree && !(c.start_x == c.goal_x && c.start_y == c.goal_y),
                   std::invalid_argument, "GridWorld: the start cell must be free and differ from the goal");
    }
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "GridWorld: max_steps must be >= 0, got ", c.max_steps);
    NEXTRL_CHECK(c.view_radius >= 0 && c.view_radius <= 32, std::invalid_argument,
                 "GridWorld: view_radius must be in [0, 32], got ", c.view_radius);
    NEXTRL_CHECK(std::isfinite(c.goal_reward) && std::isfinite(c.step_penalty) && std::isfinite(c.pit_reward),
                 std::invalid_argument, "GridWorld: rewards must be finite");
  }
  static std::vector<int64_t> ObsShape(const Config& c) {
    switch (c.obs_mode) {
      case GridObs::kCoords:
        return {2};
      case GridObs::kOneHot:
        return {c.width * c.height};
      default:
        return {3, 2 * c.view_radius + 1, 2 * c.view_radius + 1};
    }
  }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config&, const Action* a) {
    return (*a >= 0 && *a < kNumActions) ? nullptr : "must be in [0, 4)";
  }
  static bool AllActionsValid(const Config&, const Action* a, int64_t count) { return AllBelow(a, count, kNumActions); }
  // Tabulates the dynamics once, so that a step is three lookups and no data-dependent branch.
  static void Prepare(Config& c) {
    const int64_t n = c.width * c.height;
    c.next_cell.resize(static_cast<size_t>(n * kNumActions));
    c.enter_reward.resize(static_cast<size_t>(n));
    c.enter_terminal.resize(static_cast<size_t>(n));
    c.enter_out.resize(static_cast<size_t>(n));
    c.cell_xy.resize(static_cast<size_t>(2 * n));
    for (int64_t y = 0; y < c.height; ++y)
      for (int64_t x = 0; x < c.width; ++x) {
        const int64_t s = y * c.width + x;
        for (int64_t a = 0; a < kNumActions; ++a) {
          int64_t nx = x + kGridDx[a], ny = y + kGridDy[a];
          if (Cell(c, nx, ny) == kCellWall) nx = x, ny = y;
          c.next_cell[static_cast<size_t>(s * kNumActions + a)] = static_cast<int32_t>(ny * c.width + nx);
        }
        const auto [reward, terminal] = Outcome(c, x, y);
        c.enter_reward[static_cast<size_t>(s)] = static_cast<float>(reward);
        c.enter_terminal[static_cast<size_t>(s)] = terminal;
        c.enter_out[static_cast<size_t>(s)] = StepOut{static_cast<float>(reward), terminal};
        c.cell_xy[static_cast<size_t>(2 * s)] = static_cast<float>(x);
        c.cell_xy[static_cast<size_t>(2 * s + 1)] = static_cast<float>(y);
      }
  }

  // Tabular model.
  static int64_t NumStates(const Config& c) { return c.width * c.height; }
  static int64_t NumActions(const Config&) { return kNumActions; }
  static std::vector<int64_t> StartStates(const Config& c) {
    std::vector<int64_t> s;
    if (c.start_x != -1) return {c.start_y * c.width + c.start_x};
    for (int64_t y = 0; y < c.height; ++y)
      for (int64_t x = 0; x < c.width; ++x)
        if (Cell(c, x, y) == kCellFree && !(x == c.goal_x && y == c.goal_y)) s.push_back(y * c.width + x);
    return s;
  }
  static void Transitions(const Config& c, int64_t s, int64_t a, std::vector<Transition>& out) {
    out.clear();
    const int64_t x = s % c.width, y = s / c.width;
    int64_t nx = x + kGridDx[a], ny = y + kGridDy[a];
    if (Cell(c, nx, ny) == kCellWall) nx = x, ny = y;
    const auto [reward, terminal] = Outcome(c, nx, ny);
    out.push_back({1.0, ny * c.width + nx, reward, terminal});
  }

  explicit GridWorld(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  int64_t StateId() const { return s_; }
  int64_t x() const { return s_ % cfg_->width; }
  int64_t y() const { return s_ / cfg_->width; }
  // State (envs/env_state.h): the cell index.
  template <class F>
  void VisitState(F&& f) {
    f(s_);
  }
  const char* CheckState() const {
    return s_ >= 0 && s_ < NumStates(*cfg_) && Cell(*cfg_, x(), y()) != kCellWall
               ? nullptr
               : "has a cell outside the grid or in a wall";
  }

  void Reset(Rng& rng, Obs* obs, double*) {
    const Config& c = *cfg_;
    int64_t x = c.start_x, y = c.start_y;
    if (c.start_x == -1) {
      do {  // rejection sampling over free non-goal cells (Validate guarantees the goal is free)
        x = rng.Below(c.width), y = rng.Below(c.height);
      } while (Cell(c, x, y) != kCellFree || (x == c.goal_x && y == c.goal_y));
    }
    s_ = y * c.width + x;
    Observe(obs);
  }

  StepOut Step(const Action* a, Rng&, Obs* obs, double*) {
    const Config& c = *cfg_;
    s_ = c.next_cell[static_cast<size_t>(s_ * kNumActions + *a)];
    Observe(obs);
    return c.enter_out[static_cast<size_t>(s_)];
  }

  // VecEnv's batched step: the same moves as Step, one loop per observation mode.
  static void StepBlock(const Config& c, GridWorld* envs, Rng* rngs, int64_t count, const Action* actions,
                        const uint8_t* skip, Obs* obs, double* info, StepOut* out) {
    const int32_t* __restrict next = c.next_cell.data();
    const StepOut* __restrict enter = c.enter_out.data();
    switch (c.obs_mode) {
      case GridObs::kCoords: {
        const float* __restrict xy = c.cell_xy.data();
        for (int64_t j = 0; j < count; ++j) {
          if (skip[j]) continue;
          const int64_t s = next[envs[j].s_ * kNumActions + actions[j]];
          envs[j].s_ = s;
          obs[2 * j] = xy[2 * s];
          obs[2 * j + 1] = xy[2 * s + 1];
          out[j] = enter[s];
        }
        return;
      }
      case GridObs::kOneHot: {  // one memset for the block (skipped rows too: the engine rewrites them)
        const int64_t n = c.width * c.height;
        std::memset(obs, 0, sizeof(Obs) * static_cast<size_t>(count * n));
        for (int64_t j = 0; j < count; ++j) {
          if (skip[j]) continue;
          const int64_t s = next[envs[j].s_ * kNumActions + actions[j]];
          envs[j].s_ = s;
          obs[j * n + s] = 1.0f;
          out[j] = enter[s];
        }
        return;
      }
      default: {
        const int64_t size = ObsShape(c)[0] * ObsShape(c)[1] * ObsShape(c)[2];
        for (int64_t j = 0; j < count; ++j)
          if (!skip[j]) out[j] = envs[j].Step(actions + j, rngs[j], obs + j * size, info);
      }
    }
  }

 private:
  struct RewardDone {
    double reward;
    bool terminal;
  };
  static RewardDone Outcome(const Config& c, int64_t x, int64_t y) {
    if (x == c.goal_x && y == c.goal_y) return {c.goal_reward, true};
    if (Cell(c, x, y) == kCellPit) return {c.pit_reward, true};
    return {-static_cast<double>(c.step_penalty), false};
  }

  void Observe(Obs* obs) const {
    const Config& c = *cfg_;
    switch (c.obs_mode) {
      case GridObs::kCoords:
        obs[0] = c.cell_xy[static_cast<size_t>(2 * s_)];
        obs[1] = c.cell_xy[static_cast<size_t>(2 * s_ + 1)];
        return;
      case GridObs::kOneHot: {
        const int64_t n = c.width * c.height;
        for (int64_t k = 0; k < n; ++k) obs[k] = 0.0f;
        obs[s_] = 1.0f;
        return;
      }
      default: {
        const int64_t px = x(), py = y();
        const int64_t r = c.view_radius, side = 2 * r + 1, plane = side * side;
        for (int64_t row = 0; row < side; ++row) {
          for (int64_t col = 0; col < side; ++col) {
            // row 0 is the top of the view (largest y), as the grid is usually drawn
            const int64_t gx = px + col - r, gy = py + r - row;
            const uint8_t cell = Cell(c, gx, gy);
            const int64_t k = row * side + col;
            obs[k] = cell == kCellWall ? 1.0f : 0.0f;
            obs[plane + k] = (gx == c.goal_x && gy == c.goal_y) ? 1.0f : 0.0f;
            obs[2 * plane + k] = cell == kCellPit ? 1.0f : 0.0f;
          }
        }
      }
    }
  }

  const Config* cfg_;
  int64_t s_ = 0;  // cell index y * width + x
};

}  // namespace nextrl::envs
