// Bindings of the replay-buffer kernels: the sum-tree of prioritized replay (csrc/rl/sum_tree.h).
// Inputs are read-only, so any integer dtype is accepted for indices and any real dtype for priorities,
// masses and uniforms (converted to int64 / float64); every value is checked here, before the GIL is
// released and the kernel runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "common/check.h"
#include "common/memory.h"
#include "rl/sum_tree.h"

namespace py = pybind11;
using nextrl::StrCat;
using nextrl::TypeMismatch;
using nextrl::rl::SumTree;

namespace {

using I64Array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using F64Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

std::string DtypeName(const py::array& a) { return std::string(py::str(a.dtype())); }

void CheckOneDim(const char* fn, const char* what, const py::array& a) {
  NEXTRL_CHECK(a.ndim() == 1, std::invalid_argument, fn, ": ", what, " must be 1-D, got ", a.ndim(), " dimensions");
}

// A 1-D integer array as int64, every entry in [0, capacity).
I64Array Indices(const char* fn, const py::array& a, int64_t capacity) {
  CheckOneDim(fn, "indices", a);
  const char kind = a.dtype().kind();
  NEXTRL_CHECK(kind == 'i' || kind == 'u', TypeMismatch, fn, ": indices must have an integer dtype, got ",
               DtypeName(a));
  I64Array out = a.cast<I64Array>();
  const int64_t* p = out.data();
  for (py::ssize_t j = 0; j < out.size(); ++j) {
    NEXTRL_CHECK(p[j] >= 0 && p[j] < capacity, std::out_of_range, fn, ": index ", p[j], " out of range for capacity ",
                 capacity, " (at position ", j, ")");
  }
  return out;
}

// A 1-D real array as float64 (bool, integer or floating dtype).
F64Array Reals(const char* fn, const char* what, const py::array& a) {
  CheckOneDim(fn, what, a);
  const char kind = a.dtype().kind();
  NEXTRL_CHECK(kind == 'f' || kind == 'i' || kind == 'u', TypeMismatch, fn, ": ", what, " must have a real dtype, got ",
               DtypeName(a));
  return a.cast<F64Array>();
}

}  // namespace

void BindReplay(py::module_& m) {
  py::class_<SumTree>(m, "SumTree", R"doc(
Sum-tree (with a min-tree) over `capacity` non-negative priorities, for proportional prioritized replay
(Schaul et al. 2016). Updates and searches cost O(log capacity) each and run in C++ with the GIL
released; leaves never set have priority 0 (and do not count for `min`).)doc")
      .def(py::init([](int64_t capacity) {
             NEXTRL_CHECK(capacity >= 1, std::invalid_argument, "SumTree: capacity must be >= 1, got ", capacity);
             // Two trees of 2 * size doubles, size = capacity rounded up to a power of two (< 4 capacity).
             nextrl::CheckAllocation("SumTree", StrCat("capacity ", capacity).c_str(),
                                     2.0 * 2.0 * 8.0 * std::exp2(std::ceil(std::log2(static_cast<double>(capacity)))));
             return SumTree(capacity);
           }),
           py::arg("capacity"))
      .def_property_readonly("capacity", &SumTree::Capacity)
      .def("total", &SumTree::Total, "Sum of all priorities.")
      .def("min", &SumTree::Min, "Smallest priority among leaves ever set (inf before the first update).")
      .def(
          "update",
          [](SumTree& t, const py::array& indices, const py::array& priorities) {
            const char* fn = "SumTree.update";
            const I64Array idx = Indices(fn, indices, t.Capacity());
            const F64Array pri = Reals(fn, "priorities", priorities);
            NEXTRL_CHECK(idx.size() == pri.size(), std::invalid_argument, fn,
                         ": indices and priorities must have the same length, got ", idx.size(), " and ", pri.size());
            const double* p = pri.data();
            for (py::ssize_t j = 0; j < pri.size(); ++j) {
              NEXTRL_CHECK(std::isfinite(p[j]) && p[j] >= 0.0, std::invalid_argument, fn,
                           ": priorities must be finite and >= 0, got ", p[j], " at position ", j);
            }
            py::gil_scoped_release release;
            t.Update(idx.data(), p, static_cast<int64_t>(idx.size()));
          },
          py::arg("indices"), py::arg("priorities"),
          "Sets the priorities [n] of leaves `indices` [n], in order (a later duplicate index wins).")
      .def(
          "get",
          [](const SumTree& t, const py::array& indices) {
            const I64Array idx = Indices("SumTree.get", indices, t.Capacity());
            F64Array out(idx.size());
            double* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              t.Get(idx.data(), static_cast<int64_t>(idx.size()), o);
            }
            return out;
          },
          py::arg("indices"), "Priorities [n] float64 of leaves `indices` [n].")
      .def(
          "find",
          [](const SumTree& t, const py::array& masses) {
            const char* fn = "SumTree.find";
            const F64Array ms = Reals(fn, "masses", masses);
            const double total = t.Total();
            NEXTRL_CHECK(total > 0.0, std::invalid_argument, fn,
                         ": total priority must be > 0, got 0; update priorities first");
            const double* p = ms.data();
            for (py::ssize_t j = 0; j < ms.size(); ++j) {
              NEXTRL_CHECK(std::isfinite(p[j]) && p[j] >= 0.0 && p[j] <= total, std::invalid_argument, fn,
                           ": masses must be in [0, total] = [0, ", total, "], got ", p[j], " at position ", j);
            }
            I64Array out(ms.size());
            int64_t* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              t.Find(p, static_cast<int64_t>(ms.size()), o);
            }
            return out;
          },
          py::arg("masses"), R"doc(
Prefix-sum search: for each mass, the smallest index whose inclusive prefix sum of priorities exceeds it
(numpy.searchsorted(cumsum, mass, "right")); never an index of priority 0. Returns [n] int64.)doc")
      .def(
          "sample",
          [](const SumTree& t, const py::array& uniforms) {
            const char* fn = "SumTree.sample";
            const F64Array us = Reals(fn, "uniforms", uniforms);
            NEXTRL_CHECK(us.size() >= 1, std::invalid_argument, fn, ": uniforms must hold >= 1 draw, got 0");
            NEXTRL_CHECK(t.Total() > 0.0, std::invalid_argument, fn,
                         ": total priority must be > 0, got 0; update priorities first");
            const double* p = us.data();
            for (py::ssize_t j = 0; j < us.size(); ++j) {
              NEXTRL_CHECK(p[j] >= 0.0 && p[j] < 1.0, std::invalid_argument, fn, ": uniforms must be in [0, 1), got ",
                           p[j], " at position ", j);
            }
            I64Array out(us.size());
            int64_t* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              t.SampleStratified(p, static_cast<int64_t>(us.size()), o);
            }
            return out;
          },
          py::arg("uniforms"), R"doc(
Stratified proportional sampling: with n = len(uniforms) draws in [0, 1) (e.g. rng.random(n)), draw j
is find((j + uniforms[j]) * total / n), one index per equal-mass segment. Returns [n] int64; index i is
drawn n * priority[i] / total times in expectation.)doc")
      .def(
          "priorities",
          [](const SumTree& t) {
            F64Array out(t.Capacity());
            I64Array all(t.Capacity());
            int64_t* a = all.mutable_data();
            for (int64_t i = 0; i < t.Capacity(); ++i) a[i] = i;
            t.Get(a, t.Capacity(), out.mutable_data());
            return out;
          },
          "All priorities [capacity] float64 (a copy).");
}
