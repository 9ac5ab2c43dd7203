// MlpEnsembleModel: the learned-dynamics rollout model, a batched ensemble of E MLPs (PETS, Chua et al. 2018)
// behind the RolloutModel interface, so CEM / iCEM / MPPI plan through it in one C++ call.
//
// Member e maps an input x = [(s - in_mean) / in_std, (a - in_mean) / in_std] (state S, action A) through dense
// layers (the hidden ones with one activation: ReLU, SiLU or tanh; float32, mlp_kernels.h) to O outputs (the
// next-state delta, S values, then the reward when the model has a reward head) and, for a Gaussian head, O more:
// the log-variance, soft-bounded as in Chua et al. 2018 / mbrl-lib's GaussianMLP:
//   lv = max_logvar - softplus(max_logvar - raw),  lv = min_logvar + softplus(lv - min_logvar).
// One propagated output: y = mean + exp(lv / 2) eps (Gaussian head; eps ~ N(0, 1)) or y = mean (deterministic),
// s' = s + y[0:S], reward = y[S] (reward head) or a named function of (s, a, s') (RewardFn below).
//
// Particles (PETS trajectory sampling): each candidate sequence is rolled out by P particles from the problem's
// start state; its return is the mean over particles of sum_t gamma^t r_t (rewards after a particle's termination
// count zero). The member that steps particle p at step t is
//   TS-1:   floor(E u(t, p)), u uniform from Philox(seed ^ kMemberKey, stream, (t << 32) | p) (UnitFromWords of its
//           first two words), drawn anew every step;
//   TS-inf: floor(p E / P), fixed for the whole horizon (particles are exchangeable, so contiguous blocks are a
//           bootstrap assignment as good as a random one, and balanced).
// eps of output o of particle p at step t is normal number p O + o of (seed, stream) with block counter t << 32
// (noise.h's Normals; stream = NoiseStream(round, problem)). Every candidate of a problem sees the same member
// choices and eps (common random numbers, as ExactModel's candidates see the same env noise), so results do not
// depend on chunking or threads; `seed` and `round` are set with the start states (PETS passes its plan counter).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/rng.h"
#include "planning/mlp_kernels.h"
#include "planning/noise.h"
#include "planning/rollout_model.h"

namespace nextrl::planning {

enum class Propagation : int { kTs1 = 0, kTsInf = 1 };

// Reward (and termination) of a step from the state s, the action a and the next state s' (float64 arithmetic):
//   kHead:      the model's own reward output y[S]; never terminates;
//   kPendulum:  Gymnasium Pendulum-v1 on observations s = (cos th, sin th, th_dot): -(th^2 + 0.1 th_dot^2 +
//               0.001 u^2), th = atan2(sin, cos), u = clip(a, -max_torque, max_torque) (param max_torque,
//               Gymnasium's 2 by default); never terminates;
//   kCartPole:  Gymnasium CartPole-v1: 1 per step; terminates when |x'| > 2.4 or |theta'| > 12 degrees;
//   kQuadratic: -sum_i q_i s'_i^2 - sum_j r_j a_j^2 (params: q [S], r [A], max_norm); terminates when ||s'|| >
//               max_norm (inf: never). PointMass: q = 1, r = action_cost, max_norm; the 1-D point mass of the
//               PETS test: q = (0.001, 0), r = 0.
enum class RewardFn : int { kHead = 0, kPendulum = 1, kCartPole = 2, kQuadratic = 3 };

struct MlpLayer {
  int64_t in = 0, out = 0, out_pad = 0;
  std::vector<float> wt;    // [E, in, out_pad]: member e's W^T, zero-padded columns
  std::vector<float> bias;  // [E, out_pad]
  Activation act = Activation::kIdentity;
};

struct MlpEnsembleSpec {
  int64_t members = 1, state_dim = 1, action_dim = 1;
  bool gaussian = true, reward_head = false;
  std::vector<MlpLayer> layers;
  std::vector<float> in_mean, in_inv_std;     // [S + A]
  std::vector<float> max_logvar, min_logvar;  // [O] (Gaussian head)
  RewardFn reward = RewardFn::kHead;
  std::vector<double> q, r;  // kQuadratic
  double max_norm = std::numeric_limits<double>::infinity();
  double max_torque = 2.0;  // kPendulum
  int64_t particles = 20;
  Propagation propagation = Propagation::kTs1;
  bool generic = false;  // force the baseline dense kernel (no AVX2)
  int64_t chunk_rows = 512;
};

class MlpEnsembleModel final : public RolloutModel {
 public:
  static constexpr uint64_t kMemberKey = 0x9E3779B97F4A7C15ull;

  explicit MlpEnsembleModel(MlpEnsembleSpec spec) : s_(std::move(spec)) {
    O_ = s_.state_dim + (s_.reward_head ? 1 : 0);
    in_ = s_.state_dim + s_.action_dim;
    width_ = PadCols(in_);
    for (const MlpLayer& l : s_.layers) width_ = std::max(width_, l.out_pad);
  }

  int64_t num_problems() const override { return static_cast<int64_t>(starts_.size()) / s_.state_dim; }
  int64_t action_dim() const override { return s_.action_dim; }
  int64_t chunk() const override { return std::max<int64_t>(1, s_.chunk_rows / s_.particles); }
  const MlpEnsembleSpec& spec() const { return s_; }
  int64_t outputs() const { return O_; }
  uint64_t seed() const { return seed_; }
  uint64_t round() const { return round_; }

  // states: [count, S] start states (float32). The caller checks shapes and finiteness.
  void SetStates(const float* states, int64_t count, uint64_t seed, uint64_t round) {
    starts_.assign(states, states + count * s_.state_dim);
    seed_ = seed, round_ = round;
  }

  // Member `member`'s raw forward for n (state, action) rows: mean [n, O] and, for a Gaussian head, the bounded
  // log-variance [n, O] (float32, what the rollouts use).
  void Predict(const float* states, const double* actions, int64_t n, int64_t member, float* mean,
               float* logvar) const {
    Scratch w;
    w.Reserve(PadRows(n), width_, in_);
    for (int64_t i = 0; i < n; ++i) FillInput(states + i * s_.state_dim, actions + i * s_.action_dim, w.x(i, in_));
    const float* y = Forward(member, w, n);
    const int64_t stride = s_.layers.back().out_pad;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t o = 0; o < O_; ++o) {
        mean[i * O_ + o] = y[i * stride + o];
        if (s_.gaussian) logvar[i * O_ + o] = BoundLogvar(y[i * stride + O_ + o], o);
      }
    }
  }

  void Evaluate(int64_t b, const double* actions, int64_t count, int64_t horizon, double gamma,
                double* returns) const override {
    const int64_t S = s_.state_dim, A = s_.action_dim, P = s_.particles, E = s_.members, R = count * P;
    const uint64_t stream = NoiseStream(round_, b);
    thread_local Scratch w;
    w.Reserve(PadRows(R), width_, in_);
    thread_local std::vector<float> state, eps, sd, hi, lo;
    thread_local std::vector<double> ret;
    thread_local std::vector<uint8_t> done;
    thread_local std::vector<int64_t> order, start;
    thread_local std::vector<double> z;
    state.resize(static_cast<size_t>(R * S));
    ret.assign(static_cast<size_t>(R), 0.0);
    done.assign(static_cast<size_t>(R), 0);
    order.resize(static_cast<size_t>(P));
    start.resize(static_cast<size_t>(E + 1));
    const float* s0 = starts_.data() + b * S;
    for (int64_t r = 0; r < R; ++r) std::copy(s0, s0 + S, state.data() + r * S);  // row r = p * count + c
    const int64_t out_stride = s_.layers.back().out_pad;
    double discount = 1.0;
    std::vector<float> y(static_cast<size_t>(O_));
    for (int64_t t = 0; t < horizon; ++t) {
      if (s_.gaussian) {
        z.resize(static_cast<size_t>(P * O_));
        Normals(seed_, stream, NoiseCounter(t), 0, P * O_, z.data());
        eps.assign(z.begin(), z.end());
      }
      // Particles sorted by member (stable): the rows of one member are contiguous in the input.
      std::fill(start.begin(), start.end(), 0);
      for (int64_t p = 0; p < P; ++p) ++start[static_cast<size_t>(Member(stream, t, p) + 1)];
      for (int64_t e = 0; e < E; ++e) start[static_cast<size_t>(e + 1)] += start[static_cast<size_t>(e)];
      {
        std::vector<int64_t> next(start.begin(), start.end() - 1);
        for (int64_t p = 0; p < P; ++p)
          order[static_cast<size_t>(next[static_cast<size_t>(Member(stream, t, p))]++)] = p;
      }
      for (int64_t k = 0; k < P; ++k) {
        const int64_t p = order[static_cast<size_t>(k)];
        for (int64_t c = 0; c < count; ++c)
          FillInput(state.data() + (p * count + c) * S, actions + (c * horizon + t) * A, w.x(k * count + c, in_));
      }
      for (int64_t e = 0; e < E; ++e) {
        const int64_t k0 = start[static_cast<size_t>(e)], k1 = start[static_cast<size_t>(e + 1)];
        if (k1 == k0) continue;
        const int64_t rows = (k1 - k0) * count;
        const float* out = Forward(e, w, rows, k0 * count);
        if (s_.gaussian) {  // the noise scale exp(lv / 2) of every output of the segment, in one vectorized pass
          const int64_t n = (rows * O_ + 7) / 8 * 8;
          sd.resize(static_cast<size_t>(n)), hi.resize(static_cast<size_t>(n)), lo.resize(static_cast<size_t>(n));
          for (int64_t q = 0, i = 0; q < rows; ++q)
            for (int64_t o = 0; o < O_; ++o, ++i) {
              sd[static_cast<size_t>(i)] = out[q * out_stride + O_ + o];
              hi[static_cast<size_t>(i)] = s_.max_logvar[static_cast<size_t>(o)];
              lo[static_cast<size_t>(i)] = s_.min_logvar[static_cast<size_t>(o)];
            }
          for (int64_t i = rows * O_; i < n; ++i)
            sd[static_cast<size_t>(i)] = 0.0f, hi[static_cast<size_t>(i)] = 1.0f, lo[static_cast<size_t>(i)] = 0.0f;
          GaussianStd(sd.data(), n, hi.data(), lo.data(), s_.generic);
        }
        for (int64_t q = 0; q < rows; ++q) {
          const int64_t p = order[static_cast<size_t>(k0 + q / count)], c = q % count, r = p * count + c;
          const float* o = out + q * out_stride;
          for (int64_t i = 0; i < O_; ++i) {
            float v = o[i];
            if (s_.gaussian) v += sd[static_cast<size_t>(q * O_ + i)] * eps[static_cast<size_t>(p * O_ + i)];
            y[static_cast<size_t>(i)] = v;
          }
          float* sr = state.data() + r * S;
          const double* a = actions + (c * horizon + t) * A;
          double reward = 0.0;
          bool term = false;
          StepReward(sr, a, y.data(), &reward, &term);
          if (!done[static_cast<size_t>(r)]) {
            ret[static_cast<size_t>(r)] += discount * reward;
            done[static_cast<size_t>(r)] = term ? 1 : 0;
          }
        }
      }
      discount *= gamma;
    }
    for (int64_t c = 0; c < count; ++c) {
      double sum = 0.0;
      for (int64_t p = 0; p < P; ++p) sum += ret[static_cast<size_t>(p * count + c)];
      returns[c] = sum / static_cast<double>(P);
    }
  }

  // The member of particle p at step t (see the header comment).
  int64_t Member(uint64_t stream, int64_t t, int64_t p) const {
    const int64_t E = s_.members;
    if (s_.propagation == Propagation::kTsInf) return p * E / s_.particles;
    const Philox4x32 u =
        Philox(seed_ ^ kMemberKey, stream, (static_cast<uint64_t>(t) << 32) | static_cast<uint64_t>(p));
    const int64_t m = static_cast<int64_t>(UnitFromWords(u.v[0], u.v[1]) * static_cast<double>(E));
    return std::min(m, E - 1);
  }

 private:
  struct Scratch {
    std::vector<float> in, a, b;
    int64_t in_stride = 0, width = 0;
    void Reserve(int64_t rows, int64_t width_, int64_t in_dim) {
      in_stride = in_dim, width = width_;
      const size_t n = static_cast<size_t>((rows + kRowTile) * std::max(width_, in_dim));
      if (in.size() < static_cast<size_t>((rows + kRowTile) * in_dim))
        in.resize(static_cast<size_t>((rows + kRowTile) * in_dim));
      if (a.size() < n) a.resize(n), b.resize(n);
    }
    float* x(int64_t row, int64_t in_dim) { return in.data() + row * in_dim; }
  };

  void FillInput(const float* s, const double* a, float* x) const {
    const int64_t S = s_.state_dim;
    for (int64_t i = 0; i < S; ++i)
      x[i] = (s[i] - s_.in_mean[static_cast<size_t>(i)]) * s_.in_inv_std[static_cast<size_t>(i)];
    for (int64_t j = 0; j < s_.action_dim; ++j)
      x[S + j] = (static_cast<float>(a[j]) - s_.in_mean[static_cast<size_t>(S + j)]) *
                 s_.in_inv_std[static_cast<size_t>(S + j)];
  }

  // Member e's forward of `rows` input rows starting at row `first` of w.in; returns the last layer's output
  // (row stride layers.back().out_pad). Rows are padded to kRowTile: the input buffer has kRowTile spare rows.
  const float* Forward(int64_t e, Scratch& w, int64_t rows, int64_t first = 0) const {
    const int64_t padded = PadRows(rows);
    const float* x = w.in.data() + first * in_;
    int64_t stride = in_;
    float* bufs[2] = {w.a.data(), w.b.data()};
    int which = 0;
    for (const MlpLayer& l : s_.layers) {
      float* y = bufs[which];
      DenseForward(x, padded, l.in, stride, l.wt.data() + e * l.in * l.out_pad, l.bias.data() + e * l.out_pad,
                   l.out_pad, l.act, y, s_.generic);
      x = y, stride = l.out_pad, which ^= 1;
    }
    return x;
  }

  static float Softplus(float v) { return v > 20.0f ? v : std::log1p(std::exp(v)); }
  float BoundLogvar(float raw, int64_t o) const {
    const float hi = s_.max_logvar[static_cast<size_t>(o)], lo = s_.min_logvar[static_cast<size_t>(o)];
    const float lv = hi - Softplus(hi - raw);
    return lo + Softplus(lv - lo);
  }

  // Writes s' = s + y[0:S] into s (after the reward has used s).
  void StepReward(float* s, const double* a, const float* y, double* reward, bool* term) const {
    const int64_t S = s_.state_dim, A = s_.action_dim;
    switch (s_.reward) {
      case RewardFn::kHead:
        *reward = static_cast<double>(y[S]);
        break;
      case RewardFn::kPendulum: {
        const double th = std::atan2(static_cast<double>(s[1]), static_cast<double>(s[0]));
        const double thdot = s[2], u = std::min(s_.max_torque, std::max(-s_.max_torque, a[0]));
        *reward = -(th * th + 0.1 * thdot * thdot + 0.001 * u * u);
        break;
      }
      default:
        break;
    }
    for (int64_t i = 0; i < S; ++i) s[i] += y[i];
    if (s_.reward == RewardFn::kCartPole) {
      *reward = 1.0;
      *term = std::fabs(static_cast<double>(s[0])) > 2.4 ||
              std::fabs(static_cast<double>(s[2])) > 12.0 * 2.0 * 3.14159265358979323846 / 360.0;
    } else if (s_.reward == RewardFn::kQuadratic) {
      double cost = 0.0, norm2 = 0.0;
      for (int64_t i = 0; i < S; ++i) {
        const double v = s[i];
        cost += s_.q[static_cast<size_t>(i)] * v * v, norm2 += v * v;
      }
      for (int64_t j = 0; j < A; ++j) cost += s_.r[static_cast<size_t>(j)] * a[j] * a[j];
      *reward = -cost;
      *term = std::sqrt(norm2) > s_.max_norm;
    }
  }

  MlpEnsembleSpec s_;
  int64_t O_ = 1, in_ = 1, width_ = kColTile;
  std::vector<float> starts_;
  uint64_t seed_ = 0, round_ = 0;
};

}  // namespace nextrl::planning
