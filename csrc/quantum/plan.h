// A compiled circuit: validated gate list, fused blocks and their local programs.
// Compiled once per (circuit, num_qubits); Run() only evaluates the angles, builds the
// gate matrices and executes the blocks.
#pragma once
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "quantum/gates.h"
#include "quantum/local_program.h"

namespace nextrl::quantum {

// angle = scale * params[index] + offset; index < 0 means the constant `offset`.
struct ParamRef {
  int index = -1;
  double scale = 1.0;
  double offset = 0.0;
};

struct OpSpec {
  GateKind kind = GateKind::kI;
  std::vector<int> targets;
  std::vector<int> controls;
  uint64_t ctrl_state = 0;         // bit i: value controls[i] must have
  std::vector<ParamRef> angles;    // Info(kind).num_params entries
  std::vector<cdouble> matrix;     // kUnitary: row-major 2^k x 2^k
};

struct FusionReport {
  int num_ops = 0;        // gates in the circuit
  int num_blocks = 0;     // passes over the state
  int max_qubits = 0;     // fusion limit used (0 = fusion off)
  int largest_block = 0;  // qubits of the largest block
  double mean_block_qubits = 0;
  int merged_1q = 0;      // 1-qubit gates folded into a neighbour on the same qubit
};

enum class Isa : int { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };
Isa DetectIsa();
const char* IsaName(Isa isa);

class Plan {
 public:
  // Validates ops (throws std::out_of_range / std::invalid_argument) and fuses them.
  // max_fused_qubits <= 0 turns fusion off; local_bits sets the local buffer size 2^local_bits.
  Plan(int num_qubits, std::vector<OpSpec> ops, int num_params, int max_fused_qubits, int local_bits);

  // Applies the circuit in place. state: [2^n] complex, params: [num_params] (checked by caller).
  template <typename Real>
  void Run(std::complex<Real>* state, const double* params) const;

  int num_qubits() const { return num_qubits_; }
  int num_params() const { return num_params_; }
  const FusionReport& report() const { return report_; }
  // The validated circuit ops (backends that lower the circuit themselves, e.g. CUDA, start from these).
  const std::vector<OpSpec>& ops() const { return ops_; }
  Isa isa() const { return isa_; }
  // Selects the kernel instruction set; throws std::invalid_argument if this CPU or
  // build lacks it. Every ISA gives the same results up to floating-point contraction.
  void set_isa(Isa isa);

 private:
  struct LocalOpPlan {
    LocalOp op;                 // targets / controls in local bits; mat filled at run time
    std::vector<int> sources;   // circuit ops, applied first to last
    int64_t arena_size;         // complex entries
  };
  struct BlockPlan {
    std::vector<int> qubits;    // ascending; local bit i = qubits[i]
    std::vector<LocalOpPlan> program;
    std::vector<int64_t> off_local, off_lane;
    std::vector<int> outer_pos;
    int v = 0;
    bool lanes_contiguous = false;
    int64_t arena_size = 0;
  };

  void Validate() const;
  void BuildBlock(uint64_t mask, const std::vector<int>& op_ids, int local_bits);
  void OpMatrix(int op, const double* params, std::vector<cdouble>& out) const;

  int num_qubits_;
  int num_params_;
  std::vector<OpSpec> ops_;
  std::vector<BlockPlan> blocks_;
  FusionReport report_;
  Isa isa_;
};

}  // namespace nextrl::quantum
