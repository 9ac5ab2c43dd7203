"""rl-core: the RL core's agents on CartPole and Pendulum over seeds, against published reference returns.

Each case trains one agent (its `train(env, cfg, seed=...)`) on nextrl's compiled vector env for a fixed
budget, once per seed, then measures:
  eval return      mean return of the final policy acting deterministically (greedy / mean action) over
                   `eval_episodes` episodes on a single env seeded apart from training (10_000 + seed). One env
                   plays its episodes one after another, so no episode length is favoured.
  train return     mean return of the last 20 training episodes (CleanRL's "average episodic return").
  learning curves  at `curve_points` steps, the mean return of the last `curve_window` training episodes that
                   ended by then; the across-seed mean with a bootstrap band.
  random policy    the same evaluation for uniformly random actions: the 0 of the normalized aggregate.
Normalized score = (eval return - random) / (reference - random): 1 is the published figure, 0 random play.

References are published constants with their sources (`REFERENCES`), never results of a run:
  SB3 zoo: DLR-RM/rl-baselines3-zoo, benchmark.md ("Performance of trained agents", commit 0088472b):
           mean and std of the deterministic policy's episode returns over `eval_episodes` episodes of ONE
           trained agent (its std is over episodes, not seeds).
  CleanRL: vwxyzjn/cleanrl, docs/rl-algorithms/ppo.md, ppo.py row: average episodic (training) return and its
           std over 3 seeds after 500k steps, with the hyperparameters that are PPOConfig's defaults here.
Goals: Gymnasium's reward_threshold of CartPole-v1 (475, read from its registration); -200 for Pendulum-v1,
which Gymnasium gives none (REFERENCES.md: SAC and TD3 reach about -150 to -200 within 2e4 steps).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nextrl.evaluation.results import (
    Bootstrap,
    ExperimentResult,
    Finding,
    Reference,
    Score,
    make_aggregate,
    make_curve,
    make_score,
)

NAME = "rl-core"
DESCRIPTION = "PPO, A2C, DQN on CartPole and SAC, TD3 on Pendulum over seeds, against CleanRL / SB3-zoo returns"

ENVS = {"cartpole": "nextrl/CartPole-v1", "pendulum": "nextrl/Pendulum-v1"}
PENDULUM_GOAL = -200.0

_ZOO = "SB3 zoo, DLR-RM/rl-baselines3-zoo benchmark.md (commit 0088472b), row"
REFERENCES: dict[tuple[str, str, str], Reference] = {
    ("cartpole", "ppo", "eval return"): Reference(500.0, f"{_ZOO} ppo CartPole-v1", 0.0, 100_000),
    ("cartpole", "ppo", "train return"): Reference(
        492.40, "CleanRL, vwxyzjn/cleanrl docs/rl-algorithms/ppo.md, ppo.py CartPole-v1 (3 seeds)", 13.05, 500_000
    ),
    ("cartpole", "a2c", "eval return"): Reference(500.0, f"{_ZOO} a2c CartPole-v1", 0.0, 500_000),
    ("cartpole", "dqn", "eval return"): Reference(500.0, f"{_ZOO} dqn CartPole-v1", 0.0, 50_000),
    ("pendulum", "ppo", "eval return"): Reference(-172.225, f"{_ZOO} ppo Pendulum-v1", 104.159, 100_000),
    ("pendulum", "sac", "eval return"): Reference(-156.995, f"{_ZOO} sac Pendulum-v1", 88.714, 20_000),
    ("pendulum", "td3", "eval return"): Reference(-151.855, f"{_ZOO} td3 Pendulum-v1", 90.227, 20_000),
    ("pendulum", "ddpg", "eval return"): Reference(-152.099, f"{_ZOO} ddpg Pendulum-v1", 94.282, 20_000),
}

# Hyperparameters beyond the budget, per case; anything not named keeps the algorithm's config default.
HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "cartpole/ppo": {},  # PPOConfig defaults = CleanRL ppo.py's (the run of issue 12's PPO question)
    "cartpole/a2c": {},
    "cartpole/dqn": {},  # DQNConfig defaults: rl-zoo's tuned DQN, double Q, 3-step returns
    # the cheap settings of tests/agents/test_offpolicy_learning.py (64x64 networks, batch 128)
    "pendulum/sac": {"hidden": (64, 64), "batch_size": 128},
    "pendulum/td3": {"hidden": (64, 64), "batch_size": 128},
    "pendulum/ddpg": {"hidden": (64, 64), "batch_size": 128},
    # rl-zoo's PPO Pendulum-v1 settings without gSDE (which nextrl's PPO does not have)
    "pendulum/ppo": {
        "num_envs": 4,
        "num_steps": 1024,
        "gamma": 0.9,
        "gae_lambda": 0.95,
        "update_epochs": 10,
        "learning_rate": 1e-3,
        "ent_coef": 0.0,
        "num_minibatches": 64,
    },
}
CASES = tuple(HYPERPARAMETERS)


@dataclass(frozen=True)
class Config:
    cases: tuple[str, ...] = ("cartpole/ppo", "cartpole/a2c", "cartpole/dqn", "pendulum/sac", "pendulum/td3")
    """env/agent pairs to run, from: cartpole/ppo, cartpole/a2c, cartpole/dqn, pendulum/sac, pendulum/td3,
    pendulum/ddpg, pendulum/ppo"""
    cartpole_ppo_steps: int = 500_000
    """environment steps of PPO on CartPole (PPOConfig's default)"""
    cartpole_a2c_steps: int = 200_000
    """environment steps of A2C on CartPole"""
    cartpole_dqn_steps: int = 24_000
    """environment steps of DQN on CartPole (DQNConfig's default)"""
    pendulum_sac_steps: int = 6_000
    """environment steps of SAC on Pendulum (tests/agents/test_offpolicy_learning.py's budget)"""
    pendulum_td3_steps: int = 8_000
    """environment steps of TD3 on Pendulum (tests/agents/test_offpolicy_learning.py's budget)"""
    pendulum_ddpg_steps: int = 8_000
    """environment steps of DDPG on Pendulum"""
    pendulum_ppo_steps: int = 100_000
    """environment steps of PPO on Pendulum"""
    eval_episodes: int = 10
    """episodes of the final deterministic policy (and of the random policy) per seed"""
    curve_points: int = 50
    """points of each learning curve, evenly spaced over the budget"""
    curve_window: int = 20
    """training episodes averaged at each curve point"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""
    bootstrap_seed: int = 0
    """seed of the bootstrap resampling"""

    def __post_init__(self):
        bad = [c for c in self.cases if c not in CASES]
        if bad or not self.cases:
            raise ValueError(
                f"rl-core: cases must be a non-empty list from {', '.join(CASES)}, got "
                f"{', '.join(self.cases) or 'none'}"
            )
        if len(set(self.cases)) != len(self.cases):
            raise ValueError(f"rl-core: cases must not repeat, got {', '.join(self.cases)}")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_steps") and v < 1:
                raise ValueError(f"rl-core: {f.name} must be >= 1, got {v}")
        for name in ("eval_episodes", "curve_points", "curve_window", "bootstrap_reps"):
            if getattr(self, name) < 1:
                raise ValueError(f"rl-core: {name} must be >= 1, got {getattr(self, name)}")

    def steps(self, case: str) -> int:
        return getattr(self, case.replace("/", "_") + "_steps")


QUICK: dict[str, Any] = {
    "cartpole_ppo_steps": 2048,
    "cartpole_a2c_steps": 1024,
    "cartpole_dqn_steps": 1200,
    "pendulum_sac_steps": 600,
    "pendulum_td3_steps": 600,
    "pendulum_ddpg_steps": 600,
    "pendulum_ppo_steps": 4096,
    "eval_episodes": 2,
    "curve_points": 10,
    "bootstrap_reps": 200,
}
"""`nextrl run rl-core --quick`: a smoke run in seconds (nothing learns at these budgets)."""

Progress = Callable[[int, str], None]


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress a run reports: environment steps of training summed over cases and seeds."""
    return sum(cfg.steps(c) for c in cfg.cases) * len(seeds)


def _algorithm(agent: str):
    from nextrl.experiments.train import resolve_algorithm

    return resolve_algorithm(agent)


def _policy(agent: str, result, action_space) -> Callable[[np.ndarray], np.ndarray]:
    """The deterministic policy of a trained agent, act(obs [N, ...]) -> actions, for common.evaluate."""
    from nextrl.agents import ddpg, dqn, sac, td3
    from nextrl.agents.rollout import act_fn

    m = result.modules
    if agent in ("ppo", "a2c"):
        return act_fn(m["policy"], action_space, deterministic=True)
    if agent == "dqn":
        return dqn.greedy_policy(m["q_network"])
    module = {"sac": sac, "td3": td3, "ddpg": ddpg}[agent]
    return module.deterministic_policy(m["actor"], action_space)


def _random_policy(action_space, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray) -> np.ndarray:
        n = len(obs)
        if hasattr(action_space, "n"):
            return rng.integers(0, action_space.n, size=n)
        return rng.uniform(action_space.low, action_space.high, size=(n, *action_space.shape)).astype(
            action_space.dtype
        )

    return act


def learning_curve(end_steps, returns, grid: np.ndarray, window: int) -> np.ndarray:
    """[len(grid)]: at each grid step, the mean return of the last `window` episodes that ended by then (NaN
    before the first ends). end_steps, returns: [num_episodes] in the order the episodes ended."""
    s, r = np.asarray(end_steps, dtype=np.int64), np.asarray(returns, dtype=np.float64)
    out = np.full(len(grid), np.nan)
    counts = np.searchsorted(s, grid, side="right")  # episodes ended at or before each grid point
    for j, k in enumerate(counts):
        if k:
            out[j] = r[max(0, k - window) : k].mean()
    return out


def _evaluate(act, env_id: str, episodes: int, seed: int) -> float:
    from nextrl.agents.common import evaluate
    from nextrl.experiments.train import make_env

    env = make_env(env_id, 1)  # one env: episodes in sequence, none favoured by its length
    try:
        return float(evaluate(act, env, episodes, seed=seed).mean())
    finally:
        env.close()


def _train_case(case: str, cfg: Config, seed: int, progress: Progress | None) -> dict[str, Any]:
    from nextrl.experiments.train import make_env

    env_key, agent = case.split("/")
    module, config_cls = _algorithm(agent)
    acfg = config_cls(**{**HYPERPARAMETERS[case], "total_timesteps": cfg.steps(case)})
    env = make_env(ENVS[env_key], acfg.num_envs)
    done = [0]

    def log(step: int, _metrics: dict[str, float]) -> None:
        step = min(step, acfg.total_timesteps)
        if progress is not None and step > done[0]:
            progress(step - done[0], f"{agent} {ENVS[env_key]} seed {seed}")
            done[0] = step

    try:
        t = time.perf_counter()
        result = module.train(env, acfg, seed=seed, log=log)
        wall = time.perf_counter() - t
        space = env.single_action_space
    finally:
        env.close()
    if progress is not None and acfg.total_timesteps > done[0]:
        progress(acfg.total_timesteps - done[0], f"{agent} {ENVS[env_key]} seed {seed}")
    eval_return = _evaluate(_policy(agent, result, space), ENVS[env_key], cfg.eval_episodes, 10_000 + seed)
    return {
        "result": result,
        "config": acfg,
        "eval_return": eval_return,
        "wall_time_s": wall,
        "train_return": result.mean_return(20),
    }


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    """Trains every case of `cfg` once per seed and returns scores, curves, aggregates and findings."""
    import gymnasium as gym

    import nextrl  # noqa: F401  (registers nextrl/... ids)
    from nextrl.experiments.train import make_env

    if not seeds:
        raise ValueError("rl-core: seeds must not be empty")
    start = time.perf_counter()
    boot = Bootstrap(reps=cfg.bootstrap_reps, seed=cfg.bootstrap_seed)
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in cfg.cases}
    for case in cfg.cases:
        for seed in seeds:
            runs[case].append(_train_case(case, cfg, seed, progress))
    random_returns: dict[str, list[float]] = {}
    for env_key in dict.fromkeys(c.split("/")[0] for c in cfg.cases):
        env = make_env(ENVS[env_key], 1)
        space = env.single_action_space
        env.close()
        random_returns[env_key] = [
            _evaluate(_random_policy(space, 20_000 + s), ENVS[env_key], cfg.eval_episodes, 10_000 + s) for s in seeds
        ]

    scores: list[Score] = []
    curves = []
    for env_key, values in random_returns.items():
        scores.append(make_score(ENVS[env_key], "random", "eval return", values, boot))
    for case in cfg.cases:
        env_key, agent = case.split("/")
        task, steps = ENVS[env_key], cfg.steps(case)
        for metric, key in (("eval return", "eval_return"), ("train return", "train_return")):
            vals = [r[key] for r in runs[case]]
            if metric == "train return" and not all(np.isfinite(vals)):
                continue  # some seed finished no training episode
            scores.append(
                make_score(
                    task, agent, metric, vals, boot, steps=steps, reference=REFERENCES.get((env_key, agent, metric))
                )
            )
        grid = np.linspace(steps / cfg.curve_points, steps, cfg.curve_points).round().astype(np.int64)
        values = np.stack(
            [
                learning_curve(r["result"].episode_end_steps, r["result"].episode_returns, grid, cfg.curve_window)
                for r in runs[case]
            ]
        )
        curves.append(
            make_curve(task, agent, f"training return (mean of last {cfg.curve_window} episodes)", grid, values, boot)
        )

    # normalized eval returns: 0 = random policy (this run), 1 = the published reference
    columns, names = [], []
    for case in cfg.cases:
        env_key, agent = case.split("/")
        ref = REFERENCES.get((env_key, agent, "eval return"))
        if ref is None:
            continue
        rand = float(np.mean(random_returns[env_key]))
        columns.append([(r["eval_return"] - rand) / (ref.value - rand) for r in runs[case]])
        names.append(f"{agent} {env_key}")
    aggregates = []
    if columns:
        aggregates.append(make_aggregate("all cases", names, np.array(columns).T, boot))

    goals = {"cartpole": float(gym.spec("CartPole-v1").reward_threshold), "pendulum": PENDULUM_GOAL}
    findings = _findings(cfg, scores, curves, goals, runs)
    setup = _setup(cfg, runs, goals)
    return ExperimentResult(
        name=NAME,
        title="rl-core: the RL core's agents on CartPole and Pendulum",
        summary=(
            "Do nextrl's agents reach the returns that CleanRL and the SB3 zoo publish for the same "
            "algorithms on CartPole-v1 and Pendulum-v1, and how do their learning curves vary over seeds? "
            "Agents train on nextrl's compiled envs (nextrl/CartPole-v1, nextrl/Pendulum-v1)."
        ),
        seeds=list(seeds),
        config=_jsonable_config(cfg),
        setup=setup,
        scores=scores,
        curves=curves,
        aggregates=aggregates,
        aggregate_note=(
            "Normalized eval return: (return - random policy's return in this run) / (published "
            "reference - random); 1 = the reference, 0 = random play. Each case is one task of the "
            "stratified bootstrap. The references trained for the steps in the results table, which "
            "may differ from this run's budgets."
        ),
        findings=findings,
        references=sorted({s.reference.source for s in scores if s.reference is not None}),
        bootstrap=boot,
        wall_time_s=time.perf_counter() - start,
        extra={
            "train_wall_time_s": {c: [r["wall_time_s"] for r in runs[c]] for c in cfg.cases},
            "goals": {ENVS[k]: v for k, v in goals.items()},
        },
    )


def _jsonable_config(cfg: Config) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def _setup(cfg: Config, runs: dict[str, list[dict[str, Any]]], goals: dict[str, float]) -> list[str]:
    lines = []
    for case in cfg.cases:
        acfg = runs[case][0]["config"]
        extra = ", ".join(f"{k}={v}" for k, v in HYPERPARAMETERS[case].items()) or "the config defaults"
        lines.append(f"{case}: {type(acfg).__name__}, {cfg.steps(case):,} env steps, {acfg.num_envs} env(s), {extra}")
    lines.append(
        f"eval return: deterministic final policy, {cfg.eval_episodes} episodes on one env (reset seed "
        f"10000 + seed); train return: mean of the last 20 training episodes"
    )
    lines.append(f"random policy: uniform actions, {cfg.eval_episodes} episodes per seed, same evaluation")
    lines.append(
        f"learning curves: {cfg.curve_points} points, each the mean of the last {cfg.curve_window} "
        f"training episodes; bands are bootstrap intervals of the mean over seeds"
    )
    lines.append("goals: " + ", ".join(f"{ENVS[k]} {v:g}" for k, v in goals.items()))
    return lines


def _findings(
    cfg: Config, scores: list[Score], curves, goals: dict[str, float], runs: dict[str, list[dict[str, Any]]]
) -> list[Finding]:
    out: list[Finding] = []
    conf = "95%"
    by_key = {(s.task, s.agent, s.metric): s for s in scores}
    for case in cfg.cases:
        env_key, agent = case.split("/")
        task = ENVS[env_key]
        s = by_key[(task, agent, "eval return")]
        goal = goals[env_key]
        iv = s.iqm
        what = (
            f"{agent} on {task} after {s.steps:,} steps: eval return IQM {iv.point:.1f}, {conf} CI "
            f"[{iv.low:.1f}, {iv.high:.1f}] over {iv.num_runs} seeds"
        )
        if iv.num_runs < 2:
            out.append(
                Finding(
                    iv.point >= goal,
                    f"{what}; {'at or above' if iv.point >= goal else 'below'} the "
                    f"goal {goal:g} (one seed: no interval)",
                )
            )
        elif iv.low >= goal:
            out.append(Finding(True, f"{what}: the whole interval is at or above the goal {goal:g}"))
        elif iv.high < goal:
            out.append(Finding(False, f"{what}: the whole interval is below the goal {goal:g}"))
        else:
            out.append(Finding(False, f"{what}: the interval contains the goal {goal:g} (not shown either way)"))
        n_goal = sum(v >= goal for v in s.values)
        if s.reference is not None:
            ref = s.reference
            rel = "above" if iv.low > ref.value else "below" if iv.high < ref.value else "consistent with"
            out.append(
                Finding(
                    rel != "below",
                    f"{agent} on {task}: {n_goal} of {len(s.values)} seeds reach the "
                    f"goal; the IQM interval is {rel} the published {ref.value:g} "
                    f"({ref.steps or 0:,} steps)",
                )
            )
        t = by_key.get((task, agent, "train return"))
        if t is not None and t.reference is not None:
            rel = (
                "above"
                if t.iqm.low > t.reference.value
                else "below"
                if t.iqm.high < t.reference.value
                else "consistent with"
            )
            out.append(
                Finding(
                    rel != "below",
                    f"{agent} on {task}: train return (last 20 episodes) mean "
                    f"{t.mean:.1f} ± {t.std:.1f} (std over seeds), IQM interval "
                    f"[{t.iqm.low:.1f}, {t.iqm.high:.1f}], {rel} the published "
                    f"{t.reference.value:g} ± {t.reference.spread:g}",
                )
            )
    for c in curves:
        env_key = next(k for k, v in ENVS.items() if v == c.task)
        finite = np.isfinite(c.point)
        if not finite.any():
            out.append(Finding(False, f"{c.agent} on {c.task}: no training episode ended, no learning curve"))
            continue
        peak_j = int(np.nanargmax(c.point))
        peak, final = float(c.point[peak_j]), float(c.point[-1])
        rand = float(np.mean(by_key[(c.task, "random", "eval return")].values))
        goal = goals[env_key]
        at = f"{int(c.steps[peak_j]):,} steps"
        if peak - rand < 0.5 * (goal - rand):
            out.append(
                Finding(
                    False,
                    f"{c.agent} on {c.task}: the seed-mean training curve never gets halfway "
                    f"from random play ({rand:.1f}) to the goal {goal:g}: peak {peak:.1f} at {at}",
                )
            )
        elif final < peak - 0.1 * (peak - rand):
            out.append(
                Finding(
                    False,
                    f"{c.agent} on {c.task}: the seed-mean training curve peaks at {peak:.1f} "
                    f"({at}) and ends at {final:.1f}: it does not hold its best level (it falls "
                    f"{100 * (peak - final) / (peak - rand):.0f}% of the way back to random "
                    f"play, {rand:.1f})",
                )
            )
        else:
            out.append(
                Finding(
                    True,
                    f"{c.agent} on {c.task}: the seed-mean training curve holds its best level: it ends at "
                    f"{final:.1f} against its peak {peak:.1f} ({at}), less than 10% of the way from the "
                    f"peak back to random play ({rand:.1f})",
                )
            )
    return out


__all__ = [
    "CASES",
    "DESCRIPTION",
    "ENVS",
    "HYPERPARAMETERS",
    "NAME",
    "QUICK",
    "REFERENCES",
    "Config",
    "learning_curve",
    "run",
    "total_work",
]
