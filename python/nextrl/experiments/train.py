"""The runner behind `nextrl train ALGO --env ENV_ID [--set key=value ...] [--seed N] [--out DIR]`.

`ALGORITHMS` maps a name to (module path, config class name). Adding an algorithm is one line here, e.g.
    "dqn": ("nextrl.agents.dqn", "DQNConfig"),
provided its module follows the algorithm-file shape: a frozen config dataclass with at least
`total_timesteps` and `num_envs` fields (or one nested config dataclass holding them, as I2AConfig's `a2c`), and
`train(env, cfg, *, seed, log=None) -> TrainResult`. A field of a nested config is set as `--set a2c.gamma=0.9`.

Env ids are any registered Gymnasium id (made with gym.make_vec(id, num_envs=cfg.num_envs,
vectorization_mode="sync")), and nextrl's `nextrl/...` ids (they register on `import nextrl` and build
their compiled vector env directly).
A run folder receives config.json, metrics.csv (one row per update), episodes.csv (one row per finished
training episode), metrics.json (both, the greedy evaluations and the summary), learning_curve.png, the final
checkpoint final.pt (common.save_checkpoint: state dicts and the config; torch.load(weights_only=True) reads it),
best.pt when evaluating every K steps, and TensorBoard event files when asked.

Evaluation is of the deterministic policy (greedy action, or the mean / mode of the action distribution) with
common.evaluate on one env of the same id, so its episodes play one after another and none is favoured by its
length; its seed is 10_000 + the training seed unless given.

`PRESETS` holds tuned settings for an (algorithm, env) pair, applied over the config defaults and under `--set`
(rl-zoo's practice): PPO on CartPole-v1 takes rl-zoo's CartPole settings, whose greedy mean on nextrl/CartPole-v1
is 500 after 1e5 steps (seeds 0, 1, 2: 500, 500, 500); CleanRL's defaults (PPOConfig) need about 5x longer.
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
    "i2a": ("nextrl.agents.model_based.i2a", "I2AConfig"),
    "ppo": ("nextrl.agents.ppo", "PPOConfig"),
    "reinforce": ("nextrl.agents.reinforce", "ReinforceConfig"),
    "sac": ("nextrl.agents.sac", "SACConfig"),
    "sac_discrete": ("nextrl.agents.sac_discrete", "SACDiscreteConfig"),
    "td3": ("nextrl.agents.td3", "TD3Config"),
    "trpo": ("nextrl.agents.trpo", "TRPOConfig"),
    "vae_planner": ("nextrl.agents.model_based.vae_planner", "VAEPlannerConfig"),
}


PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("ppo", "CartPole-v1"): dict(  # rl-zoo's CartPole-v1 PPO (8 envs x 32 steps, one minibatch, 20 epochs)
        total_timesteps=100_000,
        num_envs=8,
        num_steps=32,
        num_minibatches=1,
        update_epochs=20,
        learning_rate=1e-3,
        ent_coef=0.0,
        clip_vloss=False,
        gamma=0.98,
        gae_lambda=0.8,
    ),
}
"""(algorithm, env id without its namespace) -> config values that replace the defaults on that env"""

ACTION_SPACES: dict[str, tuple[str, ...]] = {
    "a2c": ("Discrete", "Box"),
    "ddpg": ("Box",),
    "dqn": ("Discrete",),
    "i2a": ("Discrete",),
    "ppo": ("Discrete", "Box"),
    "reinforce": ("Discrete", "Box"),
    "sac": ("Box",),
    "sac_discrete": ("Discrete",),
    "td3": ("Box",),
    "trpo": ("Discrete", "Box"),
    "vae_planner": ("Box",),
}
"""the action-space types each algorithm trains on"""

EVAL_SEED_OFFSET = 10_000
"""evaluation seed = training seed + this, unless given: evaluation episodes never replay training resets"""


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


def _nested(config_cls: type) -> dict[str, type]:
    """{field name: config dataclass} of the fields of `config_cls` that are themselves config dataclasses."""
    hints = typing.get_type_hints(config_cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(config_cls)
        if isinstance(hints[f.name], type) and dataclasses.is_dataclass(hints[f.name])
    }


def _field_default(config_cls: type, name: str) -> Any:
    (f,) = [f for f in dataclasses.fields(config_cls) if f.name == name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def setting_keys(config_cls: type) -> list[str]:
    """The `--set` keys of `config_cls`: its field names, a nested config's fields as "field.key"."""
    nested = _nested(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        out += [f"{f.name}.{k}" for k in setting_keys(nested[f.name])] if f.name in nested else [f.name]
    return out


def settings(config_cls: type) -> list[tuple[str, Any, str]]:
    """(key, default, its docstring) of every `--set` key of `config_cls` (setting_keys), for `nextrl train --help`."""
    from nextrl.experiments.runner import _field_docs

    docs, nested = _field_docs(config_cls), _nested(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        default = _field_default(config_cls, f.name)
        if f.name in nested:
            inner = {k: d for k, _, d in settings(nested[f.name])}
            out += [(f"{f.name}.{k}", getattr(default, k), inner[k]) for k in setting_keys(nested[f.name])]
        else:
            out.append((f.name, default, docs.get(f.name, "")))
    return out


def parse_overrides(
    config_cls: type, items: list[str], base: dict[str, Any] | None = None, *, _prefix: str = ""
) -> dict[str, Any]:
    """["key=value", ...] -> {field: parsed value}; ValueError for a malformed item, an unknown key (with the
    valid keys) or a value that does not parse to the field's type (naming the full key, "a2c.gamma"). Keys
    "field.key" of a nested config field give that field's config with those keys replaced (its own checks run):
    `base[field]` when the values resolved so far (`base`: a preset, an experiment's QUICK settings) hold one, else
    the field's default config."""
    hints = typing.get_type_hints(config_cls)
    names, nested = setting_keys(config_cls), _nested(config_cls)
    out: dict[str, Any] = {}
    inner: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set must be key=value, got {_prefix + item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in names:
            raise ValueError(_choices(f"{config_cls.__name__} key", _prefix + key, [_prefix + n for n in names]))
        if "." in key:
            head, rest = key.split(".", 1)
            inner.setdefault(head, []).append(f"{rest}={text}")
        else:
            out[key] = _parse_value(_prefix + key, text, hints[key])
    for head, sub in inner.items():
        values = parse_overrides(nested[head], sub, _prefix=f"{_prefix}{head}.")
        start = (base or {}).get(head, None)
        if not isinstance(start, nested[head]):
            start = _field_default(config_cls, head)
        out[head] = dataclasses.replace(start, **values)
    return out


def _owner(cfg, name: str) -> str | None:
    """None if `name` is a field of cfg, else the name of cfg's nested config that has it (I2AConfig:
    total_timesteps and num_envs are cfg.a2c's); AttributeError if neither."""
    if any(f.name == name for f in dataclasses.fields(cfg)):
        return None
    for head in _nested(type(cfg)):
        if any(f.name == name for f in dataclasses.fields(getattr(cfg, head))):
            return head
    raise AttributeError(f"{type(cfg).__name__} has no field {name!r}, nor has any config nested in it")


def config_value(cfg, name: str) -> Any:
    """cfg.name, or the field `name` of cfg's nested config that has it (I2AConfig: total_timesteps and num_envs
    are cfg.a2c's)."""
    head = _owner(cfg, name)
    return getattr(cfg if head is None else getattr(cfg, head), name)


def replace_value(cfg, name: str, value: Any):
    """cfg with the field `name` (its own, or its nested config's as in config_value) set to `value`."""
    head = _owner(cfg, name)
    if head is None:
        return dataclasses.replace(cfg, **{name: value})
    return dataclasses.replace(cfg, **{head: dataclasses.replace(getattr(cfg, head), **{name: value})})


def preset(algo: str, env_id: str) -> dict[str, Any]:
    """The PRESETS entry of `algo` on `env_id` (its namespace ignored: CartPole-v1 and nextrl/CartPole-v1 share
    one), {} if none."""
    return dict(PRESETS.get((algo, env_id.rsplit("/", 1)[-1]), {}))


def make_config(algo: str, env_id: str, overrides: list[str] | None = None):
    """(algorithm module, config): the config class defaults, then the algorithm's preset on `env_id`, then the
    "key=value" overrides. ValueError for an unknown algorithm or key or a bad value (the config's own checks)."""
    module, config_cls = resolve_algorithm(algo)
    values = preset(algo, env_id)
    values.update(parse_overrides(config_cls, overrides or [], values))
    return module, config_cls(**values)


def config_from_dict(config_cls: type, values: dict[str, Any]):
    """A config rebuilt from its JSON form (config.json's "config"): lists back to tuples; ValueError naming
    a key the config class no longer has."""
    hints = typing.get_type_hints(config_cls)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"{config_cls.__name__} has no key(s) {unknown}: the run was written by another nextrl version"
        )
    out = {}
    nested = _nested(config_cls)
    for k, v in values.items():
        if k in nested and isinstance(v, dict):
            out[k] = config_from_dict(nested[k], v)
            continue
        tp = hints[k]
        is_tuple = typing.get_origin(tp) is tuple or any(typing.get_origin(a) is tuple for a in typing.get_args(tp))
        out[k] = tuple(v) if is_tuple and isinstance(v, list) else v
    return config_cls(**out)


def check_action_space(algo: str, env_id: str, space) -> None:
    """ValueError unless `algo` trains on `space`'s type (ACTION_SPACES)."""
    import gymnasium as gym

    kinds = ACTION_SPACES[algo]
    if not any(isinstance(space, getattr(gym.spaces, k)) for k in kinds):
        raise ValueError(f"{algo} needs a {' or '.join(kinds)} action space; {env_id} has {space}")


def build_modules(module: types.ModuleType, cfg, env) -> dict[str, Any]:
    """The networks of `module.train` for this config and env, built by train() itself on a zero budget (the
    off-policy trainers take no step; the on-policy ones run their minimum of one rollout and update), so that
    they match what a run builds, custom presets included. Every input check of train() runs too: this is the
    pre-check of `nextrl train` and the skeleton that `nextrl eval` loads a checkpoint into."""
    return module.train(env, replace_value(cfg, "total_timesteps", 0), seed=0).modules


def deterministic_policy(algo: str, modules: dict[str, Any], action_space, cfg=None):
    """act(obs [N, ...] numpy) -> actions [N, ...] of the trained agent acting deterministically: the greedy
    action (DQN, discrete SAC), the deterministic actor (DDPG, TD3) or the mean action (SAC), the mode of
    the action distribution (PPO, A2C, REINFORCE, TRPO, I2A), and the VAE planner's plan without exploration
    noise (its planner settings from `cfg`, the run's config, required). For common.evaluate."""
    if algo == "vae_planner":
        from nextrl.agents.model_based.vae_planner import deterministic_policy as vae_policy

        if cfg is None:
            raise ValueError("deterministic_policy: vae_planner needs the run's config (cfg) for its planner")
        return vae_policy(modules, action_space, cfg)
    if algo in ("ppo", "a2c", "reinforce", "trpo", "i2a"):
        from nextrl.agents.rollout import act_fn

        return act_fn(modules["policy"], action_space, deterministic=True)
    if algo == "dqn":
        from nextrl.agents.dqn import greedy_policy

        return greedy_policy(modules["q_network"])
    if algo == "sac_discrete":
        from nextrl.agents.sac_discrete import greedy_policy

        return greedy_policy(modules["actor"])
    module = importlib.import_module(ALGORITHMS[algo][0])
    return module.deterministic_policy(modules["actor"], action_space)


def evaluate_policy(act, env_id: str, episodes: int, seed: int) -> dict[str, Any]:
    """{"mean_return", "std_return", "returns"} of `act` over `episodes` episodes on one env of `env_id`
    (common.evaluate: episodes one after another, the env reset with `seed`)."""
    from nextrl.agents.common import evaluate

    env = make_env(env_id, 1)
    try:
        returns = evaluate(act, env, episodes, seed=seed)
    finally:
        env.close()
    return {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "returns": [float(r) for r in returns],
    }


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
    evaluations: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """the greedy evaluations in order: {"global_step", "mean_return", "std_return", "returns"}; the last is
    the final policy's"""


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, tuple):
        return list(x)
    return x


def _update_row(m: dict[str, float]) -> dict[str, Any]:
    """One update's metrics as written: global_step an int (the off-policy loop logs it as a float)."""
    return {k: int(v) if k == "global_step" else _jsonable(v) for k, v in m.items()}


def write_outputs(
    run_dir: Path,
    algo: str,
    env_id: str,
    seed: int,
    result,
    summary: dict[str, Any],
    evaluations: list[dict[str, Any]] | None = None,
) -> None:
    """config.json, metrics.csv, episodes.csv, metrics.json and learning_curve.png in `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, algo, env_id, seed, result.config, summary.get("eval_seed"))
    updates = [_update_row(m) for m in result.metrics]
    keys = sorted({k for m in updates for k in m} - {"global_step"})
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["global_step", *keys])
        for m in updates:
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
                "updates": updates,
                "episodes": episodes,
                "evaluations": evaluations or [],
            }
        )
    )
    _plot(run_dir / "learning_curve.png", f"{algo} on {env_id} (seed {seed})", result)


def write_config(run_dir: Path, algo: str, env_id: str, seed: int, cfg, eval_seed: int | None = None) -> None:
    """config.json: {"algo", "env", "seed", "eval_seed", "config"} (the config as a dict, tuples as lists)."""
    config = {k: _jsonable(v) for k, v in dataclasses.asdict(cfg).items()}
    (run_dir / "config.json").write_text(
        json.dumps({"algo": algo, "env": env_id, "seed": seed, "eval_seed": eval_seed, "config": config}, indent=2)
    )


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


class _Monitor:
    """The `log` that run() hands to train(): forwards every call to the caller's log and to TensorBoard, and,
    shown the live TrainResult through common.emit, evaluates the deterministic policy every `eval_every` env
    steps, keeping best.pt (the highest mean evaluation return so far; ties keep the earlier)."""

    def __init__(self, run: _RunSpec, log, tensorboard):
        self.run, self.log, self.tensorboard = run, log, tensorboard
        self.result = None
        self.next_eval = run.eval_every or 0
        self.evaluations: list[dict[str, Any]] = []
        self.best = -math.inf

    def watch(self, result) -> None:
        self.result = result

    def __call__(self, global_step: int, metrics: dict[str, float]) -> None:
        if self.log is not None:
            self.log(global_step, metrics)
        if self.tensorboard is not None:
            self.tensorboard(global_step, metrics)
        if self.run.eval_every and self.result is not None and global_step >= self.next_eval:
            self.next_eval = (global_step // self.run.eval_every + 1) * self.run.eval_every
            self.evaluate(int(global_step))

    def evaluate(self, global_step: int) -> dict[str, Any]:
        r = self.run
        act = deterministic_policy(r.algo, self.result.modules, r.action_space, self.result.config)
        ev = {"global_step": global_step, **evaluate_policy(act, r.env_id, r.eval_episodes, r.eval_seed)}
        self.evaluations.append(ev)
        if self.tensorboard is not None:
            self.tensorboard(global_step, {"eval/mean_return": ev["mean_return"]})
        if r.eval_every and ev["mean_return"] > self.best:
            self.best = ev["mean_return"]
            r.save(self.result, r.run_dir / "best.pt", ev)
        return ev


@dataclass
class _RunSpec:
    algo: str
    env_id: str
    seed: int
    run_dir: Path
    action_space: Any
    eval_episodes: int
    eval_every: int | None
    eval_seed: int

    def save(self, result, path: Path, evaluation: dict[str, Any] | None) -> None:
        from nextrl.agents.common import save_checkpoint

        extra = {"algo": self.algo, "env": self.env_id, "seed": self.seed, "eval_seed": self.eval_seed}
        if evaluation is not None:
            extra.update(global_step=evaluation["global_step"], eval_mean_return=evaluation["mean_return"])
        save_checkpoint(path, result, extra)


def prepare(algo: str, env_id: str, overrides: list[str] | None = None):
    """(module, config, action space) after every check a run makes before it trains: algorithm, keys and
    values, env id, the algorithm's action-space type, and train()'s own input checks on a zero budget
    (build_modules). ValueError / TypeError with a one-line message otherwise."""
    module, cfg = make_config(algo, env_id, overrides)
    env = make_env(env_id, 1)
    try:
        space = env.single_action_space
        check_action_space(algo, env_id, space)
        build_modules(module, cfg, env)
    finally:
        env.close()
    return module, cfg, space


def run(
    algo: str,
    env_id: str,
    *,
    overrides: list[str] | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    log=None,
    eval_episodes: int = 10,
    eval_every: int | None = None,
    eval_seed: int | None = None,
    tensorboard: bool = False,
) -> RunResult:
    """Trains `algo` on `env_id` with the config defaults, its preset on that env (PRESETS) and `overrides`
    ("key=value"); evaluates the final deterministic policy over `eval_episodes` episodes (0: none), and every
    `eval_every` env steps if given (best.pt then keeps the best); writes the run folder (default
    runs/<algo>-<env>-<seed>-<timestamp>/) with final.pt, TensorBoard event files if `tensorboard`, and returns
    it with the result, a summary and the evaluations. `log(global_step, metrics)` is passed through to
    train(). Raises ValueError / TypeError for an unknown algorithm, config key or env id, a value that does
    not parse, an action space the algorithm cannot train on, or bad evaluation settings, and ImportError
    when TensorBoard is asked for but not installed, all before anything is trained or written."""
    for name, v, low in (("eval_episodes", eval_episodes, 0), ("eval_every", eval_every, 1)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < low):
            raise ValueError(f"train: {name} must be an integer >= {low}, got {v!r}")
    if eval_every is not None and eval_episodes == 0:
        raise ValueError("train: eval_every needs eval_episodes >= 1")
    module, cfg, space = prepare(algo, env_id, overrides)
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(algo, env_id, seed)
    spec = _RunSpec(
        algo,
        env_id,
        seed,
        run_dir,
        space,
        eval_episodes,
        eval_every,
        seed + EVAL_SEED_OFFSET if eval_seed is None else eval_seed,
    )
    tb = None
    if tensorboard:
        from nextrl.agents.common import TensorBoardLog

        tb = TensorBoardLog(run_dir)  # ImportError naming the extra, before training
    run_dir.mkdir(parents=True, exist_ok=True)
    monitor = _Monitor(spec, log, tb)
    env = make_env(env_id, config_value(cfg, "num_envs"))
    try:
        result = module.train(env, cfg, seed=seed, log=monitor)
        final = None
        if eval_episodes:
            monitor.watch(result)
            final = monitor.evaluate(result.global_steps)
        spec.save(result, run_dir / "final.pt", final)
    finally:
        env.close()
        if tb is not None:
            tb.close()
    summary = {
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "global_steps": result.global_steps,
        "wall_time_s": result.wall_time_s,
        "episodes": len(result.episode_returns),
        "mean_return_last_20": result.mean_return(20),
        "best_return": max(result.episode_returns) if result.episode_returns else float("nan"),
        "eval_episodes": eval_episodes,
        "eval_seed": spec.eval_seed,
        "eval_mean_return": final["mean_return"] if final else float("nan"),
        "eval_std_return": final["std_return"] if final else float("nan"),
        **({"best_eval_mean_return": monitor.best} if eval_every else {}),
        **{f"time_{k}_s": v for k, v in result.time_breakdown_s.items()},
    }
    write_outputs(run_dir, algo, env_id, seed, result, summary, monitor.evaluations)
    return RunResult(run_dir, result, summary, monitor.evaluations)


def load_run(run_dir: str | Path, checkpoint: str = "final"):
    """(config.json as a dict, algorithm module, config, modules loaded from <run_dir>/<checkpoint>.pt) of a
    `nextrl train` run folder. ValueError with a one-line message for a folder without config.json, an
    unknown algorithm, a missing checkpoint or one that does not fit the networks."""
    run_dir = Path(run_dir)
    path = run_dir / f"{checkpoint}.pt"
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir} has no config.json: give a run folder written by nextrl train")
    if not path.is_file():
        hint = " (best.pt is written only with --eval-every)" if checkpoint == "best" else ""
        raise ValueError(f"{run_dir} has no {path.name}{hint}")
    info = json.loads((run_dir / "config.json").read_text())
    module, config_cls = resolve_algorithm(info["algo"])
    cfg = config_from_dict(config_cls, info["config"])
    env = make_env(info["env"], 1)
    try:
        modules = build_modules(module, cfg, env)
    finally:
        env.close()
    from nextrl.agents.common import load_checkpoint

    try:
        load_checkpoint(path, modules)
    except (KeyError, RuntimeError) as e:
        raise ValueError(f"{path} does not fit {info['algo']}'s networks: {str(e).splitlines()[0]}") from None
    return info, module, cfg, modules


__all__ = [
    "ACTION_SPACES",
    "ALGORITHMS",
    "PRESETS",
    "RunResult",
    "build_modules",
    "check_action_space",
    "config_from_dict",
    "config_value",
    "default_run_dir",
    "deterministic_policy",
    "evaluate_policy",
    "load_run",
    "make_config",
    "make_env",
    "parse_overrides",
    "prepare",
    "preset",
    "replace_value",
    "resolve_algorithm",
    "run",
    "setting_keys",
    "settings",
    "write_config",
    "write_outputs",
]
