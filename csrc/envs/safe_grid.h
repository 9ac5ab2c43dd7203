// SafeGridWorld: a GridWorld (gridworld.h: layout, rewards, step limit, observations) with hazard cells
// and a per-step safety cost, the documents' SafeEnvironment (CA-safe §3.2) with a feasible budget.
//   Cost, on the cell after the move: hazard_cost if it is a hazard, plus boundary_cost if it lies on
//   the grid's border. Hazards are enterable and do not end the episode. info["cost"] is that cost,
//   info["hazard"] 1 when the cell is a hazard. cost_budget is the per-episode budget a constrained
//   agent must keep (expected sum of costs); the env only reports it.
// The tabular model is GridWorld's; the cost of a transition depends only on its next state (StateCost).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "envs/gridworld.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

struct SafeGridWorld {
  struct Config {
    GridWorld::Config grid;
    std::vector<uint8_t> hazards;  // [height * width] 1 = hazard; empty: none
    double hazard_cost = 1.0, boundary_cost = 0.1;
    double cost_budget = 0.5;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 2> kInfoNames{"cost", "hazard"};

  static void Validate(const Config& c) {
    GridWorld::Validate(c.grid);
    const int64_t n = c.grid.width * c.grid.height;
    NEXTRL_CHECK(c.hazards.empty() || static_cast<int64_t>(c.hazards.size()) == n, std::invalid_argument,
                 "SafeGridWorld: hazards must have height * width = ", n, " entries, got ", c.hazards.size());
    for (uint8_t h : c.hazards)
      NEXTRL_CHECK(h <= 1, std::invalid_argument, "SafeGridWorld: hazard values must be 0 or 1, got ", int(h));
    NEXTRL_CHECK(c.grid.obs_mode != GridObs::kImage, std::invalid_argument,
                 "SafeGridWorld: obs_mode must be 'coords' or 'onehot' (the image view has no hazard plane)");
    NEXTRL_CHECK(std::isfinite(c.hazard_cost) && c.hazard_cost >= 0.0 && std::isfinite(c.boundary_cost) &&
                     c.boundary_cost >= 0.0,
                 std::invalid_argument, "SafeGridWorld: hazard_cost and boundary_cost must be finite and >= 0, got ",
                 c.hazard_cost, " and ", c.boundary_cost);
    NEXTRL_CHECK(std::isfinite(c.cost_budget) && c.cost_budget >= 0.0, std::invalid_argument,
                 "SafeGridWorld: cost_budget must be finite and >= 0, got ", c.cost_budget);
  }
  static std::vector<int64_t> ObsShape(const Config& c) { return GridWorld::ObsShape(c.grid); }
  static void Prepare(Config& c) { GridWorld::Prepare(c.grid); }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config& c, const Action* a) { return GridWorld::CheckAction(c.grid, a); }
  static bool AllActionsValid(const Config& c, const Action* a, int64_t count) {
    return GridWorld::AllActionsValid(c.grid, a, count);
  }

  static bool Hazard(const Config& c, int64_t s) { return !c.hazards.empty() && c.hazards[static_cast<size_t>(s)]; }
  // Cost of arriving in cell s = y * width + x.
  static double StateCost(const Config& c, int64_t s) {
    const int64_t x = s % c.grid.width, y = s / c.grid.width;
    const bool border = x == 0 || y == 0 || x == c.grid.width - 1 || y == c.grid.height - 1;
    return (Hazard(c, s) ? c.hazard_cost : 0.0) + (border ? c.boundary_cost : 0.0);
  }

  // Tabular model (GridWorld's).
  static int64_t NumStates(const Config& c) { return GridWorld::NumStates(c.grid); }
  static int64_t NumActions(const Config& c) { return GridWorld::NumActions(c.grid); }
  static std::vector<int64_t> StartStates(const Config& c) { return GridWorld::StartStates(c.grid); }
  static void Transitions(const Config& c, int64_t s, int64_t a, std::vector<Transition>& out) {
    GridWorld::Transitions(c.grid, s, a, out);
  }

  explicit SafeGridWorld(const Config& c) : cfg_(&c), grid_(c.grid) {}
  int64_t MaxSteps() const { return grid_.MaxSteps(); }
  int64_t StateId() const { return grid_.StateId(); }
  // State (envs/env_state.h): GridWorld's.
  template <class F>
  void VisitState(F&& f) {
    grid_.VisitState(f);
  }
  const char* CheckState() const { return grid_.CheckState(); }

  void Reset(Rng& rng, Obs* obs, double* info) {
    grid_.Reset(rng, obs, nullptr);
    info[0] = 0.0;
    info[1] = 0.0;
  }
  StepOut Step(const Action* a, Rng& rng, Obs* obs, double* info) {
    const StepOut out = grid_.Step(a, rng, obs, nullptr);
    const int64_t s = grid_.StateId();
    info[0] = StateCost(*cfg_, s);
    info[1] = Hazard(*cfg_, s) ? 1.0 : 0.0;
    return out;
  }

 private:
  const Config* cfg_;
  GridWorld grid_;
};

}  // namespace nextrl::envs
