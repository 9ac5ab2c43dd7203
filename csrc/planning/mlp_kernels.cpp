// The dense-layer kernel of mlp_kernels.h: a register tile of 4 rows x 16 columns (8 accumulators of 8 floats),
// one broadcast of x and two loads of W per step of the sum, the activation applied to the tile before it is
// stored. The same body is compiled for AVX2 + FMA (target attribute) and for the baseline; GCC / Clang vector
// extensions give 8-float registers (one ymm with AVX2, two xmm on the baseline).
//
// exp for SiLU and tanh: Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial, scaling by 2^n
// through the exponent bits), relative error about 1 ulp over [-87, 88]; arguments are clamped to that range.
#include "planning/mlp_kernels.h"

#include <cstring>

namespace nextrl::planning {
namespace {

#define NEXTRL_INLINE inline __attribute__((always_inline))

namespace generic {
#include "planning/mlp_kernels_body.inc"
}  // namespace generic

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NEXTRL_MLP_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#include "planning/mlp_kernels_body.inc"
}  // namespace avx2
#pragma GCC pop_options
#endif

void DenseGeneric(const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt, const float* bias,
                  int64_t out_pad, Activation act, float* y) {
  generic::DenseBody(x, rows, in, x_stride, wt, bias, out_pad, act, y);
}

#ifdef NEXTRL_MLP_AVX2
__attribute__((target("avx2,fma"))) void DenseAvx2(const float* x, int64_t rows, int64_t in, int64_t x_stride,
                                                   const float* wt, const float* bias, int64_t out_pad, Activation act,
                                                   float* y) {
  avx2::DenseBody(x, rows, in, x_stride, wt, bias, out_pad, act, y);
}

__attribute__((target("avx2,fma"))) void GaussianStdAvx2(float* v, int64_t n, const float* hi, const float* lo) {
  avx2::GaussianStdBody(v, n, hi, lo);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

}  // namespace

void DenseForward(const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt, const float* bias,
                  int64_t out_pad, Activation act, float* y, bool generic) {
#ifdef NEXTRL_MLP_AVX2
  if (!generic && HasAvx2()) return DenseAvx2(x, rows, in, x_stride, wt, bias, out_pad, act, y);
#endif
  DenseGeneric(x, rows, in, x_stride, wt, bias, out_pad, act, y);
}

void GaussianStd(float* v, int64_t n, const float* hi, const float* lo, bool generic) {
#ifdef NEXTRL_MLP_AVX2
  if (!generic && HasAvx2()) return GaussianStdAvx2(v, n, hi, lo);
#endif
  generic::GaussianStdBody(v, n, hi, lo);
}

const char* DenseIsa() {
#ifdef NEXTRL_MLP_AVX2
  if (HasAvx2()) return "avx2";
#endif
  return "generic";
}

}  // namespace nextrl::planning
