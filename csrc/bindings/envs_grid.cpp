// Bindings of FrozenLake, CliffWalking, SafeGridWorld, RobustGridWorld and GoalGridWorld: one config class
// and one BindVecEnv line per env, plus each env's extra model accessors (and test-only stepwise twins of
// the envs with a StepBlock).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings/vec_env_binding.h"
#include "envs/goal_grid.h"
#include "envs/gridworld.h"
#include "envs/robust_grid.h"
#include "envs/safe_grid.h"
#include "envs/toy_text.h"

namespace py = pybind11;
namespace e = nextrl::envs;

namespace {

void BindToyText(py::module_& m) {
  using FL = e::FrozenLake::Config;
  py::class_<FL>(m, "_FrozenLakeConfig")
      .def(py::init<>())
      .def_readwrite("nrow", &FL::nrow)
      .def_readwrite("ncol", &FL::ncol)
      .def_readwrite("desc", &FL::desc)
      .def_readwrite("is_slippery", &FL::is_slippery)
      .def_readwrite("success_rate", &FL::success_rate)
      .def_readwrite("reward_goal", &FL::reward_goal)
      .def_readwrite("reward_hole", &FL::reward_hole)
      .def_readwrite("reward_frozen", &FL::reward_frozen)
      .def_readwrite("max_steps", &FL::max_steps);
  e::BindVecEnv<e::FrozenLake>(m, "_FrozenLake");
  using CW = e::CliffWalking::Config;
  py::class_<CW>(m, "_CliffWalkingConfig")
      .def(py::init<>())
      .def_readwrite("is_slippery", &CW::is_slippery)
      .def_readwrite("max_steps", &CW::max_steps);
  e::BindVecEnv<e::CliffWalking>(m, "_CliffWalking");
  // Test-only: the same envs stepped one by one through Step instead of their StepBlock.
  static_assert(e::HasStepBlock<e::FrozenLake> && !e::HasStepBlock<e::Stepwise<e::FrozenLake>>);
  e::BindVecEnv<e::Stepwise<e::FrozenLake>>(m, "_FrozenLakeStepwise");
  e::BindVecEnv<e::Stepwise<e::CliffWalking>>(m, "_CliffWalkingStepwise");
  e::BindVecEnv<e::Stepwise<e::GridWorld>>(m, "_GridWorldStepwise");
}

void BindSafeGrid(py::module_& m) {
  using C = e::SafeGridWorld::Config;
  py::class_<C>(m, "_SafeGridWorldConfig")
      .def(py::init<>())
      .def_readwrite("grid", &C::grid)
      .def_readwrite("hazards", &C::hazards)
      .def_readwrite("hazard_cost", &C::hazard_cost)
      .def_readwrite("boundary_cost", &C::boundary_cost)
      .def_readwrite("cost_budget", &C::cost_budget);
  e::BindVecEnv<e::SafeGridWorld>(m, "_SafeGridWorld")
      // [S] float64: the cost of arriving in each state.
      .def_static("state_costs", [](const C& c) {
        e::SafeGridWorld::Validate(c);
        const int64_t n = e::SafeGridWorld::NumStates(c);
        py::array_t<double> out(n);
        auto o = out.mutable_unchecked<1>();
        for (int64_t s = 0; s < n; ++s) o(s) = e::SafeGridWorld::StateCost(c, s);
        return out;
      });
}

void BindRobustGrid(py::module_& m) {
  using R = e::RobustGridWorld;
  using C = R::Config;
  py::class_<C>(m, "_RobustGridWorldConfig")
      .def(py::init<>())
      .def_readwrite("min_size", &C::min_size)
      .def_readwrite("max_size", &C::max_size)
      .def_readwrite("min_obs_noise", &C::min_obs_noise)
      .def_readwrite("max_obs_noise", &C::max_obs_noise)
      .def_readwrite("min_action_failure", &C::min_action_failure)
      .def_readwrite("max_action_failure", &C::max_action_failure)
      .def_readwrite("min_reward_noise", &C::min_reward_noise)
      .def_readwrite("max_reward_noise", &C::max_reward_noise)
      .def_readwrite("min_obstacles", &C::min_obstacles)
      .def_readwrite("max_obstacles", &C::max_obstacles)
      .def_readwrite("goal_reward", &C::goal_reward)
      .def_readwrite("obstacle_penalty", &C::obstacle_penalty)
      .def_readwrite("step_penalty", &C::step_penalty)
      .def_readwrite("distance_penalty", &C::distance_penalty)
      .def_readwrite("max_steps", &C::max_steps);
  e::BindVecEnv<R>(m, "_RobustGridWorld")
      // values: [num_envs, 5] float64 in kInfoNames order; given: which of the 5 are fixed; mask:
      // [num_envs] bool or None (all). Fixes those fields of the masked envs' next reset.
      .def(
          "set_pending",
          [](e::VecEnv<R>& v, py::array_t<double, py::array::c_style | py::array::forcecast> values,
             std::vector<bool> given, py::object mask) {
            const int64_t n = v.num_envs();
            NEXTRL_CHECK(values.ndim() == 2 && values.shape(0) == n && values.shape(1) == 5, std::invalid_argument,
                         "reset: params values must have shape (", n, ", 5)");
            NEXTRL_CHECK(given.size() == 5, std::invalid_argument, "reset: given must have 5 entries");
            std::vector<uint8_t> use(static_cast<size_t>(n), 1);
            if (!mask.is_none()) {
              auto b = mask.cast<py::array_t<bool>>().unchecked<1>();
              for (int64_t i = 0; i < n; ++i) use[static_cast<size_t>(i)] = b(i);
            }
            unsigned fields = 0;
            for (unsigned k = 0; k < 5; ++k) fields |= given[k] ? (1u << k) : 0u;
            auto val = values.unchecked<2>();
            for (int64_t i = 0; i < n; ++i) {  // check all before changing any
              if (!use[static_cast<size_t>(i)]) continue;
              R::Params p{static_cast<int64_t>(val(i, 0)), val(i, 1), val(i, 2), val(i, 3),
                          static_cast<int64_t>(val(i, 4))};
              // Fields left to chance are checked at their most demanding draw: a drawn size can be min_size.
              if (!given[0]) p.size = v.config().min_size;
              if (!given[1]) p.obs_noise = 0.0;
              if (!given[2]) p.action_failure = 0.0;
              if (!given[3]) p.reward_noise = 0.0;
              if (!given[4]) p.num_obstacles = 0;
              const char* err = R::CheckParams(v.config(), p);
              NEXTRL_CHECK(err == nullptr, std::invalid_argument, "reset: options['params'] of env ", i, ": ", err,
                           given[0] ? "" : " (the size is drawn and can be min_size)", "; got size ", p.size,
                           ", obs_noise ", p.obs_noise, ", action_failure_prob ", p.action_failure, ", reward_noise ",
                           p.reward_noise, ", num_obstacles ", p.num_obstacles);
            }
            for (int64_t i = 0; i < n; ++i) {
              if (!use[static_cast<size_t>(i)]) continue;
              R::Params p{static_cast<int64_t>(val(i, 0)), val(i, 1), val(i, 2), val(i, 3),
                          static_cast<int64_t>(val(i, 4))};
              v.env(i).SetPending(p, fields);
            }
          },
          py::arg("values"), py::arg("given"), py::arg("mask") = py::none())
      // [num_envs, max_size, max_size] bool: obstacle cells (row y, column x) of the current episodes.
      .def("obstacles",
           [](const e::VecEnv<R>& v) {
             const int64_t n = v.num_envs(), s = v.config().max_size;
             py::array_t<bool> out({n, s, s});
             auto o = out.mutable_unchecked<3>();
             for (int64_t i = 0; i < n; ++i)
               for (int64_t y = 0; y < s; ++y)
                 for (int64_t x = 0; x < s; ++x) o(i, y, x) = v.env(i).Blocked(x, y);
             return out;
           })
      // [num_envs, 2] int64: the agents' cells (x, y).
      .def("positions", [](const e::VecEnv<R>& v) {
        const int64_t n = v.num_envs();
        py::array_t<int64_t> out({n, int64_t{2}});
        auto o = out.mutable_unchecked<2>();
        for (int64_t i = 0; i < n; ++i) o(i, 0) = v.env(i).x(), o(i, 1) = v.env(i).y();
        return out;
      });
}

void BindGoalGrid(py::module_& m) {
  using C = e::GoalGridWorld::Config;
  py::class_<C>(m, "_GoalGridWorldConfig")
      .def(py::init<>())
      .def_readwrite("width", &C::width)
      .def_readwrite("height", &C::height)
      .def_readwrite("walls", &C::walls)
      .def_readwrite("start_x", &C::start_x)
      .def_readwrite("start_y", &C::start_y)
      .def_readwrite("dense", &C::dense)
      .def_readwrite("terminate_on_success", &C::terminate_on_success)
      .def_readwrite("max_steps", &C::max_steps);
  e::BindVecEnv<e::GoalGridWorld>(m, "_GoalGridWorld");
}

}  // namespace

void BindGridEnvs(py::module_& m) {
  BindToyText(m);
  BindSafeGrid(m);
  BindRobustGrid(m);
  BindGoalGrid(m);
}
