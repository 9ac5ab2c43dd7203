"""marl: the multi-agent experiments of the documents over seeds: cooperative navigation, predator-prey capture,
self-play ratings, and the game-theory analyses of the matrix games.

1. Cooperative navigation (simple_spread, 3 agents, 25 steps, discrete actions; nextrl.marl.SimpleSpreadVectorEnv):
   each learner of `spread_algos` trains for `spread_steps` env steps on `num_envs` envs with its module's
   defaults (MAPPO: shared actor, centralized critic on the global state; MADDPG: Gumbel-softmax actors with
   centralized critics; MAAC: attention critic; VDN / QMIX: shared agent network with agent ids, the team reward;
   maddpg-commnet: MADDPG whose actors are one CommNet (agents.multi.commnet, 2 rounds, hidden 64) exchanging
   learned messages, trained through the centralized critics (maddpg.CommActor); maddpg-commnet-off: the same
   network with every message zeroed, the no-communication ablation of the same architecture),
   then plays greedily (deterministic policy) for `eval_episodes` episodes on fresh envs (reset seed 10_000 +
   seed). Score: team return = the agents' mean reward summed over the episode (common.evaluate_team), against
   uniform random actions and the no-op policy (action 0) on the same evaluation episodes.
2. Predator-prey (nextrl.marl.PredatorPreyVectorEnv, 6 x 6 grid, 2 predators, 1 random prey, 20 steps, a capture
   needs both predators within distance 1): each learner of `prey_algos` trains `prey_steps` env steps; score:
   capture rate of the greedy predators over `eval_episodes` episodes (a positive team return is a capture),
   against random predators.
3. Self-play (agents.multi.league.self_play): a softmax learner on rock-paper-scissors plus a fourth action that
   beats the other three (zero-sum, symmetric), against a league of its snapshots with PFSP opponent sampling;
   the learner's Elo from the real matches after every iteration is the curve; scores: its final Elo and its mean
   score against uniform play (400 games; best possible 0.875).
4. Matrix games (nextrl.games on the matrix-game envs' payoff tables, games.GAMES): pure and mixed Nash
   equilibria (support enumeration; Lemke-Howson from label 0), the zero-sum value (HiGHS LP), the
   maximum-welfare correlated equilibrium (HiGHS LP), social optima and Pareto-optimal profiles, as a table
   (deterministic, computed once); fictitious play's exploitability after `dynamics_iterations` rounds
   (deterministic); regret matching's correlated-equilibrium violation after `dynamics_iterations` rounds
   (random, one run per seed: a score).
Cost: `--set spread_steps=25000 --set workers=5` (5 seeds) took 903 s at nice 10 on 2 shared vCPUs (load 5-15),
2026-12-06, before the two CommNet variants were added (each trains about as long as MADDPG: 0.9-1.3x its time
in a 4,000-step timing); the defaults (50,000 steps) about twice the training. `--quick`: seconds.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nextrl.evaluation.results import Bootstrap, ExperimentResult, Finding, make_curve, make_score

NAME = "marl"
DESCRIPTION = (
    "multi-agent: simple_spread (MAPPO, MADDPG with and without CommNet communication, MAAC, VDN, QMIX vs random / "
    "no-op), predator-prey capture, "
    "self-play Elo, matrix-game equilibria"
)
SPREAD_ALGOS = ("mappo", "maddpg", "maddpg-commnet", "maddpg-commnet-off", "maac", "vdn", "qmix")
PREY_ENV = {"grid_size": 6, "max_steps": 20, "capture_radius": 1, "capture_min_predators": 2}
RPS_PLUS = np.array([[0, -1, 1, -1], [1, 0, -1, -1], [-1, 1, 0, -1], [1, 1, 1, 0]], np.float32)
"""rock-paper-scissors plus a fourth action that beats the other three (row player's payoff, zero-sum)"""
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Config:
    spread_algos: tuple[str, ...] = SPREAD_ALGOS
    """learners on simple_spread (any of SPREAD_ALGOS)"""
    spread_steps: int = 50_000
    """env steps (summed over envs) each simple_spread learner trains per seed"""
    prey_algos: tuple[str, ...] = ("mappo", "maddpg")
    """learners on predator-prey (any of SPREAD_ALGOS)"""
    prey_steps: int = 15_000
    """env steps each predator-prey learner trains per seed"""
    num_envs: int = 16
    """training envs of every learner"""
    eval_episodes: int = 200
    """evaluation episodes per (policy, task, seed)"""
    selfplay_iterations: int = 100
    """self-play learner updates (64 games each)"""
    selfplay_snapshot_every: int = 10
    """iterations between two snapshots added to the league"""
    dynamics_iterations: int = 5_000
    """rounds of fictitious play and of regret matching per matrix game"""
    bootstrap_reps: int = 2000
    """bootstrap replicates per interval"""
    workers: int = 1
    """processes the seeds run in (each seed's results do not depend on it; progress then comes per seed)"""

    def __post_init__(self):
        for key, algos in (("spread_algos", self.spread_algos), ("prey_algos", self.prey_algos)):
            bad = [a for a in algos if a not in SPREAD_ALGOS]
            if bad or len(set(algos)) != len(algos):
                raise ValueError(f"marl: {key} must be distinct names of {list(SPREAD_ALGOS)}, got {algos!r}")
        limits = {
            "spread_steps": 100,
            "prey_steps": 100,
            "num_envs": 1,
            "eval_episodes": 1,
            "selfplay_iterations": 1,
            "selfplay_snapshot_every": 1,
            "dynamics_iterations": 1,
            "bootstrap_reps": 1,
            "workers": 1,
        }
        for key, low in limits.items():
            if getattr(self, key) < low:
                raise ValueError(f"marl: {key} must be >= {low}, got {getattr(self, key)!r}")


QUICK: dict[str, Any] = {
    "spread_algos": ("mappo", "qmix", "maddpg-commnet", "maddpg-commnet-off"),
    "spread_steps": 400,
    "prey_algos": ("vdn",),
    "prey_steps": 400,
    "num_envs": 4,
    "eval_episodes": 8,
    "selfplay_iterations": 4,
    "selfplay_snapshot_every": 2,
    "dynamics_iterations": 200,
    "bootstrap_reps": 200,
}


def total_work(cfg: Config, seeds: list[int]) -> int:
    """Units of progress: training env steps of every learner plus self-play iterations, over seeds."""
    per_seed = len(cfg.spread_algos) * cfg.spread_steps + len(cfg.prey_algos) * cfg.prey_steps
    return (per_seed + cfg.selfplay_iterations) * len(seeds)


def make_spread(num_envs: int):
    from nextrl.marl import SimpleSpreadVectorEnv

    return SimpleSpreadVectorEnv(num_envs, N=3, max_cycles=25)


def make_prey(num_envs: int):
    from nextrl.marl import PredatorPreyVectorEnv

    return PredatorPreyVectorEnv(num_envs, **PREY_ENV)


def comm_maddpg_networks(env, seed: int, communicate: bool = True):
    """MADDPG's networks with one CommNet (2 rounds, hidden 64; `communicate` False zeroes the messages) as the
    actors, initialized from `seed`."""
    from nextrl.agents.common import seeded
    from nextrl.agents.multi import maddpg
    from nextrl.agents.multi.commnet import CommNet

    n = int(env.single_action_space.n)
    with seeded(seed, "marl.comm_maddpg_networks"):
        actor = maddpg.CommActor(CommNet(env.obs_size, n, env.num_agents, communicate=communicate))
        return maddpg.MADDPGNetworks(env.obs_size, env.single_action_space, env.num_agents, actor=actor)


def train_policy(algo: str, env, steps: int, seed: int):
    """Trains `algo` with its module's defaults for `steps` env steps; returns act(obs, mask) of the greedy
    (deterministic) policy, for common.evaluate_team."""
    from nextrl.agents.multi import maac, maddpg, mappo, qmix, vdn

    if algo in ("maddpg-commnet", "maddpg-commnet-off"):
        nets = comm_maddpg_networks(env, seed, communicate=algo == "maddpg-commnet")
        res = maddpg.train(env, maddpg.MADDPGConfig(total_timesteps=steps), seed=seed, nets=nets)
        return maddpg.act_fn(res.modules["networks"])
    if algo == "mappo":
        res = mappo.train(env, mappo.MAPPOConfig(total_timesteps=steps), seed=seed)
        return mappo.act_fn(res.modules["policy"])
    if algo == "maddpg":
        res = maddpg.train(env, maddpg.MADDPGConfig(total_timesteps=steps), seed=seed)
        return maddpg.act_fn(res.modules["networks"])
    if algo == "maac":
        res = maac.train(env, maac.MAACConfig(total_timesteps=steps), seed=seed)
        return maac.act_fn(res.modules["networks"])
    module, config = (vdn, vdn.VDNConfig) if algo == "vdn" else (qmix, qmix.QMIXConfig)
    net = module.train(env, config(total_timesteps=steps), seed=seed).modules["agent_network"]
    from nextrl.agents.multi.common import greedy_policy

    return greedy_policy(net)


def random_policy(seed: int, num_actions: int = 5):
    rng = np.random.default_rng(seed)
    return lambda obs, mask=None: rng.integers(0, num_actions, size=obs.shape[:2])


def no_op_policy(obs, mask=None):
    return np.zeros(obs.shape[:2], np.int64)


def spread_return(act, cfg: Config, seed: int) -> float:
    """Mean team return of `act` over cfg.eval_episodes simple_spread episodes (reset seed 10_000 + seed)."""
    from nextrl.agents.multi.common import evaluate_team

    return float(evaluate_team(act, make_spread(20), cfg.eval_episodes, seed=10_000 + seed).mean())


def capture_rate(act, cfg: Config, seed: int) -> float:
    """Fraction of cfg.eval_episodes predator-prey episodes with a capture (reset seed 10_000 + seed)."""
    from nextrl.agents.multi.common import evaluate_team

    return float(np.mean(evaluate_team(act, make_prey(20), cfg.eval_episodes, seed=10_000 + seed) > 0))


def run_seed_tasks(cfg: Config, seed: int, progress: Progress | None = None) -> dict[str, dict[str, float]]:
    """{"spread": {policy: team return}, "prey": {policy: capture rate}} of one seed, the baselines included."""
    import torch

    torch.set_num_threads(1)
    out: dict[str, dict[str, float]] = {"spread": {}, "prey": {}}
    out["spread"]["random"] = spread_return(random_policy(seed), cfg, seed)
    out["spread"]["no-op"] = spread_return(no_op_policy, cfg, seed)
    for algo in cfg.spread_algos:
        act = train_policy(algo, make_spread(cfg.num_envs), cfg.spread_steps, seed)
        out["spread"][algo] = spread_return(act, cfg, seed)
        if progress is not None:
            progress(cfg.spread_steps, f"simple_spread {algo} seed {seed}")
    out["prey"]["random"] = capture_rate(random_policy(seed), cfg, seed)
    for algo in cfg.prey_algos:
        act = train_policy(algo, make_prey(cfg.num_envs), cfg.prey_steps, seed)
        out["prey"][algo] = capture_rate(act, cfg, seed)
        if progress is not None:
            progress(cfg.prey_steps, f"predator-prey {algo} seed {seed}")
    return out


def run_self_play(cfg: Config, seed: int, progress: Progress | None = None) -> dict[str, Any]:
    """{"ratings": the learner's Elo after every iteration, "snapshot_ratings": the league's final ratings,
    "score_vs_uniform": the final learner's mean score against uniform play over 400 games}."""
    import torch

    from nextrl.agents.multi import league
    from nextrl.marl import MatrixGameVectorEnv

    torch.set_num_threads(1)
    payoffs = np.stack([RPS_PLUS, -RPS_PLUS], axis=-1)
    sp_cfg = league.SelfPlayConfig(iterations=cfg.selfplay_iterations, snapshot_every=cfg.selfplay_snapshot_every)
    res = league.self_play(MatrixGameVectorEnv(64, payoffs=payoffs), sp_cfg, seed=seed)
    uniform = torch.nn.Linear(res.learner.in_features, 4)
    torch.nn.init.zeros_(uniform.weight)
    torch.nn.init.zeros_(uniform.bias)
    gen = torch.Generator().manual_seed(seed)
    scores = league.play(
        MatrixGameVectorEnv(400, payoffs=payoffs),
        league.policy_player(res.learner, gen),
        league.policy_player(uniform, gen),
        seed=20_000 + seed,
    )[0]
    if progress is not None:
        progress(cfg.selfplay_iterations, f"self-play seed {seed}")
    return {
        "ratings": [float(r) for r in res.ratings],
        "snapshot_ratings": [float(r) for r in res.league.ratings],
        "score_vs_uniform": float(scores.mean()),
    }


def _fmt(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:.3g}" for x in np.asarray(v)) + ")"


def analyze_games(cfg: Config) -> dict[str, dict[str, Any]]:
    """The game-theory table of every named matrix game (module docstring, item 4); deterministic."""
    from nextrl import games
    from nextrl.marl.matrix_games import GAMES

    table: dict[str, dict[str, Any]] = {}
    for name in GAMES:
        g = games.BimatrixGame.named(name)
        eqs = games.support_enumeration(g)
        welfare = [games.social_welfare(g, x, y) for x, y in eqs]
        lh = games.lemke_howson(g, 0)
        ce = games.correlated_equilibrium(g, "welfare")
        fp = games.fictitious_play(g, cfg.dynamics_iterations)
        optima = games.social_optima(g)
        row = {
            "pure_nash": [list(p) for p in games.pure_nash_equilibria(g)],
            "mixed_nash": [[x.tolist(), y.tolist()] for x, y in eqs],
            "nash_payoffs": [list(g.expected_payoffs(x, y)) for x, y in eqs],
            "nash_welfare_min": float(min(welfare)),
            "nash_welfare_max": float(max(welfare)),
            "lemke_howson": [lh[0].tolist(), lh[1].tolist()],
            "zero_sum_value": float(games.zero_sum_value(g)[0]) + 0.0 if g.is_zero_sum() else None,
            "ce_welfare": float((ce * (g.row + g.col)).sum()),
            "ce": ce.tolist(),
            "social_optima": [list(p) for p in optima],
            "optimum_welfare": float((g.row + g.col)[optima[0]]),
            "pareto_optimal": [list(p) for p in games.pareto_optimal_profiles(g)],
            "fictitious_play_exploitability": games.exploitability(g, fp.row_strategy, fp.col_strategy),
        }
        table[name] = row
    return table


def game_lines(table: dict[str, dict[str, Any]]) -> list[str]:
    """One report line per game of the table."""
    lines = []
    for name, r in table.items():
        mixed = "; ".join(f"{_fmt(x)} x {_fmt(y)}" for x, y in r["mixed_nash"])
        value = "" if r["zero_sum_value"] is None else f", zero-sum value {r['zero_sum_value']:.3g}"
        lines.append(
            f"matrix game {name}: pure Nash {[tuple(p) for p in r['pure_nash']]}; Nash equilibria (support "
            f"enumeration) {mixed}; Nash welfare {r['nash_welfare_min']:.3g} to {r['nash_welfare_max']:.3g}"
            f"{value}; max-welfare correlated equilibrium welfare {r['ce_welfare']:.3g}; social optimum "
            f"{r['optimum_welfare']:.3g} at {[tuple(p) for p in r['social_optima']]}; Pareto-optimal "
            f"{[tuple(p) for p in r['pareto_optimal']]}; fictitious-play exploitability "
            f"{r['fictitious_play_exploitability']:.3g}"
        )
    return lines


def regret_matching_violations(cfg: Config, seed: int) -> dict[str, float]:
    """Correlated-equilibrium violation (games.ce_violation) of regret matching's empirical joint play after
    cfg.dynamics_iterations rounds, per named game."""
    from nextrl import games
    from nextrl.marl.matrix_games import GAMES

    out = {}
    for name in GAMES:
        g = games.BimatrixGame.named(name)
        out[name] = games.ce_violation(g, games.regret_matching(g, cfg.dynamics_iterations, seed=seed).joint)
    return out


def run_seed(cfg: Config, seed: int, progress: Progress | None = None) -> dict[str, Any]:
    """Everything one seed measures: {"tasks": run_seed_tasks, "self_play": run_self_play, "regret_matching":
    regret_matching_violations}."""
    return {
        "tasks": run_seed_tasks(cfg, seed, progress),
        "self_play": run_self_play(cfg, seed, progress),
        "regret_matching": regret_matching_violations(cfg, seed),
    }


def run_seeds_in_processes(cfg: Config, seeds: list[int], progress: Progress | None = None) -> list[dict[str, Any]]:
    """run_seed for every seed in cfg.workers spawned processes, results in the order of `seeds`; progress
    reports a seed's units when it finishes."""
    import concurrent.futures
    import multiprocessing

    per_seed_units = total_work(cfg, [0])
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(cfg.workers, len(seeds)), mp_context=ctx) as pool:
        futures = {pool.submit(run_seed, cfg, s): s for s in seeds}
        for f in concurrent.futures.as_completed(futures):
            f.result()  # raises a worker's error here
            if progress is not None:
                progress(per_seed_units, f"seed {futures[f]}")
        return [next(f for f, s in futures.items() if s == seed).result() for seed in seeds]


def _compare(findings: list[Finding], a, b, what: str, against: str) -> None:
    if a.iqm.low > b.iqm.high:
        findings.append(
            Finding(True, f"{what} beats {against} (IQM {a.iqm.point:.3g} vs {b.iqm.point:.3g}; 95% intervals apart)")
        )
    elif a.iqm.high < b.iqm.low:
        findings.append(
            Finding(
                False, f"{what} falls below {against} (IQM {a.iqm.point:.3g} vs {b.iqm.point:.3g}; 95% intervals apart)"
            )
        )
    else:
        findings.append(
            Finding(
                False, f"{what} vs {against}: the 95% intervals overlap (IQM {a.iqm.point:.3g} vs {b.iqm.point:.3g})"
            )
        )


def run(cfg: Config, seeds: list[int], *, progress: Progress | None = None) -> ExperimentResult:
    """Every task once per seed; scores with bootstrap intervals, the self-play Elo curve, the games table."""
    if not seeds:
        raise ValueError("marl: seeds must not be empty")
    start = time.perf_counter()
    boot = Bootstrap(reps=cfg.bootstrap_reps)
    if cfg.workers == 1:
        per_seed = [run_seed(cfg, s, progress) for s in seeds]
    else:
        per_seed = run_seeds_in_processes(cfg, seeds, progress)
    tasks, plays, rm = ([r[k] for r in per_seed] for k in ("tasks", "self_play", "regret_matching"))
    table = analyze_games(cfg)
    spread_task, prey_task = "simple_spread (3 agents)", "predator-prey 6x6 (2 predators)"
    scores = []
    spread_policies = ["random", "no-op", *cfg.spread_algos]
    for p in spread_policies:
        steps = cfg.spread_steps if p in cfg.spread_algos else 0
        scores.append(make_score(spread_task, p, "team return", [t["spread"][p] for t in tasks], boot, steps=steps))
    for p in ["random", *cfg.prey_algos]:
        steps = cfg.prey_steps if p in cfg.prey_algos else 0
        scores.append(make_score(prey_task, p, "capture rate", [t["prey"][p] for t in tasks], boot, steps=steps))
    sp_task = "self-play RPS+"
    scores.append(make_score(sp_task, "learner", "final Elo", [p["ratings"][-1] for p in plays], boot))
    scores.append(make_score(sp_task, "learner", "score vs uniform", [p["score_vs_uniform"] for p in plays], boot))
    for name in table:
        violations = [r[name] for r in rm]
        scores.append(make_score("matrix games", f"regret matching, {name}", "CE violation", violations, boot))
    curves = [
        make_curve(
            sp_task,
            "learner",
            "Elo (from the league's matches)",
            list(range(1, cfg.selfplay_iterations + 1)),
            [p["ratings"] for p in plays],
            boot,
        )
    ]
    by = {(s.task, s.agent, s.metric): s for s in scores}
    findings: list[Finding] = []
    for algo in cfg.spread_algos:
        a = by[(spread_task, algo, "team return")]
        for base in ("no-op", "random"):
            _compare(findings, a, by[(spread_task, base, "team return")], f"simple_spread: {algo}", base)
    comm, off = (by.get((spread_task, p, "team return")) for p in ("maddpg-commnet", "maddpg-commnet-off"))
    if comm is not None and off is not None:  # the same CommNet actors with and without their messages
        _compare(findings, comm, off, "simple_spread: maddpg-commnet", "maddpg-commnet-off")
    for algo in cfg.prey_algos:
        _compare(
            findings,
            by[(prey_task, algo, "capture rate")],
            by[(prey_task, "random", "capture rate")],
            f"predator-prey: {algo}'s capture rate",
            "random predators'",
        )
    elo = by[(sp_task, "learner", "final Elo")].iqm
    findings.append(
        Finding(
            elo.low > 1000.0,
            f"self-play: the learner's final Elo IQM {elo.point:.0f} [{elo.low:.0f}, "
            f"{elo.high:.0f}] against the uniform starting member's initial 1000",
        )
    )
    vs_uniform = by[(sp_task, "learner", "score vs uniform")].iqm
    findings.append(
        Finding(
            vs_uniform.low > 0.5,
            f"self-play: the final learner scores {vs_uniform.point:.3g} [{vs_uniform.low:.3g}, {vs_uniform.high:.3g}] "
            "against uniform play (0.5: no better; 0.875: the dominant action always)",
        )
    )
    worst = max(float(np.max([r[n] for r in rm])) for n in table)
    findings.append(
        Finding(
            worst < 0.05,
            f"regret matching: the largest correlated-equilibrium violation over games and seeds "
            f"after {cfg.dynamics_iterations} rounds is {worst:.3g} (payoff units)",
        )
    )
    zs = {n: r for n, r in table.items() if r["zero_sum_value"] is not None}
    for n, r in zs.items():
        findings.append(
            Finding(
                r["fictitious_play_exploitability"] < 0.05,
                f"fictitious play on {n} (zero-sum, value "
                f"{r['zero_sum_value']:.3g}): exploitability {r['fictitious_play_exploitability']:.3g} after "
                f"{cfg.dynamics_iterations} rounds",
            )
        )
    setup = [
        f"simple_spread: N=3, 25 steps, discrete actions; each learner trains {cfg.spread_steps:,} env steps on "
        f"{cfg.num_envs} envs with its module's default config; greedy evaluation over {cfg.eval_episodes} "
        "episodes (reset seed 10000 + seed); team return = agents' mean reward summed over the episode",
        f"predator-prey: {PREY_ENV}, 1 random prey; each learner trains {cfg.prey_steps:,} env steps on "
        f"{cfg.num_envs} envs; capture rate over {cfg.eval_episodes} greedy episodes",
        f"self-play: RPS plus a dominant fourth action (zero-sum), softmax learner by REINFORCE, 64 games per "
        f"iteration, {cfg.selfplay_iterations} iterations, snapshot every {cfg.selfplay_snapshot_every}, PFSP "
        "power 2, Elo K 16; score vs uniform over 400 games (best possible 0.875)",
        f"matrix games: fictitious play and regret matching (conditional, Hart and Mas-Colell) for "
        f"{cfg.dynamics_iterations} rounds; LPs by scipy HiGHS",
        *game_lines(table),
    ]
    return ExperimentResult(
        name=NAME,
        title="marl: cooperative navigation, predator-prey, self-play and matrix games",
        summary=(
            "Do nextrl's multi-agent learners (MAPPO, MADDPG with and without CommNet communication, MAAC, VDN, "
            "QMIX) beat random and no-op play on "
            "cooperative navigation and random predators on predator-prey at these budgets? Does self-play against "
            "a league raise the learner's Elo? What are the equilibria, values and welfare of the matrix games, "
            "and do fictitious play and regret matching reach them?"
        ),
        seeds=list(seeds),
        config=dataclasses.asdict(cfg),
        setup=setup,
        scores=scores,
        curves=curves,
        findings=findings,
        references=[
            "Lowe et al. 2017 (MADDPG, simple_spread), Sukhbaatar et al. 2016 (CommNet), Yu et al. 2022 (MAPPO), "
            "Iqbal and Sha 2019 (MAAC), "
            "Sunehag et al. 2018 (VDN), Rashid et al. 2018 (QMIX)",
            "Vinyals et al. 2019 (PFSP league), Elo 1978; Brown 1951 / Robinson 1951 (fictitious play), Hart and "
            "Mas-Colell 2000 (regret matching); Claus and Boutilier 1998 (climbing and penalty games)",
        ],
        bootstrap=boot,
        wall_time_s=time.perf_counter() - start,
        extra={
            "per_seed": {"spread": [t["spread"] for t in tasks], "prey": [t["prey"] for t in tasks]},
            "self_play": plays,
            "regret_matching_ce_violation": rm,
            "games": table,
        },
    )


__all__ = [
    "DESCRIPTION",
    "NAME",
    "PREY_ENV",
    "QUICK",
    "RPS_PLUS",
    "SPREAD_ALGOS",
    "Config",
    "analyze_games",
    "capture_rate",
    "comm_maddpg_networks",
    "no_op_policy",
    "random_policy",
    "regret_matching_violations",
    "run",
    "run_seed",
    "run_seed_tasks",
    "run_seeds_in_processes",
    "run_self_play",
    "spread_return",
    "total_work",
    "train_policy",
]
