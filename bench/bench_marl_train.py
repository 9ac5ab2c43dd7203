"""MAPPO training speed on simple_spread (3 agents): nextrl's vector env against mpe2's PettingZoo env, same
MAPPO, same run.

    python bench/bench_marl_train.py                               # 128 envs, 12,800 env steps each
    python bench/bench_marl_train.py --steps 32000 --repeats 3 --out marl_train.jsonl

Both sides run nextrl.agents.multi.mappo.train with MAPPO's MPE settings (128 envs, 25-step rollouts, 10 epochs
of 1 minibatch, lr 7e-4, value normalization, shared actor and centralized critic, tanh 64 x 64) on 1 torch thread
and 1 nextrl thread. Only the env differs:
  nextrl  SimpleSpreadVectorEnv(num_envs, N=3): one C++ call steps every env (copy=False, zero-copy views);
  peer    `num_envs` mpe2 simple_spread_v3.parallel_env(N=3, max_cycles=25) stepped one after another in
          Python, each step's per-agent dicts stacked into [num_envs, 3, ...] arrays, the global state from
          the PettingZoo env's state(), NEXT_STEP autoreset done by the adapter: the way EPyMARL's and
          BenchMARL's PettingZoo wrappers drive MPE (a serial vector of ParallelEnvs behind dict conversion).
Reported: wall-clock seconds per 1e6 agent steps (agent steps = env steps x 3), measured on `--steps` env steps
and scaled linearly (stated in the output), the time split from the trainer's own clocks (env: stepping;
inference: acting during rollouts; update: advantages and gradient epochs; other: bookkeeping and storage), and
the ratio peer / nextrl (> 1: nextrl faster). Median over `--repeats` alternated runs. With --out (default: a
dated file under runs/), one JSON line per component (nextrl.experiments.benchmark; ours_s / peer_s are seconds
per 1e6 agent steps).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

import nextrl
from nextrl.agents.multi import mappo
from nextrl.experiments import benchmark
from nextrl.marl.core import MarlVectorEnv

NUM_AGENTS = 3
COMPONENTS = ("total", "env", "inference", "update", "other")


class PettingZooVectorEnv(MarlVectorEnv):
    """`num_envs` PettingZoo ParallelEnvs as a MarlVectorEnv (the adapter an EPyMARL / BenchMARL style runner
    puts around them): each step loops over the envs in Python, stacks the agents' observations, rewards and
    flags into arrays and resets an env on the step after its episode ended (NEXT_STEP)."""

    def __init__(self, make_env, num_envs: int):
        self.envs = [make_env() for _ in range(num_envs)]
        e0 = self.envs[0]
        self.possible_agents = list(e0.possible_agents)
        self.agents = list(self.possible_agents)
        self.num_envs, self.num_agents = num_envs, len(self.possible_agents)
        self.obs_size = int(e0.observation_space(self.possible_agents[0]).shape[0])
        self.single_observation_space = e0.observation_space(self.possible_agents[0])
        self.single_action_space = e0.action_space(self.possible_agents[0])
        self.state_space = e0.state_space
        self.metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}
        self.autoreset_mode = AutoresetMode.NEXT_STEP
        self.render_mode = None
        n, a = num_envs, self.num_agents
        self._obs = np.zeros((n, a, self.obs_size), np.float32)
        self._state = np.zeros((n, int(self.state_space.shape[0])), np.float32)
        self._done = np.zeros(n, dtype=bool)
        self._mask = np.ones((n, a, int(self.single_action_space.n)), dtype=bool)

    def _infos(self, active: np.ndarray) -> dict[str, Any]:
        return {"state": self._state.copy(), "active": active, "action_mask": self._mask}

    def reset(self, *, seed: int | None = None, options=None):
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=None if seed is None else seed + i)
            self._obs[i] = [obs[ag] for ag in self.possible_agents]
            self._state[i] = env.state()
        self._done[:] = False
        return self._obs.copy(), self._infos(np.ones((self.num_envs, self.num_agents), dtype=bool))

    def step(self, actions):
        n, a = self.num_envs, self.num_agents
        rewards = np.zeros((n, a), np.float32)
        terms = np.zeros((n, a), dtype=bool)
        truncs = np.zeros((n, a), dtype=bool)
        active = np.ones((n, a), dtype=bool)
        names = self.possible_agents
        for i, env in enumerate(self.envs):
            if self._done[i]:  # NEXT_STEP: this call resets the env and ignores its actions
                obs, _ = env.reset()
                self._obs[i] = [obs[ag] for ag in names]
                self._done[i] = False
            else:
                obs, rew, term, trunc, _ = env.step({ag: int(actions[i, k]) for k, ag in enumerate(names)})
                for k, ag in enumerate(names):
                    self._obs[i, k] = obs[ag]
                    rewards[i, k], terms[i, k], truncs[i, k] = rew[ag], term[ag], trunc[ag]
                ended = terms[i] | truncs[i]
                active[i] = ~ended
                self._done[i] = bool(ended.all())
            self._state[i] = env.state()
        return self._obs.copy(), rewards, terms, truncs, self._infos(active)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def make_peer(num_envs: int) -> PettingZooVectorEnv:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mpe2 import simple_spread_v3

        return PettingZooVectorEnv(lambda: simple_spread_v3.parallel_env(N=NUM_AGENTS, max_cycles=25), num_envs)


def make_ours(num_envs: int) -> MarlVectorEnv:
    from nextrl.marl import SimpleSpreadVectorEnv

    return SimpleSpreadVectorEnv(num_envs, N=NUM_AGENTS, max_cycles=25, copy=False)


def check_peer_matches(num_envs: int = 2, steps: int = 60) -> None:
    """The adapter is a faithful vector env: its arrays equal the PettingZoo envs' dicts stepped directly, and
    every 26th call is the NEXT_STEP reset (25-step episodes)."""
    vec, ref = make_peer(num_envs), make_peer(num_envs).envs
    obs, _ = vec.reset(seed=5)
    for i, env in enumerate(ref):
        o, _ = env.reset(seed=5 + i)
        np.testing.assert_array_equal(obs[i], [o[ag] for ag in vec.possible_agents])
    rng = np.random.default_rng(0)
    for t in range(steps):
        acts = rng.integers(0, 5, (num_envs, NUM_AGENTS))
        obs, rew, term, trunc, infos = vec.step(acts)
        for i, env in enumerate(ref):
            if t % 26 == 25:
                o, _ = env.reset()
                assert not rew[i].any() and infos["active"][i].all()
            else:
                o, r, _, tr, _ = env.step({ag: int(acts[i, k]) for k, ag in enumerate(vec.possible_agents)})
                np.testing.assert_array_equal(rew[i], np.float32([r[ag] for ag in vec.possible_agents]))
                assert trunc[i].all() == (t % 26 == 24) == all(tr.values())
            np.testing.assert_array_equal(obs[i], [o[ag] for ag in vec.possible_agents])
            np.testing.assert_array_equal(infos["state"][i], env.state())


def train_once(make, cfg: mappo.MAPPOConfig, num_envs: int, seed: int) -> dict:
    env = make(num_envs)
    start = time.perf_counter()
    res = mappo.train(env, cfg, seed=seed)
    wall = time.perf_counter() - start
    env.close()
    return {
        "wall_s": wall,
        "times": res.time_breakdown_s,
        "env_steps": res.global_steps,
        "returns": res.episode_returns,
    }


def summary(runs: list[dict], per_agent_steps: float) -> dict[str, float]:
    scale = per_agent_steps / (runs[0]["env_steps"] * NUM_AGENTS)
    out = {"total": statistics.median(x["wall_s"] for x in runs) * scale}
    for k in ("env", "inference", "update"):
        out[k] = statistics.median(x["times"][k] for x in runs) * scale
    out["other"] = out["total"] - out["env"] - out["inference"] - out["update"]
    out["final_return"] = statistics.median(
        float(np.mean(x["returns"][-100:])) if x["returns"] else float("nan") for x in runs
    )
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-envs", type=int, default=128, help="parallel envs on both sides (default 128, MAPPO's MPE)")
    p.add_argument("--steps", type=int, default=12_800, help="env steps per run (default 12,800: 4 updates)")
    p.add_argument("--repeats", type=int, default=1, help="alternated runs of each; medians reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="append one JSON line per component to this file (default: runs/<bench>-<time>.jsonl)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    nextrl.set_num_threads(1)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo (seconds)
    check_peer_matches()
    cfg = mappo.MAPPOConfig(total_timesteps=args.steps, num_steps=25)
    runs: dict[str, list[dict]] = {"nextrl": [], "mpe2": []}
    for r in range(args.repeats):
        runs["nextrl"].append(train_once(make_ours, cfg, args.num_envs, args.seed + r))
        runs["mpe2"].append(train_once(make_peer, cfg, args.num_envs, args.seed + r))
    per = 1e6
    ours, peer = summary(runs["nextrl"], per), summary(runs["mpe2"], per)
    info = benchmark.machine_info()
    env_steps = runs["nextrl"][0]["env_steps"]
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg_1m']:.1f}; torch {torch.__version__}, "
        f"1 thread; MAPPO on simple_spread (3 agents), {args.num_envs} envs, {env_steps} env steps "
        f"({env_steps * NUM_AGENTS} agent steps) x {args.repeats} run(s) each, scaled to 1e6 agent steps"
    )
    print(f"nextrl: SimpleSpreadVectorEnv; peer: {args.num_envs} x mpe2 {benchmark.version('mpe2')} parallel_env")
    print(f"{'seconds per 1e6 agent steps':28s} {'nextrl':>10s} {'mpe2':>10s} {'ratio':>8s}")
    lines = []
    for k in COMPONENTS:
        ratio = peer[k] / ours[k] if ours[k] > 0 else float("nan")
        print(f"{k:28s} {ours[k]:10.1f} {peer[k]:10.1f} {ratio:8.2f}")
        lines.append(
            benchmark.BenchResult(
                "train_mappo",
                f"{k} simple_spread envs={args.num_envs}",
                ours[k],
                f"mappo on mpe2-parallel_env x {args.num_envs}",
                peer[k],
                info,
                {
                    "component": k,
                    "num_envs": args.num_envs,
                    "env_steps": env_steps,
                    "agent_steps": env_steps * NUM_AGENTS,
                    "scaled_to_agent_steps": per,
                    "repeats": args.repeats,
                    "stat": "median",
                    "unit": "seconds per 1e6 agent steps",
                    "torch": torch.__version__,
                    "peer_version": benchmark.version("mpe2"),
                    "final_return": ours["final_return"],
                    "peer_final_return": peer["final_return"],
                },
            )
        )
    print(
        f"mean team return of the last 100 training episodes: nextrl {ours['final_return']:.2f}, "
        f"mpe2 {peer['final_return']:.2f}"
    )
    print("results saved to", benchmark.save_results(args.out, "marl_train", lines, **benchmark.stamp()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
