// Bindings of the return scans: GAE, discounted and n-step returns, V-trace (csrc/rl/returns.h).
// Inputs are taken as they are (no silent dtype conversion or copy): float arrays must all be float32 or
// all float64, flags bool or uint8, every array 2-D [T, N] and C-contiguous. Outputs are new arrays of
// the float dtype. The thin Python layer (nextrl.agents.returns) converts torch tensors and lists.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/check.h"
#include "rl/returns.h"

namespace py = pybind11;
using nextrl::StrCat;
using nextrl::TypeMismatch;

namespace {

std::string ShapeStr(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += std::to_string(a.shape(i)) + (i + 1 < a.ndim() ? ", " : "");
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string DtypeStr(const py::array& a) { return std::string(py::str(a.dtype())); }

// The [T, N] shape every argument of one call shares, taken from `rewards`.
struct Shape2 {
  py::ssize_t T, N;
};

Shape2 CheckRewards(const char* fn, const py::array& rewards) {
  NEXTRL_CHECK(rewards.ndim() == 2, std::invalid_argument, fn, ": rewards must be 2-D [T, N], got shape ",
               ShapeStr(rewards));
  NEXTRL_CHECK(rewards.shape(0) >= 1 && rewards.shape(1) >= 1, std::invalid_argument, fn,
               ": rewards must have T >= 1 and N >= 1, got shape ", ShapeStr(rewards));
  const bool f32 = py::isinstance<py::array_t<float>>(rewards), f64 = py::isinstance<py::array_t<double>>(rewards);
  NEXTRL_CHECK(f32 || f64, TypeMismatch, fn, ": rewards must have dtype float32 or float64, got ", DtypeStr(rewards));
  NEXTRL_CHECK(rewards.flags() & py::array::c_style, TypeMismatch, fn, ": rewards must be C-contiguous");
  return {rewards.shape(0), rewards.shape(1)};
}

void CheckShape(const char* fn, const char* what, const py::array& a, Shape2 s) {
  NEXTRL_CHECK(a.ndim() == 2 && a.shape(0) == s.T && a.shape(1) == s.N, std::invalid_argument, fn, ": ", what,
               " must have shape (", s.T, ", ", s.N, ") like rewards, got ", ShapeStr(a));
  NEXTRL_CHECK(a.flags() & py::array::c_style, TypeMismatch, fn, ": ", what, " must be C-contiguous");
}

// A float input with the same dtype and shape as rewards.
template <typename Real>
const Real* FloatArg(const char* fn, const char* what, const py::array& a, Shape2 s) {
  NEXTRL_CHECK(py::isinstance<py::array_t<Real>>(a), TypeMismatch, fn, ": ", what, " must have dtype ",
               sizeof(Real) == 4 ? "float32" : "float64", " like rewards, got ", DtypeStr(a));
  CheckShape(fn, what, a, s);
  return static_cast<const Real*>(a.data());
}

const uint8_t* FlagArg(const char* fn, const char* what, const py::array& a, Shape2 s) {
  const char kind = a.dtype().kind();
  NEXTRL_CHECK((kind == 'b' || (kind == 'u' && a.itemsize() == 1)), TypeMismatch, fn, ": ", what,
               " must have dtype bool or uint8, got ", DtypeStr(a));
  CheckShape(fn, what, a, s);
  return static_cast<const uint8_t*>(a.data());
}

void CheckUnit(const char* fn, const char* what, double x) {
  NEXTRL_CHECK(x >= 0.0 && x <= 1.0, std::invalid_argument, fn, ": ", what, " must be in [0, 1], got ", x);
}

void CheckPositive(const char* fn, const char* what, double x) {
  NEXTRL_CHECK(x > 0.0 && !std::isnan(x), std::invalid_argument, fn, ": ", what, " must be > 0, got ", x);
}

template <typename Real>
py::array_t<Real> NewLike(Shape2 s) {
  return py::array_t<Real>({s.T, s.N});
}

// Runs f.template operator()<Real>() for the float dtype of rewards.
template <typename F>
py::object Dispatch(const py::array& rewards, F&& f) {
  if (py::isinstance<py::array_t<float>>(rewards)) return f(float{});
  return f(double{});
}

}  // namespace

void BindRl(py::module_& m) {
  m.def(
      "gae",
      [](py::array rewards, py::array values, py::array next_values, py::array terminations, py::array truncations,
         double gamma, double lam) {
        const char* fn = "gae";
        const Shape2 s = CheckRewards(fn, rewards);
        CheckUnit(fn, "gamma", gamma);
        CheckUnit(fn, "lam", lam);
        return Dispatch(rewards, [&](auto zero) -> py::object {
          using Real = decltype(zero);
          const Real* r = static_cast<const Real*>(rewards.data());
          const Real* v = FloatArg<Real>(fn, "values", values, s);
          const Real* nv = FloatArg<Real>(fn, "next_values", next_values, s);
          const uint8_t* term = FlagArg(fn, "terminations", terminations, s);
          const uint8_t* trunc = FlagArg(fn, "truncations", truncations, s);
          auto adv = NewLike<Real>(s);
          Real* out = adv.mutable_data();
          {
            py::gil_scoped_release release;
            nextrl::rl::Gae<Real>(s.T, s.N, r, v, nv, term, trunc, Real(gamma), Real(lam), out);
          }
          return adv;
        });
      },
      py::arg("rewards").noconvert(), py::arg("values").noconvert(), py::arg("next_values").noconvert(),
      py::arg("terminations").noconvert(), py::arg("truncations").noconvert(), py::arg("gamma"), py::arg("lam"),
      "GAE advantages [T, N] (see csrc/rl/returns.h).");

  m.def(
      "discounted_returns",
      [](py::array rewards, py::object next_values, py::array terminations, py::array truncations, double gamma) {
        const char* fn = "discounted_returns";
        const Shape2 s = CheckRewards(fn, rewards);
        CheckUnit(fn, "gamma", gamma);
        return Dispatch(rewards, [&](auto zero) -> py::object {
          using Real = decltype(zero);
          const Real* r = static_cast<const Real*>(rewards.data());
          const Real* nv = nullptr;
          py::array nv_array;
          if (!next_values.is_none()) {
            NEXTRL_CHECK(py::isinstance<py::array>(next_values), TypeMismatch, fn,
                         ": next_values must be a numpy array or None");
            nv_array = py::reinterpret_borrow<py::array>(next_values);
            nv = FloatArg<Real>(fn, "next_values", nv_array, s);
          }
          const uint8_t* term = FlagArg(fn, "terminations", terminations, s);
          const uint8_t* trunc = FlagArg(fn, "truncations", truncations, s);
          auto ret = NewLike<Real>(s);
          Real* out = ret.mutable_data();
          {
            py::gil_scoped_release release;
            nextrl::rl::DiscountedReturns<Real>(s.T, s.N, r, nv, term, trunc, Real(gamma), out);
          }
          return ret;
        });
      },
      py::arg("rewards").noconvert(), py::arg("next_values"), py::arg("terminations").noconvert(),
      py::arg("truncations").noconvert(), py::arg("gamma"),
      "Discounted returns [T, N], bootstrapped from next_values (None: 0) on truncation and at the end.");

  m.def(
      "nstep_returns",
      [](py::array rewards, py::array next_values, py::array terminations, py::array truncations, double gamma,
         int64_t n_steps) {
        const char* fn = "nstep_returns";
        const Shape2 s = CheckRewards(fn, rewards);
        CheckUnit(fn, "gamma", gamma);
        NEXTRL_CHECK(n_steps >= 1, std::invalid_argument, fn, ": n_steps must be >= 1, got ", n_steps);
        return Dispatch(rewards, [&](auto zero) -> py::object {
          using Real = decltype(zero);
          const Real* r = static_cast<const Real*>(rewards.data());
          const Real* nv = FloatArg<Real>(fn, "next_values", next_values, s);
          const uint8_t* term = FlagArg(fn, "terminations", terminations, s);
          const uint8_t* trunc = FlagArg(fn, "truncations", truncations, s);
          auto ret = NewLike<Real>(s);
          Real* out = ret.mutable_data();
          {
            py::gil_scoped_release release;
            nextrl::rl::NStepReturns<Real>(s.T, s.N, r, nv, term, trunc, Real(gamma), n_steps, out);
          }
          return ret;
        });
      },
      py::arg("rewards").noconvert(), py::arg("next_values").noconvert(), py::arg("terminations").noconvert(),
      py::arg("truncations").noconvert(), py::arg("gamma"), py::arg("n_steps"),
      "n-step returns [T, N] (see csrc/rl/returns.h).");

  m.def(
      "vtrace",
      [](py::array rewards, py::array values, py::array next_values, py::array terminations, py::array truncations,
         py::array log_rhos, double gamma, double rho_bar, double c_bar, double pg_rho_bar) {
        const char* fn = "vtrace";
        const Shape2 s = CheckRewards(fn, rewards);
        CheckUnit(fn, "gamma", gamma);
        CheckPositive(fn, "rho_bar", rho_bar);
        CheckPositive(fn, "c_bar", c_bar);
        CheckPositive(fn, "pg_rho_bar", pg_rho_bar);
        return Dispatch(rewards, [&](auto zero) -> py::object {
          using Real = decltype(zero);
          const Real* r = static_cast<const Real*>(rewards.data());
          const Real* v = FloatArg<Real>(fn, "values", values, s);
          const Real* nv = FloatArg<Real>(fn, "next_values", next_values, s);
          const uint8_t* term = FlagArg(fn, "terminations", terminations, s);
          const uint8_t* trunc = FlagArg(fn, "truncations", truncations, s);
          const Real* lr = FloatArg<Real>(fn, "log_rhos", log_rhos, s);
          auto vs = NewLike<Real>(s);
          auto pg = NewLike<Real>(s);
          Real* vs_out = vs.mutable_data();
          Real* pg_out = pg.mutable_data();
          {
            py::gil_scoped_release release;
            nextrl::rl::VTrace<Real>(s.T, s.N, r, v, nv, term, trunc, lr, Real(gamma), Real(rho_bar), Real(c_bar),
                                     Real(pg_rho_bar), vs_out, pg_out);
          }
          return py::make_tuple(vs, pg);
        });
      },
      py::arg("rewards").noconvert(), py::arg("values").noconvert(), py::arg("next_values").noconvert(),
      py::arg("terminations").noconvert(), py::arg("truncations").noconvert(), py::arg("log_rhos").noconvert(),
      py::arg("gamma"), py::arg("rho_bar"), py::arg("c_bar"), py::arg("pg_rho_bar"),
      "V-trace (vs, pg_advantages), each [T, N] (see csrc/rl/returns.h).");
}
