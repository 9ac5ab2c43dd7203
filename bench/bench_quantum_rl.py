"""Quantum RL end to end: the same REINFORCE softmax-PQC run (same seed, hyperparameters and env steps) with
nextrl's QuantumLayer (C++ simulator, adjoint gradients) and with the same layer on PennyLane's default.qubit
(backprop through torch, parameter broadcasting over the batch), in one run.

    python bench/bench_quantum_rl.py                         # 60,000 steps, seed 0, both backends
    python bench/bench_quantum_rl.py --steps 20000 --seeds 0 1 --out bench/results/quantum_rl.jsonl

Both runs build the identical policy (agents.quantum_policies.SoftmaxPQC over quantum_policies.pqc_circuit,
float64, the "softmax_pqc" preset's learning rates) and differ only in the layer's backend (QuantumLayer's
backend protocol: layer_outputs(layer, inputs)); in float64 both compute the same probabilities, so the runs
follow nearly the same trajectory (the final returns are printed to show it). The share of time in the
circuits: every circuit call of the run (batch size, with or without gradient) is recorded, then the same
sequence of calls is replayed alone on the same backend and timed; share = replay time / run time.
Needs pennylane (`pip install 'nextrl[bench]'`). Prints a table; with --out appends per seed two JSON lines in
the schema of nextrl.experiments.benchmark (bench "quantum_rl"): case "... whole run" (ours_s / peer_s: seconds
of the training run) and case "... circuits (replay)" (seconds of its circuit calls alone); `extra` holds the
seed, sizes, each side's circuit share, greedy and last-20 returns and time breakdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym
import numpy as np
import torch

import nextrl
from nextrl.agents import reinforce
from nextrl.agents.common import evaluate, seeded
from nextrl.agents.networks import PRESET_PARAM_LRS
from nextrl.agents.quantum_policies import SoftmaxPQC, pqc_circuit
from nextrl.agents.rollout import act_fn
from nextrl.experiments import benchmark
from nextrl.quantum import QuantumLayer
from nextrl.quantum.backends.simulator import SIMULATOR


class PennyLaneBackend:
    """A QuantumLayer backend on PennyLane: outputs [B, A] of the layer's circuit from a default.qubit QNode
    (nextrl.experiments.vqc_bench.pennylane_qnode: the same gates, wires and observables; torch interface,
    backprop, the batch broadcast through the gates), with the layer's own weights and scales."""

    def __init__(self, vc, device: str = "default.qubit"):
        from nextrl.experiments.vqc_bench import pennylane_qnode

        self.qnode = pennylane_qnode(vc, device=device, diff_method="backprop")

    def layer_outputs(self, layer, x: torch.Tensor) -> torch.Tensor:
        out = self.qnode(x.to(torch.float64), layer.weights, layer.scales)
        return out if layer.output_scale is None else out * layer.output_scale


class Recording:
    """Wraps a backend and records every call: (batch size, gradient wanted)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def layer_outputs(self, layer, x):
        self.calls.append((x.shape[0], torch.is_grad_enabled()))
        return self.inner.layer_outputs(layer, x)


def replay_seconds(layer: QuantumLayer, backend, calls, rng: np.random.Generator) -> float:
    """Wall-clock of the recorded circuit calls alone on `backend`: forward for no-gradient calls, forward and
    backward (d sum(outputs) to weights, scales and inputs) for the others, on random inputs of the same sizes."""
    layer.backend = backend
    total = 0.0
    for batch, grad in calls:
        x = torch.as_tensor(rng.normal(size=(batch, layer.num_features)), dtype=torch.float64)
        t0 = time.perf_counter()
        if grad:
            layer(x.requires_grad_()).sum().backward()
        else:
            with torch.no_grad():
                layer(x)
        total += time.perf_counter() - t0
    layer.zero_grad(set_to_none=True)
    return total


def run(backend_name: str, seed: int, steps: int, num_envs: int, num_steps: int) -> dict:
    """One REINFORCE softmax-PQC run on `backend_name`'s layer: wall-clock, circuit replay time and returns."""
    env = gym.make_vec("nextrl/CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    with seeded(seed):
        actor = SoftmaxPQC(QuantumLayer(pqc_circuit(4), dtype=torch.float64), 2)
    layer = actor.pqc
    inner = SIMULATOR if backend_name == "nextrl" else PennyLaneBackend(layer.circuit)
    layer.backend = Recording(inner)
    cfg = reinforce.ReinforceConfig(
        total_timesteps=steps, num_steps=num_steps, param_lrs=PRESET_PARAM_LRS["softmax_pqc"]["actor_critic"]
    )
    t0 = time.perf_counter()
    result = reinforce.train(env, cfg, seed=seed, actor=actor)
    wall = time.perf_counter() - t0
    calls = layer.backend.calls
    circuits = replay_seconds(layer, inner, calls, np.random.default_rng(seed))
    layer.backend = SIMULATOR
    greedy = evaluate(
        act_fn(result.modules["policy"], env.single_action_space),
        gym.make_vec("nextrl/CartPole-v1", num_envs=4, vectorization_mode="vector_entry_point"),
        20,
        seed=1000 + seed,
    )
    return {
        "wall_s": wall,
        "circuit_s": circuits,
        "circuit_share": circuits / wall,
        "circuit_calls": len(calls),
        "env_steps": result.global_steps,
        "greedy_return": float(greedy.mean()),
        "last20_return": result.mean_return(20),
        "time_breakdown_s": result.time_breakdown_s,
    }


PEER = "pennylane default.qubit (torch backprop, broadcasting)"


def results(seed: int, ours: dict, peer: dict, args) -> list[benchmark.BenchResult]:
    """The two schema rows of one seed: the whole run and its circuits alone."""
    extra = dict(
        unit="one training run",
        seed=seed,
        env_steps=ours["env_steps"],
        num_envs=args.num_envs,
        num_steps=args.num_steps,
        circuit_calls=ours["circuit_calls"],
        ours_circuit_share=ours["circuit_share"],
        peer_circuit_share=peer["circuit_share"],
        ours_greedy_return=ours["greedy_return"],
        peer_greedy_return=peer["greedy_return"],
        ours_last20_return=ours["last20_return"],
        peer_last20_return=peer["last20_return"],
        ours_time_breakdown_s=ours["time_breakdown_s"],
        peer_time_breakdown_s=peer["time_breakdown_s"],
        pennylane=benchmark.version("pennylane"),
        torch=torch.__version__,
    )
    case = f"REINFORCE softmax-PQC, CartPole-v1, {ours['env_steps']} steps"
    return [
        benchmark.result("quantum_rl", f"{case}: whole run", ours["wall_s"], PEER, peer["wall_s"], **extra),
        benchmark.result(
            "quantum_rl", f"{case}: circuits (replay)", ours["circuit_s"], PEER, peer["circuit_s"], **extra
        ),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60_000, help="env steps per run (default 60000)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--num-steps", type=int, default=64, help="rollout length per env per update")
    p.add_argument("--out", help="append two JSON lines per seed to this file")
    args = p.parse_args(argv)
    out = args.out or benchmark.default_out("quantum_rl")  # one file for the whole run
    try:
        import pennylane  # noqa: F401
    except ImportError:
        print("bench_quantum_rl: pennylane is not installed (pip install 'nextrl[bench]')", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    nextrl.set_num_threads(1)
    for name in ("nextrl", "pennylane"):  # warm-up (first calls into torch, the env and the backend), not timed
        run(name, 0, 2 * args.num_envs * args.num_steps, args.num_envs, args.num_steps)
    for seed in args.seeds:
        rows = {}
        for name in ("nextrl", "pennylane"):  # the same run, one after the other
            rows[name] = row = run(name, seed, args.steps, args.num_envs, args.num_steps)
            print(
                f"{name:9s} seed {seed}: {row['wall_s']:7.1f} s for {row['env_steps']} steps, circuits "
                f"{row['circuit_s']:6.1f} s ({100 * row['circuit_share']:4.1f}%), {row['circuit_calls']} calls; "
                f"greedy {row['greedy_return']:.1f}, last-20 {row['last20_return']:.1f}",
                flush=True,
            )
        pair = results(seed, rows["nextrl"], rows["pennylane"], args)
        print(
            f"seed {seed}: PennyLane / nextrl {pair[0].ratio:.1f}x the whole run, {pair[1].ratio:.1f}x in the circuits "
            f"(load {pair[0].machine['loadavg_1m']:.1f})",
            flush=True,
        )
        benchmark.save_results(out, "quantum_rl", pair, **benchmark.stamp())
    print("results saved to", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
