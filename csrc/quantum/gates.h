// Gate kinds, their matrices and their structure class.
// Matrices follow Qiskit: for a gate on targets (t0, t1, ...), bit j of a row or
// column index belongs to target t_j (t0 is the least significant bit), and the
// conventions are Qiskit's (RZ = diag(e^{-i th/2}, e^{i th/2}), U(th, phi, lam), ...).
// Controls are separate from targets: CX is X with one control.
#pragma once
#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

namespace nextrl::quantum {

using cdouble = std::complex<double>;

enum class GateKind : int {
  kI = 0,
  kX,
  kY,
  kZ,
  kH,
  kS,
  kSdg,
  kT,
  kTdg,
  kSX,
  kSXdg,
  kRX,
  kRY,
  kRZ,
  kP,
  kU,
  kSwap,
  kISwap,
  kRXX,
  kRYY,
  kRZZ,
  kUnitary,
  kGlobalPhase,
  kCount
};

// How a kernel may apply a gate: diagonal, monomial (one nonzero per row), or dense.
enum class GateClass : int { kDiagonal = 0, kMonomial = 1, kDense = 2 };

struct GateInfo {
  int num_targets;  // -1: given by the matrix (kUnitary)
  int num_params;
  GateClass cls;
};

// The gate table: one row per GateKind, in kind order. Python builds its gate set from it
// (bindings/quantum.cpp, gate_table()), so names and integers are written down only here.
struct GateDef {
  GateKind kind;
  const char* name;  // Qiskit's name of the uncontrolled gate; controls are kept apart
  GateInfo info;
};

inline constexpr GateDef kGateTable[] = {
    {GateKind::kI, "id", {1, 0, GateClass::kDiagonal}},
    {GateKind::kX, "x", {1, 0, GateClass::kMonomial}},
    {GateKind::kY, "y", {1, 0, GateClass::kMonomial}},
    {GateKind::kZ, "z", {1, 0, GateClass::kDiagonal}},
    {GateKind::kH, "h", {1, 0, GateClass::kDense}},
    {GateKind::kS, "s", {1, 0, GateClass::kDiagonal}},
    {GateKind::kSdg, "sdg", {1, 0, GateClass::kDiagonal}},
    {GateKind::kT, "t", {1, 0, GateClass::kDiagonal}},
    {GateKind::kTdg, "tdg", {1, 0, GateClass::kDiagonal}},
    {GateKind::kSX, "sx", {1, 0, GateClass::kDense}},
    {GateKind::kSXdg, "sxdg", {1, 0, GateClass::kDense}},
    {GateKind::kRX, "rx", {1, 1, GateClass::kDense}},
    {GateKind::kRY, "ry", {1, 1, GateClass::kDense}},
    {GateKind::kRZ, "rz", {1, 1, GateClass::kDiagonal}},
    {GateKind::kP, "p", {1, 1, GateClass::kDiagonal}},
    {GateKind::kU, "u", {1, 3, GateClass::kDense}},
    {GateKind::kSwap, "swap", {2, 0, GateClass::kMonomial}},
    {GateKind::kISwap, "iswap", {2, 0, GateClass::kMonomial}},
    {GateKind::kRXX, "rxx", {2, 1, GateClass::kDense}},
    {GateKind::kRYY, "ryy", {2, 1, GateClass::kDense}},
    {GateKind::kRZZ, "rzz", {2, 1, GateClass::kDiagonal}},
    {GateKind::kUnitary, "unitary", {-1, 0, GateClass::kDense}},
    {GateKind::kGlobalPhase, "global_phase", {0, 1, GateClass::kDiagonal}},
};

constexpr bool GateTableInKindOrder() {
  if (sizeof(kGateTable) / sizeof(kGateTable[0]) != static_cast<size_t>(GateKind::kCount)) return false;
  for (int i = 0; i < static_cast<int>(GateKind::kCount); ++i)
    if (static_cast<int>(kGateTable[i].kind) != i) return false;
  return true;
}
static_assert(GateTableInKindOrder(), "kGateTable must list every GateKind once, in kind order");

// Precondition: kind < kCount (bindings check kinds that come from Python).
inline GateInfo Info(GateKind kind) { return kGateTable[static_cast<int>(kind)].info; }

// Writes the 2^k x 2^k row-major matrix of a parametrized or fixed gate into `out`.
// kUnitary is not handled here (its matrix is a constant of the plan).
inline void GateMatrix(GateKind kind, const double* a, cdouble* out) {
  const cdouble I(0.0, 1.0);
  const double r2 = 1.0 / std::sqrt(2.0);
  auto set2 = [&](cdouble m00, cdouble m01, cdouble m10, cdouble m11) {
    out[0] = m00;
    out[1] = m01;
    out[2] = m10;
    out[3] = m11;
  };
  switch (kind) {
    case GateKind::kI:
      set2(1, 0, 0, 1);
      break;
    case GateKind::kX:
      set2(0, 1, 1, 0);
      break;
    case GateKind::kY:
      set2(0, -I, I, 0);
      break;
    case GateKind::kZ:
      set2(1, 0, 0, -1);
      break;
    case GateKind::kH:
      set2(r2, r2, r2, -r2);
      break;
    case GateKind::kS:
      set2(1, 0, 0, I);
      break;
    case GateKind::kSdg:
      set2(1, 0, 0, -I);
      break;
    case GateKind::kT:
      set2(1, 0, 0, std::polar(1.0, M_PI / 4));
      break;
    case GateKind::kTdg:
      set2(1, 0, 0, std::polar(1.0, -M_PI / 4));
      break;
    case GateKind::kSX:
      set2(cdouble(0.5, 0.5), cdouble(0.5, -0.5), cdouble(0.5, -0.5), cdouble(0.5, 0.5));
      break;
    case GateKind::kSXdg:
      set2(cdouble(0.5, -0.5), cdouble(0.5, 0.5), cdouble(0.5, 0.5), cdouble(0.5, -0.5));
      break;
    case GateKind::kRX: {
      const double c = std::cos(a[0] / 2), s = std::sin(a[0] / 2);
      set2(c, -I * s, -I * s, c);
      break;
    }
    case GateKind::kRY: {
      const double c = std::cos(a[0] / 2), s = std::sin(a[0] / 2);
      set2(c, -s, s, c);
      break;
    }
    case GateKind::kRZ:
      set2(std::polar(1.0, -a[0] / 2), 0, 0, std::polar(1.0, a[0] / 2));
      break;
    case GateKind::kP:
      set2(1, 0, 0, std::polar(1.0, a[0]));
      break;
    case GateKind::kU: {
      const double c = std::cos(a[0] / 2), s = std::sin(a[0] / 2);
      set2(c, -std::polar(s, a[2]), std::polar(s, a[1]), std::polar(c, a[1] + a[2]));
      break;
    }
    case GateKind::kSwap:
    case GateKind::kISwap: {
      for (int i = 0; i < 16; ++i) out[i] = 0;
      const cdouble off = kind == GateKind::kSwap ? cdouble(1) : I;
      out[0] = 1;
      out[1 * 4 + 2] = off;
      out[2 * 4 + 1] = off;
      out[15] = 1;
      break;
    }
    case GateKind::kRXX:
    case GateKind::kRYY: {
      // exp(-i th/2 P(x)P): cos on the diagonal, -i sin on the anti-diagonal; for YY
      // the |00>,|11> couplings flip sign (Y(x)Y|00> = -|11>).
      const double c = std::cos(a[0] / 2), s = std::sin(a[0] / 2);
      const double sign = kind == GateKind::kRXX ? 1.0 : -1.0;
      for (int i = 0; i < 16; ++i) out[i] = 0;
      for (int i = 0; i < 4; ++i) out[i * 5] = c;
      out[0 * 4 + 3] = out[3 * 4 + 0] = -I * s * sign;
      out[1 * 4 + 2] = out[2 * 4 + 1] = -I * s;
      break;
    }
    case GateKind::kRZZ: {
      for (int i = 0; i < 16; ++i) out[i] = 0;
      const cdouble even = std::polar(1.0, -a[0] / 2), odd = std::polar(1.0, a[0] / 2);
      out[0] = even;
      out[5] = odd;
      out[10] = odd;
      out[15] = even;
      break;
    }
    case GateKind::kGlobalPhase:
      out[0] = std::polar(1.0, a[0]);
      break;
    default:
      break;
  }
}

// Writes d(matrix)/d(angle `which`) of a parametrized gate into `out` (2^k x 2^k).
// Pauli rotations R(th) = exp(-i th/2 P) have dR/dth = R(th + pi) / 2; P and U use the
// closed forms of their entries.
inline void GateDerivative(GateKind kind, const double* a, int which, cdouble* out) {
  const cdouble I(0.0, 1.0);
  switch (kind) {
    case GateKind::kRX:
    case GateKind::kRY:
    case GateKind::kRZ:
    case GateKind::kRXX:
    case GateKind::kRYY:
    case GateKind::kRZZ: {
      const double shifted = a[0] + M_PI;
      GateMatrix(kind, &shifted, out);
      const int d = Info(kind).num_targets == 2 ? 16 : 4;
      for (int i = 0; i < d; ++i) out[i] *= 0.5;
      break;
    }
    case GateKind::kP:
      out[0] = out[1] = out[2] = 0;
      out[3] = I * std::polar(1.0, a[0]);
      break;
    case GateKind::kGlobalPhase:
      out[0] = I * std::polar(1.0, a[0]);
      break;
    case GateKind::kU: {
      if (which == 0) {
        const double shifted[3] = {a[0] + M_PI, a[1], a[2]};
        GateMatrix(kind, shifted, out);
        for (int i = 0; i < 4; ++i) out[i] *= 0.5;
      } else {
        GateMatrix(kind, a, out);
        if (which == 1) {  // phi multiplies row 1 by e^{i phi}
          out[0] = out[1] = 0;
          out[2] *= I;
          out[3] *= I;
        } else {           // lam multiplies column 1 by e^{i lam}
          out[0] = out[2] = 0;
          out[1] *= I;
          out[3] *= I;
        }
      }
      break;
    }
    default:
      break;
  }
}

// Writes the generator G of angle `which` of a parametrized gate into `out` (2^k x 2^k,
// 1 x 1 for the global phase): the gate is V exp(-i a_which G) W with V and W free of
// a_which. Pauli rotations: G = P / 2; P and the phi / lambda of U = P(phi) RY(theta) P(lam):
// G = -|1><1|; theta of U: Y / 2; global phase: G = -1. The spectrum of G (with a 0 added per
// control) gives the angle's parameter-shift rule (python/nextrl/quantum/shift_rules.py).
// Precondition: 0 <= which < Info(kind).num_params.
inline void GateGenerator(GateKind kind, int which, cdouble* out) {
  const cdouble I(0.0, 1.0);
  auto set2 = [&](cdouble m00, cdouble m01, cdouble m10, cdouble m11) {
    out[0] = m00;
    out[1] = m01;
    out[2] = m10;
    out[3] = m11;
  };
  switch (kind) {
    case GateKind::kRX:
      set2(0, 0.5, 0.5, 0);
      break;
    case GateKind::kRY:
      set2(0, -0.5 * I, 0.5 * I, 0);
      break;
    case GateKind::kRZ:
      set2(0.5, 0, 0, -0.5);
      break;
    case GateKind::kP:
      set2(0, 0, 0, -1);
      break;
    case GateKind::kU:
      if (which == 0)
        set2(0, -0.5 * I, 0.5 * I, 0);
      else
        set2(0, 0, 0, -1);
      break;
    case GateKind::kRXX:
    case GateKind::kRYY:
    case GateKind::kRZZ: {
      // P (x) P / 2 for P = X, Y, Z; bit j of an index is target j.
      cdouble p[4];
      if (kind == GateKind::kRXX) {
        p[0] = 0;
        p[1] = 1;
        p[2] = 1;
        p[3] = 0;
      } else if (kind == GateKind::kRYY) {
        p[0] = 0;
        p[1] = -I;
        p[2] = I;
        p[3] = 0;
      } else {
        p[0] = 1;
        p[1] = 0;
        p[2] = 0;
        p[3] = -1;
      }
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) out[r * 4 + c] = 0.5 * p[(r >> 1) * 2 + (c >> 1)] * p[(r & 1) * 2 + (c & 1)];
      break;
    }
    case GateKind::kGlobalPhase:
      out[0] = -1;
      break;
    default:
      break;
  }
}

}  // namespace nextrl::quantum
