"""Multi-agent envs in the single-agent trainers: every train() takes a nextrl.marl.MarlVectorEnv of one group
(flattened by nextrl.marl.FlattenAgents, one policy shared by all agents) and refuses the others with a clear
error; the slots of agents that finished before their env reset are masked (episode statistics, on-policy
losses and returns, replay); and PPO with parameter sharing learns a cooperative pursuit (PredatorPrey:
two predators, one random prey) far beyond the random policy's return, measured in the same test.

The expected masks come from the env's own infos["active"], recorded by patching the env's `step`: the
transition of step t is real exactly when its agent was active after step t - 1 (an agent is inactive
from its done step until its env resets, and after an env's last done all its agents are, so the reset
step is masked by the same rule)."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from nextrl.agents import a2c, ddpg, dqn, ppo, reinforce, returns, sac, sac_discrete, td3, trpo
from nextrl.agents.common import EpisodeTracker, evaluate
from nextrl.agents.networks import default_actor_critic
from nextrl.agents.rollout import Collector, Rollout, act_fn, check_env, collect
from nextrl.marl import FlattenAgents, PointMassTeamVectorEnv, PredatorPreyVectorEnv
from nextrl.marl.matrix_games import two_step_parallel_env

torch.set_num_threads(1)

OFF = dict(total_timesteps=600, learning_starts=200, batch_size=16, hidden=(16, 16), train_frequency=2)
TRAINERS = {
    "ppo": (ppo, ppo.PPOConfig(num_steps=16, num_minibatches=2, update_epochs=2, total_timesteps=16 * 12 * 3)),
    "a2c": (a2c, a2c.A2CConfig(num_steps=8, total_timesteps=8 * 12 * 6)),
    "reinforce": (reinforce, reinforce.ReinforceConfig(num_steps=16, total_timesteps=16 * 12 * 3)),
    "trpo": (trpo, trpo.TRPOConfig(num_steps=16, vf_epochs=2, total_timesteps=16 * 12 * 3)),
    "dqn": (dqn, dqn.DQNConfig(**OFF)),
    "sac_discrete": (sac_discrete, sac_discrete.SACDiscreteConfig(**OFF)),
    "ddpg": (ddpg, ddpg.DDPGConfig(**OFF)),
    "td3": (td3, td3.TD3Config(**OFF)),
    "sac": (sac, sac.SACConfig(**OFF)),
}
MAX_STEPS = 30


def point_mass(num_envs: int = 4, **kw) -> PointMassTeamVectorEnv:
    """Three agents in a disc of radius 2.5 (they start in [-2, 2]^2): agents leave it one by one, so slots
    go inactive while the others of their env play on."""
    return PointMassTeamVectorEnv(num_envs, num_agents=3, bound=2.5, max_steps=MAX_STEPS, **kw)


def pursuit(num_envs: int = 4, **kw) -> PredatorPreyVectorEnv:
    """Two predators (one group, Discrete(5)) chase one random prey on a 6 x 6 grid; 10 to each per capture,
    which ends the episode."""
    return PredatorPreyVectorEnv(num_envs, grid_size=6, num_predators=2, num_prey=1, max_steps=20, **kw)


def record(env) -> list[dict[str, np.ndarray]]:
    """Patches a MarlVectorEnv's reset and step to log, per call, the flattened infos["active"] and rewards
    (list restarted by reset)."""
    log: list[dict[str, np.ndarray]] = []
    reset, step = env.reset, env.step

    def logged_reset(**kwargs):
        out = reset(**kwargs)
        log.clear()
        log.append({"active": out[1]["active"].reshape(-1).copy(), "rewards": np.zeros(out[1]["active"].size)})
        return out

    def logged_step(actions):
        out = step(actions)
        log.append({"active": out[4]["active"].reshape(-1).copy(), "rewards": out[1].reshape(-1).copy()})
        return out

    env.reset, env.step = logged_reset, logged_step
    return log


def expected_valid(log) -> np.ndarray:
    """[T, slots]: step t (log entry t + 1) is real when its slot was active after the call before."""
    return np.stack([entry["active"] for entry in log[:-1]])


def staggered(valid: np.ndarray, num_agents: int) -> int:
    """Masked (step, slot) entries whose env still has an active agent: masked for a finished agent, not for a
    reset step."""
    v = valid.reshape(valid.shape[0], -1, num_agents)
    return int((~v & v.any(axis=2, keepdims=True)).sum())


# ----------------------------------------------------------------------------------- episode tracker
def test_tracker_masks_finished_agents():
    """One env of two agents, flattened: agent 1 terminates at step 1, agent 0 is truncated at step 3, the
    env resets at step 4, both terminate at step 5."""
    tracker = EpisodeTracker(2)
    tracker.reset(active=[True, True])
    steps = [  # rewards, terminations, truncations, active after the step
        ([1, 2], [0, 1], [0, 0], [1, 0]),
        ([1, 0], [0, 0], [0, 0], [1, 0]),
        ([1, 0], [0, 0], [1, 0], [0, 0]),
        ([0, 0], [0, 0], [0, 0], [1, 1]),  # the reset step
        ([5, 6], [1, 1], [0, 0], [0, 0]),
    ]
    valid = [
        tracker.step(r, np.array(te, bool), np.array(tr, bool), k, np.array(a, bool))
        for k, (r, te, tr, a) in enumerate(steps)
    ]
    np.testing.assert_array_equal(np.stack(valid), [[1, 1], [1, 0], [1, 0], [0, 0], [1, 1]])
    assert tracker.finished_returns == [2.0, 3.0, 5.0, 6.0]
    assert tracker.finished_lengths == [1, 3, 1, 1]
    assert tracker.finished_envs == [1, 0, 0, 1]
    with pytest.raises(ValueError, match=r"EpisodeTracker: active must have shape \(2,\), got \(3,\)"):
        tracker.step([0, 0], [0, 0], [0, 0], active=np.ones(3, bool))


# ------------------------------------------------------------------------------------ on-policy masks
def _collect(num_steps: int = 48):
    env = point_mass()
    log = record(env)
    flat = check_env("ppo.train", env)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        policy = default_actor_critic(flat.single_observation_space, flat.single_action_space, (16,))
        rollout = Rollout(num_steps, flat.num_envs, flat.single_observation_space, flat.single_action_space)
        c = Collector.start(flat, seed=0)
        collect(policy, rollout, c)
    return policy, rollout, c, log


def test_collect_masks_inactive_slots():
    _, rollout, c, log = _collect()
    valid = rollout.valid.numpy()
    np.testing.assert_array_equal(valid, expected_valid(log))
    assert staggered(valid, 3) > 20  # finished agents, not only reset steps, were masked
    rewards = np.stack([entry["rewards"] for entry in log[1:]])
    assert np.all(rewards[~valid] == 0)
    # episodes are per agent and never run over the env's time limit (a masked step counted would)
    assert c.tracker.finished_returns and max(c.tracker.finished_lengths) <= MAX_STEPS
    assert min(c.tracker.finished_lengths) < MAX_STEPS


def _ppo_terms(policy, rollout: Rollout, cfg: ppo.PPOConfig, loss: bool = True):
    """(advantages [T, S], returns [T, S], PPO loss on the valid entries or None)."""
    adv, ret = returns.gae(
        rollout.rewards,
        rollout.values,
        rollout.next_values(),
        rollout.terminations,
        rollout.truncations,
        gamma=cfg.gamma,
        lam=cfg.gae_lambda,
    )
    if not loss:
        return adv, ret, None
    b_obs, b_actions, b_logp, b_adv, b_ret, b_values = rollout.flat(
        rollout.obs, rollout.actions, rollout.log_probs, adv, ret, rollout.values
    )
    with torch.no_grad():
        dist = policy.dist(b_obs)
        value = ppo.ppo_loss(
            dist.log_prob(b_actions) + 0.1,  # a ratio away from 1, so that clipping takes part
            b_logp,
            b_adv,
            policy.value(b_obs) + 0.5,
            b_values,
            b_ret,
            dist.entropy(),
            cfg,
        )[0]
    return adv, ret, value


def test_masked_slots_contribute_nothing():
    """Garbage written into the masked entries (rewards, flags, observations, actions, log-probs, and values
    except that of a finished agent's final observation) changes neither the advantages and returns of the
    real entries nor the PPO loss: masked slots have no weight, and nothing is bootstrapped across them.
    The one masked entry that is read is the row right after an agent's done step: it holds the agent's final
    observation, whose value a truncation bootstraps from (as the reset-step row of a single-agent env)."""
    policy, rollout, _, _ = _collect()
    cfg = ppo.PPOConfig(norm_adv=True, clip_vloss=True)
    adv, ret, loss = _ppo_terms(policy, rollout, cfg)
    masked = ~rollout.valid
    after_done = torch.zeros_like(masked)
    after_done[1:] = (rollout.terminations | rollout.truncations)[:-1]
    gen = torch.Generator().manual_seed(1)
    n = int(masked.sum())
    garbage = copy.deepcopy(rollout)
    garbage.rewards[masked] = 100 * torch.randn(n, generator=gen)
    garbage.values[masked & ~after_done] = 100 * torch.randn(int((masked & ~after_done).sum()), generator=gen)
    garbage.log_probs[masked] = torch.randn(n, generator=gen)
    garbage.obs[masked] = 10 * torch.randn(n, *rollout.obs.shape[2:], generator=gen)
    garbage.actions[masked] = torch.rand(n, *rollout.actions.shape[2:], generator=gen) * 2 - 1
    garbage.terminations[masked] = torch.rand(n, generator=gen) < 0.3
    garbage.truncations[masked] = torch.rand(n, generator=gen) < 0.3
    g_adv, g_ret, g_loss = _ppo_terms(policy, garbage, cfg)
    valid = rollout.valid
    assert int((masked & ~after_done).sum()) > 20
    np.testing.assert_array_equal(g_adv[valid].numpy(), adv[valid].numpy())
    np.testing.assert_array_equal(g_ret[valid].numpy(), ret[valid].numpy())
    np.testing.assert_allclose(float(g_loss), float(loss), rtol=0, atol=0)


def test_advantages_of_real_entries_against_a_hand_recursion():
    """GAE over each slot's real entries alone (a float64 loop that never looks at a masked entry, except the
    final-observation value a truncation bootstraps from) equals the rollout's advantages there: each
    agent's episode is scanned as if the finished agents' slots were cut out."""
    _, rollout, _, _ = _collect()
    cfg = ppo.PPOConfig()
    adv, _, _ = _ppo_terms(None, rollout, cfg, loss=False)
    r, v = rollout.rewards.double().numpy(), rollout.values.double().numpy()
    term, trunc, valid = rollout.terminations.numpy(), rollout.truncations.numpy(), rollout.valid.numpy()
    last = rollout.last_value.double().numpy()
    T, S = r.shape
    expected = np.full((T, S), np.nan)
    for j in range(S):
        following = 0.0
        for t in reversed(range(T)):
            if not valid[t, j]:
                continue
            done = term[t, j] or trunc[t, j]
            if not done and t + 1 < T:
                assert valid[t + 1, j]  # a real step is followed by a real step until its agent's done
            next_v = v[t + 1, j] if t + 1 < T else last[j]
            delta = r[t, j] + cfg.gamma * (0.0 if term[t, j] else next_v) - v[t, j]
            following = delta + (0.0 if done or t + 1 == T else cfg.gamma * cfg.gae_lambda * following)
            expected[t, j] = following
    np.testing.assert_allclose(adv.numpy()[valid], expected[valid], rtol=1e-5, atol=1e-4)


# ----------------------------------------------------------------------------------- off-policy masks
@pytest.mark.parametrize("n_step", [1, 3])
def test_dqn_does_not_store_inactive_transitions(monkeypatch, n_step):
    """Predators and learning prey, flattened by hand (two groups share one Discrete(5) policy): a captured
    prey's slot stays inactive until its env resets, and none of those transitions reaches the replay (with
    n_step = 3, none enters an n-step window either: stored plus pending steps are the real ones)."""
    buffers = []

    class SpyReplay(dqn.ReplayBuffer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.valid_masks: list[np.ndarray] = []
            self.stored_rewards = 0.0
            buffers.append(self)

        def add(self, obs, actions, rewards, next_obs, terminations, truncations, valid=None):
            self.valid_masks.append(np.asarray(valid).copy())
            before = self.rewards[: self.size].sum(dtype=np.float64)
            super().add(obs, actions, rewards, next_obs, terminations, truncations, valid)
            self.stored_rewards += self.rewards[: self.size].sum(dtype=np.float64) - before

    monkeypatch.setattr(dqn, "ReplayBuffer", SpyReplay)
    marl = PredatorPreyVectorEnv(4, grid_size=4, num_predators=2, num_prey=2, prey_policy="learning", max_steps=30)
    log = record(marl)
    cfg = dqn.DQNConfig(
        **{**OFF, "total_timesteps": 16 * 80, "learning_starts": 16 * 40, "buffer_size": 10_000, "n_step": n_step}
    )
    result = dqn.train(FlattenAgents(marl), cfg, seed=0)
    (buffer,) = buffers
    valid = expected_valid(log)
    np.testing.assert_array_equal(np.stack(buffer.valid_masks), valid)
    assert staggered(valid, 4) > 20
    pending = int(buffer._win_len.sum()) if n_step > 1 else 0
    assert len(buffer) + pending == int(valid.sum()) < valid.size
    if n_step == 1:
        rewards = np.stack([entry["rewards"] for entry in log[1:]])
        np.testing.assert_allclose(buffer.stored_rewards, rewards[valid].sum(), rtol=1e-6)
    assert result.episode_returns and max(result.episode_lengths) <= 30


# ------------------------------------------------------------------------------- every trainer, errors
@pytest.mark.parametrize("name", list(TRAINERS))
def test_every_trainer_takes_a_one_group_marl_env(name):
    module, cfg = TRAINERS[name]
    discrete = name in ("dqn", "sac_discrete")
    env = pursuit() if discrete else point_mass()
    res = module.train(env, cfg, seed=0)
    assert res.global_steps == cfg.total_timesteps  # budgets are multiples of the slot counts, 8 and 12
    assert res.metrics and all(np.isfinite(v) for m in res.metrics for v in m.values())
    assert res.episode_returns and all(np.isfinite(res.episode_returns))
    limit = 20 if discrete else MAX_STEPS
    assert max(res.episode_lengths) <= limit  # a finished agent's masked steps never join its next episode
    if not discrete:
        assert min(res.episode_lengths) < limit  # agents left the disc one by one


@pytest.mark.parametrize("name", list(TRAINERS))
def test_marl_errors(name):
    module, cfg = TRAINERS[name]
    two_groups = PredatorPreyVectorEnv(2, num_predators=2, num_prey=1, prey_policy="learning")
    with pytest.raises(
        ValueError,
        match=rf"{name}.train: a multi-agent env is flattened into one shared policy only "
        r"when its agents form one group; PredatorPreyVectorEnv has groups \{'predator': 8, 'prey': 8\}",
    ):
        module.train(two_groups, cfg, seed=0)
    same_step = point_mass(2, autoreset_mode=AutoresetMode.SAME_STEP)
    with pytest.raises(ValueError, match=rf"{name}.train: env must use NEXT_STEP autoreset"):
        module.train(same_step, cfg, seed=0)
    with pytest.raises(
        TypeError,
        match=rf"{name}.train: env must be a gymnasium.vector.VectorEnv .* or a "
        r"nextrl.marl.MarlVectorEnv, got MarlParallelEnv",
    ):
        module.train(two_step_parallel_env(), cfg, seed=0)


def test_evaluate_flattens_and_refuses_two_groups():
    env = pursuit(2)
    rng = np.random.default_rng(0)
    rets = evaluate(lambda obs: rng.integers(0, 5, len(obs)), env, 8, seed=0)
    assert rets.shape == (8,) and set(np.unique(rets)) <= {0.0, 10.0}
    with pytest.raises(ValueError, match="evaluate: a multi-agent env is flattened into one shared policy only"):
        evaluate(lambda obs: np.zeros(len(obs), np.int64), PredatorPreyVectorEnv(1, prey_policy="learning"), 1, seed=0)


# ---------------------------------------------------------------------------------- proof by learning
LEARN_CFG = ppo.PPOConfig(total_timesteps=20_000, num_steps=32, learning_rate=3e-3, gamma=0.95)
THRESHOLD = 9.0
"""greedy mean return per predator: a capture (10 to each) in >= 90% of the 20-step episodes"""
MARGIN = 3.0
"""and at least this much above the random policy's mean (about 4-5: a capture in 40-50% of the episodes)"""


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_ppo_parameter_sharing_learns_pursuit(seed):
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    random_returns = evaluate(lambda obs: rng.integers(0, 5, len(obs)), pursuit(8), 64, seed=10_000 + seed)
    start = time.perf_counter()
    res = ppo.train(pursuit(8), LEARN_CFG, seed=seed)
    train_s = time.perf_counter() - start
    space = FlattenAgents(pursuit(1)).single_action_space
    trained = evaluate(act_fn(res.modules["policy"], space), pursuit(8), 64, seed=10_000 + seed)
    report = (
        f"seed {seed}: greedy mean {trained.mean():.2f}, random mean {random_returns.mean():.2f}, training mean of "
        f"the last 20 episodes {res.mean_return(20):.2f}, {res.global_steps} steps in {train_s:.1f} s"
    )
    print("\n" + report)  # shown with pytest -s
    assert trained.mean() >= THRESHOLD, report
    assert trained.mean() >= random_returns.mean() + MARGIN, report
