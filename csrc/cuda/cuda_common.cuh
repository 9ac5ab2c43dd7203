// Shared device helpers of the CUDA kernels: the error check, a complex type with plain-real arithmetic, bit
// insertion for gate index spaces, and the deterministic reduction every read-out uses.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#define NEXTRL_CUDA_CHECK(expr)                                                                \
  do {                                                                                         \
    const cudaError_t err_ = (expr);                                                           \
    if (err_ != cudaSuccess)                                                                   \
      throw std::runtime_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + \
                               cudaGetErrorString(err_));                                      \
  } while (0)

namespace nextrl::cuda {

template <typename R>
struct alignas(2 * sizeof(R)) Cx {
  R re, im;
};

template <typename R>
__device__ __forceinline__ Cx<R> CMul(Cx<R> a, Cx<R> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <typename R>
__device__ __forceinline__ Cx<R> CAdd(Cx<R> a, Cx<R> b) {
  return {a.re + b.re, a.im + b.im};
}
// a + m * b
template <typename R>
__device__ __forceinline__ Cx<R> CMad(Cx<R> a, Cx<R> m, Cx<R> b) {
  return {a.re + m.re * b.re - m.im * b.im, a.im + m.re * b.im + m.im * b.re};
}
template <typename R>
__device__ __forceinline__ Cx<R> CConj(Cx<R> a) {
  return {a.re, -a.im};
}

// Inserts a zero bit at every set bit of `mask` (ascending), spreading `i` over the other positions.
__device__ __forceinline__ uint64_t InsertZeros(uint64_t i, uint64_t mask) {
  while (mask) {
    const int p = __ffsll(static_cast<long long>(mask)) - 1;
    const uint64_t low = (uint64_t{1} << p) - 1;
    i = ((i & ~low) << 1) | (i & low);
    mask &= mask - 1;
  }
  return i;
}

// Spreads the low bits of `c` over the set bits of `mask` (ascending): bit j of c -> j-th set bit of mask.
__device__ __forceinline__ uint64_t Deposit(uint64_t c, uint64_t mask) {
  uint64_t out = 0;
  for (int j = 0; mask; ++j, mask &= mask - 1)
    if (c >> j & 1) out |= mask & (~mask + 1);
  return out;
}

constexpr int kReduceThreads = 256;
constexpr int kReduceBlocks = 1024;

// Sums f(i) (a pair of doubles) over i in [0, count) into partial[blockIdx.x]: a grid-stride loop over a grid
// whose size depends on count only, then a fixed tree in shared memory, so the result never depends on timing.
template <typename F>
__global__ void ReducePairs(int64_t count, F f, double2* partial) {
  __shared__ double2 buf[kReduceThreads];
  double re = 0, im = 0;
  for (int64_t i = blockIdx.x * int64_t{kReduceThreads} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * kReduceThreads) {
    const double2 v = f(i);
    re += v.x;
    im += v.y;
  }
  buf[threadIdx.x] = make_double2(re, im);
  __syncthreads();
  for (int w = kReduceThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) {
      buf[threadIdx.x].x += buf[threadIdx.x + w].x;
      buf[threadIdx.x].y += buf[threadIdx.x + w].y;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = buf[0];
}

inline int ReduceGrid(int64_t count) {
  const int64_t blocks = (count + kReduceThreads * 8 - 1) / (kReduceThreads * 8);
  return static_cast<int>(blocks < 1 ? 1 : blocks > kReduceBlocks ? kReduceBlocks : blocks);
}

}  // namespace nextrl::cuda
