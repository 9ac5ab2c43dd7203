"""evaluation.report on a hand-made result: the files appear, report.md shows the records' numbers, metrics.json
holds them exactly, and the intervals are those of evaluation.stats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nextrl.evaluation import (
    Bootstrap,
    ExperimentResult,
    Finding,
    Reference,
    make_aggregate,
    make_curve,
    make_score,
    stratified_bootstrap_ci,
)
from nextrl.evaluation.report import write_run

PNG = b"\x89PNG\r\n\x1a\n"


def _result(seeds=(0, 1, 2, 3, 4)) -> ExperimentResult:
    boot = Bootstrap(reps=300, seed=1)
    n = len(seeds)
    a = [480.0, 500.0, 350.0, 500.0, 499.0][:n]
    b = [-160.0, -210.0, -150.0, -180.0, -1200.0][:n]
    ref = Reference(500.0, "SB3 zoo benchmark.md, row ppo CartPole-v1", 0.0, 100_000)
    scores = [
        make_score("CartPole", "ppo", "eval return", a, boot, steps=1000, reference=ref),
        make_score("Pendulum", "sac", "eval return", b, boot, steps=2000),
    ]
    steps = [10, 20, 30]
    curves = [
        make_curve("CartPole", "ppo", "return", steps, np.array([[np.nan, 20.0, 40.0 + i] for i in range(n)]), boot),
        make_curve(
            "Pendulum", "sac", "return", steps, np.array([[-1000.0, -500.0, -200.0 + i] for i in range(n)]), boot
        ),
    ]
    agg = make_aggregate(
        "all", ["ppo CartPole", "sac Pendulum"], np.stack([np.array(a) / 500, np.array(b) / -150], axis=1), boot
    )
    return ExperimentResult(
        "demo",
        "Demo experiment",
        "What it asks.",
        list(seeds),
        {"x": 1},
        ["budget: tiny"],
        scores,
        curves,
        [agg],
        "normalized by hand",
        [Finding(True, "ppo learns"), Finding(False, "sac does not")],
        [ref.source],
        boot,
        1.5,
    )


def test_write_run_files_and_numbers(tmp_path):
    res = _result()
    files = write_run(res, tmp_path / "run", {"machine": "test box"})
    names = {p.name for p in files}
    assert names == {
        "report.md",
        "metrics.json",
        "curves_cartpole.png",
        "curves_pendulum.png",
        "scores_eval_return.png",
    }
    assert {p.name for p in (tmp_path / "run").iterdir()} == names
    for p in files:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == PNG
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["experiment"] == "demo" and m["seeds"] == [0, 1, 2, 3, 4] and m["bootstrap"]["reps"] == 300
    s = m["scores"][0]
    assert s["values"] == [480.0, 500.0, 350.0, 500.0, 499.0]
    iv = stratified_bootstrap_ci(s["values"], "iqm", reps=300, seed=1)
    assert (s["iqm"]["point"], s["iqm"]["low"], s["iqm"]["high"]) == (iv.point, iv.low, iv.high)
    np.testing.assert_allclose(s["iqm"]["point"], np.mean([480.0, 499.0, 500.0]), rtol=1e-12)  # middle three
    np.testing.assert_allclose(s["std"], np.std(s["values"], ddof=1), rtol=1e-12)
    assert s["reference"]["value"] == 500.0 and s["reference"]["steps"] == 100_000
    c = m["curves"][0]
    assert c["per_seed"][0] == [None, 20.0, 40.0] and c["mean"] == [None, 20.0, 42.0]
    a = m["aggregates"][0]
    agg = stratified_bootstrap_ci(np.array(a["scores"]), "iqm", reps=300, seed=1)
    assert (a["iqm"]["low"], a["iqm"]["high"]) == (agg.low, agg.high) and a["iqm"]["num_tasks"] == 2
    assert m["findings"] == [{"found": True, "text": "ppo learns"}, {"found": False, "text": "sac does not"}]

    md = (tmp_path / "run" / "report.md").read_text()
    assert md.startswith("# Demo experiment")
    row = (
        f"| CartPole | ppo | eval return | 1,000 | {s['mean']:,.1f} ± {s['std']:,.1f} | {iv.point:,.1f} | "
        f"[{iv.low:,.1f}, {iv.high:,.1f}] | 500.0 ± 0.0 @ 100,000 |"
    )
    assert row in md
    found, missing = md.split("What was found:")[1].split("What was not found:")
    assert "- ppo learns" in found and "sac does not" not in found and "- sac does not" in missing
    assert "- machine: test box" in md and "![curves_cartpole.png](curves_cartpole.png)" in md
    assert "- budget: tiny" in md and "300 replicates" in md


def test_one_seed_has_no_interval(tmp_path):
    write_run(_result(seeds=(0,)), tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| - (one seed) |" in md


@pytest.mark.parametrize(
    "kw,match", [({"reps": 0}, "reps must be >= 1"), ({"confidence": 0.0}, r"confidence must be in \(0, 1\)")]
)
def test_bootstrap_settings_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        Bootstrap(**kw)
