"""PETS (nextrl.agents.model_based.pets) on the issue's 1-D point mass: pos starts at 1, vel at 0, vel += a, pos +=
vel, reward -0.001 pos^2, 30 steps. One episode of random actions, then PETS (5-member Gaussian ensemble, CEM through
the C++ learned model, 10 TS-1 particles) refit after every episode: its third episode (90 env steps in all) must
return > -0.02, which uniform random actions reach in 3e-5 of episodes (measured below). Measured (load ~11 on 2
cores, one torch thread): episode returns seed 0: -0.309 (random), -0.0167, -0.0047; seed 1: -1.98, -0.0033,
-0.0084; seed 2 (not in the test): -19.9, -0.0085, -0.0064; 25-30 s wall per seed alone, 64 s each with -n 2. With
(32, 32) hidden units and 500 updates seed 0 missed (-0.058), so the test keeps (64, 64) and 1000. With the
ensemble's normalized targets (GaussianEnsemble.fit's default since 2026-12-06; load 4, 4-6 s per seed alone): seed
0: -0.309, -0.0112, -0.0058; seed 1: -1.98, -0.0058, -0.0090."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from nextrl.agents.model_based.pets import PETS, PETSConfig, train
from nextrl.planning import CEM


class PointMass1D:
    """The issue's 1-D point mass: pos starts at 1, vel at 0; vel += a, pos += vel (a in [-1, 1]); reward
    -0.001 pos^2 after the step; 30 steps. A vector env with NEXT_STEP autoreset."""

    autoreset_mode = "AutoresetMode.NEXT_STEP"

    def __init__(self, num_envs=1, steps=30):
        self.num_envs, self.steps = num_envs, steps
        self.single_action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)

    def reset(self, seed=None):
        self.x = np.tile(np.array([1.0, 0.0]), (self.num_envs, 1))
        self.t = np.zeros(self.num_envs, dtype=int)
        self.pending = np.zeros(self.num_envs, dtype=bool)
        return self.x.astype(np.float32), {}

    def step(self, a):
        a = np.clip(np.asarray(a, dtype=np.float64).reshape(self.num_envs), -1, 1)
        r = np.zeros(self.num_envs)
        trunc = np.zeros(self.num_envs, dtype=bool)
        for i in range(self.num_envs):
            if self.pending[i]:
                self.x[i], self.t[i], self.pending[i] = (1.0, 0.0), 0, False
                continue
            self.x[i, 1] += a[i]
            self.x[i, 0] += self.x[i, 1]
            r[i] = -0.001 * self.x[i, 0] ** 2
            self.t[i] += 1
            trunc[i] = self.pending[i] = self.t[i] >= self.steps
        return self.x.astype(np.float32), r, np.zeros(self.num_envs, dtype=bool), trunc, {}


CFG = PETSConfig(
    total_steps=90,
    init_steps=30,
    train_every=30,
    members=5,
    hidden=(64, 64),
    updates=1000,
    particles=10,
    planner=CEM(horizon=15, population=100, num_elites=10, iterations=5),
    reward="quadratic",
    q=(0.001, 0.0),
    r=(0.0,),
)


def test_random_actions_rarely_reach_the_bar():
    """Uniform random actions in [-1, 1]: return > -0.02 in 316 of 10^7 episodes (3.2e-5; measured once, seed 0 --
    not the issue's < 1e-5); the test checks 10^6 episodes against < 1e-4 and a median far below the bar."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    pos, vel, ret = np.ones(n), np.zeros(n), np.zeros(n)
    for _ in range(30):
        vel += rng.uniform(-1, 1, n)
        pos += vel
        ret -= 0.001 * pos**2
    assert (ret > -0.02).mean() < 1e-4
    assert np.median(ret) < -1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_pets_learns_the_point_mass(seed):
    result = train(PointMass1D(), CFG, seed=seed)
    assert len(result.episode_returns) == 3
    assert result.episode_steps == [30, 60, 90]
    assert result.episode_returns[-1] > -0.02, result.episode_returns
    assert len(result.train_losses) == 2


def test_pets_plans_through_the_elites():
    """num_elites 2 of 4 with a 25% holdout: after each refit the C++ model holds 2 members, the ensemble's elites are
    its 2 members of lowest holdout loss, and the plans are those of the ensemble's torch path through them."""
    from dataclasses import replace

    import torch

    from nextrl.planning.ensemble import torch_returns

    cfg = replace(CFG, total_steps=60, members=4, hidden=(16,), updates=50, num_elites=2, holdout_ratio=0.25)
    agent = PETS(PointMass1D(), cfg, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(40):
        s = rng.normal(size=(1, 2)).astype(np.float32)
        a = rng.uniform(-1, 1, (1, 1))
        agent.observe(s, a, s + np.c_[a, a], -0.001 * (s[:, :1] + a) ** 2)
    agent.refit()
    ens, model = agent.ensemble, agent.model
    assert len(ens.holdout_indices) == 10 and model.core.members == 2
    np.testing.assert_array_equal(model.elites, np.sort(np.argsort(ens.holdout_losses.numpy())[:2]))
    model.set_states(np.zeros((1, 2), dtype=np.float32), seed=3)
    acts = rng.uniform(-1, 1, (1, 8, 5, 1))
    want = torch_returns(ens, model, torch.as_tensor(acts), reward="quadratic", q=cfg.q, r=cfg.r)
    np.testing.assert_allclose(model.evaluate(acts), want.numpy(), rtol=1e-5, atol=1e-7)


def test_pets_errors():
    env = PointMass1D()
    with pytest.raises(ValueError, match=r"PETS: num_elites must be None or an int in \[1, members = 5\], got 6"):
        PETS(env, PETSConfig(num_elites=6, holdout_ratio=0.2))
    with pytest.raises(ValueError, match=r"PETS: holdout_ratio must be in \[0, 1\), got 1.0"):
        PETS(env, PETSConfig(holdout_ratio=1.0))
    with pytest.raises(ValueError, match="PETS: num_elites < members and max_epochs_since_update need holdout_ratio"):
        PETS(env, PETSConfig(num_elites=3))
    with pytest.raises(ValueError, match="PETS: max_epochs_since_update must be None or an int >= 0, got -1"):
        PETS(env, PETSConfig(holdout_ratio=0.2, max_epochs_since_update=-1))  # refused here, not at the first refit
    with pytest.raises(
        ValueError, match=r"PETS: .* which sees init_steps = 4 transitions: .* raise init_steps to >= 5"
    ):
        PETS(env, PETSConfig(init_steps=4, holdout_ratio=0.2, num_elites=3))  # not at the first refit
    with pytest.raises(ValueError, match=r"int\(9 \* holdout_ratio 0.1\) = 0; raise init_steps to >= 10"):
        PETS(env, PETSConfig(init_steps=9, holdout_ratio=0.1, max_epochs_since_update=0))
    with pytest.raises(ValueError, match="updates must be an int >= 1"):
        PETS(env, PETSConfig(updates=0))
    with pytest.raises(ValueError, match="init_steps must be"):
        PETS(env, PETSConfig(init_steps=0))
    with pytest.raises(ValueError, match="propagation must be"):
        PETS(env, PETSConfig(propagation="ts2"))
    with pytest.raises(TypeError, match="planner must be"):
        PETS(env, PETSConfig(planner="cem"))
    with pytest.raises(TypeError, match="seed must be an int"):
        PETS(env, CFG, seed=1.5)
    env.single_action_space = spaces.Discrete(3)
    with pytest.raises(TypeError, match="Box action space"):
        PETS(env, CFG)
