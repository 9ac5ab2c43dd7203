// Copyable env state: the bytes that make one env continue bit for bit.
//
// Every env (single- and multi-agent) declares its State once, as the list of the fields that change
// after construction (everything else comes from its Config):
//   template <class F> void VisitState(F&& f);   f(field) for each field, always in the same order
//   const char* CheckState() const;              optional: nullptr when the fields form a valid state,
//                                                else "must be ..." (a restored state is checked by it)
// A field is an arithmetic value, an enum, a std::complex, a bool, or a C array / std::array /
// std::vector of those (a vector's size is fixed by the Config: it is neither saved nor restored).
// The drivers (VecEnv, VecMarlEnv) add their per-env part (the Rng, the episode counters, the last
// outputs) and expose a batched state: [num_envs, StateBytes] uint8, one row per env, which the
// planners copy, tile and restore. The layout is native (little-endian x86-64 / aarch64): a state is
// portable between envs of the same type and a compatible Config, not between machines.
//
// Writing visits const objects through a const_cast: StateWriter and StateSizer only read.
#pragma once
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace nextrl::envs {

namespace state_detail {
template <class T>
struct IsComplex : std::false_type {};
template <class T>
struct IsComplex<std::complex<T>> : std::true_type {};
template <class T>
concept Raw = (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) || std::is_enum_v<T> || IsComplex<T>::value;
}  // namespace state_detail

// Visits a field or the elements of an array / vector field with f.Raw(pointer, count) and f.Bool(bool&).
template <class F, class T>
void VisitField(F& f, T& x) {
  using U = std::remove_const_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    f.Bool(const_cast<bool&>(x));
  } else if constexpr (state_detail::Raw<U>) {
    f.Raw(const_cast<U*>(&x), 1);
  } else if constexpr (std::is_array_v<U>) {
    for (auto& e : x) VisitField(f, e);
  } else {  // std::vector / std::array
    using E = std::remove_cvref_t<decltype(*x.begin())>;
    if constexpr (state_detail::Raw<E>) {
      if (!x.empty()) f.Raw(const_cast<E*>(&*x.begin()), x.size());
    } else {
      for (auto& e : x) VisitField(f, e);
    }
  }
}

// The three codecs, each a callable for VisitState: f(field) or f(pointer, count) for a buffer row.
struct StateSizer {
  size_t bytes = 0;
  template <class T>
  void Raw(T*, size_t n) {
    bytes += sizeof(T) * n;
  }
  void Bool(bool&) { bytes += 1; }
  template <class T>
  void operator()(T& x) {
    VisitField(*this, x);
  }
  template <class T>
  void operator()(T*, int64_t n) {
    bytes += sizeof(T) * static_cast<size_t>(n);
  }
};

struct StateWriter {
  uint8_t* p;
  template <class T>
  void Raw(T* x, size_t n) {
    if (n != 0) std::memcpy(p, x, sizeof(T) * n);
    p += sizeof(T) * n;
  }
  void Bool(bool& b) { *p++ = b ? 1 : 0; }
  template <class T>
  void operator()(T& x) {
    VisitField(*this, x);
  }
  template <class T>
  void operator()(T* x, int64_t n) {
    Raw(x, static_cast<size_t>(n));
  }
};

// Reads fields back; a bool byte other than 0 / 1 sets error (the field is then false).
struct StateReader {
  const uint8_t* p;
  const char* error = nullptr;
  template <class T>
  void Raw(T* x, size_t n) {
    if (n != 0) std::memcpy(static_cast<void*>(x), p, sizeof(T) * n);
    p += sizeof(T) * n;
  }
  void Bool(bool& b) {
    const uint8_t v = *p++;
    if (v > 1 && error == nullptr) error = "has a flag byte that is neither 0 nor 1";
    b = v == 1;
  }
  template <class T>
  void operator()(T& x) {
    VisitField(*this, x);
  }
  template <class T>
  void operator()(T* x, int64_t n) {
    Raw(x, static_cast<size_t>(n));
  }
};

// A flag stored as a uint8_t 0 / 1 byte in a driver's buffer, visited as a bool.
struct FlagRow {
  uint8_t* p;
  int64_t n;
};
template <class F>
void VisitFlags(F& f, FlagRow row) {
  for (int64_t k = 0; k < row.n; ++k) {
    bool b = row.p[k] != 0;
    f(b);
    row.p[k] = b ? 1 : 0;
  }
}

template <class Env>
concept HasCheckState = requires(const Env& e) {
  { e.CheckState() } -> std::convertible_to<const char*>;
};

template <class Env>
const char* CheckEnvState(const Env& e) {
  if constexpr (HasCheckState<Env>) return e.CheckState();
  return nullptr;
}

}  // namespace nextrl::envs
