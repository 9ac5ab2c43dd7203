// Read-outs of a statevector: norms, inner products, Pauli expectations, marginal
// probabilities, sampling and projective measurement. Reductions sum fixed chunks in a
// fixed order (common/parallel.h), so every result is independent of the thread count.
//   state: [2^n] std::complex<Real>; qubit order is Qiskit's (qubit 0 = least significant bit).
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "common/parallel.h"
#include "common/rng.h"

namespace nextrl::quantum {

constexpr int64_t kReduceChunk = int64_t{1} << 14;
constexpr int64_t kMinParallel = int64_t{1} << 14;

template <typename Real>
double NormSquared(const std::complex<Real>* s, int64_t size) {
  return ChunkedSum<double>(size, kReduceChunk, [&](int64_t i0, int64_t i1) {
    double acc = 0;
    for (int64_t i = i0; i < i1; ++i) acc += double(s[i].real()) * s[i].real() + double(s[i].imag()) * s[i].imag();
    return acc;
  });
}

// <a|b> = sum_i conj(a_i) b_i
template <typename Real>
std::complex<double> Inner(const std::complex<Real>* a, const std::complex<Real>* b, int64_t size) {
  return ChunkedSum<std::complex<double>>(size, kReduceChunk, [&](int64_t i0, int64_t i1) {
    double re = 0, im = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const double ar = a[i].real(), ai = a[i].imag(), br = b[i].real(), bi = b[i].imag();
      re += ar * br + ai * bi;
      im += ar * bi - ai * br;
    }
    return std::complex<double>(re, im);
  });
}

// <psi| P |psi> for P = i^{popcount(x & z)} X^x Z^z (Y = iXZ), so that
// P|i> = i^{ny} (-1)^{popcount(i & z)} |i ^ x>.
template <typename Real>
std::complex<double> PauliExpectation(const std::complex<Real>* s, int64_t size, uint64_t x, uint64_t z) {
  const std::complex<double> sum = ChunkedSum<std::complex<double>>(size, kReduceChunk, [&](int64_t i0, int64_t i1) {
    double re = 0, im = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const auto a = s[static_cast<uint64_t>(i) ^ x], b = s[i];
      const double sign = (std::popcount(static_cast<uint64_t>(i) & z) & 1) ? -1.0 : 1.0;
      re += sign * (double(a.real()) * b.real() + double(a.imag()) * b.imag());
      im += sign * (double(a.real()) * b.imag() - double(a.imag()) * b.real());
    }
    return std::complex<double>(re, im);
  });
  static const std::complex<double> kPhase[4] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
  return kPhase[std::popcount(x & z) & 3] * sum;
}

// Marginal probabilities of `qubits`: out[k], bit j of k <-> qubits[j] (Qiskit's
// Statevector.probabilities(qargs) order).  out: [2^len(qubits)].
template <typename Real>
void Probabilities(const std::complex<Real>* s, int n, const std::vector<int>& qubits, double* out) {
  const int64_t size = int64_t{1} << n;
  const int k = static_cast<int>(qubits.size());
  const int64_t bins = int64_t{1} << k;
  auto bin_of = [&](int64_t i) {
    int64_t b = 0;
    for (int j = 0; j < k; ++j) b |= ((i >> qubits[j]) & 1) << j;
    return b;
  };
  bool identity = k == n;
  for (int j = 0; j < k && identity; ++j) identity = qubits[j] == j;
  if (identity) {
    ParallelFor(size, kMinParallel,
                [&](int64_t i) { out[i] = double(s[i].real()) * s[i].real() + double(s[i].imag()) * s[i].imag(); });
    return;
  }
  if (k <= 10) {  // fixed chunks with private histograms, added in chunk order
    const int64_t chunk = std::max<int64_t>(kReduceChunk, size / 1024);
    const int64_t num_chunks = (size + chunk - 1) / chunk;
    std::vector<double> parts(static_cast<size_t>(num_chunks * bins), 0.0);
    ParallelFor(num_chunks, 2, [&](int64_t c) {
      double* h = parts.data() + c * bins;
      const int64_t i1 = std::min(size, (c + 1) * chunk);
      for (int64_t i = c * chunk; i < i1; ++i)
        h[bin_of(i)] += double(s[i].real()) * s[i].real() + double(s[i].imag()) * s[i].imag();
    });
    std::fill(out, out + bins, 0.0);
    for (int64_t c = 0; c < num_chunks; ++c)
      for (int64_t b = 0; b < bins; ++b) out[b] += parts[static_cast<size_t>(c * bins + b)];
    return;
  }
  // Many bins: each bin sums its own members in index order.
  std::vector<int> rest;
  for (int q = 0; q < n; ++q)
    if (std::find(qubits.begin(), qubits.end(), q) == qubits.end()) rest.push_back(q);
  const int64_t members = int64_t{1} << rest.size();
  ParallelFor(bins, 2, [&](int64_t b) {
    int64_t base = 0;
    for (int j = 0; j < k; ++j) base |= ((b >> j) & 1) << qubits[j];
    double acc = 0;
    for (int64_t r = 0; r < members; ++r) {
      int64_t i = base;
      for (size_t j = 0; j < rest.size(); ++j) i |= ((r >> j) & 1) << rest[j];
      acc += double(s[i].real()) * s[i].real() + double(s[i].imag()) * s[i].imag();
    }
    out[b] = acc;
  });
}

// Draws `shots` outcomes from probabilities p[0..bins) (need not be normalized).
// Shot j uses the j-th uniform of stream 0 of `seed`.  out: [shots] int64.
inline void SampleFromProbabilities(const double* p, int64_t bins, int64_t shots, uint64_t seed, int64_t* out) {
  std::vector<double> cdf(static_cast<size_t>(bins));
  double acc = 0;
  for (int64_t b = 0; b < bins; ++b) cdf[static_cast<size_t>(b)] = acc += p[b];
  ParallelFor(shots, 1024, [&](int64_t j) {
    const double u = UniformDouble(seed, 0, static_cast<uint64_t>(j)) * acc;
    int64_t b = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
    if (b == bins) {  // u rounded up to the total: take the last bin with mass
      b = bins - 1;
      while (b > 0 && p[b] == 0.0) --b;
    }
    out[j] = b;
  });
}

// Projective measurement of `qubit` in the Z basis with collapse and renormalization.
// Returns the outcome (0 or 1), drawn with the first uniform of stream 1 of `seed`.
template <typename Real>
int MeasureQubit(std::complex<Real>* s, int n, int qubit, uint64_t seed) {
  const int64_t size = int64_t{1} << n;
  const int64_t bit = int64_t{1} << qubit;
  double p[2] = {0, 0};
  const double p1 = ChunkedSum<double>(size, kReduceChunk, [&](int64_t i0, int64_t i1) {
    double acc = 0;
    for (int64_t i = i0; i < i1; ++i)
      if (i & bit) acc += double(s[i].real()) * s[i].real() + double(s[i].imag()) * s[i].imag();
    return acc;
  });
  p[1] = p1;
  p[0] = NormSquared(s, size) - p1;
  const int outcome = UniformDouble(seed, 1, 0) * (p[0] + p[1]) < p[1] ? 1 : 0;
  const Real scale = static_cast<Real>(1.0 / std::sqrt(p[outcome]));
  ParallelFor(size, kMinParallel,
              [&](int64_t i) { s[i] = (((i & bit) != 0) == (outcome == 1)) ? s[i] * scale : std::complex<Real>(0); });
  return outcome;
}

}  // namespace nextrl::quantum
