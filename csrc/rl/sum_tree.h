// Sum-tree for proportional prioritized replay (Schaul et al. 2016, arXiv:1511.05952, Sec. 3.3 and
// App. B.2.1): O(log N) priority updates and prefix-sum search, plus a min-tree for the largest
// importance weight.
//
// Layout: `size_` = capacity rounded up to a power of two; node k has children 2k and 2k+1, the root is
// node 1 and leaf i is node size_ + i. Padding leaves hold priority 0 in the sum-tree and +inf in the
// min-tree, as do leaves never set, so Min() is the smallest priority ever written to a live leaf.
// Inner nodes are recomputed as left + right after every update (never by adding deltas), so sums do
// not drift however many updates are made.
//
// Preconditions (checked in bindings/replay.cpp, not here): indices in [0, capacity), priorities finite
// and >= 0, masses finite and >= 0, uniforms in [0, 1), Total() > 0 before Find or SampleStratified.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "common/parallel.h"

namespace nextrl::rl {

class SumTree {
 public:
  explicit SumTree(int64_t capacity) : capacity_(capacity), size_(1) {
    while (size_ < capacity) size_ <<= 1;
    sum_.assign(static_cast<size_t>(2 * size_), 0.0);
    min_.assign(static_cast<size_t>(2 * size_), std::numeric_limits<double>::infinity());
  }

  int64_t Capacity() const { return capacity_; }
  double Total() const { return sum_[1]; }
  // Smallest priority among leaves that were ever set; +inf before the first update.
  double Min() const { return min_[1]; }

  // Sets priority[indices[j]] = priorities[j] for j in [0, n), in order: a later duplicate wins.
  void Update(const int64_t* indices, const double* priorities, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t node = size_ + indices[j];
      sum_[node] = priorities[j];
      min_[node] = priorities[j];
      for (node >>= 1; node >= 1; node >>= 1) {
        const double l = sum_[2 * node], r = sum_[2 * node + 1];
        const double ml = min_[2 * node], mr = min_[2 * node + 1];
        sum_[node] = l + r;
        min_[node] = ml < mr ? ml : mr;
      }
    }
  }

  // out[j] = priority of leaf indices[j].
  void Get(const int64_t* indices, int64_t n, double* out) const {
    for (int64_t j = 0; j < n; ++j) out[j] = sum_[size_ + indices[j]];
  }

  // The smallest leaf i whose inclusive prefix sum exceeds `mass`, i.e. searchsorted(cumsum, mass,
  // "right"). Never returns a zero-priority leaf: a subtree of sum 0 is never entered, so a mass at or
  // past Total() (rounding) lands on the last leaf with positive priority.
  int64_t Find(double mass) const {
    int64_t node = 1;
    while (node < size_) {
      const double left = sum_[2 * node], right = sum_[2 * node + 1];
      if (mass < left || right <= 0.0) {
        node = 2 * node;
      } else {
        mass -= left;
        node = 2 * node + 1;
      }
    }
    return node - size_;
  }

  void Find(const double* masses, int64_t n, int64_t* out) const {
    ParallelFor(n, 4096, [&](int64_t j) { out[j] = Find(masses[j]); });
  }

  // Stratified sampling: draw j searches mass (j + uniforms[j]) * Total() / n, one draw per equal-mass
  // segment (Schaul et al. 2016, App. B.2.1).
  void SampleStratified(const double* uniforms, int64_t n, int64_t* out) const {
    const double segment = Total() / static_cast<double>(n);
    ParallelFor(n, 4096, [&](int64_t j) { out[j] = Find((static_cast<double>(j) + uniforms[j]) * segment); });
  }

 private:
  int64_t capacity_;
  int64_t size_;
  std::vector<double> sum_;  // [2 * size_], node 0 unused
  std::vector<double> min_;  // [2 * size_], node 0 unused
};

}  // namespace nextrl::rl
