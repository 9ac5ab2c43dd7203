"""The standard checks of tests/env_harness.py (PettingZoo's API and seed tests, seeding, batch = singles,
thread invariance, observation spaces, bad actions, time limits, state round trip) on every multi-agent env
of its registry."""

from __future__ import annotations

import pytest

import nextrl.marl
from env_harness import CHECKS, MULTI_AGENT


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__.removeprefix("check_"))
@pytest.mark.parametrize("case", MULTI_AGENT, ids=str)
def test_standard(case, check):
    check(case)


def test_registry_covers_every_env():
    """A new MarlVectorEnv without a registry entry fails here."""
    envs = {
        cls
        for name in nextrl.marl.__all__
        if isinstance(cls := getattr(nextrl.marl, name), type)
        and issubclass(cls, nextrl.marl.MarlVectorEnv)
        and cls is not nextrl.marl.MarlVectorEnv
    }
    assert envs <= {case.vec_cls for case in MULTI_AGENT}, envs - {case.vec_cls for case in MULTI_AGENT}
