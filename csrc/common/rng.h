// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, "Parallel
// random numbers: as easy as 1, 2, 3"). A value depends only on (seed, stream,
// counter), so draws do not depend on thread count, chunking or device.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// Philox and the uniform draws below also compile for CUDA devices (statevector sampling on the GPU draws
// the same numbers as the CPU path).
#ifdef __CUDACC__
#define NEXTRL_HD __host__ __device__
#else
#define NEXTRL_HD
#endif

namespace nextrl {

struct Philox4x32 {
  uint32_t v[4];
};

// Philox4x32-10 of the N counters counter, counter + 1, ...: out[i] = Philox(seed, stream, counter + i). The
// N chains run in one loop, so their multiplies overlap where one chain would wait on each.
template <int N>
NEXTRL_HD inline void PhiloxN(uint64_t seed, uint64_t stream, uint64_t counter, Philox4x32* out) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0[N], c1[N], c2[N], c3[N];
  for (int i = 0; i < N; ++i) {
    const uint64_t ctr = counter + static_cast<uint64_t>(i);
    c0[i] = static_cast<uint32_t>(ctr);
    c1[i] = static_cast<uint32_t>(ctr >> 32);
    c2[i] = static_cast<uint32_t>(stream);
    c3[i] = static_cast<uint32_t>(stream >> 32);
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < N; ++i) {
      const uint64_t p0 = static_cast<uint64_t>(kM0) * c0[i];
      const uint64_t p1 = static_cast<uint64_t>(kM1) * c2[i];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[i] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[i] ^ k1;
      c1[i] = static_cast<uint32_t>(p1);
      c3[i] = static_cast<uint32_t>(p0);
      c0[i] = n0;
      c2[i] = n2;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int i = 0; i < N; ++i) out[i] = {{c0[i], c1[i], c2[i], c3[i]}};
}

NEXTRL_HD inline Philox4x32 Philox(uint64_t seed, uint64_t stream, uint64_t counter) {
  Philox4x32 r;
  PhiloxN<1>(seed, stream, counter, &r);
  return r;
}

// The double in [0, 1) of the top 53 bits of the 64-bit word hi:lo.
NEXTRL_HD inline double UnitFromWords(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 32) | lo;
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// Uniform double in [0, 1) with 53 random bits, the `counter`-th draw of `stream`.
NEXTRL_HD inline double UniformDouble(uint64_t seed, uint64_t stream, uint64_t counter) {
  const Philox4x32 r = Philox(seed, stream, counter);
  return UnitFromWords(r.v[0], r.v[1]);
}

}  // namespace nextrl

namespace nextrl {

// One random stream: the draws of Philox keyed by (seed, stream), four 32-bit words per counter value.
// Environments own one each, keyed (seed, env_id) or (derived seed, 0), so results never depend on
// thread count or on how envs are split between threads.
class Rng {
 public:
  Rng() = default;
  Rng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  uint32_t NextU32() {
    if (left_ == 0) {
      block_ = Philox(seed_, stream_, counter_++);
      left_ = 4;
    }
    return block_.v[4 - left_--];
  }
  uint64_t NextU64() {
    const uint64_t hi = NextU32();
    return (hi << 32) | NextU32();
  }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() {
    const uint32_t hi = NextU32();
    return UnitFromWords(hi, NextU32());
  }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // out[i] = Uniform(lo, hi) for i in [0, n), the same values as n calls; four at a time from two fresh
  // blocks computed together (PhiloxN) where the stream is at a block boundary.
  void Uniforms(double lo, double hi, double* out, int64_t n) {
    int64_t i = 0;
    while (i < n && left_ >= 2) out[i++] = Uniform(lo, hi);
    for (; left_ == 0 && i + 4 <= n; i += 4) {
      Philox4x32 b[2];
      PhiloxN<2>(seed_, stream_, counter_, b);
      counter_ += 2;
      for (int k = 0; k < 4; ++k) {
        const uint32_t* w = b[k / 2].v + 2 * (k % 2);
        out[i + k] = lo + (hi - lo) * UnitFromWords(w[0], w[1]);
      }
    }
    for (; i < n; ++i) out[i] = Uniform(lo, hi);
  }
  // Uniform integer in [0, n), n >= 1, without modulo bias (Lemire 2019, with rejection).
  int64_t Below(int64_t n) {
    const uint64_t range = static_cast<uint64_t>(n);
    uint64_t x = NextU64();
    __uint128_t m = static_cast<__uint128_t>(x) * range;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < range) {
      const uint64_t threshold = (0 - range) % range;
      while (low < threshold) {
        x = NextU64();
        m = static_cast<__uint128_t>(x) * range;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<int64_t>(m >> 64);
  }
  // Standard normal (Box-Muller; the second value is kept for the next call).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * kPi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * kPi * u2);
  }
  bool Bernoulli(double p) { return Uniform() < p; }

  // The stream's position, for copyable env state (envs/env_state.h): f(field) for each field.
  template <class F>
  void VisitState(F&& f) {
    f(seed_), f(stream_), f(counter_), f(block_.v), f(left_), f(has_spare_), f(spare_);
  }
  const char* CheckState() const { return left_ >= 0 && left_ <= 4 ? nullptr : "has an rng position outside [0, 4]"; }
  // Whether o is in the same state, bit for bit (then the same draws follow).
  bool SameState(const Rng& o) const {
    return seed_ == o.seed_ && stream_ == o.stream_ && counter_ == o.counter_ && left_ == o.left_ &&
           has_spare_ == o.has_spare_ && std::memcmp(block_.v, o.block_.v, sizeof block_.v) == 0 &&
           std::memcmp(&spare_, &o.spare_, sizeof spare_) == 0;
  }

 private:
  static constexpr double kPi = 3.14159265358979323846;
  uint64_t seed_ = 0, stream_ = 0, counter_ = 0;
  Philox4x32 block_{};
  int left_ = 0;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace nextrl
