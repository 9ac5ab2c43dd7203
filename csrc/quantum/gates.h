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
  kI = 0, kX, kY, kZ, kH, kS, kSdg, kT, kTdg, kSX, kSXdg,
  kRX, kRY, kRZ, kP, kU,
  kSwap, kISwap, kRXX, kRYY, kRZZ,
  kUnitary, kGlobalPhase,
  kCount
};

// How a kernel may apply a gate: diagonal, monomial (one nonzero per row), or dense.
enum class GateClass : int { kDiagonal = 0, kMonomial = 1, kDense = 2 };

struct GateInfo {
  int num_targets;  // -1: given by the matrix (kUnitary)
  int num_params;
  GateClass cls;
};

inline GateInfo Info(GateKind kind) {
  switch (kind) {
    case GateKind::kI: case GateKind::kZ: case GateKind::kS: case GateKind::kSdg:
    case GateKind::kT: case GateKind::kTdg:
      return {1, 0, GateClass::kDiagonal};
    case GateKind::kX: case GateKind::kY:
      return {1, 0, GateClass::kMonomial};
    case GateKind::kH: case GateKind::kSX: case GateKind::kSXdg:
      return {1, 0, GateClass::kDense};
    case GateKind::kRX: case GateKind::kRY:
      return {1, 1, GateClass::kDense};
    case GateKind::kRZ: case GateKind::kP:
      return {1, 1, GateClass::kDiagonal};
    case GateKind::kU:
      return {1, 3, GateClass::kDense};
    case GateKind::kSwap: case GateKind::kISwap:
      return {2, 0, GateClass::kMonomial};
    case GateKind::kRXX: case GateKind::kRYY:
      return {2, 1, GateClass::kDense};
    case GateKind::kRZZ:
      return {2, 1, GateClass::kDiagonal};
    case GateKind::kGlobalPhase:
      return {0, 1, GateClass::kDiagonal};
    case GateKind::kUnitary:
    default:
      return {-1, 0, GateClass::kDense};
  }
}

// Writes the 2^k x 2^k row-major matrix of a parametrized or fixed gate into `out`.
// kUnitary is not handled here (its matrix is a constant of the plan).
inline void GateMatrix(GateKind kind, const double* a, cdouble* out) {
  const cdouble I(0.0, 1.0);
  const double r2 = 1.0 / std::sqrt(2.0);
  auto set2 = [&](cdouble m00, cdouble m01, cdouble m10, cdouble m11) {
    out[0] = m00; out[1] = m01; out[2] = m10; out[3] = m11;
  };
  switch (kind) {
    case GateKind::kI: set2(1, 0, 0, 1); break;
    case GateKind::kX: set2(0, 1, 1, 0); break;
    case GateKind::kY: set2(0, -I, I, 0); break;
    case GateKind::kZ: set2(1, 0, 0, -1); break;
    case GateKind::kH: set2(r2, r2, r2, -r2); break;
    case GateKind::kS: set2(1, 0, 0, I); break;
    case GateKind::kSdg: set2(1, 0, 0, -I); break;
    case GateKind::kT: set2(1, 0, 0, std::polar(1.0, M_PI / 4)); break;
    case GateKind::kTdg: set2(1, 0, 0, std::polar(1.0, -M_PI / 4)); break;
    case GateKind::kSX: set2(cdouble(0.5, 0.5), cdouble(0.5, -0.5), cdouble(0.5, -0.5), cdouble(0.5, 0.5)); break;
    case GateKind::kSXdg: set2(cdouble(0.5, -0.5), cdouble(0.5, 0.5), cdouble(0.5, 0.5), cdouble(0.5, -0.5)); break;
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
    case GateKind::kRZ: set2(std::polar(1.0, -a[0] / 2), 0, 0, std::polar(1.0, a[0] / 2)); break;
    case GateKind::kP: set2(1, 0, 0, std::polar(1.0, a[0])); break;
    case GateKind::kU: {
      const double c = std::cos(a[0] / 2), s = std::sin(a[0] / 2);
      set2(c, -std::polar(s, a[2]), std::polar(s, a[1]), std::polar(c, a[1] + a[2]));
      break;
    }
    case GateKind::kSwap:
    case GateKind::kISwap: {
      for (int i = 0; i < 16; ++i) out[i] = 0;
      const cdouble off = kind == GateKind::kSwap ? cdouble(1) : I;
      out[0] = 1; out[1 * 4 + 2] = off; out[2 * 4 + 1] = off; out[15] = 1;
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
      out[0] = even; out[5] = odd; out[10] = odd; out[15] = even;
      break;
    }
    case GateKind::kGlobalPhase: out[0] = std::polar(1.0, a[0]); break;
    default: break;
  }
}

// Writes d(matrix)/d(angle `which`) of a parametrized gate into `out` (2^k x 2^k).
// Pauli rotations R(th) = exp(-i th/2 P) have dR/dth = R(th + pi) / 2; P and U use the
// closed forms of their entries.
inline void GateDerivative(GateKind kind, const double* a, int which, cdouble* out) {
  const cdouble I(0.0, 1.0);
  switch (kind) {
    case GateKind::kRX: case GateKind::kRY: case GateKind::kRZ:
    case GateKind::kRXX: case GateKind::kRYY: case GateKind::kRZZ: {
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

}  // namespace nextrl::quantum
