// Host side of the batched variational circuits on the device: lowering of a CPU BatchPlan's ops, slots and
// observables into device tables (one allocation), and the launch of VqcKernel (batch_cuda.cuh).
#include <algorithm>
#include <bit>
#include <complex>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "cuda/batch_cuda.cuh"
#include "cuda/cuda_common.cuh"
#include "cuda/quantum_cuda.h"

namespace nextrl::cuda {
namespace {

using quantum::cdouble;
using quantum::GateKind;

constexpr int kLaneSharedTarget = 48 << 10;  // bytes per block the lane layout aims for
constexpr int kMaxBatchQubits = 20;

int64_t Align(int64_t bytes) { return (bytes + 15) / 16 * 16; }

struct Launch {
  int S, G;
  int64_t smem;
};

Launch Shape(int n, int64_t amp_bytes, bool adjoint) {
  const int64_t per_sample = (int64_t{1} << n) * amp_bytes * (adjoint ? 2 : 1);
  if (n <= DeviceBatchPlan::kMaxLaneQubits) {
    int S = 128;
    while (S > 32 && S * per_sample > kLaneSharedTarget) S /= 2;
    return {S, 1, S * per_sample};
  }
  return {1, static_cast<int>(std::min<int64_t>(256, int64_t{1} << (n - 1))), per_sample};
}

}  // namespace

DeviceBatchPlan::DeviceBatchPlan(const quantum::BatchPlan& plan)
    : n_(plan.num_qubits()), num_features_(plan.num_features()), num_outputs_(plan.num_outputs()) {
  NEXTRL_CHECK(n_ <= kMaxBatchQubits, std::invalid_argument,
               "BatchPlan (cuda): num_qubits must be <= ", kMaxBatchQubits, ", got ", n_);
  NEXTRL_CUDA_CHECK(cudaGetDevice(&device_));
  std::vector<DevOp> ops;
  std::vector<double2> mats;
  for (size_t i = 0; i < plan.ops().size(); ++i) {
    const quantum::OpSpec& spec = plan.ops()[i];
    // A global phase changes no expectation or probability, and its gradient is zero: the device skips it.
    if (spec.kind == GateKind::kGlobalPhase || spec.kind == GateKind::kI) continue;
    const int k = static_cast<int>(spec.targets.size());
    NEXTRL_CHECK(k >= 1 && k <= 2, std::invalid_argument, "BatchPlan (cuda): op ", i, " acts on ", k,
                 " target qubits; the CUDA backend runs gates on 1 or 2 targets (any number of controls)");
    DevOp op{};
    op.kind = static_cast<int>(spec.kind);
    op.k = k;
    op.t0 = spec.targets[0];
    op.t1 = k == 2 ? spec.targets[1] : 0;
    for (int t : spec.targets) op.skip |= 1u << t;
    for (size_t c = 0; c < spec.controls.size(); ++c) {
      op.skip |= 1u << spec.controls[c];
      if (spec.ctrl_state >> c & 1) op.cbits |= 1u << spec.controls[c];
    }
    op.diagonal = spec.kind != GateKind::kUnitary && quantum::Info(spec.kind).cls == quantum::GateClass::kDiagonal;
    op.nparam = static_cast<int>(spec.angles.size());
    bool constant = true;
    double a[kMaxOpParams] = {0, 0, 0};
    for (int j = 0; j < op.nparam; ++j) {
      const quantum::ParamRef& r = spec.angles[j];
      op.slot[j] = r.index;
      op.scale[j] = r.index < 0 ? 0.0 : r.scale;
      op.offset[j] = r.offset;
      a[j] = r.offset;
      constant = constant && r.index < 0;
    }
    op.mat = -1;
    if (constant) {  // fixed gates (and parametric ones with constant angles): the matrix once, in the pool
      const size_t entries = size_t{1} << (2 * k);
      std::vector<cdouble> m(entries);
      if (spec.kind == GateKind::kUnitary)
        m = spec.matrix;
      else
        quantum::GateMatrix(spec.kind, a, m.data());
      op.mat = static_cast<int>(mats.size());
      for (const cdouble& z : m) mats.push_back(make_double2(z.real(), z.imag()));
      op.nparam = 0;
    }
    ops.push_back(op);
  }
  std::vector<DevSlot> slots;
  for (const quantum::SlotSpec& s : plan.slots()) slots.push_back({static_cast<int>(s.kind), s.index, s.scale});
  static const cdouble kPhase[4] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
  std::vector<DevTerm> terms;
  for (const quantum::PauliTerm& t : plan.terms()) {
    const cdouble c = t.coeff * kPhase[std::popcount(t.x & t.z) & 3];
    terms.push_back({static_cast<uint32_t>(t.x), static_cast<uint32_t>(t.z), c.real(), c.imag(), t.output});
  }
  const std::vector<int>& prob = plan.prob_qubits();
  num_ops_ = static_cast<int>(ops.size());
  num_slots_ = static_cast<int>(slots.size());
  num_terms_ = static_cast<int>(terms.size());
  num_prob_ = static_cast<int>(prob.size());

  ops_off_ = 0;
  slots_off_ = Align(ops_off_ + static_cast<int64_t>(sizeof(DevOp) * ops.size()));
  terms_off_ = Align(slots_off_ + static_cast<int64_t>(sizeof(DevSlot) * slots.size()));
  mats_off_ = Align(terms_off_ + static_cast<int64_t>(sizeof(DevTerm) * terms.size()));
  prob_off_ = Align(mats_off_ + static_cast<int64_t>(sizeof(double2) * mats.size()));
  const int64_t total = Align(prob_off_ + static_cast<int64_t>(sizeof(int) * prob.size())) + 16;
  std::vector<unsigned char> host(static_cast<size_t>(total), 0);
  auto put = [&](int64_t off, const void* src, size_t bytes) {
    if (bytes) std::copy_n(static_cast<const unsigned char*>(src), bytes, host.data() + off);
  };
  put(ops_off_, ops.data(), sizeof(DevOp) * ops.size());
  put(slots_off_, slots.data(), sizeof(DevSlot) * slots.size());
  put(terms_off_, terms.data(), sizeof(DevTerm) * terms.size());
  put(mats_off_, mats.data(), sizeof(double2) * mats.size());
  put(prob_off_, prob.data(), sizeof(int) * prob.size());
  NEXTRL_CUDA_CHECK(cudaMalloc(&dev_, static_cast<size_t>(total)));
  NEXTRL_CUDA_CHECK(cudaMemcpy(dev_, host.data(), static_cast<size_t>(total), cudaMemcpyHostToDevice));
}

DeviceBatchPlan::~DeviceBatchPlan() { cudaFree(dev_); }

int64_t DeviceBatchPlan::SharedBytes(bool single, bool adjoint) const {
  return Shape(n_, single ? 8 : 16, adjoint).smem;
}

template <typename Real>
void DeviceBatchPlan::Run(const Real* x, int64_t batch, const Real* w, const Real* s, Real* out, const Real* g,
                          Real* slot_grad, uintptr_t stream) const {
  if (batch == 0) return;
  NEXTRL_CUDA_CHECK(cudaSetDevice(device_));
  const bool adjoint = g != nullptr;
  const Launch shape = Shape(n_, sizeof(Cx<Real>), adjoint);
  int optin = 0;
  NEXTRL_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_));
  NEXTRL_CHECK(shape.smem <= optin, std::runtime_error, "QuantumLayer (cuda): ", n_, " qubits in ",
               sizeof(Real) == 4 ? "float32" : "float64", adjoint ? " with the adjoint" : "", " need ", shape.smem,
               " bytes of shared memory per sample, the device offers ", optin, "; use float32 or fewer qubits");
  if (shape.smem > (48 << 10))
    NEXTRL_CUDA_CHECK(cudaFuncSetAttribute(VqcKernel<Real>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(shape.smem)));
  const unsigned char* base = static_cast<const unsigned char*>(dev_);
  VqcArgs<Real> p{};
  p.ops = reinterpret_cast<const DevOp*>(base + ops_off_);
  p.num_ops = num_ops_;
  p.slots = reinterpret_cast<const DevSlot*>(base + slots_off_);
  p.num_slots = num_slots_;
  p.terms = reinterpret_cast<const DevTerm*>(base + terms_off_);
  p.num_terms = num_terms_;
  p.prob_qubits = reinterpret_cast<const int*>(base + prob_off_);
  p.num_prob = num_prob_;
  p.mats = reinterpret_cast<const double2*>(base + mats_off_);
  p.n = n_;
  p.S = shape.S;
  p.x = x;
  p.batch = batch;
  p.num_features = num_features_;
  p.w = w;
  p.sc = s;
  p.out = out;
  p.num_outputs = num_outputs_;
  p.g = g;
  p.slot_grad = slot_grad;
  const int64_t blocks = (batch + shape.S - 1) / shape.S;
  VqcKernel<Real><<<static_cast<unsigned>(blocks), shape.S * shape.G, static_cast<size_t>(shape.smem),
                    reinterpret_cast<cudaStream_t>(stream)>>>(p);
  NEXTRL_CUDA_CHECK(cudaGetLastError());
}

template void DeviceBatchPlan::Run<float>(const float*, int64_t, const float*, const float*, float*, const float*,
                                          float*, uintptr_t) const;
template void DeviceBatchPlan::Run<double>(const double*, int64_t, const double*, const double*, double*, const double*,
                                           double*, uintptr_t) const;

}  // namespace nextrl::cuda
