#include "quantum/batch_plan.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "common/check.h"
#include "common/parallel.h"
#include "common/simd_math.h"

namespace nextrl::quantum {

#define NEXTRL_DECLARE_LANE(ns)                                                                                      \
  namespace ns {                                                                                                     \
  template <typename Real>                                                                                           \
  void LaneApplyOp(const LocalOp&, Real*, Real*, int, int64_t, const Real*, bool);                                   \
  template <typename Real>                                                                                           \
  void LaneAdjointDense1(int, Real*, Real*, Real*, Real*, int, int64_t, const Real*, Real*);                         \
  template <typename Real>                                                                                           \
  void LaneDiagonal(Real*, Real*, int64_t, const int64_t*, const double*, int64_t, bool);                            \
  template <typename Real>                                                                                           \
  void LaneDerivative(const LocalOp&, const Real*, const Real*, const Real*, const Real*, int, int64_t, const Real*, \
                      double*, double*);                                                                             \
  template <typename Real>                                                                                           \
  void LanePauliExpectation(const Real*, const Real*, int, int64_t, uint64_t, uint64_t, double*, double*);           \
  template <typename Real>                                                                                           \
  void LaneAddPauliTerm(Real*, Real*, const Real*, const Real*, int, int64_t, uint64_t, uint64_t, const Real*,       \
                        const Real*);                                                                                \
  }
NEXTRL_DECLARE_LANE(generic)
#ifdef NEXTRL_HAVE_AVX2
NEXTRL_DECLARE_LANE(avx2)
#endif
#ifdef NEXTRL_HAVE_AVX512
NEXTRL_DECLARE_LANE(avx512)
#endif
#undef NEXTRL_DECLARE_LANE

namespace {

template <typename Real>
struct LaneKernels {
  void (*apply)(const LocalOp&, Real*, Real*, int, int64_t, const Real*, bool);
  void (*adjoint1)(int, Real*, Real*, Real*, Real*, int, int64_t, const Real*, Real*);
  void (*diagonal)(Real*, Real*, int64_t, const int64_t*, const double*, int64_t, bool);
  void (*deriv)(const LocalOp&, const Real*, const Real*, const Real*, const Real*, int, int64_t, const Real*, double*,
                double*);
  void (*pauli)(const Real*, const Real*, int, int64_t, uint64_t, uint64_t, double*, double*);
  void (*add_pauli)(Real*, Real*, const Real*, const Real*, int, int64_t, uint64_t, uint64_t, const Real*, const Real*);
};

#define NEXTRL_LANE_KERNELS(ns)                                                                               \
  LaneKernels<Real> {                                                                                         \
    &ns::LaneApplyOp<Real>, &ns::LaneAdjointDense1<Real>, &ns::LaneDiagonal<Real>, &ns::LaneDerivative<Real>, \
        &ns::LanePauliExpectation<Real>, &ns::LaneAddPauliTerm<Real>                                          \
  }

template <typename Real>
LaneKernels<Real> Kernels(Isa isa) {
  switch (isa) {
#ifdef NEXTRL_HAVE_AVX512
    case Isa::kAvx512:
      return NEXTRL_LANE_KERNELS(avx512);
#endif
#ifdef NEXTRL_HAVE_AVX2
    case Isa::kAvx2:
      return NEXTRL_LANE_KERNELS(avx2);
#endif
    default:
      return NEXTRL_LANE_KERNELS(generic);
  }
}
#undef NEXTRL_LANE_KERNELS

#define NEXTRL_ALWAYS_INLINE __attribute__((always_inline)) inline

constexpr int kMaxBatchQubits = 20;
constexpr int kMaxLanes = 64;
constexpr int kMaxDiagQubits = 12;  // a fused diagonal lists up to 2^12 entries

// Stores the per-lane entries of matrix `m` (2^k x 2^k) for lane l in the op's layout.
template <typename Real>
void StoreLane(const LocalOp& op, const cdouble* m, int64_t V, int64_t l, Real* dst) {
  const int d = 1 << op.k;
  const int entries = op.cls == kLocalDense ? d * d : d;
  for (int e = 0; e < entries; ++e) {
    const cdouble z = op.cls == kLocalDense ? m[e] : op.cls == kLocalDiagonal ? m[e * d + e] : m[e * d + op.perm[e]];
    dst[2 * e * V + l] = static_cast<Real>(z.real());
    dst[(2 * e + 1) * V + l] = static_cast<Real>(z.imag());
  }
}

// Per-lane entries of a one-angle rotation written directly (one sincos per lane), in
// the op's layout (dense 2x2 / 4x4 or diagonal). Returns false for other kinds.
template <typename Real>
bool FillRotation(GateKind kind, const double* angle, int64_t V, Real* dst) {
  auto put = [&](int e, int64_t l, double re, double im) {
    dst[2 * e * V + l] = static_cast<Real>(re);
    dst[(2 * e + 1) * V + l] = static_cast<Real>(im);
  };
  switch (kind) {
    case GateKind::kRX:
    case GateKind::kRY:
    case GateKind::kRZ:
    case GateKind::kP:
    case GateKind::kRXX:
    case GateKind::kRYY:
    case GateKind::kRZZ:
      break;
    default:
      return false;
  }
  for (int64_t l = 0; l < V; ++l) {
    double s, c;
    sincos(kind == GateKind::kP ? angle[l] : 0.5 * angle[l], &s, &c);
    switch (kind) {
      case GateKind::kRX:
        put(0, l, c, 0);
        put(1, l, 0, -s);
        put(2, l, 0, -s);
        put(3, l, c, 0);
        break;
      case GateKind::kRY:
        put(0, l, c, 0);
        put(1, l, -s, 0);
        put(2, l, s, 0);
        put(3, l, c, 0);
        break;
      case GateKind::kRZ:
        put(0, l, c, -s);
        put(1, l, c, s);
        break;
      case GateKind::kP:
        put(0, l, 1, 0);
        put(1, l, c, s);
        break;
      case GateKind::kRZZ:
        put(0, l, c, -s);
        put(1, l, c, s);
        put(2, l, c, s);
        put(3, l, c, -s);
        break;
      default: {  // RXX, RYY: cos on the diagonal, -i sin on the anti-diagonal (|00><11| sign flips for YY)
        const double yy = kind == GateKind::kRYY ? -1.0 : 1.0;
        for (int e = 0; e < 16; ++e) put(e, l, 0, 0);
        for (int i = 0; i < 4; ++i) put(i * 5, l, c, 0);
        put(3, l, 0, -s * yy);
        put(12, l, 0, -s * yy);
        put(6, l, 0, -s);
        put(9, l, 0, -s);
        break;
      }
    }
  }
  return true;
}

// The 2^k x 2^k matrix of a circuit op at angles a.
void OpMatrix(const OpSpec& spec, const double* a, cdouble* m) {
  if (spec.kind == GateKind::kUnitary)
    std::copy(spec.matrix.begin(), spec.matrix.end(), m);
  else
    GateMatrix(spec.kind, a, m);
}

// Complex products written out in reals (std::complex's operator* checks for NaN / inf on every product).
inline cdouble CMul(cdouble x, cdouble y) {
  return {x.real() * y.real() - x.imag() * y.imag(), x.real() * y.imag() + x.imag() * y.real()};
}

void Mul2(const cdouble* a, const cdouble* b, cdouble* out) {
  const cdouble r0 = CMul(a[0], b[0]) + CMul(a[1], b[2]), r1 = CMul(a[0], b[1]) + CMul(a[1], b[3]);
  const cdouble r2 = CMul(a[2], b[0]) + CMul(a[3], b[2]), r3 = CMul(a[2], b[1]) + CMul(a[3], b[3]);
  out[0] = r0;
  out[1] = r1;
  out[2] = r2;
  out[3] = r3;
}

void Dagger2(const cdouble* a, cdouble* out) {
  const cdouble t = a[1];
  out[0] = std::conj(a[0]);
  out[1] = std::conj(a[2]);
  out[2] = std::conj(t);
  out[3] = std::conj(a[3]);
}

// Per-lane matrices U_l = cos(h_l) S + sin(h_l) T of `count` fused input rotations from their half-angles
// h [count, V]; st [count, 16] holds S then T (re, im of the 4 entries each); dst[f] is step f's matrix
// in the op layout. One vectorized sincos over all count x V angles (common/simd_math.h), compiled for
// AVX2 and the baseline (picked at load time); scratch holds 2 count V doubles.
template <int VL, typename Real>
__attribute__((always_inline)) inline void FusedLaneMatricesImpl(const double* half, int64_t count, int64_t v,
                                                                 const double* st, Real* const* dst, double* scratch) {
  const int64_t V = VL ? VL : v;
  double* __restrict sn = scratch;
  double* __restrict cs = scratch + count * V;
  SinCosArray(half, sn, cs, count * V);
  for (int64_t f = 0; f < count; ++f) {
    const double* m = st + 16 * f;
    const double* __restrict c = cs + f * V;
    const double* __restrict s = sn + f * V;
    for (int e = 0; e < 4; ++e) {
      const double sr = m[2 * e], si = m[2 * e + 1], tr = m[8 + 2 * e], ti = m[9 + 2 * e];
      Real* __restrict dr = dst[f] + 2 * e * V;
      Real* __restrict di = dst[f] + (2 * e + 1) * V;
      for (int64_t l = 0; l < V; ++l) {
        dr[l] = static_cast<Real>(c[l] * sr + s[l] * tr);
        di[l] = static_cast<Real>(c[l] * si + s[l] * ti);
      }
    }
  }
}
NEXTRL_TARGET_CLONES_AVX2 __attribute__((flatten)) void FusedLaneMatrices(const double* half, int64_t count, int64_t V,
                                                                          const double* st, double* const* dst,
                                                                          double* scratch) {
  if (V == 8) return FusedLaneMatricesImpl<8>(half, count, V, st, dst, scratch);
  if (V == 16) return FusedLaneMatricesImpl<16>(half, count, V, st, dst, scratch);
  FusedLaneMatricesImpl<0>(half, count, V, st, dst, scratch);
}
NEXTRL_TARGET_CLONES_AVX2 __attribute__((flatten)) void FusedLaneMatrices(const double* half, int64_t count, int64_t V,
                                                                          const double* st, float* const* dst,
                                                                          double* scratch) {
  if (V == 8) return FusedLaneMatricesImpl<8>(half, count, V, st, dst, scratch);
  if (V == 16) return FusedLaneMatricesImpl<16>(half, count, V, st, dst, scratch);
  FusedLaneMatricesImpl<0>(half, count, V, st, dst, scratch);
}

bool IsPauliRotation1(GateKind kind) { return kind == GateKind::kRX || kind == GateKind::kRY || kind == GateKind::kRZ; }

// The Pauli matrix of RX / RY / RZ (R = cos(th / 2) I - i sin(th / 2) P).
void Pauli1(GateKind kind, cdouble* p) {
  const cdouble I(0.0, 1.0);
  if (kind == GateKind::kRX) {
    p[0] = 0;
    p[1] = 1;
    p[2] = 1;
    p[3] = 0;
  } else if (kind == GateKind::kRY) {
    p[0] = 0;
    p[1] = -I;
    p[2] = I;
    p[3] = 0;
  } else {
    p[0] = 1;
    p[1] = 0;
    p[2] = 0;
    p[3] = -1;
  }
}

}  // namespace

BatchPlan::BatchPlan(int num_qubits, std::vector<OpSpec> ops, std::vector<SlotSpec> slots, int num_weights,
                     int num_features, int num_scales, std::vector<PauliTerm> terms, int num_outputs,
                     std::vector<int> prob_qubits)
    : n_(num_qubits),
      ops_(std::move(ops)),
      slots_(std::move(slots)),
      num_weights_(num_weights),
      num_features_(num_features),
      num_scales_(num_scales),
      terms_(std::move(terms)),
      num_outputs_(num_outputs),
      prob_qubits_(std::move(prob_qubits)),
      isa_(DetectIsa()) {
  NEXTRL_CHECK(n_ >= 1 && n_ <= kMaxBatchQubits, std::invalid_argument, "BatchPlan: num_qubits must be in [1, ",
               kMaxBatchQubits, "], got ", n_);
  // Reuse Plan's validation of gates, qubits and parameter indices.
  Plan check(n_, ops_, static_cast<int>(slots_.size()), 0, 1);
  for (size_t p = 0; p < slots_.size(); ++p) {
    const SlotSpec& sl = slots_[p];
    const int limit = sl.kind == SlotKind::kWeight ? num_weights_ : num_features_;
    NEXTRL_CHECK(sl.index >= 0 && sl.index < limit, std::out_of_range, "BatchPlan: slot ", p, " index ", sl.index,
                 " out of range for ", limit);
    NEXTRL_CHECK(sl.kind != SlotKind::kScaledInput || (sl.scale >= 0 && sl.scale < num_scales_), std::out_of_range,
                 "BatchPlan: slot ", p, " scale ", sl.scale, " out of range for ", num_scales_);
  }
  for (const PauliTerm& t : terms_)
    NEXTRL_CHECK(t.output >= 0 && t.output < num_outputs_ && (t.x >> n_) == 0 && (t.z >> n_) == 0, std::out_of_range,
                 "BatchPlan: observable term out of range");
  if (!prob_qubits_.empty()) num_outputs_ = 1 << prob_qubits_.size();
  for (int q : prob_qubits_)
    NEXTRL_CHECK(q >= 0 && q < n_, std::out_of_range, "BatchPlan: qubit ", q, " out of range for ", n_, " qubits");
  for (const OpSpec& spec : ops_) {
    const int k = static_cast<int>(spec.targets.size());
    NEXTRL_CHECK(k <= 2, std::invalid_argument, "BatchPlan: gates on more than 2 target qubits are not supported, got ",
                 k);
    OpPlan p{};
    p.op.k = k;
    for (int t = 0; t < k; ++t) p.op.targets[t] = spec.targets[t];
    for (size_t c = 0; c < spec.controls.size(); ++c) {
      p.op.cmask |= 1u << spec.controls[c];
      if (spec.ctrl_state >> c & 1) p.op.cval |= 1u << spec.controls[c];
    }
    GateClass cls = Info(spec.kind).cls;
    const int d = 1 << k;
    if (spec.kind == GateKind::kUnitary) {
      bool diag = true;
      for (int r = 0; r < d; ++r)
        for (int c = 0; c < d; ++c) diag &= r == c || spec.matrix[r * d + c] == cdouble(0);
      cls = diag ? GateClass::kDiagonal : GateClass::kDense;
    }
    if (cls == GateClass::kMonomial) {
      std::vector<cdouble> m(static_cast<size_t>(d * d));
      GateMatrix(spec.kind, nullptr, m.data());
      for (int r = 0; r < d; ++r)
        for (int c = 0; c < d; ++c)
          if (m[r * d + c] != cdouble(0)) p.op.perm[r] = c;
    }
    p.op.cls = cls == GateClass::kDiagonal   ? kLocalDiagonal
               : cls == GateClass::kMonomial ? kLocalMonomial
                                             : kLocalDense;
    p.dense = cls == GateClass::kDense;
    p.entries = p.dense ? d * d : d;
    plans_.push_back(p);
  }
  lanes_ = n_ <= 6 ? 16 : n_ <= 12 ? 8 : 1;  // tiles stay in L1 (16 lanes x 2^6 x 32 B = 32 KiB for psi and lam)
  BuildSteps();
}

bool BatchPlan::InputDependent(const OpSpec& spec) const {
  for (const ParamRef& p : spec.angles)
    if (p.index >= 0 && slots_[static_cast<size_t>(p.index)].kind != SlotKind::kWeight) return true;
  return false;
}

void BatchPlan::BuildSteps() {
  struct Pending {
    int lane = -1;            // an input rotation RX / RY / RZ that starts the group
    std::vector<int> shared;  // shared 1-qubit gates (after the rotation)
  };
  std::vector<Pending> pending(static_cast<size_t>(n_));
  bool diag_open = false;  // the last step is a kDiag that later diagonal ops may join
  uint64_t diag_qubits = 0;
  auto emit = [&](StepPlan st, uint64_t qubits) {
    // A step on qubits the open diagonal does not touch commutes with it: put it first, keep the run open.
    if (diag_open && (qubits & diag_qubits) == 0) {
      steps_.insert(steps_.end() - 1, std::move(st));
      return;
    }
    steps_.push_back(std::move(st));
    diag_open = false;
  };
  auto flush = [&](int q) {
    Pending& pq = pending[q];
    if (pq.lane < 0 && pq.shared.empty()) return;
    StepPlan st{pq.lane >= 0 ? StepKind::kLane1 : StepKind::kShared1, q, {}, pq.lane >= 0, {}, {}, pq.lane >= 0};
    if (pq.lane >= 0) st.ops.push_back(pq.lane);
    st.ops.insert(st.ops.end(), pq.shared.begin(), pq.shared.end());
    pq = Pending{};
    emit(std::move(st), uint64_t{1} << q);
  };
  for (int k = 0; k < static_cast<int>(ops_.size()); ++k) {
    const OpSpec& spec = ops_[k];
    const bool one_qubit = spec.targets.size() == 1 && spec.controls.empty();
    const bool input = InputDependent(spec);
    if (one_qubit && !input) {
      pending[spec.targets[0]].shared.push_back(k);
      continue;
    }
    if (one_qubit) {
      const int q = spec.targets[0];
      flush(q);
      if (IsPauliRotation1(spec.kind)) {
        pending[q].lane = k;
      } else {
        emit({StepKind::kLane1, q, {k}, true, {}, {}}, uint64_t{1} << q);
      }
      continue;
    }
    uint64_t qubits = 0;
    for (int q : spec.targets) qubits |= uint64_t{1} << q;
    for (int q : spec.controls) qubits |= uint64_t{1} << q;
    for (int q = 0; q < n_; ++q)
      if (qubits >> q & 1) flush(q);
    bool constant = true;
    for (const ParamRef& p : spec.angles) constant &= p.index < 0;
    if (constant && plans_[k].op.cls == kLocalDiagonal && n_ <= kMaxDiagQubits) {
      if (!diag_open) {
        steps_.push_back({StepKind::kDiag, -1, {}, false, {}, {}});
        diag_open = true;
        diag_qubits = 0;
      }
      steps_.back().ops.push_back(k);
      diag_qubits |= qubits;
    } else {
      steps_.push_back({StepKind::kOp, -1, {k}, input, {}, {}});
      diag_open = false;
    }
  }
  for (int q = 0; q < n_; ++q) flush(q);
  for (StepPlan& st : steps_) {
    if (st.kind != StepKind::kDiag) continue;
    std::vector<cdouble> d(static_cast<size_t>(1) << n_, cdouble(1.0));
    cdouble m[16];
    for (int k : st.ops) {
      const OpSpec& spec = ops_[k];
      const LocalOp& op = plans_[k].op;
      double a[3];
      for (size_t i = 0; i < spec.angles.size(); ++i) a[i] = spec.angles[i].offset;
      OpMatrix(spec, a, m);
      const int dim = 1 << op.k;
      for (size_t j = 0; j < d.size(); ++j) {
        if ((j & op.cmask) != op.cval) continue;
        int c = 0;
        for (int t = 0; t < op.k; ++t) c |= static_cast<int>(j >> op.targets[t] & 1) << t;
        d[j] *= m[c * dim + c];
      }
    }
    for (size_t j = 0; j < d.size(); ++j) {
      if (d[j] == cdouble(1.0)) continue;
      st.diag_index.push_back(static_cast<int64_t>(j));
      st.diag_value.push_back(d[j].real());
      st.diag_value.push_back(d[j].imag());
    }
  }
  for (size_t p = 0; p < slots_.size(); ++p)
    if (slots_[p].kind != SlotKind::kWeight) input_slots_.push_back(static_cast<int>(p));
  for (size_t i = 0; i < steps_.size(); ++i)
    if (steps_[i].fused) fused_lane_steps_.push_back(static_cast<int>(i));
  report_ = StepReport{};
  report_.num_ops = static_cast<int>(ops_.size());
  report_.num_steps = static_cast<int>(steps_.size());
  for (const StepPlan& st : steps_) {
    switch (st.kind) {
      case StepKind::kShared1:
        ++report_.shared_1q;
        break;
      case StepKind::kLane1:
        ++report_.lane_1q;
        break;
      case StepKind::kOp:
        ++report_.op_steps;
        break;
      case StepKind::kDiag:
        ++report_.diagonal_steps;
        report_.diagonal_ops += static_cast<int>(st.ops.size());
        break;
    }
    if (st.kind == StepKind::kShared1 || st.kind == StepKind::kLane1)
      report_.merged_1q += static_cast<int>(st.ops.size()) - 1;
    report_.fused_rotations += st.fused ? 1 : 0;
  }
}

void BatchPlan::set_lanes(int lanes) {
  NEXTRL_CHECK(lanes >= 1 && lanes <= kMaxLanes && (lanes & (lanes - 1)) == 0, std::invalid_argument,
               "BatchPlan.lanes: must be a power of two in [1, ", kMaxLanes, "], got ", lanes);
  lanes_ = lanes;
}

void BatchPlan::set_isa(Isa isa) {
  NEXTRL_CHECK(static_cast<int>(isa) >= 0 && static_cast<int>(isa) <= static_cast<int>(DetectIsa()),
               std::invalid_argument, "BatchPlan.isa: not supported on this CPU or build");
  isa_ = isa;
}

void BatchPlan::SlotValues(int64_t b, const double* x, const double* w, const double* s, double* theta,
                           int64_t stride) const {
  for (size_t p = 0; p < slots_.size(); ++p) {
    const SlotSpec& sl = slots_[p];
    switch (sl.kind) {
      case SlotKind::kWeight:
        theta[p * stride] = w[sl.index];
        break;
      case SlotKind::kInput:
        theta[p * stride] = x[b * num_features_ + sl.index];
        break;
      case SlotKind::kScaledInput:
        theta[p * stride] = s[sl.scale] * x[b * num_features_ + sl.index];
        break;
    }
  }
}

int64_t BatchPlan::LanesFor(int64_t batch) const {
  int64_t v = 1;
  while (v < batch && v < lanes_) v *= 2;
  return v;
}

template <typename Real>
BatchPlan::Workspace<Real> BatchPlan::MakeWorkspace(int64_t lanes) const {
  Workspace<Real> ws;
  const int64_t V = lanes;
  ws.lanes = lanes;
  ws.state.assign(static_cast<size_t>(4 * (int64_t{1} << n_) * V), Real(0));
  ws.offset.resize(steps_.size());
  ws.ops.resize(steps_.size());
  int64_t total = 0;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const StepPlan& st = steps_[i];
    LocalOp op{};
    int64_t entries = 4;
    if (st.kind == StepKind::kOp) {
      op = plans_[st.ops[0]].op;
      entries = plans_[st.ops[0]].entries;
    } else if (st.kind == StepKind::kDiag) {
      entries = 0;
    } else {
      op.cls = kLocalDense;
      op.k = 1;
      op.targets[0] = st.target;
    }
    op.mat = total;
    ws.offset[i] = total;
    ws.ops[i] = op;
    total += 2 * entries * V;
  }
  ws.arena.assign(static_cast<size_t>(total), Real(0));
  ws.theta.assign(slots_.size() * static_cast<size_t>(V), 0.0);
  ws.vals.assign(static_cast<size_t>(num_outputs_ * V), 0.0);
  ws.deriv.assign(static_cast<size_t>(2 * 16 * V), Real(0));
  ws.overlap.assign(static_cast<size_t>(8 * V), Real(0));
  ws.half_angles.assign(3 * fused_lane_steps_.size() * static_cast<size_t>(V), 0.0);
  return ws;
}

// Matrices of the steps without input angles (the same in every lane) from the weights; and for every
// angle inside a shared 1-qubit step its gradient matrix
//   Q_j = A_j (dG_j / d angle) G_j^dagger A_j^dagger,   A_j = G_m ... G_{j+1} (the gates after it),
// so that dL/d angle = 2 Re <lam|Q_j|psi> = 2 Re sum_ab Q_ab M_ab at the step's output.
std::shared_ptr<const BatchPlan::SharedCore> BatchPlan::MakeCore(const double* w, bool grads) const {
  auto core = std::make_shared<SharedCore>();
  core->weights.assign(w, w + num_weights_);
  core->grads = grads;
  core->mats.resize(steps_.size());
  core->lane_mats.resize(steps_.size());
  auto angles_of = [&](const OpSpec& spec, double* a) {
    for (size_t i = 0; i < spec.angles.size(); ++i) {
      const ParamRef& p = spec.angles[i];
      a[i] = p.index >= 0 ? p.scale * w[slots_[static_cast<size_t>(p.index)].index] + p.offset : p.offset;
    }
  };
  for (size_t i = 0; i < steps_.size(); ++i) {
    const StepPlan& st = steps_[i];
    if (st.kind == StepKind::kShared1 || st.fused) {
      const size_t first = st.fused ? 1 : 0, count = st.ops.size() - first;
      cdouble suffix[4] = {1.0, 0.0, 0.0, 1.0};  // A_j, then the whole product S
      for (size_t j = count; j-- > 0;) {
        const OpSpec& spec = ops_[st.ops[first + j]];
        double a[3];
        cdouble gj[4];
        angles_of(spec, a);
        OpMatrix(spec, a, gj);
        for (size_t ai = 0; grads && ai < spec.angles.size(); ++ai) {
          const ParamRef& p = spec.angles[ai];
          if (p.index < 0) continue;
          cdouble d[4], gd[4], ad[4], t[4];
          SharedGrad sg{static_cast<int>(i), p.index, p.scale, {}};
          GateDerivative(spec.kind, a, static_cast<int>(ai), d);
          Dagger2(gj, gd);
          Dagger2(suffix, ad);
          Mul2(d, gd, t);
          Mul2(suffix, t, t);
          Mul2(t, ad, sg.q);
          core->grads_list.push_back(sg);
        }
        Mul2(suffix, gj, suffix);
      }
      std::copy(suffix, suffix + 4, core->mats[i].begin());
      if (!st.fused) continue;
      // U_l = cos S + sin T with T = -i S P; the input angle's Q = S (-i P / 2) S^dagger.
      std::array<cdouble, 12>& lm = core->lane_mats[i];
      cdouble pauli[4], sp[4], sd[4], q[4] = {};
      Pauli1(ops_[st.ops[0]].kind, pauli);
      Mul2(suffix, pauli, sp);
      Dagger2(suffix, sd);
      if (grads) Mul2(sp, sd, q);
      for (int e = 0; e < 4; ++e) {
        lm[e] = suffix[e];
        lm[4 + e] = cdouble(sp[e].imag(), -sp[e].real());  // -i sp
        lm[8 + e] = cdouble(0.5 * q[e].imag(), -0.5 * q[e].real());  // -i q / 2
      }
    } else if (st.kind == StepKind::kOp && !st.lane) {
      double a[3];
      angles_of(ops_[st.ops[0]], a);
      OpMatrix(ops_[st.ops[0]], a, core->mats[i].data());
    }
  }
  return core;
}

// The core for weights w: the cached one when the weights are unchanged (acting with a fixed policy
// calls forward many times with the same weights), else a new one.
std::shared_ptr<const BatchPlan::SharedCore> BatchPlan::Core(const double* w, bool grads) const {
  {
    std::lock_guard<std::mutex> lock(*core_mutex_);
    if (core_ && (core_->grads || !grads) && std::equal(core_->weights.begin(), core_->weights.end(), w)) return core_;
  }
  std::shared_ptr<const SharedCore> core = MakeCore(w, grads);
  std::lock_guard<std::mutex> lock(*core_mutex_);
  core_ = core;
  return core;
}

// Broadcasts the core's shared matrices into a workspace's per-lane layout (once per call and thread).
template <typename Real>
void BatchPlan::FillShared(Workspace<Real>& ws) const {
  const int64_t V = ws.lanes;
  const SharedCore& core = *ws.core;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const StepPlan& st = steps_[i];
    if (st.lane || st.kind == StepKind::kDiag) continue;
    Real* dst = ws.arena.data() + ws.offset[i];
    for (int64_t l = 0; l < V; ++l) StoreLane(ws.ops[i], core.mats[i].data(), V, l, dst);
    LocalOp& op = ws.ops[i];
    if (st.kind == StepKind::kOp && op.cls == kLocalDiagonal) {  // skip entries that are exactly 1
      op.skip = 0;
      for (int c = 0; c < (1 << op.k); ++c)
        if (dst[2 * c * V] == Real(1) && dst[(2 * c + 1) * V] == Real(0)) op.skip |= 1u << c;
    }
  }
  // S and T of the fused input rotations, in the layout FusedLaneMatrices reads.
  const size_t fused = fused_lane_steps_.size();
  ws.fused_mats.resize(16 * fused);
  ws.fused_dst.resize(fused);
  for (size_t f = 0; f < fused; ++f) {
    const int i = fused_lane_steps_[f];
    const std::array<cdouble, 12>& lm = core.lane_mats[i];
    for (int e = 0; e < 8; ++e) {
      ws.fused_mats[16 * f + 2 * e] = lm[e].real();
      ws.fused_mats[16 * f + 2 * e + 1] = lm[e].imag();
    }
    ws.fused_dst[f] = ws.arena.data() + ws.offset[i];
  }
  ws.shared_ready = true;
}

// One tile: forward, and with g != nullptr the adjoint sweep.
//   out:       [batch, num_outputs] rows of this tile are written.
//   slot_grad: [num_slots, V] dL/d(slot) per lane (backward only).
template <typename Real>
void BatchPlan::RunTile(int64_t tile, int64_t batch, const double* x, const double* w, const double* s, const double* g,
                        double* out, double* slot_grad, Workspace<Real>& ws, Real* state_out,
                        const Real* state_in) const {
  if (ws.lanes == 8) return RunTileV<Real, 8>(tile, batch, x, w, s, g, out, slot_grad, ws, state_out, state_in);
  if (ws.lanes == 16) return RunTileV<Real, 16>(tile, batch, x, w, s, g, out, slot_grad, ws, state_out, state_in);
  RunTileV<Real, 0>(tile, batch, x, w, s, g, out, slot_grad, ws, state_out, state_in);
}

// The passes of one tile, in order: LaneMatrices (angles and per-lane gate matrices), ForwardPass (psi),
// ReadOut (expectations or probabilities), AdjointPass (lam and the sweep back over the steps). Each is
// inlined into RunTileV, so every pass of a tile runs in RunTileV's instruction-set clone.
//   ws.state: psi (re, im) then lam (re, im), each [2^n, V]; ws.theta: slot values [num_slots, V].

// angles a[] of `spec` in lane l from the tile's slot values theta [num_slots, V].
static inline void LaneAngles(const OpSpec& spec, const double* theta, int64_t V, int64_t l, double* a) {
  for (size_t i = 0; i < spec.angles.size(); ++i) {
    const ParamRef& p = spec.angles[i];
    a[i] = p.index >= 0 ? p.scale * theta[p.index * V + l] + p.offset : p.offset;
  }
}

// What the passes of one tile share, set up once per tile by RunTileV.
template <typename Real>
struct BatchPlan::Tile {
  LaneKernels<Real> K;
  int64_t size;     // 2^n
  Real* re;         // psi: re then im, each [2^n, V]
  Real* im;
  Real* lre;        // lam, the same layout
  Real* lim;
  Real* arena;      // per-lane matrices of the steps
  LocalOp* ops;     // step -> its LocalOp
  double* theta;    // slot values [num_slots, V]
};

// Slot values of the tile's lanes (padding lanes repeat the last sample) and the per-lane matrices of the
// steps with input angles; the shared matrices once per workspace (FillShared).
template <typename Real, int VL>
NEXTRL_ALWAYS_INLINE void BatchPlan::LaneMatrices(const Tile<Real>& t, int64_t tile, int64_t batch, const double* x,
                                                  const double* w, const double* s, Workspace<Real>& ws) const {
  const int64_t V = VL ? VL : ws.lanes;
  double* theta = t.theta;
  LocalOp* ops = t.ops;
  Real* arena = t.arena;
  for (int64_t l = 0; l < V; ++l) {
    const int64_t row = std::min(tile * V + l, batch - 1);  // padding lanes repeat the last sample
    double* th = theta + l;  // slot-major: theta[p * V + l]
    if (!ws.shared_ready) {
      SlotValues(row, x, w, s, th, V);
      continue;
    }
    for (int p : input_slots_) {
      const SlotSpec& sl = slots_[p];
      th[p * V] = sl.kind == SlotKind::kInput ? x[row * num_features_ + sl.index]
                                              : s[sl.scale] * x[row * num_features_ + sl.index];
    }
  }
  if (!ws.shared_ready) FillShared(ws);
  cdouble m[16];
  double lane_angle[kMaxLanes];
  // Per-lane matrices of the steps with input angles. The fused input rotations first: all their
  // half-angles of the tile in one vectorized sincos, then U_l = cos S + sin T.
  double* half = ws.half_angles.data();
  const int64_t fused = static_cast<int64_t>(fused_lane_steps_.size());
  for (int64_t f = 0; f < fused; ++f) {
    const ParamRef& p = ops_[steps_[fused_lane_steps_[f]].ops[0]].angles[0];
    for (int64_t l = 0; l < V; ++l) half[f * V + l] = 0.5 * (p.scale * theta[p.index * V + l] + p.offset);
  }
  FusedLaneMatrices(half, fused, V, ws.fused_mats.data(), ws.fused_dst.data(), half + fused * V);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const StepPlan& st = steps_[i];
    if (!st.lane) continue;
    const OpSpec& spec = ops_[st.ops[0]];
    Real* dst = arena + ws.offset[i];
    if (st.fused) continue;  // done above
    if (st.kind == StepKind::kOp && spec.angles.size() == 1) {
      const ParamRef& p = spec.angles[0];
      for (int64_t l = 0; l < V; ++l) lane_angle[l] = p.scale * theta[p.index * V + l] + p.offset;
      if (FillRotation(spec.kind, lane_angle, V, dst)) continue;
    }
    for (int64_t l = 0; l < V; ++l) {
      double a[3];
      LaneAngles(spec, theta, V, l, a);
      OpMatrix(spec, a, m);
      StoreLane(ops[i], m, V, l, dst);
    }
  }
}

// psi of the tile: |0> through every step, or the forward's kept final states (state_in); kept in
// state_out when asked.
template <typename Real, int VL>
NEXTRL_ALWAYS_INLINE void BatchPlan::ForwardPass(const Tile<Real>& t, int64_t tile, Workspace<Real>& ws,
                                                 Real* state_out, const Real* state_in) const {
  const LaneKernels<Real>& K = t.K;
  const int64_t V = VL ? VL : ws.lanes;
  const int64_t size = t.size;
  Real* re = t.re;
  Real* im = t.im;
  LocalOp* ops = t.ops;
  Real* arena = t.arena;
  const int64_t tile_size = 2 * size * V;  // psi of one tile: re then im
  if (state_in != nullptr) {  // the forward's final states, kept by Forward(..., state)
    std::copy(state_in + tile * tile_size, state_in + (tile + 1) * tile_size, re);
  } else {
    std::fill(re, re + 2 * size * V, Real(0));
    for (int64_t l = 0; l < V; ++l) re[l] = Real(1);
    for (size_t i = 0; i < steps_.size(); ++i) {
      const StepPlan& st = steps_[i];
      if (st.kind == StepKind::kDiag)
        K.diagonal(re, im, V, st.diag_index.data(), st.diag_value.data(), static_cast<int64_t>(st.diag_index.size()),
                   false);
      else
        K.apply(ops[i], re, im, n_, V, arena, false);
    }
    if (state_out != nullptr) std::copy(re, re + tile_size, state_out + tile * tile_size);
  }
}

// Outputs [batch, num_outputs]: the rows of the tile's real samples.
template <typename Real, int VL>
NEXTRL_ALWAYS_INLINE void BatchPlan::ReadOut(const Tile<Real>& t, int64_t tile, int64_t batch, Workspace<Real>& ws,
                                             double* out) const {
  const LaneKernels<Real>& K = t.K;
  const int64_t V = VL ? VL : ws.lanes;
  const int64_t size = t.size;
  const Real* re = t.re;
  const Real* im = t.im;
  const int A = num_outputs_;
  double vr[kMaxLanes], vi[kMaxLanes];
  static const cdouble kPhase[4] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
  std::vector<double>& vals = ws.vals;
  std::fill(vals.begin(), vals.end(), 0.0);
  if (prob_qubits_.empty()) {
    for (const PauliTerm& t : terms_) {
      K.pauli(re, im, n_, V, t.x, t.z, vr, vi);
      const cdouble c = t.coeff * kPhase[__builtin_popcountll(t.x & t.z) & 3];
      for (int64_t l = 0; l < V; ++l) vals[l * A + t.output] += (c * cdouble(vr[l], vi[l])).real();
    }
  } else {
    for (int64_t j = 0; j < size; ++j) {
      int64_t bin = 0;
      for (size_t q = 0; q < prob_qubits_.size(); ++q) bin |= ((j >> prob_qubits_[q]) & 1) << q;
      for (int64_t l = 0; l < V; ++l)
        vals[l * A + bin] += double(re[j * V + l]) * re[j * V + l] + double(im[j * V + l]) * im[j * V + l];
    }
  }
  for (int64_t l = 0; l < V; ++l) {
    const int64_t b = tile * V + l;
    if (b < batch) std::copy(vals.begin() + l * A, vals.begin() + (l + 1) * A, out + b * A);
  }
}

// The adjoint sweep (Jones & Gacon 2020): lam = sum_a g[b, a] O_a psi, then back over the steps, un-applying
// each from psi and lam and adding its angles' dL/d angle to slot_grad [num_slots, V].
template <typename Real, int VL>
NEXTRL_ALWAYS_INLINE void BatchPlan::AdjointPass(const Tile<Real>& t, int64_t tile, int64_t batch, const double* g,
                                                 double* __restrict slot_grad, Workspace<Real>& ws) const {
  const LaneKernels<Real>& K = t.K;
  const int64_t V = VL ? VL : ws.lanes;
  const int64_t size = t.size;
  Real* re = t.re;
  Real* im = t.im;
  Real* lre = t.lre;
  Real* lim = t.lim;
  const size_t num_slots = slots_.size();
  const double* theta = t.theta;
  LocalOp* ops = t.ops;
  Real* arena = t.arena;
  const int A = num_outputs_;
  cdouble m[16];
  double lane_angle[kMaxLanes];
  double vr[kMaxLanes], vi[kMaxLanes];
  static const cdouble kPhase[4] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
  // lam = sum_a g[b, a] O_a psi, so that dL/dth = 2 Re <lam| dpsi/dth>.
  std::fill(lre, lre + 2 * size * V, Real(0));
  if (prob_qubits_.empty()) {
    Real cr[kMaxLanes], ci[kMaxLanes];
    for (const PauliTerm& t : terms_) {
      const cdouble c = t.coeff * kPhase[__builtin_popcountll(t.x & t.z) & 3];
      for (int64_t l = 0; l < V; ++l) {
        const int64_t b = tile * V + l;
        const double gl = b < batch ? g[b * A + t.output] : 0.0;
        cr[l] = static_cast<Real>(gl * c.real());
        ci[l] = static_cast<Real>(gl * c.imag());
      }
      K.add_pauli(lre, lim, re, im, n_, V, t.x, t.z, cr, ci);
    }
  } else {
    for (int64_t j = 0; j < size; ++j) {
      int64_t bin = 0;
      for (size_t q = 0; q < prob_qubits_.size(); ++q) bin |= ((j >> prob_qubits_[q]) & 1) << q;
      for (int64_t l = 0; l < V; ++l) {
        const int64_t b = tile * V + l;
        const Real gl = b < batch ? static_cast<Real>(g[b * A + bin]) : Real(0);
        lre[j * V + l] = gl * re[j * V + l];
        lim[j * V + l] = gl * im[j * V + l];
      }
    }
  }
  std::fill(slot_grad, slot_grad + num_slots * V, 0.0);
  Real* deriv = ws.deriv.data();
  const Real* M = ws.overlap.data();
  const std::vector<SharedGrad>& shared_grads = ws.core->grads_list;
  size_t next_shared = shared_grads.size();  // shared_grads are in step order: walk them backwards
  for (size_t i = steps_.size(); i-- > 0;) {
    const StepPlan& st = steps_[i];
    if (st.kind == StepKind::kDiag) {
      const int64_t count = static_cast<int64_t>(st.diag_index.size());
      K.diagonal(re, im, V, st.diag_index.data(), st.diag_value.data(), count, true);
      K.diagonal(lre, lim, V, st.diag_index.data(), st.diag_value.data(), count, true);
      continue;
    }
    const OpSpec& spec = ops_[st.ops[0]];
    if (st.kind != StepKind::kOp) {
      // One pass: M at the step's output, then psi and lam un-apply the step.
      K.adjoint1(st.target, re, im, lre, lim, n_, V, arena + ws.offset[i], ws.overlap.data());
      if (next_shared > 0 && shared_grads[next_shared - 1].step == static_cast<int>(i)) {
        // Weight slots are summed over the batch: contract Q with M summed over the lanes (padding lanes
        // have lam = 0, so M = 0 there) and book the tile's total on lane 0.
        double msum[8];
        for (int e = 0; e < 8; ++e) {
          double acc = 0;
          for (int64_t l = 0; l < V; ++l) acc += M[e * V + l];
          msum[e] = acc;
        }
        while (next_shared > 0 && shared_grads[next_shared - 1].step == static_cast<int>(i)) {
          const SharedGrad& sg = shared_grads[--next_shared];
          double acc = 0;
          for (int e = 0; e < 4; ++e) acc += sg.q[e].real() * msum[2 * e] - sg.q[e].imag() * msum[2 * e + 1];
          slot_grad[sg.slot * V] += 2.0 * sg.scale * acc;
        }
      }
      if (st.kind == StepKind::kShared1) continue;
      if (st.fused) {  // the fused input rotation: its Q is shared
        const ParamRef& p = spec.angles[0];
        const std::array<cdouble, 12>& lm = ws.core->lane_mats[i];
        for (int64_t l = 0; l < V; ++l) {
          double acc = 0;
          for (int e = 0; e < 4; ++e)
            acc += lm[8 + e].real() * M[2 * e * V + l] - lm[8 + e].imag() * M[(2 * e + 1) * V + l];
          slot_grad[p.index * V + l] += 2.0 * p.scale * acc;
        }
        continue;
      }
      // A lone 1-qubit input gate: Q = dG G^dagger is diag(0, i) for P; computed per lane otherwise.
      for (size_t ai = 0; ai < spec.angles.size(); ++ai) {
        const ParamRef& p = spec.angles[ai];
        if (p.index < 0) continue;
        for (int64_t l = 0; l < V; ++l) {
          double d;  // dL/d angle
          switch (spec.kind) {
            case GateKind::kP:
              d = -2.0 * M[7 * V + l];
              break;
            default: {
              double a[3];
              cdouble gm[4], dm[4], gd[4], q[4];
              LaneAngles(spec, theta, V, l, a);
              OpMatrix(spec, a, gm);
              GateDerivative(spec.kind, a, static_cast<int>(ai), dm);
              Dagger2(gm, gd);
              Mul2(dm, gd, q);
              d = 0;
              for (int e = 0; e < 4; ++e)
                d += 2.0 * (q[e].real() * M[2 * e * V + l] - q[e].imag() * M[(2 * e + 1) * V + l]);
            }
          }
          slot_grad[p.index * V + l] += d * p.scale;
        }
      }
      continue;
    }
    K.apply(ops[i], re, im, n_, V, arena, true);  // psi_{k-1} = U_k^dagger psi_k
    for (size_t ai = 0; ai < spec.angles.size(); ++ai) {
      const ParamRef& p = spec.angles[ai];
      if (p.index < 0) continue;
      const bool pauli_rotation = spec.kind == GateKind::kRX || spec.kind == GateKind::kRY ||
                                  spec.kind == GateKind::kRZ || spec.kind == GateKind::kRXX ||
                                  spec.kind == GateKind::kRYY || spec.kind == GateKind::kRZZ;
      if (pauli_rotation) {  // dR/dth = R(th + pi) / 2
        for (int64_t l = 0; l < V; ++l) lane_angle[l] = p.scale * theta[p.index * V + l] + p.offset + M_PI;
        FillRotation(spec.kind, lane_angle, V, deriv);
        const int64_t count = 2 * plans_[st.ops[0]].entries * V;
        for (int64_t e = 0; e < count; ++e) deriv[e] *= Real(0.5);
      } else {
        for (int64_t l = 0; l < V; ++l) {
          double a[3];
          LaneAngles(spec, theta, V, l, a);
          GateDerivative(spec.kind, a, static_cast<int>(ai), m);
          StoreLane(ops[i], m, V, l, deriv);
        }
      }
      LocalOp dop = ops[i];
      dop.mat = 0;
      std::fill(vr, vr + V, 0.0);
      std::fill(vi, vi + V, 0.0);
      K.deriv(dop, lre, lim, re, im, n_, V, deriv, vr, vi);
      for (int64_t l = 0; l < V; ++l) slot_grad[p.index * V + l] += 2.0 * vr[l] * p.scale;
    }
    K.apply(ops[i], lre, lim, n_, V, arena, true);  // lam_{k-1} = U_k^dagger lam_k
  }
}

// RunTile with the lane count VL a compile-time constant (0: ws.lanes), so that lane loops unroll.
// The per-tile scalar work (angles, matrices of the lone input gates, read-outs, gradient contractions) in an AVX2
// clone too: its lane loops vectorize 4 wide there (no FMA and no reordered sums, so both clones agree bit for bit).
template <typename Real, int VL>
NEXTRL_TARGET_CLONES_AVX2 void BatchPlan::RunTileV(int64_t tile, int64_t batch, const double* x, const double* w,
                                                   const double* s, const double* g, double* out,
                                                   double* __restrict slot_grad, Workspace<Real>& ws, Real* state_out,
                                                   const Real* state_in) const {
  const int64_t V = VL ? VL : ws.lanes;
  const int64_t size = int64_t{1} << n_;
  Real* re = ws.state.data();
  const Tile<Real> t{
      Kernels<Real>(isa_), size,           re, re + size * V, re + 2 * size * V, re + 3 * size * V, ws.arena.data(),
      ws.ops.data(),       ws.theta.data()};
  LaneMatrices<Real, VL>(t, tile, batch, x, w, s, ws);
  ForwardPass<Real, VL>(t, tile, ws, state_out, state_in);
  if (out != nullptr) ReadOut<Real, VL>(t, tile, batch, ws, out);
  if (g != nullptr) AdjointPass<Real, VL>(t, tile, batch, g, slot_grad, ws);
}

template <typename Real>
void BatchPlan::Forward(const double* x, int64_t batch, const double* w, const double* s, double* out,
                        Real* state) const {
  const std::shared_ptr<const SharedCore> core = Core(w, false);
  const int64_t V = LanesFor(batch);
  const int64_t tiles = (batch + V - 1) / V;
  if (tiles == 1) {
    // One tile (small batches; B = 1 when acting): no parallel region, and the plan's cached workspace
    // when no other call holds it, with its shared matrices kept while the weights' core is the same.
    std::unique_lock<std::mutex> lock(*cache_mutex_, std::try_to_lock);
    if (lock.owns_lock()) {
      CachedWorkspace<Real>& c = Cached<Real>();
      if (c.ws == nullptr || c.ws->lanes != V) {
        c.ws = std::make_unique<Workspace<Real>>(MakeWorkspace<Real>(V));
        c.core = nullptr;
      }
      if (c.core != core) {  // c.core pins the old core, so equal pointers mean the same matrices
        c.core = core;
        c.ws->core = core.get();
        c.ws->shared_ready = false;
      }
      RunTile<Real>(0, batch, x, w, s, nullptr, out, nullptr, *c.ws, state, nullptr);
      return;
    }
  }
  auto workspace = [&] {
    Workspace<Real> ws = MakeWorkspace<Real>(V);
    ws.core = core.get();
    return ws;
  };
  ParallelForLocal(tiles, true, workspace, [&](Workspace<Real>& ws, int64_t t) {
    RunTile<Real>(t, batch, x, w, s, nullptr, out, nullptr, ws, state, nullptr);
  });
}

template <typename Real>
void BatchPlan::Backward(const double* x, int64_t batch, const double* w, const double* s, const double* g, double* out,
                         double* dw, double* dx, double* ds, const Real* state) const {
  const std::shared_ptr<const SharedCore> core = Core(w, true);
  const int64_t V = LanesFor(batch);
  const int64_t tiles = (batch + V - 1) / V;
  const size_t num_slots = slots_.size();
  // Per-tile partial sums of the weight and scale gradients, added in tile order below.
  std::vector<double> part_w(static_cast<size_t>(tiles * num_weights_), 0.0);
  std::vector<double> part_s(static_cast<size_t>(tiles * num_scales_), 0.0);
  std::fill(dx, dx + batch * num_features_, 0.0);
  struct Local {  // per thread: a workspace and the tile's per-slot, per-lane gradients
    Workspace<Real> ws;
    std::vector<double> grad;
  };
  auto local = [&] {
    Local l{MakeWorkspace<Real>(V), std::vector<double>(num_slots * static_cast<size_t>(V))};
    l.ws.core = core.get();
    return l;
  };
  ParallelForLocal(tiles, true, local, [&](Local& loc, int64_t t) {
    const std::vector<double>& grad = loc.grad;
    RunTile<Real>(t, batch, x, w, s, g, out, loc.grad.data(), loc.ws, nullptr, state);
    const int64_t live = std::min<int64_t>(V, batch - t * V);  // lanes holding real samples
    for (size_t p = 0; p < num_slots; ++p) {
      const double* gp = grad.data() + p * V;
      const SlotSpec& sl = slots_[p];
      switch (sl.kind) {
        case SlotKind::kWeight: {
          double sum = 0;
          for (int64_t l = 0; l < live; ++l) sum += gp[l];
          part_w[t * num_weights_ + sl.index] += sum;
          break;
        }
        case SlotKind::kInput:
          for (int64_t l = 0; l < live; ++l) dx[(t * V + l) * num_features_ + sl.index] += gp[l];
          break;
        case SlotKind::kScaledInput: {
          double sum = 0;
          for (int64_t l = 0; l < live; ++l) {
            const int64_t b = t * V + l;
            dx[b * num_features_ + sl.index] += gp[l] * s[sl.scale];
            sum += gp[l] * x[b * num_features_ + sl.index];
          }
          part_s[t * num_scales_ + sl.scale] += sum;
          break;
        }
      }
    }
  });
  std::fill(dw, dw + num_weights_, 0.0);
  std::fill(ds, ds + num_scales_, 0.0);
  for (int64_t t = 0; t < tiles; ++t) {
    for (int i = 0; i < num_weights_; ++i) dw[i] += part_w[t * num_weights_ + i];
    for (int i = 0; i < num_scales_; ++i) ds[i] += part_s[t * num_scales_ + i];
  }
}

template void BatchPlan::Forward<float>(const double*, int64_t, const double*, const double*, double*, float*) const;
template void BatchPlan::Forward<double>(const double*, int64_t, const double*, const double*, double*, double*) const;
template void BatchPlan::Backward<float>(const double*, int64_t, const double*, const double*, const double*, double*,
                                         double*, double*, double*, const float*) const;
template void BatchPlan::Backward<double>(const double*, int64_t, const double*, const double*, const double*, double*,
                                          double*, double*, double*, const double*) const;

}  // namespace nextrl::quantum
