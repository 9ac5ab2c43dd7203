// BindVecEnv<Env>(m, "_Name"): the one-line registration of a C++ env as a Python class over VecEnv<Env>.
// The class takes (num_envs, config, autoreset_mode) and exposes reset / step and zero-copy NumPy views of
// the driver's buffers (they stay valid while the object lives; every call rewrites them in place).
// Tabular envs (those with StateId / Transitions) also get state_ids() and transition_table(config).
// BindDriver is the part shared with the multi-agent binding (bindings/marl_env_binding.h), as DriverCore
// is the part shared by the drivers. Only the bindings include this header.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "common/check.h"
#include "envs/vec_env.h"

namespace nextrl::envs {

namespace py = pybind11;

template <typename T>
py::array BufferView(py::handle owner, T* data, std::vector<py::ssize_t> shape) {
  return py::array_t<T>(shape, data, owner);
}

// A C-contiguous bool view of a uint8 (0 / 1) buffer of any shape.
inline py::array BoolView(py::handle owner, uint8_t* data, std::vector<py::ssize_t> shape) {
  std::vector<py::ssize_t> strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return py::array(py::dtype("bool"), shape, strides, data, owner);
}

// "(3, 4)" for a NumPy array's shape, for error messages.
inline std::string ShapeStr(const py::array& a) {
  return std::string(py::str(py::tuple(py::cast(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim())))));
}

template <class Env>
concept TabularEnv = requires(const Env& e, const typename Env::Config& c, std::vector<Transition>& out) {
  { e.StateId() } -> std::convertible_to<int64_t>;
  { Env::NumStates(c) } -> std::convertible_to<int64_t>;
  Env::Transitions(c, int64_t{0}, int64_t{0}, out);
};

// A seed argument: a Python int in [0, 2**64) (ValueError outside, TypeError for another type; pybind11's
// own cast would raise RuntimeError for 2**64, or wrap).
inline uint64_t SeedArg(const char* fn, py::handle seed) {
  NEXTRL_CHECK(py::isinstance<py::int_>(seed) && !py::isinstance<py::bool_>(seed), TypeMismatch, fn,
               ": seed must be an int, got ", std::string(py::str(py::type::of(seed).attr("__name__"))));
  const py::int_ value = py::reinterpret_borrow<py::int_>(seed);
  const bool ok = value >= py::int_(0) && value < py::int_(py::module_::import("builtins").attr("pow")(2, 64));
  NEXTRL_CHECK(ok, std::invalid_argument, fn, ": seed must be in [0, 2**64), got ", std::string(py::str(seed)));
  return value.cast<uint64_t>();
}

// A read-only property `name`: a zero-copy view of (v.*get)() with shape(v), kept alive by the object; a
// uint8_t buffer of 0 / 1 flags is viewed as bool.
template <class V, class Get, class Shape>
void DefView(py::class_<V>& cls, const char* name, Get get, Shape shape) {
  cls.def_property_readonly(name, [get, shape](py::object self) {
    V& v = self.cast<V&>();
    auto* data = (v.*get)();
    using T = std::remove_pointer_t<decltype(data)>;
    const std::vector<py::ssize_t> s = shape(v);
    if constexpr (std::is_same_v<T, uint8_t>) {
      return BoolView(self, data, s);
    } else {
      return BufferView<T>(self, data, s);
    }
  });
}

// What a driver over DriverCore (VecEnv, VecMarlEnv) exposes alike. lead(v) is the leading shape of the
// per-agent buffers ([num_envs] or [num_envs, num_agents]): actions have shape lead + [action_size], or lead
// alone when action_size is 1.
//   __init__(num_envs, config, autoreset_mode), reset(seed, mask), step(actions) -> finished episodes,
//   get_state() -> [num_envs, state_bytes] uint8, set_state(states) (rows copy, tile and restore: a row of
//   env i restores env j), num_envs, num_done, action_size, config, info_names, and the views infos,
//   final_infos, rewards, terminations, truncations, episode_done, needs_reset, episode_return (lead),
//   episode_length ([num_envs]).
template <class V, class Lead>
py::class_<V> BindDriver(py::module_& m, const char* name, const char* driver, Lead lead) {
  using Config = typename V::Config;
  using Action = typename V::Action;
  const std::string driver_name = driver;
  py::class_<V> cls(m, name);
  cls.def(py::init([driver_name](int64_t num_envs, const Config& config, int mode) {
            NEXTRL_CHECK(mode >= 0 && mode <= 2, std::invalid_argument, driver_name,
                         ": autoreset_mode must be 0 (next step), 1 (same step) or 2 (disabled), got ", mode);
            return new V(num_envs, config, static_cast<Autoreset>(mode));
          }),
          py::arg("num_envs"), py::arg("config"), py::arg("autoreset_mode") = 0);
  cls.def(
      "reset",
      [](V& v, py::object seed, py::object mask) {
        const bool has_seed = !seed.is_none();
        const uint64_t s = has_seed ? SeedArg("reset", seed) : 0;
        std::vector<uint8_t> m;
        if (!mask.is_none()) {
          auto arr = mask.cast<py::array>();
          NEXTRL_CHECK(py::isinstance<py::array_t<bool>>(arr), TypeMismatch,
                       "reset: reset_mask must have dtype bool, got ", std::string(py::str(arr.dtype())));
          NEXTRL_CHECK(arr.ndim() == 1 && arr.shape(0) == v.num_envs(), std::invalid_argument,
                       "reset: reset_mask must have shape (", v.num_envs(), ",), got ", ShapeStr(arr));
          auto b = arr.cast<py::array_t<bool>>().template unchecked<1>();
          m.resize(static_cast<size_t>(v.num_envs()));
          for (int64_t i = 0; i < v.num_envs(); ++i) m[static_cast<size_t>(i)] = b(i) ? 1 : 0;
        }
        py::gil_scoped_release release;
        v.Reset(has_seed, s, m.empty() ? nullptr : m.data());
      },
      py::arg("seed") = py::none(), py::arg("mask") = py::none());
  cls.def(
      "step",
      [lead](V& v, py::array actions) {
        NEXTRL_CHECK(py::isinstance<py::array_t<Action>>(actions), TypeMismatch, "step: actions must have dtype ",
                     std::string(py::str(py::dtype::of<Action>())), ", got ", std::string(py::str(actions.dtype())));
        NEXTRL_CHECK(actions.flags() & py::array::c_style, TypeMismatch, "step: actions must be C-contiguous");
        std::vector<py::ssize_t> want = lead(v);
        const std::vector<py::ssize_t> got(actions.shape(), actions.shape() + actions.ndim());
        const bool flat = v.action_size() == 1 && got == want;
        want.push_back(v.action_size());
        NEXTRL_CHECK(flat || got == want, std::invalid_argument, "step: actions must have shape ",
                     std::string(py::str(py::tuple(py::cast(v.action_size() == 1 ? lead(v) : want)))), ", got ",
                     ShapeStr(actions));
        const Action* a = static_cast<const Action*>(actions.data());
        py::gil_scoped_release release;
        return v.Step(a);
      },
      py::arg("actions"), "Steps every env; returns the number of envs that finished an episode.");
  cls.def_property_readonly("state_bytes", &V::state_bytes);
  cls.def("get_state", [](const V& v) {
    py::array_t<uint8_t> out({static_cast<py::ssize_t>(v.num_envs()), static_cast<py::ssize_t>(v.state_bytes())});
    uint8_t* o = out.mutable_data();
    py::gil_scoped_release release;
    v.GetState(o);
    return out;
  });
  cls.def(
      "set_state",
      [](V& v, py::array states) {
        NEXTRL_CHECK(py::isinstance<py::array_t<uint8_t>>(states), TypeMismatch,
                     "set_state: states must have dtype uint8 (from get_state()), got ",
                     std::string(py::str(states.dtype())));
        NEXTRL_CHECK(states.flags() & py::array::c_style, TypeMismatch, "set_state: states must be C-contiguous");
        NEXTRL_CHECK(states.ndim() == 2 && states.shape(0) == v.num_envs() && states.shape(1) == v.state_bytes(),
                     std::invalid_argument, "set_state: states must have shape (", v.num_envs(), ", ", v.state_bytes(),
                     "), got ", ShapeStr(states));
        const uint8_t* in = static_cast<const uint8_t*>(states.data());
        py::gil_scoped_release release;
        v.SetState(in);
      },
      py::arg("states"));
  cls.def_property_readonly("num_envs", &V::num_envs);
  cls.def_property_readonly("num_done", &V::num_done);
  cls.def_property_readonly("action_size", &V::action_size);
  cls.def_property_readonly("config", [](const V& v) { return v.config(); });
  cls.def_property_readonly_static("info_names", [](py::object) {
    return std::vector<std::string>(V::EnvType::kInfoNames.begin(), V::EnvType::kInfoNames.end());
  });
  auto infos = [](const V& v) { return std::vector<py::ssize_t>{v.num_envs(), V::kNumInfo}; };
  auto per_env = [](const V& v) { return std::vector<py::ssize_t>{v.num_envs()}; };
  DefView(cls, "infos", &V::infos, infos);
  DefView(cls, "final_infos", &V::final_infos, infos);
  DefView(cls, "rewards", &V::rewards, lead);
  DefView(cls, "terminations", &V::terminations, lead);
  DefView(cls, "truncations", &V::truncations, lead);
  DefView(cls, "episode_return", &V::episode_return, lead);
  DefView(cls, "episode_done", &V::episode_done, per_env);
  DefView(cls, "needs_reset", &V::needs_reset, per_env);
  DefView(cls, "episode_length", &V::episode_length, per_env);
  return cls;
}

template <class Env>
py::class_<VecEnv<Env>> BindVecEnv(py::module_& m, const char* name) {
  using V = VecEnv<Env>;
  auto cls = BindDriver<V>(m, name, "VecEnv", [](const V& v) { return std::vector<py::ssize_t>{v.num_envs()}; });
  cls.def_property_readonly("obs_shape", [](const V& v) { return v.obs_shape(); });
  auto obs_shape = [](const V& v) {
    std::vector<py::ssize_t> s{v.num_envs()};
    for (int64_t d : v.obs_shape()) s.push_back(d);
    return s;
  };
  DefView(cls, "obs", &V::obs, obs_shape);
  DefView(cls, "final_obs", &V::final_obs, obs_shape);
  // Box bounds declared by the env (vec_env.h): (low, high) lists of floats for the Python spaces.
  using Config = typename Env::Config;
  if constexpr (requires(const Config& c) { Env::ObsBounds(c); }) {
    cls.def_static("obs_bounds", [](const Config& c) {
      Env::Validate(c);
      const Bounds b = Env::ObsBounds(c);
      return py::make_tuple(b.low, b.high);
    });
  }
  if constexpr (requires(const Config& c) { Env::ActionBounds(c); }) {
    cls.def_static("action_bounds", [](const Config& c) {
      Env::Validate(c);
      const Bounds b = Env::ActionBounds(c);
      return py::make_tuple(b.low, b.high);
    });
  }
  if constexpr (TabularEnv<Env>) {
    cls.def("state_ids", [](const V& v) {
      py::array_t<int64_t> out(v.num_envs());
      auto o = out.mutable_unchecked<1>();
      for (int64_t i = 0; i < v.num_envs(); ++i) o(i) = v.env(i).StateId();
      return out;
    });
    // (p, next, reward, terminal), each [S, A, K] (K = most outcomes of any pair; padding has p = 0).
    cls.def_static("transition_table", [](const typename Env::Config& c) {
      Env::Validate(c);
      const int64_t S = Env::NumStates(c), A = Env::NumActions(c);
      std::vector<std::vector<Transition>> all(static_cast<size_t>(S * A));
      size_t K = 1;
      for (int64_t s = 0; s < S; ++s)
        for (int64_t a = 0; a < A; ++a) {
          Env::Transitions(c, s, a, all[static_cast<size_t>(s * A + a)]);
          K = std::max(K, all[static_cast<size_t>(s * A + a)].size());
        }
      const std::vector<py::ssize_t> shape{S, A, static_cast<py::ssize_t>(K)};
      py::array_t<double> p(shape), r(shape);
      py::array_t<int64_t> nxt(shape);
      py::array_t<bool> term(shape);
      auto pp = p.mutable_unchecked<3>();
      auto rr = r.mutable_unchecked<3>();
      auto nn = nxt.mutable_unchecked<3>();
      auto tt = term.mutable_unchecked<3>();
      for (int64_t s = 0; s < S; ++s)
        for (int64_t a = 0; a < A; ++a)
          for (size_t k = 0; k < K; ++k) {
            const auto& v = all[static_cast<size_t>(s * A + a)];
            const bool has = k < v.size();
            pp(s, a, k) = has ? v[k].p : 0.0;
            nn(s, a, k) = has ? v[k].next : s;
            rr(s, a, k) = has ? v[k].reward : 0.0;
            tt(s, a, k) = has ? v[k].terminal : false;
          }
      return py::make_tuple(p, nxt, r, term);
    });
    cls.def_static("start_states", [](const typename Env::Config& c) { return Env::StartStates(c); });
  }
  return cls;
}

}  // namespace nextrl::envs
