// Block kernels of the statevector simulator: gather a block of amplitudes into a
// cache-resident buffer, run the block's gate program on it, scatter it back.
// One templated body, compiled once per instruction set (kernels_<isa>.cpp defines
// NEXTRL_ISA_NS and includes this file); the dispatcher in plan.cpp picks one at run time.
//
// Argument order of every kernel: state/buffers, sizes, op, operands.
// Preconditions (checked when the plan is compiled, not here): targets and controls are
// distinct local bits < m; arena entries exist for every op.
//
// Cost model: one block costs one read and one write of the state (bandwidth-bound above
// about 20 qubits) plus, per amplitude, about 8 flops per 1-qubit dense gate, 2^k complex
// multiply-adds per k-qubit dense gate, and one complex multiply per diagonal entry.
#ifndef NEXTRL_ISA_NS
#error "define NEXTRL_ISA_NS before including quantum/statevector.h"
#endif
#include <cstdint>
#include <type_traits>

#include "common/parallel.h"
#include "quantum/local_program.h"

namespace nextrl::quantum::NEXTRL_ISA_NS {

// Inserts a zero bit at each position of `pos` (ascending) into x.
static inline int64_t InsertZeros(int64_t x, const int* pos, int count) {
  for (int i = 0; i < count; ++i) {
    const int p = pos[i];
    x = ((x >> p) << (p + 1)) | (x & ((int64_t{1} << p) - 1));
  }
  return x;
}

// The runs of an op: fixed bits F = targets + controls; every run is a contiguous
// range of (1 << min F) * V elements whose F bits equal (cval, targets 0).
struct Runs {
  int fixed[2 * kMaxLocalTargets + 1];
  int num_fixed;
  int64_t count;   // number of runs
  int64_t length;  // elements per run
};

static inline Runs MakeRuns(const LocalOp& op, int m, int64_t V) {
  Runs r{};
  uint32_t fmask = op.cmask;
  for (int i = 0; i < op.k; ++i) fmask |= 1u << op.targets[i];
  for (int b = 0; b < m; ++b)
    if (fmask >> b & 1u) r.fixed[r.num_fixed++] = b;
  // With no fixed bit (a global phase) the single run is the whole buffer.
  const int min_f = r.num_fixed ? r.fixed[0] : m;
  r.count = r.num_fixed ? int64_t{1} << (m - min_f - r.num_fixed) : 1;
  r.length = (int64_t{1} << min_f) * V;
  return r;
}

static inline int64_t RunStart(const Runs& r, const LocalOp& op, int64_t i, int64_t V) {
  const int min_f = r.num_fixed ? r.fixed[0] : 0;
  const int64_t j = InsertZeros(i << min_f, r.fixed, r.num_fixed) | op.cval;
  return j * V;
}

template <typename Real>
static void ApplyDense1(const LocalOp& op, Real* re, Real* im, int m, int64_t V, const Real* arena) {
  const Real* a = arena + 2 * op.mat;
  const Real m00r = a[0], m00i = a[1], m01r = a[2], m01i = a[3];
  const Real m10r = a[4], m10i = a[5], m11r = a[6], m11i = a[7];
  const Runs r = MakeRuns(op, m, V);
  const int64_t step = (int64_t{1} << op.targets[0]) * V;
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    Real* __restrict r0 = re + s;
    Real* __restrict i0 = im + s;
    Real* __restrict r1 = re + s + step;
    Real* __restrict i1 = im + s + step;
#pragma GCC ivdep
    for (int64_t e = 0; e < r.length; ++e) {
      const Real ar = r0[e], ai = i0[e], br = r1[e], bi = i1[e];
      r0[e] = m00r * ar - m00i * ai + m01r * br - m01i * bi;
      i0[e] = m00r * ai + m00i * ar + m01r * bi + m01i * br;
      r1[e] = m10r * ar - m10i * ai + m11r * br - m11i * bi;
      i1[e] = m10r * ai + m10i * ar + m11r * bi + m11i * br;
    }
  }
}

// Dense 2-qubit gate: four rows per element, written out so the loop vectorizes.
template <typename Real>
static void ApplyDense2(const LocalOp& op, Real* re, Real* im, int m, int64_t V, const Real* arena) {
  Real mr[16], mi[16];
  for (int i = 0; i < 16; ++i) {
    mr[i] = arena[2 * (op.mat + i)];
    mi[i] = arena[2 * (op.mat + i) + 1];
  }
  const int64_t o1 = (int64_t{1} << op.targets[0]) * V, o2 = (int64_t{1} << op.targets[1]) * V;
  const Runs r = MakeRuns(op, m, V);
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    Real* __restrict r0 = re + s;
    Real* __restrict i0 = im + s;
    Real* __restrict r1 = re + s + o1;
    Real* __restrict i1 = im + s + o1;
    Real* __restrict r2 = re + s + o2;
    Real* __restrict i2 = im + s + o2;
    Real* __restrict r3 = re + s + o1 + o2;
    Real* __restrict i3 = im + s + o1 + o2;
#pragma GCC ivdep
    for (int64_t e = 0; e < r.length; ++e) {
      const Real xr[4] = {r0[e], r1[e], r2[e], r3[e]}, xi[4] = {i0[e], i1[e], i2[e], i3[e]};
      Real yr[4], yi[4];
      for (int row = 0; row < 4; ++row) {
        yr[row] = mr[4 * row] * xr[0] - mi[4 * row] * xi[0] + mr[4 * row + 1] * xr[1] - mi[4 * row + 1] * xi[1] +
                  mr[4 * row + 2] * xr[2] - mi[4 * row + 2] * xi[2] + mr[4 * row + 3] * xr[3] - mi[4 * row + 3] * xi[3];
        yi[row] = mr[4 * row] * xi[0] + mi[4 * row] * xr[0] + mr[4 * row + 1] * xi[1] + mi[4 * row + 1] * xr[1] +
                  mr[4 * row + 2] * xi[2] + mi[4 * row + 2] * xr[2] + mr[4 * row + 3] * xi[3] + mi[4 * row + 3] * xr[3];
      }
      r0[e] = yr[0];
      i0[e] = yi[0];
      r1[e] = yr[1];
      i1[e] = yi[1];
      r2[e] = yr[2];
      i2[e] = yi[2];
      r3[e] = yr[3];
      i3[e] = yi[3];
    }
  }
}

// 1-qubit monomial gate (X, Y with controls: CX, CCX, CY): new0 = p0 * old1, new1 = p1 * old0.
template <typename Real>
static void ApplySwap1(const LocalOp& op, Real* re, Real* im, int m, int64_t V, const Real* arena) {
  const Real* a = arena + 2 * op.mat;
  const Real p0r = a[0], p0i = a[1], p1r = a[2], p1i = a[3];
  const bool unit = p0r == Real(1) && p0i == Real(0) && p1r == Real(1) && p1i == Real(0);
  const int64_t step = (int64_t{1} << op.targets[0]) * V;
  const Runs r = MakeRuns(op, m, V);
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    Real* __restrict r0 = re + s;
    Real* __restrict i0 = im + s;
    Real* __restrict r1 = re + s + step;
    Real* __restrict i1 = im + s + step;
    if (unit) {
#pragma GCC ivdep
      for (int64_t e = 0; e < r.length; ++e) {
        const Real ar = r0[e], ai = i0[e];
        r0[e] = r1[e];
        i0[e] = i1[e];
        r1[e] = ar;
        i1[e] = ai;
      }
    } else {
#pragma GCC ivdep
      for (int64_t e = 0; e < r.length; ++e) {
        const Real ar = r0[e], ai = i0[e], br = r1[e], bi = i1[e];
        r0[e] = p0r * br - p0i * bi;
        i0[e] = p0r * bi + p0i * br;
        r1[e] = p1r * ar - p1i * ai;
        i1[e] = p1r * ai + p1i * ar;
      }
    }
  }
}

// Elements per tile: inner loops of fixed length W vectorize on every ISA.
constexpr int64_t kTile = 8;

// Offsets (in elements) of the 2^k target combinations of an op.
static inline void TargetOffsets(const LocalOp& op, int k, int64_t V, int64_t* toff) {
  for (int c = 0; c < (1 << k); ++c) {
    int64_t bits = 0;
    for (int t = 0; t < k; ++t)
      if (c >> t & 1) bits |= int64_t{1} << op.targets[t];
    toff[c] = bits * V;
  }
}

// Dense k-qubit gate; K = k when known at compile time, 0 for the generic path (k <= 10).
// Each run is processed in tiles of W elements: load 2^k rows of the tile, multiply by
// the matrix, store; W = 1 finishes the remainder of short runs.
template <int K, typename Real>
static void ApplyDenseK(const LocalOp& op, Real* re, Real* im, int m, int64_t V, const Real* arena) {
  const int k = K ? K : op.k;
  const int d = 1 << k;
  constexpr int kRows = K ? (1 << K) : (1 << kMaxDenseTargets);
  constexpr int64_t W = K ? kTile : 4;
  const Real* a = arena + 2 * op.mat;
  int64_t toff[kRows];
  TargetOffsets(op, k, V, toff);
  const Runs r = MakeRuns(op, m, V);
  Real xr[kRows][W], xi[kRows][W];
  auto tile = [&](Real* pr, Real* pi, auto width) {
    constexpr int64_t w_len = decltype(width)::value;
    for (int c = 0; c < d; ++c)
      for (int64_t w = 0; w < w_len; ++w) {
        xr[c][w] = pr[toff[c] + w];
        xi[c][w] = pi[toff[c] + w];
      }
    for (int row = 0; row < d; ++row) {
      Real yr[w_len] = {}, yi[w_len] = {};
      const Real* mrow = a + 2 * row * d;
      for (int c = 0; c < d; ++c) {
        const Real mr = mrow[2 * c], mi = mrow[2 * c + 1];
        for (int64_t w = 0; w < w_len; ++w) {
          yr[w] += mr * xr[c][w] - mi * xi[c][w];
          yi[w] += mr * xi[c][w] + mi * xr[c][w];
        }
      }
      for (int64_t w = 0; w < w_len; ++w) {
        pr[toff[row] + w] = yr[w];
        pi[toff[row] + w] = yi[w];
      }
    }
  };
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    int64_t e = 0;
    for (; e + W <= r.length; e += W) tile(re + s + e, im + s + e, std::integral_constant<int64_t, W>{});
    for (; e < r.length; ++e) tile(re + s + e, im + s + e, std::integral_constant<int64_t, 1>{});
  }
}

template <typename Real>
static void ApplyDiagonal(const LocalOp& op, Real* re, Real* im, int m, int64_t V, const Real* arena) {
  const Real* a = arena + 2 * op.mat;
  const Runs r = MakeRuns(op, m, V);
  const int d = 1 << op.k;
  for (int c = 0; c < d; ++c) {
    const Real dr = a[2 * c], di = a[2 * c + 1];
    if (dr == Real(1) && di == Real(0)) continue;
    int64_t bits = 0;
    for (int t = 0; t < op.k; ++t)
      if (c >> t & 1) bits |= int64_t{1} << op.targets[t];
    const int64_t off = bits * V;
    for (int64_t i = 0; i < r.count; ++i) {
      const int64_t s = RunStart(r, op, i, V) + off;
      Real* __restrict pr = re + s;
      Real* __restrict pi = im + s;
#pragma GCC ivdep
      for (int64_t e = 0; e < r.length; ++e) {
        const Real xr = pr[e], xi = pi[e];
        pr[e] = dr * xr - di * xi;
        pi[e] = dr * xi + di * xr;
      }
    }
  }
}

// Monomial gate on K <= 2 targets: new[row] = phase[row] * old[perm[row]], in tiles.
// Unit phases (X, CX, SWAP, CCX, CSWAP) make it a pure permutation of rows.
template <int K, typename Real>
static void ApplyMonomial(const LocalOp& op, Real* re, Real* im, int m, int64_t V, const Real* arena) {
  constexpr int D = 1 << K;
  const Real* a = arena + 2 * op.mat;
  Real pr[D], pi[D];
  int64_t toff[D], src[D];
  TargetOffsets(op, K, V, toff);
  bool unit = true;
  for (int c = 0; c < D; ++c) {
    pr[c] = a[2 * c];
    pi[c] = a[2 * c + 1];
    unit &= pr[c] == Real(1) && pi[c] == Real(0);
    src[c] = toff[op.perm[c]];
  }
  const Runs r = MakeRuns(op, m, V);
  Real xr[D][kTile], xi[D][kTile];
  auto tile = [&](Real* br, Real* bi, auto width) {
    constexpr int64_t w_len = decltype(width)::value;
    for (int c = 0; c < D; ++c)
      for (int64_t w = 0; w < w_len; ++w) {
        xr[c][w] = br[src[c] + w];
        xi[c][w] = bi[src[c] + w];
      }
    for (int c = 0; c < D; ++c) {
      if (unit) {
        for (int64_t w = 0; w < w_len; ++w) {
          br[toff[c] + w] = xr[c][w];
          bi[toff[c] + w] = xi[c][w];
        }
      } else {
        for (int64_t w = 0; w < w_len; ++w) {
          br[toff[c] + w] = pr[c] * xr[c][w] - pi[c] * xi[c][w];
          bi[toff[c] + w] = pr[c] * xi[c][w] + pi[c] * xr[c][w];
        }
      }
    }
  };
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    int64_t e = 0;
    for (; e + kTile <= r.length; e += kTile) tile(re + s + e, im + s + e, std::integral_constant<int64_t, kTile>{});
    for (; e < r.length; ++e) tile(re + s + e, im + s + e, std::integral_constant<int64_t, 1>{});
  }
}

template <typename Real>
static void ApplyLocalOp(const LocalOp& op, Real* re, Real* im, int m, int64_t V, const Real* arena) {
  if (op.cls == kLocalDiagonal) return ApplyDiagonal(op, re, im, m, V, arena);
  if (op.cls == kLocalMonomial) {
    if (op.k == 1) return ApplySwap1(op, re, im, m, V, arena);
    return ApplyMonomial<2>(op, re, im, m, V, arena);
  }
  switch (op.k) {
    case 1:
      return ApplyDense1(op, re, im, m, V, arena);
    case 2:
      return ApplyDense2(op, re, im, m, V, arena);
    case 3:
      return ApplyDenseK<3>(op, re, im, m, V, arena);
    default:
      return ApplyDenseK<0>(op, re, im, m, V, arena);
  }
}

// Runs one block on an interleaved complex state of 2^(m + v + num_outer) amplitudes.
//   state:   [2 * 2^n] Real, (re, im) pairs, modified in place.
//   scratch: [max_threads * 2 * 2^(m+v)] Real, one local buffer per thread.
template <typename Real>
void RunBlock(Real* state, const BlockGeometry& g, const LocalOp* ops, int num_ops, const Real* arena, Real* scratch,
              bool parallel) {
  const int64_t V = int64_t{1} << g.v;
  const int64_t J = int64_t{1} << g.m;
  const int64_t N = J * V;
  const int64_t iters = int64_t{1} << g.num_outer;
  // One local buffer per thread: the slice of scratch at its thread id.
  auto local = [&] { return scratch + 2 * N * ThreadId(); };
  ParallelForLocal(iters, parallel, local, [&](Real* re, int64_t o) {
    Real* im = re + N;
    int64_t base = 0;
    for (int b = 0; b < g.num_outer; ++b) base |= ((o >> b) & 1) << g.outer_pos[b];
    for (int64_t j = 0; j < J; ++j) {
      const Real* src = state + 2 * (base + g.off_local[j]);
      Real* __restrict dr = re + j * V;
      Real* __restrict di = im + j * V;
      if (g.lanes_contiguous) {
        for (int64_t l = 0; l < V; ++l) {
          dr[l] = src[2 * l];
          di[l] = src[2 * l + 1];
        }
      } else {
        for (int64_t l = 0; l < V; ++l) {
          dr[l] = src[2 * g.off_lane[l]];
          di[l] = src[2 * g.off_lane[l] + 1];
        }
      }
    }
    for (int q = 0; q < num_ops; ++q) ApplyLocalOp(ops[q], re, im, g.m, V, arena);
    for (int64_t j = 0; j < J; ++j) {
      Real* dst = state + 2 * (base + g.off_local[j]);
      const Real* __restrict sr = re + j * V;
      const Real* __restrict si = im + j * V;
      if (g.lanes_contiguous) {
        for (int64_t l = 0; l < V; ++l) {
          dst[2 * l] = sr[l];
          dst[2 * l + 1] = si[l];
        }
      } else {
        for (int64_t l = 0; l < V; ++l) {
          dst[2 * g.off_lane[l]] = sr[l];
          dst[2 * g.off_lane[l] + 1] = si[l];
        }
      }
    }
  });
}

template void RunBlock<float>(float*, const BlockGeometry&, const LocalOp*, int, const float*, float*, bool);
template void RunBlock<double>(double*, const BlockGeometry&, const LocalOp*, int, const double*, double*, bool);

}  // namespace nextrl::quantum::NEXTRL_ISA_NS
