// Host API of the CUDA quantum kernels: a statevector resident on the device and a batched variational circuit
// plan. Plain C++ (no CUDA headers), so the bindings compile with the host compiler; the kernels live in
// statevector_cuda.cuh / batch_cuda.cuh and their launchers in the matching .cu files.
//
// Both start from the CPU plans' lowering (quantum::Plan::ops(), quantum::BatchPlan's ops / slots / terms), so a
// circuit is validated and lowered once, whatever the backend. Every CUDA call is checked (NEXTRL_CUDA_CHECK,
// std::runtime_error with file:line and the CUDA message). Device memory is plain cudaMalloc.
#pragma once
#include <complex>
#include <cstdint>
#include <memory>
#include <vector>

#include "quantum/batch_plan.h"
#include "quantum/plan.h"

namespace nextrl::cuda {

// Bytes free and total on the current device (cudaMemGetInfo).
std::pair<int64_t, int64_t> MemoryInfo();

// A fused block of a circuit as run on the device: `qubits` ascending; ops in application order.
struct DeviceBlock {
  std::vector<int> qubits;
  std::vector<int> ops;
  // How the block runs: kSingle = one op on <= 2 targets (2x2 / 4x4 kernels, diagonal and controlled fast paths),
  // kDense = its 2^k x 2^k matrix (built on the host from the bound angles) in one pass.
  enum Kind : int { kSingle = 0, kDense = 1, kSkip = 2 } kind = kSingle;
};

// A circuit compiled for the device: the CPU plan's validated ops, fused into blocks of at most
// `max_fused_qubits` (<= kMaxDeviceFused) qubits by the same fusion pass (quantum/fuse.h).
class DeviceCircuit {
 public:
  static constexpr int kMaxDeviceFused = 5;
  DeviceCircuit(const quantum::Plan& plan, int max_fused_qubits);
  int num_qubits() const { return n_; }
  int num_params() const { return num_params_; }
  const std::vector<DeviceBlock>& blocks() const { return blocks_; }
  const std::vector<quantum::OpSpec>& ops() const { return ops_; }

 private:
  int n_, num_params_;
  std::vector<quantum::OpSpec> ops_;
  std::vector<DeviceBlock> blocks_;
};

// A pure state of n qubits in device memory, complex64 (single) or complex128.
class DeviceState {
 public:
  DeviceState(int num_qubits, bool single);
  ~DeviceState();
  DeviceState(const DeviceState&) = delete;
  DeviceState& operator=(const DeviceState&) = delete;

  int num_qubits() const { return n_; }
  bool single() const { return single_; }
  int64_t size() const { return int64_t{1} << n_; }
  int64_t bytes() const { return size() * (single_ ? 8 : 16); }
  void* data() const { return data_; }

  void Reset();                               // |0...0>
  void Upload(const void* host);              // host: [2^n] complex of this precision
  void Download(void* host) const;            // host: [2^n] complex of this precision
  void CopyFrom(const DeviceState& other);    // same size and precision
  // Applies the circuit with parameter values params[num_params] (host memory).
  void Apply(const DeviceCircuit& circuit, const double* params);
  double NormSquared() const;
  // Marginal probabilities of `qubits` (bit j of an outcome <-> qubits[j]): out[2^k] on the host.
  void Probabilities(const std::vector<int>& qubits, double* out) const;
  // sum_t coeff_t <psi|P_t|psi>, P_t = i^{|x & z|} X^x Z^z (as quantum/measure.h PauliExpectation).
  std::complex<double> PauliExpectation(const std::vector<uint64_t>& x, const std::vector<uint64_t>& z,
                                        const std::vector<std::complex<double>>& coeffs) const;
  // Inverse-CDF sampling of the marginal of `qubits`, shot j from uniform j of stream 0 of `seed`: the same
  // uniforms as the CPU path (quantum/measure.h SampleFromProbabilities). out: [shots] on the host.
  void Sample(const std::vector<int>& qubits, int64_t shots, uint64_t seed, int64_t* out) const;
  // Z measurement of `qubit` with collapse; the first uniform of stream 1 of `seed` (as the CPU path).
  int Measure(int qubit, uint64_t seed);
  std::complex<double> Inner(const DeviceState& other) const;  // <this|other>

  // Single-gate kernels (also used by the benchmark): a 2x2 matrix m[4] (row-major) on `target`, applied where
  // the control bits `cmask` equal `cval`.
  void ApplyMatrix1(int target, const std::complex<double>* m, uint64_t cmask, uint64_t cval, bool diagonal);

 private:
  int n_;
  bool single_;
  void* data_ = nullptr;
};

// A batched variational circuit on the device: the CPU BatchPlan's ops, slots, observables, run with the
// state of each sample in shared memory. One thread per sample for n <= kMaxLaneQubits, one block per
// sample above; the forward, the read-outs and the adjoint sweep (Jones & Gacon 2020) in one launch.
// All pointers are device pointers of the given precision (Real = float or double) on `stream`.
class DeviceBatchPlan {
 public:
  static constexpr int kMaxLaneQubits = 6;
  explicit DeviceBatchPlan(const quantum::BatchPlan& plan);
  ~DeviceBatchPlan();
  DeviceBatchPlan(const DeviceBatchPlan&) = delete;
  DeviceBatchPlan& operator=(const DeviceBatchPlan&) = delete;

  int num_qubits() const { return n_; }
  int num_outputs() const { return num_outputs_; }
  int num_slots() const { return num_slots_; }
  // Largest batch-independent shared memory a block needs (bytes) for this precision and pass.
  int64_t SharedBytes(bool single, bool adjoint) const;

  // x: [batch, num_features], w: [num_weights], s: [num_scales], out: [batch, num_outputs].
  // With g ([batch, num_outputs] = dL/d out) != nullptr also the adjoint sweep: slot_grad [batch, num_slots]
  // receives dL/d(slot value) of every sample (the caller maps slots to weights, inputs and scales).
  template <typename Real>
  void Run(const Real* x, int64_t batch, const Real* w, const Real* s, Real* out, const Real* g, Real* slot_grad,
           uintptr_t stream) const;

 private:
  int n_, num_features_, num_outputs_, num_slots_ = 0, num_ops_ = 0, num_terms_ = 0, num_prob_ = 0;
  int device_ = 0;  // the device current at construction: the tables live there
  void* dev_ = nullptr;  // one device allocation holding ops, slots, terms, constant matrices
  int64_t ops_off_ = 0, slots_off_ = 0, terms_off_ = 0, mats_off_ = 0, prob_off_ = 0;
};

}  // namespace nextrl::cuda
