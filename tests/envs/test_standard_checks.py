"""The standard checks of tests/env_harness.py (check_env, seeding, batch = singles, thread invariance,
observation spaces, bad actions, time limits, state round trip) on every single-agent env of its registry."""

from __future__ import annotations

import pytest

from env_harness import CHECKS, REGISTRY, SINGLE_AGENT
from nextrl.envs import ENVS


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__.removeprefix("check_"))
@pytest.mark.parametrize("case", SINGLE_AGENT, ids=str)
def test_standard(case, check):
    check(case)


def test_registry_covers_every_registered_env():
    """A new Gymnasium id without its registry entry fails here."""
    assert set(ENVS) <= set(REGISTRY), sorted(set(ENVS) - set(REGISTRY))
