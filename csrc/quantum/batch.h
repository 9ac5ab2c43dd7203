// Batched kernels: a tile of V samples ("lanes") of one small circuit, each with its
// own gate angles. State tile layout: re[j * V + l], im[j * V + l] for basis index
// j in [0, 2^n) and lane l in [0, V): every loop runs over lanes innermost, so SIMD
// goes across the batch whatever qubit a gate acts on.
//
// Per-lane matrices: entry c of an op lives at arena + op.mat + 2 * c * V (real parts of
// the V lanes) and arena + op.mat + (2 * c + 1) * V (imaginary parts); `mat` counts Reals.
// Included by kernels_<isa>.cpp after quantum/statevector.h (uses its Runs helpers).
// Preconditions (checked by BatchPlan): k <= 2 targets, distinct bits < n.
#ifndef NEXTRL_ISA_NS
#error "define NEXTRL_ISA_NS before including quantum/batch.h"
#endif

namespace nextrl::quantum::NEXTRL_ISA_NS {

// Dense 1-qubit gate with per-lane matrices, written out so the lane loop vectorizes.
template <int VL, typename Real>
static void LaneDense1(const LocalOp& op, Real* re, Real* im, int n, int64_t v_runtime, const Real* a, bool adjoint) {
  const int64_t V = VL ? VL : v_runtime;
  // M^dagger = [[conj m00, conj m10], [conj m01, conj m11]]
  const int e01 = adjoint ? 2 : 1, e10 = adjoint ? 1 : 2;
  const Real sign = adjoint ? Real(-1) : Real(1);
  const Real *m00r = a, *m00i = a + V, *m01r = a + 2 * e01 * V, *m01i = a + (2 * e01 + 1) * V;
  const Real *m10r = a + 2 * e10 * V, *m10i = a + (2 * e10 + 1) * V, *m11r = a + 6 * V, *m11i = a + 7 * V;
  const int64_t step = (int64_t{1} << op.targets[0]) * V;
  auto pair = [&](Real* __restrict p0r, Real* __restrict p0i) {  // amplitudes j and j + 2^t, every lane
    Real* __restrict p1r = p0r + step;
    Real* __restrict p1i = p0i + step;
#pragma GCC ivdep
    for (int64_t l = 0; l < V; ++l) {
      const Real ar = p0r[l], ai = p0i[l], br = p1r[l], bi = p1i[l];
      const Real u00i = sign * m00i[l], u01i = sign * m01i[l], u10i = sign * m10i[l], u11i = sign * m11i[l];
      p0r[l] = m00r[l] * ar - u00i * ai + m01r[l] * br - u01i * bi;
      p0i[l] = m00r[l] * ai + u00i * ar + m01r[l] * bi + u01i * br;
      p1r[l] = m10r[l] * ar - u10i * ai + m11r[l] * br - u11i * bi;
      p1i[l] = m10r[l] * ai + u10i * ar + m11r[l] * bi + u11i * br;
    }
  };
  if (op.cmask == 0) {  // uncontrolled: pairs (j, j + 2^t) for every j with bit t clear
    const int64_t half = int64_t{1} << op.targets[0], size = int64_t{1} << n;
    for (int64_t hi = 0; hi < size; hi += 2 * half)
      for (int64_t lo = 0; lo < half; ++lo) pair(re + (hi + lo) * V, im + (hi + lo) * V);
    return;
  }
  const Runs r = MakeRuns(op, n, V);
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    for (int64_t jb = 0; jb < r.length; jb += V) pair(re + s + jb, im + s + jb);
  }
}

// y = M x on every run of `op`, M per lane (dense, diagonal or monomial class).
// conj_transpose applies M^dagger instead (the adjoint sweep).
template <int VL, typename Real>
static void LaneApply(const LocalOp& op, Real* re, Real* im, int n, int64_t v_runtime, const Real* arena,
                      bool adjoint) {
  const int64_t V = VL ? VL : v_runtime;
  const Real* a = arena + op.mat;
  const int k = op.k;
  const int d = 1 << k;
  int64_t toff[4];
  for (int c = 0; c < d; ++c) {
    int64_t bits = 0;
    for (int t = 0; t < k; ++t)
      if (c >> t & 1) bits |= int64_t{1} << op.targets[t];
    toff[c] = bits * V;
  }
  const Runs r = MakeRuns(op, n, V);
  const Real sign = adjoint ? Real(-1) : Real(1);
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    for (int64_t jb = 0; jb < r.length; jb += V) {
      Real* pr = re + s + jb;
      Real* pi = im + s + jb;
      if (op.cls == kLocalDiagonal) {
        for (int c = 0; c < d; ++c) {
          if (op.skip >> c & 1u) continue;
          const Real* dr = a + 2 * c * V;
          const Real* di = a + (2 * c + 1) * V;
          Real* __restrict xr = pr + toff[c];
          Real* __restrict xi = pi + toff[c];
#pragma GCC ivdep
          for (int64_t l = 0; l < V; ++l) {
            const Real ur = dr[l], ui = sign * di[l], vr = xr[l], vi = xi[l];
            xr[l] = ur * vr - ui * vi;
            xi[l] = ur * vi + ui * vr;
          }
        }
      } else if (op.cls == kLocalMonomial) {
        // new[row] = ph[row] old[perm[row]]; the inverse is new[perm[row]] = conj(ph[row]) old[row].
        Real tr[4][VL ? VL : 64], ti[4][VL ? VL : 64];
        for (int c = 0; c < d; ++c)
          for (int64_t l = 0; l < V; ++l) {
            tr[c][l] = pr[toff[c] + l];
            ti[c][l] = pi[toff[c] + l];
          }
        for (int row = 0; row < d; ++row) {
          const Real* ph_r = a + 2 * row * V;
          const Real* ph_i = a + (2 * row + 1) * V;
          const int src = adjoint ? row : op.perm[row];
          const int dst = adjoint ? op.perm[row] : row;
          for (int64_t l = 0; l < V; ++l) {
            const Real ur = ph_r[l], ui = sign * ph_i[l];
            pr[toff[dst] + l] = ur * tr[src][l] - ui * ti[src][l];
            pi[toff[dst] + l] = ur * ti[src][l] + ui * tr[src][l];
          }
        }
      } else {
        Real tr[4][VL ? VL : 64], ti[4][VL ? VL : 64];
        for (int c = 0; c < d; ++c)
          for (int64_t l = 0; l < V; ++l) {
            tr[c][l] = pr[toff[c] + l];
            ti[c][l] = pi[toff[c] + l];
          }
        for (int row = 0; row < d; ++row) {
          Real yr[VL ? VL : 64], yi[VL ? VL : 64];
          for (int64_t l = 0; l < V; ++l) yr[l] = yi[l] = Real(0);
          for (int c = 0; c < d; ++c) {
            // M^dagger[row][c] = conj(M[c][row])
            const int e = adjoint ? c * d + row : row * d + c;
            const Real* mr = a + 2 * e * V;
            const Real* mi = a + (2 * e + 1) * V;
#pragma GCC ivdep
            for (int64_t l = 0; l < V; ++l) {
              const Real ur = mr[l], ui = sign * mi[l];
              yr[l] += ur * tr[c][l] - ui * ti[c][l];
              yi[l] += ur * ti[c][l] + ui * tr[c][l];
            }
          }
          for (int64_t l = 0; l < V; ++l) {
            pr[toff[row] + l] = yr[l];
            pi[toff[row] + l] = yi[l];
          }
        }
      }
    }
  }
}

// out[l] += sum over the runs of `op` of conj(lam) . (D psi), D the op's per-lane
// derivative matrix (same class and layout as the op). Only amplitudes inside the
// controlled subspace contribute: the derivative of a controlled gate vanishes elsewhere.
template <int VL, typename Real>
static void LaneDerivInner(const LocalOp& op, const Real* lr, const Real* li, const Real* sr, const Real* si, int n,
                           int64_t v_runtime, const Real* deriv, double* out_re, double* out_im) {
  const int64_t V = VL ? VL : v_runtime;
  const int k = op.k;
  const int d = 1 << k;
  int64_t toff[4];
  for (int c = 0; c < d; ++c) {
    int64_t bits = 0;
    for (int t = 0; t < k; ++t)
      if (c >> t & 1) bits |= int64_t{1} << op.targets[t];
    toff[c] = bits * V;
  }
  const Runs r = MakeRuns(op, n, V);
  Real acc_r[VL ? VL : 64] = {}, acc_i[VL ? VL : 64] = {};
  for (int64_t i = 0; i < r.count; ++i) {
    const int64_t s = RunStart(r, op, i, V);
    for (int64_t jb = 0; jb < r.length; jb += V) {
      const int64_t base = s + jb;
      for (int row = 0; row < d; ++row) {
        const Real* xr = lr + base + toff[row];
        const Real* xi = li + base + toff[row];
        for (int c = 0; c < d; ++c) {
          if (op.cls == kLocalDiagonal && c != row) continue;
          const int e = op.cls == kLocalDiagonal ? row : row * d + c;
          const Real* mr = deriv + 2 * e * V;
          const Real* mi = deriv + (2 * e + 1) * V;
          const Real* yr = sr + base + toff[c];
          const Real* yi = si + base + toff[c];
#pragma GCC ivdep
          for (int64_t l = 0; l < V; ++l) {
            // conj(lam) * (m * psi)
            const Real tr = mr[l] * yr[l] - mi[l] * yi[l], ti = mr[l] * yi[l] + mi[l] * yr[l];
            acc_r[l] += xr[l] * tr + xi[l] * ti;
            acc_i[l] += xr[l] * ti - xi[l] * tr;
          }
        }
      }
    }
  }
  for (int64_t l = 0; l < V; ++l) {
    out_re[l] += acc_r[l];
    out_im[l] += acc_i[l];
  }
}

// Per-lane <psi|P|psi> for P = X^x Z^z (the caller multiplies by i^{|x&z|} and the coefficient):
// sum_i conj(psi[i ^ x]) (-1)^{|i & z|} psi[i].
template <int VL, typename Real>
static void LanePauli(const Real* re, const Real* im, int n, int64_t v_runtime, uint64_t x, uint64_t z, double* out_re,
                      double* out_im) {
  const int64_t V = VL ? VL : v_runtime;
  Real acc_r[VL ? VL : 64] = {}, acc_i[VL ? VL : 64] = {};
  const int64_t size = int64_t{1} << n;
  for (int64_t i = 0; i < size; ++i) {
    const int64_t j = static_cast<int64_t>(static_cast<uint64_t>(i) ^ x);
    const Real sign = (__builtin_popcountll(static_cast<uint64_t>(i) & z) & 1) ? Real(-1) : Real(1);
    const Real* ar = re + j * V;
    const Real* ai = im + j * V;
    const Real* br = re + i * V;
    const Real* bi = im + i * V;
#pragma GCC ivdep
    for (int64_t l = 0; l < V; ++l) {
      acc_r[l] += sign * (ar[l] * br[l] + ai[l] * bi[l]);
      acc_i[l] += sign * (ar[l] * bi[l] - ai[l] * br[l]);
    }
  }
  for (int64_t l = 0; l < V; ++l) {
    out_re[l] = acc_r[l];
    out_im[l] = acc_i[l];
  }
}

// lam += c_l * P psi per lane, P = i^{|x&z|} X^x Z^z and c = (cr, ci) per lane:
// (P psi)[i] = i^{|x&z|} (-1)^{|(i^x) & z|} psi[i ^ x].
template <int VL, typename Real>
static void LaneAddPauli(Real* lr, Real* li, const Real* re, const Real* im, int n, int64_t v_runtime, uint64_t x,
                         uint64_t z, const Real* cr, const Real* ci) {
  const int64_t V = VL ? VL : v_runtime;
  const int64_t size = int64_t{1} << n;
  for (int64_t i = 0; i < size; ++i) {
    const uint64_t j = static_cast<uint64_t>(i) ^ x;
    const Real sign = (__builtin_popcountll(j & z) & 1) ? Real(-1) : Real(1);
    const Real* ar = re + static_cast<int64_t>(j) * V;
    const Real* ai = im + static_cast<int64_t>(j) * V;
    Real* __restrict yr = lr + i * V;
    Real* __restrict yi = li + i * V;
#pragma GCC ivdep
    for (int64_t l = 0; l < V; ++l) {
      yr[l] += sign * (cr[l] * ar[l] - ci[l] * ai[l]);
      yi[l] += sign * (cr[l] * ai[l] + ci[l] * ar[l]);
    }
  }
}

// One adjoint step of a 1-qubit gate U (per-lane matrix in the op layout, uncontrolled): accumulates the
// per-lane overlap M_ab = sum over the other bits of conj(lam_a) psi_b at the current point into
// m[(2 e) V + l] (real) and m[(2 e + 1) V + l] (imaginary), e = 2 a + b, then un-applies U from both
// psi and lam (x <- U^dagger x), all in one pass over the state.
template <int VL, typename Real>
static void LaneAdjDense1(int target, Real* pr, Real* pi, Real* lr, Real* li, int n, int64_t v_runtime, const Real* a,
                          Real* m) {
  const int64_t V = VL ? VL : v_runtime;
  const Real *m00r = a, *m00i = a + V, *m01r = a + 2 * V, *m01i = a + 3 * V;
  const Real *m10r = a + 4 * V, *m10i = a + 5 * V, *m11r = a + 6 * V, *m11i = a + 7 * V;
  constexpr int64_t kCap = VL ? VL : 64;
  Real acc[8][kCap];
  for (int e = 0; e < 8; ++e)
    for (int64_t l = 0; l < V; ++l) acc[e][l] = Real(0);
  const int64_t half = int64_t{1} << target, size = int64_t{1} << n;
  for (int64_t hi = 0; hi < size; hi += 2 * half) {
    for (int64_t lo = 0; lo < half; ++lo) {
      const int64_t o0 = (hi + lo) * V, o1 = o0 + half * V;
      Real* __restrict p0r = pr + o0;
      Real* __restrict p0i = pi + o0;
      Real* __restrict p1r = pr + o1;
      Real* __restrict p1i = pi + o1;
      Real* __restrict l0r = lr + o0;
      Real* __restrict l0i = li + o0;
      Real* __restrict l1r = lr + o1;
      Real* __restrict l1i = li + o1;
#pragma GCC ivdep
      for (int64_t l = 0; l < V; ++l) {
        const Real ar = p0r[l], ai = p0i[l], br = p1r[l], bi = p1i[l];
        const Real cr = l0r[l], ci = l0i[l], dr = l1r[l], di = l1i[l];
        // conj(lam_a) psi_b
        acc[0][l] += cr * ar + ci * ai;
        acc[1][l] += cr * ai - ci * ar;
        acc[2][l] += cr * br + ci * bi;
        acc[3][l] += cr * bi - ci * br;
        acc[4][l] += dr * ar + di * ai;
        acc[5][l] += dr * ai - di * ar;
        acc[6][l] += dr * br + di * bi;
        acc[7][l] += dr * bi - di * br;
        // U^dagger: row 0 = (conj m00, conj m10), row 1 = (conj m01, conj m11)
        const Real u00r = m00r[l], u00i = -m00i[l], u01r = m10r[l], u01i = -m10i[l];
        const Real u10r = m01r[l], u10i = -m01i[l], u11r = m11r[l], u11i = -m11i[l];
        p0r[l] = u00r * ar - u00i * ai + u01r * br - u01i * bi;
        p0i[l] = u00r * ai + u00i * ar + u01r * bi + u01i * br;
        p1r[l] = u10r * ar - u10i * ai + u11r * br - u11i * bi;
        p1i[l] = u10r * ai + u10i * ar + u11r * bi + u11i * br;
        l0r[l] = u00r * cr - u00i * ci + u01r * dr - u01i * di;
        l0i[l] = u00r * ci + u00i * cr + u01r * di + u01i * dr;
        l1r[l] = u10r * cr - u10i * ci + u11r * dr - u11i * di;
        l1i[l] = u10r * ci + u10i * cr + u11r * di + u11i * dr;
      }
    }
  }
  for (int e = 0; e < 8; ++e)
    for (int64_t l = 0; l < V; ++l) m[e * V + l] = acc[e][l];
}

// x[j] <- d_j x[j] (or conj(d_j) x[j]) for the listed basis states j, every lane: a diagonal over the register.
template <int VL, typename Real>
static void LaneDiagonalList(Real* re, Real* im, int64_t v_runtime, const int64_t* index, const double* value,
                             int64_t count, bool adjoint) {
  const int64_t V = VL ? VL : v_runtime;
  for (int64_t k = 0; k < count; ++k) {
    const Real dr = static_cast<Real>(value[2 * k]);
    const Real di = static_cast<Real>(adjoint ? -value[2 * k + 1] : value[2 * k + 1]);
    Real* __restrict xr = re + index[k] * V;
    Real* __restrict xi = im + index[k] * V;
#pragma GCC ivdep
    for (int64_t l = 0; l < V; ++l) {
      const Real vr = xr[l], vi = xi[l];
      xr[l] = dr * vr - di * vi;
      xi[l] = dr * vi + di * vr;
    }
  }
}

// Batched kernel entry points (instantiated per ISA; see batch_plan.cpp).
template <typename Real>
void LaneApplyOp(const LocalOp& op, Real* re, Real* im, int n, int64_t V, const Real* arena, bool adjoint) {
  if (op.cls == kLocalDense && op.k == 1) {
    if (V == 1) return LaneDense1<1>(op, re, im, n, V, arena + op.mat, adjoint);
    if (V == 8) return LaneDense1<8>(op, re, im, n, V, arena + op.mat, adjoint);
    if (V == 16) return LaneDense1<16>(op, re, im, n, V, arena + op.mat, adjoint);
    return LaneDense1<0>(op, re, im, n, V, arena + op.mat, adjoint);
  }
  if (V == 1) return LaneApply<1>(op, re, im, n, V, arena, adjoint);
  if (V == 8) return LaneApply<8>(op, re, im, n, V, arena, adjoint);
  if (V == 16) return LaneApply<16>(op, re, im, n, V, arena, adjoint);
  LaneApply<0>(op, re, im, n, V, arena, adjoint);
}
template <typename Real>
void LaneAdjointDense1(int target, Real* pr, Real* pi, Real* lr, Real* li, int n, int64_t V, const Real* a, Real* m) {
  if (V == 1) return LaneAdjDense1<1>(target, pr, pi, lr, li, n, V, a, m);
  if (V == 8) return LaneAdjDense1<8>(target, pr, pi, lr, li, n, V, a, m);
  if (V == 16) return LaneAdjDense1<16>(target, pr, pi, lr, li, n, V, a, m);
  LaneAdjDense1<0>(target, pr, pi, lr, li, n, V, a, m);
}
template <typename Real>
void LaneDiagonal(Real* re, Real* im, int64_t V, const int64_t* index, const double* value, int64_t count,
                  bool adjoint) {
  if (V == 1) return LaneDiagonalList<1>(re, im, V, index, value, count, adjoint);
  if (V == 8) return LaneDiagonalList<8>(re, im, V, index, value, count, adjoint);
  if (V == 16) return LaneDiagonalList<16>(re, im, V, index, value, count, adjoint);
  LaneDiagonalList<0>(re, im, V, index, value, count, adjoint);
}
template <typename Real>
void LaneDerivative(const LocalOp& op, const Real* lr, const Real* li, const Real* sr, const Real* si, int n, int64_t V,
                    const Real* deriv, double* out_re, double* out_im) {
  if (V == 1) return LaneDerivInner<1>(op, lr, li, sr, si, n, V, deriv, out_re, out_im);
  if (V == 8) return LaneDerivInner<8>(op, lr, li, sr, si, n, V, deriv, out_re, out_im);
  if (V == 16) return LaneDerivInner<16>(op, lr, li, sr, si, n, V, deriv, out_re, out_im);
  LaneDerivInner<0>(op, lr, li, sr, si, n, V, deriv, out_re, out_im);
}
template <typename Real>
void LanePauliExpectation(const Real* re, const Real* im, int n, int64_t V, uint64_t x, uint64_t z, double* out_re,
                          double* out_im) {
  if (V == 1) return LanePauli<1>(re, im, n, V, x, z, out_re, out_im);
  if (V == 8) return LanePauli<8>(re, im, n, V, x, z, out_re, out_im);
  if (V == 16) return LanePauli<16>(re, im, n, V, x, z, out_re, out_im);
  LanePauli<0>(re, im, n, V, x, z, out_re, out_im);
}
template <typename Real>
void LaneAddPauliTerm(Real* lr, Real* li, const Real* re, const Real* im, int n, int64_t V, uint64_t x, uint64_t z,
                      const Real* cr, const Real* ci) {
  if (V == 1) return LaneAddPauli<1>(lr, li, re, im, n, V, x, z, cr, ci);
  if (V == 8) return LaneAddPauli<8>(lr, li, re, im, n, V, x, z, cr, ci);
  if (V == 16) return LaneAddPauli<16>(lr, li, re, im, n, V, x, z, cr, ci);
  LaneAddPauli<0>(lr, li, re, im, n, V, x, z, cr, ci);
}

#define NEXTRL_INSTANTIATE_LANE(Real)                                                                                  \
  template void LaneApplyOp<Real>(const LocalOp&, Real*, Real*, int, int64_t, const Real*, bool);                      \
  template void LaneAdjointDense1<Real>(int, Real*, Real*, Real*, Real*, int, int64_t, const Real*, Real*);            \
  template void LaneDiagonal<Real>(Real*, Real*, int64_t, const int64_t*, const double*, int64_t, bool);               \
  template void LaneDerivative<Real>(const LocalOp&, const Real*, const Real*, const Real*, const Real*, int, int64_t, \
                                     const Real*, double*, double*);                                                   \
  template void LanePauliExpectation<Real>(const Real*, const Real*, int, int64_t, uint64_t, uint64_t, double*,        \
                                           double*);                                                                   \
  template void LaneAddPauliTerm<Real>(Real*, Real*, const Real*, const Real*, int, int64_t, uint64_t, uint64_t,       \
                                       const Real*, const Real*);
NEXTRL_INSTANTIATE_LANE(float)
NEXTRL_INSTANTIATE_LANE(double)
#undef NEXTRL_INSTANTIATE_LANE

}  // namespace nextrl::quantum::NEXTRL_ISA_NS
