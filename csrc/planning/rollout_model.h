// RolloutModel: what a planner needs from a model of the world, for a batch of independent problems (one
// start state per problem, usually one per env of a vector env). Every planner (cem.h, mppi.h) works with any
// model behind this interface:
//   - ExactModel<Env> (exact_model.h): clones of a compiled env stepped from copied states;
//   - MlpEnsembleModel (learned_model.h): a learned MLP ensemble with PETS particles;
//   - LatentModel (latent_model.h): a recurrent latent model (an RSSM's GRU cell, prior and heads) whose start
//     states are latents (h, z).
//
// Evaluate(b, actions, count, horizon, gamma, returns):
//   actions: [count, horizon, action_dim] float64 row-major, candidate sequences of problem b, inside the
//            action box the planner was given;
//   returns: [count], returns[n] = sum_{t < horizon} gamma^t r_t of candidate n; the reward of a step that
//            terminates counts, every later one counts zero.
// The planners call it from several threads at once (distinct output rows, the same or different b), on
// chunks of at most chunk() candidates; it must not throw, allocate unboundedly or touch shared state, and
// its results must not depend on how the candidates are chunked or on the thread that runs them.
#pragma once
#include <cstdint>

namespace nextrl::planning {

class RolloutModel {
 public:
  virtual ~RolloutModel() = default;
  // Problems (start states) the model holds.
  virtual int64_t num_problems() const = 0;
  // Elements of one action (the last axis of a candidate sequence).
  virtual int64_t action_dim() const = 0;
  // Candidates per Evaluate call that the model prefers (a batch it steps together).
  virtual int64_t chunk() const { return 64; }
  virtual void Evaluate(int64_t b, const double* actions, int64_t count, int64_t horizon, double gamma,
                        double* returns) const = 0;
};

}  // namespace nextrl::planning
