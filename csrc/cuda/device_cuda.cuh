// CUDA device queries. Every CUDA call goes through NEXTRL_CUDA_CHECK.
#pragma once
#include <string>

namespace nextrl::cuda {

// Number of visible CUDA devices; 0 when no driver or device is present.
int DeviceCount();
// Name, compute capability and memory of device `index` (throws std::runtime_error).
std::string DeviceDescription(int index);

// Waits for all work on the current device (throws std::runtime_error on a CUDA error).
void Synchronize();

}  // namespace nextrl::cuda
