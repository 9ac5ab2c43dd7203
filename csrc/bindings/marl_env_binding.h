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
using envs::BindInitAndReset;
using envs::BoolView;
using envs::BufferView;
using envs::ShapeStr;

// Envs with a continuous world (MPE) expose it exactly: world_state() -> [num_envs, entities, 4] float64.
template <class Env>
concept WorldStateEnv = requires(const Env& e, double* out, const typename Env::Config& c) {
  e.WorldState(out);
  { Env::NumEntities(c) } -> std::convertible_to<int64_t>;
};

template <class Env>
py::class_<VecMarlEnv<Env>> BindMarlEnv(py::module_& m, const char* name) {
  using V = VecMarlEnv<Env>;
  using Obs = typename Env::Obs;
  using Action = typename Env::Action;
  py::class_<V> cls(m, name);
  BindInitAndReset<V, typename Env::Config>(cls, "VecMarlEnv");
  envs::BindState(cls);
  cls.def(
      "step",
      [](V& v, py::array actions) {
        NEXTRL_CHECK(py::isinstance<py::array_t<Action>>(actions), TypeMismatch, "step: actions must have dtype ",
                     std::string(py::str(py::dtype::of<Action>())), ", got ", std::string(py::str(actions.dtype())));
        NEXTRL_CHECK(actions.flags() & py::array::c_style, TypeMismatch, "step: actions must be C-contiguous");
        const int64_t N = v.num_envs(), A = v.num_agents(), S = v.action_size();
        const bool flat = S == 1 && actions.ndim() == 2 && actions.shape(0) == N && actions.shape(1) == A;
        const bool full =
            actions.ndim() == 3 && actions.shape(0) == N && actions.shape(1) == A && actions.shape(2) == S;
        NEXTRL_CHECK(flat || full, std::invalid_argument, "step: actions must have shape (", N, ", ", A,
                     S == 1 ? std::string(")") : StrCat(", ", S, ")"), ", got ", ShapeStr(actions));
        const Action* a = static_cast<const Action*>(actions.data());
        py::gil_scoped_release release;
        v.Step(a);
      },
      py::arg("actions"));
  cls.def_property_readonly("num_envs", &V::num_envs);
  cls.def_property_readonly("num_agents", &V::num_agents);
  cls.def_property_readonly("obs_size", &V::obs_size);
  cls.def_property_readonly("state_size", &V::state_size);
  cls.def_property_readonly("action_size", &V::action_size);
  cls.def_property_readonly("num_actions", &V::num_actions);
  cls.def_property_readonly("agent_names", [](const V& v) { return v.agent_names(); });
  // [(name, count, obs_size), ...] in agent order.
  cls.def_property_readonly("groups", [](const V& v) {
    py::list out;
    for (const AgentGroup& g : v.groups()) out.append(py::make_tuple(g.name, g.count, g.obs_size));
    return out;
  });
  cls.def_property_readonly("config", [](const V& v) { return v.config(); });
  cls.def_property_readonly_static("info_names", [](py::object) {
    return std::vector<std::string>(Env::kInfoNames.begin(), Env::kInfoNames.end());
  });
  const py::ssize_t kInfo = V::kNumInfo;
  cls.def_property_readonly("obs", [](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<Obs>(self, v.obs(), {v.num_envs(), v.num_agents(), v.obs_size()});
  });
  cls.def_property_readonly("final_obs", [](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<Obs>(self, v.final_obs(), {v.num_envs(), v.num_agents(), v.obs_size()});
  });
  cls.def_property_readonly("state", [](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<float>(self, v.state(), {v.num_envs(), v.state_size()});
  });
  cls.def_property_readonly("final_state", [](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<float>(self, v.final_state(), {v.num_envs(), v.state_size()});
  });
  cls.def_property_readonly("action_masks", [](py::object self) {
    V& v = self.cast<V&>();
    return BoolView(self, v.action_masks(), {v.num_envs(), v.num_agents(), v.num_actions()});
  });
  cls.def_property_readonly("infos", [kInfo](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<double>(self, v.infos(), {v.num_envs(), kInfo});
  });
  cls.def_property_readonly("final_infos", [kInfo](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<double>(self, v.final_infos(), {v.num_envs(), kInfo});
  });
  cls.def_property_readonly("rewards", [](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<float>(self, v.rewards(), {v.num_envs(), v.num_agents()});
  });
  auto per_agent_bool = [](uint8_t* (V::*get)()) {
    return [get](py::object self) {
      V& v = self.cast<V&>();
      return BoolView(self, (v.*get)(), {v.num_envs(), v.num_agents()});
    };
  };
  cls.def_property_readonly("terminations", per_agent_bool(&V::terminations));
  cls.def_property_readonly("truncations", per_agent_bool(&V::truncations));
  cls.def_property_readonly("active", per_agent_bool(&V::active));
  cls.def_property_readonly("episode_done", [](py::object self) {
    V& v = self.cast<V&>();
    return BoolView(self, v.episode_done(), v.num_envs());
  });
  cls.def_property_readonly("needs_reset", [](py::object self) {
    V& v = self.cast<V&>();
    return BoolView(self, v.needs_reset(), v.num_envs());
  });
  cls.def_property_readonly("episode_return", [](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<double>(self, v.episode_return(), {v.num_envs(), v.num_agents()});
  });
  cls.def_property_readonly("episode_length", [](py::object self) {
    V& v = self.cast<V&>();
    return BufferView<int64_t>(self, v.episode_length(), {v.num_envs()});
  });
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
