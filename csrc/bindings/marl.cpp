// Bindings of the multi-agent environments (csrc/marl/): one config class and one BindMarlEnv line per env.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/marl_env_binding.h"
#include "marl/matrix_games.h"
#include "marl/mpe.h"
#include "marl/point_mass_team.h"
#include "marl/predator_prey.h"
#include "marl/resource_allocation.h"
#include "marl/smart_grid.h"
#include "marl/target_collection.h"
#include "marl/traffic.h"

namespace py = pybind11;
namespace ma = nextrl::marl;

void BindMarlEnvs(py::module_& m) {
  py::class_<ma::MatrixGame::Config>(m, "_MatrixGameConfig")
      .def(py::init<>())
      .def_readwrite("num_actions", &ma::MatrixGame::Config::num_actions)
      .def_readwrite("payoffs", &ma::MatrixGame::Config::payoffs)
      .def_readwrite("rounds", &ma::MatrixGame::Config::rounds);
  ma::BindMarlEnv<ma::MatrixGame>(m, "_MatrixGame");

  py::class_<ma::TwoStepGame::Config>(m, "_TwoStepGameConfig").def(py::init<>());
  ma::BindMarlEnv<ma::TwoStepGame>(m, "_TwoStepGame");

  using PP = ma::PredatorPrey::Config;
  py::enum_<ma::PreyPolicy>(m, "_PreyPolicy")
      .value("random", ma::PreyPolicy::kRandom)
      .value("learning", ma::PreyPolicy::kLearning);
  py::class_<PP>(m, "_PredatorPreyConfig")
      .def(py::init<>())
      .def_readwrite("num_predators", &PP::num_predators)
      .def_readwrite("num_prey", &PP::num_prey)
      .def_readwrite("grid_size", &PP::grid_size)
      .def_readwrite("max_steps", &PP::max_steps)
      .def_readwrite("prey_policy", &PP::prey_policy)
      .def_readwrite("capture_radius", &PP::capture_radius)
      .def_readwrite("capture_min_predators", &PP::capture_min_predators)
      .def_readwrite("capture_reward", &PP::capture_reward)
      .def_readwrite("shaping", &PP::shaping);
  ma::BindMarlEnv<ma::PredatorPrey>(m, "_PredatorPrey");

  using TC = ma::TargetCollection::Config;
  py::class_<TC>(m, "_TargetCollectionConfig")
      .def(py::init<>())
      .def_readwrite("grid_size", &TC::grid_size)
      .def_readwrite("num_agents", &TC::num_agents)
      .def_readwrite("num_targets", &TC::num_targets)
      .def_readwrite("max_steps", &TC::max_steps)
      .def_readwrite("target_reward", &TC::target_reward)
      .def_readwrite("team_bonus", &TC::team_bonus)
      .def_readwrite("step_penalty", &TC::step_penalty)
      .def_readwrite("collision_penalty", &TC::collision_penalty);
  ma::BindMarlEnv<ma::TargetCollection>(m, "_TargetCollection");

  py::enum_<ma::MpeScenario>(m, "_MpeScenario")
      .value("simple_spread", ma::MpeScenario::kSpread)
      .value("simple_tag", ma::MpeScenario::kTag);
  py::class_<ma::MpeConfig>(m, "_MpeConfig")
      .def(py::init<>())
      .def_readwrite("scenario", &ma::MpeConfig::scenario)
      .def_readwrite("num_agents", &ma::MpeConfig::num_agents)
      .def_readwrite("num_good", &ma::MpeConfig::num_good)
      .def_readwrite("num_adversaries", &ma::MpeConfig::num_adversaries)
      .def_readwrite("num_obstacles", &ma::MpeConfig::num_obstacles)
      .def_readwrite("max_cycles", &ma::MpeConfig::max_cycles)
      .def_readwrite("local_ratio", &ma::MpeConfig::local_ratio);
  using PM = ma::PointMassTeam::Config;
  py::enum_<ma::TeamReward>(m, "_TeamReward")
      .value("cooperative", ma::TeamReward::kCooperative)
      .value("competitive", ma::TeamReward::kCompetitive)
      .value("mixed", ma::TeamReward::kMixed);
  py::class_<PM>(m, "_PointMassTeamConfig")
      .def(py::init<>())
      .def_readwrite("num_agents", &PM::num_agents)
      .def_readwrite("num_teams", &PM::num_teams)
      .def_readwrite("max_steps", &PM::max_steps)
      .def_readwrite("reward", &PM::reward)
      .def_readwrite("bound", &PM::bound)
      .def_readwrite("noise_std", &PM::noise_std)
      .def_readwrite("obs_noise_std", &PM::obs_noise_std);
  ma::BindMarlEnv<ma::PointMassTeam>(m, "_PointMassTeam");

  using RA = ma::ResourceAllocation::Config;
  py::class_<RA>(m, "_ResourceAllocationConfig")
      .def(py::init<>())
      .def_readwrite("num_agents", &RA::num_agents)
      .def_readwrite("num_resources", &RA::num_resources)
      .def_readwrite("max_steps", &RA::max_steps)
      .def_readwrite("capacities", &RA::capacities)
      .def_readwrite("done_threshold", &RA::done_threshold);
  ma::BindMarlEnv<ma::ResourceAllocation>(m, "_ResourceAllocation");

  using TR = ma::Traffic::Config;
  py::class_<TR>(m, "_TrafficConfig")
      .def(py::init<>())
      .def_readwrite("num_vehicles", &TR::num_vehicles)
      .def_readwrite("max_steps", &TR::max_steps)
      .def_readwrite("road_length", &TR::road_length)
      .def_readwrite("vehicle_length", &TR::vehicle_length)
      .def_readwrite("min_gap", &TR::min_gap)
      .def_readwrite("dt", &TR::dt)
      .def_readwrite("max_accel", &TR::max_accel)
      .def_readwrite("v_max", &TR::v_max)
      .def_readwrite("safety_penalty", &TR::safety_penalty)
      .def_readwrite("collision_penalty", &TR::collision_penalty);
  ma::BindMarlEnv<ma::Traffic>(m, "_Traffic");

  using SG = ma::SmartGrid::Config;
  py::class_<SG>(m, "_SmartGridConfig")
      .def(py::init<>())
      .def_readwrite("num_producers", &SG::num_producers)
      .def_readwrite("num_consumers", &SG::num_consumers)
      .def_readwrite("num_storage", &SG::num_storage)
      .def_readwrite("step_hours", &SG::step_hours)
      .def_readwrite("storage_capacity", &SG::storage_capacity)
      .def_readwrite("max_power", &SG::max_power)
      .def_readwrite("base_price", &SG::base_price)
      .def_readwrite("imbalance_weight", &SG::imbalance_weight)
      .def_readwrite("comfort_weight", &SG::comfort_weight)
      .def_readwrite("wear", &SG::wear);
  ma::BindMarlEnv<ma::SmartGrid>(m, "_SmartGrid");

  ma::BindMarlEnv<ma::Mpe<false>>(m, "_Mpe");
  ma::BindMarlEnv<ma::Mpe<true>>(m, "_MpeContinuous");
}
