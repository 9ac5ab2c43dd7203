// Float32 dense layers of the learned rollout models (learned_model.h): y = act(x W^T + b) for a block of rows.
// Compiled three times in mlp_kernels.cpp, for AVX-512 (the dense layer only: a wider register tile), AVX2 + FMA and
// the baseline (SSE2 on x86-64), and picked at run time from the CPU (as the quantum kernels are, quantum/plan.cpp),
// or forced to the baseline for tests and benchmarks. AVX-512 and AVX2 give the same bits.
#pragma once
#include <cstdint>

namespace nextrl::planning {

enum class Activation : int { kIdentity = 0, kRelu = 1, kSilu = 2, kTanh = 3 };

// Rows and output columns are processed in tiles of kRowTile x kColTile: callers pad the row count to a multiple of
// kRowTile (extra rows are computed and ignored) and store weights with out_pad = a multiple of kColTile columns.
inline constexpr int64_t kRowTile = 8, kColTile = 16;
inline int64_t PadCols(int64_t n) { return (n + kColTile - 1) / kColTile * kColTile; }
inline int64_t PadRows(int64_t n) { return (n + kRowTile - 1) / kRowTile * kRowTile; }

// y[r, j] = act(bias[j] + sum_k x[r * x_stride + k] * wt[k * out_pad + j]) for r < rows (a multiple of kRowTile),
// j < out_pad (a multiple of kColTile); y has row stride out_pad. wt is W transposed ([in, out_pad], zero-padded).
// The sum runs over k in order (one FMA per term with AVX-512 / AVX2, a multiply and an add on the baseline).
void DenseForward(const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt, const float* bias,
                  int64_t out_pad, Activation act, float* y, bool generic);

// v[i] <- exp(lv / 2), lv the raw log-variance v[i] soft-bounded by hi[i] / lo[i] (learned_model.h), for i < n (a
// multiple of 8; v, hi, lo hold n floats). softplus and exp as the dense kernel's (a few ulp).
void GaussianStd(float* v, int64_t n, const float* hi, const float* lo, bool generic);

// The LayerNorm of latent_model.h's stacks, in place, then an activation: for each row r < rows of y (row stride
// `stride`), v = y[r, 0:n], y[r, j] = act((v_j - mean v) / sqrt(var v + eps) gamma_j + beta_j) (population
// variance, two passes, float32), for j < PadCols(n) <= stride: gamma and beta hold PadCols(n) floats, zero past n,
// so the padded columns become act(0) = 0.
void LayerNormAct(float* y, int64_t rows, int64_t n, int64_t stride, const float* gamma, const float* beta, float eps,
                  Activation act, bool generic);

// torch.nn.GRUCell's update from the gate pre-activations gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh ([rows, 3D],
// row stride g_stride, gates r, z, n): h[r, j] <- (h - n) u + n with r = sigmoid(gi_r + gh_r), u = sigmoid(gi_z +
// gh_z), n = tanh(gi_n + r gh_n), for j < D (h has row stride h_stride).
void GruUpdate(const float* gi, const float* gh, int64_t rows, int64_t D, int64_t g_stride, float* h, int64_t h_stride,
               bool generic);

// DenseForward through the kernel of one instruction set ("avx512", "avx2" or "generic"), for tests; false (and y
// untouched) when this CPU or build lacks it.
bool DenseForwardIsa(const char* isa, const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt,
                     const float* bias, int64_t out_pad, Activation act, float* y);

// "avx512" or "avx2" when DenseForward(generic = false) runs that code on this CPU, else "generic".
const char* DenseIsa();

}  // namespace nextrl::planning
