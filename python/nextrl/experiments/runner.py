"""The runner behind `nextrl run NAME [--seeds K] [--out DIR] [--set key=value ...] [--quick]`.

`EXPERIMENTS` maps a name to its module. Adding an experiment is one line here, e.g.
    "planning-cem": "nextrl.experiments.planning_cem",
provided its module has
    NAME, DESCRIPTION                   the registered name and one line for `nextrl run --list`
    Config                              a frozen dataclass of the experiment's settings (budgets, sizes), each
                                        field settable with --set; __post_init__ raises ValueError for bad values
    QUICK                               {field: value}: the settings of `--quick`, a run of seconds
    total_work(cfg, seeds) -> int       units of progress the run will report
    run(cfg, seeds, *, progress=None) -> evaluation.results.ExperimentResult
                                        progress(units_done_since_last_call, description); never prints
The runner resolves the settings, calls run() with seeds 0 .. K-1 and writes the run folder with
evaluation.report: report.md, PNG plots and metrics.json.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import platform
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nextrl.evaluation.results import ExperimentResult

EXPERIMENTS: dict[str, str] = {
    "rl-core": "nextrl.experiments.rl_core",
    "causal": "nextrl.experiments.causal",
    "federated": "nextrl.experiments.federated",
    "model-based": "nextrl.experiments.model_based",
    "quantum-noise": "nextrl.experiments.quantum_noise",
    "quantum-rl": "nextrl.experiments.quantum_rl",
    "world-models": "nextrl.experiments.world_models",
    "marl": "nextrl.experiments.marl",
}


def resolve(name: str) -> types.ModuleType:
    """The module of a registered experiment; ValueError listing the registered names otherwise."""
    from nextrl.experiments.train import _choices

    if name not in EXPERIMENTS:
        raise ValueError(_choices("experiment", name, sorted(EXPERIMENTS)))
    return importlib.import_module(EXPERIMENTS[name])


def list_experiments() -> list[tuple[str, str]]:
    """(name, one-line description) of every registered experiment, sorted by name."""
    return [(name, resolve(name).DESCRIPTION) for name in sorted(EXPERIMENTS)]


def make_config(module: types.ModuleType, overrides: list[str] | None = None, *, quick: bool = False):
    """The experiment's Config: defaults, then its QUICK settings if `quick`, then "key=value" overrides.
    ValueError for an unknown key (listing the valid ones), a value that does not parse, or a bad value."""
    from nextrl.experiments.train import parse_overrides

    values: dict[str, Any] = dict(module.QUICK) if quick else {}
    values.update(parse_overrides(module.Config, overrides or [], values))
    return module.Config(**values)


def check_seeds(num_seeds: int) -> list[int]:
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise ValueError(f"run: seeds must be an integer >= 1, got {num_seeds!r}")
    return list(range(num_seeds))


def check_out_dir(out_dir: str | Path) -> Path:
    """The run folder, refused when it exists and is not empty (a finished run is never overwritten)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"run: --out {out} exists and is not an empty folder; choose a new one")
    return out


def default_out_dir(name: str, root: str | Path = "runs") -> Path:
    return Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_info(argv: list[str] | None = None) -> dict[str, Any]:
    """Where and how the run was made, for the report's setup section."""
    import numpy as np
    import torch

    import nextrl

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "machine": f"{cpu}, {cores} cores, load {os.getloadavg()[0]:.1f} at start",
        "versions": f"nextrl {nextrl.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
        f"thread(s)), numpy {np.__version__}, Python {platform.python_version()}",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if argv is not None:
        info["command"] = "nextrl " + " ".join(argv)
    return info


@dataclass
class Plan:
    """A run with every input checked, before anything is trained."""

    name: str
    module: types.ModuleType
    config: Any
    seeds: list[int]
    out_dir: Path
    settings: str

    @property
    def total_work(self) -> int:
        """Units of progress the run will report (for a progress bar's total)."""
        return self.module.total_work(self.config, self.seeds)


@dataclass
class RunOutput:
    run_dir: Path
    result: ExperimentResult
    files: list[Path]


def plan(
    name: str,
    *,
    seeds: int = 5,
    out_dir: str | Path | None = None,
    overrides: list[str] | None = None,
    quick: bool = False,
) -> Plan:
    """Checks every input of a run: ValueError for an unknown name (listing the registered ones), a seed count
    below 1, a non-empty --out, an unknown, malformed or invalid setting."""
    module = resolve(name)
    seed_list = check_seeds(seeds)
    cfg = make_config(module, overrides, quick=quick)
    out = check_out_dir(out_dir if out_dir is not None else default_out_dir(name))
    settings = ("--quick" + (", " if overrides else "") if quick else "") + (
        ", ".join(overrides or []) or ("" if quick else "defaults")
    )
    return Plan(name, module, cfg, seed_list, out, settings)


def execute(p: Plan, *, progress: Callable[[int, str], None] | None = None, argv: list[str] | None = None) -> RunOutput:
    """Runs a planned experiment and writes its run folder: report.md, PNG plots, metrics.json."""
    from nextrl.evaluation.report import write_run

    info = run_info(argv)
    info["settings"] = p.settings
    t = time.perf_counter()
    result = p.module.run(p.config, p.seeds, progress=progress)
    info["wall time"] = f"{time.perf_counter() - t:.1f} s"
    files = write_run(result, check_out_dir(p.out_dir), info)
    return RunOutput(p.out_dir, result, files)


def run(
    name: str,
    *,
    seeds: int = 5,
    out_dir: str | Path | None = None,
    overrides: list[str] | None = None,
    quick: bool = False,
    progress: Callable[[int, str], None] | None = None,
    argv: list[str] | None = None,
) -> RunOutput:
    """Runs experiment `name` with seeds 0 .. seeds-1 and writes its run folder (default
    runs/<name>-<timestamp>/); see `plan` for the checks made before anything is trained."""
    return execute(
        plan(name, seeds=seeds, out_dir=out_dir, overrides=overrides, quick=quick), progress=progress, argv=argv
    )


def config_fields(name: str) -> list[tuple[str, Any, str]]:
    """(field, default, docstring) of an experiment's Config, for `--set` help."""
    module = resolve(name)
    docs = _field_docs(module.Config)
    return [(f.name, f.default, docs.get(f.name, "")) for f in dataclasses.fields(module.Config)]


def _field_docs(cls: type) -> dict[str, str]:
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body
    docs = {}
    for a, b in zip(body, body[1:], strict=False):
        if (
            isinstance(a, ast.AnnAssign)
            and isinstance(a.target, ast.Name)
            and isinstance(b, ast.Expr)
            and isinstance(b.value, ast.Constant)
            and isinstance(b.value.value, str)
        ):
            docs[a.target.id] = " ".join(b.value.value.split())
    return docs


__all__ = [
    "EXPERIMENTS",
    "Plan",
    "RunOutput",
    "check_out_dir",
    "check_seeds",
    "config_fields",
    "default_out_dir",
    "execute",
    "list_experiments",
    "make_config",
    "plan",
    "resolve",
    "run",
    "run_info",
]
