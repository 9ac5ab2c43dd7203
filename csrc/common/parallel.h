// Parallel loops over index ranges. Work is split into contiguous static chunks,
// and every reduction in nextrl sums fixed-size chunks in a fixed order, so
// results are bitwise identical for any thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace nextrl {

inline int MaxThreads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int ThreadId() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Runs f(i) for i in [0, n); in parallel when n >= min_parallel.
template <typename F>
void ParallelFor(int64_t n, int64_t min_parallel, const F& f) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= min_parallel && MaxThreads() > 1)
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

// The threading policy of the kernels that need per-thread scratch (statevector blocks, batched-circuit
// tiles): body(local, i) for i in [0, n) in static chunks, in parallel when parallel && n > 1, where local =
// make() is made once per thread inside it (a workspace, or a slice of a preallocated scratch buffer chosen
// by ThreadId()). Kernels call this instead of holding OpenMP pragmas; static chunks keep every result
// independent of the thread count when each i writes its own outputs.
template <typename Make, typename Body>
void ParallelForLocal(int64_t n, bool parallel, const Make& make, const Body& body) {
#ifdef _OPENMP
#pragma omp parallel if (parallel && n > 1 && MaxThreads() > 1)
#endif
  {
    auto local = make();
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t i = 0; i < n; ++i) body(local, i);
  }
}

// Deterministic sum of chunk(i0, i1) over [0, n) in chunks of `chunk` items:
// partial sums are computed in parallel and added in chunk order.
template <typename T, typename F>
T ChunkedSum(int64_t n, int64_t chunk, const F& partial) {
  const int64_t num_chunks = (n + chunk - 1) / chunk;
  std::vector<T> parts(static_cast<size_t>(num_chunks));
  ParallelFor(num_chunks, 2, [&](int64_t c) {
    const int64_t i0 = c * chunk;
    const int64_t i1 = i0 + chunk < n ? i0 + chunk : n;
    parts[static_cast<size_t>(c)] = partial(i0, i1);
  });
  T total{};
  for (const T& p : parts) total += p;
  return total;
}

}  // namespace nextrl
