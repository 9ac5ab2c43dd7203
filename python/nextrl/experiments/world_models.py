"""world-models: the documents' world-model demos done honestly, over seeds with bootstrap intervals.

1. PointMass (nextrl/PointMass-v0; `task=pendulum`: nextrl/Pendulum-v1; `task=cartpole`: nextrl/CartPole-v1), episodes
   of `episode_steps`, `num_envs` envs, `train_steps` env steps per learning agent and seed. Box-action tasks: PlaNet
   (RSSM + latent CEM), the Dreamer-style agent (actor-critic in imagination), the variational-model planner
   (agents.model_based.vae_planner), SAC and PPO. CartPole (two discrete actions): PlaNet (one-hot actions into the
   RSSM, CategoricalCEM in latent space; the settings of test_planet.py's CartPole test), the Dreamer-style agent
   (categorical actor, REINFORCE; test_dreamer_discrete.py's settings, on its 4 envs (at most `num_envs`): one update
   per vector step, so one per 4 env steps; on 8 envs, half the updates per env step, it scored 112 / 41 / 84 against
   212 / 144 / 184 on 4 envs at 5000 env steps, seeds 0 / 1 / 2), PPO (rl-zoo's CartPole settings, train.PRESETS), DQN
   and discrete SAC (their CartPole-tuned defaults, one env each). Return vs env steps (mean of the last
   `final_episodes` training episodes ended by each step) and the final score (the mean of the last `final_episodes`
   training episodes: every agent is scored on the episodes it collected while learning, its exploration noise
   included). References in the same run: MPC on the exact dynamics (`mpc_episodes` episodes; Box actions: CEM at
   PlaNet's budget; CartPole: CategoricalCEM over the env's ExactModel, horizon 25, 100 candidates, 10 elites, 3
   iterations, the settings of tests/planning/test_categorical_cem.py) and uniform random actions. Part 2 needs the
   vae-planner, part 3 PlaNet or the vae-planner among the agents: on CartPole part 2 is not run (the vae-planner takes
   Box actions) and part 3 measures PlaNet's RSSM alone.
2. Planning-horizon sweep (the documents' sweep, over the imagination agent): each seed's trained variational
   model and value, planning at horizons `horizons` with and without the terminal value, `sweep_episodes`
   episodes each (no exploration noise).
3. Prediction error vs rollout length: on held-out random-action sequences, the open-loop observation error
   (sum of squares over the observation, as a fraction of its variance) k = 1..`prediction_horizon` steps ahead,
   of the variational model (from the real observation) and of PlaNet's RSSM (filtered on 5 real steps first).
4. I2A against A2C (agents.model_based.i2a) on a 6x6 gridworld with 5 pits, random starts, `i2a_steps` env steps:
   return vs env steps and the final return of the sampling policy over 256 evaluation episodes (seeded).

Measured cost (5 seeds, one torch thread, 2 shared vCPUs, 2026-12-06): PointMass defaults 700 s at load 21;
`task=pendulum episode_steps=100 train_steps=4000 i2a_steps=0` 1757 s at load 2-8; `task=cartpole mpc_episodes=8
i2a_steps=0` 1486 s at the default 20,000 steps (load 2-6), 772 s at train_steps=5000 (load 8-2).
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

NAME = "world-models"
DESCRIPTION = (
    "PlaNet, Dreamer, the VAE planner vs SAC / PPO / exact MPC (PointMass, Pendulum; CartPole: PlaNet, Dreamer, PPO, "
    "DQN, discrete SAC vs exact MPC); horizons; I2A vs A2C"
)
POINTMASS_AGENTS = ("planet", "dreamer", "vae-planner", "sac", "ppo")
CARTPOLE_AGENTS = ("planet", "dreamer", "ppo", "dqn", "sac-discrete")
GRID_AGENTS = ("i2a", "a2c")
TASKS = {
    "pointmass": ("nextrl/PointMass-v0", "PointMass"),
    "pendulum": ("nextrl/Pendulum-v1", "Pendulum"),
    "cartpole": ("nextrl/CartPole-v1", "CartPole"),
}
"""task name -> (env id, label)"""
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "pointmass": {"train_steps": 3000, "episode_steps": 50, "agents": POINTMASS_AGENTS},
    "pendulum": {"train_steps": 3000, "episode_steps": 50, "agents": POINTMASS_AGENTS},
    "cartpole": {"train_steps": 20_000, "episode_steps": 500, "agents": CARTPOLE_AGENTS},
}
"""task name -> the values of the Config fields left at None (the task's agents are also the only ones allowed)"""
PIT_LAYOUT = ("..X..G", ".#X.#.", "......", ".X#X..", "......", "S.....")
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Config:
    task: str = "pointmass"
    """the task of parts 1-3: pointmass (nextrl/PointMass-v0), pendulum (nextrl/Pendulum-v1) or cartpole
    (nextrl/CartPole-v1)"""
    train_steps: int | None = None
    """env steps per learning agent and seed on the task (summed over envs); None: 3000 (pointmass, pendulum),
    20,000 (cartpole)"""
    num_envs: int = 8
    """envs per agent on the task (DQN and discrete SAC: one, their tuned setting; Dreamer on CartPole: at most 4, its
    test's setting: agent_num_envs)"""
    episode_steps: int | None = None
    """episode length on the task (time limit); None: 50 (pointmass, pendulum), 500 (cartpole, as CartPole-v1)"""
    agents: tuple[str, ...] | None = None
    """learning agents on the task; None: all of the task's: planet, dreamer, vae-planner, sac, ppo (pointmass,
    pendulum), planet, dreamer, ppo, dqn, sac-discrete (cartpole)"""
    final_episodes: int = 8
    """training episodes averaged for the final score and each curve point"""
    curve_points: int = 6
    """points of the learning curves"""
    mpc_episodes: int = 16
    """episodes of exact-model CEM MPC and of random actions per seed"""
    horizons: tuple[int, ...] = (1, 3, 5, 10)
    """planning horizons of the sweep"""
    sweep_episodes: int = 8
    """episodes per horizon (and with / without the value) per seed"""
    prediction_horizon: int = 10
    """open-loop steps of the prediction-error study"""
    i2a_steps: int = 15_000
    """env steps of I2A and A2C per seed on the pit gridworld; 0 skips them"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""

    def __post_init__(self):
        fn = "world-models"
        if self.task not in TASKS:
            raise ValueError(f"{fn}: task must be one of {', '.join(TASKS)}, got {self.task!r}")
        r = self.resolved()  # checked as resolved; the fields keep None, so replace(cfg, task=...) re-resolves
        for key, low in (
            ("train_steps", 400),
            ("num_envs", 1),
            ("episode_steps", 5),
            ("final_episodes", 1),
            ("curve_points", 2),
            ("mpc_episodes", 1),
            ("sweep_episodes", 1),
            ("prediction_horizon", 1),
            ("i2a_steps", 0),
            ("bootstrap_reps", 1),
        ):
            v = getattr(r, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{fn}: {key} must be an int >= {low}, got {v!r}")
        valid = TASK_DEFAULTS[self.task]["agents"]
        bad = [a for a in r.agents if a not in valid]
        if not r.agents or bad:
            raise ValueError(
                f"{fn}: agents on task {self.task} must be one or more of {', '.join(valid)}, got {r.agents!r}"
            )
        if not self.horizons or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.horizons):
            raise ValueError(f"{fn}: horizons must be one or more ints >= 1, got {self.horizons!r}")
        if self.i2a_steps and self.i2a_steps < 800:
            raise ValueError(f"{fn}: i2a_steps must be 0 or >= 800, got {self.i2a_steps}")

    def resolved(self) -> Config:
        """This config with the task's defaults (TASK_DEFAULTS) in the fields left at None: what `run` and the
        functions below use (each resolves its cfg), and what the report prints."""
        fill = {k: v for k, v in TASK_DEFAULTS[self.task].items() if getattr(self, k) is None}
        return dataclasses.replace(self, **fill) if fill else self


QUICK: dict[str, Any] = {
    "train_steps": 400,
    "num_envs": 4,
    "episode_steps": 20,
    "final_episodes": 2,
    "curve_points": 2,
    "mpc_episodes": 2,
    "horizons": (1, 2),
    "sweep_episodes": 2,
    "prediction_horizon": 3,
    "i2a_steps": 800,
    "bootstrap_reps": 200,
}


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress: training env steps over agents and seeds."""
    cfg = cfg.resolved()
    return len(seeds) * (len(cfg.agents) * cfg.train_steps + len(GRID_AGENTS) * cfg.i2a_steps)


def make_env(cfg: Config, num_envs: int | None = None):
    """The task's vector env (`num_envs`, default cfg.num_envs) with episodes of cfg.episode_steps."""
    cfg = cfg.resolved()
    import gymnasium as gym

    import nextrl  # noqa: F401  (registers the envs)

    return gym.make_vec(TASKS[cfg.task][0], num_envs=num_envs or cfg.num_envs, max_steps=cfg.episode_steps)


def random_actions(space, rng: np.random.Generator, n: int) -> np.ndarray:
    """[n, *shape] uniform actions in the Box `space`, or [n] uniform int64 actions of the Discrete `space`."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return rng.integers(0, int(space.n), n).astype(np.int64)
    return rng.uniform(space.low, space.high, (n, *space.shape)).astype(np.float32)


def pit_grid(num_envs: int):
    import gymnasium as gym

    import nextrl  # noqa: F401

    kw = dict(layout=list(PIT_LAYOUT), start=None, obs_mode="onehot", step_penalty=0.01, max_steps=50)
    return gym.make_vec("nextrl/GridWorld-v0", num_envs=num_envs, pit_reward=-1.0, **kw)


def agent_config(agent: str, cfg: Config):
    """(train function, config) of an agent for the task at this budget (the settings of its PointMass test; on
    CartPole: PlaNet and Dreamer at their CartPole tests' settings, PPO with rl-zoo's CartPole preset, DQN and
    discrete SAC with their CartPole-tuned defaults)."""
    cfg = cfg.resolved()
    from nextrl.agents import dqn, ppo, sac, sac_discrete
    from nextrl.agents.model_based import dreamer, planet, vae_planner
    from nextrl.experiments.train import preset
    from nextrl.models.rssm import RSSMConfig

    steps = cfg.train_steps
    seed_steps = min(400, steps // 4)
    pretrain = min(200, steps // 8)
    small = RSSMConfig(deter=64, hidden=64, embed=64, stoch=8, kl_mode="free_nats", free_nats=1.0)
    seq = max(2, min(16, cfg.episode_steps))
    if agent == "planet" and cfg.task == "cartpole":  # the settings of test_planet.py's CartPole test
        c = planet.PlaNetConfig(
            total_timesteps=steps, seed_steps=min(800, steps // 4), pretrain_steps=pretrain, train_every=10,
            train_steps=10, batch_size=16, seq_len=seq, lr=3e-3, horizon=15, population=150, num_elites=20,
            iterations=3, model=RSSMConfig(
                deter=32, hidden=32, embed=32, stoch=8, layers=1, kl_mode="free_nats", free_nats=1.0
            ),
        )  # fmt: skip
        return planet.train, c
    if agent == "planet":
        c = planet.PlaNetConfig(
            total_timesteps=steps, seed_steps=seed_steps, pretrain_steps=pretrain, train_every=10, train_steps=20,
            batch_size=16, seq_len=seq, lr=3e-3, model=small, horizon=8, population=100, num_elites=10,
            iterations=4, exploration_noise=0.1,
        )  # fmt: skip
        return planet.train, c
    if agent == "dreamer" and cfg.task == "cartpole":  # test_dreamer_discrete.py's CartPole settings
        c = dreamer.DreamerConfig(
            total_timesteps=steps, seed_steps=min(400, steps // 4), pretrain_steps=min(100, steps // 8), train_every=1,
            train_steps=1, batch_size=16, seq_len=min(8, seq), model=RSSMConfig(
                deter=64, hidden=64, embed=64, latent="categorical", groups=8, classes=8, symlog=True
            ), model_lr=3e-3, actor_lr=1e-3, critic_lr=1e-3, hidden=64, imag_horizon=15, gamma=0.97,
        )  # fmt: skip
        return dreamer.train, c
    if agent == "dreamer":
        c = dreamer.DreamerConfig(
            total_timesteps=steps, seed_steps=seed_steps, pretrain_steps=pretrain, train_every=1, batch_size=16,
            seq_len=min(8, seq), model=small, model_lr=3e-3, actor_lr=1e-3, critic_lr=1e-3, hidden=64,
            imag_horizon=10, gamma=0.9,
        )  # fmt: skip
        return dreamer.train, c
    if agent == "vae-planner":
        c = vae_planner.VAEPlannerConfig(
            total_timesteps=steps, num_envs=cfg.num_envs, seed_steps=seed_steps, train_every=5, horizon=5,
            population=100, num_elites=10, iterations=3,
        )  # fmt: skip
        return vae_planner.train, c
    if agent == "sac":
        return sac.train, sac.SACConfig(total_timesteps=steps, num_envs=cfg.num_envs, learning_starts=seed_steps)
    if agent == "ppo" and cfg.task == "cartpole":
        values = {**preset("ppo", "CartPole-v1"), "total_timesteps": steps, "num_envs": cfg.num_envs}
        return ppo.train, ppo.PPOConfig(**values)
    if agent == "ppo":
        return ppo.train, ppo.PPOConfig(total_timesteps=steps, num_envs=cfg.num_envs, num_steps=cfg.episode_steps)
    if agent == "dqn":
        return dqn.train, dqn.DQNConfig(total_timesteps=steps, learning_starts=min(1000, steps // 4))
    if agent == "sac-discrete":
        c = sac_discrete.SACDiscreteConfig(total_timesteps=steps, learning_starts=min(1000, steps // 4))
        return sac_discrete.train, c
    valid = sorted(set(POINTMASS_AGENTS) | set(CARTPOLE_AGENTS))
    raise ValueError(f"world-models: agent must be one of {', '.join(valid)}, got {agent!r}")


DREAMER_CARTPOLE_ENVS = 4
"""at most this many envs for Dreamer on CartPole (test_dreamer_discrete.py's setting: one update per 4 env steps)"""


def agent_num_envs(agent: str, c: Any, cfg: Config) -> int:
    """Envs an agent trains on: its config's num_envs where it has one (DQN, discrete SAC: 1), Dreamer on CartPole
    min(DREAMER_CARTPOLE_ENVS, cfg.num_envs), else cfg.num_envs."""
    cfg = cfg.resolved()
    if hasattr(c, "num_envs"):
        return int(c.num_envs)
    if agent == "dreamer" and cfg.task == "cartpole":
        return min(DREAMER_CARTPOLE_ENVS, cfg.num_envs)
    return cfg.num_envs


def curve(result, grid: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` training episodes ended by each step of `grid` (NaN before the first)."""
    r = np.asarray(result.episode_returns, dtype=np.float64)
    ends = np.asarray(result.episode_end_steps)
    out = np.full(len(grid), np.nan)
    for j, g in enumerate(grid):
        k = int(np.searchsorted(ends, g, side="right"))
        if k:
            out[j] = r[max(0, k - window) : k].mean()
    return out


MPC_CATEGORICAL = dict(horizon=25, population=100, num_elites=10, iterations=3, alpha=0.1)
"""CartPole's exact-model MPC: the CategoricalCEM of tests/planning/test_categorical_cem.py"""


def mpc_returns(cfg: Config, seed: int) -> np.ndarray:
    """Returns of `mpc_episodes` episodes of MPC on the exact dynamics: CEM at PlaNet's budget (Box actions) or
    CategoricalCEM (MPC_CATEGORICAL) replanned from uniform probabilities every step, executing the most probable
    first action (CartPole)."""
    cfg = cfg.resolved()
    from gymnasium import spaces

    from nextrl.agents.common import EpisodeTracker
    from nextrl.planning import CEM, CategoricalCEM, ExactModel
    from nextrl.planning.mpc import MPC

    n = min(cfg.num_envs, cfg.mpc_episodes)
    env = make_env(cfg, n)
    env.reset(seed=10_000 + seed)
    tracker = EpisodeTracker(n)
    if isinstance(env.single_action_space, spaces.Discrete):
        model, planner = ExactModel(env), CategoricalCEM(**MPC_CATEGORICAL)
        rounds = 0

        def step():
            nonlocal rounds
            model.sync()
            plan = planner.plan(model, seed=seed, round=rounds)
            rounds += 1
            return env.step(plan.actions[:, 0, 0].astype(np.int64))
    else:
        step = MPC(env, CEM(8, 100, 10, 4, 0.1, 1.0, 0.5), seed=seed).step
    while len(tracker.finished_returns) < cfg.mpc_episodes:
        _, r, te, tu, _ = step()
        tracker.step(r, te, tu)
    return np.asarray(tracker.finished_returns[: cfg.mpc_episodes])


def planner_returns(model, value, cfg: Config, horizon: int, seed: int) -> np.ndarray:
    """`sweep_episodes` returns of CEM (the vae-planner's budget) at `horizon` in the trained model, without noise."""
    cfg = cfg.resolved()
    import torch

    from nextrl.agents.common import evaluate
    from nextrl.agents.model_based import vae_planner

    _, c = agent_config("vae-planner", cfg)
    planner = dataclasses.replace(c, horizon=horizon).planner()
    env = make_env(cfg, min(cfg.num_envs, cfg.sweep_episodes))
    space = env.single_action_space
    rounds = [0]

    def act(obs):
        rounds[0] += 1
        return vae_planner.plan_actions(model, value, obs, planner, space.low, space.high, seed=seed, round=rounds[0])

    with torch.no_grad():
        return evaluate(act, env, cfg.sweep_episodes, seed=20_000 + seed)


def random_sequences(cfg: Config, seed: int, steps: int = 60):
    """Held-out random-action data: obs [E, T, D], actions [E, T, A], rewards [E, T] (reward of each action) and
    valid [E, T] (False for the reset step after a done); obs[:, t + 1] follows actions[:, t] where valid."""
    cfg = cfg.resolved()
    env = make_env(cfg)
    rng = np.random.default_rng(30_000 + seed)
    obs, _ = env.reset(seed=30_000 + seed)
    rows, prev_done = [], np.zeros(env.num_envs, dtype=bool)
    for _ in range(steps):
        a = random_actions(env.single_action_space, rng, env.num_envs)
        nxt, r, te, tu, _ = env.step(a)
        rows.append((obs, a, r, ~prev_done))
        prev_done = te | tu
        obs = nxt
    o, a, r, ok = (np.stack(x, 1) for x in zip(*rows))
    return o, a, r, ok


def prediction_errors(vae_model, rssm, cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """Open-loop observation error k = 1..K steps ahead as a fraction of the observation variance: "vae" from the
    real observation at t = 5, "rssm" from the RSSM filtered on steps 0..5 (windows inside one episode)."""
    cfg = cfg.resolved()
    import torch

    if vae_model is None and rssm is None:
        return {}
    K = cfg.prediction_horizon
    o, a, _, ok = random_sequences(cfg, seed, steps=max(60, 3 * (K + 6)))
    out = {}
    starts = [(e, t) for e in range(o.shape[0]) for t in range(o.shape[1] - K - 6) if ok[e, t + 1 : t + K + 6].all()]
    if not starts:
        return {}
    obs = torch.as_tensor(np.stack([o[e, t : t + K + 6] for e, t in starts]))  # [N, K + 6, D]
    act = torch.as_tensor(np.stack([a[e, t : t + K + 6] for e, t in starts]))
    target = obs[:, 6 : 6 + K]
    var = target.reshape(-1, target.shape[-1]).var(0).sum()
    if act.dtype == torch.int64:  # discrete actions (CartPole): the RSSM takes them one-hot
        act = torch.nn.functional.one_hot(act, rssm.action_dim).float()
    with torch.no_grad():
        if vae_model is not None:
            xs, _ = vae_model.predict(obs[:, 5], act[:, 5 : 5 + K])
            out["vae"] = (((xs - target) ** 2).sum(-1).mean(0) / var).numpy()
        if rssm is not None:
            prev = torch.cat([torch.zeros_like(act[:, :1]), act[:, :5]], 1)  # a_{t-1} for x_t, t = 0..5
            first = torch.zeros(obs.shape[0], 6, dtype=torch.bool)
            first[:, 0] = True
            post, _ = rssm.observe(obs[:, :6], prev, first, generator=torch.Generator().manual_seed(seed))
            s = {k: v[:, -1] for k, v in post.items()}
            xs = []
            for h in range(K):
                s = rssm.img_step(s, act[:, 5 + h], sample=False)
                xs.append(rssm.decode(rssm.features(s)))
            out["rssm"] = (((torch.stack(xs, 1) - target) ** 2).sum(-1).mean(0) / var).numpy()
    return out


def train_grid_agent(agent: str, cfg: Config, seed: int):
    """(TrainResult, the sampling policy's mean return over 256 evaluation episodes) of I2A or A2C."""
    cfg = cfg.resolved()
    from nextrl.agents import a2c
    from nextrl.agents.common import evaluate, seeded
    from nextrl.agents.model_based import i2a
    from nextrl.agents.rollout import act_fn

    ac = a2c.A2CConfig(total_timesteps=cfg.i2a_steps, num_envs=16, num_steps=5, ent_coef=0.01)
    if agent == "a2c":
        res = a2c.train(pit_grid(16), ac, seed=seed)
    elif agent == "i2a":
        res = i2a.train(pit_grid(16), i2a.I2AConfig(a2c=ac, model_epochs=4, rollout_length=3), seed=seed)
    else:
        raise ValueError(f"world-models: grid agent must be one of {', '.join(GRID_AGENTS)}, got {agent!r}")
    env = pit_grid(8)
    act = act_fn(res.modules["policy"], env.single_action_space, deterministic=False)
    with seeded(100 + seed, "world-models"):  # the policy samples from torch's generator
        return res, float(evaluate(act, env, 256, seed=100 + seed, max_steps=100_000).mean())


def _plot_lines(name: str, title: str, xlabel: str, ylabel: str, xs, lines: dict[str, np.ndarray]):
    """A figure of per-seed rows [S, len(xs)] per label: mean and min-max band."""

    def figure(out: Path) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for label, rows in lines.items():
            rows = np.asarray(rows, dtype=np.float64)
            (ln,) = ax.plot(xs, rows.mean(0), "o-", label=label)
            ax.fill_between(xs, rows.min(0), rows.max(0), color=ln.get_color(), alpha=0.15)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title + " (mean over seeds, band: min-max)", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        return [name]

    return figure


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    cfg = cfg.resolved()
    if not seeds:
        raise ValueError("world-models: seeds must not be empty")
    import torch

    from nextrl.agents.common import evaluate

    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    boot = Bootstrap(reps=cfg.bootstrap_reps)
    grid = np.linspace(cfg.train_steps / cfg.curve_points, cfg.train_steps, cfg.curve_points).astype(int)
    per: dict[str, dict[str, list]] = {a: {"final": [], "curve": [], "returns": [], "ends": []} for a in cfg.agents}
    refs: dict[str, list[float]] = {"exact-model MPC": [], "random": []}
    sweep: dict[str, list[list[float]]] = {}
    pred: dict[str, list[np.ndarray]] = {"vae": [], "rssm": []}
    grid_per: dict[str, dict[str, list]] = {
        a: {"final": [], "curve": [], "returns": [], "ends": []} for a in GRID_AGENTS
    }
    i2a_grid = np.linspace(max(cfg.i2a_steps, 1) / cfg.curve_points, cfg.i2a_steps, cfg.curve_points).astype(int)
    try:
        for seed in seeds:
            trained = {}
            for agent in cfg.agents:
                fn, c = agent_config(agent, cfg)
                res = fn(make_env(cfg, agent_num_envs(agent, c, cfg)), c, seed=seed)
                trained[agent] = res
                d = per[agent]
                d["returns"].append([float(x) for x in res.episode_returns])
                d["ends"].append([int(x) for x in res.episode_end_steps])
                d["final"].append(float(np.mean(res.episode_returns[-cfg.final_episodes :])))
                d["curve"].append(curve(res, grid, cfg.final_episodes))
                if progress is not None:
                    progress(cfg.train_steps, f"{TASKS[cfg.task][1]} {agent} seed {seed}")
            refs["exact-model MPC"].append(float(mpc_returns(cfg, seed).mean()))
            rng = np.random.default_rng(seed)
            env = make_env(cfg)
            rand = evaluate(
                lambda o: random_actions(env.single_action_space, rng, len(o)), env, cfg.mpc_episodes, seed=seed
            )
            refs["random"].append(float(rand.mean()))
            if "vae-planner" in trained:
                m = trained["vae-planner"].modules
                for h in cfg.horizons:
                    for use_value in (True, False):
                        key = f"H={h} {'+ value' if use_value else 'no value'}"
                        r = planner_returns(m["model"], m["value"] if use_value else None, cfg, h, seed)
                        sweep.setdefault(key, []).append(float(r.mean()))
            vae = trained["vae-planner"].modules["model"] if "vae-planner" in trained else None
            rssm = trained["planet"].modules["model"] if "planet" in trained else None
            for k, v in prediction_errors(vae, rssm, cfg, seed).items():
                pred[k].append(v)
            if cfg.i2a_steps:
                for agent in GRID_AGENTS:
                    res, final = train_grid_agent(agent, cfg, seed)
                    d = grid_per[agent]
                    d["returns"].append([float(x) for x in res.episode_returns])
                    d["ends"].append([int(x) for x in res.episode_end_steps])
                    d["final"].append(final)
                    d["curve"].append(curve(res, i2a_grid, 100))
                    if progress is not None:
                        progress(cfg.i2a_steps, f"gridworld {agent} seed {seed}")
    finally:
        torch.set_num_threads(threads)
    return _result(cfg, seeds, boot, grid, i2a_grid, per, refs, sweep, pred, grid_per, time.perf_counter() - start)


def _result(cfg, seeds, boot, grid, i2a_grid, per, refs, sweep, pred, grid_per, wall) -> ExperimentResult:
    env_id, task = TASKS[cfg.task]
    metric = f"mean of last {cfg.final_episodes} training returns"
    scores, curves, findings = [], [], []
    for agent in cfg.agents:
        scores.append(make_score(task, agent, metric, per[agent]["final"], boot, steps=cfg.train_steps))
        curves.append(make_curve(task, agent, "mean training return", grid, np.vstack(per[agent]["curve"]), boot))
    for name, vals in refs.items():
        scores.append(make_score(task, name, f"mean return over {cfg.mpc_episodes} episodes", vals, boot))
    for key, vals in sweep.items():
        scores.append(make_score(f"{task} horizon sweep", f"vae-planner {key}", "mean return", vals, boot))
    for model, rows in pred.items():
        if rows:
            for k in sorted({0, (cfg.prediction_horizon - 1) // 2, cfg.prediction_horizon - 1}):
                vals = [100.0 * float(r[k]) for r in rows]
                scores.append(
                    make_score(f"{task} prediction", f"{model} {k + 1} steps", "obs error, % of variance", vals, boot)
                )
    if cfg.i2a_steps:
        for agent in GRID_AGENTS:
            d = grid_per[agent]
            scores.append(
                make_score("pit gridworld", agent, "return (256 eval episodes)", d["final"], boot, steps=cfg.i2a_steps)
            )
            curves.append(
                make_curve("pit gridworld", agent, "mean training return", i2a_grid, np.vstack(d["curve"]), boot)
            )
    by = {(s.task, s.agent): s for s in scores}
    mpc, rnd = by[(task, "exact-model MPC")].iqm, by[(task, "random")].iqm
    for agent in cfg.agents:
        s = by[(task, agent)].iqm
        text = (
            f"{task} {agent}: {s.point:.1f} [{s.low:.1f}, {s.high:.1f}] after {cfg.train_steps} env steps; "
            f"random {rnd.point:.1f} [{rnd.low:.1f}, {rnd.high:.1f}], exact-model MPC {mpc.point:.1f} "
            f"[{mpc.low:.1f}, {mpc.high:.1f}]"
        )
        findings.append(Finding(s.low > rnd.high, text + ("" if s.low > rnd.high else ": not shown above random")))
    if sweep:
        best = max(sweep, key=lambda k: np.mean(sweep[k]))
        parts = ", ".join(f"{k} {np.mean(v):.1f}" for k, v in sweep.items())
        findings.append(Finding(True, f"horizon sweep (mean over seeds): {parts}; best {best}"))
        sweep_task = f"{task} horizon sweep"
        for h in cfg.horizons:
            w, n = (
                by[(sweep_task, f"vae-planner H={h} + value")].iqm,
                by[(sweep_task, f"vae-planner H={h} no value")].iqm,
            )
            apart = w.low > n.high or n.low > w.high
            text = f"H={h}: with the value {w.point:.1f} [{w.low:.1f}, {w.high:.1f}], without {n.point:.1f} "
            text += f"[{n.low:.1f}, {n.high:.1f}]: " + ("intervals apart" if apart else "intervals overlap")
            findings.append(Finding(apart and w.point > n.point, text))
    for model, rows in pred.items():
        if rows:
            m = np.mean(rows, 0)
            findings.append(
                Finding(
                    bool(m[0] < 0.5),
                    f"{model} open-loop observation error / variance: {m[0]:.3f} at 1 step, {m[-1]:.3f} at "
                    f"{cfg.prediction_horizon} steps (mean over seeds)",
                )
            )
    if cfg.i2a_steps:
        i, a = by[("pit gridworld", "i2a")].iqm, by[("pit gridworld", "a2c")].iqm
        text = f"I2A {i.point:.3f} [{i.low:.3f}, {i.high:.3f}] vs A2C {a.point:.3f} [{a.low:.3f}, {a.high:.3f}]"
        text += f" at {cfg.i2a_steps} env steps"
        overlap = not (i.low > a.high or a.low > i.high)
        text += ": I2A at least as good (IQM)" if i.point >= a.point else ": A2C ahead (IQM)"
        findings.append(
            Finding(bool(i.point >= a.point), text + ("; intervals overlap" if overlap else "; intervals apart"))
        )
    if cfg.task == "cartpole":
        envs = f"{cfg.num_envs} envs (DQN, discrete SAC: 1; Dreamer: {min(DREAMER_CARTPOLE_ENVS, cfg.num_envs)})"
        agents = (
            "PlaNet at its CartPole test's settings (one-hot actions, latent CategoricalCEM horizon 15, 150 "
            "candidates, 20 elites, 3 iterations, epsilon 0.1), Dreamer at its CartPole test's settings (categorical "
            "latents 8 x 8, categorical actor by REINFORCE, imagination horizon 15, one update per vector step), PPO "
            "with rl-zoo's CartPole preset, DQN and discrete SAC with their CartPole-tuned defaults"
        )
        c = MPC_CATEGORICAL
        mpc_text = (
            f"exact-model MPC: CategoricalCEM horizon {c['horizon']}, {c['population']} candidates, {c['num_elites']} "
            f"elites, {c['iterations']} iterations, momentum {c['alpha']} on the env's own dynamics (ExactModel), "
            "replanned every step from uniform probabilities"
        )
    else:
        envs = f"{cfg.num_envs} envs"
        agents = "agents at the settings of their learning tests"
        mpc_text = "exact-model MPC: CEM horizon 8, 100 candidates, 10 elites, 4 iterations on the env's own dynamics"
    setup = [
        f"{env_id}, {envs}, episodes of {cfg.episode_steps} steps, {cfg.train_steps} env steps per agent and seed; "
        f"{agents} (agent_config); score: mean of the last {cfg.final_episodes} training episodes (exploration "
        "included); one torch thread",
        mpc_text + " (nextrl.planning)",
    ]
    if sweep:
        setup.append(
            f"horizon sweep: the trained vae-planner model and value, CEM at horizons {list(cfg.horizons)} with and "
            f"without the value, {cfg.sweep_episodes} episodes each, no exploration noise"
        )
    if any(pred.values()):
        setup.append(
            f"prediction error: held-out random-action {task} sequences, open loop 1..{cfg.prediction_horizon} steps"
        )
    if cfg.i2a_steps:
        setup.append(
            f"I2A vs A2C: 6x6 gridworld with 5 pits, random starts, one-hot observations, {cfg.i2a_steps} env steps "
            "(16 envs x 5 steps), the same A2C settings; score: sampling policy over 256 evaluation episodes"
        )
    figures = []
    if sweep:
        xs = list(cfg.horizons)
        lines = {
            lab: np.array([[sweep[f"H={h} {lab}"][i] for h in xs] for i in range(len(seeds))])
            for lab in ("+ value", "no value")
        }
        figures.append(
            _plot_lines(
                "horizon_sweep.png", "vae-planner: return vs planning horizon", "horizon", "mean return", xs, lines
            )
        )
    if any(pred.values()):
        xs = list(range(1, cfg.prediction_horizon + 1))
        figures.append(
            _plot_lines(
                "prediction_error.png",
                "open-loop prediction error",
                "steps ahead",
                "obs error / variance",
                xs,
                {k: np.vstack(v) for k, v in pred.items() if v},
            )
        )
    return ExperimentResult(
        name=NAME,
        title="world-models: latent planning and imagination against model-free agents and exact MPC",
        summary=(
            (
                f"How far do {', '.join(cfg.agents)} get on CartPole in the budget, against MPC on the exact "
                "dynamics and random actions"
                + (", and how fast do the RSSM's predictions drift" if pred["rssm"] else "")
                if cfg.task == "cartpole"
                else "Do the world-model agents (PlaNet, the Dreamer-style agent, the variational-model planner) learn "
                f"{task} in fewer env steps than SAC and PPO, how close do they come to MPC on the exact dynamics, how "
                "does the planning horizon matter, how fast do the models' predictions drift"
            )
            + (", and does I2A match A2C?" if cfg.i2a_steps else "?")
        ),
        seeds=list(seeds),
        config=dataclasses.asdict(cfg),
        setup=setup,
        scores=scores,
        curves=curves,
        findings=findings,
        references=[
            "Hafner et al. 2019, Learning latent dynamics for planning from pixels (PlaNet), arXiv:1811.04551",
            "Hafner et al. 2020 / 2023, Dreamer, arXiv:1912.01603 / DreamerV3, arXiv:2301.04104",
            "Ha and Schmidhuber 2018, World models, arXiv:1803.10122",
            "Weber et al. 2017, Imagination-augmented agents for deep reinforcement learning, arXiv:1707.06203",
        ],
        bootstrap=boot,
        wall_time_s=wall,
        extra={
            "per_seed": {
                "control": {a: {k: v for k, v in per[a].items() if k != "curve"} for a in cfg.agents},
                "references": refs,
                "horizon_sweep": sweep,
                "prediction_error": {k: [r.tolist() for r in v] for k, v in pred.items()},
                "gridworld": {a: {k: v for k, v in grid_per[a].items() if k != "curve"} for a in GRID_AGENTS},
            }
        },
        figures=figures,
    )


__all__ = [
    "CARTPOLE_AGENTS",
    "DESCRIPTION",
    "DREAMER_CARTPOLE_ENVS",
    "MPC_CATEGORICAL",
    "NAME",
    "QUICK",
    "TASK_DEFAULTS",
    "Config",
    "agent_config",
    "agent_num_envs",
    "curve",
    "mpc_returns",
    "planner_returns",
    "prediction_errors",
    "run",
    "total_work",
    "train_grid_agent",
]
