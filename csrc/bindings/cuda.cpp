// Bindings of the CUDA part of the build (compiled only when NEXTRL_WITH_CUDA).
#include <pybind11/pybind11.h>

#include "common/check.h"
#include "cuda/device_cuda.cuh"

namespace py = pybind11;

void BindCuda(py::module_& m) {
  m.def("cuda_device_count", &nextrl::cuda::DeviceCount, "Visible CUDA devices (0 without a driver).");
  m.def("cuda_device_description", [](int index) {
    const int count = nextrl::cuda::DeviceCount();
    NEXTRL_CHECK(index >= 0 && index < count, std::out_of_range, "cuda_device_description: index ", index,
                 " out of range for ", count, " devices");
    return nextrl::cuda::DeviceDescription(index);
  }, py::arg("index") = 0);
}
