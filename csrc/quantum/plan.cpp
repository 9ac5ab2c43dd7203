#include "quantum/plan.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "common/check.h"
#include "common/parallel.h"
#include "quantum/fuse.h"

namespace nextrl::quantum {

// Per-ISA kernels (kernels_<isa>.cpp).
#define NEXTRL_DECLARE_ISA(ns)                                                                           \
  namespace ns {                                                                                         \
  template <typename Real>                                                                               \
  void RunBlock(Real* state, const BlockGeometry& g, const LocalOp* ops, int num_ops, const Real* arena, \
                Real* scratch, bool parallel);                                                           \
  }
NEXTRL_DECLARE_ISA(generic)
#ifdef NEXTRL_HAVE_AVX2
NEXTRL_DECLARE_ISA(avx2)
#endif
#ifdef NEXTRL_HAVE_AVX512
NEXTRL_DECLARE_ISA(avx512)
#endif
#undef NEXTRL_DECLARE_ISA

Isa DetectIsa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
#ifdef NEXTRL_HAVE_AVX512
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma"))
    return Isa::kAvx512;
#endif
#ifdef NEXTRL_HAVE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
#endif
  return Isa::kGeneric;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "generic";
  }
}

namespace {

template <typename Real>
void Dispatch(Isa isa, Real* state, const BlockGeometry& g, const LocalOp* ops, int num_ops, const Real* arena,
              Real* scratch, bool parallel) {
  switch (isa) {
#ifdef NEXTRL_HAVE_AVX512
    case Isa::kAvx512:
      return avx512::RunBlock(state, g, ops, num_ops, arena, scratch, parallel);
#endif
#ifdef NEXTRL_HAVE_AVX2
    case Isa::kAvx2:
      return avx2::RunBlock(state, g, ops, num_ops, arena, scratch, parallel);
#endif
    default:
      return generic::RunBlock(state, g, ops, num_ops, arena, scratch, parallel);
  }
}

uint64_t QubitMask(const OpSpec& op) {
  uint64_t mask = 0;
  for (int q : op.targets) mask |= uint64_t{1} << q;
  for (int q : op.controls) mask |= uint64_t{1} << q;
  return mask;
}

int NumTargets(const OpSpec& op) { return static_cast<int>(op.targets.size()); }

bool IsDiagonal(const std::vector<cdouble>& m, int d) {
  for (int r = 0; r < d; ++r)
    for (int c = 0; c < d; ++c)
      if (r != c && m[r * d + c] != cdouble(0)) return false;
  return true;
}

// States above this size are processed by several threads.
constexpr int kMinParallelQubits = 14;
// Lanes per local element: runs of at least 2^kMinLaneBits elements keep every op vectorized.
constexpr int kMinLaneBits = 3;

}  // namespace

Plan::Plan(int num_qubits, std::vector<OpSpec> ops, int num_params, int max_fused_qubits, int local_bits)
    : num_qubits_(num_qubits), num_params_(num_params), ops_(std::move(ops)), isa_(DetectIsa()) {
  NEXTRL_CHECK(num_qubits >= 1 && num_qubits <= 62, std::invalid_argument, "Plan: num_qubits must be in [1, 62], got ",
               num_qubits);
  NEXTRL_CHECK(num_params >= 0, std::invalid_argument, "Plan: num_params must be >= 0, got ", num_params);
  NEXTRL_CHECK(local_bits >= 1 && local_bits <= 20, std::invalid_argument, "Plan: local_bits must be in [1, 20], got ",
               local_bits);
  NEXTRL_CHECK(max_fused_qubits <= kMaxLocalTargets, std::invalid_argument,
               "Plan: max_fused_qubits must be <= ", kMaxLocalTargets, ", got ", max_fused_qubits);
  Validate();
  std::vector<uint64_t> masks;
  masks.reserve(ops_.size());
  for (const OpSpec& op : ops_) masks.push_back(QubitMask(op));
  const int fuse = max_fused_qubits <= 0 ? 0 : std::min(max_fused_qubits, num_qubits);
  const std::vector<FusedBlock> fused = FuseGates(masks, num_qubits, fuse);
  report_.num_ops = static_cast<int>(ops_.size());
  report_.max_qubits = fuse;
  double total = 0;
  for (const FusedBlock& b : fused) {
    BuildBlock(b.qubits, b.ops, local_bits);
    const int m = std::popcount(b.qubits);
    report_.largest_block = std::max(report_.largest_block, m);
    total += m;
  }
  report_.num_blocks = static_cast<int>(blocks_.size());
  report_.mean_block_qubits = blocks_.empty() ? 0.0 : total / static_cast<double>(blocks_.size());
}

void Plan::set_isa(Isa isa) {
  NEXTRL_CHECK(static_cast<int>(isa) >= 0 && static_cast<int>(isa) <= static_cast<int>(DetectIsa()),
               std::invalid_argument, "Plan.isa: must be one this CPU and build support (best: ", IsaName(DetectIsa()),
               "), got ", static_cast<int>(isa));
  isa_ = isa;
}

void Plan::Validate() const {
  const int n = num_qubits_;
  for (size_t i = 0; i < ops_.size(); ++i) {
    const OpSpec& op = ops_[i];
    const int kind = static_cast<int>(op.kind);
    NEXTRL_CHECK(kind >= 0 && kind < static_cast<int>(GateKind::kCount), std::invalid_argument, "Plan: op ", i,
                 " has unknown gate kind ", kind);
    const GateInfo info = Info(op.kind);
    const int k = NumTargets(op);
    if (op.kind == GateKind::kUnitary) {
      NEXTRL_CHECK(k >= 1 && k <= kMaxDenseTargets, std::invalid_argument, "Plan: op ", i,
                   ": unitary must act on 1 to ", kMaxDenseTargets, " qubits, got ", k);
      const size_t d = size_t{1} << k;
      NEXTRL_CHECK(op.matrix.size() == d * d, std::invalid_argument, "Plan: op ", i, ": unitary on ", k,
                   " qubits needs ", d * d, " matrix entries, got ", op.matrix.size());
    } else {
      NEXTRL_CHECK(k == info.num_targets, std::invalid_argument, "Plan: op ", i, " needs ", info.num_targets,
                   " target qubits, got ", k);
    }
    NEXTRL_CHECK(static_cast<int>(op.angles.size()) == info.num_params, std::invalid_argument, "Plan: op ", i,
                 " needs ", info.num_params, " angles, got ", op.angles.size());
    for (const ParamRef& p : op.angles)
      NEXTRL_CHECK(p.index < num_params_, std::out_of_range, "Plan: op ", i, " uses parameter ", p.index,
                   " but the plan has ", num_params_);
    NEXTRL_CHECK(op.controls.size() + static_cast<size_t>(k) <= static_cast<size_t>(kMaxLocalTargets),
                 std::invalid_argument, "Plan: op ", i, " acts on more than ", kMaxLocalTargets, " qubits");
    uint64_t seen = 0;
    for (const std::vector<int>* list : {&op.targets, &op.controls}) {
      for (int q : *list) {
        NEXTRL_CHECK(q >= 0 && q < n, std::out_of_range, "Plan: op ", i, ": qubit ", q, " out of range for ", n,
                     " qubits");
        NEXTRL_CHECK(!(seen >> q & 1), std::invalid_argument, "Plan: op ", i, ": qubit ", q, " appears twice");
        seen |= uint64_t{1} << q;
      }
    }
  }
}

void Plan::BuildBlock(uint64_t mask, const std::vector<int>& op_ids, int local_bits) {
  const int n = num_qubits_;
  BlockPlan b;
  int local_of[64];
  for (int q = 0; q < n; ++q) {
    local_of[q] = -1;
    if (mask >> q & 1) {
      local_of[q] = static_cast<int>(b.qubits.size());
      b.qubits.push_back(q);
    }
  }
  const int m = static_cast<int>(b.qubits.size());
  b.v = std::min(n - m, std::max(local_bits - m, kMinLaneBits));
  std::vector<int> lanes;
  for (int q = 0; q < n; ++q) {
    if (mask >> q & 1) continue;
    if (static_cast<int>(lanes.size()) < b.v)
      lanes.push_back(q);
    else
      b.outer_pos.push_back(q);
  }
  b.lanes_contiguous = true;
  for (int l = 0; l < b.v; ++l) b.lanes_contiguous &= lanes[l] == l;
  auto offsets = [](const std::vector<int>& bits) {
    std::vector<int64_t> off(size_t{1} << bits.size());
    for (size_t j = 0; j < off.size(); ++j) {
      int64_t o = 0;
      for (size_t i = 0; i < bits.size(); ++i)
        if (j >> i & 1) o |= int64_t{1} << bits[i];
      off[j] = o;
    }
    return off;
  };
  b.off_local = offsets(b.qubits);
  b.off_lane = offsets(lanes);

  std::vector<int> last_touch(static_cast<size_t>(m), -1);  // program index per local bit
  for (int id : op_ids) {
    const OpSpec& spec = ops_[id];
    const int k = NumTargets(spec);
    const bool single = k == 1 && spec.controls.empty();
    if (single) {
      const int t = local_of[spec.targets[0]];
      const int prev = last_touch[t];
      if (prev >= 0) {
        LocalOpPlan& p = b.program[prev];
        if (p.op.k == 1 && p.op.cmask == 0) {
          p.sources.push_back(id);
          const GateClass cls = Info(spec.kind).cls;
          if (!(p.op.cls == kLocalDiagonal && cls == GateClass::kDiagonal)) {
            p.op.cls = kLocalDense;
            p.arena_size = 4;
          }
          ++report_.merged_1q;
          continue;
        }
      }
    }
    LocalOpPlan p{};
    p.sources = {id};
    p.op.k = k;
    for (int t = 0; t < k; ++t) p.op.targets[t] = local_of[spec.targets[t]];
    for (size_t c = 0; c < spec.controls.size(); ++c) {
      const uint32_t bit = 1u << local_of[spec.controls[c]];
      p.op.cmask |= bit;
      if (spec.ctrl_state >> c & 1) p.op.cval |= bit;
    }
    GateClass cls = Info(spec.kind).cls;
    if (spec.kind == GateKind::kUnitary && IsDiagonal(spec.matrix, 1 << k)) cls = GateClass::kDiagonal;
    const int64_t d = int64_t{1} << k;
    if (cls == GateClass::kMonomial) {
      std::vector<cdouble> mat(static_cast<size_t>(d * d));
      GateMatrix(spec.kind, nullptr, mat.data());
      for (int r = 0; r < d; ++r)
        for (int c = 0; c < d; ++c)
          if (mat[r * d + c] != cdouble(0)) p.op.perm[r] = c;
    }
    p.op.cls = cls == GateClass::kDiagonal   ? kLocalDiagonal
               : cls == GateClass::kMonomial ? kLocalMonomial
                                             : kLocalDense;
    p.arena_size = cls == GateClass::kDense ? d * d : d;
    const int index = static_cast<int>(b.program.size());
    for (int t = 0; t < k; ++t) last_touch[p.op.targets[t]] = index;
    for (int q = 0; q < m; ++q)
      if (p.op.cmask >> q & 1) last_touch[q] = index;
    b.program.push_back(std::move(p));
  }
  for (LocalOpPlan& p : b.program) {
    p.op.mat = b.arena_size;
    b.arena_size += p.arena_size;
  }
  blocks_.push_back(std::move(b));
}

void Plan::OpMatrix(int id, const double* params, std::vector<cdouble>& out) const {
  const OpSpec& op = ops_[id];
  if (op.kind == GateKind::kUnitary) {
    out = op.matrix;
    return;
  }
  double angles[3] = {0, 0, 0};
  for (size_t a = 0; a < op.angles.size(); ++a) {
    const ParamRef& p = op.angles[a];
    angles[a] = p.index >= 0 ? p.scale * params[p.index] + p.offset : p.offset;
  }
  const size_t d = size_t{1} << op.targets.size();
  out.assign(d * d, cdouble(0));
  GateMatrix(op.kind, angles, out.data());
}

template <typename Real>
void Plan::Run(std::complex<Real>* state, const double* params) const {
  int64_t max_local = 0;
  for (const BlockPlan& b : blocks_)
    max_local = std::max(max_local, int64_t{1} << (b.qubits.size() + static_cast<size_t>(b.v)));
  const bool parallel = num_qubits_ >= kMinParallelQubits;
  const int threads = parallel ? MaxThreads() : 1;
  std::vector<Real> scratch(static_cast<size_t>(2 * max_local * threads));
  std::vector<Real> arena;
  std::vector<LocalOp> ops;
  std::vector<cdouble> mat, acc, tmp;
  Real* raw = reinterpret_cast<Real*>(state);
  for (const BlockPlan& b : blocks_) {
    arena.assign(static_cast<size_t>(2 * b.arena_size), Real(0));
    ops.clear();
    for (const LocalOpPlan& p : b.program) {
      OpMatrix(p.sources[0], params, acc);
      for (size_t s = 1; s < p.sources.size(); ++s) {  // merged 1-qubit gates: acc = M_s acc
        OpMatrix(p.sources[s], params, mat);
        tmp.assign(4, cdouble(0));
        for (int r = 0; r < 2; ++r)
          for (int c = 0; c < 2; ++c) tmp[r * 2 + c] = mat[r * 2] * acc[c] + mat[r * 2 + 1] * acc[2 + c];
        acc.swap(tmp);
      }
      const int64_t d = int64_t{1} << p.op.k;
      Real* dst = arena.data() + 2 * p.op.mat;
      for (int64_t e = 0; e < p.arena_size; ++e) {
        // dense: every entry; diagonal: entry (e, e); monomial: entry (e, perm[e]).
        const cdouble z = p.op.cls == kLocalDense      ? acc[static_cast<size_t>(e)]
                          : p.op.cls == kLocalDiagonal ? acc[static_cast<size_t>(e * d + e)]
                                                       : acc[static_cast<size_t>(e * d + p.op.perm[e])];
        dst[2 * e] = static_cast<Real>(z.real());
        dst[2 * e + 1] = static_cast<Real>(z.imag());
      }
      ops.push_back(p.op);
    }
    BlockGeometry g{static_cast<int>(b.qubits.size()),
                    b.v,
                    b.off_local.data(),
                    b.off_lane.data(),
                    b.outer_pos.data(),
                    static_cast<int>(b.outer_pos.size()),
                    b.lanes_contiguous};
    Dispatch(isa_, raw, g, ops.data(), static_cast<int>(ops.size()), arena.data(), scratch.data(), parallel);
  }
}

template void Plan::Run<float>(std::complex<float>*, const double*) const;
template void Plan::Run<double>(std::complex<double>*, const double*) const;

}  // namespace nextrl::quantum
