"""Jerbi et al. 2021's quantum policies (agents.quantum_policies) and their `network` presets: the softmax-PQC
and raw-PQC probabilities against closed forms on circuits small enough to write out, the REINFORCE loss and its
gradients on a tiny batch by hand, the presets as REINFORCE / PPO / A2C / discrete-SAC actors with their rates,
errors, and REINFORCE with each preset learning CartPole-v1 (slow)."""

from __future__ import annotations

import json
import math
import time

import gymnasium as gym
import numpy as np
import pytest
import torch

import nextrl  # noqa: F401  (registers nextrl/CartPole-v1)
from nextrl.agents import a2c, dqn, ppo, reinforce, sac_discrete
from nextrl.agents.common import evaluate
from nextrl.agents.networks import PRESET_PARAM_LRS, parse_param_lrs, quantum_network
from nextrl.agents.quantum_policies import (
    RawPQC,
    SoftmaxPQC,
    executor,
    on_backend,
    parity_partition,
    raw_pqc_policy,
    softmax_pqc_policy,
)
from nextrl.agents.rollout import act_fn
from nextrl.quantum import Circuit, Feature, Parameter, QuantumLayer, VariationalCircuit, Weight
from nextrl.quantum.backends.simulator import SIMULATOR

torch.set_num_threads(1)


def _cartpole(num_envs: int = 8):
    return gym.make_vec("nextrl/CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")


def _one_qubit_layer() -> QuantumLayer:
    """RX(lambda x) then RY(w) on one qubit, read out as <Z> = cos(lambda x) cos(w)."""
    px, pw = Parameter("x"), Parameter("w")
    vc = VariationalCircuit(Circuit(1).rx(px, 0).ry(pw, 0), {px: Feature(0, scale=0), pw: Weight(0)}, observables=["Z"])
    layer = QuantumLayer(vc, dtype=torch.float64)
    with torch.no_grad():
        layer.weights.copy_(torch.tensor([0.4], dtype=torch.float64))
        layer.scales.copy_(torch.tensor([1.3], dtype=torch.float64))
    return layer


def _two_qubit_probability_layer() -> QuantumLayer:
    """RX(lambda_j x_j) on qubit j, then RY(w) on qubit 0; every qubit measured. P(q0 = 1) =
    (1 - cos(lambda_0 x_0) cos w) / 2, P(q1 = 1) = (1 - cos(lambda_1 x_1)) / 2, independent."""
    p0, p1, pw = Parameter("x0"), Parameter("x1"), Parameter("w")
    c = Circuit(2).rx(p0, 0).rx(p1, 1).ry(pw, 0)
    src = {p0: Feature(0, scale=0), p1: Feature(1, scale=1), pw: Weight(0)}
    layer = QuantumLayer(VariationalCircuit(c, src, probabilities=[0, 1]), dtype=torch.float64)
    with torch.no_grad():
        layer.weights.copy_(torch.tensor([0.9], dtype=torch.float64))
        layer.scales.copy_(torch.tensor([0.8, -1.1], dtype=torch.float64))
    return layer


OBS = np.array([[0.3], [-1.2], [2.0]])


def test_softmax_pqc_probabilities_by_hand():
    beta, w = 1.7, np.array([[0.7], [-1.2]])
    policy = SoftmaxPQC(_one_qubit_layer(), 2, beta=beta, observable_weights=w)
    expval = np.cos(1.3 * OBS[:, 0]) * np.cos(0.4)  # <Z> per sample
    logits = beta * expval[:, None] * w[:, 0][None, :]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = torch.softmax(policy(torch.tensor(OBS)), dim=1).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # the default weights of one observable are (-1)^a: pi(0|s) = sigmoid(2 beta <Z>)
    default = SoftmaxPQC(_one_qubit_layer(), 2, beta=beta)
    p0 = torch.softmax(default(torch.tensor(OBS)), dim=1)[:, 0].detach().numpy()
    np.testing.assert_allclose(p0, 1.0 / (1.0 + np.exp(-2.0 * beta * expval)), rtol=0, atol=1e-12)
    # K = A observables: the identity, action a reads H_a
    assert torch.equal(SoftmaxPQC(_layer_with(["IZ", "ZI"]), 2).observable_weights, torch.eye(2))


def _layer_with(observables) -> QuantumLayer:
    """The circuit of _two_qubit_probability_layer read out as expectation values of `observables`."""
    vc = _two_qubit_probability_layer().circuit
    return QuantumLayer(VariationalCircuit(vc.circuit, vc.sources, observables=observables))


def test_raw_pqc_probabilities_by_hand():
    policy = RawPQC(_two_qubit_probability_layer(), 2)
    x = np.array([[0.3, -0.7], [1.5, 2.2], [-2.0, 0.1]])
    q0 = (1 - np.cos(0.8 * x[:, 0]) * np.cos(0.9)) / 2  # P(qubit 0 reads 1)
    q1 = (1 - np.cos(-1.1 * x[:, 1])) / 2
    odd = q0 * (1 - q1) + q1 * (1 - q0)  # parity partition: action 1 on bitstrings 01 and 10
    probs = policy.probabilities(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(probs, np.stack([1 - odd, odd], axis=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(policy(torch.tensor(x)).exp().detach().numpy(), probs, rtol=1e-12, atol=0)
    # another partition: bitstring b -> action b mod 2 reads qubit 0 alone
    local = RawPQC(_two_qubit_probability_layer(), 2, partition=[0, 1, 0, 1])
    np.testing.assert_allclose(local.probabilities(torch.tensor(x))[:, 1].detach().numpy(), q0, rtol=0, atol=1e-12)
    assert parity_partition(3, 2).tolist() == [0, 1, 1, 0, 1, 0, 0, 1]
    assert parity_partition(2, 3).tolist() == [0, 1, 1, 2]


def test_reinforce_loss_and_its_gradients_on_a_tiny_batch_by_hand():
    """reinforce_loss on three samples of a softmax-PQC policy, and d loss / d (observable weights, circuit
    weight) from the closed form <Z> = cos(lambda x) cos(w)."""
    beta, w = 1.7, np.array([[0.7], [-1.2]])
    policy = SoftmaxPQC(_one_qubit_layer(), 2, beta=beta, observable_weights=w)
    actions = np.array([0, 1, 1])
    g, b = np.array([3.0, 1.0, -2.0]), np.array([1.0, 1.5, -0.5])
    cfg = reinforce.ReinforceConfig(norm_adv=False, baseline_coef=0.5, ent_coef=0.0)
    dist = torch.distributions.Categorical(logits=policy(torch.tensor(OBS)))
    loss, stats = reinforce.reinforce_loss(
        dist.log_prob(torch.tensor(actions)), torch.tensor(g), torch.tensor(b), dist.entropy(), cfg
    )
    c = np.cos(1.3 * OBS[:, 0]) * np.cos(0.4)
    logits = beta * c[:, None] * w[:, 0]
    pi = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    adv = g - b
    pg = -np.mean(np.log(pi[np.arange(3), actions]) * adv)
    assert stats["losses/policy"] == pytest.approx(pg, abs=1e-12)
    assert stats["losses/baseline"] == pytest.approx(np.mean(adv**2), abs=1e-12)
    assert float(loss.detach()) == pytest.approx(pg + 0.5 * np.mean(adv**2), abs=1e-12)

    loss.backward()
    onehot = np.eye(2)[actions]
    # d log pi(a|s) / d w_k = beta c (1[a = k] - pi_k);  d log pi(a|s) / d c = beta (w_a - sum_k pi_k w_k)
    d_w = -np.mean(adv[:, None] * beta * c[:, None] * (onehot - pi), axis=0)
    np.testing.assert_allclose(policy.observable_weights.grad.numpy()[:, 0], d_w, rtol=0, atol=1e-10)
    d_c = beta * (w[actions, 0] - pi @ w[:, 0])
    d_theta = -np.mean(adv * d_c * np.cos(1.3 * OBS[:, 0]) * -np.sin(0.4))
    np.testing.assert_allclose(policy.pqc.weights.grad.numpy(), [d_theta], rtol=0, atol=1e-10)
    d_scale = -np.mean(adv * d_c * -np.sin(1.3 * OBS[:, 0]) * OBS[:, 0] * np.cos(0.4))
    np.testing.assert_allclose(policy.pqc.scales.grad.numpy(), [d_scale], rtol=0, atol=1e-10)


def test_normalized_advantage_and_entropy_terms_by_hand():
    policy = RawPQC(_two_qubit_probability_layer(), 2)
    x = torch.tensor([[0.3, -0.7], [1.5, 2.2], [-2.0, 0.1], [0.5, 0.5]], dtype=torch.float64)
    actions = torch.tensor([1, 0, 1, 1])
    g, b = torch.tensor([4.0, 2.0, 0.0, 1.0], dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    dist = torch.distributions.Categorical(logits=policy(x))
    cfg = reinforce.ReinforceConfig(norm_adv=True, baseline_coef=0.25, ent_coef=0.1)
    loss, _ = reinforce.reinforce_loss(dist.log_prob(actions), g, b, dist.entropy(), cfg)
    pi = policy.probabilities(x).detach().numpy()
    adv = g.numpy() - b.numpy()
    adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)  # torch.std is the unbiased estimate
    entropy = -(pi * np.log(pi)).sum(axis=1)
    expected = -np.mean(np.log(pi[np.arange(4), actions.numpy()]) * adv) + 0.25 * np.mean(g.numpy() ** 2)
    assert float(loss.detach()) == pytest.approx(expected - 0.1 * entropy.mean(), abs=1e-12)


@pytest.mark.parametrize("network", ["softmax_pqc", "raw_pqc"])
@pytest.mark.parametrize("module", [reinforce, ppo, a2c])
def test_on_policy_presets_build_the_policy_with_its_rates(module, network, monkeypatch):
    made = []
    init = torch.optim.Optimizer.__init__

    def record(self, params, defaults):
        init(self, params, defaults)
        made.append(self)

    monkeypatch.setattr(torch.optim.Optimizer, "__init__", record)
    cfg_cls = {ppo: ppo.PPOConfig, a2c: a2c.A2CConfig, reinforce: reinforce.ReinforceConfig}[module]
    result = module.train(_cartpole(2), cfg_cls(total_timesteps=32, num_steps=8, network=network), seed=0)
    actor = result.modules["policy"].actor
    assert isinstance(actor, SoftmaxPQC if network == "softmax_pqc" else RawPQC)
    assert actor.pqc.circuit.num_qubits == 4 and actor.pqc.circuit.num_weights == 48  # 6 blocks x 4 qubits x 2
    (opt,) = made
    rates = {g["name"]: g["base_lr"] for g in opt.param_groups}
    assert rates == dict(parse_param_lrs("t", PRESET_PARAM_LRS[network]["actor_critic"]))


def test_readme_softmax_pqc_command(tmp_path):
    """The README's `nextrl train reinforce ... --set network=softmax_pqc` at 1,024 steps in place of 60,000."""
    from nextrl.cli import main

    out = tmp_path / "run"
    argv = ["train", "reinforce", "--env", "nextrl/CartPole-v1", "--set", "network=softmax_pqc"]
    argv += ["--set", "num_envs=16", "--set", "num_steps=64", "--set", "total_timesteps=1024", "--out", str(out)]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["network"] == "softmax_pqc" and (config["num_envs"], config["num_steps"]) == (16, 64)


def test_discrete_sac_takes_the_policy_presets():
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    small = dict(total_timesteps=60, learning_starts=20, batch_size=8, train_frequency=4, gradient_steps=1)
    r = sac_discrete.train(env, sac_discrete.SACDiscreteConfig(**small, network="softmax_pqc"), seed=0)
    assert isinstance(r.modules["actor"], SoftmaxPQC)


def test_errors():
    with pytest.raises(ValueError, match=r"DQNConfig: network must be one of 'mlp', 'skolik', got 'softmax_pqc' \("):
        dqn.DQNConfig(network="softmax_pqc")
    with pytest.raises(ValueError, match="ReinforceConfig: network must be one of .*'raw_pqc', got 'raw'"):
        reinforce.ReinforceConfig(network="raw")
    box = gym.make_vec("nextrl/PointMass-v0", num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(TypeError, match="reinforce.train: network='softmax_pqc' needs a Discrete action space"):
        reinforce.train(box, reinforce.ReinforceConfig(total_timesteps=16, num_steps=8, network="softmax_pqc"), seed=0)
    three = _layer_with(["IZ", "ZI", "ZZ"])
    with pytest.raises(ValueError, match=r"SoftmaxPQC: the layer reads out 3 observables for 2 actions"):
        SoftmaxPQC(three, 2)
    with pytest.raises(ValueError, match=r"observable_weights must have shape .* = \(2, 3\), got \(2, 2\)"):
        SoftmaxPQC(three, 2, observable_weights=np.eye(2))
    with pytest.raises(ValueError, match="SoftmaxPQC: beta must be a finite number > 0, got 0"):
        SoftmaxPQC(_one_qubit_layer(), 2, beta=0)
    with pytest.raises(ValueError, match="SoftmaxPQC: num_actions must be an int >= 2, got 1"):
        SoftmaxPQC(_one_qubit_layer(), 1)
    with pytest.raises(ValueError, match="SoftmaxPQC: the layer must read out expectation values"):
        SoftmaxPQC(_two_qubit_probability_layer(), 2)
    with pytest.raises(TypeError, match="SoftmaxPQC: layer must be a nextrl QuantumLayer, got Linear"):
        SoftmaxPQC(torch.nn.Linear(4, 2), 2)
    with pytest.raises(ValueError, match="RawPQC: the layer must read out probabilities"):
        RawPQC(_one_qubit_layer(), 2)
    with pytest.raises(ValueError, match=r"RawPQC: partition must assign .* every action at least one bitstring"):
        RawPQC(_two_qubit_probability_layer(), 3, partition=[0, 1, 1, 0])
    with pytest.raises(ValueError, match="RawPQC: partition must be 4 ints"):
        RawPQC(_two_qubit_probability_layer(), 2, partition=[0, 1])
    with pytest.raises(ValueError, match=r"raw_pqc_policy: num_actions must be in \[2, 5\]"):
        raw_pqc_policy(gym.spaces.Box(-1.0, 1.0, (4,)), 6)
    with pytest.raises(TypeError, match="softmax_pqc_policy: observation space must be a 1-D Box"):
        softmax_pqc_policy(gym.spaces.Discrete(4), 2)
    # an action of probability 0 (qubit 1 never reads 1 at x_1 = 0) gets a finite log-probability, not -inf
    by_qubit_1 = RawPQC(_two_qubit_probability_layer(), 2, partition=[0, 0, 1, 1])
    log_pi = by_qubit_1(torch.tensor([[0.5, 0.0]], dtype=torch.float64)).detach()
    assert float(log_pi[0, 1]) < -700 and math.isfinite(float(log_pi[0, 1]))


# ------------------------------------------------------------------------------------------- Qiskit backends
# GenericBackendV2 without noise information makes Aer warn that its noise model has no relaxation.
NO_QUBIT_PROPERTIES = "ignore:Qiskit backend .* has no QubitProperties:UserWarning"


def _trained(network: str):
    """A policy after 1,024 REINFORCE steps, and observations it visited [16, 4]."""
    env = _cartpole(4)
    result = reinforce.train(
        env, reinforce.ReinforceConfig(total_timesteps=1_024, num_steps=64, network=network), seed=0
    )
    obs = []
    o, _ = env.reset(seed=5)
    for _ in range(4):
        obs.append(o)
        o, *_ = env.step(env.action_space.sample())
    return result.modules["policy"], torch.as_tensor(np.concatenate(obs), dtype=torch.float32)


@pytest.mark.parametrize("network", ["softmax_pqc", "raw_pqc"])
def test_exact_estimator_gives_the_simulator_probabilities(network):
    """The same trained policy through QiskitExecutor on an exact StatevectorEstimator gives the simulator's
    action probabilities (float32 layer: complex64 simulator, hence 1e-6), in one job per call; the original
    policy stays on the simulator."""
    from qiskit.primitives import StatevectorEstimator

    policy, obs = _trained(network)
    exact = on_backend(policy, StatevectorEstimator(), shots=None, action_space=gym.spaces.Discrete(2))
    with torch.no_grad():
        simulated, through_qiskit = policy.dist(obs).probs, exact.dist(obs).probs
    np.testing.assert_allclose(through_qiskit.numpy(), simulated.numpy(), rtol=0, atol=1e-6)
    assert 0.05 < float(simulated.min()) and float(simulated.max()) < 0.95  # not a trivially saturated policy
    assert executor(exact).num_jobs == 1 and executor(exact).shots is None
    assert policy.actor.pqc.backend is SIMULATOR and exact.actor.pqc.backend is not SIMULATOR


@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_one_job_per_vector_env_step_on_generic_backend():
    """A trained softmax-PQC acting on 4 CartPole envs through GenericBackendV2 (its noise model on): each
    vector-env step is one job whose one PUB holds the 4 observations, the ISA circuit is transpiled once (when
    the policy moves), shots as configured; the probabilities agree with the simulator's within shot and gate
    noise."""
    from qiskit.providers.fake_provider import GenericBackendV2

    policy, obs = _trained("softmax_pqc")
    hw = on_backend(policy, GenericBackendV2(4, seed=3), shots=2_000, seed=4)
    ex = executor(hw)
    program = ex.program(hw.actor.pqc.circuit)
    isa = program.isa_circuit
    env = _cartpole(4)
    o, _ = env.reset(seed=6)
    act = act_fn(hw, env.single_action_space, deterministic=False)
    for step in range(3):
        o, *_ = env.step(act(o))
        assert ex.num_jobs == step + 1
        assert np.asarray(ex.last_job.result()[0].data.evs).shape == (4, 1)  # one PUB: 4 envs x 1 observable
    assert ex.program(hw.actor.pqc.circuit) is program and program.isa_circuit is isa and ex.shots == 2_000
    assert set(isa.count_ops()) <= set(GenericBackendV2(4, seed=3).operation_names)
    with torch.no_grad():
        np.testing.assert_allclose(hw.dist(obs[:4]).probs.numpy(), policy.dist(obs[:4]).probs.numpy(), atol=0.1)


@pytest.mark.slow
def test_fake_ibm_backend_with_its_noise_model():
    """The trained raw-PQC on FakeManilaV2 (5 qubits, its Aer noise model: gate, relaxation and readout errors;
    a Sampler: probabilities from measured bitstrings): one job per call, probabilities within shot noise plus a
    loose noise allowance of the simulator's (10 to 25 s on 2 busy cores: Aer's noisy simulation)."""
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    policy, obs = _trained("raw_pqc")
    hw = on_backend(policy, fake_provider.FakeManilaV2(), shots=2_000, seed=7)
    with torch.no_grad():
        probs, ideal = hw.dist(obs[:4]).probs.numpy(), policy.dist(obs[:4]).probs.numpy()
    assert executor(hw).num_jobs == 1
    np.testing.assert_allclose(probs, ideal, atol=0.15)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_backend_errors():
    from qiskit.primitives import StatevectorEstimator
    from qiskit.providers.fake_provider import GenericBackendV2

    policy = softmax_pqc_policy(gym.spaces.Box(-1.0, 1.0, (4,)), 2)
    with pytest.raises(
        ValueError, match="QiskitExecutor: the circuit needs 4 qubits but backend 'generic_backend_2q' has only 2"
    ):
        on_backend(policy, GenericBackendV2(2, seed=1), shots=100)
    with pytest.raises(ValueError, match="on_backend: the policy's circuit gives 2 actions but the env has 3 actions"):
        on_backend(policy, StatevectorEstimator(), action_space=gym.spaces.Discrete(3))
    skolik = quantum_network(gym.spaces.Box(-1.0, 1.0, (4,)), 2)
    with pytest.raises(
        ValueError, match=r"on_backend: the policy's circuit gives 2 observables \(outputs\) but the env has 3"
    ):
        on_backend(skolik, StatevectorEstimator(), action_space=gym.spaces.Discrete(3))
    for shots in (0, -5, 2.5):
        with pytest.raises(ValueError, match=f"on_backend: shots must be an int >= 1 or None, got {shots}"):
            on_backend(policy, StatevectorEstimator(), shots=shots)
    with pytest.raises(
        TypeError, match="on_backend: the policy's actor must be a SoftmaxPQC, a RawPQC or a QuantumLayer"
    ):
        on_backend(torch.nn.Linear(4, 2), StatevectorEstimator())
    moved = on_backend(policy, StatevectorEstimator(), shots=None)
    nan = torch.tensor([[0.0, float("nan"), 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"QuantumLayer.forward: inputs must be finite \(got NaN or inf\)"):
        moved(nan)
    with pytest.raises(ValueError, match="QuantumLayer.forward: inputs must be finite, got nan"):
        policy(nan)  # the simulator path too


# --------------------------------------------------------------------------------------------------- learning
LEARNING_STEPS = 60_000


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("network", ["softmax_pqc", "raw_pqc"])
def test_reinforce_with_the_jerbi_presets_learns_cartpole(network, seed):
    """REINFORCE (learned MLP baseline) with `network="softmax_pqc"` (4 qubits, 5 re-uploading layers, parity
    observable with action weights, beta 1; 70 trainable parameters) or "raw_pqc" (the same circuit, parity of
    the 4 measured qubits; 68) on 16 CartPole-v1 envs x 64 steps per update for 60,000 steps: mean greedy return
    over 20 episodes >= 195. Measured: softmax 488 / 500 (484 for seed 2), raw 500 / 353; 6 to 44 s per run on 2
    cores shared by four jobs."""
    t0 = time.perf_counter()
    cfg = reinforce.ReinforceConfig(total_timesteps=LEARNING_STEPS, num_steps=64, network=network)
    result = reinforce.train(_cartpole(16), cfg, seed=seed)
    greedy = evaluate(act_fn(result.modules["policy"], gym.spaces.Discrete(2)), _cartpole(4), 20, seed=1000 + seed)
    print(
        f"{network} seed {seed}: greedy mean {greedy.mean():.1f}, last-20 training mean {result.mean_return(20):.1f}, "
        f"{result.global_steps} steps in {time.perf_counter() - t0:.0f} s"
    )
    assert greedy.mean() >= 195
