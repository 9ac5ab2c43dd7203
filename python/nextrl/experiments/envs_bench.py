"""Environment benchmarks: nextrl's compiled vector envs against Gymnasium and EnvPool, in one process.

Throughput is environment steps per second summed over envs, through each library's public vector API
(reset once, then `step(actions)` with actions drawn outside the timer), the way a trainer calls it.
nextrl runs with `copy=False` (zero-copy views, as EnvPool returns fresh arrays and Gymnasium's vector
CartPole reuses its own). Contenders of a case are timed round-robin (ours, peer, ours, peer, ...) so that
they see the same load (benchmark.interleaved); the median of the rounds is reported. Records are
benchmark.BenchResult: `ours_s` / `peer_s` are seconds per env step (the inverse of steps/s summed over
envs; `extra` has both rates), so `ratio = peer_s / ours_s` = nextrl's steps/s over the peer's (> 1:
nextrl faster). Functions return them and never print; bench/bench_envs.py is the CLI.

Cases:
  grid        nextrl GridWorld (8x8, coords) and FrozenLake at N = 16 .. 65536: steps/s (no peer).
  frozenlake  FrozenLake-v1 4x4 (slippery) against gymnasium's SyncVectorEnv and EnvPool at the same N.
  cartpole    CartPole-v1 against Gymnasium's NumPy-vectorized CartPole (vectorization_mode="vector_entry_point");
              extra["core_steps_per_s"] times nextrl's compiled step alone (without the Python VectorEnv).
  dataset     collect_dataset("nextrl/GridWorld-v0", "random" / "expert") transitions per second.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

import numpy as np

import nextrl
from nextrl.experiments import benchmark
from nextrl.experiments.benchmark import BenchResult, Progress, machine_info


class _Stepper:
    """One contender: `steps` calls of env.step over pre-drawn actions per timed run."""

    def __init__(self, name: str, env, actions: np.ndarray, num_envs: int, steps: int):
        self.name, self.env, self.actions, self.num_envs, self.steps = name, env, actions, num_envs, steps
        if name == "envpool":
            env.reset()  # EnvPool fixes its seed at construction
        else:
            env.reset(seed=0)

    def run(self) -> None:
        step, acts = self.env.step, self.actions
        for k in range(self.steps):
            step(acts[k % len(acts)])


BUDGET = 2e6
"""default env steps (summed over envs) per timed run of nextrl; the slower peers get a fraction of it"""


def _steps_for(num_envs: int, budget: float = BUDGET) -> int:
    return int(max(20, min(20_000, budget // num_envs)))


def _round_robin(steppers: list[_Stepper], rounds: int, progress: Progress, label: str) -> dict[str, float]:
    """Median seconds per env step of each stepper, timed round-robin after one warm-up run each."""
    times = benchmark.interleaved({s.name: s.run for s in steppers}, rounds, progress=progress, label=label)
    return {s.name: statistics.median(times[s.name]) / (s.num_envs * s.steps) for s in steppers}


def _row(
    bench: str,
    case: str,
    num_envs: int,
    threads: int,
    rounds: int,
    ours_s: float,
    peer: str = "none",
    peer_s: float = float("nan"),
    **extra,
) -> BenchResult:
    rates = {"steps_per_s": 1.0 / ours_s, "peer_steps_per_s": 1.0 / peer_s if peer_s == peer_s else None}
    return benchmark.result(
        bench,
        case,
        ours_s,
        peer,
        peer_s,
        machine=machine_info(),
        num_envs=num_envs,
        threads=threads,
        stat="median",
        runs=rounds,
        unit="seconds per env step",
        **rates,
        **extra,
    )


def _discrete_actions(n: int, num_envs: int, seed: int = 0, pool: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, (pool, num_envs))


def bench_grid(
    sizes: Iterable[int],
    *,
    threads: int = 1,
    rounds: int = 5,
    progress: Progress = None,
    ids: Iterable[str] = ("nextrl/GridWorld8x8-v0", "nextrl/FrozenLake-v0"),
    budget: float = BUDGET,
) -> list[BenchResult]:
    import gymnasium as gym

    nextrl.set_num_threads(threads)
    out = []
    for env_id in ids:
        if env_id not in gym.registry:
            continue
        for n in sizes:
            env = gym.make_vec(env_id, num_envs=n, copy=False)
            s = _Stepper("nextrl", env, _discrete_actions(env.single_action_space.n, n), n, _steps_for(n, budget))
            t = _round_robin([s], rounds, progress, f"{env_id} N={n}")
            out.append(_row("grid", env_id, n, threads, rounds, t["nextrl"]))
    return out


def bench_frozenlake(
    sizes: Iterable[int],
    *,
    threads: int = 1,
    rounds: int = 5,
    progress: Progress = None,
    peers: Iterable[str] = ("gymnasium-sync", "envpool"),
    budget: float = BUDGET,
) -> list[BenchResult]:
    import gymnasium as gym

    nextrl.set_num_threads(threads)
    out = []
    for n in sizes:
        actions = _discrete_actions(4, n)
        ours = _Stepper(
            "nextrl", gym.make_vec("nextrl/FrozenLake-v0", num_envs=n, copy=False), actions, n, _steps_for(n, budget)
        )
        for peer in peers:
            if peer == "gymnasium-sync":
                if n > 4096:
                    continue  # one Python env object per copy: minutes per round beyond this
                env = gym.make_vec("FrozenLake-v1", num_envs=n, vectorization_mode="sync")
                other = _Stepper(peer, env, actions, n, max(5, _steps_for(n, budget / 100)))
            elif peer == "envpool":
                try:
                    import envpool
                except ImportError:
                    continue
                env = envpool.make_gymnasium("FrozenLake-v1", num_envs=n, num_threads=threads, seed=0)
                other = _Stepper(peer, env, actions.astype(np.int32), n, _steps_for(n, budget / 4))
            else:
                raise ValueError(f"bench_frozenlake: unknown peer {peer!r}; known: gymnasium-sync, envpool")
            t = _round_robin([ours, other], rounds, progress, f"frozenlake N={n}")
            out.append(
                _row(
                    "frozenlake",
                    "FrozenLake 4x4 slippery",
                    n,
                    threads,
                    rounds,
                    t["nextrl"],
                    peer,
                    t[peer],
                    peer_version=benchmark.version("envpool" if peer == "envpool" else "gymnasium"),
                )
            )
    return out


def bench_cartpole(
    sizes: Iterable[int], *, threads: int = 1, rounds: int = 5, progress: Progress = None, budget: float = BUDGET
) -> list[BenchResult]:
    import gymnasium as gym

    nextrl.set_num_threads(threads)
    out = []
    for n in sizes:
        actions = _discrete_actions(2, n)
        ours = _Stepper(
            "nextrl", gym.make_vec("nextrl/CartPole-v1", num_envs=n, copy=False), actions, n, _steps_for(n, budget)
        )
        # the compiled step alone (no Python wrapper): the wrapper's share is 1 - ours / core
        core = _Stepper("nextrl-core", ours.env.unwrapped._core, actions, n, _steps_for(n, budget))
        peer_env = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
        peer = _Stepper("gymnasium-numpy", peer_env, actions, n, _steps_for(n, budget / 4))
        t = _round_robin([ours, core, peer], rounds, progress, f"cartpole N={n}")
        out.append(
            _row(
                "cartpole",
                "CartPole-v1",
                n,
                threads,
                rounds,
                t["nextrl"],
                "gymnasium-numpy",
                t["gymnasium-numpy"],
                peer_version=benchmark.version("gymnasium"),
                core_steps_per_s=1.0 / t["nextrl-core"],
            )
        )
    return out


def bench_dataset(
    num_transitions: int = 2_000_000,
    *,
    num_envs: int = 4096,
    threads: int = 1,
    rounds: int = 3,
    progress: Progress = None,
) -> list[BenchResult]:
    """collect_dataset transitions per second; `ours_s` is seconds per transition (no peer)."""
    from nextrl.envs import collect_dataset

    nextrl.set_num_threads(threads)
    out = []
    for policy in ("random", "expert"):
        seeds = iter(range(rounds + 1))  # the first call is the warm-up; each call a new seed

        def run(policy=policy, seeds=seeds):
            collect_dataset("nextrl/GridWorld-v0", policy, num_transitions, seed=next(seeds), num_envs=num_envs)

        t = benchmark.interleaved({policy: run}, rounds, progress=progress, label=f"dataset {policy}")[policy]
        per = statistics.median(t) / num_transitions
        out.append(
            benchmark.result(
                "dataset",
                f"collect_dataset GridWorld {policy}",
                per,
                machine=machine_info(),
                num_envs=num_envs,
                threads=threads,
                stat="median",
                runs=rounds,
                unit="seconds per transition",
                num_transitions=num_transitions,
                transitions_per_s=1.0 / per,
            )
        )
    return out


__all__ = ["bench_cartpole", "bench_dataset", "bench_frozenlake", "bench_grid"]
