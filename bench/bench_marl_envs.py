"""Multi-agent env benchmark, all in one run: nextrl's simple_spread (3 agents) at N = 4096 against mpe2's
parallel_env (one env, the way it is stepped), and PredatorPrey agent-steps per second.

    python bench/bench_marl_envs.py                  # 1 thread: per-core figures
    python bench/bench_marl_envs.py --threads 2 --out marl.jsonl

Steps per second are summed over envs (env-steps/s) or over agents (agent-steps/s); actions are drawn
before timing; nextrl runs with copy=False (zero-copy views), as a trainer would; the median of
--rounds timed rounds is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
import warnings

import numpy as np


CLOCK = time.perf_counter


def _median_rate(run, work: float, rounds: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(rounds):
        t0 = CLOCK()
        run()
        times.append(CLOCK() - t0)
    return work / float(np.median(times))


def bench_spread(num_envs: int, steps: int, rounds: int, continuous: bool) -> dict:
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

    ours = _median_rate(run, num_envs * steps, rounds)

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

    theirs = _median_rate(run_peer, peer_steps, rounds)
    return {"bench": "simple_spread", "actions": "continuous" if continuous else "discrete", "num_envs": num_envs,
            "agents": 3, "nextrl_env_steps_per_s": ours, "mpe2_env_steps_per_s": theirs, "ratio": ours / theirs}


def bench_predator_prey(num_envs: int, steps: int, rounds: int, predators: int, prey: int, learning: bool) -> dict:
    from nextrl.marl import PredatorPreyVectorEnv

    env = PredatorPreyVectorEnv(num_envs, num_predators=predators, num_prey=prey, grid_size=10,
                                prey_policy="learning" if learning else "random", copy=False)
    env.reset(seed=0)
    A = env.num_agents
    actions = np.random.default_rng(0).integers(0, 5, (steps, num_envs, A))
    core = env._core

    def run():
        for t in range(steps):
            core.step(actions[t])

    rate = _median_rate(run, num_envs * steps, rounds)
    return {"bench": "predator_prey", "case": f"{predators} predators, {prey} {'learning' if learning else 'random'} prey",
            "num_envs": num_envs, "agents": A, "env_steps_per_s": rate, "agent_steps_per_s": rate * A}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-envs", type=int, default=4096)
    p.add_argument("--steps", type=int, default=100, help="batched steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="append one JSON line per case to this file")
    p.add_argument("--cpu-time", action="store_true",
                   help="time with the process's CPU time instead of wall time (on a shared machine, with "
                        "--threads 1: the per-core rate without the time other processes take)")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.cpu_time else time.perf_counter

    import nextrl

    nextrl.set_num_threads(args.threads)
    n, s, r = args.num_envs, args.steps, args.rounds
    results = [bench_spread(n, s, r, False), bench_spread(n, s, r, True),
               bench_predator_prey(n, s, r, 2, 1, False), bench_predator_prey(n, s, r, 4, 2, True)]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    clock = "CPU time" if args.cpu_time else "wall time"
    print(f"{cpu}, {os.cpu_count()} logical cores, nextrl threads = {args.threads}, {clock}")
    for x in results:
        if x["bench"] == "simple_spread":
            print(f"simple_spread ({x['actions']:>10}) N={x['num_envs']}: nextrl {x['nextrl_env_steps_per_s']:.3g} "
                  f"env-steps/s, mpe2 {x['mpe2_env_steps_per_s']:.3g} env-steps/s, ratio {x['ratio']:.0f}x")
        else:
            print(f"predator_prey ({x['case']}) N={x['num_envs']}: {x['agent_steps_per_s']:.3g} agent-steps/s "
                  f"({x['env_steps_per_s']:.3g} env-steps/s)")
    if args.out:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        with open(args.out, "a") as f:
            for x in results:
                f.write(json.dumps({**x, "threads": args.threads, "clock": clock, "cpu": cpu, "commit": commit}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
