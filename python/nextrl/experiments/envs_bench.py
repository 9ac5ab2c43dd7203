"""Environment benchmarks: nextrl's compiled vector envs against Gymnasium and EnvPool, in one process.

Throughput is environment steps per second summed over envs, through each library's public vector API
(reset once, then `step(actions)` with actions drawn outside the timer), the way a trainer calls it.
nextrl runs with `copy=False` (zero-copy views, as EnvPool returns fresh arrays and Gymnasium's vector
CartPole reuses its own). Contenders of a case are timed round-robin (ours, peer, ours, peer, ...) so that
they see the same load; the median of the rounds is reported and `ratio = peer_s / ours_s` (> 1: nextrl
faster). Functions return `EnvBenchResult` records and never print; bench/bench_envs.py is the CLI.

Cases:
  grid        nextrl GridWorld (8x8, coords) and FrozenLake at N = 16 .. 65536: steps/s (no peer).
  frozenlake  FrozenLake-v1 4x4 (slippery) against gymnasium's SyncVectorEnv and EnvPool at the same N.
  cartpole    CartPole-v1 against Gymnasium's NumPy-vectorized CartPole (vectorization_mode="vector_entry_point");
              extra["core_steps_per_s"] times nextrl's compiled step alone (without the Python VectorEnv).
  dataset     collect_dataset("nextrl/GridWorld-v0", "random" / "expert") transitions per second.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

import nextrl

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class EnvBenchResult:
    bench: str
    case: str
    num_envs: int
    ours_steps_per_s: float
    peer: str = ""
    peer_steps_per_s: float = float("nan")
    threads: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ours_steps_per_s / self.peer_steps_per_s if self.peer else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["machine"] = machine_info()
        return d


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "nextrl": nextrl.__version__,
            "simd": nextrl.build_info()["simd"], "loadavg_1m": os.getloadavg()[0]}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


class _Stepper:
    """Times `steps` calls of env.step over pre-drawn actions; returns steps/s summed over envs."""

    def __init__(self, name: str, env, actions: np.ndarray, num_envs: int, steps: int):
        self.name, self.env, self.actions, self.num_envs, self.steps = name, env, actions, num_envs, steps
        self.rates: list[float] = []
        if name == "envpool":
            env.reset()  # EnvPool fixes its seed at construction
        else:
            env.reset(seed=0)

    def run(self) -> None:
        step, acts = self.env.step, self.actions
        t = time.perf_counter()
        for k in range(self.steps):
            step(acts[k % len(acts)])
        dt = time.perf_counter() - t
        self.rates.append(self.num_envs * self.steps / dt)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def _steps_for(num_envs: int, budget: float = 2e6) -> int:
    return int(max(20, min(20_000, budget // num_envs)))


def _round_robin(steppers: list[_Stepper], rounds: int, progress: Progress, label: str) -> None:
    for s in steppers:  # warm-up
        s.run()
        s.rates.clear()
    for r in range(rounds):
        for s in steppers:
            if progress:
                progress(f"{label}: {s.name} round {r + 1}/{rounds}")
            s.run()


def _discrete_actions(n: int, num_envs: int, seed: int = 0, pool: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, (pool, num_envs))


def bench_grid(sizes: Iterable[int], *, threads: int = 1, rounds: int = 5, progress: Progress = None,
               ids: Iterable[str] = ("nextrl/GridWorld8x8-v0", "nextrl/FrozenLake-v0")) -> list[EnvBenchResult]:
    import gymnasium as gym

    nextrl.set_num_threads(threads)
    out = []
    for env_id in ids:
        if env_id not in gym.registry:
            continue
        for n in sizes:
            env = gym.make_vec(env_id, num_envs=n, copy=False)
            s = _Stepper("nextrl", env, _discrete_actions(env.single_action_space.n, n), n, _steps_for(n))
            _round_robin([s], rounds, progress, f"{env_id} N={n}")
            out.append(EnvBenchResult("grid", env_id, n, s.median, threads=threads))
    return out


def bench_frozenlake(sizes: Iterable[int], *, threads: int = 1, rounds: int = 5, progress: Progress = None,
                     peers: Iterable[str] = ("gymnasium-sync", "envpool")) -> list[EnvBenchResult]:
    import gymnasium as gym

    nextrl.set_num_threads(threads)
    out = []
    for n in sizes:
        actions = _discrete_actions(4, n)
        ours = _Stepper("nextrl", gym.make_vec("nextrl/FrozenLake-v0", num_envs=n, copy=False), actions, n,
                        _steps_for(n))
        for peer in peers:
            if peer == "gymnasium-sync":
                if n > 4096:
                    continue  # one Python env object per copy: minutes per round beyond this
                env = gym.make_vec("FrozenLake-v1", num_envs=n, vectorization_mode="sync")
                other = _Stepper(peer, env, actions, n, max(5, _steps_for(n, 2e4)))
            else:
                try:
                    import envpool
                except ImportError:
                    continue
                env = envpool.make_gymnasium("FrozenLake-v1", num_envs=n, num_threads=threads, seed=0)
                other = _Stepper(peer, env, actions.astype(np.int32), n, _steps_for(n, 5e5))
            _round_robin([ours, other], rounds, progress, f"frozenlake N={n}")
            out.append(EnvBenchResult("frozenlake", "FrozenLake 4x4 slippery", n, ours.median, peer, other.median,
                                      threads, {"peer_version": _version("envpool" if peer == "envpool" else "gymnasium")}))
            ours.rates.clear()
    return out


def bench_cartpole(sizes: Iterable[int], *, threads: int = 1, rounds: int = 5,
                   progress: Progress = None) -> list[EnvBenchResult]:
    import gymnasium as gym

    nextrl.set_num_threads(threads)
    out = []
    for n in sizes:
        actions = _discrete_actions(2, n)
        ours = _Stepper("nextrl", gym.make_vec("nextrl/CartPole-v1", num_envs=n, copy=False), actions, n,
                        _steps_for(n))
        # the compiled step alone (no Python wrapper): the wrapper's share is 1 - ours / core
        core = _Stepper("nextrl-core", ours.env.unwrapped._core, actions, n, _steps_for(n))
        peer_env = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
        peer = _Stepper("gymnasium-numpy", peer_env, actions, n, _steps_for(n, 5e5))
        _round_robin([ours, core, peer], rounds, progress, f"cartpole N={n}")
        extra = {"peer_version": _version("gymnasium"), "core_steps_per_s": core.median}
        out.append(EnvBenchResult("cartpole", "CartPole-v1", n, ours.median, "gymnasium-numpy", peer.median, threads,
                                  extra))
    return out


def bench_dataset(num_transitions: int = 2_000_000, *, num_envs: int = 4096, threads: int = 1, rounds: int = 3,
                  progress: Progress = None) -> list[EnvBenchResult]:
    from nextrl.envs import collect_dataset

    nextrl.set_num_threads(threads)
    out = []
    for policy in ("random", "expert"):
        rates = []
        for r in range(rounds + 1):
            if progress:
                progress(f"dataset {policy} round {r}/{rounds}")
            t = time.perf_counter()
            collect_dataset("nextrl/GridWorld-v0", policy, num_transitions, seed=r, num_envs=num_envs)
            if r:  # the first is a warm-up
                rates.append(num_transitions / (time.perf_counter() - t))
        out.append(EnvBenchResult("dataset", f"collect_dataset GridWorld {policy}", num_envs,
                                  statistics.median(rates), threads=threads,
                                  extra={"num_transitions": num_transitions}))
    return out


__all__ = ["EnvBenchResult", "bench_cartpole", "bench_dataset", "bench_frozenlake", "bench_grid", "machine_info"]
