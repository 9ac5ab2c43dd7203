// LatentModel: a recurrent latent world model behind the RolloutModel interface, so CEM / iCEM / MPPI plan in latent
// space in one C++ call: the prior (imagination) path of python/nextrl/models/rssm.py's RSSM (PlaNet, Hafner et al.
// 2019), with a Gaussian latent or DreamerV3's categorical latent (Hafner et al. 2023), exported from the torch
// modules as float32.
//
// A start state (one per problem) is s = (h, z): h [D] the GRU state, z [Z] the latent. Action a_t [A] steps it:
//   x   = img_in([z, a])                       (an MLP stack, see below; discrete actions: a_t is one action index
//                                               per step (A = 1) and img_in takes its one-hot [num_actions])
//   h'  = GRUCell(x, h)                        (torch.nn.GRUCell, gates r, z, n:
//           r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), u = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
//           n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (h - n) u + n)
//   [m, s_raw] = prior(h'),  z' = m (deterministic) or m + (softplus(s_raw) + min_std) eps  (sampled)
//   categorical latent (groups G, classes K, Z = G K): logits = prior(h') [G, K], z' = one-hot of the most probable
//           class per group (the mode of (1 - unimix) softmax(logits) + unimix / K: the argmax of the logits, the
//           first on ties, as torch.argmax); sampled: the Gumbel-max sample argmax_k ln p_k - ln(-ln u_k) of p =
//           (1 - unimix) softmax(logits) + unimix / K, u_k uniform number p Z + k of (seed, NoiseStream(round,
//           problem)) at counter NoiseCounter(t) + p Z + k (common/rng.h UniformDouble, as CategoricalCEM's draws)
//   r_{t+1} = reward([h', z'])  (symexp'd when the model fits symlog rewards),  c_{t+1} = sigmoid(cont([h', z']))
// and a candidate's return is sum_t gamma^t (prod_{k <= t} c_k / c_{t+1}) r_{t+1}: each reward weighted by the
// continue probabilities of the states before it (RSSM.imagine_returns), all 1 without a continue head.
//
// MLP stacks: a list of stages, each a dense layer y = x W^T + b or a LayerNorm over the running width (eps, gamma,
// beta), optionally followed by an activation (ReLU, SiLU, tanh); the exporter (python/nextrl/planning/latent.py)
// maps nn.Linear / nn.LayerNorm / activation modules onto them and rejects anything else.
//
// Particles: every candidate is rolled out by P particles and its return is their mean. eps of latent element k
// of particle p at step t is normal number p Z + k of (seed, NoiseStream(round, problem)) at block counter
// NoiseCounter(t) (noise.h): every candidate of a problem sees the same eps (common random numbers), so results do
// not depend on chunking or threads. Deterministic models use one particle and no noise.
//
// Numerics: float32 dense layers of mlp_kernels.h (the sum over inputs in order, one FMA per term with AVX2), the
// LayerNorm statistics in float32 (two-pass), returns accumulated in float64.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "planning/mlp_kernels.h"
#include "planning/noise.h"
#include "planning/rollout_model.h"

namespace nextrl::planning {

// One stage of an MLP stack. Dense: wt = W^T [in, out_pad] zero-padded, bias [out_pad]. LayerNorm (norm = true):
// in = out = the running width, gamma / beta [out_pad] zero-padded (so the padded columns stay zero).
struct LatentStage {
  bool norm = false;
  int64_t in = 0, out = 0, out_pad = 0;
  std::vector<float> wt, bias, gamma, beta;
  float eps = 1e-5f;
  Activation act = Activation::kIdentity;
};
using LatentStack = std::vector<LatentStage>;

struct LatentModelSpec {
  int64_t deter = 1, stoch = 1, action_dim = 1;  // D, Z, A
  int64_t num_actions = 0;                       // > 0: discrete actions (A = 1 index), one-hot of num_actions
  int64_t groups = 0, classes = 0;               // > 0: categorical latent, Z = groups * classes
  float unimix = 0.01f;                          // categorical: weight of the uniform mixture (sampling only)
  LatentStack img_in;                            // [Z + A] -> [G] (the GRU's input size; Z + num_actions discrete)
  LatentStage gru_x, gru_h;                      // dense [G] -> [3D] (W_ih, b_ih) and [D] -> [3D] (W_hh, b_hh)
  LatentStack prior;                             // [D] -> [2Z] (mean, raw std), or [Z] logits (categorical)
  LatentStack reward;                            // [D + Z] -> [1]
  LatentStack cont;                              // [D + Z] -> [1] logits, or empty (no continue head)
  float min_std = 0.1f;
  bool sample = false;
  bool symlog_reward = false;
  int64_t particles = 1;
  bool generic = false;  // force the baseline dense kernel (no AVX2)
  int64_t chunk_rows = 128;
};

class LatentModel final : public RolloutModel {
 public:
  explicit LatentModel(LatentModelSpec spec) : s_(std::move(spec)) {
    width_ = std::max(PadCols(s_.stoch + InActions()), s_.gru_x.out_pad);
    for (const LatentStack* st : {&s_.img_in, &s_.prior, &s_.reward, &s_.cont})
      for (const LatentStage& g : *st) width_ = std::max(width_, g.out_pad);
  }

  int64_t num_problems() const override { return static_cast<int64_t>(starts_.size()) / (s_.deter + s_.stoch); }
  int64_t action_dim() const override { return s_.action_dim; }
  int64_t chunk() const override { return std::max<int64_t>(1, s_.chunk_rows / s_.particles); }
  const LatentModelSpec& spec() const { return s_; }
  uint64_t seed() const { return seed_; }
  uint64_t round() const { return round_; }

  // states: [count, D + Z] start states (h, z) in float32. The caller checks shapes and finiteness.
  void SetStates(const float* states, int64_t count, uint64_t seed, uint64_t round) {
    starts_.assign(states, states + count * (s_.deter + s_.stoch));
    seed_ = seed, round_ = round;
  }

  // Rolls n states [n, D + Z] forward by actions [n, horizon, A] (particle 0's noise for every row when
  // sampling, stream of problem `problem`): the states after every step [n, horizon, D + Z], rewards [n, horizon]
  // and continue probabilities [n, horizon] (1 without a continue head). For tests against the torch modules.
  void Rollout(const float* states, const double* actions, int64_t n, int64_t horizon, int64_t problem,
               float* out_states, float* out_rewards, float* out_conts) const {
    const int64_t F = s_.deter + s_.stoch, rows = PadRows(n);
    Work w;
    w.Reserve(rows, width_, F, s_.stoch + InActions());
    for (int64_t r = 0; r < rows; ++r)
      std::copy(states + std::min(r, n - 1) * F, states + (std::min(r, n - 1) + 1) * F, w.feat.data() + r * F);
    const uint64_t stream = NoiseStream(round_, problem);
    for (int64_t t = 0; t < horizon; ++t) {
      Step(
          w, rows, [&](int64_t r) { return actions + (std::min(r, n - 1) * horizon + t) * s_.action_dim; }, stream, t,
          0);
      for (int64_t r = 0; r < n; ++r) {
        std::copy(w.feat.data() + r * F, w.feat.data() + (r + 1) * F, out_states + (r * horizon + t) * F);
        out_rewards[r * horizon + t] = w.reward[static_cast<size_t>(r)];
        out_conts[r * horizon + t] = w.cont[static_cast<size_t>(r)];
      }
    }
  }

  void Evaluate(int64_t b, const double* actions, int64_t count, int64_t horizon, double gamma,
                double* returns) const override {
    const int64_t F = s_.deter + s_.stoch, P = s_.sample ? s_.particles : 1, rows = PadRows(count);
    const uint64_t stream = NoiseStream(round_, b);
    thread_local Work w;
    thread_local std::vector<double> ret, alive;
    w.Reserve(rows, width_, F, s_.stoch + InActions());
    std::fill(returns, returns + count, 0.0);
    const float* s0 = starts_.data() + b * F;
    for (int64_t p = 0; p < P; ++p) {
      for (int64_t r = 0; r < rows; ++r) std::copy(s0, s0 + F, w.feat.data() + r * F);
      ret.assign(static_cast<size_t>(count), 0.0);
      alive.assign(static_cast<size_t>(count), 1.0);
      double discount = 1.0;
      for (int64_t t = 0; t < horizon; ++t) {
        Step(
            w, rows, [&](int64_t r) { return actions + (std::min(r, count - 1) * horizon + t) * s_.action_dim; },
            stream, t, p, t == 0, t + 1 < horizon);
        for (int64_t c = 0; c < count; ++c) {
          const size_t i = static_cast<size_t>(c);
          ret[i] += discount * alive[i] * static_cast<double>(w.reward[i]);
          if (t + 1 < horizon) alive[i] *= static_cast<double>(w.cont[i]);
        }
        discount *= gamma;
      }
      for (int64_t c = 0; c < count; ++c) returns[c] += ret[static_cast<size_t>(c)];
    }
    if (P > 1)
      for (int64_t c = 0; c < count; ++c) returns[c] /= static_cast<double>(P);
  }

 private:
  struct Work {
    std::vector<float> feat, x0, a, b, gi, gh, eps, reward, cont;
    void Reserve(int64_t rows, int64_t width, int64_t F, int64_t x0_width) {
      // kRowTile spare rows: the dense kernel reads whole row tiles
      const size_t n = static_cast<size_t>((rows + kRowTile) * width);
      feat.resize(static_cast<size_t>((rows + kRowTile) * F));
      x0.resize(static_cast<size_t>((rows + kRowTile) * x0_width));
      if (a.size() < n) a.resize(n), b.resize(n), gi.resize(n), gh.resize(n);
      reward.resize(static_cast<size_t>(rows)), cont.resize(static_cast<size_t>(rows));
    }
  };

  // Runs stack `st` on x [rows, st[0].in] (row stride x_stride); returns the output (row stride *out_stride), in
  // one of w.a / w.b.
  const float* Run(const LatentStack& st, const float* x, int64_t x_stride, int64_t rows, Work& w,
                   int64_t* out_stride) const {
    float* bufs[2] = {w.a.data(), w.b.data()};
    int which = 0;
    for (const LatentStage& g : st) {
      if (g.norm) {  // in place on the previous stage's output
        float* y = const_cast<float*>(x);
        LayerNormAct(y, rows, g.out, x_stride, g.gamma.data(), g.beta.data(), g.eps, g.act, s_.generic);
        continue;
      }
      float* y = bufs[which];
      DenseForward(x, rows, g.in, x_stride, g.wt.data(), g.bias.data(), g.out_pad, g.act, y, s_.generic);
      x = y, x_stride = g.out_pad, which ^= 1;
    }
    *out_stride = x_stride;
    return x;
  }

  // One imagination step of `rows` rows of w.feat ([h, z] per row) under the actions action_of(r) [A]. same_h: every
  // row holds the same h (the first step from one start state), so W_hh h + b_hh is computed for one row tile and
  // copied (the kernel computes each row alone: the same bits). need_cont = false leaves w.cont unset (the last
  // step of a return).
  template <class ActionOf>
  void Step(Work& w, int64_t rows, const ActionOf& action_of, uint64_t stream, int64_t t, int64_t p,
            bool same_h = false, bool need_cont = true) const {
    const int64_t D = s_.deter, Z = s_.stoch, A = s_.action_dim, F = D + Z, X = Z + InActions();
    float* feat = w.feat.data();
    for (int64_t r = 0; r < rows; ++r) {
      float* x = w.x0.data() + r * X;
      std::copy(feat + r * F + D, feat + (r + 1) * F, x);
      const double* a = action_of(r);
      if (s_.num_actions > 0) {  // one-hot of the index (the planners give whole indices; clamped as a guard)
        std::fill(x + Z, x + X, 0.0f);
        const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(a[0]), 0, s_.num_actions - 1);
        x[Z + k] = 1.0f;
      } else {
        for (int64_t j = 0; j < A; ++j) x[Z + j] = static_cast<float>(a[j]);
      }
    }
    int64_t stride = 0;
    const float* x = Run(s_.img_in, w.x0.data(), X, rows, w, &stride);
    DenseForward(x, rows, s_.gru_x.in, stride, s_.gru_x.wt.data(), s_.gru_x.bias.data(), s_.gru_x.out_pad,
                 Activation::kIdentity, w.gi.data(), s_.generic);
    const int64_t g_stride = s_.gru_h.out_pad;
    DenseForward(feat, same_h ? kRowTile : rows, D, F, s_.gru_h.wt.data(), s_.gru_h.bias.data(), g_stride,
                 Activation::kIdentity, w.gh.data(), s_.generic);
    if (same_h)
      for (int64_t r = kRowTile; r < rows; ++r)
        std::copy(w.gh.data(), w.gh.data() + g_stride, w.gh.data() + r * g_stride);
    GruUpdate(w.gi.data(), w.gh.data(), rows, D, s_.gru_x.out_pad, feat, F, s_.generic);
    const float* prior = Run(s_.prior, feat, F, rows, w, &stride);
    if (s_.sample && s_.groups > 0) {  // Gumbel noise -ln(-ln u) of the uniforms u
      w.eps.resize(static_cast<size_t>(Z));
      for (int64_t k = 0; k < Z; ++k) {
        const double u = UniformDouble(seed_, stream, NoiseCounter(t) + static_cast<uint64_t>(p * Z + k));
        w.eps[static_cast<size_t>(k)] = static_cast<float>(-std::log(-std::log(std::max(u, 1e-20))));
      }
    } else if (s_.sample) {
      w.eps.resize(static_cast<size_t>(Z));
      thread_local std::vector<double> z;
      z.resize(static_cast<size_t>(Z));
      Normals(seed_, stream, NoiseCounter(t), static_cast<uint64_t>(p * Z), Z, z.data());
      for (int64_t k = 0; k < Z; ++k) w.eps[static_cast<size_t>(k)] = static_cast<float>(z[static_cast<size_t>(k)]);
    }
    if (s_.groups > 0 && s_.sample) {  // categorical, sampled: Gumbel-max over log((1 - mix) softmax + mix / K)
      const int64_t K = s_.classes;
      const float mix = s_.unimix, floor = s_.unimix / static_cast<float>(K);
      thread_local std::vector<float> e;
      e.resize(static_cast<size_t>(K));
      for (int64_t r = 0; r < rows; ++r) {
        const float* l = prior + r * stride;
        float* z = feat + r * F + D;
        std::fill(z, z + Z, 0.0f);
        for (int64_t g = 0; g < s_.groups; ++g) {
          const float* lg = l + g * K;
          const float top = *std::max_element(lg, lg + K);
          float sum = 0.0f;
          for (int64_t k = 0; k < K; ++k) sum += (e[static_cast<size_t>(k)] = std::exp(lg[k] - top));
          int64_t best = 0;  // the first largest, as torch.argmax
          float best_v = 0.0f;
          for (int64_t k = 0; k < K; ++k) {
            const float prob = (1.0f - mix) * (e[static_cast<size_t>(k)] / sum) + floor;
            const float v = std::log(prob) + w.eps[static_cast<size_t>(g * K + k)];
            if (k == 0 || v > best_v) best_v = v, best = k;
          }
          z[g * K + best] = 1.0f;
        }
      }
    } else if (s_.groups > 0) {  // categorical: one-hot of the first largest logit per group
      const int64_t K = s_.classes;
      for (int64_t r = 0; r < rows; ++r) {
        const float* l = prior + r * stride;
        float* z = feat + r * F + D;
        std::fill(z, z + Z, 0.0f);
        for (int64_t g = 0; g < s_.groups; ++g) {
          const float* lg = l + g * K;
          z[g * K + (std::max_element(lg, lg + K) - lg)] = 1.0f;
        }
      }
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        const float* m = prior + r * stride;
        float* z = feat + r * F + D;
        for (int64_t k = 0; k < Z; ++k) {
          float v = m[k];
          if (s_.sample) v += (Softplus(m[Z + k]) + s_.min_std) * w.eps[static_cast<size_t>(k)];
          z[k] = v;
        }
      }
    }
    const float* rew = Run(s_.reward, feat, F, rows, w, &stride);
    for (int64_t r = 0; r < rows; ++r) {
      const float v = rew[r * stride];
      w.reward[static_cast<size_t>(r)] = s_.symlog_reward ? std::copysign(std::expm1(std::fabs(v)), v) : v;
    }
    if (!need_cont) return;
    if (s_.cont.empty()) {
      std::fill(w.cont.begin(), w.cont.begin() + rows, 1.0f);
    } else {
      const float* c = Run(s_.cont, feat, F, rows, w, &stride);
      for (int64_t r = 0; r < rows; ++r) w.cont[static_cast<size_t>(r)] = 1.0f / (1.0f + std::exp(-c[r * stride]));
    }
  }

  // Width of the action input of img_in: A, or num_actions (one-hot) for discrete actions.
  int64_t InActions() const { return s_.num_actions > 0 ? s_.num_actions : s_.action_dim; }

  // torch's softplus (beta 1, threshold 20).
  static float Softplus(float v) { return v > 20.0f ? v : std::log1p(std::exp(v)); }

  LatentModelSpec s_;
  int64_t width_ = kColTile;
  std::vector<float> starts_;
  uint64_t seed_ = 0, round_ = 0;
};

}  // namespace nextrl::planning
