"""CartPole's physical constants as config fields (csrc/envs/classic_control.h): gravity, masscart, masspole,
length (half the pole) and force_mag, with Gymnasium's defaults.

- The defaults reproduce the trajectories of the build before these fields existed bit for bit: a SHA-256 of 600
  vector steps (37 envs, seed 11, random actions from default_rng(5): states, observations, rewards,
  terminations) recorded with the build of commit 2fa9a4f.
- Changed constants change the step as Gymnasium's closed-form Euler step says (NumPy float64, rtol 1e-12: our
  sin / cos are within 1 ulp of libm's), through the batched vector step and the scalar step, and equal
  Gymnasium's own CartPoleEnv with the same constants set.
"""

import hashlib

import gymnasium as gym
import numpy as np
import pytest

from nextrl import _core
from nextrl.envs import CartPoleVectorEnv

DEFAULTS = {"gravity": 9.8, "masscart": 1.0, "masspole": 0.1, "length": 0.5, "force_mag": 10.0}
GOLDEN = "2f5e70be0d9093e5409c5e9d2d29d69ed15f79984282f6cfda8cc5590f521c71"  # the build of 2fa9a4f


def _digest(**config) -> str:
    env = CartPoleVectorEnv(37, copy=False, **config)
    rng = np.random.default_rng(5)
    env.reset(seed=11)
    h = hashlib.sha256()
    for _ in range(600):
        obs, rewards, terms, _, _ = env.step(rng.integers(0, 2, size=37))
        for x in (env.states(), obs, rewards, terms):
            h.update(x.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("explicit", [False, True])
def test_default_physics_reproduce_previous_build(explicit):
    assert _digest(**(DEFAULTS if explicit else {})) == GOLDEN


def _closed_form(states: np.ndarray, actions: np.ndarray, c: dict) -> np.ndarray:
    """Gymnasium 1.x CartPoleEnv.step ("euler"), vectorized in NumPy float64."""
    x, x_dot, theta, theta_dot = states.T
    total_mass, polemass_length = c["masspole"] + c["masscart"], c["masspole"] * c["length"]
    force = np.where(actions == 1, c["force_mag"], -c["force_mag"])
    sin, cos = np.sin(theta), np.cos(theta)
    temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
    thetaacc = (c["gravity"] * sin - cos * temp) / (c["length"] * (4.0 / 3.0 - c["masspole"] * cos**2 / total_mass))
    xacc = temp - polemass_length * thetaacc * cos / total_mass
    tau = 0.02
    return np.stack([x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot, theta_dot + tau * thetaacc], 1)


CHANGED = [
    {"length": 0.7},
    {"gravity": 3.7, "masscart": 2.5, "masspole": 0.3, "length": 1.2, "force_mag": 6.0},
]


@pytest.mark.parametrize("changed", CHANGED)
def test_changed_physics_follow_the_closed_form(changed):
    c = {**DEFAULTS, **changed}
    env = CartPoleVectorEnv(64, copy=False, init_low=-0.2, init_high=0.2, **changed)
    assert all(getattr(env.config, k) == v for k, v in c.items())
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    done = np.zeros(64, dtype=bool)
    for _ in range(5):  # the batched step (StepBlock) from reset states, several steps
        before = env.states()
        actions = rng.integers(0, 2, size=64)
        _, _, terms, truncs, _ = env.step(actions)
        after = env.states()
        live = ~done  # NEXT_STEP autoreset: the step after a termination resets instead
        done = terms | truncs
        np.testing.assert_allclose(after[live], _closed_form(before, actions, c)[live], rtol=1e-12, atol=1e-15)
        default = _closed_form(before, actions, DEFAULTS)
        assert np.abs(after[live] - default[live]).max() > 1e-4  # the change is visible in one step
    # the scalar step, over a wider range of angles
    states = rng.uniform([-2, -2, -1.2, -3], [2, 2, 1.2, 3], size=(200, 4))
    actions = rng.integers(0, 2, size=200)
    config = _core._CartPoleConfig()
    for k, v in changed.items():
        setattr(config, k, v)
    ours = _core._cartpole_step(config, states, actions)[0]
    np.testing.assert_allclose(ours, _closed_form(states, actions, c), rtol=1e-12, atol=1e-15)
    # Gymnasium's env with the same constants (it forms total_mass and polemass_length in __init__)
    theirs = gym.make("CartPole-v1").unwrapped
    theirs.reset(seed=0)
    for k, v in c.items():
        setattr(theirs, k, v)
    theirs.total_mass, theirs.polemass_length = c["masspole"] + c["masscart"], c["masspole"] * c["length"]
    for s, a, o in zip(states[:50], actions[:50], ours[:50]):
        theirs.state, theirs.steps_beyond_terminated = s.copy(), None
        theirs.step(int(a))
        np.testing.assert_allclose(o, np.asarray(theirs.state), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_physics_must_be_finite_and_positive(name, value):
    with pytest.raises(ValueError, match=f"CartPole: {name} must be finite and > 0, got"):
        CartPoleVectorEnv(1, **{name: value})


def test_physics_type_errors():
    with pytest.raises(TypeError, match="CartPole: length must be float, got str"):
        CartPoleVectorEnv(1, length="0.5")
    assert CartPoleVectorEnv(1, masscart=2).config.masscart == 2.0  # ints are taken as floats
