// The parts every sampling planner shares: the plan's shapes, the action box, building and evaluating one
// iteration's candidates in parallel, ranking them, and tracking the best candidate seen.
//
// Layout, written once here: a plan covers B problems; a candidate is an action sequence of L = horizon *
// action_dim float64 elements [horizon, action_dim] row-major; problem b's candidates of an iteration are rows
// of pop + b * max_rows * L, its returns ret + b * max_rows.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "common/parallel.h"
#include "planning/rollout_model.h"

namespace nextrl::planning {

struct PlanShape {
  int64_t num_problems;  // B
  int64_t horizon;       // H
  int64_t action_dim;    // A
  int64_t row() const { return horizon * action_dim; }
};

// The action box, per action element: low[a] <= x <= high[a] for every step of a sequence.
struct Box {
  const double* low;   // [action_dim]
  const double* high;  // [action_dim]
  double Clip(double x, int64_t a) const { return x < low[a] ? low[a] : (x > high[a] ? high[a] : x); }
};

// Fills rows [0, rows) of every problem with make_row(b, r, out_row) and evaluates them with the model, in
// tasks of model.chunk() rows run in parallel (each task writes only its own rows and returns, so the result
// does not depend on the thread count).
template <class MakeRow>
void BuildAndEvaluate(const RolloutModel& model, const PlanShape& s, double gamma, int64_t rows, int64_t max_rows,
                      double* pop, double* ret, const MakeRow& make_row) {
  const int64_t L = s.row();
  const int64_t chunk = std::max<int64_t>(1, model.chunk());
  const int64_t per_problem = (rows + chunk - 1) / chunk;
  ParallelFor(s.num_problems * per_problem, 2, [&](int64_t task) {
    const int64_t b = task / per_problem, r0 = (task % per_problem) * chunk;
    const int64_t r1 = std::min(rows, r0 + chunk);
    double* p = pop + b * max_rows * L;
    for (int64_t r = r0; r < r1; ++r) make_row(b, r, p + r * L);
    model.Evaluate(b, p + r0 * L, r1 - r0, s.horizon, gamma, ret + b * max_rows + r0);
  });
}

// order[0, k) = the indices of the k best of ret[0, rows) (highest first; ties: the lower index first; NaN
// ranks below every number). Returns whether some ret is NaN.
inline bool RankTop(const double* ret, int64_t rows, int64_t k, std::vector<int64_t>& order) {
  order.resize(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), int64_t{0});
  bool nan = false;
  for (int64_t r = 0; r < rows; ++r) nan |= std::isnan(ret[r]);
  auto key = [&](int64_t r) { return std::isnan(ret[r]) ? -std::numeric_limits<double>::infinity() : ret[r]; };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t x, int64_t y) {
    const double kx = key(x), ky = key(y);
    return kx > ky || (kx == ky && x < y);
  });
  return nan;
}

// best / best_return of one problem: replaced when candidate `row` (return value) beats it strictly.
inline void TrackBest(const double* row, double value, int64_t L, double* best, double* best_return) {
  if (!(value > *best_return)) return;
  *best_return = value;
  std::copy(row, row + L, best);
}

}  // namespace nextrl::planning
