"""Copyable env state (csrc/envs/env_state.h): bad rows are refused before any env changes. The round trip
(get_state, step, set_state, the same steps again bit for bit; fresh, tiled and single envs) runs on every
env as check_state_round_trip of tests/env_harness.py."""

from __future__ import annotations

import numpy as np
import pytest

from env_harness import REGISTRY


def make_vec(env_id: str, num_envs: int):
    case = REGISTRY[env_id]
    return case.make_vec(num_envs, **case.short)


def test_set_state_refuses_bad_rows_before_changing_anything():
    env = make_vec("nextrl/GridWorld-v0", 3)
    env.reset(seed=0)
    good = env.get_state()
    with pytest.raises(TypeError, match="set_state: states must have dtype uint8"):
        env.set_state(good.astype(np.int64))
    with pytest.raises(ValueError, match=r"set_state: states must have shape \(3, \d+\), got \(2, \d+\)"):
        env.set_state(good[:2])
    with pytest.raises(TypeError, match="set_state: states must be a numpy array, got list"):
        env.set_state(good.tolist())
    bad = good.copy()
    bad[2, :8] = np.frombuffer(np.int64(10**6).tobytes(), np.uint8)  # GridWorld's cell index: off the grid
    env.step(np.zeros(3, np.int64))
    before = env.get_state()
    with pytest.raises(
        ValueError,
        match=r"set_state: states\[2\] must be a row of get_state\(\) of an env of this "
        r"type and config, got one that has a cell outside the grid",
    ):
        env.set_state(bad)
    np.testing.assert_array_equal(env.get_state(), before)  # nothing restored, rows 0 and 1 included
    bad = good.copy()
    bytes_env_rng = 8 + 8 * 3 + 16 + 4 + 1 + 8  # cell, Rng seed / stream / counter, block, left, spare flag, spare
    bad[1, bytes_env_rng] = 2  # the engine's needs_reset flag
    with pytest.raises(ValueError, match=r"states\[1\] .* flag byte that is neither 0 nor 1"):
        env.set_state(bad)
    # Another config: a row of an 8x8 grid does not fit a 5x5 one.
    big = make_vec("nextrl/GridWorld8x8-v0", 3)
    with pytest.raises(ValueError, match="set_state: states must have shape"):
        env.set_state(big.get_state())
