"""Step-for-step comparison of a batched C++ multi-agent env with N pure-Python references seeded
Rng(seed + i, 0), through NEXT_STEP autoresets."""

from __future__ import annotations

import numpy as np

from reference.marl_grids import Rng


def compare_with_reference(env, make_ref, seed: int, steps: int, rng: np.random.Generator, num_actions: int = 5):
    """Returns the number of episodes finished, so callers can check that the run went through resets."""
    n, A = env.num_envs, env.num_agents
    refs = [make_ref() for _ in range(n)]
    obs, infos = env.reset(seed=seed)
    for i, ref in enumerate(refs):
        np.testing.assert_allclose(obs[i], ref.reset(Rng(seed + i)), rtol=0, atol=1e-6)
    finished = np.zeros((n, A), bool)
    pending = np.zeros(n, bool)
    episodes = 0
    for _ in range(steps):
        actions = rng.integers(0, num_actions, (n, A))
        obs, rewards, terms, truncs, infos = env.step(actions)
        for i, ref in enumerate(refs):
            if pending[i]:  # NEXT_STEP: this step reset env i and ignored its actions
                np.testing.assert_allclose(obs[i], ref.reset(ref.rng), rtol=0, atol=1e-6)
                assert not rewards[i].any() and not terms[i].any() and not truncs[i].any()
                assert infos["active"][i].all()
                pending[i], finished[i] = False, False
                continue
            out = ref.step(list(actions[i]))
            r_obs, r_rew, r_term, r_trunc = out[:4]
            np.testing.assert_allclose(obs[i], r_obs, rtol=0, atol=1e-6)
            np.testing.assert_allclose(rewards[i], r_rew, rtol=1e-6, atol=1e-5)
            np.testing.assert_array_equal(terms[i], r_term)
            np.testing.assert_array_equal(truncs[i], r_trunc)
            finished[i] |= np.asarray(r_term) | np.asarray(r_trunc)
            np.testing.assert_array_equal(infos["active"][i], ~finished[i])
            if finished[i].all():
                pending[i] = True
                episodes += 1
                assert infos["_episode"][i]
    return episodes
