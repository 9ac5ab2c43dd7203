"""The runner behind `nextrl train ALGO --env ENV_ID [--set key=value ...] [--seed N] [--out DIR]`.

`ALGORITHMS` maps a name to (module path, config class name). Adding an algorithm is one line here, e.g.
    "dqn": ("nextrl.agents.dqn", "DQNConfig"),
provided its module follows the algorithm-file shape: a frozen config dataclass with at least
`total_timesteps` and `num_envs` fields, and `train(env, cfg, *, seed, log=None) -> TrainResult`.

Env ids are any registered Gymnasium id (made with gym.make_vec(id, num_envs=cfg.num_envs,
vectorization_mode="sync")), and nextrl's `nextrl/...` ids (they register on `import nextrl` and build
their compiled vector env directly).
A run folder receives config.json, metrics.csv (one row per update), episodes.csv (one row per finished
training episode), metrics.json (both, plus the summary) and learning_curve.png.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import importlib
import json
import math
import time
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ALGORITHMS: dict[str, tuple[str, str]] = {
    "a2c": ("nextrl.agents.a2c", "A2CConfig"),
    "ddpg": ("nextrl.agents.ddpg", "DDPGConfig"),
    "dqn": ("nextrl.agents.dqn", "DQNConfig"),
    "ppo": ("nextrl.agents.ppo", "PPOConfig"),
    "reinforce": ("nextrl.agents.reinforce", "ReinforceConfig"),
    "sac": ("nextrl.agents.sac", "SACConfig"),
    "sac_discrete": ("nextrl.agents.sac_discrete", "SACDiscreteConfig"),
    "td3": ("nextrl.agents.td3", "TD3Config"),
    "trpo": ("nextrl.agents.trpo", "TRPOConfig"),
}


def _choices(what: str, given: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(given, valid, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {what} {given!r}{hint} Valid choices: {', '.join(valid)}"


def resolve_algorithm(name: str) -> tuple[types.ModuleType, type]:
    """(algorithm module, config class) for a registered name; ValueError listing the choices otherwise."""
    if name not in ALGORITHMS:
        raise ValueError(_choices("algorithm", name, sorted(ALGORITHMS)))
    module_path, config_name = ALGORITHMS[name]
    module = importlib.import_module(module_path)
    return module, getattr(module, config_name)


def _parse_value(key: str, text: str, tp: Any) -> Any:
    """`text` parsed to the annotated type `tp` (int, float, bool, str, tuple[T, ...], X | None)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if text.strip().lower() == "none" and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _parse_value(key, text, inner)
    if origin is tuple:
        parts = [p for p in text.replace("(", "").replace(")", "").split(",") if p.strip()]
        return tuple(_parse_value(key, p.strip(), args[0]) for p in parts)
    if tp is bool:
        t = text.strip().lower()
        if t in ("1", "true", "yes", "on"):
            return True
        if t in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {key}: must be true or false, got {text!r}")
    if tp in (int, float, str):
        try:
            if tp is int:
                v = float(text)
                if not v.is_integer():
                    raise ValueError
                return int(v)  # accepts 1e5
            return tp(text)
        except ValueError:
            raise ValueError(f"--set {key}: must be {tp.__name__}, got {text!r}") from None
    raise ValueError(f"--set {key}: fields of type {tp} cannot be set from the command line")


def parse_overrides(config_cls: type, items: list[str]) -> dict[str, Any]:
    """["key=value", ...] -> {field: parsed value}; ValueError for a malformed item, an unknown key (with the
    valid keys) or a value that does not parse to the field's type."""
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls)]
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set must be key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in names:
            raise ValueError(_choices(f"{config_cls.__name__} key", key, names))
        out[key] = _parse_value(key, text, hints[key])
    return out


def make_env(env_id: str, num_envs: int):
    """gym.make_vec(env_id, num_envs): the C++ vector env for nextrl/ ids, SyncVectorEnv otherwise;
    ValueError listing close registered ids for an unknown one."""
    import gymnasium as gym

    import nextrl  # noqa: F401  (registers the nextrl/... ids)

    if env_id not in gym.registry:
        valid = sorted(gym.registry)
        close = difflib.get_close_matches(env_id, valid, n=5, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown env id {env_id!r}{hint} Any registered Gymnasium id works "
            f"({len(valid)} registered, e.g. CartPole-v1, Pendulum-v1, Acrobot-v1)."
        )
    # nextrl's ids build their C++ vector env directly; other ids get Gymnasium's SyncVectorEnv
    mode = "vector_entry_point" if gym.registry[env_id].vector_entry_point is not None else "sync"
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)


def default_run_dir(algo: str, env_id: str, seed: int, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{algo}-{env_id.replace('/', '_')}-{seed}-{stamp}"


@dataclass
class RunResult:
    run_dir: Path
    result: Any
    """the algorithm's TrainResult"""
    summary: dict[str, Any]


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, tuple):
        return list(x)
    return x


def write_outputs(run_dir: Path, algo: str, env_id: str, seed: int, result, summary: dict[str, Any]) -> None:
    """config.json, metrics.csv, episodes.csv, metrics.json and learning_curve.png in `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {k: _jsonable(v) for k, v in dataclasses.asdict(result.config).items()}
    (run_dir / "config.json").write_text(
        json.dumps({"algo": algo, "env": env_id, "seed": seed, "config": config}, indent=2)
    )
    keys = sorted({k for m in result.metrics for k in m} - {"global_step"})
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["global_step", *keys])
        for m in result.metrics:
            w.writerow([m["global_step"], *[m.get(k, "") for k in keys]])
    episodes = [
        {"end_step": s, "return": r, "length": n}
        for s, r, n in zip(result.episode_end_steps, result.episode_returns, result.episode_lengths)
    ]
    with open(run_dir / "episodes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["episode", "end_step", "return", "length"])
        for i, e in enumerate(episodes):
            w.writerow([i, e["end_step"], e["return"], e["length"]])
    (run_dir / "metrics.json").write_text(
        json.dumps(
            {
                "summary": {k: _jsonable(v) for k, v in summary.items()},
                "updates": [{k: _jsonable(v) for k, v in m.items()} for m in result.metrics],
                "episodes": episodes,
            }
        )
    )
    _plot(run_dir / "learning_curve.png", f"{algo} on {env_id} (seed {seed})", result)


def _plot(path: Path, title: str, result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    steps, rets = np.asarray(result.episode_end_steps), np.asarray(result.episode_returns)
    if len(rets):
        ax.plot(steps, rets, ".", alpha=0.3, markersize=3, label="episode return")
        k = max(1, min(20, len(rets) // 5))
        smooth = np.convolve(rets, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1 :], smooth, label=f"mean of {k}")
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no episode finished", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(
    algo: str,
    env_id: str,
    *,
    overrides: list[str] | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    log=None,
) -> RunResult:
    """Trains `algo` on `env_id` with the config defaults plus `overrides` ("key=value"), writes the run
    folder (default runs/<algo>-<env>-<seed>-<timestamp>/) and returns it with the result and a summary.
    `log(global_step, metrics)` is passed through to train(). Raises ValueError for an unknown algorithm,
    config key or env id, and for values that do not parse, before anything is trained or written."""
    module, config_cls = resolve_algorithm(algo)
    cfg = config_cls(**parse_overrides(config_cls, overrides or []))  # __post_init__ checks raise ValueError
    env = make_env(env_id, cfg.num_envs)
    try:
        result = module.train(env, cfg, seed=seed, log=log)
    finally:
        env.close()
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(algo, env_id, seed)
    summary = {
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "global_steps": result.global_steps,
        "wall_time_s": result.wall_time_s,
        "episodes": len(result.episode_returns),
        "mean_return_last_20": result.mean_return(20),
        "best_return": max(result.episode_returns) if result.episode_returns else float("nan"),
        **{f"time_{k}_s": v for k, v in result.time_breakdown_s.items()},
    }
    write_outputs(run_dir, algo, env_id, seed, result, summary)
    return RunResult(run_dir, result, summary)


__all__ = [
    "ALGORITHMS",
    "RunResult",
    "default_run_dir",
    "make_env",
    "parse_overrides",
    "resolve_algorithm",
    "run",
    "write_outputs",
]
