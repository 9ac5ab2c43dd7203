// BindMarlEnv<Env>(m, "_Name"): the one-line registration of a multi-agent C++ env as a Python class over
// VecMarlEnv<Env>. The class takes (num_envs, config, autoreset_mode) and exposes reset / step and
// zero-copy NumPy views of the driver's buffers (valid while the object lives; every call rewrites them).
// Only the bindings include this header.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/vec_env_binding.h"
#include "common/check.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

namespace py = pybind11;
using envs::DefView;

// Envs with a continuous world (MPE) expose it exactly: world_state() -> [num_envs, entities, 4] float64.
template <class Env>
concept WorldStateEnv = requires(const Env& e, double* out, const typename Env::Config& c) {
  e.WorldState(out);
  { Env::NumEntities(c) } -> std::convertible_to<int64_t>;
};

template <class Env>
py::class_<VecMarlEnv<Env>> BindMarlEnv(py::module_& m, const char* name) {
  using V = VecMarlEnv<Env>;
  auto per_agent = [](const V& v) { return std::vector<py::ssize_t>{v.num_envs(), v.num_agents()}; };
  auto cls = envs::BindDriver<V>(m, name, "VecMarlEnv", per_agent);
  cls.def_property_readonly("num_agents", &V::num_agents);
  cls.def_property_readonly("obs_size", &V::obs_size);
  cls.def_property_readonly("state_size", &V::state_size);
  cls.def_property_readonly("num_actions", &V::num_actions);
  cls.def_property_readonly("agent_names", [](const V& v) { return v.agent_names(); });
  // [(name, count, obs_size), ...] in agent order.
  cls.def_property_readonly("groups", [](const V& v) {
    py::list out;
    for (const AgentGroup& g : v.groups()) out.append(py::make_tuple(g.name, g.count, g.obs_size));
    return out;
  });
  auto obs = [](const V& v) { return std::vector<py::ssize_t>{v.num_envs(), v.num_agents(), v.obs_size()}; };
  auto state = [](const V& v) { return std::vector<py::ssize_t>{v.num_envs(), v.state_size()}; };
  DefView(cls, "obs", &V::obs, obs);
  DefView(cls, "final_obs", &V::final_obs, obs);
  DefView(cls, "state", &V::state, state);
  DefView(cls, "final_state", &V::final_state, state);
  DefView(cls, "action_masks", &V::action_masks,
          [](const V& v) { return std::vector<py::ssize_t>{v.num_envs(), v.num_agents(), v.num_actions()}; });
  DefView(cls, "active", &V::active, per_agent);
  if constexpr (WorldStateEnv<Env>) {
    cls.def("world_state", [](V& v) {
      const int64_t E = Env::NumEntities(v.config());
      py::array_t<double> out({v.num_envs(), E, int64_t{4}});
      double* o = out.mutable_data();
      for (int64_t i = 0; i < v.num_envs(); ++i) v.env(i).WorldState(o + i * E * 4);
      return out;
    });
  }
  return cls;
}

}  // namespace nextrl::marl
