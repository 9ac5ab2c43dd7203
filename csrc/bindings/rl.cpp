// Bindings of the return scans: GAE, n-step, V-trace (csrc/rl/returns.h).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

void BindRl(py::module_& m) { (void)m; }
