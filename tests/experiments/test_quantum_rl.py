"""The quantum-rl experiment at its --quick budget (one seed): the run folder and its gradient-variance plot, the
parameter counts by hand, the greedy score equal to the agent trained and evaluated directly, the entanglement of
the trained circuit's states against Qiskit's partial traces; the solve point and the curves on a hand-made
training record; the gradient draws against central finite differences of a dense NumPy simulation; the variance
and slope intervals on synthetic draws; the deep-circuit parity variance against the Haar value 1 / (2^n + 1);
bad settings refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nextrl.agents.common import TrainResult, evaluate
from nextrl.agents.rollout import act_fn
from nextrl.evaluation.results import Bootstrap
from nextrl.experiments import quantum_rl, runner
from reference import dense_simulator as ds


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("quantum-rl") / "run"
    units = []
    res = runner.run("quantum-rl", seeds=1, out_dir=out, quick=True, progress=lambda n, d: units.append(n))
    return res, units, json.loads((out / "metrics.json").read_text()), out


def test_quick_run_scores_equal_the_agent_run_directly(quick_run):
    res, units, metrics, out = quick_run
    assert {"report.md", "metrics.json", "gradient_variance.png"} <= {p.name for p in out.iterdir()}
    cfg = quantum_rl.Config(**quantum_rl.QUICK)
    assert sum(units) == quantum_rl.total_work(cfg, [0])
    # 70: 4 qubits x 5 layers x (RY, RZ) angles + 20 input scales + 2 action weights; 7h + 2; 4-64-64-2
    # dqn-skolik: 48 angles + 20 input scales + 2 output weights; dqn-mlp: 4-64-64-2
    assert metrics["extra"]["parameters"] == {
        "softmax-pqc": 70,
        "softmax-pqc-shots": 70,
        "mlp-matched": 72,
        "mlp-default": 4610,
        "dqn-skolik": 70,
        "dqn-mlp": 4610,
    }
    scores = {(s.agent, s.metric): s for s in res.result.scores}
    result, evals, seconds = quantum_rl.train_agent("softmax-pqc", cfg, 0)
    assert [e[0] for e in evals] == [1024, 2048] and 0 < evals[0][1] < evals[1][1] < seconds  # every update
    assert evals[-1][2] == float(
        evaluate(
            act_fn(result.modules["policy"], quantum_rl._cartpole(4).single_action_space),
            quantum_rl._cartpole(4),
            2,
            seed=5000,
        ).mean()
    )  # the last evaluation is of the final policy
    (logged,) = metrics["extra"]["per_seed"]["softmax-pqc"]["evals"]
    assert [(e[0], e[2]) for e in logged] == [(e[0], e[2]) for e in evals]  # steps and greedy means reproduce
    env = quantum_rl._cartpole(4)
    direct = evaluate(act_fn(result.modules["policy"], env.single_action_space), env, cfg.eval_episodes, seed=1000)
    assert scores[("softmax-pqc", "greedy return")].values == (float(direct.mean()),)
    table = metrics["extra"]["gradient_variance"]
    assert set(table) == {"2x1", "2x2", "3x1", "3x2"} and all(v["grad_var"] > 0 for v in table.values())
    for v in table.values():
        assert v["grad_var_low"] <= v["grad_var"] <= v["grad_var_high"]
        assert v["local_grad_var_low"] <= v["local_grad_var"] <= v["local_grad_var_high"]
    assert set(metrics["extra"]["grad_var_slopes_per_qubit"]) == {
        "global 1 layers",
        "global 2 layers",
        "local 1 layers",
        "local 2 layers",
    }
    # the entanglement of the trained policy's states on the observations it visits, recomputed with Qiskit
    from qiskit.quantum_info import Statevector, partial_trace, purity

    obs = quantum_rl.visited_observations(quantum_rl.greedy_act("softmax-pqc", result), cfg.entanglement_steps, 2000)
    assert obs.shape == (4 * cfg.entanglement_steps, 4)
    layer = quantum_rl.trained_layer("softmax-pqc", result)
    qc, _ = layer.to_qiskit()
    values = layer.qiskit_parameter_values(qc, obs)
    q = []
    for row in values:
        psi = Statevector(qc.assign_parameters(row))
        q.append(
            2
            * (
                1
                - np.mean(
                    [float(np.real(purity(partial_trace(psi, [j for j in range(4) if j != k])))) for k in range(4)]
                )
            )
        )
    (ent,) = metrics["extra"]["entanglement"]["softmax-pqc"]
    np.testing.assert_allclose(ent["trained_q"], np.mean(q), atol=1e-6)
    assert ent["haar_q"] == 14 / 17 and 0 < ent["random_q"] < 1 and 0 < ent["random_entropy"] <= 2


def test_solve_point_and_curve_by_hand():
    evals = [(4096, 1.5, 300.0), (8192, 3.0, 474.9), (12288, 4.5, 475.0), (16384, 6.0, 500.0)]
    assert quantum_rl.solve_point(evals, 475.0) == (12288, 4.5)
    assert quantum_rl.solve_point(evals, 501.0) == (None, None)
    r = TrainResult(config=None, modules={})
    r.episode_returns = [10.0] * 19 + [500.0] * 30
    r.episode_end_steps = list(range(100, 100 * 50, 100))
    c = quantum_rl.curve(r, np.array([50, 150, 1950, 2050]))
    np.testing.assert_allclose(c[1:], [10.0, 10.0, (19 * 10 + 500) / 20])
    assert np.isnan(c[0])


def _skolik_reference(n: int, layers: int, w: np.ndarray, x: np.ndarray, label: str) -> float:
    """<label> of skolik_reuploading(n, layers) (scales 1) by the dense reference, written from the ansatz's
    definition: per layer RY(w), RZ(w) on every qubit, a CZ ring, RX(x_q); a final RY, RZ block."""
    ops, k = [], 0
    for layer in range(layers + 1):
        for q in range(n):
            ops += [("ry", [q], [w[k]], [], None, None), ("rz", [q], [w[k + 1]], [], None, None)]
            k += 2
        if layer == layers:
            break
        for q in range(n if n > 2 else 1):
            ops.append(("cz", [q, (q + 1) % n], [], [], None, None))
        ops += [("rx", [q], [x[q]], [], None, None) for q in range(n)]
    return float(np.real(ds.expectation(ds.simulate(n, ops), [(label, 1.0)])))


def test_gradient_draws_against_finite_differences_of_a_dense_simulation():
    """2 and 3 qubits, 2 layers, 6 draws, global parity and local Z_0: every draw's value and full gradient equal
    the dense NumPy reference and its central finite differences (h = 1e-6) to 1e-7; the variance the study
    reports for theta_0 is the variance of those reference gradients."""
    boot = Bootstrap(reps=200)
    for n in (2, 3):
        for local in (False, True):
            label = "I" * (n - 1) + "Z" if local else "Z" * n
            grads, values, weights, x = quantum_rl.gradient_draws(n, 2, 6, seed=n, local=local)
            assert grads.shape == weights.shape == (6, 2 * n * 3) and x.shape == (1, n)
            ref = np.empty_like(grads)
            for d, w in enumerate(weights):
                np.testing.assert_allclose(values[d], _skolik_reference(n, 2, w, x[0], label), atol=1e-10)
                for k in range(len(w)):
                    e = np.eye(len(w))[k] * 1e-6
                    plus = _skolik_reference(n, 2, w + e, x[0], label)
                    minus = _skolik_reference(n, 2, w - e, x[0], label)
                    ref[d, k] = (plus - minus) / 2e-6
            np.testing.assert_allclose(grads, ref, atol=1e-7)
            point, low, high = quantum_rl.variance_interval(ref[:, 0], boot)
            np.testing.assert_allclose(point, np.var(ref[:, 0], ddof=1), rtol=1e-6)
            assert low <= point <= high


def test_variance_and_slope_intervals_on_synthetic_draws():
    """Normal draws with variance 2^-n for n = 2..6 (800 each): the fitted slope of log2 Var against n covers -1
    and is within 0.15 of it; a variance interval covers the true variance; constant variance gives a slope
    interval around 0."""
    rng = np.random.default_rng(0)
    boot = Bootstrap(reps=500)
    qubits = [2, 3, 4, 5, 6]
    samples = [rng.normal(0, 2 ** (-n / 2), 800) for n in qubits]
    point, low, high = quantum_rl.slope_interval(qubits, samples, boot)
    assert low < -1 < high and abs(point + 1) < 0.15
    v, vlo, vhi = quantum_rl.variance_interval(samples[0], boot)
    assert vlo < 0.25 < vhi
    flat = [rng.normal(0, 1, 800) for _ in qubits]
    point, low, high = quantum_rl.slope_interval(qubits, flat, boot)
    assert low < 0 < high and abs(point) < 0.1


def test_deep_circuit_parity_variance_matches_the_haar_value():
    """2 qubits, 16 layers, 400 draws: Var[<Z0 Z1>] within 25% of 1 / (2^2 + 1) = 0.2 (a 2-design's value);
    the gradient variance of a 1-layer circuit is larger than that of 6 qubits x 8 layers (a plateau)."""
    torch.set_num_threads(1)
    _, value_var = quantum_rl.gradient_variance(2, 16, 400, seed=0)
    assert abs(value_var - 0.2) < 0.05
    shallow, _ = quantum_rl.gradient_variance(2, 1, 100, seed=1)
    wide, _ = quantum_rl.gradient_variance(6, 8, 100, seed=1)
    assert wide < shallow / 4


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"quantum-rl: qubits must be >= 2 \(the CZ ring\), got \(1, 4\)"):
        quantum_rl.Config(qubits=(1, 4))
    with pytest.raises(ValueError, match=r"quantum-rl: depths must be one or more ints >= 1, got \(0,\)"):
        quantum_rl.Config(depths=(0,))
    with pytest.raises(ValueError, match=r"quantum-rl: solve_threshold must be in \(0, 500\], got 600"):
        quantum_rl.Config(solve_threshold=600)
    with pytest.raises(ValueError, match=r"quantum-rl: mlp_learning_rate must be > 0, got 0"):
        quantum_rl.Config(mlp_learning_rate=0)
    with pytest.raises(ValueError, match=r"quantum-rl: train_steps must be >= 1024, got 10"):
        quantum_rl.Config(train_steps=10)
    with pytest.raises(ValueError, match="quantum-rl: agent must be one of softmax-pqc, softmax-pqc-shots, mlp-"):
        quantum_rl.train_agent("transformer", quantum_rl.Config(**quantum_rl.QUICK), 0)
    with pytest.raises(ValueError, match=r"quantum-rl: shots must be >= 1, got 0"):
        quantum_rl.Config(shots=0)
    with pytest.raises(ValueError, match=r"quantum-rl: dqn_steps must be >= 1024, got 5"):
        quantum_rl.Config(dqn_steps=5)
    with pytest.raises(ValueError, match="quantum-rl: agent must be one of softmax-pqc, softmax-pqc-shots, dqn-"):
        quantum_rl.trained_layer("mlp-default", None)
