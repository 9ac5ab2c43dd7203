// Bindings of the continuous-control envs (point mass, causal thrust, heterogeneous point mass, CartPole,
// Pendulum) and QuantumStatePrep: one config class and one BindVecEnv line per env, plus read access to
// the exact (double) states for reference checks and the per-env settings of reset options.
#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "bindings/vec_env_binding.h"
#include "common/simd_math.h"
#include "envs/classic_control.h"
#include "envs/point_mass.h"
#include "envs/quantum_prep.h"

namespace py = pybind11;
namespace e = nextrl::envs;

namespace {

// states(): [num_envs, state_size] float64 copy of every env's exact state.
template <class Env>
void BindStates(py::class_<e::VecEnv<Env>>& cls) {
  cls.def("states", [](e::VecEnv<Env>& v) {
    const int64_t n = Env::StateSize(v.config());
    py::array_t<double> out({static_cast<py::ssize_t>(v.num_envs()), static_cast<py::ssize_t>(n)});
    auto o = out.mutable_unchecked<2>();
    for (int64_t i = 0; i < v.num_envs(); ++i)
      for (int64_t k = 0; k < n; ++k) o(i, k) = v.env(i).State()[k];
    return out;
  });
}

// A [num_envs] array argument of a per-env setter.
template <typename T>
py::array_t<T> PerEnv(const char* fn, py::array_t<T, py::array::c_style | py::array::forcecast> values, int64_t n) {
  NEXTRL_CHECK(values.ndim() == 1 && values.shape(0) == n, std::invalid_argument, fn, ": values must have shape (", n,
               ",)");
  return values;
}

// SinCosArray compiled like CartPole::StepBlock (AVX2 clone where the CPU has it), for _sincos.
NEXTRL_TARGET_CLONES_AVX2 void SinCosArrayClones(const double* x, double* s, double* c, int64_t n) {
  nextrl::SinCosArray(x, s, c, n);
}

// Test hooks of common/simd_math.h and CartPole::StepBlock.
void BindTestHooks(py::module_& m) {
  // _rng_draws(seed, stream, ops): replays ops on one Rng(seed, stream); op k >= 0 is Uniforms(-1, 2, k), op -1
  // one NextU32, op -2 one Uniform(-1, 2). Returns every value drawn, as float64 (a u32 converts exactly).
  m.def("_rng_draws", [](uint64_t seed, uint64_t stream, const std::vector<int64_t>& ops) {
    nextrl::Rng rng(seed, stream);
    std::vector<double> out;
    for (int64_t op : ops) {
      NEXTRL_CHECK(op >= -2, std::invalid_argument, "_rng_draws: ops must be >= -2, got ", op);
      if (op == -1) {
        out.push_back(rng.NextU32());
      } else if (op == -2) {
        out.push_back(rng.Uniform(-1.0, 2.0));
      } else {
        const size_t at = out.size();
        out.resize(at + static_cast<size_t>(op));
        rng.Uniforms(-1.0, 2.0, out.data() + at, op);
      }
    }
    return py::array_t<double>(static_cast<py::ssize_t>(out.size()), out.data());
  });
  // _sincos(x, vectorized): (sin x, cos x) of a float64 array, through SinCosArrayClones or element by
  // element through the scalar SinCos (baseline x86-64 code).
  m.def("_sincos", [](py::array_t<double, py::array::c_style | py::array::forcecast> x, bool vectorized) {
    const int64_t n = x.size();
    py::array_t<double> s(x.request().shape), c(x.request().shape);
    const double* px = x.data();
    double *ps = s.mutable_data(), *pc = c.mutable_data();
    if (vectorized) {
      SinCosArrayClones(px, ps, pc, n);
    } else {
      for (int64_t i = 0; i < n; ++i) nextrl::SinCos(px[i], ps[i], pc[i]);
    }
    return py::make_tuple(s, c);
  });
  // _cartpole_step(config, states [n, 4], actions [n]): CartPole::Step from each state, env by env:
  // (next states [n, 4], obs [n, 4] float32, rewards [n], terminated [n]).
  m.def("_cartpole_step",
        [](const e::CartPole::Config& config, py::array_t<double, py::array::c_style | py::array::forcecast> states,
           py::array_t<int64_t, py::array::c_style | py::array::forcecast> actions) {
          NEXTRL_CHECK(
              states.ndim() == 2 && states.shape(1) == 4 && actions.ndim() == 1 && actions.shape(0) == states.shape(0),
              std::invalid_argument, "_cartpole_step: states must be [n, 4] and actions [n]");
          const py::ssize_t n = states.shape(0);
          py::array_t<double> next({n, py::ssize_t{4}});
          py::array_t<float> obs({n, py::ssize_t{4}}), rewards(n);
          py::array_t<bool> terminated(n);
          e::CartPole env(config);
          nextrl::Rng rng;
          for (py::ssize_t i = 0; i < n; ++i) {
            env.SetState(states.data(i, 0));
            const e::StepOut out = env.Step(actions.data(i), rng, obs.mutable_data(i, 0), nullptr);
            for (int k = 0; k < 4; ++k) next.mutable_at(i, k) = env.State()[k];
            rewards.mutable_at(i) = out.reward;
            terminated.mutable_at(i) = out.terminated;
          }
          return py::make_tuple(next, obs, rewards, terminated);
        });
}

}  // namespace

void BindControlEnvs(py::module_& m) {
  BindTestHooks(m);

  // ------------------------------------------------------------------------------------------- PointMass
  using PM = e::PointMass;
  py::class_<PM::Config>(m, "_PointMassConfig")
      .def(py::init<>())
      .def_readwrite("noise_std", &PM::Config::noise_std)
      .def_readwrite("nuisance_std", &PM::Config::nuisance_std)
      .def_readwrite("init_range", &PM::Config::init_range)
      .def_readwrite("max_norm", &PM::Config::max_norm)
      .def_readwrite("action_cost", &PM::Config::action_cost)
      .def_readwrite("max_steps", &PM::Config::max_steps);
  auto pm = e::BindVecEnv<PM>(m, "_PointMass");
  BindStates(pm);

  // ---------------------------------------------------------------------------------------- CausalThrust
  using CT = e::CausalThrust;
  py::class_<CT::Config>(m, "_CausalThrustConfig")
      .def(py::init<>())
      .def_readwrite("force_init_std", &CT::Config::force_init_std)
      .def_readwrite("force_walk_std", &CT::Config::force_walk_std)
      .def_readwrite("max_speed", &CT::Config::max_speed)
      .def_readwrite("max_force", &CT::Config::max_force)
      .def_readwrite("max_position", &CT::Config::max_position)
      .def_readwrite("action_cost", &CT::Config::action_cost)
      .def_readwrite("max_steps", &CT::Config::max_steps);
  auto ct = e::BindVecEnv<CT>(m, "_CausalThrust");
  BindStates(ct);
  // do(force = values[i]) from env i's next reset on; NaN: no intervention.
  ct.def("set_force_interventions", [](e::VecEnv<CT>& v, py::array_t<double> values) {
    auto a = PerEnv<double>("set_force_interventions", values, v.num_envs()).unchecked<1>();
    const double limit = v.config().max_force;
    for (int64_t i = 0; i < v.num_envs(); ++i)
      NEXTRL_CHECK(std::isnan(a(i)) || std::abs(a(i)) <= limit, std::invalid_argument,
                   "reset: options['force'] must be in [-max_force, max_force] = [", -limit, ", ", limit,
                   "] or NaN (no intervention), got ", a(i), " for env ", i);
    for (int64_t i = 0; i < v.num_envs(); ++i) v.env(i).SetForceIntervention(a(i));
  });

  // ------------------------------------------------------------------------------------- HeteroPointMass
  using HP = e::HeteroPointMass;
  py::class_<HP::Config>(m, "_HeteroPointMassConfig")
      .def(py::init<>())
      .def_readwrite("variant", &HP::Config::variant)
      .def_readwrite("noise_std", &HP::Config::noise_std)
      .def_readwrite("init_range", &HP::Config::init_range)
      .def_readwrite("max_norm", &HP::Config::max_norm)
      .def_readwrite("action_cost", &HP::Config::action_cost)
      .def_readwrite("max_steps", &HP::Config::max_steps);
  auto hp = e::BindVecEnv<HP>(m, "_HeteroPointMass");
  BindStates(hp);
  // The variant of env i from its next reset on.
  hp.def("set_variants", [](e::VecEnv<HP>& v, py::array_t<int64_t> values) {
    auto a = PerEnv<int64_t>("set_variants", values, v.num_envs()).unchecked<1>();
    for (int64_t i = 0; i < v.num_envs(); ++i)
      NEXTRL_CHECK(a(i) >= 0 && a(i) < HP::kNumVariants, std::invalid_argument,
                   "reset: options['variant'] must be in [0, 4), got ", a(i), " for env ", i);
    for (int64_t i = 0; i < v.num_envs(); ++i) v.env(i).SetVariant(a(i));
  });
  hp.def("variants", [](const e::VecEnv<HP>& v) {
    py::array_t<int64_t> out(v.num_envs());
    auto o = out.mutable_unchecked<1>();
    for (int64_t i = 0; i < v.num_envs(); ++i) o(i) = v.env(i).Variant();
    return out;
  });

  // -------------------------------------------------------------------------------------------- CartPole
  py::class_<e::CartPole::Config>(m, "_CartPoleConfig")
      .def(py::init<>())
      .def_readwrite("sutton_barto_reward", &e::CartPole::Config::sutton_barto_reward)
      .def_readwrite("max_steps", &e::CartPole::Config::max_steps)
      .def_readwrite("init_low", &e::CartPole::Config::init_low)
      .def_readwrite("init_high", &e::CartPole::Config::init_high)
      .def_readwrite("gravity", &e::CartPole::Config::gravity)
      .def_readwrite("masscart", &e::CartPole::Config::masscart)
      .def_readwrite("masspole", &e::CartPole::Config::masspole)
      .def_readwrite("length", &e::CartPole::Config::length)
      .def_readwrite("force_mag", &e::CartPole::Config::force_mag);
  auto cp = e::BindVecEnv<e::CartPole>(m, "_CartPole");
  BindStates(cp);

  // -------------------------------------------------------------------------------------------- Pendulum
  py::class_<e::Pendulum::Config>(m, "_PendulumConfig")
      .def(py::init<>())
      .def_readwrite("g", &e::Pendulum::Config::g)
      .def_readwrite("max_steps", &e::Pendulum::Config::max_steps)
      .def_readwrite("init_theta", &e::Pendulum::Config::init_theta)
      .def_readwrite("init_theta_dot", &e::Pendulum::Config::init_theta_dot)
      .def_readwrite("max_torque", &e::Pendulum::Config::max_torque)
      .def_readwrite("max_speed", &e::Pendulum::Config::max_speed);
  auto pd = e::BindVecEnv<e::Pendulum>(m, "_Pendulum");
  BindStates(pd);

  // ------------------------------------------------------------------------------------ QuantumStatePrep
  using QP = e::QuantumStatePrep;
  py::class_<QP::Config>(m, "_QuantumStatePrepConfig")
      .def(py::init<>())
      .def_readwrite("num_qubits", &QP::Config::num_qubits)
      .def_readwrite("target_actions", &QP::Config::target_actions)
      .def_readwrite("target_depth", &QP::Config::target_depth)
      .def_readwrite("observe_target", &QP::Config::observe_target)
      .def_readwrite("threshold", &QP::Config::threshold)
      .def_readwrite("max_steps", &QP::Config::max_steps);
  auto qp = e::BindVecEnv<QP>(m, "_QuantumStatePrep");
  auto amplitudes = [](const e::VecEnv<QP>& v, bool target) {
    const py::ssize_t dim = py::ssize_t{1} << v.config().num_qubits;
    py::array_t<std::complex<double>> out({static_cast<py::ssize_t>(v.num_envs()), dim});
    auto o = out.mutable_unchecked<2>();
    for (int64_t i = 0; i < v.num_envs(); ++i) {
      const auto& s = target ? v.env(i).Target() : v.env(i).State();
      for (py::ssize_t k = 0; k < dim; ++k) o(i, k) = s[static_cast<size_t>(k)];
    }
    return out;
  };
  qp.def("states", [amplitudes](const e::VecEnv<QP>& v) { return amplitudes(v, false); });
  qp.def("targets", [amplitudes](const e::VecEnv<QP>& v) { return amplitudes(v, true); });
  qp.def_static("num_actions", [](const QP::Config& c) {
    QP::Validate(c);
    return QP::NumActions(c);
  });
  // [(name, qubits)] of every action, e.g. ("h", (0,)), ("ry", (1,)), ("cx", (0, 1)).
  qp.def_static("gate_list", [](const QP::Config& c) {
    QP::Validate(c);
    py::list out;
    for (int64_t a = 0; a < QP::NumActions(c); ++a) {
      const QP::Gate g = QP::Decode(c, a);
      if (g.g >= 0)
        out.append(py::make_tuple(QP::kSingleNames[g.g], py::make_tuple(g.q0)));
      else
        out.append(py::make_tuple("cx", py::make_tuple(g.q0, g.q1)));
    }
    return out;
  });
}
