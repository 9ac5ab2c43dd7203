// Plain-data description of a fused block, shared by the plan (generic code) and the
// per-ISA kernels. Only POD types here: the kernel translation units are compiled with
// different -m flags and must not share inline functions with the rest of the build.
#pragma once
#include <cstdint>

namespace nextrl::quantum {

constexpr int kMaxLocalTargets = 12;  // qubits a block may act on
constexpr int kMaxDenseTargets = 10;  // qubits of the largest dense matrix (kUnitary)

enum LocalOpClass : int { kLocalDiagonal = 0, kLocalMonomial = 1, kLocalDense = 2 };

// One gate of a block's program, in local bit positions (0 .. m-1).
//   cls = kLocalDense:    arena[mat .. mat + 4^k) is the row-major 2^k x 2^k matrix;
//   cls = kLocalDiagonal: arena[mat .. mat + 2^k) is the diagonal;
//   cls = kLocalMonomial: row r has the entry arena[mat + r] in column perm[r].
// Arena entries are complex numbers stored as (re, im) pairs; `mat` counts complex entries.
// The gate acts where (local index & cmask) == cval; cmask and target bits are disjoint.
struct LocalOp {
  int cls;
  int k;
  int targets[kMaxLocalTargets];
  uint32_t cmask;
  uint32_t cval;
  int64_t mat;
  int perm[4];
  uint32_t skip;  // batched diagonal ops: bit c set when entry c is 1 in every lane
};

// How a block's local buffer maps onto the state.
// The local buffer holds 2^m x 2^v amplitudes as separate real and imaginary arrays,
// element (j, l) at j * 2^v + l: j indexes the block's qubits (bit i <-> the block's
// i-th qubit), l the lane qubits (the lowest qubits outside the block), which give
// every local operation contiguous runs of at least 2^v elements to vectorize over.
struct BlockGeometry {
  int m;                    // qubits the block acts on
  int v;                    // lane qubits
  const int64_t* off_local; // [2^m] state offset of local index j
  const int64_t* off_lane;  // [2^v] state offset of lane l
  const int* outer_pos;     // [num_outer] remaining qubit positions, ascending
  int num_outer;
  bool lanes_contiguous;    // lane qubits are 0 .. v-1, so off_lane[l] == l
};

}  // namespace nextrl::quantum
