"""model-based: model-free against model-based sample efficiency, over seeds.

1. Dyna Maze (Sutton & Barto 2018, Figure 8.2; nextrl.agents.model_based.dyna_q): tabular Dyna-Q with n planning
   steps per real step for each n of `planning_steps` (n = 0 is one-step Q-learning, the model-free baseline), alpha
   0.1, epsilon 0.1, gamma 0.95, `maze_episodes` episodes. Per seed: the steps of every episode (the book's curve),
   the first episode after which the greedy policy's path is at most `maze_path` steps (14 is the optimum; "never"
   counts as maze_episodes + 1) and the env steps taken until then.
2. Pendulum-v1 (nextrl's compiled copy of Gymnasium's), `pendulum_steps` env steps per agent and seed:
     sac    SAC alone (nextrl.agents.sac), `sac_gradient_steps` gradient steps per env step;
     mbpo   MBPO (nextrl.agents.model_based.mbpo) with the same SAC settings and `mbpo_gradient_steps` per env step,
            a learned-reward Gaussian ensemble, 1-step branched rollouts, real ratio 0.05;
     pets   PETS (nextrl.agents.model_based.pets): a Gaussian ensemble, CEM through the C++ learned model with the
            known Pendulum reward, TS-inf particles.
   The curve of each agent is its return at every multiple of `eval_every` env steps: for SAC and MBPO the mean over
   `eval_episodes` episodes of the deterministic policy (tanh of the mean action), evaluated at the first update
   after that step (reset seeds 10_000 + seed); for PETS, whose policy is the planner itself, the return of the
   training episode that ended at that step (episodes are 200 steps; eval_every must be a multiple of 200).
   Scores: the last point of each curve and the env steps until the curve first reaches `threshold` (-200; "never"
   counts as the budget), as interquartile means over seeds with stratified-bootstrap 95% intervals.

Measured (5 seeds, pendulum_steps=3000, workers=15, 16 min at load 9-18 on 2 vCPUs): PETS reaches -200 in 5 of 5
seeds after 600-1000 env steps; MBPO in 2 of 5 (at 2800 and 3000 steps; final return IQM -429 [-1157, -198]); SAC
alone in 0 of 5 (-1005 [-1293, -638]); Dyna-Q finds a <= 16-step greedy path after IQM 2.0 episodes with n = 50, 3.7
with n = 5 and 22.7 with n = 0. Again with the ensembles' normalized targets (GaussianEnsemble.fit's default since
2026-12-06; workers=4, 14 min at load 2-4): PETS 5 of 5 after 600-1000 steps (final IQM -248 [-255, -169]); MBPO 2
of 5 at 2200-2600 steps (final IQM -218 [-262, -161]); SAC and Dyna-Q unchanged. The 5000-step default has not been
run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nextrl.evaluation.results import Bootstrap, ExperimentResult, Finding, make_curve, make_score

NAME = "model-based"
DESCRIPTION = "model-free vs model-based sample efficiency: Dyna-Q vs Q-learning (Dyna Maze), PETS and MBPO vs SAC"
PENDULUM_AGENTS = ("sac", "mbpo", "pets")
EPISODE = 200  # Pendulum-v1's episode length
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Config:
    maze_episodes: int = 50
    """Dyna-Q episodes per seed and n"""
    planning_steps: tuple[int, ...] = (0, 5, 50)
    """Dyna-Q's n values (0: Q-learning)"""
    maze_path: int = 16
    """a greedy path of at most this many steps counts as found (14 is the optimum; 16 the route over the top)"""
    pendulum_steps: int = 5000
    """env steps per Pendulum agent and seed"""
    eval_every: int = 200
    """env steps between two points of the Pendulum curves (a multiple of 200)"""
    eval_episodes: int = 5
    """episodes of each SAC / MBPO evaluation"""
    threshold: float = -200.0
    """the Pendulum return that counts as solved"""
    learning_starts: int = 200
    """SAC / MBPO: uniform random env steps before learning"""
    hidden: tuple[int, ...] = (64, 64)
    """SAC / MBPO actor and critic widths"""
    batch_size: int = 128
    """SAC / MBPO batch"""
    sac_gradient_steps: int = 1
    """SAC alone: gradient steps per env step"""
    mbpo_gradient_steps: int = 10
    """MBPO: SAC gradient steps per env step (G)"""
    mbpo_hidden: tuple[int, ...] = (64, 64)
    """MBPO ensemble widths"""
    mbpo_model_updates: int = 200
    """MBPO: gradient steps per ensemble refit (every 200 env steps)"""
    mbpo_rollouts: int = 400
    """MBPO: branched rollouts every 50 env steps"""
    pets_hidden: tuple[int, ...] = (64, 64)
    """PETS ensemble widths"""
    pets_updates: int = 500
    """PETS: gradient steps per refit (every 200 env steps)"""
    pets_horizon: int = 15
    pets_population: int = 100
    pets_elites: int = 10
    pets_iterations: int = 3
    pets_particles: int = 5
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""
    workers: int = 1
    """processes the runs go to, one (seed, Dyna Maze or Pendulum agent) job at a time; results do not depend on it
    (progress then comes per job)"""

    def __post_init__(self):
        fn = "model-based"
        for key, low in (
            ("maze_episodes", 1),
            ("maze_path", 14),
            ("pendulum_steps", 2 * EPISODE),
            ("eval_every", EPISODE),
            ("eval_episodes", 1),
            ("learning_starts", 1),
            ("batch_size", 1),
            ("sac_gradient_steps", 1),
            ("mbpo_gradient_steps", 1),
            ("mbpo_model_updates", 1),
            ("mbpo_rollouts", 1),
            ("pets_updates", 1),
            ("pets_horizon", 1),
            ("pets_population", 1),
            ("pets_elites", 1),
            ("pets_iterations", 1),
            ("pets_particles", 1),
            ("bootstrap_reps", 1),
            ("workers", 1),
        ):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{fn}: {key} must be an int >= {low}, got {v!r}")
        if self.eval_every % EPISODE:
            raise ValueError(
                f"{fn}: eval_every must be a multiple of {EPISODE} (a Pendulum episode), got {self.eval_every}"
            )
        if self.pets_elites > self.pets_population:
            raise ValueError(f"{fn}: pets_elites must be <= pets_population, got {self.pets_elites}")
        if self.learning_starts >= self.pendulum_steps:
            raise ValueError(f"{fn}: learning_starts must be < pendulum_steps, got {self.learning_starts}")
        if not self.planning_steps or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in self.planning_steps
        ):
            raise ValueError(f"{fn}: planning_steps must be one or more ints >= 0, got {self.planning_steps!r}")
        for key in ("hidden", "mbpo_hidden", "pets_hidden"):
            v = getattr(self, key)
            if not v or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in v):
                raise ValueError(f"{fn}: {key} must be one or more ints >= 1, got {v!r}")


QUICK: dict[str, Any] = {
    "maze_episodes": 3,
    "planning_steps": (0, 5),
    "pendulum_steps": 400,
    "eval_episodes": 2,
    "learning_starts": 100,
    "hidden": (16, 16),
    "batch_size": 32,
    "mbpo_gradient_steps": 2,
    "mbpo_hidden": (16,),
    "mbpo_model_updates": 10,
    "mbpo_rollouts": 20,
    "pets_hidden": (16,),
    "pets_updates": 10,
    "pets_horizon": 5,
    "pets_population": 20,
    "pets_elites": 4,
    "pets_iterations": 2,
    "pets_particles": 2,
    "bootstrap_reps": 200,
}


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress: Dyna-Q episodes, then Pendulum env steps, over seeds."""
    return len(seeds) * (cfg.maze_episodes * len(cfg.planning_steps) + len(PENDULUM_AGENTS) * cfg.pendulum_steps)


def grid(cfg: Config) -> np.ndarray:
    """The env steps of the Pendulum curves' points: eval_every, 2 eval_every, ..., <= pendulum_steps."""
    return np.arange(cfg.eval_every, cfg.pendulum_steps + 1, cfg.eval_every, dtype=np.int64)


def first_reaching(steps, values, threshold: float) -> int | None:
    """The first of `steps` whose value is >= threshold (None if none is)."""
    for s, v in zip(steps, values):
        if np.isfinite(v) and v >= threshold:
            return int(s)
    return None


def run_dyna(cfg: Config, n: int, seed: int) -> dict[str, Any]:
    """One Dyna-Q run on the Dyna Maze: episode lengths, greedy path lengths, and when the path got <= maze_path."""
    from nextrl.agents.model_based import dyna_q

    res = dyna_q.train(
        dyna_q.dyna_maze(), dyna_q.DynaQConfig(num_episodes=cfg.maze_episodes, planning_steps=n), seed=seed
    )
    found = next((i + 1 for i, g in enumerate(res.greedy_lengths) if g is not None and g <= cfg.maze_path), None)
    return {
        "episode_lengths": [int(x) for x in res.episode_lengths],
        "greedy_lengths": res.greedy_lengths,
        "episodes_to_path": found,
        "steps_to_path": None if found is None else int(sum(res.episode_lengths[:found])),
    }


def _pendulum(num_envs: int):
    from nextrl.envs import PendulumVectorEnv

    return PendulumVectorEnv(num_envs)


def _sac_config(cfg: Config, gradient_steps: int):
    from nextrl.agents import sac

    return sac.SACConfig(
        total_timesteps=cfg.pendulum_steps,
        learning_starts=cfg.learning_starts,
        gradient_steps=gradient_steps,
        hidden=tuple(cfg.hidden),
        batch_size=cfg.batch_size,
    )


class _EvalLog:
    """The log callback that evaluates the deterministic policy at the first update after each grid step."""

    def __init__(self, cfg: Config, seed: int):
        self.cfg, self.seed, self.points = cfg, seed, grid(cfg)
        self.values = np.full(len(self.points), np.nan)
        self.next = 0
        self.result = None
        self.seconds = 0.0
        """time spent evaluating (taken off the run's wall-clock)"""

    def watch(self, result) -> None:
        self.result = result

    def __call__(self, step: int, _metrics) -> None:
        if self.result is None:
            return
        while self.next < len(self.points) and step >= self.points[self.next]:
            self.values[self.next] = self.evaluate()
            self.next += 1

    def evaluate(self) -> float:
        from nextrl.agents import sac
        from nextrl.agents.common import evaluate

        t = time.perf_counter()
        env = _pendulum(self.cfg.eval_episodes)
        act = sac.deterministic_policy(self.result.modules["actor"], env.single_action_space)
        value = float(evaluate(act, env, self.cfg.eval_episodes, seed=10_000 + self.seed).mean())
        self.seconds += time.perf_counter() - t
        return value

    def finish(self, result) -> np.ndarray:
        """Points not reached by an update (the last one, when the run ends on it) are evaluated now."""
        self.result = result
        while self.next < len(self.points):
            self.values[self.next] = self.evaluate()
            self.next += 1
        return self.values


def run_pendulum(agent: str, cfg: Config, seed: int) -> dict[str, Any]:
    """One Pendulum run of `agent`: its curve on grid(cfg), training episode returns and wall-clock seconds
    (training only: SAC / MBPO evaluations not counted)."""
    import torch

    from nextrl.agents import sac
    from nextrl.agents.model_based import mbpo, pets
    from nextrl.planning import CEM

    if agent not in PENDULUM_AGENTS:
        raise ValueError(f"model-based: agent must be one of {', '.join(PENDULUM_AGENTS)}, got {agent!r}")
    torch.set_num_threads(1)
    t0, paused = time.perf_counter(), 0.0
    if agent == "pets":
        pc = pets.PETSConfig(
            total_steps=cfg.pendulum_steps,
            init_steps=EPISODE,
            train_every=EPISODE,
            hidden=tuple(cfg.pets_hidden),
            updates=cfg.pets_updates,
            particles=cfg.pets_particles,
            propagation="tsinf",
            planner=CEM(
                horizon=cfg.pets_horizon,
                population=cfg.pets_population,
                num_elites=cfg.pets_elites,
                iterations=cfg.pets_iterations,
            ),
            reward="pendulum",
        )
        res = pets.train(_pendulum(1), pc, seed=seed)
        returns, ends = res.episode_returns, res.episode_steps
        by_end = dict(zip(ends, returns))
        values = np.array([by_end.get(int(p), np.nan) for p in grid(cfg)])
    else:
        log = _EvalLog(cfg, seed)
        if agent == "sac":
            res = sac.train(_pendulum(1), _sac_config(cfg, cfg.sac_gradient_steps), seed=seed, log=log)
        else:
            mc = mbpo.MBPOConfig(
                sac=_sac_config(cfg, cfg.mbpo_gradient_steps),
                model_train_freq=EPISODE,
                model_hidden=tuple(cfg.mbpo_hidden),
                model_updates=cfg.mbpo_model_updates,
                rollout_every=50,
                rollout_batch_size=cfg.mbpo_rollouts,
                model_retain=10,
            )
            res = mbpo.train(_pendulum(1), mc, seed=seed, log=log)
        values = log.finish(res)
        paused = log.seconds
        returns, ends = res.episode_returns, res.episode_end_steps
    return {
        "curve": [float(v) for v in values],
        "train_returns": [float(r) for r in returns],
        "train_end_steps": [int(s) for s in ends],
        "seconds": time.perf_counter() - t0 - paused,
    }


def _plot_maze(per: dict[int, list[dict]], cfg: Config) -> Callable[[Path], list[str]]:
    def figure(out: Path) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        x = np.arange(1, cfg.maze_episodes + 1)
        for i, n in enumerate(cfg.planning_steps):
            lengths = np.array([r["episode_lengths"] for r in per[n]], dtype=np.float64)
            ax.plot(x, lengths.mean(0), color=f"C{i}", label=f"n = {n} (mean of {len(lengths)} seeds)")
            ax.fill_between(x, lengths.min(0), lengths.max(0), color=f"C{i}", alpha=0.2, linewidth=0)
        ax.axhline(14, color="k", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("episode")
        ax.set_ylabel("steps per episode")
        ax.set_title("Dyna Maze: steps per episode (band: min to max over seeds; dotted: optimum 14)", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "dyna_maze.png", dpi=100)
        plt.close(fig)
        return ["dyna_maze.png"]

    return figure


def run_job(cfg: Config, job: str, seed: int) -> Any:
    """One unit of the experiment: job "maze" (every Dyna-Q n, {n: run_dyna}) or a Pendulum agent (run_pendulum)."""
    if job == "maze":
        return {n: run_dyna(cfg, n, seed) for n in cfg.planning_steps}
    return run_pendulum(job, cfg, seed)


def _job_units(cfg: Config, job: str) -> int:
    return cfg.maze_episodes * len(cfg.planning_steps) if job == "maze" else cfg.pendulum_steps


def run_jobs(cfg: Config, seeds: list[int], progress: Progress | None = None) -> dict[tuple[str, int], Any]:
    """run_job for every (job, seed), in this process (workers = 1) or in cfg.workers spawned processes."""
    jobs = [(job, seed) for seed in seeds for job in ("maze", *PENDULUM_AGENTS)]
    out: dict[tuple[str, int], Any] = {}
    if cfg.workers == 1:
        for job, seed in jobs:
            out[job, seed] = run_job(cfg, job, seed)
            if progress is not None:
                progress(_job_units(cfg, job), f"{job} seed {seed}")
        return out
    import concurrent.futures
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(cfg.workers, len(jobs)), mp_context=ctx) as pool:
        futures = {pool.submit(run_job, cfg, job, seed): (job, seed) for job, seed in jobs}
        for f in concurrent.futures.as_completed(futures):
            job, seed = futures[f]
            out[job, seed] = f.result()  # raises a worker's error here
            if progress is not None:
                progress(_job_units(cfg, job), f"{job} seed {seed}")
    return out


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    """Runs every Dyna-Q n and every Pendulum agent once per seed; scores with bootstrap intervals."""
    if not seeds:
        raise ValueError("model-based: seeds must not be empty")
    start = time.perf_counter()
    boot = Bootstrap(reps=cfg.bootstrap_reps)
    done = run_jobs(cfg, seeds, progress)
    maze = {n: [done["maze", seed][n] for seed in seeds] for n in cfg.planning_steps}
    pend = {a: [done[a, seed] for seed in seeds] for a in PENDULUM_AGENTS}

    never_ep, budget = cfg.maze_episodes + 1, cfg.pendulum_steps
    scores, curves, findings = [], [], []
    for n in cfg.planning_steps:
        agent = f"dyna-q n={n}"
        eps = [never_ep if r["episodes_to_path"] is None else r["episodes_to_path"] for r in maze[n]]
        scores.append(make_score("DynaMaze", agent, f"episodes to a <= {cfg.maze_path}-step greedy path", eps, boot))
        total = [sum(r["episode_lengths"]) for r in maze[n]]
        scores.append(make_score("DynaMaze", agent, f"env steps in {cfg.maze_episodes} episodes", total, boot))
    points = grid(cfg)
    for agent in PENDULUM_AGENTS:
        runs = pend[agent]
        values = np.array([r["curve"] for r in runs])
        curves.append(make_curve("Pendulum-v1", agent, "return", points, values, boot))
        scores.append(make_score("Pendulum-v1", agent, "final return", values[:, -1], boot, steps=budget))
        reach = [first_reaching(points, r["curve"], cfg.threshold) for r in runs]
        steps = [budget if s is None else s for s in reach]
        scores.append(
            make_score("Pendulum-v1", agent, f"env steps to {cfg.threshold:g} (budget if never)", steps, boot)
        )
        scores.append(make_score("Pendulum-v1", agent, "wall-clock s", [r["seconds"] for r in runs], boot))
        ok = [s for s in reach if s is not None]
        text = f"{agent}: {len(ok)} of {len(seeds)} seeds reached {cfg.threshold:g} within {budget} env steps"
        if ok:
            text += f", after {min(ok)} to {max(ok)} steps"
        findings.append(Finding(bool(ok), text))
    by = {(s.agent, s.metric): s for s in scores}
    reach_metric = f"env steps to {cfg.threshold:g} (budget if never)"
    m, s = by[("mbpo", reach_metric)].iqm, by[("sac", reach_metric)].iqm
    head = f"env steps to {cfg.threshold:g}: MBPO IQM {m.point:.0f} [{m.low:.0f}, {m.high:.0f}] vs SAC {s.point:.0f} "
    head += f"[{s.low:.0f}, {s.high:.0f}]"
    if m.high < s.low:
        findings.append(Finding(True, head + ": MBPO needs fewer env steps (intervals do not overlap)"))
    elif m.low > s.high:
        findings.append(Finding(False, head + ": SAC needs fewer env steps (intervals do not overlap)"))
    else:
        findings.append(Finding(False, head + ": the intervals overlap, no difference shown"))
    ep_metric = f"episodes to a <= {cfg.maze_path}-step greedy path"
    for n in cfg.planning_steps:
        sc = by[(f"dyna-q n={n}", ep_metric)]
        found = sum(r["episodes_to_path"] is not None for r in maze[n])
        findings.append(
            Finding(
                found == len(seeds),
                f"Dyna-Q n={n}: {found} of {len(seeds)} seeds found a <= {cfg.maze_path}-step greedy path within "
                f"{cfg.maze_episodes} episodes; episodes IQM {sc.iqm.point:.1f} [{sc.iqm.low:.1f}, {sc.iqm.high:.1f}]"
                f" (never = {never_ep})",
            )
        )
    setup = [
        f"Dyna Maze (6 x 9, Sutton & Barto Figure 8.2): Dyna-Q with n in {list(cfg.planning_steps)}, alpha 0.1, "
        f"epsilon 0.1, gamma 0.95, learned deterministic model, {cfg.maze_episodes} episodes per run",
        f"Pendulum-v1, {cfg.pendulum_steps} env steps per run; SAC and MBPO: {list(cfg.hidden)} ReLU actor and twin "
        f"critics, batch {cfg.batch_size}, {cfg.learning_starts} random steps; SAC {cfg.sac_gradient_steps} and MBPO "
        f"{cfg.mbpo_gradient_steps} gradient steps per env step",
        f"MBPO: 5-member Gaussian ensemble {list(cfg.mbpo_hidden)} SiLU with a reward head, refit every 200 env steps "
        f"({cfg.mbpo_model_updates} gradient steps), {cfg.mbpo_rollouts} 1-step rollouts every 50 env steps (TS-1), "
        f"model buffer of the last 10 rounds, real ratio 0.05",
        f"PETS: 5-member Gaussian ensemble {list(cfg.pets_hidden)} SiLU, refit every 200 env steps "
        f"({cfg.pets_updates} gradient steps); CEM horizon {cfg.pets_horizon}, population {cfg.pets_population}, "
        f"{cfg.pets_elites} elites, {cfg.pets_iterations} iterations, {cfg.pets_particles} TS-inf particles, the "
        "known Pendulum reward; the first 200 steps random",
        f"curves: SAC / MBPO deterministic policy over {cfg.eval_episodes} episodes every {cfg.eval_every} env steps "
        "(at the first update after that step; reset seed 10000 + seed); PETS: its training episode ending there; "
        "one torch thread per run",
    ]
    extra = {
        "maze": {str(n): maze[n] for n in cfg.planning_steps},
        "pendulum": pend,
        "grid": [int(p) for p in points],
    }
    return ExperimentResult(
        name=NAME,
        title="model-based: sample efficiency of model-based against model-free agents",
        summary=(
            "How many env steps do model-based agents (Dyna-Q on the Dyna Maze; PETS and MBPO on Pendulum) save over "
            "model-free ones (Q-learning; SAC) on the same budgets?"
        ),
        seeds=list(seeds),
        config=dataclasses.asdict(cfg),
        setup=setup,
        scores=scores,
        curves=curves,
        findings=findings,
        references=[
            "Sutton & Barto 2018, Reinforcement Learning: An Introduction (2nd ed.), section 8.2, Figure 8.2",
            "Chua, Calandra, McAllister, Levine 2018, Deep reinforcement learning in a handful of trials using "
            "probabilistic dynamics models (PETS)",
            "Janner, Fu, Zhang, Levine 2019, When to trust your model: model-based policy optimization (MBPO)",
            "Haarnoja et al. 2018, Soft actor-critic algorithms and applications (SAC)",
        ],
        bootstrap=boot,
        wall_time_s=time.perf_counter() - start,
        extra=extra,
        figures=[_plot_maze(maze, cfg)],
    )


__all__ = [
    "DESCRIPTION",
    "NAME",
    "PENDULUM_AGENTS",
    "QUICK",
    "Config",
    "first_reaching",
    "grid",
    "run",
    "run_dyna",
    "run_job",
    "run_jobs",
    "run_pendulum",
    "total_work",
]
