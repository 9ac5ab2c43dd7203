"""PettingZoo ParallelEnvs of the NumPy multi-agent envs (marl.guessing_game, marl.patterned_rps, through
marl.parallel.NumpyMarlParallelEnv): PettingZoo's parallel API and seed tests, env i of a batch reset with
seed s equal to the ParallelEnv reset with seed s + i over several episodes, each env's stream equal to NumPy's
default_rng(s + i), the rewards against the games' rules, and clear errors."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from nextrl.marl import guessing_game, patterned_rps

CASES = {
    "guessing_game": (guessing_game.GuessingGameVectorEnv, guessing_game.parallel_env, {"num_agents": 3}),
    "patterned_rps": (
        patterned_rps.PatternedRPSVectorEnv,
        patterned_rps.parallel_env,
        {"episode_length": 4, "determinism": 0.7},
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_pettingzoo_api_and_seed_tests(name):
    _, make, config = CASES[name]
    with warnings.catch_warnings():  # pettingzoo.test imports a classic env through its deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        from pettingzoo.test import parallel_api_test, parallel_seed_test
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        parallel_api_test(make(**config), num_cycles=200)
    assert "Passed Parallel API test" in printed.getvalue(), printed.getvalue()
    parallel_seed_test(lambda: make(**config), num_cycles=300)


@pytest.mark.parametrize("name", CASES)
def test_batch_env_i_equals_parallel_env_seeded_s_plus_i(name):
    vec_cls, make, config = CASES[name]
    num_envs, seed, steps = 4, 11, 13  # patterned_rps: 3 whole episodes of 4 steps and one begun
    vec = vec_cls(num_envs, **config)
    pars = [make(**config) for _ in range(num_envs)]
    obs, _ = vec.reset(seed=seed)
    for i, par in enumerate(pars):
        p_obs, p_infos = par.reset(seed=seed + i)
        for k, agent in enumerate(par.possible_agents):
            np.testing.assert_array_equal(p_obs[agent], obs[i, k])
            np.testing.assert_array_equal(p_infos[agent]["action_mask"], np.ones(vec.single_action_space.n))
        np.testing.assert_array_equal(par.state(), vec.state[i])
    actions_rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(steps):
        actions = actions_rng.integers(0, vec.single_action_space.n, size=(num_envs, vec.num_agents))
        obs, rewards, terms, truncs, infos = vec.step(actions)
        for i, par in enumerate(pars):
            agents = list(par.agents)
            p_obs, p_rew, p_terms, p_truncs, p_infos = par.step({a: int(actions[i, k]) for k, a in enumerate(agents)})
            ended = bool(infos["_final_obs"][i])
            for k, agent in enumerate(agents):
                np.testing.assert_array_equal(p_obs[agent], (infos["final_obs"] if ended else obs)[i, k])
                assert p_rew[agent] == rewards[i, k]
                assert (p_terms[agent], p_truncs[agent]) == (terms[i, k], truncs[i, k])
                if "opponent_action" in infos:
                    assert p_infos[agent]["opponent_action"] == infos["opponent_action"][i]
            assert (par.agents == []) == ended
            if ended:  # the next episode: the one the vector env started inside its step
                episodes += 1
                p_obs, _ = par.reset()
                for k, agent in enumerate(par.possible_agents):
                    np.testing.assert_array_equal(p_obs[agent], obs[i, k])
            np.testing.assert_array_equal(par.state(), vec.state[i])
    assert episodes == num_envs * (steps if name == "guessing_game" else 3)


def test_each_env_draws_from_default_rng_seed_plus_i():
    """The digits / opponent types of env i are NumPy's default_rng(seed + i) draws (an independent reference)."""
    vec = guessing_game.GuessingGameVectorEnv(5, num_agents=3, num_digits=6)
    obs, infos = vec.reset(seed=40)
    ref = [np.random.default_rng(40 + i) for i in range(5)]
    first = np.stack([r.integers(0, 6, size=3) for r in ref])
    np.testing.assert_array_equal(obs.argmax(-1), first)
    np.testing.assert_array_equal(infos["state"], np.eye(6, dtype=np.float32)[first].reshape(5, -1))
    obs, *_ = vec.step(np.zeros((5, 3), dtype=np.int64))
    np.testing.assert_array_equal(obs.argmax(-1), np.stack([r.integers(0, 6, size=3) for r in ref]))
    rps = patterned_rps.PatternedRPSVectorEnv(5)
    rps.reset(seed=40)
    np.testing.assert_array_equal(rps.types, [np.random.default_rng(40 + i).integers(0, 3) for i in range(5)])


def test_guessing_game_rewards_follow_the_rule():
    """Agent k is paid 1 exactly when it names the digit of agent k + 1 (read from that agent's observation)."""
    par = guessing_game.parallel_env(num_agents=3, num_digits=4)
    rng = np.random.default_rng(1)
    paid = 0
    for episode in range(200):
        obs, _ = par.reset(seed=episode) if episode == 0 else par.reset()
        digits = [int(obs[f"agent_{k}"].argmax()) for k in range(3)]
        guesses = {
            f"agent_{k}": int(digits[(k + 1) % 3] if rng.random() < 0.5 else rng.integers(0, 4)) for k in range(3)
        }
        _, rewards, terms, truncs, _ = par.step(guesses)
        for k in range(3):
            assert rewards[f"agent_{k}"] == float(guesses[f"agent_{k}"] == digits[(k + 1) % 3])
        paid += sum(rewards.values())
        assert all(terms.values()) and not any(truncs.values()) and par.agents == []
    assert 0.55 * 600 < paid < 0.70 * 600  # half right on purpose, a quarter of the rest by chance: 0.625


def test_patterned_rps_rewards_follow_the_rule():
    par = patterned_rps.parallel_env(episode_length=6)
    assert par.possible_agents == ["player"]
    par.reset(seed=3)
    for t in range(30):
        a = t % 3
        obs, rewards, terms, truncs, infos = par.step({"player": a})
        b = infos["player"]["opponent_action"]
        assert rewards["player"] == {1: 1.0, 2: -1.0, 0: 0.0}[(a - b) % 3]
        assert obs["player"][:3].argmax() == b and obs["player"][:3].sum() == 1  # final obs at an episode's end
        assert truncs["player"] == ((t + 1) % 6 == 0) and not terms["player"]
        if not par.agents:
            obs, _ = par.reset()
            assert not obs["player"].any()  # a new episode has no history


@pytest.mark.parametrize(
    "actions, error, match",
    [
        (
            {"agent_0": 1, "agent_1": 2, "agnet_2": 0},
            ValueError,
            r"step: unknown agent 'agnet_2'; did you mean 'agent_2'",
        ),
        ({"agent_0": 1}, ValueError, r"step: actions is missing live agent\(s\) 'agent_1', 'agent_2'"),
        (
            {"agent_0": 1.0, "agent_1": 2, "agent_2": 0},
            TypeError,
            r"action of agent 'agent_0' must be an int for Discrete\(4\)",
        ),
        ({"agent_0": True, "agent_1": 2, "agent_2": 0}, TypeError, "must be an int"),
        ({"agent_0": [1], "agent_1": 2, "agent_2": 0}, TypeError, "must be an int"),
        (
            {"agent_0": 4, "agent_1": 2, "agent_2": 0},
            ValueError,
            r"action of agent 'agent_0' must be in \[0, 4\), got 4",
        ),
        ({"agent_0": -1, "agent_1": 2, "agent_2": 0}, ValueError, r"must be in \[0, 4\), got -1"),
        ([1, 2, 0], TypeError, "step: actions must be a dict agent -> action, got list"),
    ],
)
def test_bad_actions_are_refused_and_nothing_moves(actions, error, match):
    par = guessing_game.parallel_env(num_agents=3)
    obs, _ = par.reset(seed=0)
    with pytest.raises(error, match=match):
        par.step(actions)
    assert par.agents == par.possible_agents  # still in the episode, with the same digits
    _, rewards, *_ = par.step(
        {a: int(obs[par.possible_agents[(k + 1) % 3]].argmax()) for k, a in enumerate(par.agents)}
    )
    assert all(r == 1.0 for r in rewards.values())


def test_errors():
    par = patterned_rps.parallel_env(episode_length=1)
    with pytest.raises(RuntimeError, match=r"step: every agent has finished \(or reset\(\) was never called\)"):
        par.step({"player": 0})
    par.reset(seed=0)
    par.step({"player": 0})  # the episode's last step: every agent finishes together
    with pytest.raises(RuntimeError, match="step: every agent has finished"):
        par.step({"player": 0})
    with pytest.raises(ValueError, match="observation_space: unknown agent 'plyer'; did you mean 'player'"):
        par.observation_space("plyer")
    with pytest.raises(ValueError, match="action_space: unknown agent 'x'"):
        par.action_space("x")
    with pytest.raises(TypeError, match=r"^parallel_env: num_envs cannot be set \(a ParallelEnv is one env\)"):
        guessing_game.parallel_env(num_envs=2)
    with pytest.raises(ValueError, match=r"parallel_env: render_mode must be None \(PatternedRPSVectorEnv does not"):
        patterned_rps.parallel_env(render_mode="rgb_array")
    with pytest.raises(TypeError, match="reset: seed must be an int or None, got float"):
        par.reset(seed=1.5)
    with pytest.raises(ValueError, match=r"reset: seed must be in \[0, 2\*\*64\)"):
        guessing_game.GuessingGameVectorEnv(2).reset(seed=-1)
    with pytest.raises(ValueError, match="GuessingGameVectorEnv: num_digits must be an integer >= 2"):
        guessing_game.parallel_env(num_digits=1)
