"""The quantum-noise experiment at its --quick budget (one seed): the run folder, one job per vector-env step, the
exact condition equal to the trained policy run directly; the readout calibration against the closed form
(1 - 2p)^4 on a readout-error-only backend, and the mitigated parity against the exact one; bad settings refused."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.experiments import quantum_noise, runner

NO_QUBIT_PROPERTIES = "ignore::UserWarning"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("quantum-noise") / "run"
    units = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = runner.run("quantum-noise", seeds=1, out_dir=out, quick=True, progress=lambda n, d: units.append(n))
    return res, units, json.loads((out / "metrics.json").read_text()), out


def test_quick_run_writes_the_report_and_counts_one_job_per_step(quick_run):
    res, units, metrics, out = quick_run
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "metrics.json"} <= names and any(n.endswith(".png") for n in names)
    cfg = quantum_noise.Config(**quantum_noise.QUICK)
    assert sum(units) == quantum_noise.total_work(cfg, [0])
    extra = metrics["extra"]
    conds = quantum_noise.conditions(cfg)
    assert len(conds) == 7  # greedy: exact, aer, manila; sampled: the same and manila+readout
    for mode, backend, shots in conds:
        label = quantum_noise._label(backend, shots)
        # the first CartPole episodes last >= 3 steps, so every condition runs exactly max_steps vector-env steps
        assert extra["jobs"][f"{mode} {label}"] == (0 if backend == "exact" else cfg.max_steps)
        assert extra["returns"][mode][label] == [float(cfg.max_steps)] * cfg.eval_envs
    scores = {(s.metric, s.agent): s for s in res.result.scores}
    assert scores[("greedy return", "exact")].values == (3.0, 3.0)
    # one seed: the per-seed mean is the mean of that seed's episodes, the paired drop its difference from exact
    assert scores[("greedy return, mean per seed", "exact")].values == (3.0,)
    for mode, backend, shots in conds:
        label = quantum_noise._label(backend, shots)
        mean = float(np.mean(extra["returns"][mode][label]))
        assert extra["seed_means"][mode][label] == [mean]
        if backend != "exact":
            drop = extra["paired_drops"][f"{mode} {label}"]
            assert drop["point"] == drop["low"] == drop["high"] == mean - extra["seed_means"][mode]["exact"][0]
    (factor,) = extra["readout_factors"]["manila+readout 64 shots"]
    assert 0.3 < factor <= 1.0


def test_exact_condition_is_the_policy_run_directly():
    """A policy (untrained, 2 updates) on the exact simulator through evaluate_condition gives the returns of a
    plain loop calling policy.act on the same resets."""
    cfg = quantum_noise.Config(train_steps=1024, eval_envs=3, max_steps=40, shots=(10,))
    policy = quantum_noise.train_policy(cfg, 0)
    returns, jobs, factor = quantum_noise.evaluate_condition(policy, cfg, 0, "greedy", "exact", None)
    env = quantum_noise._cartpole(3, 40)
    obs, _ = env.reset(seed=10_000)
    direct, done = np.zeros(3), np.zeros(3, dtype=bool)
    while not done.all():
        with torch.no_grad():
            a = policy.act(torch.as_tensor(obs), deterministic=True).numpy()
        obs, r, term, trunc, _ = env.step(a)
        direct[~done] += r[~done]
        done |= term | trunc
    np.testing.assert_array_equal(returns, direct)
    assert jobs == 0 and factor is None


@pytest.mark.filterwarnings(NO_QUBIT_PROPERTIES)
def test_readout_factor_and_mitigation_on_a_readout_error_only_backend():
    """AerSimulator with a symmetric readout error p = 0.05 on every qubit and no gate noise: the calibration
    gives (1 - 2p)^4 = 0.6561 within shot noise, and the measured parity / f equals the exact one (the mitigation
    is exact for this noise); noiseless Aer gives f = 1 exactly."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, ReadoutError

    from nextrl.agents.quantum_policies import on_backend, softmax_pqc_policy

    torch.manual_seed(0)
    policy = softmax_pqc_policy(gym.spaces.Box(-1.0, 1.0, (4,)), 2, num_layers=2)
    nm = NoiseModel()
    nm.add_all_qubit_readout_error(ReadoutError([[0.95, 0.05], [0.05, 0.95]]))
    shots = 40_000
    noisy = on_backend(policy, AerSimulator(noise_model=nm, seed_simulator=1), shots=shots, seed=1)
    f = quantum_noise.readout_factor(noisy, shots)
    assert abs(f - (1 - 2 * 0.05) ** 4) < 0.02
    obs = torch.tensor([[0.1, -0.3, 0.02, 0.4], [-0.5, 0.2, -0.1, -0.6]])
    with torch.no_grad():
        exact, measured = policy.expectations(obs), noisy.expectations(obs)
    np.testing.assert_allclose((measured / f).numpy(), exact.numpy(), atol=0.03)
    assert float((exact - measured).abs().max()) > 0.05  # the unmitigated parity is visibly off
    clean = on_backend(policy, AerSimulator(seed_simulator=1), shots=1000, seed=1)
    assert quantum_noise.readout_factor(clean, 1000) == 1.0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"quantum-noise: shots must be one or more ints >= 1, got \(0,\)"):
        quantum_noise.Config(shots=(0,))
    with pytest.raises(ValueError, match=r"quantum-noise: backends must be one or more of aer, generic, manila"):
        quantum_noise.Config(backends=("ibm_brisbane",))
    with pytest.raises(ValueError, match=r"quantum-noise: modes must be one or more of greedy, sampled"):
        quantum_noise.Config(modes=("argmax",))
    with pytest.raises(ValueError, match=r"quantum-noise: max_steps must be >= 1, got 0"):
        quantum_noise.Config(max_steps=0)
    with pytest.raises(ValueError, match=r"quantum-noise: unknown backend 'ibm_brisbane'"):
        quantum_noise.make_backend("ibm_brisbane", 0)
    with pytest.raises(ValueError, match="--set shots: must be int, got 'nope'"):
        runner.make_config(quantum_noise, ["shots=nope"])
