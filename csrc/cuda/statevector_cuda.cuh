// Device kernels of the statevector simulator: one thread per amplitude group of a gate, state [2^n] Cx<R>
// in global memory. Gate index spaces skip the controlled-out subspace: a gate with c controls and k targets
// visits 2^(n-c-k) groups, not 2^(n-k), so controlled gates cost what they touch.
// Launchers and preconditions: statevector_cuda.cu (checked there or in the bindings).
#pragma once
#include "common/rng.h"
#include "cuda/cuda_common.cuh"

namespace nextrl::cuda {

struct Mat2 {
  double re[4], im[4];
};
struct Mat4 {
  double re[16], im[16];
};

// 1-target gate: pairs (i0, i1 = i0 | 2^t) over the groups where the controls hold.
//   skip: target and control bits (zeros inserted there), cbits: the control values, count: 2^(n - |skip|).
template <typename R, bool Diagonal>
__global__ void Apply1Kernel(Cx<R>* s, int64_t count, int target, uint64_t skip, uint64_t cbits, Mat2 m) {
  const Cx<R> m00{R(m.re[0]), R(m.im[0])}, m01{R(m.re[1]), R(m.im[1])};
  const Cx<R> m10{R(m.re[2]), R(m.im[2])}, m11{R(m.re[3]), R(m.im[3])};
  const uint64_t bit = uint64_t{1} << target;
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < count; g += int64_t{gridDim.x} * blockDim.x) {
    const uint64_t i0 = InsertZeros(static_cast<uint64_t>(g), skip) | cbits, i1 = i0 | bit;
    const Cx<R> a = s[i0], b = s[i1];
    if (Diagonal) {
      s[i0] = CMul(m00, a);
      s[i1] = CMul(m11, b);
    } else {
      s[i0] = CMad(CMul(m00, a), m01, b);
      s[i1] = CMad(CMul(m10, a), m11, b);
    }
  }
}

// 2-target gate on (t0, t1): row / column bit 0 <-> t0, bit 1 <-> t1 (the gate table's order).
template <typename R, bool Diagonal>
__global__ void Apply2Kernel(Cx<R>* s, int64_t count, int t0, int t1, uint64_t skip, uint64_t cbits, Mat4 m) {
  const uint64_t b0 = uint64_t{1} << t0, b1 = uint64_t{1} << t1;
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < count; g += int64_t{gridDim.x} * blockDim.x) {
    const uint64_t base = InsertZeros(static_cast<uint64_t>(g), skip) | cbits;
    const uint64_t idx[4] = {base, base | b0, base | b1, base | b0 | b1};
    Cx<R> v[4];
#pragma unroll
    for (int c = 0; c < 4; ++c) v[c] = s[idx[c]];
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      if (Diagonal) {
        s[idx[r]] = CMul(Cx<R>{R(m.re[5 * r]), R(m.im[5 * r])}, v[r]);
      } else {
        Cx<R> acc{R(0), R(0)};
#pragma unroll
        for (int c = 0; c < 4; ++c) acc = CMad(acc, Cx<R>{R(m.re[4 * r + c]), R(m.im[4 * r + c])}, v[c]);
        s[idx[r]] = acc;
      }
    }
  }
}

// A fused block of K qubits (mask `qubits`): y = M x on each group of 2^K amplitudes, M [2^K, 2^K] row-major
// complex<double> in global memory, staged once per thread block in shared memory in precision R.
template <typename R, int K>
__global__ void ApplyDenseKernel(Cx<R>* s, int64_t count, uint64_t qubits, const double2* mat) {
  constexpr int D = 1 << K;
  __shared__ Cx<R> sm[D * D];
  __shared__ uint64_t off[D];
  for (int e = threadIdx.x; e < D * D; e += blockDim.x) sm[e] = Cx<R>{R(mat[e].x), R(mat[e].y)};
  for (int c = threadIdx.x; c < D; c += blockDim.x) off[c] = Deposit(static_cast<uint64_t>(c), qubits);
  __syncthreads();
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < count; g += int64_t{gridDim.x} * blockDim.x) {
    const uint64_t base = InsertZeros(static_cast<uint64_t>(g), qubits);
    Cx<R> v[D];
#pragma unroll
    for (int c = 0; c < D; ++c) v[c] = s[base | off[c]];
    // Rows one at a time: unrolling them too would let the compiler hoist the whole matrix out of the loop
    // into registers (2 D^2 of them) and spill.
#pragma unroll 1
    for (int r = 0; r < D; ++r) {
      Cx<R> acc{R(0), R(0)};
#pragma unroll
      for (int c = 0; c < D; ++c) acc = CMad(acc, sm[r * D + c], v[c]);
      s[base | off[r]] = acc;
    }
  }
}

template <typename R>
__global__ void FillBasisKernel(Cx<R>* s, int64_t size) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < size; i += int64_t{gridDim.x} * blockDim.x)
    s[i] = Cx<R>{R(i == 0 ? 1 : 0), R(0)};
}

// Functors for ReducePairs (cuda_common.cuh).
template <typename R>
struct NormTerm {
  const Cx<R>* s;
  __device__ double2 operator()(int64_t i) const {
    const Cx<R> a = s[i];
    return make_double2(double(a.re) * a.re + double(a.im) * a.im, 0.0);
  }
};
template <typename R>
struct MaskedNormTerm {  // |psi_i|^2 where bit `bit` of i is set
  const Cx<R>* s;
  uint64_t bit;
  __device__ double2 operator()(int64_t i) const {
    const Cx<R> a = s[i];
    return make_double2((static_cast<uint64_t>(i) & bit) ? double(a.re) * a.re + double(a.im) * a.im : 0.0, 0.0);
  }
};
template <typename R>
struct PauliTermFn {  // conj(psi[i ^ x]) (-1)^{|i & z|} psi[i]
  const Cx<R>* s;
  uint64_t x, z;
  __device__ double2 operator()(int64_t i) const {
    const Cx<R> a = s[static_cast<uint64_t>(i) ^ x], b = s[i];
    const double sign = (__popcll(static_cast<uint64_t>(i) & z) & 1) ? -1.0 : 1.0;
    return make_double2(sign * (double(a.re) * b.re + double(a.im) * b.im),
                        sign * (double(a.re) * b.im - double(a.im) * b.re));
  }
};
template <typename R>
struct InnerTerm {  // conj(a_i) b_i
  const Cx<R>* a;
  const Cx<R>* b;
  __device__ double2 operator()(int64_t i) const {
    const Cx<R> u = a[i], v = b[i];
    return make_double2(double(u.re) * v.re + double(u.im) * v.im, double(u.re) * v.im - double(u.im) * v.re);
  }
};

// Marginal probabilities, deterministic. The members of outcome `bin` are base(bin) | InsertZeros(r, qmask) for
// r in [0, members); base(bin) puts bit j of bin on qubits[j].
// Few members per bin: one thread sums a bin's members in order.
template <typename R>
__global__ void MarginalThreadKernel(const Cx<R>* s, uint64_t qmask, const int* qubits, int k, int64_t members,
                                     int64_t bins, double* probs) {
  for (int64_t bin = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; bin < bins;
       bin += int64_t{gridDim.x} * blockDim.x) {
    uint64_t base = 0;
    for (int j = 0; j < k; ++j) base |= ((static_cast<uint64_t>(bin) >> j) & 1) << qubits[j];
    double acc = 0;
    for (int64_t r = 0; r < members; ++r) {
      const Cx<R> a = s[base | InsertZeros(static_cast<uint64_t>(r), qmask)];
      acc += double(a.re) * a.re + double(a.im) * a.im;
    }
    probs[bin] = acc;
  }
}

// Many members per bin: block b sums chunk (b % chunks) of bin (b / chunks) with a fixed tree; partial [bins, chunks].
template <typename R>
__global__ void MarginalChunkKernel(const Cx<R>* s, uint64_t qmask, const int* qubits, int k, int64_t members,
                                    int64_t chunk, int64_t chunks, double* partial) {
  __shared__ double buf[kReduceThreads];
  const int64_t bin = blockIdx.x / chunks, c = blockIdx.x % chunks;
  uint64_t base = 0;
  for (int j = 0; j < k; ++j) base |= ((static_cast<uint64_t>(bin) >> j) & 1) << qubits[j];
  double acc = 0;
  const int64_t r1 = min(members, (c + 1) * chunk);
  for (int64_t r = c * chunk + threadIdx.x; r < r1; r += kReduceThreads) {
    const Cx<R> a = s[base | InsertZeros(static_cast<uint64_t>(r), qmask)];
    acc += double(a.re) * a.re + double(a.im) * a.im;
  }
  buf[threadIdx.x] = acc;
  __syncthreads();
  for (int w = kReduceThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) buf[threadIdx.x] += buf[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = buf[0];
}

// probs[bin] = sum over the chunks of partial[bin, :], in chunk order.
__global__ void SumChunksKernel(const double* partial, int64_t bins, int64_t chunks, double* probs) {
  for (int64_t b = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; b < bins; b += int64_t{gridDim.x} * blockDim.x) {
    double acc = 0;
    for (int64_t c = 0; c < chunks; ++c) acc += partial[b * chunks + c];
    probs[b] = acc;
  }
}

// Inclusive scan, deterministic: each block scans kScanTile consecutive values (each thread 8 in sequence, then a
// fixed Hillis-Steele over the thread sums) and writes its total; the totals are scanned the same way and added.
constexpr int kScanThreads = 128;
constexpr int kScanPer = 8;
constexpr int64_t kScanTile = kScanThreads * kScanPer;

__global__ void ScanTileKernel(double* v, int64_t count, double* totals) {
  __shared__ double sums[kScanThreads];
  const int64_t start = blockIdx.x * kScanTile + threadIdx.x * int64_t{kScanPer};
  double run = 0;
  double local[kScanPer];
#pragma unroll
  for (int j = 0; j < kScanPer; ++j) {
    run += (start + j < count) ? v[start + j] : 0.0;
    local[j] = run;
  }
  sums[threadIdx.x] = run;
  __syncthreads();
  for (int w = 1; w < kScanThreads; w <<= 1) {
    const double add = threadIdx.x >= w ? sums[threadIdx.x - w] : 0.0;
    __syncthreads();
    sums[threadIdx.x] += add;
    __syncthreads();
  }
  const double before = threadIdx.x > 0 ? sums[threadIdx.x - 1] : 0.0;
#pragma unroll
  for (int j = 0; j < kScanPer; ++j)
    if (start + j < count) v[start + j] = before + local[j];
  if (threadIdx.x == kScanThreads - 1 && totals != nullptr) totals[blockIdx.x] = sums[kScanThreads - 1];
}

__global__ void AddTileOffsetsKernel(double* v, int64_t count, const double* scanned_totals) {
  const int64_t tile = blockIdx.x + 1;  // tile 0 needs nothing
  const double add = scanned_totals[tile - 1];
  for (int64_t i = tile * kScanTile + threadIdx.x; i < min(count, (tile + 1) * kScanTile); i += blockDim.x) v[i] += add;
}

// Shot j: u = UniformDouble(seed, 0, j) * total, outcome = first bin whose cumulative sum exceeds u (the CPU
// path's std::upper_bound); u rounded up to the total takes the last bin with mass.
__global__ void SampleKernel(const double* cdf, const double* probs, int64_t bins, int64_t shots, uint64_t seed,
                             int64_t* out) {
  const double total = cdf[bins - 1];
  for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < shots; j += int64_t{gridDim.x} * blockDim.x) {
    const double u = UniformDouble(seed, 0, static_cast<uint64_t>(j)) * total;
    int64_t lo = 0, hi = bins;  // first index with cdf > u
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (cdf[mid] > u)
        hi = mid;
      else
        lo = mid + 1;
    }
    if (lo == bins) {
      lo = bins - 1;
      while (lo > 0 && probs[lo] == 0.0) --lo;
    }
    out[j] = lo;
  }
}

// Collapse after measuring `bit` with `outcome`: keep the matching half scaled by `scale`, zero the other.
template <typename R>
__global__ void CollapseKernel(Cx<R>* s, int64_t size, uint64_t bit, int outcome, R scale) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < size; i += int64_t{gridDim.x} * blockDim.x) {
    const bool one = (static_cast<uint64_t>(i) & bit) != 0;
    s[i] = one == (outcome == 1) ? Cx<R>{s[i].re * scale, s[i].im * scale} : Cx<R>{R(0), R(0)};
  }
}

}  // namespace nextrl::cuda
