"""Pendulum's limits as config fields (csrc/envs/classic_control.h): max_torque (2.0) and max_speed (8.0), with
Gymnasium's values as defaults.

- The defaults reproduce the trajectories of the build before these fields existed bit for bit: a SHA-256 of 600
  vector steps (37 envs, seed 11, torques uniform in [-3, 3] from default_rng(5): states, observations, rewards,
  terminations, truncations) recorded with the build of commit f2a252d.
- Changed limits step as Gymnasium's PendulumEnv with the same max_torque / max_speed set, bit for bit (its state
  put in ours after each reset, as tests/envs/test_classic_control.py does for the defaults), and the action and
  observation spaces follow them as Gymnasium's would be built.
"""

import hashlib

import gymnasium as gym
import numpy as np
import pytest

from nextrl.envs import PendulumVectorEnv

DEFAULTS = {"max_torque": 2.0, "max_speed": 8.0}
GOLDEN = "e0f07268992ffc266a47e301c77077ccc03f4094891e175e1273e9707bb7767b"  # the build of f2a252d


def _digest(**config) -> str:
    env = PendulumVectorEnv(37, copy=False, **config)
    rng = np.random.default_rng(5)
    env.reset(seed=11)
    h = hashlib.sha256()
    for _ in range(600):
        obs, rewards, terms, truncs, _ = env.step(rng.uniform(-3, 3, size=(37, 1)).astype(np.float32))
        for x in (env.states(), obs, rewards, terms, truncs):
            h.update(x.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("explicit", [False, True])
def test_default_limits_reproduce_previous_build(explicit):
    assert _digest(**(DEFAULTS if explicit else {})) == GOLDEN


@pytest.mark.parametrize("limits", [{"max_torque": 1.3}, {"max_torque": 0.7, "max_speed": 5.0}, {"max_speed": 3.1}])
def test_changed_limits_step_as_gymnasium(limits):
    c = {**DEFAULTS, **limits}
    ours = PendulumVectorEnv(1, **limits)
    assert ours.config.max_torque == c["max_torque"] and ours.config.max_speed == c["max_speed"]
    theirs = gym.make("Pendulum-v1").unwrapped
    theirs.max_torque, theirs.max_speed = c["max_torque"], c["max_speed"]
    # the spaces Gymnasium's __init__ would build from these limits
    np.testing.assert_array_equal(ours.single_action_space.high, np.float32([c["max_torque"]]))
    np.testing.assert_array_equal(ours.single_action_space.low, np.float32([-c["max_torque"]]))
    np.testing.assert_array_equal(ours.single_observation_space.high, np.float32([1, 1, c["max_speed"]]))
    np.testing.assert_array_equal(ours.single_observation_space.low, np.float32([-1, -1, -c["max_speed"]]))

    rng = np.random.default_rng(0)
    ours.reset(seed=2)
    theirs.reset(seed=2)
    theirs.state = ours.states()[0].copy()
    at_speed_limit = torque_clipped = 0
    for _ in range(400):  # two episodes (truncated at 200: NEXT_STEP autoreset, then ours resets)
        action = rng.uniform(-3, 3, size=1).astype(np.float32)
        obs, reward, term, trunc, _ = ours.step(action[None])
        o2, r2, _, _, _ = theirs.step(action)
        np.testing.assert_array_equal(ours.states()[0], theirs.state)
        np.testing.assert_array_equal(obs[0], o2)
        assert np.float32(reward[0]) == np.float32(r2)
        at_speed_limit += abs(theirs.state[1]) == c["max_speed"]
        torque_clipped += abs(action[0]) > c["max_torque"]
        if trunc[0]:
            ours.step(np.zeros((1, 1), np.float32))  # the autoreset step
            theirs.reset(seed=0)
            theirs.state = ours.states()[0].copy()
    assert torque_clipped > 100
    if "max_speed" in limits:
        assert at_speed_limit > 10  # the speed clip was reached


def test_changed_limits_change_the_trajectory():
    assert _digest(max_torque=1.9) != GOLDEN and _digest(max_speed=7.5) != GOLDEN


@pytest.mark.parametrize("name", sorted(DEFAULTS))
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_limits_must_be_finite_and_positive(name, value):
    with pytest.raises(ValueError, match=f"Pendulum: {name} must be finite and > 0, got"):
        PendulumVectorEnv(1, **{name: value})


def test_limit_type_errors():
    with pytest.raises(TypeError, match="Pendulum: max_torque must be float, got str"):
        PendulumVectorEnv(1, max_torque="2")
    assert PendulumVectorEnv(1, max_speed=6).config.max_speed == 6.0  # ints are taken as floats
