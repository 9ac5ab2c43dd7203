"""The quantum-rl experiment at its --quick budget (one seed): the run folder and its gradient-variance plot, the
parameter counts by hand, the greedy score equal to the agent trained and evaluated directly; the solve point and
the curves on a hand-made training record; the deep-circuit parity variance against the Haar value 1 / (2^n + 1);
bad settings refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nextrl.agents.common import TrainResult, evaluate
from nextrl.agents.rollout import act_fn
from nextrl.experiments import quantum_rl, runner


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
    assert metrics["extra"]["parameters"] == {"softmax-pqc": 70, "mlp-matched": 72, "mlp-default": 4610}
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
    with pytest.raises(ValueError, match="quantum-rl: agent must be one of softmax-pqc, mlp-matched, mlp-default"):
        quantum_rl.train_agent("transformer", quantum_rl.Config(**quantum_rl.QUICK), 0)
