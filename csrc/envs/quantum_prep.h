// QuantumStatePrep: prepare a target state of num_qubits qubits from |0...0> with discrete gates.
// The course document (CA18 QuantumEnvironment) applied its gates to qubit 0 only, so the fidelity with
// its |++> target was capped at 0.5, and it observed only the real part of the amplitudes (non-Markov).
//   Actions: an index into the gate list, single-qubit gates first, gate-major: a = g * n + q applies
//     kSingleGates[g] (H, X, S, T, RY(pi/4), RZ(pi/4)) to qubit q for a < 6 n; then CX(c, t) for every
//     ordered pair c != t, c-major (t skips c). NumActions = 6 n + n (n - 1).
//   Observation: [Re psi, Im psi] (2 * 2^n floats), followed by [Re target, Im target] with observe_target.
//   Reward: fidelity gain |<target|psi'>|^2 - |<target|psi>|^2; terminates when the fidelity reaches
//     `threshold`; truncates after max_steps. info["fidelity"] is the fidelity after the step (or reset).
//   Targets are reachable by construction: the fixed target is target_actions applied to |0...0>; with
//     target_depth > 0, every reset draws target_depth random actions instead (redrawn while the start
//     state already meets the threshold).
// Gate matrices come from quantum/gates.h (Qiskit's conventions; qubit q is bit q of a basis index).
#pragma once
#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "envs/vec_env.h"
#include "quantum/gates.h"

namespace nextrl::envs {

struct QuantumStatePrep {
  using cdouble = std::complex<double>;
  struct Config {
    int64_t num_qubits = 2;
    std::vector<int64_t> target_actions;  // the fixed target (used when target_depth == 0)
    int64_t target_depth = 0;
    bool observe_target = false;
    double threshold = 0.99;
    int64_t max_steps = 30;
  };
  using Obs = float;
  using Action = int64_t;
  static constexpr std::array<const char*, 1> kInfoNames{"fidelity"};
  static constexpr int64_t kMaxQubits = 10, kNumSingle = 6, kMaxTargetTries = 100;
  static constexpr quantum::GateKind kSingleGates[kNumSingle] = {quantum::GateKind::kH,  quantum::GateKind::kX,
                                                                 quantum::GateKind::kS,  quantum::GateKind::kT,
                                                                 quantum::GateKind::kRY, quantum::GateKind::kRZ};
  static constexpr const char* kSingleNames[kNumSingle] = {"h", "x", "s", "t", "ry", "rz"};
  static constexpr double kAngle = 3.14159265358979323846 / 4;  // of RY and RZ

  // One action decoded: a single-qubit gate g on q0 (q1 = -1), or CX with control q0 and target q1 (g = -1).
  struct Gate {
    int64_t g, q0, q1;
  };
  static int64_t NumActions(const Config& c) { return kNumSingle * c.num_qubits + c.num_qubits * (c.num_qubits - 1); }
  static Gate Decode(const Config& c, int64_t a) {
    const int64_t n = c.num_qubits;
    if (a < kNumSingle * n) return {a / n, a % n, -1};
    const int64_t k = a - kNumSingle * n, control = k / (n - 1), t = k % (n - 1);
    return {-1, control, t >= control ? t + 1 : t};
  }

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_qubits >= 1 && c.num_qubits <= kMaxQubits, std::invalid_argument,
                 "QuantumStatePrep: num_qubits must be in [1, ", kMaxQubits, "], got ", c.num_qubits);
    NEXTRL_CHECK(c.threshold > 0 && c.threshold <= 1, std::invalid_argument,
                 "QuantumStatePrep: threshold must be in (0, 1], got ", c.threshold);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "QuantumStatePrep: max_steps must be >= 0, got ",
                 c.max_steps);
    NEXTRL_CHECK(c.target_depth >= 0, std::invalid_argument, "QuantumStatePrep: target_depth must be >= 0, got ",
                 c.target_depth);
    for (int64_t a : c.target_actions)
      NEXTRL_CHECK(a >= 0 && a < NumActions(c), std::invalid_argument,
                   "QuantumStatePrep: target_actions must be in [0, ", NumActions(c), "), got ", a);
    if (c.target_depth == 0) {
      std::vector<cdouble> target;
      FixedTarget(c, target);
      const double f = std::norm(target[0]);
      NEXTRL_CHECK(f < c.threshold, std::invalid_argument,
                   "QuantumStatePrep: the start state |0...0> already reaches the target (fidelity ", f,
                   " >= threshold ", c.threshold, "); give target_actions that change the state or target_depth > 0");
    }
  }
  static std::vector<int64_t> ObsShape(const Config& c) {
    return {(c.observe_target ? 4 : 2) * (int64_t{1} << c.num_qubits)};
  }
  static int64_t ActionSize(const Config&) { return 1; }
  static const char* CheckAction(const Config& c, const Action* a) {
    return (*a >= 0 && *a < NumActions(c)) ? nullptr : "must be in [0, num_actions)";
  }
  static bool AllActionsValid(const Config& c, const Action* a, int64_t count) {
    return AllBelow(a, count, NumActions(c));
  }

  explicit QuantumStatePrep(const Config& c) : cfg_(&c), dim_(int64_t{1} << c.num_qubits) {
    for (int64_t g = 0; g < kNumSingle; ++g) quantum::GateMatrix(kSingleGates[g], &kAngle, mats_[g].data());
    psi_.assign(static_cast<size_t>(dim_), cdouble(0));
    FixedTarget(c, target_);
  }
  int64_t MaxSteps() const { return cfg_->max_steps; }
  const std::vector<cdouble>& State() const { return psi_; }
  const std::vector<cdouble>& Target() const { return target_; }
  // State (envs/env_state.h): the prepared state, the episode's target and the last fidelity.
  template <class F>
  void VisitState(F&& f) {
    f(psi_), f(target_), f(fidelity_);
  }

  void Reset(Rng& rng, Obs* obs, double* info) {
    const Config& c = *cfg_;
    if (c.target_depth > 0) {
      const int64_t num_actions = NumActions(c);
      for (int64_t attempt = 0; attempt < kMaxTargetTries; ++attempt) {
        SetBasisZero(target_);
        for (int64_t k = 0; k < c.target_depth; ++k) Apply(c, rng.Below(num_actions), mats_, target_);
        if (std::norm(target_[0]) < c.threshold) break;
      }
    }
    SetBasisZero(psi_);
    fidelity_ = Fidelity();
    Observe(obs, info);
  }

  StepOut Step(const Action* a, Rng&, Obs* obs, double* info) {
    Apply(*cfg_, *a, mats_, psi_);
    const double f = Fidelity();
    const double gain = f - fidelity_;
    fidelity_ = f;
    Observe(obs, info);
    return {static_cast<float>(gain), f >= cfg_->threshold};
  }

 private:
  using Mats = std::array<std::array<cdouble, 4>, kNumSingle>;

  static void SetBasisZero(std::vector<cdouble>& s) {
    for (cdouble& x : s) x = 0.0;
    s[0] = 1.0;
  }

  static void Apply(const Config& c, int64_t a, const Mats& mats, std::vector<cdouble>& s) {
    const Gate gate = Decode(c, a);
    const int64_t dim = static_cast<int64_t>(s.size());
    if (gate.g >= 0) {
      const int64_t bit = int64_t{1} << gate.q0;
      const auto& m = mats[static_cast<size_t>(gate.g)];
      for (int64_t i = 0; i < dim; ++i) {
        if (i & bit) continue;
        const cdouble a0 = s[i], a1 = s[i | bit];
        s[i] = m[0] * a0 + m[1] * a1;
        s[i | bit] = m[2] * a0 + m[3] * a1;
      }
    } else {
      const int64_t cbit = int64_t{1} << gate.q0, tbit = int64_t{1} << gate.q1;
      for (int64_t i = 0; i < dim; ++i)
        if ((i & cbit) && !(i & tbit)) std::swap(s[i], s[i | tbit]);
    }
  }

  static void FixedTarget(const Config& c, std::vector<cdouble>& target) {
    Mats mats;
    for (int64_t g = 0; g < kNumSingle; ++g) quantum::GateMatrix(kSingleGates[g], &kAngle, mats[g].data());
    target.assign(static_cast<size_t>(int64_t{1} << c.num_qubits), cdouble(0));
    target[0] = 1.0;
    for (int64_t a : c.target_actions) Apply(c, a, mats, target);
  }

  double Fidelity() const {
    cdouble overlap = 0.0;
    for (int64_t i = 0; i < dim_; ++i) overlap += std::conj(target_[i]) * psi_[i];
    return std::norm(overlap);
  }

  void Observe(Obs* obs, double* info) const {
    for (int64_t i = 0; i < dim_; ++i) {
      obs[i] = static_cast<float>(psi_[i].real());
      obs[dim_ + i] = static_cast<float>(psi_[i].imag());
    }
    if (cfg_->observe_target) {
      for (int64_t i = 0; i < dim_; ++i) {
        obs[2 * dim_ + i] = static_cast<float>(target_[i].real());
        obs[3 * dim_ + i] = static_cast<float>(target_[i].imag());
      }
    }
    info[0] = fidelity_;
  }

  const Config* cfg_;
  int64_t dim_;
  Mats mats_;
  std::vector<cdouble> psi_, target_;
  double fidelity_ = 0.0;
};

}  // namespace nextrl::envs
