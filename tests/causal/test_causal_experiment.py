"""`nextrl run causal` at a tiny budget: the run folder and report appear, the progress adds up to total_work,
the discovery scores are those of graphs.compare on the same seeded data, the exact SCM's counterfactual
errors are at float32 rounding, and bad settings are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nextrl.experiments import causal, runner

torch.set_num_threads(1)
TINY = [
    "discovery_sizes=60",
    "train_transitions=200",
    "fit_steps=20",
    "max_steps=20",
    "eval_episodes=1",
    "rollout_horizon=3",
    "mpc_horizon=3",
    "mpc_candidates=8",
    "cf_episodes=3",
    "bootstrap_reps=50",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("causal") / "run"
    units = []
    res = runner.run(
        "causal", seeds=2, out_dir=out, overrides=TINY, quick=True, progress=lambda n, desc: units.append((n, desc))
    )
    return res, units, json.loads((out / "metrics.json").read_text())


def test_run_folder_and_progress(tiny_run):
    res, units, m = tiny_run
    assert "causal" in runner.EXPERIMENTS and runner.resolve("causal") is causal
    md = (res.run_dir / "report.md").read_text()
    for section in ("## Setup", "## Results", "## Findings", "discovery: documents' SCM", "counterfactual return"):
        assert section in md
    assert (res.run_dir / "curves_discovery_causalthrust_transitions.png").read_bytes()[:4] == b"\x89PNG"
    for key in ("doc", "thrust"):  # the discovered graphs next to the true one, one PNG per (graph, size)
        name = f"graphs_{key}_n60.png"
        assert (res.run_dir / name).read_bytes()[:4] == b"\x89PNG"
        assert f"![{name}]({name})" in md
        assert res.run_dir / name in res.files
    cfg = runner.make_config(causal, TINY, quick=True)
    assert sum(n for n, _ in units) == causal.total_work(cfg, [0, 1])
    assert m["seeds"] == [0, 1] and m["config"]["discovery_sizes"] == [60]
    assert set(m["extra"]["true_edges"]["doc"]) == {"X1 --> X2", "X2 --> X3", "X1 --> X3", "action --> X2"}


def test_scores_are_recomputable(tiny_run):
    from nextrl.causal.graphs import compare

    res, _, m = tiny_run
    by = {(s["task"], s["agent"], s["metric"]): s for s in m["scores"]}
    for seed in (0, 1):
        est, truth = causal.discover_doc(60, 0.05, seed)
        got = compare(est, truth)
        s = by[("discovery: documents' SCM (X1, X2, X3, action), n=60", "pc (fisherz)", "shd")]
        assert s["values"][seed] == got.shd
        est, truth = causal.discover_thrust(60, 0.05, seed, 20)
        s = by[("discovery: CausalThrust transitions, n=60", "pc (fisherz)", "skeleton recall")]
        assert s["values"][seed] == pytest.approx(compare(est, truth).skeleton_recall)
    for policy in causal.TARGET_POLICIES:
        exact = by[(f"counterfactual return: {policy}", "exact SCM", "mean |error|")]
        assert max(exact["values"]) < 1e-4  # abduction with the true SCM: float32 rounding only
    diff = by[("CausalThrust", "causal - full", "return difference")]["values"]
    causal_r = by[("CausalThrust", "MPC, causal model", "return")]["values"]
    full_r = by[("CausalThrust", "MPC, full model", "return")]["values"]
    np.testing.assert_allclose(diff, np.subtract(causal_r, full_r), atol=1e-12)
    assert all(v <= 0 for v in causal_r)  # rewards are -|pos| - 0.01 |a|


def test_doc_scm_is_the_documents():
    scm = causal.doc_scm()
    x = scm.sample(100_000, seed=0)
    np.testing.assert_allclose(x.std(0)[[0, 3]], [0.5, 1 / np.sqrt(3)], rtol=0.02)  # X1 ~ N(0, .5^2), a ~ U(-1, 1)
    np.testing.assert_allclose(scm.ate("X1", "X3", 1.0, 0.0), 0.8 * 0.7 + 0.3, atol=1e-12)
    np.testing.assert_allclose(scm.ate("action", "X3", 1.0, 0.0), 0.8 * 0.5, atol=1e-12)


@pytest.mark.parametrize(
    "override, match",
    [
        ("discovery_sizes=5", "discovery_sizes must be a non-empty list of sizes >= 10"),
        ("alpha=1.5", r"alpha must be in \(0, 1\), got 1.5"),
        ("shift_force=2.0", r"shift_force must be in \[-1, 1\]"),
        ("eval_episodes=0", "eval_episodes must be >= 1, got 0"),
        ("rollout_horizon=200", "rollout_horizon must be < max_steps"),
    ],
)
def test_bad_settings(override, match):
    with pytest.raises(ValueError, match=match):
        runner.make_config(causal, [override])
