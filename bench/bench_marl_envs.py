"""Multi-agent env benchmark, all in one run: nextrl's simple_spread (3 agents) at N = 4096 against mpe2's
parallel_env (one env, the way it is stepped), and PredatorPrey agent-steps per second.

    python bench/bench_marl_envs.py                  # 1 thread: per-core figures
    python bench/bench_marl_envs.py --threads 2 --out marl.jsonl

Steps per second are summed over envs (env-steps/s) or over agents (agent-steps/s); actions are drawn
before timing; nextrl runs with copy=False (zero-copy views), as a trainer would; nextrl and mpe2 are
timed round-robin and the median of --rounds timed rounds is reported. With --out, one JSON line per case
(nextrl.experiments.benchmark: ours_s / peer_s are seconds per env step, ratio = peer_s / ours_s).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from nextrl.experiments import benchmark


def bench_spread(num_envs: int, steps: int, rounds: int, continuous: bool, clock) -> benchmark.BenchResult:
    from nextrl.marl.mpe import SimpleSpreadVectorEnv

    env = SimpleSpreadVectorEnv(num_envs, N=3, continuous_actions=continuous, copy=False)
    env.reset(seed=0)
    gen = np.random.default_rng(0)
    shape = (steps, num_envs, 3, 5) if continuous else (steps, num_envs, 3)
    actions = gen.random(shape, dtype=np.float32) if continuous else gen.integers(0, 5, shape)
    core = env._core

    def run():
        for t in range(steps):
            core.step(actions[t])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mpe2 import simple_spread_v3

        peer = simple_spread_v3.parallel_env(N=3, continuous_actions=continuous, max_cycles=25)
    peer.reset(seed=0)
    peer_steps = 500
    space = peer.action_space("agent_0")
    space.seed(0)
    acts = [{a: space.sample() for a in peer.possible_agents} for _ in range(peer_steps)]

    def run_peer():
        for t in range(peer_steps):
            if not peer.agents:
                peer.reset()
            peer.step(acts[t])

    times = benchmark.interleaved({"nextrl": run, "mpe2": run_peer}, rounds, clock=clock)
    ours = statistics.median(times["nextrl"]) / (num_envs * steps)
    theirs = statistics.median(times["mpe2"]) / peer_steps
    return benchmark.result(
        "simple_spread",
        "continuous" if continuous else "discrete",
        ours,
        "mpe2-parallel_env",
        theirs,
        num_envs=num_envs,
        agents=3,
        steps=steps,
        stat="median",
        runs=rounds,
        unit="seconds per env step",
        env_steps_per_s=1 / ours,
        peer_env_steps_per_s=1 / theirs,
        peer_version=benchmark.version("mpe2"),
    )


def bench_predator_prey(
    num_envs: int, steps: int, rounds: int, predators: int, prey: int, learning: bool, clock
) -> benchmark.BenchResult:
    from nextrl.marl import PredatorPreyVectorEnv

    env = PredatorPreyVectorEnv(
        num_envs,
        num_predators=predators,
        num_prey=prey,
        grid_size=10,
        prey_policy="learning" if learning else "random",
        copy=False,
    )
    env.reset(seed=0)
    A = env.num_agents
    actions = np.random.default_rng(0).integers(0, 5, (steps, num_envs, A))
    core = env._core

    def run():
        for t in range(steps):
            core.step(actions[t])

    ours = benchmark.measure(run, rounds, clock=clock) / (num_envs * steps)
    case = f"{predators} predators, {prey} {'learning' if learning else 'random'} prey"
    return benchmark.result(
        "predator_prey",
        case,
        ours,
        num_envs=num_envs,
        agents=A,
        steps=steps,
        stat="median",
        runs=rounds,
        unit="seconds per env step",
        env_steps_per_s=1 / ours,
        agent_steps_per_s=A / ours,
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-envs", type=int, default=4096)
    p.add_argument("--steps", type=int, default=100, help="batched steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="append one JSON line per case to this file (default: runs/<bench>-<time>.jsonl)")
    p.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with the process's CPU time instead of wall time (on a shared machine, with "
        "--threads 1: the per-core rate without the time other processes take)",
    )
    args = p.parse_args(argv)
    clock = time.process_time if args.cpu_time else time.perf_counter

    import nextrl

    nextrl.set_num_threads(args.threads)
    n, s, r = args.num_envs, args.steps, args.rounds
    results = [
        bench_spread(n, s, r, False, clock),
        bench_spread(n, s, r, True, clock),
        bench_predator_prey(n, s, r, 2, 1, False, clock),
        bench_predator_prey(n, s, r, 4, 2, True, clock),
    ]
    clock_name = "CPU time" if args.cpu_time else "wall time"
    info = benchmark.machine_info()
    print(
        f"{info['cpu']}, {info['cores']} logical cores, nextrl threads = {args.threads}, {clock_name}, "
        f"load {info['loadavg_1m']:.1f}"
    )
    for x in results:
        e = x.extra
        if x.bench == "simple_spread":
            print(
                f"simple_spread ({x.case:>10}) N={e['num_envs']}: nextrl {e['env_steps_per_s']:.3g} "
                f"env-steps/s, mpe2 {e['peer_env_steps_per_s']:.3g} env-steps/s, ratio {x.ratio:.0f}x"
            )
        else:
            print(
                f"predator_prey ({x.case}) N={e['num_envs']}: {e['agent_steps_per_s']:.3g} agent-steps/s "
                f"({e['env_steps_per_s']:.3g} env-steps/s)"
            )
    print(
        "results saved to",
        benchmark.save_results(
            args.out, "marl_envs", results, threads=args.threads, clock=clock_name, **benchmark.stamp()
        ),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
