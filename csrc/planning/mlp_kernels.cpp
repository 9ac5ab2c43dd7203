// The AVX2 / baseline dense-layer kernel of mlp_kernels.h (the AVX-512 one: DenseBodyWide in the body file): a
// register tile of 4 rows x 16 columns (8 accumulators of 8 floats),
// one broadcast of x and two loads of W per step of the sum, the activation applied to the tile before it is
// stored. The same body is compiled for AVX2 + FMA (target attribute) and for the baseline; GCC / Clang vector
// extensions give 8-float registers (one ymm with AVX2, two xmm on the baseline).
//
// exp for SiLU and tanh: Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial, scaling by 2^n
// through the exponent bits), relative error about 1 ulp over [-87, 88]; arguments are clamped to that range.
#include "planning/mlp_kernels.h"

#include <cmath>
#include <cstring>
#include <string>

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

#define NEXTRL_MLP_AVX512 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#define NEXTRL_MLP_WIDE 1
namespace avx512 {
#include "planning/mlp_kernels_body.inc"
}  // namespace avx512
#undef NEXTRL_MLP_WIDE
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

__attribute__((target("avx2,fma"))) void LayerNormActAvx2(float* y, int64_t rows, int64_t n, int64_t stride,
                                                          const float* gamma, const float* beta, float eps,
                                                          Activation act) {
  avx2::LayerNormActBody(y, rows, n, stride, gamma, beta, eps, act);
}

__attribute__((target("avx2,fma"))) void GruUpdateAvx2(const float* gi, const float* gh, int64_t rows, int64_t D,
                                                       int64_t g_stride, float* h, int64_t h_stride) {
  avx2::GruUpdateBody(gi, gh, rows, D, g_stride, h, h_stride);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

__attribute__((target("avx512f,avx512vl,avx2,fma"))) void DenseAvx512(const float* x, int64_t rows, int64_t in,
                                                                      int64_t x_stride, const float* wt,
                                                                      const float* bias, int64_t out_pad,
                                                                      Activation act, float* y) {
  avx512::DenseBodyWide(x, rows, in, x_stride, wt, bias, out_pad, act, y);
}

bool HasAvx512() {
  static const bool has = HasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  return has;
}
#endif

}  // namespace

void DenseForward(const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt, const float* bias,
                  int64_t out_pad, Activation act, float* y, bool generic) {
#ifdef NEXTRL_MLP_AVX2
  if (!generic && HasAvx512()) return DenseAvx512(x, rows, in, x_stride, wt, bias, out_pad, act, y);
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

void LayerNormAct(float* y, int64_t rows, int64_t n, int64_t stride, const float* gamma, const float* beta, float eps,
                  Activation act, bool generic) {
#ifdef NEXTRL_MLP_AVX2
  if (!generic && HasAvx2()) return LayerNormActAvx2(y, rows, n, stride, gamma, beta, eps, act);
#endif
  generic::LayerNormActBody(y, rows, n, stride, gamma, beta, eps, act);
}

void GruUpdate(const float* gi, const float* gh, int64_t rows, int64_t D, int64_t g_stride, float* h, int64_t h_stride,
               bool generic) {
#ifdef NEXTRL_MLP_AVX2
  if (!generic && HasAvx2()) return GruUpdateAvx2(gi, gh, rows, D, g_stride, h, h_stride);
#endif
  generic::GruUpdateBody(gi, gh, rows, D, g_stride, h, h_stride);
}

bool DenseForwardIsa(const char* isa, const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt,
                     const float* bias, int64_t out_pad, Activation act, float* y) {
  const std::string name(isa);
#ifdef NEXTRL_MLP_AVX2
  if (name == "avx512" && HasAvx512()) return DenseAvx512(x, rows, in, x_stride, wt, bias, out_pad, act, y), true;
  if (name == "avx2" && HasAvx2()) return DenseAvx2(x, rows, in, x_stride, wt, bias, out_pad, act, y), true;
#endif
  if (name == "generic") return DenseGeneric(x, rows, in, x_stride, wt, bias, out_pad, act, y), true;
  return false;
}

const char* DenseIsa() {
#ifdef NEXTRL_MLP_AVX2
  if (HasAvx512()) return "avx512";
  if (HasAvx2()) return "avx2";
#endif
  return "generic";
}

}  // namespace nextrl::planning
