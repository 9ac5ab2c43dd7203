// Bindings of the vectorized environments (csrc/envs/).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

void BindEnvs(py::module_& m) { (void)m; }
