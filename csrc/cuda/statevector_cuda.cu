// Host side of the device statevector: DeviceCircuit (fusion into device blocks) and DeviceState (memory,
// gate launches, read-outs). Kernels: statevector_cuda.cuh.
#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "cuda/cuda_common.cuh"
#include "cuda/quantum_cuda.h"
#include "cuda/statevector_cuda.cuh"
#include "quantum/fuse.h"
#include "quantum/gates.h"

namespace nextrl::cuda {
namespace {

using quantum::cdouble;
using quantum::GateKind;
using quantum::OpSpec;

constexpr int kThreads = 256;

int Grid(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<int>(std::clamp<int64_t>(blocks, 1, int64_t{132} * 32));
}

void CheckLaunch() { NEXTRL_CUDA_CHECK(cudaGetLastError()); }

uint64_t OpMask(const OpSpec& op) {
  uint64_t m = 0;
  for (int t : op.targets) m |= uint64_t{1} << t;
  for (int c : op.controls) m |= uint64_t{1} << c;
  return m;
}

uint64_t ControlBits(const OpSpec& op) {
  uint64_t bits = 0;
  for (size_t i = 0; i < op.controls.size(); ++i)
    if (op.ctrl_state >> i & 1) bits |= uint64_t{1} << op.controls[i];
  return bits;
}

// The op's 2^k x 2^k matrix (k = its targets) at the bound parameter values.
std::vector<cdouble> BoundMatrix(const OpSpec& op, const double* params) {
  if (op.kind == GateKind::kUnitary) return op.matrix;
  double a[3] = {0, 0, 0};
  for (size_t j = 0; j < op.angles.size(); ++j) {
    const quantum::ParamRef& r = op.angles[j];
    a[j] = r.index < 0 ? r.offset : r.scale * params[r.index] + r.offset;
  }
  const size_t d = size_t{1} << op.targets.size();
  std::vector<cdouble> m(std::max<size_t>(d * d, 1));
  quantum::GateMatrix(op.kind, a, m.data());
  return m;
}

// M <- E(op) M for the K-qubit block on `qubits` (ascending), E the op embedded with its controls.
void ApplyToBlock(const OpSpec& op, const std::vector<cdouble>& g, const std::vector<int>& qubits,
                  std::vector<cdouble>& m) {
  const int K = static_cast<int>(qubits.size());
  const int64_t D = int64_t{1} << K;
  auto local = [&](int q) { return static_cast<int>(std::find(qubits.begin(), qubits.end(), q) - qubits.begin()); };
  if (op.kind == GateKind::kGlobalPhase) {
    for (cdouble& z : m) z *= g[0];
    return;
  }
  const int t = static_cast<int>(op.targets.size());
  std::vector<int64_t> toff(size_t{1} << t);
  int64_t tmask = 0, cmask = 0, cval = 0;
  for (int j = 0; j < t; ++j) tmask |= int64_t{1} << local(op.targets[j]);
  for (size_t j = 0; j < op.controls.size(); ++j) {
    cmask |= int64_t{1} << local(op.controls[j]);
    if (op.ctrl_state >> j & 1) cval |= int64_t{1} << local(op.controls[j]);
  }
  for (size_t c = 0; c < toff.size(); ++c) {
    int64_t bits = 0;
    for (int j = 0; j < t; ++j)
      if (c >> j & 1) bits |= int64_t{1} << local(op.targets[j]);
    toff[c] = bits;
  }
  const int64_t dt = int64_t{1} << t;
  std::vector<cdouble> v(static_cast<size_t>(dt));
  for (int64_t col = 0; col < D; ++col) {
    for (int64_t j = 0; j < D; ++j) {
      if ((j & tmask) != 0 || (j & cmask) != cval) continue;
      for (int64_t c = 0; c < dt; ++c) v[c] = m[(j | toff[c]) * D + col];
      for (int64_t r = 0; r < dt; ++r) {
        cdouble acc = 0;
        for (int64_t c = 0; c < dt; ++c) acc += g[r * dt + c] * v[c];
        m[(j | toff[r]) * D + col] = acc;
      }
    }
  }
}

template <typename R>
Cx<R>* As(void* p) {
  return static_cast<Cx<R>*>(p);
}
template <typename R>
const Cx<R>* As(const void* p) {
  return static_cast<const Cx<R>*>(p);
}

template <typename R, int K>
void LaunchDense(void* s, int n, uint64_t mask, const double2* mat) {
  const int64_t count = int64_t{1} << (n - K);
  ApplyDenseKernel<R, K><<<Grid(count), kThreads>>>(As<R>(s), count, mask, mat);
}

template <typename R>
void LaunchDenseK(int K, void* s, int n, uint64_t mask, const double2* mat) {
  switch (K) {
    case 1:
      return LaunchDense<R, 1>(s, n, mask, mat);
    case 2:
      return LaunchDense<R, 2>(s, n, mask, mat);
    case 3:
      return LaunchDense<R, 3>(s, n, mask, mat);
    case 4:
      return LaunchDense<R, 4>(s, n, mask, mat);
    default:
      return LaunchDense<R, 5>(s, n, mask, mat);
  }
}

template <typename R>
void LaunchSingle(void* s, int n, const OpSpec& op, const std::vector<cdouble>& g) {
  const uint64_t skip = OpMask(op), cbits = ControlBits(op);
  const int64_t count = int64_t{1} << (n - std::popcount(skip));
  const bool diagonal = quantum::Info(op.kind).cls == quantum::GateClass::kDiagonal;
  if (op.targets.size() == 1) {
    Mat2 m;
    for (int e = 0; e < 4; ++e) m.re[e] = g[e].real(), m.im[e] = g[e].imag();
    if (diagonal)
      Apply1Kernel<R, true><<<Grid(count), kThreads>>>(As<R>(s), count, op.targets[0], skip, cbits, m);
    else
      Apply1Kernel<R, false><<<Grid(count), kThreads>>>(As<R>(s), count, op.targets[0], skip, cbits, m);
  } else {
    Mat4 m;
    for (int e = 0; e < 16; ++e) m.re[e] = g[e].real(), m.im[e] = g[e].imag();
    const int t0 = op.targets[0], t1 = op.targets[1];
    if (diagonal)
      Apply2Kernel<R, true><<<Grid(count), kThreads>>>(As<R>(s), count, t0, t1, skip, cbits, m);
    else
      Apply2Kernel<R, false><<<Grid(count), kThreads>>>(As<R>(s), count, t0, t1, skip, cbits, m);
  }
}

// RAII device buffer for temporaries of one call.
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { NEXTRL_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(bytes, 8))); }
  ~DeviceBuffer() { cudaFree(p); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

template <typename F>
double2 SumPairs(int64_t count, F f) {
  const int grid = ReduceGrid(count);
  DeviceBuffer partial(sizeof(double2) * grid);
  ReducePairs<<<grid, kReduceThreads>>>(count, f, partial.as<double2>());
  CheckLaunch();
  std::vector<double2> host(static_cast<size_t>(grid));
  NEXTRL_CUDA_CHECK(cudaMemcpy(host.data(), partial.p, sizeof(double2) * grid, cudaMemcpyDeviceToHost));
  double2 total = make_double2(0, 0);
  for (const double2& v : host) total.x += v.x, total.y += v.y;
  return total;
}

// Marginal probabilities of `qubits` into probs (device, [2^k]).
template <typename R>
void MarginalOnDevice(const void* s, int n, const std::vector<int>& qubits, double* probs) {
  const int k = static_cast<int>(qubits.size());
  const int64_t bins = int64_t{1} << k, members = int64_t{1} << (n - k);
  uint64_t qmask = 0;
  for (int q : qubits) qmask |= uint64_t{1} << q;
  DeviceBuffer dq(sizeof(int) * std::max(k, 1));
  if (k > 0) NEXTRL_CUDA_CHECK(cudaMemcpy(dq.p, qubits.data(), sizeof(int) * k, cudaMemcpyHostToDevice));
  constexpr int64_t kChunk = kReduceThreads * 64;
  if (members <= 4096) {
    MarginalThreadKernel<R><<<Grid(bins), kThreads>>>(As<R>(s), qmask, dq.as<int>(), k, members, bins, probs);
  } else {
    const int64_t chunks = (members + kChunk - 1) / kChunk;
    DeviceBuffer partial(sizeof(double) * bins * chunks);
    MarginalChunkKernel<R><<<static_cast<unsigned>(bins * chunks), kReduceThreads>>>(
        As<R>(s), qmask, dq.as<int>(), k, members, kChunk, chunks, partial.as<double>());
    CheckLaunch();
    SumChunksKernel<<<Grid(bins), kThreads>>>(partial.as<double>(), bins, chunks, probs);
  }
  CheckLaunch();
  NEXTRL_CUDA_CHECK(cudaDeviceSynchronize());
}

// In-place inclusive scan of v[count] (device), deterministic for a given count.
void ScanOnDevice(double* v, int64_t count) {
  const int64_t tiles = (count + kScanTile - 1) / kScanTile;
  if (tiles == 1) {
    ScanTileKernel<<<1, kScanThreads>>>(v, count, nullptr);
    CheckLaunch();
    return;
  }
  DeviceBuffer totals(sizeof(double) * tiles);
  ScanTileKernel<<<static_cast<unsigned>(tiles), kScanThreads>>>(v, count, totals.as<double>());
  CheckLaunch();
  ScanOnDevice(totals.as<double>(), tiles);
  AddTileOffsetsKernel<<<static_cast<unsigned>(tiles - 1), kScanThreads>>>(v, count, totals.as<double>());
  CheckLaunch();
  NEXTRL_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace

std::pair<int64_t, int64_t> MemoryInfo() {
  size_t free_bytes = 0, total_bytes = 0;
  NEXTRL_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
}

// ------------------------------------------------------------------------------------------------- DeviceCircuit

DeviceCircuit::DeviceCircuit(const quantum::Plan& plan, int max_fused_qubits)
    : n_(plan.num_qubits()), num_params_(plan.num_params()), ops_(plan.ops()) {
  NEXTRL_CHECK(max_fused_qubits >= 0 && max_fused_qubits <= kMaxDeviceFused, std::invalid_argument,
               "DeviceCircuit: max_fused_qubits must be in [0, ", kMaxDeviceFused, "], got ", max_fused_qubits);
  std::vector<uint64_t> masks;
  for (const OpSpec& op : ops_) masks.push_back(OpMask(op));
  const std::vector<quantum::FusedBlock> fused = quantum::FuseGates(masks, n_, std::min(max_fused_qubits, n_));
  for (const quantum::FusedBlock& f : fused) {
    DeviceBlock b;
    for (int q = 0; q < n_; ++q)
      if (f.qubits >> q & 1) b.qubits.push_back(q);
    b.ops = f.ops;
    const OpSpec& first = ops_[f.ops[0]];
    if (f.ops.size() == 1 && first.kind == GateKind::kI) {
      b.kind = DeviceBlock::kSkip;
    } else if (f.ops.size() == 1 && first.kind != GateKind::kGlobalPhase && first.targets.size() <= 2) {
      b.kind = DeviceBlock::kSingle;
    } else {
      if (b.qubits.empty()) b.qubits.push_back(0);  // a lone global phase: a 1-qubit block
      NEXTRL_CHECK(static_cast<int>(b.qubits.size()) <= kMaxDeviceFused, std::invalid_argument, "DeviceCircuit: op ",
                   f.ops[0], " acts on ", b.qubits.size(),
                   " qubits; the CUDA backend applies gates on at most 2 targets (any number of controls) and "
                   "unitaries on at most ",
                   kMaxDeviceFused, " qubits");
      b.kind = DeviceBlock::kDense;
    }
    blocks_.push_back(std::move(b));
  }
}

// --------------------------------------------------------------------------------------------------- DeviceState

DeviceState::DeviceState(int num_qubits, bool single) : n_(num_qubits), single_(single) {
  NEXTRL_CHECK(num_qubits >= 1 && num_qubits <= 40, std::invalid_argument,
               "Statevector(device='cuda'): num_qubits must be in [1, 40], got ", num_qubits);
  NEXTRL_CUDA_CHECK(cudaMalloc(&data_, static_cast<size_t>(bytes())));
  Reset();
}

DeviceState::~DeviceState() { cudaFree(data_); }

void DeviceState::Reset() {
  if (single_)
    FillBasisKernel<float><<<Grid(size()), kThreads>>>(As<float>(data_), size());
  else
    FillBasisKernel<double><<<Grid(size()), kThreads>>>(As<double>(data_), size());
  CheckLaunch();
}

void DeviceState::Upload(const void* host) {
  NEXTRL_CUDA_CHECK(cudaMemcpy(data_, host, static_cast<size_t>(bytes()), cudaMemcpyHostToDevice));
}

void DeviceState::Download(void* host) const {
  NEXTRL_CUDA_CHECK(cudaMemcpy(host, data_, static_cast<size_t>(bytes()), cudaMemcpyDeviceToHost));
}

void DeviceState::CopyFrom(const DeviceState& other) {
  NEXTRL_CHECK(other.n_ == n_ && other.single_ == single_, std::invalid_argument,
               "DeviceState.copy_from: states differ in size or precision");
  NEXTRL_CUDA_CHECK(cudaMemcpy(data_, other.data_, static_cast<size_t>(bytes()), cudaMemcpyDeviceToDevice));
}

void DeviceState::ApplyMatrix1(int target, const std::complex<double>* m, uint64_t cmask, uint64_t cval,
                               bool diagonal) {
  OpSpec op;
  op.kind = diagonal ? GateKind::kRZ : GateKind::kH;  // only the class matters below
  op.targets = {target};
  for (int q = 0; q < n_; ++q)
    if (cmask >> q & 1) {
      op.ctrl_state |= ((cval >> q) & 1) << op.controls.size();
      op.controls.push_back(q);
    }
  const std::vector<cdouble> g(m, m + 4);
  if (single_)
    LaunchSingle<float>(data_, n_, op, g);
  else
    LaunchSingle<double>(data_, n_, op, g);
  CheckLaunch();
}

void DeviceState::Apply(const DeviceCircuit& circuit, const double* params) {
  NEXTRL_CHECK(circuit.num_qubits() == n_, std::invalid_argument, "Statevector.apply: circuit has ",
               circuit.num_qubits(), " qubits, state has ", n_);
  // Dense blocks: every matrix built on the host first, uploaded in one copy.
  std::vector<double2> mats;
  std::vector<int64_t> mat_off(circuit.blocks().size(), -1);
  for (size_t i = 0; i < circuit.blocks().size(); ++i) {
    const DeviceBlock& b = circuit.blocks()[i];
    if (b.kind != DeviceBlock::kDense) continue;
    const int64_t D = int64_t{1} << b.qubits.size();
    std::vector<cdouble> m(static_cast<size_t>(D * D), 0.0);
    for (int64_t j = 0; j < D; ++j) m[j * D + j] = 1.0;
    for (int op : b.ops) ApplyToBlock(circuit.ops()[op], BoundMatrix(circuit.ops()[op], params), b.qubits, m);
    mat_off[i] = static_cast<int64_t>(mats.size());
    for (const cdouble& z : m) mats.push_back(make_double2(z.real(), z.imag()));
  }
  DeviceBuffer dmats(sizeof(double2) * mats.size());
  if (!mats.empty())
    NEXTRL_CUDA_CHECK(cudaMemcpy(dmats.p, mats.data(), sizeof(double2) * mats.size(), cudaMemcpyHostToDevice));
  for (size_t i = 0; i < circuit.blocks().size(); ++i) {
    const DeviceBlock& b = circuit.blocks()[i];
    if (b.kind == DeviceBlock::kSkip) continue;
    if (b.kind == DeviceBlock::kSingle) {
      const OpSpec& op = circuit.ops()[b.ops[0]];
      const std::vector<cdouble> g = BoundMatrix(op, params);
      if (single_)
        LaunchSingle<float>(data_, n_, op, g);
      else
        LaunchSingle<double>(data_, n_, op, g);
    } else {
      uint64_t mask = 0;
      for (int q : b.qubits) mask |= uint64_t{1} << q;
      const int K = static_cast<int>(b.qubits.size());
      const double2* m = dmats.as<double2>() + mat_off[i];
      if (single_)
        LaunchDenseK<float>(K, data_, n_, mask, m);
      else
        LaunchDenseK<double>(K, data_, n_, mask, m);
    }
    CheckLaunch();
  }
  NEXTRL_CUDA_CHECK(cudaDeviceSynchronize());  // dmats is freed on return
}

double DeviceState::NormSquared() const {
  if (single_) return SumPairs(size(), NormTerm<float>{As<float>(data_)}).x;
  return SumPairs(size(), NormTerm<double>{As<double>(data_)}).x;
}

void DeviceState::Probabilities(const std::vector<int>& qubits, double* out) const {
  const int64_t bins = int64_t{1} << qubits.size();
  DeviceBuffer probs(sizeof(double) * bins);
  if (single_)
    MarginalOnDevice<float>(data_, n_, qubits, probs.as<double>());
  else
    MarginalOnDevice<double>(data_, n_, qubits, probs.as<double>());
  NEXTRL_CUDA_CHECK(cudaMemcpy(out, probs.p, sizeof(double) * bins, cudaMemcpyDeviceToHost));
}

std::complex<double> DeviceState::PauliExpectation(const std::vector<uint64_t>& x, const std::vector<uint64_t>& z,
                                                   const std::vector<std::complex<double>>& coeffs) const {
  static const std::complex<double> kPhase[4] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
  std::complex<double> total = 0;
  for (size_t t = 0; t < x.size(); ++t) {
    const double2 v = single_ ? SumPairs(size(), PauliTermFn<float>{As<float>(data_), x[t], z[t]})
                              : SumPairs(size(), PauliTermFn<double>{As<double>(data_), x[t], z[t]});
    total += coeffs[t] * kPhase[std::popcount(x[t] & z[t]) & 3] * std::complex<double>(v.x, v.y);
  }
  return total;
}

std::complex<double> DeviceState::Inner(const DeviceState& other) const {
  NEXTRL_CHECK(other.n_ == n_ && other.single_ == single_, std::invalid_argument,
               "Statevector.inner: states differ in size or precision");
  const double2 v = single_ ? SumPairs(size(), InnerTerm<float>{As<float>(data_), As<float>(other.data_)})
                            : SumPairs(size(), InnerTerm<double>{As<double>(data_), As<double>(other.data_)});
  return {v.x, v.y};
}

void DeviceState::Sample(const std::vector<int>& qubits, int64_t shots, uint64_t seed, int64_t* out) const {
  const int64_t bins = int64_t{1} << qubits.size();
  DeviceBuffer probs(sizeof(double) * bins), cdf(sizeof(double) * bins),
      dout(sizeof(int64_t) * std::max<int64_t>(shots, 1));
  if (single_)
    MarginalOnDevice<float>(data_, n_, qubits, probs.as<double>());
  else
    MarginalOnDevice<double>(data_, n_, qubits, probs.as<double>());
  NEXTRL_CUDA_CHECK(cudaMemcpy(cdf.p, probs.p, sizeof(double) * bins, cudaMemcpyDeviceToDevice));
  ScanOnDevice(cdf.as<double>(), bins);
  if (shots > 0) {
    SampleKernel<<<Grid(shots), kThreads>>>(cdf.as<double>(), probs.as<double>(), bins, shots, seed,
                                            dout.as<int64_t>());
    CheckLaunch();
    NEXTRL_CUDA_CHECK(cudaMemcpy(out, dout.p, sizeof(int64_t) * shots, cudaMemcpyDeviceToHost));
  }
}

int DeviceState::Measure(int qubit, uint64_t seed) {
  const uint64_t bit = uint64_t{1} << qubit;
  const double p1 = single_ ? SumPairs(size(), MaskedNormTerm<float>{As<float>(data_), bit}).x
                            : SumPairs(size(), MaskedNormTerm<double>{As<double>(data_), bit}).x;
  const double p0 = NormSquared() - p1;
  const int outcome = UniformDouble(seed, 1, 0) * (p0 + p1) < p1 ? 1 : 0;
  const double scale = 1.0 / std::sqrt(outcome == 1 ? p1 : p0);
  if (single_)
    CollapseKernel<float><<<Grid(size()), kThreads>>>(As<float>(data_), size(), bit, outcome, float(scale));
  else
    CollapseKernel<double><<<Grid(size()), kThreads>>>(As<double>(data_), size(), bit, outcome, scale);
  CheckLaunch();
  return outcome;
}

}  // namespace nextrl::cuda
