// PointMassTeam: the course documents' continuous multi-agent task (CA18 MultiAgentEnvironment), with
// the inventory's bugs fixed: every team has members, the cross-team term penalises proximity as its
// comment says, and finished agents are masked (frozen, no reward, left out of the others' terms).
//   n agents ("agent_k") in the plane, state [p_x, p_y, v_x, v_y]. Reset: every entry U(-2, 2).
//   Action [2], clipped to [-1, 1]: v += 0.1 a; v *= 0.9; p += 0.1 v; then N(0, noise_std) on each of
//   the 4 entries. Agent k's team is k % num_teams (mixed mode): agents 0, 2, .. and 1, 3, ...
//   Rewards (over the agents still active after the move; d = Euclidean distance):
//     kCooperative: -|p_i| - 0.05 sum_j d(i, j)
//     kCompetitive: +1 to the agent nearest the origin (lowest index on ties), -0.1 to the others
//     kMixed:       -0.1 sum_{teammates j} d(i, j) - 0.05 sum_{opponents j} max(0, 2 - d(i, j))
//   Termination: an agent whose |p| exceeds `bound` (it freezes). Truncation: max_steps.
//   Observation [4]: the agent's own state plus N(0, obs_noise_std) (the others are not observed).
//   Global state [4 n]: every agent's exact state.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

enum class TeamReward : int { kCooperative = 0, kCompetitive = 1, kMixed = 2 };

struct PointMassTeam {
  static constexpr int64_t kMaxAgents = 64;
  struct Config {
    int64_t num_agents = 3, num_teams = 2, max_steps = 200;
    TeamReward reward = TeamReward::kCooperative;
    double bound = 5.0, noise_std = 0.02, obs_noise_std = 0.1;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 0> kInfoNames{};

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_agents >= 1 && c.num_agents <= kMaxAgents, std::invalid_argument,
                 "PointMassTeam: num_agents must be in [1, ", kMaxAgents, "], got ", c.num_agents);
    NEXTRL_CHECK(c.num_teams >= 1 && c.num_teams <= c.num_agents, std::invalid_argument,
                 "PointMassTeam: num_teams must be in [1, num_agents = ", c.num_agents, "], got ", c.num_teams);
    NEXTRL_CHECK(c.max_steps >= 0, std::invalid_argument, "PointMassTeam: max_steps must be >= 0, got ", c.max_steps);
    NEXTRL_CHECK(c.bound > 0.0 && c.noise_std >= 0.0 && c.obs_noise_std >= 0.0, std::invalid_argument,
                 "PointMassTeam: bound must be > 0 and the noise scales >= 0");
  }
  static std::vector<AgentGroup> Groups(const Config& c) { return {{"agent", c.num_agents, 4}}; }
  static int64_t StateSize(const Config& c) { return 4 * c.num_agents; }
  static int64_t ActionSize(const Config&) { return 2; }
  static int64_t NumActions(const Config&) { return 0; }
  static const char* CheckAction(const Config&, int64_t, const Action* a) {
    return (std::isfinite(a[0]) && std::isfinite(a[1])) ? nullptr : "must be finite";
  }

  explicit PointMassTeam(const Config& c) : cfg_(&c) {}
  int64_t MaxSteps() const { return cfg_->max_steps; }
  // State (envs/env_state.h): [x, y, vx, vy] of every agent.
  template <class F>
  void VisitState(F&& f) {
    f(&x_[0][0], 4 * cfg_->num_agents);
  }

  void Reset(Rng& rng, const MarlSlot<Obs>& s) {
    for (int64_t k = 0; k < cfg_->num_agents; ++k)
      for (int d = 0; d < 4; ++d) x_[k][d] = rng.Uniform(-2.0, 2.0);
    Observe(rng, s);
  }

  void Step(const Action* a, Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t n = c.num_agents;
    for (int64_t k = 0; k < n; ++k) {
      if (!s.active[k]) continue;  // finished agents are frozen
      double* x = x_[k];
      for (int d = 0; d < 2; ++d) {
        const double u = std::fmin(1.0, std::fmax(-1.0, static_cast<double>(a[2 * k + d])));
        x[2 + d] = (x[2 + d] + 0.1 * u) * 0.9;
        x[d] += 0.1 * x[2 + d];
      }
      for (int d = 0; d < 4; ++d) x[d] += c.noise_std * rng.Normal();
    }
    bool live[kMaxAgents];
    for (int64_t k = 0; k < n; ++k) live[k] = s.active[k];
    int64_t nearest = -1;
    for (int64_t k = 0; k < n; ++k)
      if (live[k] && (nearest < 0 || Norm(k) < Norm(nearest))) nearest = k;
    for (int64_t i = 0; i < n; ++i) {
      double r = 0.0;
      if (c.reward == TeamReward::kCooperative) {
        r = -Norm(i);
        for (int64_t j = 0; j < n; ++j)
          if (j != i && live[j]) r -= 0.05 * Dist(i, j);
      } else if (c.reward == TeamReward::kCompetitive) {
        r = i == nearest ? 1.0 : -0.1;
      } else {
        for (int64_t j = 0; j < n; ++j) {
          if (j == i || !live[j]) continue;
          if (j % c.num_teams == i % c.num_teams)
            r -= 0.1 * Dist(i, j);
          else
            r -= 0.05 * std::fmax(0.0, 2.0 - Dist(i, j));
        }
      }
      s.rewards[i] = static_cast<float>(r);
      s.terminated[i] = Norm(i) > c.bound;
    }
    Observe(rng, s);
  }

 private:
  double Norm(int64_t k) const { return std::hypot(x_[k][0], x_[k][1]); }
  double Dist(int64_t i, int64_t j) const { return std::hypot(x_[i][0] - x_[j][0], x_[i][1] - x_[j][1]); }

  void Observe(Rng& rng, const MarlSlot<Obs>& s) const {
    for (int64_t k = 0; k < cfg_->num_agents; ++k) {
      for (int d = 0; d < 4; ++d) s.state[4 * k + d] = static_cast<float>(x_[k][d]);
      if (!s.active[k]) continue;  // a finished agent keeps its last observation
      for (int d = 0; d < 4; ++d) s.obs[4 * k + d] = static_cast<float>(x_[k][d] + cfg_->obs_noise_std * rng.Normal());
    }
  }

  const Config* cfg_;
  double x_[kMaxAgents][4] = {};
};

}  // namespace nextrl::marl
