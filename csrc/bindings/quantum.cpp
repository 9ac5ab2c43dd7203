// Bindings of the statevector simulator: compiled plans and state read-outs.
// Arrays that kernels write are taken with .noconvert() semantics: a wrong dtype or a
// non-contiguous array is refused (TypeError), never silently copied.
#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/check.h"
#include "quantum/batch_plan.h"
#include "quantum/measure.h"
#include "quantum/plan.h"

namespace py = pybind11;
using nextrl::StrCat;
using nextrl::TypeMismatch;
namespace q = nextrl::quantum;

namespace {

using c64 = std::complex<float>;
using c128 = std::complex<double>;

// Calls f(std::complex<Real>* data, int num_qubits) for a complex64/complex128 state array.
template <typename F>
auto WithState(const char* fn, py::array& a, bool writeable, F&& f) {
  NEXTRL_CHECK(a.ndim() == 1, std::invalid_argument, fn, ": state must be 1-D, got ", a.ndim(), " dimensions");
  const bool is64 = py::isinstance<py::array_t<c64>>(a), is128 = py::isinstance<py::array_t<c128>>(a);
  NEXTRL_CHECK(is64 || is128, TypeMismatch, fn, ": state must have dtype complex64 or complex128, got ",
               std::string(py::str(a.dtype())));
  NEXTRL_CHECK(a.flags() & py::array::c_style, TypeMismatch, fn, ": state must be C-contiguous");
  NEXTRL_CHECK(!writeable || a.writeable(), std::invalid_argument, fn, ": state must be writeable");
  const int64_t size = a.shape(0);
  NEXTRL_CHECK(size >= 2 && (size & (size - 1)) == 0, std::invalid_argument, fn,
               ": state length must be a power of two >= 2, got ", size);
  const int n = static_cast<int>(std::countr_zero(static_cast<uint64_t>(size)));
  if (is64) return f(static_cast<c64*>(writeable ? a.mutable_data() : const_cast<void*>(a.data())), n);
  return f(static_cast<c128*>(writeable ? a.mutable_data() : const_cast<void*>(a.data())), n);
}

q::OpSpec ToOpSpec(const py::tuple& t) {
  NEXTRL_CHECK(t.size() == 6, std::invalid_argument,
               "Plan: op must be (kind, targets, controls, ctrl_state, angles, matrix), got ", t.size(), " fields");
  q::OpSpec op;
  op.kind = static_cast<q::GateKind>(t[0].cast<int>());
  op.targets = t[1].cast<std::vector<int>>();
  op.controls = t[2].cast<std::vector<int>>();
  op.ctrl_state = t[3].cast<uint64_t>();
  for (const auto& a : t[4].cast<py::list>()) {
    const auto ref = a.cast<std::tuple<int, double, double>>();
    op.angles.push_back({std::get<0>(ref), std::get<1>(ref), std::get<2>(ref)});
  }
  if (!t[5].is_none()) {
    const auto mat = t[5].cast<py::array_t<c128, py::array::c_style | py::array::forcecast>>();
    op.matrix.assign(mat.data(), mat.data() + mat.size());
  }
  return op;
}

q::Isa ParseIsa(const char* fn, const std::string& name) {
  NEXTRL_CHECK(name == "generic" || name == "avx2" || name == "avx512", std::invalid_argument, fn,
               ": must be 'generic', 'avx2' or 'avx512', got '", name, "'");
  return name == "avx512" ? q::Isa::kAvx512 : name == "avx2" ? q::Isa::kAvx2 : q::Isa::kGeneric;
}

using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Checks a float64 array's shape and finiteness; `what` names it in errors.
const double* CheckedData(const char* fn, const char* what, const DArray& a, std::vector<py::ssize_t> shape,
                          bool finite = true) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) {
    std::string want = "(", got = "(";
    for (size_t i = 0; i < shape.size(); ++i) want += std::to_string(shape[i]) + (i + 1 < shape.size() ? ", " : "");
    for (py::ssize_t i = 0; i < a.ndim(); ++i) got += std::to_string(a.shape(i)) + (i + 1 < a.ndim() ? ", " : "");
    throw std::invalid_argument(StrCat(fn, ": ", what, " must have shape ", want, shape.size() == 1 ? ",)" : ")",
                                       ", got ", got, a.ndim() == 1 ? ",)" : ")"));
  }
  const double* d = a.data();
  for (py::ssize_t i = 0; finite && i < a.size(); ++i)
    NEXTRL_CHECK(std::isfinite(d[i]), std::invalid_argument, fn, ": ", what, " must be finite, got ", d[i],
                 " at flat index ", i);
  return d;
}

bool UseFloat32(const char* fn, const std::string& dtype) {
  NEXTRL_CHECK(dtype == "float32" || dtype == "float64", TypeMismatch, fn,
               ": dtype must be 'float32' or 'float64', got '", dtype, "'");
  return dtype == "float32";
}

// The [tiles, 2, 2^n, lanes] array of kept final states (see BatchPlan::Forward).
std::vector<py::ssize_t> StateShape(const q::BatchPlan& p, int64_t batch) {
  const int64_t v = p.LanesFor(batch);
  return {static_cast<py::ssize_t>((batch + v - 1) / v), 2, static_cast<py::ssize_t>(int64_t{1} << p.num_qubits()),
          static_cast<py::ssize_t>(v)};
}

py::array StateArray(const q::BatchPlan& p, int64_t batch, bool f32) {
  if (f32) return py::array_t<float>(StateShape(p, batch));
  return py::array_t<double>(StateShape(p, batch));
}

const void* CheckedState(const q::BatchPlan& p, int64_t batch, bool f32, const py::object& state) {
  const std::string want_dtype = f32 ? "float32" : "float64";
  NEXTRL_CHECK(py::isinstance<py::array>(state), std::invalid_argument,
               "BatchPlan.backward: state must be the array returned by forward(..., keep_state=True)");
  const py::array a = state.cast<py::array>();
  const bool dtype_ok = f32 ? a.dtype().is(py::dtype::of<float>()) : a.dtype().is(py::dtype::of<double>());
  NEXTRL_CHECK(dtype_ok, std::invalid_argument, "BatchPlan.backward: state must have dtype ", want_dtype,
               " for dtype='", want_dtype, "'");
  const std::vector<py::ssize_t> shape = StateShape(p, batch);
  bool ok = a.ndim() == 4 && (a.flags() & py::array::c_style);
  for (int i = 0; ok && i < 4; ++i) ok = a.shape(i) == shape[i];
  NEXTRL_CHECK(ok, std::invalid_argument, "BatchPlan.backward: state must be a C-contiguous array of shape (", shape[0],
               ", 2, ", shape[2], ", ", shape[3], ") for this batch (the one forward(..., keep_state=True) returned)");
  return a.data();
}

// Checks a gate kind from Python for the gate-table functions: a kind with a fixed matrix
// (not kUnitary) and as many angles as it takes. Returns the matrix dimension.
int CheckedGate(const char* fn, int kind, const std::vector<double>& angles) {
  constexpr int count = static_cast<int>(q::GateKind::kCount);
  NEXTRL_CHECK(kind >= 0 && kind < count, std::invalid_argument, fn, ": kind must be in [0, ", count, "), got ", kind);
  const q::GateDef& def = q::kGateTable[kind];
  NEXTRL_CHECK(def.kind != q::GateKind::kUnitary, std::invalid_argument, fn,
               ": kind must be a gate with a fixed matrix, got 'unitary'");
  NEXTRL_CHECK(static_cast<int>(angles.size()) == def.info.num_params, std::invalid_argument, fn, ": angles must have ",
               def.info.num_params, " entries for '", def.name, "', got ", angles.size());
  return 1 << def.info.num_targets;
}

py::array_t<c128> SquareMatrix(int dim) {
  return py::array_t<c128>({static_cast<py::ssize_t>(dim), static_cast<py::ssize_t>(dim)});
}

}  // namespace

void BindQuantum(py::module_& m) {
  m.def(
      "gate_table",
      [] {
        py::list rows;
        for (const q::GateDef& def : q::kGateTable) {
          py::dict row;
          row["name"] = def.name;
          row["kind"] = static_cast<int>(def.kind);
          row["num_targets"] = def.info.num_targets;
          row["num_params"] = def.info.num_params;
          row["cls"] = def.info.cls == q::GateClass::kDiagonal   ? "diagonal"
                       : def.info.cls == q::GateClass::kMonomial ? "monomial"
                                                                 : "dense";
          py::list generators;
          for (int which = 0; which < def.info.num_params; ++which) {
            py::array_t<c128> g = SquareMatrix(1 << def.info.num_targets);
            q::GateGenerator(def.kind, which, g.mutable_data());
            generators.append(g);
          }
          row["generators"] = generators;
          rows.append(row);
        }
        return rows;
      },
      "The C++ gate table, one dict per GateKind in kind order: name, kind, num_targets (-1: given by the\n"
      "matrix), num_params, cls ('diagonal', 'monomial' or 'dense') and generators (one matrix G per angle:\n"
      "the gate is V exp(-i angle G) W with V, W free of that angle).");
  m.def(
      "gate_matrix",
      [](int kind, const std::vector<double>& angles) {
        py::array_t<c128> out = SquareMatrix(CheckedGate("gate_matrix", kind, angles));
        q::GateMatrix(static_cast<q::GateKind>(kind), angles.data(), out.mutable_data());
        return out;
      },
      py::arg("kind"), py::arg("angles"), "The matrix of gate `kind` at `angles` (complex128, Qiskit's conventions).");
  m.def(
      "gate_derivative",
      [](int kind, const std::vector<double>& angles, int which) {
        const int dim = CheckedGate("gate_derivative", kind, angles);
        const q::GateDef& def = q::kGateTable[kind];
        NEXTRL_CHECK(which >= 0 && which < def.info.num_params, std::out_of_range,
                     "gate_derivative: which must be in [0, ", def.info.num_params, ") for '", def.name, "', got ",
                     which);
        py::array_t<c128> out = SquareMatrix(dim);
        q::GateDerivative(static_cast<q::GateKind>(kind), angles.data(), which, out.mutable_data());
        return out;
      },
      py::arg("kind"), py::arg("angles"), py::arg("which"), "d(matrix)/d(angles[which]) of gate `kind`.");

  py::class_<q::BatchPlan>(m, "BatchPlan", "A variational circuit compiled for batched forward and adjoint passes.")
      .def(py::init([](int num_qubits, const py::list& ops, const std::vector<std::tuple<int, int, int>>& slots,
                       int num_weights, int num_features, int num_scales,
                       const std::vector<std::tuple<uint64_t, uint64_t, c128, int>>& terms, int num_outputs,
                       const std::vector<int>& prob_qubits) {
             std::vector<q::OpSpec> specs;
             for (const auto& op : ops) specs.push_back(ToOpSpec(op.cast<py::tuple>()));
             std::vector<q::SlotSpec> sl;
             for (const auto& [kind, index, scale] : slots) {
               NEXTRL_CHECK(kind >= 0 && kind <= 2, std::invalid_argument, "BatchPlan: slot kind must be 0, 1 or 2, got ", kind);
               sl.push_back({static_cast<q::SlotKind>(kind), index, scale});
             }
             std::vector<q::PauliTerm> tm;
             for (const auto& [x, z, c, out] : terms) tm.push_back({x, z, c, out});
             return q::BatchPlan(num_qubits, std::move(specs), std::move(sl), num_weights, num_features, num_scales,
                                 std::move(tm), num_outputs, prob_qubits);
           }),
           py::arg("num_qubits"), py::arg("ops"), py::arg("slots"), py::arg("num_weights"), py::arg("num_features"),
           py::arg("num_scales"), py::arg("terms"), py::arg("num_outputs"), py::arg("prob_qubits"))
      .def("forward",
           [](const q::BatchPlan& p, const DArray& x, const DArray& w, const DArray& s, const std::string& dtype,
              bool keep_state, const std::optional<DArray>& output_scale) -> py::object {
             const bool f32 = UseFloat32("BatchPlan.forward", dtype);
             NEXTRL_CHECK(x.ndim() == 2, std::invalid_argument, "BatchPlan.forward: inputs must be 2-D [batch, ",
                          p.num_features(), "], got ", x.ndim(), " dimensions");
             const int64_t batch = x.shape(0);
             const double* px = CheckedData("BatchPlan.forward", "inputs", x, {batch, p.num_features()});
             const double* pw = CheckedData("BatchPlan.forward", "weights", w, {p.num_weights()});
             const double* ps = CheckedData("BatchPlan.forward", "scales", s, {p.num_scales()});
             const int64_t num_outputs = p.num_outputs();
             // output_scale is not checked for finiteness: it scales the read-outs after the circuit, as the
             // autograd path's multiply does (a NaN scale gives NaN outputs on both paths).
             const double* pscale = output_scale ? CheckedData("BatchPlan.forward", "output_scale", *output_scale,
                                                               {num_outputs}, false)
                                                 : nullptr;
             py::array_t<double> out({static_cast<py::ssize_t>(batch), static_cast<py::ssize_t>(num_outputs)});
             double* po = out.mutable_data();
             py::array state = keep_state ? StateArray(p, batch, f32) : py::array();
             {
               py::gil_scoped_release release;
               if (batch > 0) {
                 if (f32) p.Forward<float>(px, batch, pw, ps, po, keep_state ? static_cast<float*>(state.mutable_data()) : nullptr);
                 else p.Forward<double>(px, batch, pw, ps, po, keep_state ? static_cast<double*>(state.mutable_data()) : nullptr);
                 if (pscale != nullptr)
                   for (int64_t i = 0; i < batch * num_outputs; ++i) po[i] *= pscale[i % num_outputs];
               }
             }
             if (keep_state) return py::make_tuple(out, state);
             return out;
           },
           py::arg("inputs"), py::arg("weights"), py::arg("scales"), py::arg("dtype") = "float64",
           py::arg("keep_state") = false, py::arg("output_scale") = py::none(),
           "Outputs [batch, num_outputs] for inputs [batch, num_features], each column times output_scale [num_outputs]\n"
           "when given; with keep_state=True, (outputs, state): the final states for backward(..., state=state) on\n"
           "the same inputs and weights.")
      .def("backward",
           [](const q::BatchPlan& p, const DArray& x, const DArray& w, const DArray& s, const DArray& g,
              const std::string& dtype, const py::object& state) {
             const bool f32 = UseFloat32("BatchPlan.backward", dtype);
             NEXTRL_CHECK(x.ndim() == 2, std::invalid_argument, "BatchPlan.backward: inputs must be 2-D [batch, ",
                          p.num_features(), "], got ", x.ndim(), " dimensions");
             const int64_t batch = x.shape(0);
             const double* px = CheckedData("BatchPlan.backward", "inputs", x, {batch, p.num_features()});
             const double* pw = CheckedData("BatchPlan.backward", "weights", w, {p.num_weights()});
             const double* ps = CheckedData("BatchPlan.backward", "scales", s, {p.num_scales()});
             const double* pg = CheckedData("BatchPlan.backward", "grad_outputs", g, {batch, p.num_outputs()});
             const void* pstate = state.is_none() ? nullptr : CheckedState(p, batch, f32, state);
             py::array_t<double> out({static_cast<py::ssize_t>(batch), static_cast<py::ssize_t>(p.num_outputs())});
             py::array_t<double> dw(p.num_weights()), ds(p.num_scales());
             py::array_t<double> dx({static_cast<py::ssize_t>(batch), static_cast<py::ssize_t>(p.num_features())});
             double *po = out.mutable_data(), *pdw = dw.mutable_data(), *pdx = dx.mutable_data(), *pds = ds.mutable_data();
             {
               py::gil_scoped_release release;
               if (batch > 0) {
                 double* o = pstate != nullptr ? nullptr : po;
                 if (f32) p.Backward<float>(px, batch, pw, ps, pg, o, pdw, pdx, pds, static_cast<const float*>(pstate));
                 else p.Backward<double>(px, batch, pw, ps, pg, o, pdw, pdx, pds, static_cast<const double*>(pstate));
               } else {
                 std::fill(pdw, pdw + p.num_weights(), 0.0);
                 std::fill(pds, pds + p.num_scales(), 0.0);
               }
             }
             py::object first = pstate != nullptr ? py::object(py::none()) : py::object(out);
             return py::make_tuple(first, dw, dx, ds);
           },
           py::arg("inputs"), py::arg("weights"), py::arg("scales"), py::arg("grad_outputs"), py::arg("dtype") = "float64",
           py::arg("state") = py::none(),
           "Adjoint VJP: (outputs, d_weights summed over the batch, d_inputs, d_scales). With the state kept by\n"
           "forward(..., keep_state=True) on the same inputs and weights the forward pass is not repeated and\n"
           "outputs is None.")
      .def_property_readonly("num_qubits", &q::BatchPlan::num_qubits)
      .def_property_readonly("num_outputs", &q::BatchPlan::num_outputs)
      .def_property_readonly("num_weights", &q::BatchPlan::num_weights)
      .def_property_readonly("num_features", &q::BatchPlan::num_features)
      .def_property_readonly("num_scales", &q::BatchPlan::num_scales)
      .def_property("lanes", &q::BatchPlan::lanes, &q::BatchPlan::set_lanes)
      .def_property("isa",
                    [](const q::BatchPlan& p) { return std::string(q::IsaName(p.isa())); },
                    [](q::BatchPlan& p, const std::string& name) { p.set_isa(ParseIsa("BatchPlan.isa", name)); })
      .def_property_readonly("report", [](const q::BatchPlan& p) {
        const q::StepReport& r = p.report();
        py::dict d;
        d["num_ops"] = r.num_ops;
        d["num_steps"] = r.num_steps;
        d["shared_1q"] = r.shared_1q;
        d["lane_1q"] = r.lane_1q;
        d["fused_rotations"] = r.fused_rotations;
        d["op_steps"] = r.op_steps;
        d["diagonal_steps"] = r.diagonal_steps;
        d["diagonal_ops"] = r.diagonal_ops;
        d["merged_1q"] = r.merged_1q;
        return d;
      }, "What the grouping pass made of the circuit: steps by kind and the gates merged into them.");

  py::class_<q::Plan>(m, "Plan", "A compiled circuit: validated gates, fused into blocks.")
      .def(py::init([](int num_qubits, const py::list& ops, int num_params, int max_fused_qubits, int local_bits) {
             std::vector<q::OpSpec> specs;
             specs.reserve(ops.size());
             for (const auto& op : ops) specs.push_back(ToOpSpec(op.cast<py::tuple>()));
             return q::Plan(num_qubits, std::move(specs), num_params, max_fused_qubits, local_bits);
           }),
           py::arg("num_qubits"), py::arg("ops"), py::arg("num_params"), py::arg("max_fused_qubits"),
           py::arg("local_bits"))
      .def(
          "run",
          [](const q::Plan& plan, py::array state,
             py::array_t<double, py::array::c_style | py::array::forcecast> params) {
            NEXTRL_CHECK(params.ndim() == 1 && params.shape(0) == plan.num_params(), std::invalid_argument,
                         "Plan.run: params must have shape (", plan.num_params(), ",), got size ", params.size());
            const double* p = params.data();
            WithState("Plan.run", state, true, [&](auto* s, int n) {
              NEXTRL_CHECK(n == plan.num_qubits(), std::invalid_argument, "Plan.run: state must have 2^",
                           plan.num_qubits(), " amplitudes, got 2^", n);
              py::gil_scoped_release release;
              plan.Run(s, p);
            });
          },
          py::arg("state").noconvert(), py::arg("params"),
          "Applies the circuit to `state` in place (complex64 or complex128, C-contiguous).")
      .def_property_readonly("num_qubits", &q::Plan::num_qubits)
      .def_property_readonly("num_params", &q::Plan::num_params)
      .def_property(
          "isa", [](const q::Plan& p) { return std::string(q::IsaName(p.isa())); },
          [](q::Plan& p, const std::string& name) { p.set_isa(ParseIsa("Plan.isa", name)); })
      .def_property_readonly("report", [](const q::Plan& p) {
        const q::FusionReport& r = p.report();
        py::dict d;
        d["num_ops"] = r.num_ops;
        d["num_blocks"] = r.num_blocks;
        d["max_qubits"] = r.max_qubits;
        d["largest_block"] = r.largest_block;
        d["mean_block_qubits"] = r.mean_block_qubits;
        d["merged_1q"] = r.merged_1q;
        return d;
      });

  m.def(
      "norm_squared",
      [](py::array state) {
        return WithState("norm_squared", state, false, [&](auto* s, int n) {
          py::gil_scoped_release release;
          return q::NormSquared(s, int64_t{1} << n);
        });
      },
      py::arg("state").noconvert());

  m.def(
      "inner",
      [](py::array a, py::array b) {
        NEXTRL_CHECK(a.dtype().equal(b.dtype()), TypeMismatch, "inner: states must have the same dtype, got ",
                     std::string(py::str(a.dtype())), " and ", std::string(py::str(b.dtype())));
        NEXTRL_CHECK(a.ndim() == 1 && b.ndim() == 1 && a.shape(0) == b.shape(0), std::invalid_argument,
                     "inner: states must have the same length");
        return WithState("inner", a, false, [&](auto* pa, int n) {
          using T = std::remove_pointer_t<decltype(pa)>;
          const T* pb = static_cast<const T*>(b.data());
          NEXTRL_CHECK(b.flags() & py::array::c_style, TypeMismatch, "inner: state must be C-contiguous");
          py::gil_scoped_release release;
          return q::Inner(pa, pb, int64_t{1} << n);
        });
      },
      py::arg("a").noconvert(), py::arg("b").noconvert(), "<a|b> = sum conj(a) b");

  m.def(
      "pauli_expectation",
      [](py::array state, py::array_t<uint64_t, py::array::c_style | py::array::forcecast> x,
         py::array_t<uint64_t, py::array::c_style | py::array::forcecast> z,
         py::array_t<c128, py::array::c_style | py::array::forcecast> coeffs) {
        NEXTRL_CHECK(x.size() == z.size() && x.size() == coeffs.size(), std::invalid_argument,
                     "pauli_expectation: x, z and coeffs must have the same length");
        return WithState("pauli_expectation", state, false, [&](auto* s, int n) {
          const uint64_t limit = n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
          for (py::ssize_t t = 0; t < x.size(); ++t)
            NEXTRL_CHECK((x.data()[t] & ~limit) == 0 && (z.data()[t] & ~limit) == 0, std::out_of_range,
                         "pauli_expectation: term ", t, " acts on a qubit >= ", n);
          py::gil_scoped_release release;
          c128 total = 0;
          for (py::ssize_t t = 0; t < x.size(); ++t)
            total += coeffs.data()[t] * q::PauliExpectation(s, int64_t{1} << n, x.data()[t], z.data()[t]);
          return total;
        });
      },
      py::arg("state").noconvert(), py::arg("x"), py::arg("z"), py::arg("coeffs"),
      "sum_t coeffs[t] <psi|P_t|psi>, P_t = i^{|x&z|} X^x Z^z given by bit masks.");

  m.def(
      "probabilities",
      [](py::array state, const std::vector<int>& qubits) {
        return WithState("probabilities", state, false, [&](auto* s, int n) {
          uint64_t seen = 0;
          for (int qb : qubits) {
            NEXTRL_CHECK(qb >= 0 && qb < n, std::out_of_range, "probabilities: qubit ", qb, " out of range for ", n,
                         " qubits");
            NEXTRL_CHECK(!(seen >> qb & 1), std::invalid_argument, "probabilities: qubit ", qb, " appears twice");
            seen |= uint64_t{1} << qb;
          }
          py::array_t<double> out(py::ssize_t{1} << qubits.size());
          double* o = out.mutable_data();
          py::gil_scoped_release release;
          q::Probabilities(s, n, qubits, o);
          return out;
        });
      },
      py::arg("state").noconvert(), py::arg("qubits"));

  m.def(
      "sample_probabilities",
      [](py::array_t<double, py::array::c_style | py::array::forcecast> p, int64_t shots, uint64_t seed) {
        NEXTRL_CHECK(shots >= 0, std::invalid_argument, "sample: shots must be >= 0, got ", shots);
        NEXTRL_CHECK(p.ndim() == 1 && p.size() >= 1, std::invalid_argument, "sample: probabilities must be 1-D");
        py::array_t<int64_t> out(shots);
        const double* pp = p.data();
        int64_t* o = out.mutable_data();
        const int64_t bins = p.size();
        py::gil_scoped_release release;
        q::SampleFromProbabilities(pp, bins, shots, seed, o);
        return out;
      },
      py::arg("probabilities"), py::arg("shots"), py::arg("seed"),
      "Inverse-CDF sampling with a counter-based generator: shot j depends only on (seed, j).");

  m.def(
      "measure",
      [](py::array state, int qubit, uint64_t seed) {
        return WithState("measure", state, true, [&](auto* s, int n) {
          NEXTRL_CHECK(qubit >= 0 && qubit < n, std::out_of_range, "measure: qubit ", qubit, " out of range for ", n,
                       " qubits");
          py::gil_scoped_release release;
          return q::MeasureQubit(s, n, qubit, seed);
        });
      },
      py::arg("state").noconvert(), py::arg("qubit"), py::arg("seed"));
}
