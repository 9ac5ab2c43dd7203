// SmartGrid: the course documents' grid of producers, consumers and storage (CA12 §3.4), constructible,
// with one time unit and storage that cannot discharge what it does not hold.
//   Agents: P producers ("producer_k"), C consumers ("consumer_k"), S storage units ("storage_k").
//   Time: a step lasts step_hours; hour = t * step_hours (mod 24); an episode is one day, 24 / step_hours
//   steps (truncation). Power in MW, energy in MWh = MW * step_hours, money in $.
//   Reset (per episode): producer capacity U(20, 70) MW and cost U(0.05, 0.15) $/MWh; consumer base
//   demand U(10, 40) MW; one renewable factor U(0.5, 1) for every producer; storage units of
//   storage_capacity MWh, half full. Demand = base * U(0.8, 1.2), redrawn every 6 hours (at reset too).
//   Price: price_t = base_price * (1 + 0.5 sin(2 pi (hour - 6) / 24)) $/MWh (peak at noon).
//   Actions [1], clipped to [-1, 1]:
//     producer: output = max(0, a) * capacity * renewable MW;
//     consumer: load = demand * (1 + 0.3 a) MW (demand response of +-30 %);
//     storage:  power = max_power * a MW (> 0 discharges), limited to energy / step_hours when discharging
//               and to (capacity - energy) / step_hours when charging; energy -= power * step_hours.
//   Imbalance = sum output + sum storage power - sum load (MW).
//   Rewards (all share -imbalance_weight * |imbalance| * step_hours):
//     producer: (price_t - cost) * output * step_hours; consumer: -price_t * load * step_hours -
//     comfort_weight * |load - demand| * step_hours; storage: price_t * power * step_hours -
//     wear * |power| * step_hours (it pays for what it charges and earns what it discharges).
//   Observations [6]: producer [capacity / 100, cost * 10, renewable, total demand / 100, sin, cos of the
//   hour]; consumer [demand / 50, base / 50, the others' demand / 100, renewable, sin, cos]; storage
//   [energy / capacity, capacity / 100, total demand / 100, price / base_price, sin, cos].
//   Global state [4 + 2P + C + S]: [renewable, sin, cos, price / base_price, capacity / 100 and cost * 10
//   of every producer, demand / 50 of every consumer, energy / capacity of every storage unit].
//   Infos: imbalance, supply (output + discharge), demand (load + charge), storage_energy (MWh) and the
//   price of the step (after reset: of the first step).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/check.h"
#include "common/rng.h"
#include "marl/vec_marl_env.h"

namespace nextrl::marl {

struct SmartGrid {
  static constexpr int64_t kMaxAgents = 64;
  static constexpr double kPi = 3.14159265358979323846;
  struct Config {
    int64_t num_producers = 2, num_consumers = 3, num_storage = 1;
    double step_hours = 1.0, storage_capacity = 100.0, max_power = 20.0, base_price = 0.1;
    double imbalance_weight = 0.01, comfort_weight = 0.05, wear = 0.001;
  };
  using Obs = float;
  using Action = float;
  static constexpr std::array<const char*, 5> kInfoNames{"imbalance", "supply", "demand", "storage_energy", "price"};

  static void Validate(const Config& c) {
    NEXTRL_CHECK(c.num_producers >= 0 && c.num_consumers >= 0 && c.num_storage >= 0 &&
                     c.num_producers + c.num_consumers + c.num_storage >= 1 &&
                     c.num_producers + c.num_consumers + c.num_storage <= kMaxAgents,
                 std::invalid_argument, "SmartGrid: between 1 and ", kMaxAgents, " agents in all");
    NEXTRL_CHECK(c.step_hours > 0.0 && c.step_hours <= 24.0 &&
                     std::abs(24.0 / c.step_hours - std::round(24.0 / c.step_hours)) < 1e-9,
                 std::invalid_argument, "SmartGrid: step_hours must divide 24, got ", c.step_hours);
    NEXTRL_CHECK(c.storage_capacity > 0.0 && c.max_power >= 0.0 && c.base_price >= 0.0, std::invalid_argument,
                 "SmartGrid: storage_capacity must be > 0, max_power and base_price >= 0");
  }
  static std::vector<AgentGroup> Groups(const Config& c) {
    std::vector<AgentGroup> g;
    if (c.num_producers > 0) g.push_back({"producer", c.num_producers, 6});
    if (c.num_consumers > 0) g.push_back({"consumer", c.num_consumers, 6});
    if (c.num_storage > 0) g.push_back({"storage", c.num_storage, 6});
    return g;
  }
  static int64_t StateSize(const Config& c) { return 4 + 2 * c.num_producers + c.num_consumers + c.num_storage; }
  static int64_t ActionSize(const Config&) { return 1; }
  static int64_t NumActions(const Config&) { return 0; }
  static const char* CheckAction(const Config&, int64_t, const Action* a) {
    return std::isfinite(*a) ? nullptr : "must be finite";
  }

  explicit SmartGrid(const Config& c) : cfg_(&c) {}
  // State (envs/env_state.h): producers' capacities and costs, consumers' base and current demand,
  // storage energy, the renewable factor and the step count.
  template <class F>
  void VisitState(F&& f) {
    const Config& c = *cfg_;
    f(cap_, c.num_producers), f(cost_, c.num_producers), f(base_, c.num_consumers), f(demand_, c.num_consumers);
    f(energy_, c.num_storage), f(renewable_), f(t_);
  }
  const char* CheckState() const { return t_ >= 0 ? nullptr : "has a negative step count"; }
  int64_t MaxSteps() const { return static_cast<int64_t>(std::round(24.0 / cfg_->step_hours)); }

  void Reset(Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    for (int64_t k = 0; k < c.num_producers; ++k) cap_[k] = rng.Uniform(20.0, 70.0), cost_[k] = rng.Uniform(0.05, 0.15);
    for (int64_t k = 0; k < c.num_consumers; ++k) base_[k] = rng.Uniform(10.0, 40.0);
    renewable_ = rng.Uniform(0.5, 1.0);
    for (int64_t k = 0; k < c.num_storage; ++k) energy_[k] = 0.5 * c.storage_capacity;
    t_ = 0;
    DrawDemand(rng);
    for (int i = 0; i < 4; ++i) s.info[i] = 0.0;
    s.info[3] = TotalEnergy();
    s.info[4] = Price();
    Observe(s);
  }

  void Step(const Action* a, Rng& rng, const MarlSlot<Obs>& s) {
    const Config& c = *cfg_;
    const int64_t P = c.num_producers, C = c.num_consumers, S = c.num_storage;
    const double h = c.step_hours, price = Price();
    double out[kMaxAgents], load[kMaxAgents], power[kMaxAgents];
    double supply = 0.0, demand = 0.0;
    for (int64_t k = 0; k < P; ++k) {
      out[k] = std::max(0.0, Clip(a[k])) * cap_[k] * renewable_;
      supply += out[k];
    }
    for (int64_t k = 0; k < C; ++k) {
      load[k] = demand_[k] * (1.0 + 0.3 * Clip(a[P + k]));
      demand += load[k];
    }
    for (int64_t k = 0; k < S; ++k) {
      double p = c.max_power * Clip(a[P + C + k]);
      p = std::min(p, energy_[k] / h);                           // cannot discharge what it does not hold
      p = std::max(p, -(c.storage_capacity - energy_[k]) / h);    // cannot charge past full
      energy_[k] = std::clamp(energy_[k] - p * h, 0.0, c.storage_capacity);
      power[k] = p;
      if (p > 0)
        supply += p;
      else
        demand -= p;
    }
    const double imbalance = supply - demand;
    const double shared = -c.imbalance_weight * std::abs(imbalance) * h;
    for (int64_t k = 0; k < P; ++k) s.rewards[k] = static_cast<float>((price - cost_[k]) * out[k] * h + shared);
    for (int64_t k = 0; k < C; ++k)
      s.rewards[P + k] =
          static_cast<float>(-price * load[k] * h - c.comfort_weight * std::abs(load[k] - demand_[k]) * h + shared);
    for (int64_t k = 0; k < S; ++k)
      s.rewards[P + C + k] = static_cast<float>(price * power[k] * h - c.wear * std::abs(power[k]) * h + shared);
    for (int64_t k = 0; k < P + C + S; ++k) s.terminated[k] = 0;
    s.info[0] = imbalance, s.info[1] = supply, s.info[2] = demand, s.info[3] = TotalEnergy(), s.info[4] = price;
    const int64_t hours_before = static_cast<int64_t>(std::floor(static_cast<double>(t_) * h / 6.0 + 1e-9));
    t_ += 1;
    const int64_t hours_after = static_cast<int64_t>(std::floor(static_cast<double>(t_) * h / 6.0 + 1e-9));
    if (hours_after != hours_before) DrawDemand(rng);  // every 6 hours
    Observe(s);
  }

 private:
  static double Clip(float a) { return std::clamp(static_cast<double>(a), -1.0, 1.0); }
  double Hour() const { return std::fmod(static_cast<double>(t_) * cfg_->step_hours, 24.0); }
  double Price() const { return cfg_->base_price * (1.0 + 0.5 * std::sin(2.0 * kPi * (Hour() - 6.0) / 24.0)); }
  double TotalEnergy() const {
    double e = 0.0;
    for (int64_t k = 0; k < cfg_->num_storage; ++k) e += energy_[k];
    return e;
  }
  void DrawDemand(Rng& rng) {
    for (int64_t k = 0; k < cfg_->num_consumers; ++k) demand_[k] = base_[k] * rng.Uniform(0.8, 1.2);
  }

  void Observe(const MarlSlot<Obs>& s) const {
    const Config& c = *cfg_;
    const int64_t P = c.num_producers, C = c.num_consumers, S = c.num_storage;
    const double hs = std::sin(2.0 * kPi * Hour() / 24.0), hc = std::cos(2.0 * kPi * Hour() / 24.0);
    const double rel_price = c.base_price > 0.0 ? Price() / c.base_price : 0.0;
    double total = 0.0;
    for (int64_t k = 0; k < C; ++k) total += demand_[k];
    auto put = [](float* o, std::array<double, 6> v) {
      for (int i = 0; i < 6; ++i) o[i] = static_cast<float>(v[i]);
    };
    for (int64_t k = 0; k < P; ++k)
      put(s.obs + 6 * k, {cap_[k] / 100.0, cost_[k] * 10.0, renewable_, total / 100.0, hs, hc});
    for (int64_t k = 0; k < C; ++k)
      put(s.obs + 6 * (P + k), {demand_[k] / 50.0, base_[k] / 50.0, (total - demand_[k]) / 100.0, renewable_, hs, hc});
    for (int64_t k = 0; k < S; ++k)
      put(s.obs + 6 * (P + C + k),
          {energy_[k] / c.storage_capacity, c.storage_capacity / 100.0, total / 100.0, rel_price, hs, hc});
    float* st = s.state;
    st[0] = static_cast<float>(renewable_), st[1] = static_cast<float>(hs), st[2] = static_cast<float>(hc);
    st[3] = static_cast<float>(rel_price);
    for (int64_t k = 0; k < P; ++k)
      st[4 + 2 * k] = static_cast<float>(cap_[k] / 100.0), st[5 + 2 * k] = static_cast<float>(cost_[k] * 10.0);
    for (int64_t k = 0; k < C; ++k) st[4 + 2 * P + k] = static_cast<float>(demand_[k] / 50.0);
    for (int64_t k = 0; k < S; ++k) st[4 + 2 * P + C + k] = static_cast<float>(energy_[k] / c.storage_capacity);
  }

  const Config* cfg_;
  double cap_[kMaxAgents] = {}, cost_[kMaxAgents] = {}, base_[kMaxAgents] = {}, demand_[kMaxAgents] = {};
  double energy_[kMaxAgents] = {};
  double renewable_ = 1.0;
  int64_t t_ = 0;
};

}  // namespace nextrl::marl
