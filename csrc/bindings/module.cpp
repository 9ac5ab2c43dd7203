// nextrl._core: the compiled kernels. One bind_<domain>.cpp per domain.
#include <pybind11/pybind11.h>

#include <string>

#include "common/check.h"
#include "common/parallel.h"
#include "quantum/plan.h"

namespace py = pybind11;

void BindQuantum(py::module_& m);
void BindEnvs(py::module_& m);
void BindGridEnvs(py::module_& m);
void BindControlEnvs(py::module_& m);
void BindMarlEnvs(py::module_& m);
void BindRl(py::module_& m);
void BindReplay(py::module_& m);
void BindPlanning(py::module_& m);
#ifdef NEXTRL_WITH_CUDA
void BindCuda(py::module_& m);
#endif

namespace {

std::string CompilerName() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "nextrl compiled kernels";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nextrl::TypeMismatch& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });

  m.def(
      "build_info",
      [] {
        py::dict d;
        d["compiler"] = CompilerName();
        d["simd"] = nextrl::quantum::IsaName(nextrl::quantum::DetectIsa());
        py::list compiled;
        compiled.append("generic");
#ifdef NEXTRL_HAVE_AVX2
        compiled.append("avx2");
#endif
#ifdef NEXTRL_HAVE_AVX512
        compiled.append("avx512");
#endif
        d["simd_compiled"] = compiled;
#ifdef _OPENMP
        d["openmp"] = true;
#else
        d["openmp"] = false;
#endif
        d["threads"] = nextrl::MaxThreads();
#ifdef NEXTRL_WITH_CUDA
        d["cuda_compiled"] = true;
#else
        d["cuda_compiled"] = false;
#endif
        return d;
      },
      "Compiler, SIMD level, OpenMP and CUDA facts of this build.");

  m.def(
      "set_num_threads",
      [](int n) {
        NEXTRL_CHECK(n >= 1, std::invalid_argument, "set_num_threads: n must be >= 1, got ", n);
#ifdef _OPENMP
        omp_set_num_threads(n);
#endif
      },
      py::arg("n"), "Sets the number of OpenMP threads used by every kernel.");
  m.def("get_num_threads", &nextrl::MaxThreads);

  m.def(
      "has_cuda",
      [] {
#ifdef NEXTRL_WITH_CUDA
        return true;
#else
        return false;
#endif
      },
      "True when this build includes the CUDA kernels.");

  BindQuantum(m);
  BindEnvs(m);
  BindGridEnvs(m);
  BindControlEnvs(m);
  BindMarlEnvs(m);
  BindRl(m);
  BindReplay(m);
  BindPlanning(m);
#ifdef NEXTRL_WITH_CUDA
  BindCuda(m);
#endif
}
