"""Training through shots: one REINFORCE-style batch of the softmax-PQC circuit (4 qubits, 5 re-uploading layers,
parity read-out), outputs and the full parameter-shift gradient from `shots` shots per circuit evaluation, with
nextrl's ShotSimulator (every shifted row measured by binomial draws, all rows in one C++ call) against the same
layer on QiskitExecutor(AerSimulator) (the same rows as one job of Aer's BackendEstimatorV2: real shots), in one
run.

    python bench/bench_quantum_shots.py                          # batches 4 and 16, 100 shots, 3 repeats
    python bench/bench_quantum_shots.py --batches 4 16 64 --out bench/results/quantum_shots.jsonl

Both sides evaluate the same parameter-shifted rows (121 per sample: 1 + 2 x 60 angle occurrences) and both are
unbiased estimates of the exact gradient: the table also gives each side's largest gradient error against the
adjoint gradient (shot noise, O(1 / sqrt(shots))). Time per batch: median of `--repeats` batches after one
untimed warm-up batch (transpilation and first calls). Writes one JSON line per batch size in the schema of
nextrl.experiments.benchmark (bench "quantum_shots", case "softmax-pqc batch B, S shots, forward + gradient").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

import nextrl
from nextrl.agents.quantum_policies import pqc_circuit
from nextrl.experiments import benchmark
from nextrl.quantum import QuantumLayer
from nextrl.quantum.backends.executor import QiskitExecutor
from nextrl.quantum.backends.shots import ShotSimulator


def gradient(layer, x) -> tuple[float, np.ndarray]:
    """(seconds, d sum(outputs) / d (weights, scales)) of one batch."""
    layer.zero_grad()
    t = time.perf_counter()
    layer(x).sum().backward()
    return time.perf_counter() - t, torch.cat([layer.weights.grad, layer.scales.grad]).numpy().copy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[4, 16])
    p.add_argument("--shots", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None, help="JSONL file to append to (default: a new runs/ file)")
    args = p.parse_args(argv)
    nextrl.set_num_threads(1)
    torch.set_num_threads(1)
    from qiskit_aer import AerSimulator

    vc = pqc_circuit(4, 5)
    exact = QuantumLayer(vc, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = QuantumLayer(vc, dtype=torch.float64, backend=ShotSimulator(args.shots, seed=1))
    peer = QuantumLayer(
        vc, dtype=torch.float64, backend=QiskitExecutor(AerSimulator(seed_simulator=1), shots=args.shots, seed=1)
    )
    for layer in (ours, peer):
        layer.load_state_dict(exact.state_dict())
    results = []
    print(f"{'batch':>5} {'rows':>6} {'nextrl s':>9} {'Aer s':>9} {'ratio':>7} {'err nextrl':>11} {'err Aer':>9}")
    for b in args.batches:
        x = torch.rand(b, 4, generator=torch.Generator().manual_seed(b), dtype=torch.float64) * 2 - 1
        _, want = gradient(exact, x)
        times: dict[str, list[float]] = {"ours": [], "peer": []}
        errors: dict[str, float] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, layer in (("ours", ours), ("peer", peer)):
                gradient(layer, x)  # warm-up: transpilation, first calls
                for _ in range(args.repeats):
                    secs, got = gradient(layer, x)
                    times[name].append(secs)
                errors[name] = float(np.abs(got - want).max())
        ours_s, peer_s = float(np.median(times["ours"])), float(np.median(times["peer"]))
        rows = b * (1 + 2 * 60)
        r = benchmark.result(
            "quantum_shots",
            f"softmax-pqc batch {b}, {args.shots} shots, forward + gradient",
            ours_s,
            "qiskit-aer BackendEstimatorV2 via QiskitExecutor",
            peer_s,
            batch=b,
            rows=rows,
            shots=args.shots,
            repeats=args.repeats,
            max_grad_error_ours=errors["ours"],
            max_grad_error_peer=errors["peer"],
        )
        results.append(r)
        print(
            f"{b:5d} {rows:6d} {ours_s:9.4f} {peer_s:9.3f} {r.ratio:6.0f}x {errors['ours']:11.3f} "
            f"{errors['peer']:9.3f}  (load {r.machine['loadavg_1m']:.1f})",
            flush=True,
        )
    path = benchmark.save_results(args.out, "quantum_shots", results, **benchmark.stamp())
    print("results saved to", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
