// Bindings of the replay-buffer kernels: the sum-tree of prioritized replay (csrc/rl/sum_tree.h).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

void BindReplay(py::module_& m) { (void)m; }
