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

typedef float V8f __attribute__((vector_size(32)));
typedef int32_t V8i __attribute__((vector_size(32)));
typedef float V8fU __attribute__((vector_size(32), aligned(4), may_alias));

#define NEXTRL_INLINE inline __attribute__((always_inline))

NEXTRL_INLINE V8f Splat(float v) { return V8f{v, v, v, v, v, v, v, v}; }
NEXTRL_INLINE V8f Load(const float* p) { return *reinterpret_cast<const V8fU*>(p); }
NEXTRL_INLINE void Store(float* p, V8f v) { *reinterpret_cast<V8fU*>(p) = v; }
NEXTRL_INLINE V8f Max(V8f a, V8f b) { return a > b ? a : b; }
NEXTRL_INLINE V8f Min(V8f a, V8f b) { return a < b ? a : b; }

NEXTRL_INLINE V8f Exp(V8f x) {
  x = Min(Max(x, Splat(-87.3f)), Splat(88.3f));
  const V8f magic = Splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const V8f t = x * Splat(1.44269504088896341f) + magic;
  const V8f n = t - magic;
  V8i ti, mi;
  std::memcpy(&ti, &t, sizeof t);
  std::memcpy(&mi, &magic, sizeof magic);
  const V8i e = ((ti - mi) + 127) << 23;
  V8f scale;
  std::memcpy(&scale, &e, sizeof e);
  const V8f r = x - n * Splat(0.693359375f) - n * Splat(-2.12194440e-4f);
  V8f p = Splat(1.9875691500e-4f);
  p = p * r + Splat(1.3981999507e-3f);
  p = p * r + Splat(8.3334519073e-3f);
  p = p * r + Splat(4.1665795894e-2f);
  p = p * r + Splat(1.6666665459e-1f);
  p = p * r + Splat(5.0000001201e-1f);
  const V8f y = p * (r * r) + r + Splat(1.0f);
  return y * scale;
}

NEXTRL_INLINE V8f Activate(V8f v, Activation act) {
  switch (act) {
    case Activation::kRelu:
      return Max(v, Splat(0.0f));
    case Activation::kSilu:
      return v / (Splat(1.0f) + Exp(-v));
    case Activation::kTanh:
      return Splat(1.0f) - Splat(2.0f) / (Exp(v + v) + Splat(1.0f));
    default:
      return v;
  }
}

NEXTRL_INLINE void DenseBody(const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt,
                             const float* bias, int64_t out_pad, Activation act, float* y) {
  for (int64_t r = 0; r < rows; r += kRowTile) {
    const float* x0 = x + r * x_stride;
    const float* x1 = x0 + x_stride;
    const float* x2 = x1 + x_stride;
    const float* x3 = x2 + x_stride;
    for (int64_t j = 0; j < out_pad; j += kColTile) {
      const V8f b0 = Load(bias + j), b1 = Load(bias + j + 8);
      V8f a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      const float* w = wt + j;
      for (int64_t k = 0; k < in; ++k, w += out_pad) {
        const V8f w0 = Load(w), w1 = Load(w + 8);
        const V8f v0 = Splat(x0[k]), v1 = Splat(x1[k]), v2 = Splat(x2[k]), v3 = Splat(x3[k]);
        a00 += v0 * w0, a01 += v0 * w1;
        a10 += v1 * w0, a11 += v1 * w1;
        a20 += v2 * w0, a21 += v2 * w1;
        a30 += v3 * w0, a31 += v3 * w1;
      }
      float* o = y + r * out_pad + j;
      Store(o, Activate(a00, act)), Store(o + 8, Activate(a01, act));
      o += out_pad;
      Store(o, Activate(a10, act)), Store(o + 8, Activate(a11, act));
      o += out_pad;
      Store(o, Activate(a20, act)), Store(o + 8, Activate(a21, act));
      o += out_pad;
      Store(o, Activate(a30, act)), Store(o + 8, Activate(a31, act));
    }
  }
}

void DenseGeneric(const float* x, int64_t rows, int64_t in, int64_t x_stride, const float* wt, const float* bias,
                  int64_t out_pad, Activation act, float* y) {
  DenseBody(x, rows, in, x_stride, wt, bias, out_pad, act, y);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NEXTRL_MLP_AVX2 1
__attribute__((target("avx2,fma"))) void DenseAvx2(const float* x, int64_t rows, int64_t in, int64_t x_stride,
                                                   const float* wt, const float* bias, int64_t out_pad, Activation act,
                                                   float* y) {
  DenseBody(x, rows, in, x_stride, wt, bias, out_pad, act, y);
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

const char* DenseIsa() {
#ifdef NEXTRL_MLP_AVX2
  if (HasAvx2()) return "avx2";
#endif
  return "generic";
}

}  // namespace nextrl::planning
