// Float32 dense layers of the learned rollout models (learned_model.h): y = act(x W^T + b) for a block of rows.
// Compiled twice in mlp_kernels.cpp, for AVX2 + FMA and for the baseline (SSE2 on x86-64), and picked at run time
// from the CPU (as the quantum kernels are, quantum/plan.cpp), or forced to the baseline for tests and benchmarks.
#pragma once
#include <cstdint>

namespace nextrl::planning {

enum class Activation : int { kIdentity = 0, kRelu = 1, kSilu = 2, kTanh = 3 };

// Rows and output columns are processed in tiles of kRowTile x kColTile: callers pad the row count to a multiple of
// kRowTile (extra rows are computed and ignored) and store weights with out_pad = a multiple of kColTile columns.
inline constexpr int64_t kRowTile = 4, kColTile = 16;
inline int64_t PadCols(int64_t n) { return (n + kColTile - 1) / kColTile * kColTile; }
inline int64_t PadRows(int64_t n) { return (n + kRowTile - 1) / kRowTile * kRowTile; }

// y[r, j] = act(bias[j] + sum_k x[r * x_stride + k] * wt[k * out_pad + j]) for r < rows (a multiple of kRowTile),
// j < out_pad (a multiple of kColTile); y has row stride out_pad. wt is W transposed ([in, out_pad], zero-padded).
// The sum runs over k in order (one FMA per term with AVX2, a multiply and an add on the baseline).
void DenseForward(const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt, const float* bias,
                  int64_t out_pad, Activation act, float* y, bool generic);

// v[i] <- exp(lv / 2), lv the raw log-variance v[i] soft-bounded by hi[i] / lo[i] (learned_model.h), for i < n (a
// multiple of 8; v, hi, lo hold n floats). softplus and exp as the dense kernel's (a few ulp).
void GaussianStd(float* v, int64_t n, const float* hi, const float* lo, bool generic);

// "avx2" when DenseForward(generic = false) runs the AVX2 + FMA code on this CPU, else "generic".
const char* DenseIsa();

}  // namespace nextrl::planning
