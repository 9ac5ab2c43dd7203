"""Quantum actor-critic: a VQC actor (the "skolik" preset: Skolik et al. 2022's re-uploading circuit, Z0Z1 and Z2Z3
times output weights) with an MLP or a VQC critic, trained by A2C and PPO, on CartPole-v1 (softmax over the two
expectation values) and on the documents' continuous 4-D point mass (nextrl/PointMass-v0, CA18's
ContinuousControlEnv: a diagonal Gaussian whose means are the two expectation values). The Gaussian head's log
density against the closed form, a VQC critic's value against its layer, and learning against random and
zero-action baselines measured in the same test."""

from __future__ import annotations

import math
import time

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import nextrl  # noqa: F401  (registers the nextrl/ envs)
from nextrl.agents import a2c, ppo
from nextrl.agents.common import evaluate
from nextrl.agents.rollout import act_fn
from nextrl.quantum import QuantumLayer
from nextrl.quantum.ansatz import skolik_reuploading

torch.set_num_threads(1)


def _make(name: str, num_envs: int):
    return gym.make_vec(name, num_envs=num_envs, vectorization_mode="vector_entry_point")


def vqc_critic(num_qubits: int = 4, num_layers: int = 5) -> nn.Module:
    """A VQC value function: the re-uploading circuit read out as <Z0 ... Z_{n-1}> in [-1, 1], then an affine map
    v = a <Z...Z> + b (returns are not in [-1, 1])."""
    return nn.Sequential(
        QuantumLayer(skolik_reuploading(num_qubits, num_layers, observables=["Z" * num_qubits])), nn.Linear(1, 1)
    )


def first_episodes(act, env, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(returns, lengths) of the first episode of every env of `env` from reset(seed), deterministic `act`."""
    obs, _ = env.reset(seed=seed)
    n = env.num_envs
    ret, length, done = np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    while not done.all():
        obs, r, term, trunc, _ = env.step(act(obs))
        live = ~done
        ret[live] += r[live]
        length[live] += 1
        done |= term | trunc
    return ret, length


def test_gaussian_head_on_expectation_values_by_hand():
    """PPO's "skolik" actor on the point mass: the action means are the layer's w_a <O_a> (O = Z0Z1, Z2Z3), the
    log density that of a diagonal Gaussian with std exp(log_std), written out; the mode is the mean."""
    env = _make("nextrl/PointMass-v0", 2)
    policy = ppo.train(env, ppo.PPOConfig(total_timesteps=32, num_steps=16, network="skolik"), seed=0).modules["policy"]
    actor = policy.actor
    assert isinstance(actor, QuantumLayer) and [repr(o) for o in actor.circuit.observables] == [
        repr(o) for o in skolik_reuploading(4, 5, observables=["IIZZ", "ZZII"]).observables
    ]
    with torch.no_grad():
        policy.head.log_std.copy_(torch.tensor([-0.3, 0.2]))
        obs = torch.tensor([[0.5, -1.0, 0.2, 0.1], [-2.0, 0.3, 0.0, 1.5]])
        mean = actor(obs)
        a = torch.tensor([[0.1, -0.4], [0.7, 0.0]])
        d = policy.dist(obs)
        std = torch.tensor([math.exp(-0.3), math.exp(0.2)])
        by_hand = (-0.5 * ((a - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(dim=1)
        torch.testing.assert_close(d.log_prob(a), by_hand, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(policy.act(obs, deterministic=True), mean)
        assert mean.abs().max() <= actor.output_scale.abs().max() + 1e-6  # |w <O>| <= |w|


def test_vqc_critic_value_is_its_layer_through_the_affine_map():
    critic = vqc_critic()
    env = _make("nextrl/CartPole-v1", 2)
    policy = ppo.train(env, ppo.PPOConfig(total_timesteps=32, num_steps=16, network="skolik"), seed=0, critic=critic)
    policy = policy.modules["policy"]
    assert policy.critic is critic
    obs = torch.randn(5, 4)
    with torch.no_grad():
        zzzz = critic[0](obs)
        assert zzzz.shape == (5, 1) and zzzz.abs().max() <= 1 + 1e-9
        by_hand = critic[1].weight[0, 0] * zzzz[:, 0] + critic[1].bias[0]
        torch.testing.assert_close(policy.value(obs).reshape(-1), by_hand.to(torch.float32))


def test_vqc_actor_with_the_wrong_number_of_outputs_is_refused():
    env = _make("nextrl/PointMass-v0", 2)
    one = QuantumLayer(skolik_reuploading(4, 2, observables=["ZZZZ"]))
    with pytest.raises(ValueError, match=r"DiagGaussianHead: actor output must have 2 means in its last dimension"):
        ppo.train(env, ppo.PPOConfig(total_timesteps=64, num_steps=8), seed=0, actor=one)
    with pytest.raises(ValueError, match="ppo.train: give either actor= or the config's network='skolik', not both"):
        ppo.train(env, ppo.PPOConfig(total_timesteps=64, num_steps=8, network="skolik"), seed=0, actor=one)
    policy = ppo.train(env, ppo.PPOConfig(total_timesteps=16, num_steps=8, network="skolik"), seed=0).modules["policy"]
    with pytest.raises(ValueError, match="QuantumLayer.forward: inputs must be finite"):
        policy.act(torch.tensor([[0.0, float("nan"), 0.0, 0.0]]))


# --------------------------------------------------------------------------------------------------- learning
PPO_VQC_STEPS = 10_240
POINT_MASS_STEPS = 16_384


def _random_cartpole_mean(seed: int) -> float:
    rng = np.random.default_rng(seed)
    return float(evaluate(lambda o: rng.integers(0, 2, len(o)), _make("nextrl/CartPole-v1", 4), 20, seed=seed).mean())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_a2c_with_a_vqc_actor_learns_cartpole(seed):
    """A2C (16 envs x 5 steps, RMSprop) with the "skolik" actor and an MLP critic at the preset's rates for 20,000
    steps: greedy mean over 20 episodes >= 80, random play ~22 (measured here). Measured greedy 123 and 112 (last-20
    training 198 and 200), 6 to 11 s per run on 2 vCPUs at load 13."""
    t0 = time.perf_counter()
    result = a2c.train(
        _make("nextrl/CartPole-v1", 16), a2c.A2CConfig(total_timesteps=20_000, network="skolik"), seed=seed
    )
    greedy = evaluate(
        act_fn(result.modules["policy"], gym.spaces.Discrete(2)), _make("nextrl/CartPole-v1", 4), 20, seed=1000 + seed
    )
    rand = _random_cartpole_mean(1000 + seed)
    print(f"seed {seed}: greedy {greedy.mean():.1f}, random {rand:.1f}, {time.perf_counter() - t0:.0f} s")
    assert rand < 40 and greedy.mean() >= 80


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_ppo_with_a_vqc_actor_and_a_vqc_critic_learns_cartpole(seed):
    """PPO (4 envs x 128 steps) with the "skolik" actor and `vqc_critic` (a second 4-qubit, 5-layer circuit read
    out as <Z0Z1Z2Z3>, then a <.> + b), both at 0.01, for 10,240 steps: greedy mean >= 60, random ~22 (measured
    here). Measured greedy 91 and 302 (last-20 training 51 and 127; the same run with the MLP critic reached 350 and
    377, tests/agents/test_quantum_policy.py), 8 to 21 s per run at load 13."""
    t0 = time.perf_counter()
    torch.manual_seed(100 + seed)
    critic = vqc_critic()
    cfg = ppo.PPOConfig(total_timesteps=PPO_VQC_STEPS, network="skolik")
    result = ppo.train(_make("nextrl/CartPole-v1", 4), cfg, seed=seed, critic=critic)
    assert result.modules["policy"].critic is critic
    greedy = evaluate(
        act_fn(result.modules["policy"], gym.spaces.Discrete(2)), _make("nextrl/CartPole-v1", 4), 20, seed=1000 + seed
    )
    rand = _random_cartpole_mean(1000 + seed)
    print(f"seed {seed}: greedy {greedy.mean():.1f}, random {rand:.1f}, {time.perf_counter() - t0:.0f} s")
    assert rand < 40 and greedy.mean() >= 60


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_ppo_with_a_gaussian_vqc_actor_learns_the_point_mass(seed):
    """PPO (8 envs x 128 steps) with the "skolik" actor as the means of a diagonal Gaussian (a0 = w0 <Z0Z1>,
    a1 = w1 <Z2Z3>, learned log std) and an MLP critic on nextrl/PointMass-v0 (reward -||s||^2 - 0.01 ||a||^2 for
    200 steps; episodes end early when ||s|| > 3) for 16,384 steps. The first episode of 16 envs, deterministic:
    mean return >= -100 and at most 2 of the 16 episodes end early (escaping the ||s|| <= 3 ball also stops the
    costs, so the lengths show whether the policy regulates the state), and >= 150 above zero actions and uniform
    random actions on the same resets. Measured: -12.9 (none early) and -20.3 (1 of 16 ends at step 33), zero
    actions -349 and -351, random -255 and -341; 7 to 12 s per run at load 13. At 24,576 steps seed 1 still loses
    that one start (and 1 of 8 on another reset), so the allowance is for a real failure on hard starts."""
    t0 = time.perf_counter()
    cfg = ppo.PPOConfig(total_timesteps=POINT_MASS_STEPS, network="skolik")
    result = ppo.train(_make("nextrl/PointMass-v0", 8), cfg, seed=seed)
    env = _make("nextrl/PointMass-v0", 16)
    learned, length = first_episodes(act_fn(result.modules["policy"], env.single_action_space), env, 1000 + seed)
    zero, _ = first_episodes(lambda o: np.zeros((len(o), 2), np.float32), env, 1000 + seed)
    rng = np.random.default_rng(seed)
    rand, _ = first_episodes(lambda o: rng.uniform(-1, 1, (len(o), 2)).astype(np.float32), env, 1000 + seed)
    print(
        f"seed {seed}: learned {learned.mean():.1f} ({np.sum(length < 200)} of 16 end early, min length "
        f"{length.min()}), zero {zero.mean():.1f}, random {rand.mean():.1f}, {time.perf_counter() - t0:.0f} s"
    )
    assert np.sum(length < 200) <= 2
    assert learned.mean() >= -100
    assert learned.mean() >= max(zero.mean(), rand.mean()) + 150
