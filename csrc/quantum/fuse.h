// Gate fusion: groups a circuit's gates into blocks of at most `max_qubits` qubits.
// A block is run as one pass over the state (gather, apply its gates in cache,
// scatter), so fewer blocks mean fewer passes over memory.
//
// Greedy with lookahead: a block takes, in circuit order, every gate that fits in its
// qubit budget and does not touch a qubit of an earlier gate left out (gates on
// disjoint qubits commute, so the block may run them ahead of the ones it skips).
#pragma once
#include <bit>
#include <cstdint>
#include <vector>

namespace nextrl::quantum {

struct FusedBlock {
  uint64_t qubits = 0;    // mask of the qubits the block acts on
  std::vector<int> ops;   // op indices, in an order equivalent to the circuit's
};

// op_qubits[i]: mask of the qubits (targets and controls) of op i; n <= 63.
// max_qubits <= 0 disables fusion: one block per op.
inline std::vector<FusedBlock> FuseGates(const std::vector<uint64_t>& op_qubits, int num_qubits, int max_qubits) {
  const int num_ops = static_cast<int>(op_qubits.size());
  std::vector<FusedBlock> blocks;
  if (max_qubits <= 0) {
    for (int i = 0; i < num_ops; ++i) blocks.push_back({op_qubits[i], {i}});
    return blocks;
  }
  const uint64_t all = num_qubits >= 64 ? ~uint64_t{0} : (uint64_t{1} << num_qubits) - 1;
  std::vector<char> done(static_cast<size_t>(num_ops), 0);
  int first = 0;
  while (first < num_ops) {
    FusedBlock block;
    uint64_t blocked = 0;
    for (int i = first; i < num_ops; ++i) {
      if (done[i]) continue;
      const uint64_t q = op_qubits[i];
      const bool fits = std::popcount(block.qubits | q) <= max_qubits || block.ops.empty();
      if ((q & blocked) == 0 && fits) {
        block.qubits |= q;
        block.ops.push_back(i);
        done[i] = 1;
      } else {
        blocked |= q;
        if ((blocked & all) == all) break;
      }
    }
    blocks.push_back(std::move(block));
    while (first < num_ops && done[first]) ++first;
  }
  return blocks;
}

}  // namespace nextrl::quantum
