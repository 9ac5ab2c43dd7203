// Bindings of the planners (csrc/planning/): the rollout models (one BindExactModel line per compiled
// single-agent env) and one call per planner that runs a whole plan with the GIL released. The Python layer
// (python/nextrl/planning/) checks user input with friendly messages; the checks here guard the C++ side.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
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
#include "planning/categorical_cem.h"
#include "planning/cem.h"
#include "planning/exact_model.h"
#include "planning/latent_model.h"
#include "planning/learned_model.h"
#include "planning/mlp_kernels.h"
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

py::dict PlanCategoricalCem(const pl::RolloutModel& model, const py::array& probs, int64_t population,
                            int64_t num_elites, int64_t iterations, double alpha, double gamma, py::handle seed,
                            int64_t round, bool record) {
  const char* fn = "plan_categorical_cem";
  NEXTRL_CHECK(model.num_problems() >= 1, std::invalid_argument, fn,
               ": the model has no start states; call set_states(states) first");
  NEXTRL_CHECK(model.action_dim() == 1, std::invalid_argument, fn,
               ": categorical CEM needs a model with one discrete action per step, got action_dim ",
               model.action_dim());
  NEXTRL_CHECK(probs.ndim() == 3, std::invalid_argument, fn,
               ": probs must have shape (num_problems, horizon, num_actions), got ", e::ShapeStr(probs));
  const int64_t B = model.num_problems(), H = probs.shape(1), n = probs.shape(2);
  NEXTRL_CHECK(H >= 1 && n >= 1, std::invalid_argument, fn, ": horizon and num_actions must be >= 1, got ", H, " and ",
               n);
  const double* p = F64Arg(fn, "probs", probs, {B, H, n});
  for (int64_t row = 0; row < B * H; ++row) {
    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const double v = p[row * n + k];
      NEXTRL_CHECK(std::isfinite(v) && v >= 0, std::invalid_argument, fn, ": probs must be finite and >= 0, got ", v);
      sum += v;
    }
    NEXTRL_CHECK(std::fabs(sum - 1.0) <= 1e-6, std::invalid_argument, fn,
                 ": every probs[b, h] must sum to 1, got a sum of ", sum);
  }
  NEXTRL_CHECK(population >= 1, std::invalid_argument, fn, ": population must be >= 1, got ", population);
  NEXTRL_CHECK(num_elites >= 1 && num_elites <= population, std::invalid_argument, fn,
               ": num_elites must be in [1, population] = [1, ", population, "], got ", num_elites);
  NEXTRL_CHECK(iterations >= 1, std::invalid_argument, fn, ": iterations must be >= 1, got ", iterations);
  NEXTRL_CHECK(alpha >= 0 && alpha <= 1, std::invalid_argument, fn, ": alpha must be in [0, 1], got ", alpha);
  NEXTRL_CHECK(std::isfinite(gamma) && gamma >= 0, std::invalid_argument, fn, ": gamma must be finite and >= 0, got ",
               gamma);
  pl::CategoricalCemSettings c;
  c.population = population, c.num_elites = num_elites, c.iterations = iterations, c.num_actions = n;
  c.alpha = alpha, c.gamma = gamma, c.seed = e::SeedArg(fn, seed), c.round = RoundArg(fn, round);
  F64 out_probs = Empty({B, H, n}), best = Empty({B, H, 1}), best_return = Empty({B}),
      elites = Empty({B, num_elites, H, 1});
  std::copy(p, p + probs.size(), out_probs.mutable_data());
  std::vector<uint8_t> nan(static_cast<size_t>(B));
  pl::CategoricalCemBuffers io{out_probs.mutable_data(), best.mutable_data(), best_return.mutable_data(),
                               elites.mutable_data(), nan.data()};
  F64 rec_returns;
  py::array_t<int64_t> rec_elites;
  if (record) {
    rec_returns = Empty({B, iterations, population});
    rec_elites = py::array_t<int64_t>(std::vector<py::ssize_t>{B, iterations, num_elites});
    io.record_returns = rec_returns.mutable_data(), io.record_elites = rec_elites.mutable_data();
  }
  const pl::PlanShape s{B, H, 1};
  {
    py::gil_scoped_release release;
    pl::PlanCategoricalCem(model, s, c, io);
  }
  CheckNan(fn, nan);
  py::dict out;
  out["probs"] = out_probs, out["best"] = best, out["best_return"] = best_return, out["elites"] = elites;
  if (record) out["returns"] = rec_returns, out["elite_rows"] = rec_elites;
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

// A float32 C-contiguous array (converted by the Python layer) with finite values.
const float* F32Arg(const char* fn, const char* name, const py::array& a, const std::vector<py::ssize_t>& shape) {
  NEXTRL_CHECK(py::isinstance<py::array_t<float>>(a), TypeMismatch, fn, ": ", name, " must have dtype float32, got ",
               std::string(py::str(a.dtype())));
  NEXTRL_CHECK(a.flags() & py::array::c_style, TypeMismatch, fn, ": ", name, " must be C-contiguous");
  const std::vector<py::ssize_t> got(a.shape(), a.shape() + a.ndim());
  NEXTRL_CHECK(got == shape, std::invalid_argument, fn, ": ", name, " must have shape ",
               std::string(py::str(py::tuple(py::cast(shape)))), ", got ", e::ShapeStr(a));
  const float* x = static_cast<const float*>(a.data());
  for (py::ssize_t i = 0; i < a.size(); ++i)
    NEXTRL_CHECK(std::isfinite(x[i]), std::invalid_argument, fn, ": ", name, " must be finite, got NaN or inf");
  return x;
}

pl::MlpEnsembleModel* MakeMlpEnsemble(const std::vector<py::array>& weights, const std::vector<py::array>& biases,
                                      const std::string& activation, bool gaussian, bool reward_head, int64_t state_dim,
                                      int64_t action_dim, const py::array& in_mean, const py::array& in_std,
                                      py::object max_logvar, py::object min_logvar, const std::string& reward,
                                      py::object q, py::object r, double max_norm, double max_torque, int64_t particles,
                                      const std::string& propagation, bool generic) {
  const char* fn = "MlpEnsembleModel";
  pl::MlpEnsembleSpec s;
  NEXTRL_CHECK(state_dim >= 1 && action_dim >= 1, std::invalid_argument, fn,
               ": state_dim and action_dim must be >= 1, got ", state_dim, " and ", action_dim);
  NEXTRL_CHECK(particles >= 1, std::invalid_argument, fn, ": particles must be >= 1, got ", particles);
  NEXTRL_CHECK(!weights.empty() && weights.size() == biases.size(), std::invalid_argument, fn,
               ": weights and biases must be non-empty lists of the same length, got ", weights.size(), " and ",
               biases.size());
  s.state_dim = state_dim, s.action_dim = action_dim, s.gaussian = gaussian, s.reward_head = reward_head;
  s.particles = particles, s.generic = generic;
  const int64_t O = state_dim + (reward_head ? 1 : 0), in = state_dim + action_dim;
  pl::Activation act = pl::Activation::kRelu;
  if (activation == "relu")
    act = pl::Activation::kRelu;
  else if (activation == "silu")
    act = pl::Activation::kSilu;
  else if (activation == "tanh")
    act = pl::Activation::kTanh;
  else
    NEXTRL_CHECK(false, std::invalid_argument, fn, ": activation must be relu, silu or tanh, got ", activation);
  if (propagation == "ts1")
    s.propagation = pl::Propagation::kTs1;
  else if (propagation == "tsinf")
    s.propagation = pl::Propagation::kTsInf;
  else
    NEXTRL_CHECK(false, std::invalid_argument, fn, ": propagation must be ts1 or tsinf, got ", propagation);
  NEXTRL_CHECK(weights[0].ndim() == 3, std::invalid_argument, fn,
               ": weights[0] must have shape (members, out, in), got ", e::ShapeStr(weights[0]));
  const int64_t E = weights[0].shape(0);
  NEXTRL_CHECK(E >= 1, std::invalid_argument, fn, ": the ensemble needs >= 1 member, got ", E);
  s.members = E;
  int64_t prev = in;
  for (size_t l = 0; l < weights.size(); ++l) {
    const std::string wn = "weights[" + std::to_string(l) + "]", bn = "biases[" + std::to_string(l) + "]";
    NEXTRL_CHECK(weights[l].ndim() == 3, std::invalid_argument, fn, ": ", wn,
                 " must have shape (members, out, in), got ", e::ShapeStr(weights[l]));
    const int64_t out = weights[l].shape(1);
    const bool last = l + 1 == weights.size();
    const int64_t want_out = last ? O * (gaussian ? 2 : 1) : out;
    NEXTRL_CHECK(out >= 1 && out == want_out, std::invalid_argument, fn, ": ", wn, " has ", out,
                 " outputs; the last layer must have ", want_out, " (state_dim", reward_head ? " + 1 reward" : "",
                 gaussian ? ", times 2 for mean and log-variance)" : ")");
    const float* w = F32Arg(fn, wn.c_str(), weights[l], {E, out, prev});
    const float* bsrc = F32Arg(fn, bn.c_str(), biases[l], {E, out});
    pl::MlpLayer L;
    L.in = prev, L.out = out, L.out_pad = pl::PadCols(out), L.act = last ? pl::Activation::kIdentity : act;
    L.wt.assign(static_cast<size_t>(E * prev * L.out_pad), 0.0f);
    L.bias.assign(static_cast<size_t>(E * L.out_pad), 0.0f);
    for (int64_t m = 0; m < E; ++m)
      for (int64_t j = 0; j < out; ++j) {
        L.bias[static_cast<size_t>(m * L.out_pad + j)] = bsrc[m * out + j];
        for (int64_t k = 0; k < prev; ++k)
          L.wt[static_cast<size_t>((m * prev + k) * L.out_pad + j)] = w[(m * out + j) * prev + k];
      }
    s.layers.push_back(std::move(L));
    prev = out;
  }
  const float* mu = F32Arg(fn, "in_mean", in_mean, {in});
  const float* sd = F32Arg(fn, "in_std", in_std, {in});
  s.in_mean.assign(mu, mu + in);
  for (int64_t i = 0; i < in; ++i) {
    NEXTRL_CHECK(sd[i] > 0, std::invalid_argument, fn, ": in_std must be > 0, got ", sd[i]);
    s.in_inv_std.push_back(1.0f / sd[i]);
  }
  if (gaussian) {
    NEXTRL_CHECK(!max_logvar.is_none() && !min_logvar.is_none(), std::invalid_argument, fn,
                 ": a Gaussian head needs max_logvar and min_logvar");
    const float* hi = F32Arg(fn, "max_logvar", max_logvar.cast<py::array>(), {O});
    const float* lo = F32Arg(fn, "min_logvar", min_logvar.cast<py::array>(), {O});
    for (int64_t o = 0; o < O; ++o)
      NEXTRL_CHECK(lo[o] < hi[o], std::invalid_argument, fn, ": min_logvar must be < max_logvar, got ", lo[o], " and ",
                   hi[o]);
    s.max_logvar.assign(hi, hi + O), s.min_logvar.assign(lo, lo + O);
  }
  if (reward == "head") {
    NEXTRL_CHECK(reward_head, std::invalid_argument, fn, ": reward='head' needs a model with a reward head");
    s.reward = pl::RewardFn::kHead;
  } else {
    NEXTRL_CHECK(!reward_head, std::invalid_argument, fn, ": a model with a reward head takes reward='head', got ",
                 reward);
    if (reward == "pendulum") {
      NEXTRL_CHECK(state_dim == 3 && action_dim == 1, std::invalid_argument, fn,
                   ": reward='pendulum' needs state_dim 3 (cos, sin, theta_dot) and action_dim 1");
      NEXTRL_CHECK(std::isfinite(max_torque) && max_torque > 0, std::invalid_argument, fn,
                   ": max_torque must be finite and > 0, got ", max_torque);
      s.reward = pl::RewardFn::kPendulum;
      s.max_torque = max_torque;
    } else if (reward == "cartpole") {
      NEXTRL_CHECK(state_dim == 4, std::invalid_argument, fn, ": reward='cartpole' needs state_dim 4");
      s.reward = pl::RewardFn::kCartPole;
    } else if (reward == "quadratic") {
      s.reward = pl::RewardFn::kQuadratic;
      NEXTRL_CHECK(!q.is_none() && !r.is_none(), std::invalid_argument, fn, ": reward='quadratic' needs q and r");
      const double* qp = F64Arg(fn, "q", q.cast<py::array>(), {state_dim});
      const double* rp = F64Arg(fn, "r", r.cast<py::array>(), {action_dim});
      s.q.assign(qp, qp + state_dim), s.r.assign(rp, rp + action_dim);
      NEXTRL_CHECK(AllFinite(qp, state_dim) && AllFinite(rp, action_dim), std::invalid_argument, fn,
                   ": q and r must be finite");
      NEXTRL_CHECK(max_norm > 0, std::invalid_argument, fn, ": max_norm must be > 0, got ", max_norm);
      s.max_norm = max_norm;
    } else {
      NEXTRL_CHECK(false, std::invalid_argument, fn, ": reward must be head, pendulum, cartpole or quadratic, got ",
                   reward);
    }
  }
  return new pl::MlpEnsembleModel(std::move(s));
}

void BindMlpEnsemble(py::module_& m) {
  using M = pl::MlpEnsembleModel;
  py::class_<M, pl::RolloutModel>(m, "_MlpEnsembleModel")
      .def(py::init(&MakeMlpEnsemble), py::arg("weights"), py::arg("biases"), py::arg("activation"),
           py::arg("gaussian"), py::arg("reward_head"), py::arg("state_dim"), py::arg("action_dim"), py::arg("in_mean"),
           py::arg("in_std"), py::arg("max_logvar") = py::none(), py::arg("min_logvar") = py::none(),
           py::arg("reward") = "head", py::arg("q") = py::none(), py::arg("r") = py::none(),
           py::arg("max_norm") = std::numeric_limits<double>::infinity(), py::arg("max_torque") = 2.0,
           py::arg("particles") = 20, py::arg("propagation") = "ts1", py::arg("generic") = false)
      .def(
          "set_states",
          [](M& model, const py::array& states, py::handle seed, int64_t round) {
            const char* fn = "set_states";
            const int64_t S = model.spec().state_dim;
            NEXTRL_CHECK(states.ndim() == 2 && states.shape(0) >= 1, std::invalid_argument, fn,
                         ": states must have shape (num_problems >= 1, ", S, "), got ", e::ShapeStr(states));
            const float* x = F32Arg(fn, "states", states, {states.shape(0), S});
            const uint64_t sd = e::SeedArg(fn, seed), r = RoundArg(fn, round);
            model.SetStates(x, states.shape(0), sd, r);
          },
          py::arg("states"), py::arg("seed") = 0, py::arg("round") = 0)
      .def(
          "predict",
          [](const M& model, const py::array& states, const py::array& actions, int64_t member) {
            const char* fn = "predict";
            const int64_t S = model.spec().state_dim, A = model.spec().action_dim, O = model.outputs();
            NEXTRL_CHECK(states.ndim() == 2, std::invalid_argument, fn, ": states must have shape (n, ", S, "), got ",
                         e::ShapeStr(states));
            const int64_t n = states.shape(0);
            const float* x = F32Arg(fn, "states", states, {n, S});
            const double* a = F64Arg(fn, "actions", actions, {n, A});
            NEXTRL_CHECK(member >= 0 && member < model.spec().members, std::invalid_argument, fn,
                         ": member must be in [0, ", model.spec().members, "), got ", member);
            py::array_t<float> mean(std::vector<py::ssize_t>{n, O}), logvar(std::vector<py::ssize_t>{n, O});
            float* mp = mean.mutable_data();
            float* lp = logvar.mutable_data();
            {
              py::gil_scoped_release release;
              model.Predict(x, a, n, member, mp, lp);
            }
            py::object lv = py::none();
            if (model.spec().gaussian) lv = logvar;
            return py::tuple(py::make_tuple(mean, lv));
          },
          py::arg("states"), py::arg("actions"), py::arg("member"))
      .def_property_readonly("members", [](const M& m) { return m.spec().members; })
      .def_property_readonly("state_dim", [](const M& m) { return m.spec().state_dim; })
      .def_property_readonly("particles", [](const M& m) { return m.spec().particles; })
      .def_property_readonly("seed", &M::seed)
      .def_property_readonly("round", &M::round)
      .def_property_readonly("isa", [](const M& m) { return m.spec().generic ? "generic" : pl::DenseIsa(); })
      .def(
          "members_of",
          [](const M& m, int64_t problem, int64_t horizon) {
            py::array_t<int64_t> out(std::vector<py::ssize_t>{horizon, m.spec().particles});
            int64_t* o = out.mutable_data();
            const uint64_t stream = pl::NoiseStream(m.round(), problem);
            for (int64_t t = 0; t < horizon; ++t)
              for (int64_t p = 0; p < m.spec().particles; ++p) o[t * m.spec().particles + p] = m.Member(stream, t, p);
            return out;
          },
          py::arg("problem"), py::arg("horizon"), "[horizon, particles] the member of each particle at each step.");
}

// A dense stage from W [out, in] and b [out] (float32).
pl::LatentStage DenseStage(const char* fn, const std::string& name, const py::array& w, const py::array& b,
                           int64_t in) {
  NEXTRL_CHECK(w.ndim() == 2 && w.shape(1) == in, std::invalid_argument, fn, ": ", name,
               " must be a weight of shape (out, ", in, "), got ", e::ShapeStr(w));
  const int64_t out = w.shape(0);
  NEXTRL_CHECK(out >= 1, std::invalid_argument, fn, ": ", name, " must have >= 1 output, got ", out);
  const float* wp = F32Arg(fn, name.c_str(), w, {out, in});
  const float* bp = F32Arg(fn, (name + " bias").c_str(), b, {out});
  pl::LatentStage g;
  g.in = in, g.out = out, g.out_pad = pl::PadCols(out);
  g.wt.assign(static_cast<size_t>(in * g.out_pad), 0.0f);
  g.bias.assign(static_cast<size_t>(g.out_pad), 0.0f);
  for (int64_t j = 0; j < out; ++j) {
    g.bias[static_cast<size_t>(j)] = bp[j];
    for (int64_t k = 0; k < in; ++k) g.wt[static_cast<size_t>(k * g.out_pad + j)] = wp[j * in + k];
  }
  return g;
}

// An MLP stack from its ops: ("linear", W [out, in], b [out]), ("layernorm", gamma [n], beta [n], eps), ("relu",),
// ("silu",) or ("tanh",); it must start with a linear layer, take `in` values and give `out`.
pl::LatentStack LatentStackArg(const char* fn, const char* name, const py::list& ops, int64_t in, int64_t out,
                               const char* out_what) {
  NEXTRL_CHECK(ops.size() >= 1, std::invalid_argument, fn, ": ", name, " must have at least one layer");
  pl::LatentStack st;
  int64_t width = in;
  bool can_activate = false;
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string at = std::string(name) + "[" + std::to_string(i) + "]";
    NEXTRL_CHECK(py::isinstance<py::tuple>(ops[i]) && py::len(ops[i]) >= 1, std::invalid_argument, fn, ": ", at,
                 " must be a tuple (kind, *arrays)");
    const py::tuple op = ops[i].cast<py::tuple>();
    const std::string kind = py::str(op[0]);
    if (kind == "linear") {
      NEXTRL_CHECK(op.size() == 3, std::invalid_argument, fn, ": ", at, " must be ('linear', weight, bias)");
      st.push_back(DenseStage(fn, at, op[1].cast<py::array>(), op[2].cast<py::array>(), width));
      width = st.back().out, can_activate = true;
    } else if (kind == "layernorm") {
      NEXTRL_CHECK(op.size() == 4, std::invalid_argument, fn, ": ", at, " must be ('layernorm', weight, bias, eps)");
      NEXTRL_CHECK(i > 0, std::invalid_argument, fn, ": ", at, ": a stack must start with a linear layer");
      const float* gm = F32Arg(fn, (at + " weight").c_str(), op[1].cast<py::array>(), {width});
      const float* bt = F32Arg(fn, (at + " bias").c_str(), op[2].cast<py::array>(), {width});
      const double eps = op[3].cast<double>();
      NEXTRL_CHECK(std::isfinite(eps) && eps > 0, std::invalid_argument, fn, ": ", at, " eps must be > 0, got ", eps);
      pl::LatentStage g;
      g.norm = true, g.in = g.out = width, g.out_pad = pl::PadCols(width), g.eps = static_cast<float>(eps);
      g.gamma.assign(static_cast<size_t>(g.out_pad), 0.0f), g.beta.assign(static_cast<size_t>(g.out_pad), 0.0f);
      std::copy(gm, gm + width, g.gamma.begin()), std::copy(bt, bt + width, g.beta.begin());
      st.push_back(std::move(g));
      can_activate = true;
    } else if (kind == "relu" || kind == "silu" || kind == "tanh") {
      NEXTRL_CHECK(can_activate, std::invalid_argument, fn, ": ", at, ": an activation (", kind,
                   ") must follow a linear or layernorm layer");
      st.back().act =
          kind == "relu" ? pl::Activation::kRelu : (kind == "silu" ? pl::Activation::kSilu : pl::Activation::kTanh);
      can_activate = false;
    } else {
      NEXTRL_CHECK(false, std::invalid_argument, fn, ": ", at, ": unsupported layer '", kind,
                   "' (supported: linear, layernorm, relu, silu, tanh)");
    }
    NEXTRL_CHECK(st.front().norm == false, std::invalid_argument, fn, ": ", name, " must start with a linear layer");
  }
  NEXTRL_CHECK(width == out, std::invalid_argument, fn, ": ", name, " must output ", out, " values (", out_what,
               "), got ", width);
  return st;
}

pl::LatentModel* MakeLatentModel(const py::list& img_in, const py::tuple& gru, const py::list& prior,
                                 const py::list& reward, py::object cont, int64_t deter, int64_t stoch,
                                 int64_t action_dim, double min_std, bool sample, bool symlog_reward, int64_t particles,
                                 bool generic, int64_t num_actions, int64_t groups, int64_t classes, double unimix) {
  const char* fn = "LatentModel";
  NEXTRL_CHECK(deter >= 1 && stoch >= 1 && action_dim >= 1, std::invalid_argument, fn,
               ": deter, stoch and action_dim must be >= 1, got ", deter, ", ", stoch, " and ", action_dim);
  NEXTRL_CHECK(particles >= 1, std::invalid_argument, fn, ": particles must be >= 1, got ", particles);
  NEXTRL_CHECK(std::isfinite(min_std) && min_std >= 0, std::invalid_argument, fn,
               ": min_std must be finite and >= 0, got ", min_std);
  NEXTRL_CHECK(gru.size() == 4, std::invalid_argument, fn, ": gru must be (weight_ih, weight_hh, bias_ih, bias_hh)");
  NEXTRL_CHECK(num_actions >= 0, std::invalid_argument, fn, ": num_actions must be >= 0 (0: continuous actions), got ",
               num_actions);
  NEXTRL_CHECK(num_actions == 0 || action_dim == 1, std::invalid_argument, fn,
               ": discrete actions (num_actions > 0) take one action index per step: action_dim must be 1, got ",
               action_dim);
  NEXTRL_CHECK(groups >= 0 && classes >= 0 && (groups == 0) == (classes == 0), std::invalid_argument, fn,
               ": groups and classes must both be 0 (Gaussian latent) or both >= 1 (categorical), got ", groups,
               " and ", classes);
  NEXTRL_CHECK(groups == 0 || groups * classes == stoch, std::invalid_argument, fn,
               ": a categorical latent needs stoch = groups * classes = ", groups * classes, ", got ", stoch);
  NEXTRL_CHECK(unimix >= 0 && unimix < 1, std::invalid_argument, fn, ": unimix must be in [0, 1), got ", unimix);
  pl::LatentModelSpec s;
  s.num_actions = num_actions, s.groups = groups, s.classes = classes, s.unimix = static_cast<float>(unimix);
  s.deter = deter, s.stoch = stoch, s.action_dim = action_dim, s.min_std = static_cast<float>(min_std);
  s.sample = sample, s.symlog_reward = symlog_reward, s.particles = particles, s.generic = generic;
  const py::array w_ih = gru[0].cast<py::array>();
  NEXTRL_CHECK(w_ih.ndim() == 2 && w_ih.shape(0) == 3 * deter, std::invalid_argument, fn,
               ": gru weight_ih must have shape (3 * deter, input) = (", 3 * deter, ", input), got ",
               e::ShapeStr(w_ih));
  const int64_t G = w_ih.shape(1);
  s.img_in = LatentStackArg(fn, "img_in", img_in, stoch + (num_actions > 0 ? num_actions : action_dim), G,
                            "the GRU's input size");
  s.gru_x = DenseStage(fn, "gru weight_ih", w_ih, gru[2].cast<py::array>(), G);
  s.gru_h = DenseStage(fn, "gru weight_hh", gru[1].cast<py::array>(), gru[3].cast<py::array>(), deter);
  NEXTRL_CHECK(s.gru_h.out == 3 * deter, std::invalid_argument, fn, ": gru weight_hh must have shape (", 3 * deter,
               ", ", deter, ")");
  s.prior = groups > 0 ? LatentStackArg(fn, "prior", prior, deter, stoch, "groups * classes logits")
                       : LatentStackArg(fn, "prior", prior, deter, 2 * stoch, "2 * stoch");
  s.reward = LatentStackArg(fn, "reward", reward, deter + stoch, 1, "a reward");
  if (!cont.is_none()) s.cont = LatentStackArg(fn, "cont", cont.cast<py::list>(), deter + stoch, 1, "a continue logit");
  return new pl::LatentModel(std::move(s));
}

void BindLatentModel(py::module_& m) {
  using M = pl::LatentModel;
  py::class_<M, pl::RolloutModel>(m, "_LatentModel")
      .def(py::init(&MakeLatentModel), py::arg("img_in"), py::arg("gru"), py::arg("prior"), py::arg("reward"),
           py::arg("cont"), py::arg("deter"), py::arg("stoch"), py::arg("action_dim"), py::arg("min_std") = 0.1,
           py::arg("sample") = false, py::arg("symlog_reward") = false, py::arg("particles") = 1,
           py::arg("generic") = false, py::arg("num_actions") = 0, py::arg("groups") = 0, py::arg("classes") = 0,
           py::arg("unimix") = 0.01)
      .def(
          "set_states",
          [](M& model, const py::array& states, py::handle seed, int64_t round) {
            const char* fn = "set_states";
            const int64_t F = model.spec().deter + model.spec().stoch;
            NEXTRL_CHECK(states.ndim() == 2 && states.shape(0) >= 1, std::invalid_argument, fn,
                         ": states must have shape (num_problems >= 1, deter + stoch = ", F, "), got ",
                         e::ShapeStr(states));
            const float* x = F32Arg(fn, "states", states, {states.shape(0), F});
            model.SetStates(x, states.shape(0), e::SeedArg(fn, seed), RoundArg(fn, round));
          },
          py::arg("states"), py::arg("seed") = 0, py::arg("round") = 0)
      .def(
          "rollout",
          [](const M& model, const py::array& states, const py::array& actions, int64_t problem) {
            const char* fn = "rollout";
            const int64_t F = model.spec().deter + model.spec().stoch, A = model.spec().action_dim;
            NEXTRL_CHECK(states.ndim() == 2 && states.shape(0) >= 1, std::invalid_argument, fn,
                         ": states must have shape (n >= 1, ", F, "), got ", e::ShapeStr(states));
            const int64_t n = states.shape(0);
            const float* x = F32Arg(fn, "states", states, {n, F});
            NEXTRL_CHECK(actions.ndim() == 3 && actions.shape(1) >= 1, std::invalid_argument, fn,
                         ": actions must have shape (", n, ", horizon >= 1, ", A, "), got ", e::ShapeStr(actions));
            const int64_t H = actions.shape(1);
            const double* a = F64Arg(fn, "actions", actions, {n, H, A});
            NEXTRL_CHECK(AllFinite(a, actions.size()), std::invalid_argument, fn, ": actions must be finite");
            const int64_t na = model.spec().num_actions;
            if (na > 0)
              for (py::ssize_t i = 0; i < actions.size(); ++i)
                NEXTRL_CHECK(a[i] >= 0 && a[i] < static_cast<double>(na) && a[i] == std::floor(a[i]),
                             std::invalid_argument, fn, ": actions must be action indices in {0, ..., ", na - 1,
                             "}, got ", a[i]);
            NEXTRL_CHECK(problem >= 0 && problem < (int64_t{1} << 32), std::invalid_argument, fn,
                         ": problem must be in [0, 2**32), got ", problem);
            py::array_t<float> out(std::vector<py::ssize_t>{n, H, F}), rew(std::vector<py::ssize_t>{n, H}),
                cont(std::vector<py::ssize_t>{n, H});
            float *op = out.mutable_data(), *rp = rew.mutable_data(), *cp = cont.mutable_data();
            {
              py::gil_scoped_release release;
              model.Rollout(x, a, n, H, problem, op, rp, cp);
            }
            return py::make_tuple(out, rew, cont);
          },
          py::arg("states"), py::arg("actions"), py::arg("problem") = 0,
          "(states [n, horizon, deter + stoch], rewards [n, horizon], continue probabilities [n, horizon]) of n "
          "start states rolled forward by actions [n, horizon, action_dim] (particle 0's noise when sampling).")
      .def_property_readonly("deter", [](const M& m) { return m.spec().deter; })
      .def_property_readonly("stoch", [](const M& m) { return m.spec().stoch; })
      .def_property_readonly("particles", [](const M& m) { return m.spec().sample ? m.spec().particles : 1; })
      .def_property_readonly("num_actions", [](const M& m) { return m.spec().num_actions; })
      .def_property_readonly("groups", [](const M& m) { return m.spec().groups; })
      .def_property_readonly("sample", [](const M& m) { return m.spec().sample; })
      .def_property_readonly("seed", &M::seed)
      .def_property_readonly("round", &M::round)
      .def_property_readonly("isa", [](const M& m) { return m.spec().generic ? "generic" : pl::DenseIsa(); });
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
  BindMlpEnsemble(m);
  BindLatentModel(m);

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
  m.def("_plan_categorical_cem", &PlanCategoricalCem, py::arg("model"), py::arg("probs"), py::arg("population"),
        py::arg("num_elites"), py::arg("iterations"), py::arg("alpha"), py::arg("gamma"), py::arg("seed"),
        py::arg("round") = 0, py::arg("record") = false,
        "Categorical CEM over a rollout model (csrc/planning/categorical_cem.h): a whole plan, GIL released.");
  m.def(
      "_planning_uniforms",
      [](py::handle seed, int64_t round, int64_t problem, int64_t iteration, int64_t index0, int64_t count) {
        const char* fn = "planning_uniforms";
        NEXTRL_CHECK(problem >= 0 && problem < (int64_t{1} << 32) && iteration >= 0 && iteration < (int64_t{1} << 31) &&
                         index0 >= 0 && count >= 0,
                     std::invalid_argument, fn, ": problem, iteration, index0 and count must be >= 0 (and < 2**32)");
        const uint64_t s = e::SeedArg(fn, seed), stream = pl::NoiseStream(RoundArg(fn, round), problem);
        F64 out(count);
        double* o = out.mutable_data();
        for (int64_t j = 0; j < count; ++j)
          o[j] = nextrl::UniformDouble(s, stream,
                                       (static_cast<uint64_t>(iteration) << 32) + static_cast<uint64_t>(index0 + j));
        return out;
      },
      py::arg("seed"), py::arg("round"), py::arg("problem"), py::arg("iteration"), py::arg("index0"), py::arg("count"),
      "Categorical CEM's uniforms (csrc/planning/categorical_cem.h), for the torch path and the reference tests.");
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
  // _dense_forward(x [rows, in], weight [out, in], bias [out], activation, isa): act(x W^T + b) [rows, out] through
  // the dense kernel of one instruction set (mlp_kernels.h), or None when this CPU lacks it. A test hook.
  m.def(
      "_dense_forward",
      [](const py::array& x, const py::array& weight, const py::array& bias, const std::string& activation,
         const std::string& isa) -> py::object {
        const char* fn = "dense_forward";
        NEXTRL_CHECK(x.ndim() == 2 && weight.ndim() == 2, std::invalid_argument, fn, ": x and weight must be 2-D");
        const int64_t rows = x.shape(0), in = x.shape(1), out = weight.shape(0);
        pl::LatentStage g = DenseStage(fn, "weight", weight, bias, in);
        const pl::Activation act = activation == "relu"   ? pl::Activation::kRelu
                                   : activation == "silu" ? pl::Activation::kSilu
                                   : activation == "tanh" ? pl::Activation::kTanh
                                                          : pl::Activation::kIdentity;
        const int64_t padded = pl::PadRows(rows);
        std::vector<float> xin(static_cast<size_t>(padded * in), 0.0f), y(static_cast<size_t>(padded * g.out_pad));
        const float* xp = F32Arg(fn, "x", x, {rows, in});
        std::copy(xp, xp + rows * in, xin.begin());
        if (!pl::DenseForwardIsa(isa.c_str(), xin.data(), padded, in, in, g.wt.data(), g.bias.data(), g.out_pad, act,
                                 y.data()))
          return py::none();
        py::array_t<float> res(std::vector<py::ssize_t>{rows, out});
        float* r = res.mutable_data();
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < out; ++j) r[i * out + j] = y[static_cast<size_t>(i * g.out_pad + j)];
        return std::move(res);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("activation"), py::arg("isa"));
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
