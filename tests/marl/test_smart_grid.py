"""SmartGrid (CA12, fixed): storage cannot discharge what it does not hold nor charge past full, one time
unit (energy = power x step_hours), the imbalance identity, rewards by hand from the observed constants,
the episode length of one day; errors (the PettingZoo tests: tests/marl/test_standard_checks.py)."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl.marl import SmartGridVectorEnv


@pytest.mark.parametrize("step_hours", [1.0, 0.5])
def test_storage_limits_and_time_units(step_hours):
    env = SmartGridVectorEnv(
        1,
        num_producers=0,
        num_consumers=0,
        num_storage=1,
        step_hours=step_hours,
        storage_capacity=100.0,
        max_power=20.0,
    )
    _, infos = env.reset(seed=0)
    assert infos["storage_energy"][0] == 50.0
    energies, powers = [], []
    for _ in range(int(4 / step_hours)):  # discharge flat out for 4 hours: 80 MWh asked, 50 held
        _, _, _, _, infos = env.step(np.ones((1, 1, 1), np.float32))
        energies.append(infos["storage_energy"][0])
        powers.append(infos["supply"][0])
    h = step_hours
    expected_power = [min(20.0, max(0.0, 50.0 - 20.0 * h * k) / h) for k in range(len(powers))]
    np.testing.assert_allclose(powers, expected_power, atol=1e-9)
    np.testing.assert_allclose(energies, np.maximum(0.0, 50.0 - np.cumsum(expected_power) * h), atol=1e-9)
    assert energies[-1] == 0.0 and powers[-1] == 0.0
    for _ in range(int(10 / step_hours)):  # charge flat out: stops at full
        _, _, _, _, infos = env.step(-np.ones((1, 1, 1), np.float32))
    assert infos["storage_energy"][0] == 100.0 and infos["demand"][0] == 0.0


def test_balance_and_rewards_by_hand(rng):
    env = SmartGridVectorEnv(1, num_producers=2, num_consumers=3, num_storage=1)
    obs, infos = env.reset(seed=5)
    assert env.groups == {"producer": slice(0, 2), "consumer": slice(2, 5), "storage": slice(5, 6)}
    steps = 0
    while True:
        a = rng.uniform(-1.2, 1.2, (1, 6, 1)).astype(np.float32)
        price = 0.1 * (1 + 0.5 * np.sin(2 * np.pi * (steps - 6) / 24))  # this step's price (1-hour steps)
        e0 = infos["storage_energy"][0]
        cap, cost, ren = obs[0, :2, 0] * 100, obs[0, :2, 1] / 10, obs[0, 0, 2]
        demand = obs[0, 2:5, 0].astype(float) * 50
        out = np.maximum(0, np.clip(a[0, :2, 0], -1, 1)) * cap * ren
        load = demand * (1 + 0.3 * np.clip(a[0, 2:5, 0], -1, 1))
        p = float(np.clip(20 * np.clip(a[0, 5, 0], -1, 1), -(100 - e0), e0))
        obs, r, te, tr, infos = env.step(a)
        np.testing.assert_allclose(infos["price"][0], price, rtol=1e-12)
        steps += 1
        imbalance = out.sum() + p - load.sum()
        np.testing.assert_allclose(infos["imbalance"][0], imbalance, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(infos["storage_energy"][0], e0 - p, rtol=1e-6, atol=1e-6)
        shared = -0.01 * abs(imbalance)
        np.testing.assert_allclose(r[0, :2], (price - cost) * out + shared, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(
            r[0, 2:5], -price * load - 0.05 * np.abs(load - demand) + shared, rtol=1e-4, atol=1e-4
        )
        np.testing.assert_allclose(r[0, 5], price * p - 0.001 * abs(p) + shared, rtol=1e-4, atol=1e-4)
        assert not te.any()
        if tr.any():
            break
    assert steps == 24 and tr.all()


def test_price_follows_the_day():
    env = SmartGridVectorEnv(1, step_hours=6.0)
    _, infos = env.reset(seed=0)
    prices = [infos["price"][0]]
    for _ in range(3):
        _, _, _, _, infos = env.step(np.zeros((1, 6, 1), np.float32))
        prices.append(infos["price"][0])
    np.testing.assert_allclose(
        prices, [0.1 * (1 + 0.5 * np.sin(2 * np.pi * (h - 6) / 24)) for h in (0, 0, 6, 12)], atol=1e-12
    )


def test_errors():
    with pytest.raises(ValueError, match="step_hours must divide 24, got 5"):
        SmartGridVectorEnv(1, step_hours=5.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_producer'"):
        SmartGridVectorEnv(1, num_producer=2)
    with pytest.raises(ValueError, match="between 1 and 64 agents"):
        SmartGridVectorEnv(1, num_producers=0, num_consumers=0, num_storage=0)
