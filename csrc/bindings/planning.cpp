// Bindings of the planners (csrc/planning/): the rollout models (one BindExactModel line per compiled
// single-agent env) and one call per planner that runs a whole plan with the GIL released. The Python layer
// (python/nextrl/planning/) checks user input with friendly messages; the checks here guard the C++ side.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/vec_env_binding.h"
#include "common/check.h"
#include "common/parallel.h"
#include "envs/classic_control.h"
#include "envs/goal_grid.h"
#include "envs/gridworld.h"
#include "envs/point_mass.h"
#include "envs/quantum_prep.h"
#include "envs/robust_grid.h"
#include "envs/safe_grid.h"
#include "envs/toy_text.h"
#include "planning/cem.h"
#include "planning/exact_model.h"
#include "planning/mppi.h"
#include "planning/noise.h"
#include "planning/rollout_model.h"

namespace py = pybind11;
namespace e = nextrl::envs;
namespace pl = nextrl::planning;
using nextrl::TypeMismatch;

namespace {

using F64 = py::array_t<double>;

// A float64, C-contiguous array argument of exactly `shape` (TypeError for dtype / layout, ValueError for shape).
const double* F64Arg(const char* fn, const char* name, const py::array& a, const std::vector<py::ssize_t>& shape) {
  NEXTRL_CHECK(py::isinstance<F64>(a), TypeMismatch, fn, ": ", name, " must have dtype float64, got ",
               std::string(py::str(a.dtype())));
  NEXTRL_CHECK(a.flags() & py::array::c_style, TypeMismatch, fn, ": ", name, " must be C-contiguous");
  const std::vector<py::ssize_t> got(a.shape(), a.shape() + a.ndim());
  NEXTRL_CHECK(got == shape, std::invalid_argument, fn, ": ", name, " must have shape ",
               std::string(py::str(py::tuple(py::cast(shape)))), ", got ", e::ShapeStr(a));
  return static_cast<const double*>(a.data());
}

bool AllFinite(const double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

uint64_t RoundArg(const char* fn, int64_t round) {
  NEXTRL_CHECK(round >= 0 && round < (int64_t{1} << 32), std::invalid_argument, fn,
               ": round must be in [0, 2**32), got ", round);
  return static_cast<uint64_t>(round);
}

// The checks shared by every planner: the model's problems and action size against the arrays, the box.
pl::PlanShape CheckPlan(const char* fn, const pl::RolloutModel& model, const py::array& mean, const py::array& low,
                        const py::array& high) {
  NEXTRL_CHECK(model.num_problems() >= 1, std::invalid_argument, fn,
               ": the model has no start states; call set_states(states) first");
  NEXTRL_CHECK(mean.ndim() == 3, std::invalid_argument, fn,
               ": mean must have shape (num_problems, horizon, action_dim)", ", got ", e::ShapeStr(mean));
  const pl::PlanShape s{model.num_problems(), mean.shape(1), model.action_dim()};
  NEXTRL_CHECK(s.horizon >= 1, std::invalid_argument, fn, ": horizon must be >= 1, got ", s.horizon);
  F64Arg(fn, "mean", mean, {s.num_problems, s.horizon, s.action_dim});
  const double* lo = F64Arg(fn, "low", low, {s.action_dim});
  const double* hi = F64Arg(fn, "high", high, {s.action_dim});
  for (int64_t a = 0; a < s.action_dim; ++a)
    NEXTRL_CHECK(std::isfinite(lo[a]) && std::isfinite(hi[a]) && lo[a] <= hi[a], std::invalid_argument, fn,
                 ": low and high must be finite with low <= high, got [", lo[a], ", ", hi[a], "] for action element ",
                 a);
  NEXTRL_CHECK(AllFinite(static_cast<const double*>(mean.data()), mean.size()), std::invalid_argument, fn,
               ": mean must be finite, got NaN or inf");
  return s;
}

void CheckNan(const char* fn, const std::vector<uint8_t>& nan) {
  for (size_t b = 0; b < nan.size(); ++b)
    NEXTRL_CHECK(!nan[b], std::invalid_argument, fn, ": the model returned NaN for a candidate of problem ", b,
                 " (NaN in the model's weights or output)");
}

F64 Empty(std::vector<py::ssize_t> shape) { return F64(shape); }

py::dict PlanCem(const pl::RolloutModel& model, const py::array& mean, const py::array& std, const py::array& low,
                 const py::array& high, int64_t population, int64_t num_elites, int64_t iterations, double alpha,
                 double gamma, py::handle seed, int64_t round, double noise_beta, double population_decay,
                 int64_t num_keep, bool add_mean, py::object prev_elites, bool record) {
  const char* fn = "plan_cem";
  const pl::PlanShape s = CheckPlan(fn, model, mean, low, high);
  const int64_t B = s.num_problems, H = s.horizon, A = s.action_dim;
  F64Arg(fn, "std", std, {B, H, A});
  const double* sd = static_cast<const double*>(std.data());
  for (int64_t i = 0; i < std.size(); ++i)
    NEXTRL_CHECK(std::isfinite(sd[i]) && sd[i] >= 0, std::invalid_argument, fn, ": std must be finite and >= 0, got ",
                 sd[i]);
  NEXTRL_CHECK(population >= 1, std::invalid_argument, fn, ": population must be >= 1, got ", population);
  NEXTRL_CHECK(num_elites >= 1 && num_elites <= population, std::invalid_argument, fn,
               ": num_elites must be in [1, population] = [1, ", population, "], got ", num_elites);
  NEXTRL_CHECK(iterations >= 1, std::invalid_argument, fn, ": iterations must be >= 1, got ", iterations);
  NEXTRL_CHECK(alpha >= 0 && alpha <= 1, std::invalid_argument, fn, ": alpha must be in [0, 1], got ", alpha);
  NEXTRL_CHECK(std::isfinite(gamma) && gamma >= 0, std::invalid_argument, fn, ": gamma must be finite and >= 0, got ",
               gamma);
  NEXTRL_CHECK(std::isfinite(noise_beta) && noise_beta >= 0, std::invalid_argument, fn,
               ": noise_beta must be finite and >= 0, got ", noise_beta);
  NEXTRL_CHECK(std::isfinite(population_decay) && population_decay >= 1, std::invalid_argument, fn,
               ": population_decay must be finite and >= 1, got ", population_decay);
  NEXTRL_CHECK(num_keep >= 0 && num_keep <= num_elites, std::invalid_argument, fn,
               ": num_keep must be in [0, num_elites] = [0, ", num_elites, "], got ", num_keep);
  pl::CemSettings c;
  c.population = population, c.num_elites = num_elites, c.iterations = iterations, c.alpha = alpha, c.gamma = gamma;
  c.noise_beta = noise_beta, c.population_decay = population_decay, c.num_keep = num_keep, c.add_mean = add_mean;
  c.seed = e::SeedArg(fn, seed), c.round = RoundArg(fn, round);
  const int64_t max_rows = pl::MaxRows(c);

  F64 out_mean = Empty({B, H, A}), out_std = Empty({B, H, A}), best = Empty({B, H, A}), best_return = Empty({B});
  F64 elites = Empty({B, num_elites, H, A});
  std::copy(static_cast<const double*>(mean.data()), static_cast<const double*>(mean.data()) + mean.size(),
            out_mean.mutable_data());
  std::copy(sd, sd + std.size(), out_std.mutable_data());
  std::vector<uint8_t> nan(static_cast<size_t>(B));
  pl::CemBuffers io{out_mean.mutable_data(),    out_std.mutable_data(), nullptr,   0, best.mutable_data(),
                    best_return.mutable_data(), elites.mutable_data(),  nan.data()};
  py::array prev;
  if (!prev_elites.is_none()) {
    prev = prev_elites.cast<py::array>();
    NEXTRL_CHECK(prev.ndim() == 4, std::invalid_argument, fn,
                 ": prev_elites must have shape (num_problems, num_prev, horizon, action_dim), got ",
                 e::ShapeStr(prev));
    const int64_t P = prev.shape(1);
    F64Arg(fn, "prev_elites", prev, {B, P, H, A});
    NEXTRL_CHECK(P >= num_keep, std::invalid_argument, fn, ": prev_elites must hold at least num_keep = ", num_keep,
                 " sequences per problem, got ", P);
    NEXTRL_CHECK(AllFinite(static_cast<const double*>(prev.data()), prev.size()), std::invalid_argument, fn,
                 ": prev_elites must be finite, got NaN or inf");
    io.prev_elites = static_cast<const double*>(prev.data()), io.num_prev = P;
  }
  F64 rec_returns;
  py::array_t<int64_t> rec_elites;
  if (record) {
    rec_returns = Empty({B, iterations, max_rows});
    rec_elites = py::array_t<int64_t>(std::vector<py::ssize_t>{B, iterations, num_elites});
    io.record_returns = rec_returns.mutable_data(), io.record_elites = rec_elites.mutable_data();
  }
  const pl::Box box{static_cast<const double*>(low.data()), static_cast<const double*>(high.data())};
  {
    py::gil_scoped_release release;
    pl::PlanCem(model, s, box, c, io);
  }
  CheckNan(fn, nan);
  py::dict out;
  out["mean"] = out_mean, out["std"] = out_std, out["best"] = best, out["best_return"] = best_return;
  out["elites"] = elites;
  if (record) out["returns"] = rec_returns, out["elite_rows"] = rec_elites;
  return out;
}

py::dict PlanMppi(const pl::RolloutModel& model, const py::array& mean, const py::array& sigma, const py::array& low,
                  const py::array& high, int64_t population, int64_t iterations, double temperature, double smoothing,
                  double gamma, py::handle seed, int64_t round, bool record) {
  const char* fn = "plan_mppi";
  const pl::PlanShape s = CheckPlan(fn, model, mean, low, high);
  const int64_t B = s.num_problems, H = s.horizon, A = s.action_dim;
  const double* sg = F64Arg(fn, "sigma", sigma, {A});
  for (int64_t a = 0; a < A; ++a)
    NEXTRL_CHECK(std::isfinite(sg[a]) && sg[a] >= 0, std::invalid_argument, fn, ": sigma must be finite and >= 0, got ",
                 sg[a]);
  NEXTRL_CHECK(population >= 1, std::invalid_argument, fn, ": population must be >= 1, got ", population);
  NEXTRL_CHECK(iterations >= 1, std::invalid_argument, fn, ": iterations must be >= 1, got ", iterations);
  NEXTRL_CHECK(std::isfinite(temperature) && temperature > 0, std::invalid_argument, fn,
               ": temperature must be finite and > 0, got ", temperature);
  NEXTRL_CHECK(smoothing >= 0 && smoothing < 1, std::invalid_argument, fn, ": smoothing must be in [0, 1), got ",
               smoothing);
  NEXTRL_CHECK(std::isfinite(gamma) && gamma >= 0, std::invalid_argument, fn, ": gamma must be finite and >= 0, got ",
               gamma);
  pl::MppiSettings c;
  c.population = population, c.iterations = iterations, c.temperature = temperature, c.smoothing = smoothing;
  c.gamma = gamma, c.seed = e::SeedArg(fn, seed), c.round = RoundArg(fn, round);
  F64 out_mean = Empty({B, H, A}), best = Empty({B, H, A}), best_return = Empty({B});
  std::copy(static_cast<const double*>(mean.data()), static_cast<const double*>(mean.data()) + mean.size(),
            out_mean.mutable_data());
  std::vector<uint8_t> nan(static_cast<size_t>(B));
  pl::MppiBuffers io{out_mean.mutable_data(), sg, best.mutable_data(), best_return.mutable_data(), nan.data()};
  F64 rec_returns;
  if (record) {
    rec_returns = Empty({B, iterations, population});
    io.record_returns = rec_returns.mutable_data();
  }
  const pl::Box box{static_cast<const double*>(low.data()), static_cast<const double*>(high.data())};
  {
    py::gil_scoped_release release;
    pl::PlanMppi(model, s, box, c, io);
  }
  CheckNan(fn, nan);
  py::dict out;
  out["mean"] = out_mean, out["best"] = best, out["best_return"] = best_return;
  if (record) out["returns"] = rec_returns;
  return out;
}

// _CartPoleModel etc.: ExactModel<Env> built from the env's vector core (its config and state layout).
template <class Env>
void BindExactModel(py::module_& m, const char* name) {
  using M = pl::ExactModel<Env>;
  using V = e::VecEnv<Env>;
  py::class_<M, pl::RolloutModel>(m, name)
      .def(py::init([](const V& v) { return new M(v.config(), v.state_bytes()); }), py::arg("env"))
      .def(
          "set_states",
          [](M& model, const py::array& states) {
            NEXTRL_CHECK(py::isinstance<py::array_t<uint8_t>>(states), TypeMismatch,
                         "set_states: states must have dtype uint8 (rows of get_state()), got ",
                         std::string(py::str(states.dtype())));
            NEXTRL_CHECK(states.flags() & py::array::c_style, TypeMismatch, "set_states: states must be C-contiguous");
            NEXTRL_CHECK(states.ndim() == 2 && states.shape(0) >= 1 && states.shape(1) == model.state_bytes(),
                         std::invalid_argument, "set_states: states must have shape (num_problems >= 1, ",
                         model.state_bytes(), "), got ", e::ShapeStr(states));
            const uint8_t* rows = static_cast<const uint8_t*>(states.data());
            const int64_t count = states.shape(0);
            py::gil_scoped_release release;
            model.SetStates(rows, count);
          },
          py::arg("states"))
      .def_property_readonly("state_bytes", &M::state_bytes)
      .def_property_readonly("num_actions", &M::num_actions)
      .def_property_readonly_static("discrete", [](py::object) { return M::kDiscrete; });
}

}  // namespace

void BindPlanning(py::module_& m) {
  py::class_<pl::RolloutModel>(m, "_RolloutModel")
      .def_property_readonly("num_problems", &pl::RolloutModel::num_problems)
      .def_property_readonly("action_dim", &pl::RolloutModel::action_dim)
      .def(
          "evaluate",
          [](const pl::RolloutModel& model, const py::array& actions, double gamma) {
            const char* fn = "evaluate";
            NEXTRL_CHECK(actions.ndim() == 4, std::invalid_argument, fn,
                         ": actions must have shape (num_problems, count, horizon, action_dim), got ",
                         e::ShapeStr(actions));
            const int64_t B = model.num_problems(), N = actions.shape(1), H = actions.shape(2), A = model.action_dim();
            NEXTRL_CHECK(B >= 1, std::invalid_argument, fn, ": the model has no start states; call set_states first");
            const double* x = F64Arg(fn, "actions", actions, {B, N, H, A});
            NEXTRL_CHECK(AllFinite(x, actions.size()), std::invalid_argument, fn, ": actions must be finite");
            NEXTRL_CHECK(std::isfinite(gamma) && gamma >= 0, std::invalid_argument, fn,
                         ": gamma must be finite and >= 0, got ", gamma);
            F64 out(std::vector<py::ssize_t>{B, N});
            double* r = out.mutable_data();
            {
              py::gil_scoped_release release;
              const int64_t chunk = std::max<int64_t>(1, model.chunk()), per = (N + chunk - 1) / chunk;
              nextrl::ParallelFor(B * per, 2, [&](int64_t t) {
                const int64_t b = t / per, n0 = (t % per) * chunk, n1 = std::min(N, n0 + chunk);
                if (n1 > n0) model.Evaluate(b, x + (b * N + n0) * H * A, n1 - n0, H, gamma, r + b * N + n0);
              });
            }
            return out;
          },
          py::arg("actions"), py::arg("gamma") = 1.0,
          "Returns [num_problems, count] of candidate sequences actions [num_problems, count, horizon, action_dim].");

  BindExactModel<e::GridWorld>(m, "_GridWorldModel");
  BindExactModel<e::FrozenLake>(m, "_FrozenLakeModel");
  BindExactModel<e::CliffWalking>(m, "_CliffWalkingModel");
  BindExactModel<e::SafeGridWorld>(m, "_SafeGridWorldModel");
  BindExactModel<e::RobustGridWorld>(m, "_RobustGridWorldModel");
  BindExactModel<e::GoalGridWorld>(m, "_GoalGridWorldModel");
  BindExactModel<e::PointMass>(m, "_PointMassModel");
  BindExactModel<e::CausalThrust>(m, "_CausalThrustModel");
  BindExactModel<e::HeteroPointMass>(m, "_HeteroPointMassModel");
  BindExactModel<e::CartPole>(m, "_CartPoleModel");
  BindExactModel<e::Pendulum>(m, "_PendulumModel");
  BindExactModel<e::QuantumStatePrep>(m, "_QuantumStatePrepModel");

  m.def("_plan_cem", &PlanCem, py::arg("model"), py::arg("mean"), py::arg("std"), py::arg("low"), py::arg("high"),
        py::arg("population"), py::arg("num_elites"), py::arg("iterations"), py::arg("alpha"), py::arg("gamma"),
        py::arg("seed"), py::arg("round") = 0, py::arg("noise_beta") = 0.0, py::arg("population_decay") = 1.0,
        py::arg("num_keep") = 0, py::arg("add_mean") = false, py::arg("prev_elites") = py::none(),
        py::arg("record") = false,
        "CEM / iCEM over a rollout model (csrc/planning/cem.h): a whole plan of every problem, GIL released.");
  m.def("_plan_mppi", &PlanMppi, py::arg("model"), py::arg("mean"), py::arg("sigma"), py::arg("low"), py::arg("high"),
        py::arg("population"), py::arg("iterations"), py::arg("temperature"), py::arg("smoothing"), py::arg("gamma"),
        py::arg("seed"), py::arg("round") = 0, py::arg("record") = false,
        "MPPI over a rollout model (csrc/planning/mppi.h): a whole plan of every problem, GIL released.");
  // The planners' noise (planning/noise.h), for the torch path and the reference tests.
  m.def(
      "_planning_normals",
      [](py::handle seed, int64_t round, int64_t problem, int64_t iteration, int64_t index0, int64_t count) {
        const char* fn = "planning_normals";
        NEXTRL_CHECK(problem >= 0 && problem < (int64_t{1} << 32) && iteration >= 0 && iteration < (int64_t{1} << 31) &&
                         index0 >= 0 && count >= 0,
                     std::invalid_argument, fn, ": problem, iteration, index0 and count must be >= 0 (and < 2**32)");
        const uint64_t s = e::SeedArg(fn, seed), r = RoundArg(fn, round);
        F64 out(count);
        double* o = out.mutable_data();
        py::gil_scoped_release release;
        pl::Normals(s, pl::NoiseStream(r, problem), pl::NoiseCounter(iteration), static_cast<uint64_t>(index0), count,
                    o);
        return out;
      },
      py::arg("seed"), py::arg("round"), py::arg("problem"), py::arg("iteration"), py::arg("index0"), py::arg("count"));
  m.def(
      "_colored_noise_matrix",
      [](int64_t horizon, double beta) {
        NEXTRL_CHECK(horizon >= 1, std::invalid_argument, "colored_noise_matrix: horizon must be >= 1, got ", horizon);
        NEXTRL_CHECK(std::isfinite(beta) && beta >= 0, std::invalid_argument,
                     "colored_noise_matrix: beta must be finite and >= 0, got ", beta);
        const std::vector<double> c = pl::ColoredNoiseMatrix(horizon, beta);
        F64 out(std::vector<py::ssize_t>{horizon, horizon});
        std::copy(c.begin(), c.end(), out.mutable_data());
        return out;
      },
      py::arg("horizon"), py::arg("beta"));
}
