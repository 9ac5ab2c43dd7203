// Bindings of the multi-agent environments (csrc/marl/).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

void BindMarlEnvs(py::module_& m) { (void)m; }
