#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda/cuda_common.cuh"
#include "cuda/device_cuda.cuh"

namespace nextrl::cuda {

int DeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

std::string DeviceDescription(int index) {
  cudaDeviceProp prop{};
  NEXTRL_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
         std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
}

void Synchronize() { NEXTRL_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace nextrl::cuda
