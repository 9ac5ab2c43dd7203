// A compiled variational circuit executed over a batch: forward read-outs and the
// adjoint vector-Jacobian product (Jones & Gacon 2020, arXiv:2009.02823) in one call.
//
// Angles come from slots; slot p of sample b has the value
//   weight:        w[index]
//   input:         x[b, index]
//   scaled input:  s[scale] * x[b, index]   (data re-uploading with a trainable scale)
// and a gate angle is `scale * slot + offset` (ParamRef, as in Plan).
// Samples run in tiles of V lanes (SIMD across the batch), tiles in parallel; every
// reduction over the batch adds per-tile partials in tile order (thread-count invariant).
#pragma once
#include <array>
#include <complex>
#include <cstdint>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "quantum/plan.h"

namespace nextrl::quantum {

enum class SlotKind : int { kWeight = 0, kInput = 1, kScaledInput = 2 };

struct SlotSpec {
  SlotKind kind = SlotKind::kWeight;
  int index = 0;  // weight or feature index
  int scale = -1; // scale index (kScaledInput)
};

struct PauliTerm {
  uint64_t x = 0, z = 0;
  cdouble coeff = 1.0;
  int output = 0;  // which output column the term adds to
};

// What the grouping pass (BatchPlan::BuildSteps) made of the circuit, as FusionReport does for Plan.
struct StepReport {
  int num_ops = 0;          // gates in the circuit
  int num_steps = 0;        // passes over each tile's states
  int shared_1q = 0;        // steps of uncontrolled 1-qubit gates on weights and constants: one 2x2 per call
  int lane_1q = 0;          // steps led by a 1-qubit gate with an input angle (per-lane matrices)
  int fused_rotations = 0;  // of those, led by RX / RY / RZ: the shared gates after it folded in
  int op_steps = 0;         // other gates, one step each
  int diagonal_steps = 0;   // runs of constant diagonal gates applied as one diagonal
  int diagonal_ops = 0;     // gates inside those runs
  int merged_1q = 0;        // 1-qubit gates that joined a step led by another gate
};

class BatchPlan {
 public:
  // terms: Pauli terms of the observables (expectation mode, num_outputs columns), or
  // prob_qubits non-empty: Born-rule probabilities of these qubits (2^k columns).
  BatchPlan(int num_qubits, std::vector<OpSpec> ops, std::vector<SlotSpec> slots, int num_weights, int num_features,
            int num_scales, std::vector<PauliTerm> terms, int num_outputs, std::vector<int> prob_qubits);

  // out: [batch, num_outputs]. x: [batch, num_features], w: [num_weights], s: [num_scales].
  // With state != nullptr the final states are kept there ([tiles, 2, 2^n, lanes], StateSize(batch)
  // Reals: re then im of every tile) for a later Backward on the same inputs and weights.
  template <typename Real>
  void Forward(const double* x, int64_t batch, const double* w, const double* s, double* out,
               Real* state = nullptr) const;

  // Adjoint VJP. g: [batch, num_outputs] = dL/d(out). Writes out (the forward values),
  // dw: [num_weights] (summed over the batch), dx: [batch, num_features], ds: [num_scales].
  // With state (from Forward on the same x, w, s) the forward pass is not repeated and out may be null.
  template <typename Real>
  void Backward(const double* x, int64_t batch, const double* w, const double* s, const double* g, double* out,
                double* dw, double* dx, double* ds, const Real* state = nullptr) const;

  // Lanes of a call: lanes(), or fewer for a batch smaller than that (B = 1 runs one lane, not eight).
  int64_t LanesFor(int64_t batch) const;
  // Reals of the kept states of a batch: tiles x 2 x 2^n x LanesFor(batch).
  int64_t StateSize(int64_t batch) const {
    const int64_t v = LanesFor(batch);
    return (batch + v - 1) / v * 2 * (int64_t{1} << n_) * v;
  }

  const StepReport& report() const { return report_; }
  int num_qubits() const { return n_; }
  int num_outputs() const { return num_outputs_; }
  int num_weights() const { return num_weights_; }
  int num_features() const { return num_features_; }
  int num_scales() const { return num_scales_; }
  int lanes() const { return lanes_; }
  // The lowered circuit, as given (backends that run it themselves, e.g. CUDA, start from these).
  const std::vector<OpSpec>& ops() const { return ops_; }
  const std::vector<SlotSpec>& slots() const { return slots_; }
  const std::vector<PauliTerm>& terms() const { return terms_; }
  const std::vector<int>& prob_qubits() const { return prob_qubits_; }
  void set_lanes(int lanes);
  Isa isa() const { return isa_; }
  void set_isa(Isa isa);

 private:
  struct OpPlan {
    LocalOp op;          // targets/controls as qubits (local = global); mat filled per tile
    int entries;         // complex entries of its matrix (4^k dense, 2^k otherwise)
    bool dense;          // matrix stored in full (class dense)
  };
  // The executed program: circuit ops grouped into steps. Uncontrolled 1-qubit gates whose angles come
  // from weights and constants only ("shared": the same matrix in every lane) fuse, per qubit, into one
  // 2x2 matrix computed once per call; a 1-qubit gate with an input angle is its own per-lane step; every
  // other op runs as itself. The adjoint sweep runs the same steps backwards: a 1-qubit step does one pass
  // that accumulates the per-lane 2x2 overlap M_ab = sum conj(lam_a) psi_b and un-applies itself from psi
  // and lam, and the gradient of every angle inside it follows from M (see RunTile).
  // A 1-qubit rotation RX / RY / RZ with an input angle absorbs the shared 1-qubit gates after it on its
  // qubit (kLane1, U_l = S R(th_l) = cos(th_l / 2) S - i sin(th_l / 2) S P, two shared matrices). Runs of
  // constant diagonal gates (CZ rings, CCZ, ...) become one diagonal over the register (kDiag, its entries
  // != 1 listed once at build time), for up to kMaxDiagQubits qubits.
  enum class StepKind : int { kShared1 = 0, kLane1 = 1, kOp = 2, kDiag = 3 };
  struct StepPlan {
    StepKind kind;
    int target;            // kShared1 / kLane1: the qubit
    std::vector<int> ops;  // circuit ops of the step, applied first to last (kLane1: the input gate first)
    bool lane;             // matrices per lane and tile (kLane1, kOp with an input angle)
    std::vector<int64_t> diag_index;  // kDiag: basis states whose entry is not 1
    std::vector<double> diag_value;   // kDiag: their entries (re, im) interleaved
    bool fused = false;    // kLane1 led by RX / RY / RZ: U = cos S + sin T (ops[1..] are the shared gates S)
  };
  // dL/d(slot) += 2 scale Re sum_ab Q_ab M_ab for one angle inside a shared 1-qubit step.
  struct SharedGrad {
    int step;
    int slot;
    double scale;
    cdouble q[4];
  };
  // What depends on the weights only (not on the inputs): per step its shared matrix (kShared1: the 2x2
  // product; kOp without input angles: its matrix), the kLane1 matrices and the gradient matrices.
  struct SharedCore {
    std::vector<double> weights;  // the weights it was made from
    bool grads = false;           // grads_list filled
    std::vector<std::array<cdouble, 16>> mats;
    std::vector<std::array<cdouble, 12>> lane_mats;  // kLane1 step: S, -i S P, Q = S (-i P / 2) S^dagger
    std::vector<SharedGrad> grads_list;              // in step order
  };
  // Per-thread buffers, allocated once per call and reused across tiles.
  template <typename Real>
  struct Workspace {
    std::vector<Real> state;       // psi and lam: 4 x [2^n, V]
    std::vector<Real> arena;       // per-lane matrices of every step
    std::vector<int64_t> offset;   // step -> arena offset
    std::vector<LocalOp> ops;      // step -> its LocalOp (arena offset in mat)
    const SharedCore* core = nullptr;
    std::vector<double> theta;     // [num_slots, V] (slot-major)
    std::vector<double> vals;      // [V, num_outputs]
    std::vector<Real> deriv;       // per-lane derivative matrix
    std::vector<Real> overlap;     // per-lane M of a 1-qubit step: 8 x V
    std::vector<double> half_angles;  // fused input rotations: half-angles, sines, cosines [3, steps, V]
    std::vector<double> fused_mats;   // their S and T: [steps, 16]
    std::vector<Real*> fused_dst;     // their per-lane matrices in the arena
    bool shared_ready = false;     // matrices of steps without input angles are filled once per call
    int64_t lanes = 0;             // V of this workspace
  };
  template <typename Real>
  Workspace<Real> MakeWorkspace(int64_t lanes) const;
  template <typename Real>
  void RunTile(int64_t tile, int64_t batch, const double* x, const double* w, const double* s, const double* g,
               double* out, double* slot_grad, Workspace<Real>& ws, Real* state_out, const Real* state_in) const;
  // The passes of one tile (batch_plan.cpp), run in this order by RunTileV; Tile holds what they share.
  template <typename Real>
  struct Tile;
  template <typename Real, int VL>
  void LaneMatrices(const Tile<Real>& t, int64_t tile, int64_t batch, const double* x, const double* w, const double* s,
                    Workspace<Real>& ws) const;
  template <typename Real, int VL>
  void ForwardPass(const Tile<Real>& t, int64_t tile, Workspace<Real>& ws, Real* state_out, const Real* state_in) const;
  template <typename Real, int VL>
  void ReadOut(const Tile<Real>& t, int64_t tile, int64_t batch, Workspace<Real>& ws, double* out) const;
  template <typename Real, int VL>
  void AdjointPass(const Tile<Real>& t, int64_t tile, int64_t batch, const double* g, double* slot_grad,
                   Workspace<Real>& ws) const;
  template <typename Real, int VL>
  void RunTileV(int64_t tile, int64_t batch, const double* x, const double* w, const double* s, const double* g,
                double* out, double* slot_grad, Workspace<Real>& ws, Real* state_out, const Real* state_in) const;
  void SlotValues(int64_t b, const double* x, const double* w, const double* s, double* theta, int64_t stride) const;
  void BuildSteps();
  void AddDiagonal(StepPlan& st, int op) const;
  bool InputDependent(const OpSpec& spec) const;
  template <typename Real>
  void FillShared(Workspace<Real>& ws) const;
  std::shared_ptr<const SharedCore> MakeCore(const double* w, bool grads) const;
  std::shared_ptr<const SharedCore> Core(const double* w, bool grads) const;

  int n_;
  std::vector<OpSpec> ops_;
  std::vector<OpPlan> plans_;
  std::vector<StepPlan> steps_;
  std::vector<int> input_slots_;
  std::vector<int> fused_lane_steps_;  // kLane1 steps led by RX / RY / RZ (U = cos S + sin T)
  std::unique_ptr<std::mutex> core_mutex_ =
      std::make_unique<std::mutex>();  // guards core_ (calls from several threads)
  // A workspace kept for single-tile forward calls (B = 1 acting), one per precision, guarded by cache_mutex_.
  template <typename Real>
  struct CachedWorkspace {
    std::unique_ptr<Workspace<Real>> ws;
    std::shared_ptr<const SharedCore> core;  // the core its shared matrices were filled from
  };
  std::unique_ptr<std::mutex> cache_mutex_ = std::make_unique<std::mutex>();
  mutable CachedWorkspace<double> cached64_;
  mutable CachedWorkspace<float> cached32_;
  template <typename Real>
  CachedWorkspace<Real>& Cached() const {
    if constexpr (std::is_same_v<Real, double>)
      return cached64_;
    else
      return cached32_;
  }
  mutable std::shared_ptr<const SharedCore>
      core_; // the last weights' core  // slots read from the inputs (the others are the same in every lane)
  std::vector<SlotSpec> slots_;
  int num_weights_, num_features_, num_scales_;
  std::vector<PauliTerm> terms_;
  int num_outputs_;
  std::vector<int> prob_qubits_;
  int lanes_;
  Isa isa_;
  StepReport report_;
};

}  // namespace nextrl::quantum
