// Device kernel of the batched variational circuits: every sample's state lives in shared memory, and one launch
// runs the forward pass, the read-outs and (with output gradients) the adjoint sweep of Jones & Gacon 2020
// (arXiv:2009.02823): lam = dL/d<psi| after the circuit, then for each op in reverse psi <- U^dagger psi,
// dL/dtheta += 2 Re <lam| dU/dtheta |psi>, lam <- U^dagger lam.
//
// Layout: a block runs S samples with G threads each (blockDim = S G; thread t serves sample t % S, share t / S).
// Amplitude j of sample s is at psi[j * S + s], so S > 1 (G = 1, small n) keeps a warp on 32 samples with
// conflict-free shared memory, and S = 1 (G > 1, larger n) spreads one state over the block.
// Angles come from slots on the fly (weight w[i], input x[b, i], scaled input s[c] x[b, i]); gate angle =
// scale * slot + offset. Launcher and preconditions: batch_cuda.cu.
#pragma once
#include "cuda/cuda_common.cuh"
#include "quantum/gates.h"

namespace nextrl::cuda {

constexpr int kMaxOpParams = 3;

struct DevOp {
  int kind;       // quantum::GateKind
  int k;          // targets: 1 or 2
  int t0, t1;
  uint32_t skip;  // target and control bits
  uint32_t cbits; // control values
  int diagonal;   // the gate's matrix is diagonal
  int nparam;
  int slot[kMaxOpParams];  // slot of each angle, -1 for a constant
  double scale[kMaxOpParams], offset[kMaxOpParams];
  int mat;        // fixed gates: offset (complex entries) of the matrix in the pool; -1 for parametric gates
};

struct DevSlot {
  int kind;   // 0 weight, 1 input, 2 scaled input
  int index;  // weight or feature index
  int scale;  // scale index (kind 2)
};

struct DevTerm {
  uint32_t x, z;
  double cre, cim;  // coefficient times i^{|x & z|}
  int output;
};

template <typename R>
struct VqcArgs {
  const DevOp* ops;
  int num_ops;
  const DevSlot* slots;
  int num_slots;
  const DevTerm* terms;
  int num_terms;
  const int* prob_qubits;
  int num_prob;
  const double2* mats;
  int n;
  int S;
  const R* x;
  int64_t batch;
  int num_features;
  const R* w;
  const R* sc;
  R* out;
  int num_outputs;
  const R* g;       // null: forward only
  R* slot_grad;     // [batch, num_slots]
};

__device__ __forceinline__ void SinCos(float a, float* s, float* c) { sincosf(a, s, c); }
__device__ __forceinline__ void SinCos(double a, double* s, double* c) { sincos(a, s, c); }

// Matrix (row-major, 2^k x 2^k) of a parametric gate at angles a; mirrors quantum::GateMatrix (gates.h).
template <typename R>
__device__ void ParamMatrix(int kind, const R* a, Cx<R>* m) {
  using quantum::GateKind;
  const R z = R(0);
  switch (static_cast<GateKind>(kind)) {
    case GateKind::kRX: {
      R s, c;
      SinCos(a[0] / 2, &s, &c);
      m[0] = {c, z};
      m[1] = {z, -s};
      m[2] = {z, -s};
      m[3] = {c, z};
      break;
    }
    case GateKind::kRY: {
      R s, c;
      SinCos(a[0] / 2, &s, &c);
      m[0] = {c, z};
      m[1] = {-s, z};
      m[2] = {s, z};
      m[3] = {c, z};
      break;
    }
    case GateKind::kRZ: {
      R s, c;
      SinCos(a[0] / 2, &s, &c);
      m[0] = {c, -s};
      m[1] = {z, z};
      m[2] = {z, z};
      m[3] = {c, s};
      break;
    }
    case GateKind::kP: {
      R s, c;
      SinCos(a[0], &s, &c);
      m[0] = {R(1), z};
      m[1] = {z, z};
      m[2] = {z, z};
      m[3] = {c, s};
      break;
    }
    case GateKind::kU: {
      R s, c, sp, cp, sl, cl, spl, cpl;
      SinCos(a[0] / 2, &s, &c);
      SinCos(a[1], &sp, &cp);
      SinCos(a[2], &sl, &cl);
      SinCos(a[1] + a[2], &spl, &cpl);
      m[0] = {c, z};
      m[1] = {-s * cl, -s * sl};
      m[2] = {s * cp, s * sp};
      m[3] = {c * cpl, c * spl};
      break;
    }
    case GateKind::kRXX:
    case GateKind::kRYY: {
      R s, c;
      SinCos(a[0] / 2, &s, &c);
      const R sign = static_cast<GateKind>(kind) == GateKind::kRXX ? R(1) : R(-1);
      for (int e = 0; e < 16; ++e) m[e] = {z, z};
      for (int i = 0; i < 4; ++i) m[i * 5] = {c, z};
      m[3] = m[12] = {z, -s * sign};
      m[6] = m[9] = {z, -s};
      break;
    }
    case GateKind::kRZZ: {
      R s, c;
      SinCos(a[0] / 2, &s, &c);
      for (int e = 0; e < 16; ++e) m[e] = {z, z};
      m[0] = m[15] = {c, -s};
      m[5] = m[10] = {c, s};
      break;
    }
    default:
      break;
  }
}

// d(matrix)/d(angle `which`); mirrors quantum::GateDerivative: Pauli rotations R(th + pi) / 2, P and U in
// closed form.
template <typename R>
__device__ void ParamDerivative(int kind, const R* a, int which, Cx<R>* m) {
  using quantum::GateKind;
  const GateKind gk = static_cast<GateKind>(kind);
  const int entries = (gk == GateKind::kRXX || gk == GateKind::kRYY || gk == GateKind::kRZZ) ? 16 : 4;
  if (gk == GateKind::kP) {
    R s, c;
    SinCos(a[0], &s, &c);
    m[0] = m[1] = m[2] = {R(0), R(0)};
    m[3] = {-s, c};
    return;
  }
  if (gk == GateKind::kU && which > 0) {
    ParamMatrix<R>(kind, a, m);
    const int zero0 = 0, zero1 = which == 1 ? 1 : 2, keep0 = which == 1 ? 2 : 1;
    m[zero0] = m[zero1] = {R(0), R(0)};
    m[keep0] = {-m[keep0].im, m[keep0].re};  // times i
    m[3] = {-m[3].im, m[3].re};
    return;
  }
  R shifted[kMaxOpParams] = {a[0] + R(M_PI), gk == GateKind::kU ? a[1] : R(0), gk == GateKind::kU ? a[2] : R(0)};
  ParamMatrix<R>(kind, shifted, m);
  for (int e = 0; e < entries; ++e) m[e] = {m[e].re / 2, m[e].im / 2};
}

template <typename R>
__device__ __forceinline__ R SlotValue(const VqcArgs<R>& p, int64_t b, int slot) {
  const DevSlot sl = p.slots[slot];
  if (sl.kind == 0) return p.w[sl.index];
  const R xv = p.x[b * p.num_features + sl.index];
  return sl.kind == 1 ? xv : p.sc[sl.scale] * xv;
}

// Sum of v over the G threads of a sample (S = 1 when G > 1), in a fixed order; valid in thread 0.
__device__ __forceinline__ double GroupSum(double v, int G, double* scratch) {
  if (G == 1) return v;
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  const int warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[warp] = v;
  __syncthreads();
  double total = 0;
  if (threadIdx.x == 0)
    for (int i = 0; i < warps; ++i) total += scratch[i];
  return total;
}

// One op on one sample's state x (stride S), this thread's share of the groups; adjoint applies U^dagger.
template <typename R>
__device__ __forceinline__ void ApplyOp(const DevOp& op, const Cx<R>* m, Cx<R>* x, int n, int S, int g, int G,
                                        bool adjoint) {
  const int64_t count = int64_t{1} << (n - __popc(op.skip));
  if (op.k == 1) {
    const uint32_t bit = 1u << op.t0;
    Cx<R> u00 = m[0], u01 = m[1], u10 = m[2], u11 = m[3];
    if (adjoint) {
      u00 = CConj(m[0]);
      u01 = CConj(m[2]);
      u10 = CConj(m[1]);
      u11 = CConj(m[3]);
    }
    for (int64_t q = g; q < count; q += G) {
      const uint32_t i0 = static_cast<uint32_t>(InsertZeros(static_cast<uint64_t>(q), op.skip)) | op.cbits;
      const uint32_t i1 = i0 | bit;
      const Cx<R> a = x[i0 * S], b = x[i1 * S];
      if (op.diagonal) {
        x[i0 * S] = CMul(u00, a);
        x[i1 * S] = CMul(u11, b);
      } else {
        x[i0 * S] = CMad(CMul(u00, a), u01, b);
        x[i1 * S] = CMad(CMul(u10, a), u11, b);
      }
    }
  } else {
    const uint32_t b0 = 1u << op.t0, b1 = 1u << op.t1;
    for (int64_t q = g; q < count; q += G) {
      const uint32_t base = static_cast<uint32_t>(InsertZeros(static_cast<uint64_t>(q), op.skip)) | op.cbits;
      const uint32_t idx[4] = {base, base | b0, base | b1, base | b0 | b1};
      Cx<R> v[4];
#pragma unroll
      for (int c = 0; c < 4; ++c) v[c] = x[idx[c] * S];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        if (op.diagonal) {
          x[idx[r] * S] = CMul(adjoint ? CConj(m[5 * r]) : m[5 * r], v[r]);
        } else {
          Cx<R> acc{R(0), R(0)};
#pragma unroll
          for (int c = 0; c < 4; ++c) acc = CMad(acc, adjoint ? CConj(m[4 * c + r]) : m[4 * r + c], v[c]);
          x[idx[r] * S] = acc;
        }
      }
    }
  }
}

// This thread's part of sum over the op's groups of Re conj(lam) . (D psi), for D = dU/dtheta.
template <typename R>
__device__ __forceinline__ double DerivInner(const DevOp& op, const Cx<R>* d, const Cx<R>* psi, const Cx<R>* lam, int n,
                                             int S, int g, int G) {
  const int64_t count = int64_t{1} << (n - __popc(op.skip));
  const int dim = 1 << op.k;
  uint32_t toff[4] = {0, 1u << op.t0, 0, 0};
  if (op.k == 2) {
    toff[2] = 1u << op.t1;
    toff[3] = toff[1] | toff[2];
  }
  double acc = 0;
  for (int64_t q = g; q < count; q += G) {
    const uint32_t base = static_cast<uint32_t>(InsertZeros(static_cast<uint64_t>(q), op.skip)) | op.cbits;
    for (int r = 0; r < dim; ++r) {
      Cx<R> y{R(0), R(0)};
      for (int c = 0; c < dim; ++c) y = CMad(y, d[r * dim + c], psi[(base | toff[c]) * S]);
      const Cx<R> l = lam[(base | toff[r]) * S];
      acc += double(l.re) * y.re + double(l.im) * y.im;  // Re conj(l) y
    }
  }
  return acc;
}

template <typename R>
__device__ __forceinline__ void OpMatrixFor(const VqcArgs<R>& p, const DevOp& op, int64_t b, R* angles, Cx<R>* m) {
  if (op.mat >= 0) {
    const int entries = op.k == 1 ? 4 : 16;
    for (int e = 0; e < entries; ++e) m[e] = {R(p.mats[op.mat + e].x), R(p.mats[op.mat + e].y)};
    return;
  }
  for (int j = 0; j < op.nparam; ++j)
    angles[j] = R(op.scale[j]) * (op.slot[j] >= 0 ? SlotValue(p, b, op.slot[j]) : R(0)) + R(op.offset[j]);
  ParamMatrix<R>(op.kind, angles, m);
}

template <typename R>
__global__ void VqcKernel(VqcArgs<R> p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __shared__ double scratch[32];
  const int S = p.S, G = blockDim.x / S;
  const int s = threadIdx.x % S, g = threadIdx.x / S;
  const int64_t b_raw = blockIdx.x * int64_t{S} + s;
  const bool active = b_raw < p.batch;
  const int64_t b = active ? b_raw : p.batch - 1;  // idle lanes repeat the last sample and write nothing
  const int64_t dim = int64_t{1} << p.n;
  Cx<R>* psi = reinterpret_cast<Cx<R>*>(smem_raw) + s;
  Cx<R>* lam = reinterpret_cast<Cx<R>*>(smem_raw) + dim * S + s;
  Cx<R> m[16];
  R angles[kMaxOpParams];

  for (int64_t j = g; j < dim; j += G) psi[j * S] = Cx<R>{R(j == 0 ? 1 : 0), R(0)};
  if (G > 1) __syncthreads();
  for (int o = 0; o < p.num_ops; ++o) {
    const DevOp op = p.ops[o];
    OpMatrixFor(p, op, b, angles, m);
    ApplyOp(op, m, psi, p.n, S, g, G, false);
    if (G > 1) __syncthreads();
  }

  // Read-outs: out[b, :] and, for the adjoint, lam = dL/d<psi| (see batch_cuda.cu for the two modes).
  if (p.num_prob == 0) {
    for (int o = 0; o < p.num_outputs; ++o) {
      double total = 0;
      for (int t = 0; t < p.num_terms; ++t) {
        const DevTerm term = p.terms[t];
        if (term.output != o) continue;
        double re = 0, im = 0;
        for (int64_t i = g; i < dim; i += G) {
          const Cx<R> a = psi[(static_cast<uint32_t>(i) ^ term.x) * S], v = psi[i * S];
          const double sign = (__popc(static_cast<uint32_t>(i) & term.z) & 1) ? -1.0 : 1.0;
          re += sign * (double(a.re) * v.re + double(a.im) * v.im);
          im += sign * (double(a.re) * v.im - double(a.im) * v.re);
        }
        total += term.cre * re - term.cim * im;  // Re (c (re + i im))
      }
      total = GroupSum(total, G, scratch);
      if (g == 0 && active) p.out[b * p.num_outputs + o] = R(total);
    }
  } else {
    const int bins = 1 << p.num_prob;
    for (int k = 0; k < bins; ++k) {
      double total = 0;
      for (int64_t i = g; i < dim; i += G) {
        int bin = 0;
        for (int j = 0; j < p.num_prob; ++j) bin |= ((static_cast<int>(i) >> p.prob_qubits[j]) & 1) << j;
        if (bin != k) continue;
        const Cx<R> a = psi[i * S];
        total += double(a.re) * a.re + double(a.im) * a.im;
      }
      total = GroupSum(total, G, scratch);
      if (g == 0 && active) p.out[b * p.num_outputs + k] = R(total);
    }
  }
  if (p.g == nullptr) return;

  const R* gb = p.g + b * p.num_outputs;
  for (int64_t i = g; i < dim; i += G) {
    Cx<R> acc{R(0), R(0)};
    if (p.num_prob == 0) {
      for (int t = 0; t < p.num_terms; ++t) {  // lam += g_o c_t P_t psi, (P psi)[i] = (-1)^{|(i^x) & z|} psi[i ^ x]
        const DevTerm term = p.terms[t];
        const uint32_t j = static_cast<uint32_t>(i) ^ term.x;
        const R sign = (__popc(j & term.z) & 1) ? R(-1) : R(1);
        const Cx<R> c{R(gb[term.output] * term.cre) * sign, R(gb[term.output] * term.cim) * sign};
        acc = CMad(acc, c, psi[j * S]);
      }
    } else {
      int bin = 0;
      for (int j = 0; j < p.num_prob; ++j) bin |= ((static_cast<int>(i) >> p.prob_qubits[j]) & 1) << j;
      acc = Cx<R>{gb[bin] * psi[i * S].re, gb[bin] * psi[i * S].im};
    }
    lam[i * S] = acc;
  }
  if (g == 0 && active)
    for (int q = 0; q < p.num_slots; ++q) p.slot_grad[b * p.num_slots + q] = R(0);
  if (G > 1) __syncthreads();

  Cx<R> d[16];
  for (int o = p.num_ops - 1; o >= 0; --o) {
    const DevOp op = p.ops[o];
    OpMatrixFor(p, op, b, angles, m);
    ApplyOp(op, m, psi, p.n, S, g, G, true);  // psi <- U^dagger psi: the state before the op
    if (G > 1) __syncthreads();
    for (int j = 0; j < op.nparam; ++j) {
      if (op.slot[j] < 0) continue;
      ParamDerivative<R>(op.kind, angles, j, d);
      double part = DerivInner(op, d, psi, lam, p.n, S, g, G);
      part = GroupSum(part, G, scratch);
      if (g == 0 && active) p.slot_grad[b * p.num_slots + op.slot[j]] += R(2 * op.scale[j] * part);
    }
    ApplyOp(op, m, lam, p.n, S, g, G, true);
    if (G > 1) __syncthreads();
  }
}

}  // namespace nextrl::cuda
