// Bindings of the vectorized environments (csrc/envs/): one config class and one BindVecEnv line per env.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/vec_env_binding.h"
#include "common/memory.h"
#include "envs/gridworld.h"

namespace py = pybind11;
namespace e = nextrl::envs;

void BindEnvs(py::module_& m) {
  // A size refused before allocating (common/memory.h) is a MemoryError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nextrl::AllocationRefused& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
  py::enum_<e::GridObs>(m, "_GridObs")
      .value("coords", e::GridObs::kCoords)
      .value("onehot", e::GridObs::kOneHot)
      .value("image", e::GridObs::kImage);
  py::class_<e::GridWorld::Config>(m, "_GridWorldConfig")
      .def(py::init<>())
      .def_readwrite("width", &e::GridWorld::Config::width)
      .def_readwrite("height", &e::GridWorld::Config::height)
      .def_readwrite("start_x", &e::GridWorld::Config::start_x)
      .def_readwrite("start_y", &e::GridWorld::Config::start_y)
      .def_readwrite("goal_x", &e::GridWorld::Config::goal_x)
      .def_readwrite("goal_y", &e::GridWorld::Config::goal_y)
      .def_readwrite("cells", &e::GridWorld::Config::cells)
      .def_readwrite("goal_reward", &e::GridWorld::Config::goal_reward)
      .def_readwrite("step_penalty", &e::GridWorld::Config::step_penalty)
      .def_readwrite("pit_reward", &e::GridWorld::Config::pit_reward)
      .def_readwrite("max_steps", &e::GridWorld::Config::max_steps)
      .def_readwrite("obs_mode", &e::GridWorld::Config::obs_mode)
      .def_readwrite("view_radius", &e::GridWorld::Config::view_radius);
  e::BindVecEnv<e::GridWorld>(m, "_GridWorld");
}
