"""Renders an ExperimentResult into a run folder: report.md, PNG plots (matplotlib, Agg) and metrics.json.

Every number written here comes from the result; nothing is typed in. The table shows, per task and agent, the
mean and standard deviation over seeds and the interquartile mean with its stratified bootstrap interval
(evaluation.stats), next to the published reference when there is one.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from nextrl.evaluation.results import ExperimentResult, Score


def _num(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.{digits}f}"


def _ci(score_low: float, score_high: float, num_runs: int, digits: int = 1) -> str:
    if num_runs < 2:
        return "- (one seed)"
    return f"[{_num(score_low, digits)}, {_num(score_high, digits)}]"


def _ref(score: Score) -> str:
    r = score.reference
    if r is None:
        return "-"
    spread = f" ± {_num(r.spread, 1)}" if r.spread is not None else ""
    steps = f" @ {r.steps:,}" if r.steps else ""
    return f"{_num(r.value, 1)}{spread}{steps}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def markdown(result: ExperimentResult, *, plots: list[str], run_info: dict[str, Any]) -> str:
    """report.md of `result`; `plots` are file names in the run folder; `run_info` lists machine, versions and
    the command line."""
    b = result.bootstrap
    conf = f"{round(b.confidence * 100)}%"
    lines = [f"# {result.title}", "", result.summary, "", "## Setup", ""]
    lines += [f"- seeds: {', '.join(str(s) for s in result.seeds)} ({len(result.seeds)} runs per agent and task)"]
    lines += [f"- {line}" for line in result.setup]
    lines += [
        f"- intervals: {conf} stratified bootstrap percentile intervals over seeds ({b.reps} replicates, "
        f"resampling seed {b.seed}); IQM = interquartile mean (25% trimmed mean), as in rliable "
        f"(Agarwal et al. 2021)"
    ]
    lines += [f"- {k}: {v}" for k, v in run_info.items()]
    lines += ["", "## Results", ""]
    if result.scores:
        lines += [
            f"| task | agent | metric | steps | mean ± std | IQM | {conf} CI (IQM) | reference |",
            "|---|---|---|--:|--:|--:|--:|--:|",
        ]
        for s in result.scores:
            steps = f"{s.steps:,}" if s.steps else "-"
            lines.append(
                f"| {s.task} | {s.agent} | {s.metric} | {steps} | {_num(s.mean)} ± {_num(s.std)} | "
                f"{_num(s.iqm.point)} | {_ci(s.iqm.low, s.iqm.high, s.iqm.num_runs)} | {_ref(s)} |"
            )
        lines.append("")
        lines.append(
            "Per-seed values are in metrics.json. A reference is a published figure (sources below), "
            "trained for the steps after the @; the steps column is this run's budget."
        )
        lines.append("")
    if result.aggregates:
        lines += [
            "### Aggregates",
            "",
            result.aggregate_note,
            "",
            f"| group | tasks | runs | IQM | {conf} CI (IQM) | mean | {conf} CI (mean) |",
            "|---|---|--:|--:|--:|--:|--:|",
        ]
        for a in result.aggregates:
            lines.append(
                f"| {a.name} | {', '.join(a.tasks)} | {a.iqm.num_runs} | {_num(a.iqm.point, 3)} | "
                f"{_ci(a.iqm.low, a.iqm.high, a.iqm.num_runs, 3)} | {_num(a.mean.point, 3)} | "
                f"{_ci(a.mean.low, a.mean.high, a.mean.num_runs, 3)} |"
            )
        lines.append("")
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{p}]({p})" for p in plots]
        lines.append("")
    lines += ["## Findings", "", "What was found:", ""]
    found = [f.text for f in result.findings if f.found]
    missing = [f.text for f in result.findings if not f.found]
    lines += [f"- {t}" for t in found] or ["- nothing"]
    lines += ["", "What was not found:", ""]
    lines += [f"- {t}" for t in missing] or ["- nothing"]
    if result.references:
        lines += ["", "## References", ""]
        lines += [f"- {r}" for r in result.references]
    lines.append("")
    return "\n".join(lines)


def plot_curves(result: ExperimentResult, out_dir: Path) -> list[str]:
    """One PNG per task: each agent's across-seed mean learning curve with its bootstrap band, and the agents'
    published references as dotted lines. Returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    tasks = list(dict.fromkeys(c.task for c in result.curves))
    # a metric's reference, the training-return one where both exist (the curves are training returns)
    refs = {
        (s.task, s.agent): s.reference
        for s in sorted(result.scores, key=lambda s: s.metric == "train return")
        if s.reference is not None
    }
    for task in tasks:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        for i, c in enumerate([c for c in result.curves if c.task == task]):
            color = f"C{i}"
            ax.plot(c.steps, c.point, color=color, label=f"{c.agent} (mean of {c.values.shape[0]} seeds)")
            ax.fill_between(c.steps, c.low, c.high, color=color, alpha=0.25, linewidth=0)
            ref = refs.get((task, c.agent))
            if ref is not None:
                ax.axhline(ref.value, color=color, linestyle=":", linewidth=1)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(result.curves[0].ylabel)
        conf = round(result.bootstrap.confidence * 100)
        ax.set_title(f"{task}: learning curves, {conf}% bootstrap bands; dotted: published references", fontsize=9)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        name = f"curves_{_slug(task)}.png"
        fig.savefig(out_dir / name)
        plt.close(fig)
        names.append(name)
    return names


def plot_scores(result: ExperimentResult, out_dir: Path, metric: str) -> list[str]:
    """One PNG with a panel per task: IQM of `metric` per agent with its interval, the per-seed values as dots
    and the reference as a cross. Returns [file name], or [] if no score has that metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [s for s in result.scores if s.metric == metric]
    if not scores:
        return []
    tasks = list(dict.fromkeys(s.task for s in scores))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.5), dpi=100, squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        row = [s for s in scores if s.task == task]
        for y, s in enumerate(row):
            ax.plot([s.iqm.low, s.iqm.high], [y, y], color="C0", linewidth=6, alpha=0.4, solid_capstyle="butt")
            ax.plot(s.iqm.point, y, "|", color="C0", markersize=14, markeredgewidth=2)
            ax.plot(s.values, np.full(len(s.values), y), ".", color="k", markersize=4)
            if s.reference is not None:
                ax.plot(s.reference.value, y, "x", color="C3", markersize=8)
        ax.set_yticks(range(len(row)), [s.agent for s in row])
        ax.set_ylim(-0.7, len(row) - 0.3)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel(metric)
    fig.suptitle(
        f"{metric}: IQM and {round(result.bootstrap.confidence * 100)}% CI (bar), seeds (dots), reference (x)",
        fontsize=9,
    )
    fig.tight_layout()
    name = f"scores_{_slug(metric)}.png"
    fig.savefig(out_dir / name)
    plt.close(fig)
    return [name]


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, np.generic):
        return _finite(x.item())
    return x


def metrics(result: ExperimentResult, run_info: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of a run: config, seeds, per-seed values and every computed statistic."""
    b = result.bootstrap
    return _finite(
        {
            "experiment": result.name,
            "title": result.title,
            "seeds": list(result.seeds),
            "config": result.config,
            "bootstrap": {
                "reps": b.reps,
                "seed": b.seed,
                "confidence": b.confidence,
                "method": "stratified percentile",
            },
            "scores": [s.to_dict() for s in result.scores],
            "aggregates": [a.to_dict() for a in result.aggregates],
            "curves": [c.to_dict() for c in result.curves],
            "findings": [{"found": f.found, "text": f.text} for f in result.findings],
            "wall_time_s": result.wall_time_s,
            "run": run_info,
            "extra": result.extra,
        }
    )


def write_run(result: ExperimentResult, out_dir: str | Path, run_info: dict[str, Any] | None = None) -> list[Path]:
    """Writes report.md, the PNG plots and metrics.json into `out_dir` (created); returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = dict(run_info or {})
    plots = plot_curves(result, out)
    for metric in dict.fromkeys(s.metric for s in result.scores):
        plots += plot_scores(result, out, metric)
    for draw in result.figures:
        plots += draw(out)
    (out / "report.md").write_text(markdown(result, plots=plots, run_info=info))
    (out / "metrics.json").write_text(json.dumps(metrics(result, info), indent=1))
    return [out / "report.md", *(out / p for p in plots), out / "metrics.json"]


__all__ = ["markdown", "metrics", "plot_curves", "plot_scores", "write_run"]
