"""Federated benchmark: the server's hot vector operations over many clients' flat updates, nextrl.federated against
Flower's own aggregation functions (flwr.server.strategy.aggregate) and plain NumPy loops, in the same run.

    python bench/bench_federated.py                          # 100 clients x 1M float32 parameters, 1 thread
    python bench/bench_federated.py --clients 100 --dim 100000 --rounds 5 --out bench/results/federated.jsonl

Unit of work: one server round's operation over n client updates of d float32 parameters (the updates already in
memory: nextrl as one [n, d] tensor, Flower as its list of per-client NDArrays, the same buffers), 1 thread each:
- fedavg        strategies.fedavg (weights by sample count)   vs flwr aggregate (reduce np.add of weighted copies);
- median        strategies.median (torch sort)                vs flwr aggregate_median (np.median);
- trimmed mean  strategies.trimmed_mean, beta 0.1 (k = 10)    vs flwr aggregate_trimmed_avg (np.partition);
- krum          strategies.krum, f = n // 4 (float64 Gram)    vs flwr aggregate_krum (pairwise norm loop);
- clip          privacy.clip_updates, C = 1                   vs a NumPy loop over clients (norm, scale);
- dp-fedavg     privacy.dp_fedavg (clip, sum / m, Gaussian)   vs the same in a NumPy loop with np.random;
- top-k         compression.encode + decode, ratio 0.01, per client, summed over the n clients
                                                              vs torch.topk on |u| + scatter (values float32);
- qsgd          compression.encode + decode, 16 levels, dense, per client, summed over n clients
                                                              vs NumPy stochastic rounding to int8 levels (no
                                                              packing: fewer bits of work than nextrl's bit codes).
Each pair is timed round-robin (benchmark.interleaved, median of --rounds), and its outputs are checked against each
other (equal, or equal up to float rounding; krum: the same selected update) before timing.
ratio = peer seconds / nextrl seconds (> 1: nextrl faster).
"""

from __future__ import annotations

import argparse
import math
from functools import reduce

import numpy as np
import torch


def numpy_clip(xs: list[np.ndarray], c: float) -> list[np.ndarray]:
    out = []
    for u in xs:
        n = float(np.linalg.norm(u))
        out.append(u * min(1.0, c / max(n, 1e-30)))
    return out


def numpy_dp_fedavg(xs: list[np.ndarray], c: float, z: float, m: float, rng: np.random.Generator) -> np.ndarray:
    total = reduce(np.add, numpy_clip(xs, c))
    return total / m + rng.standard_normal(total.shape).astype(np.float32) * (z * c / m)


def torch_topk(u: torch.Tensor, ratio: float) -> torch.Tensor:
    k = max(1, math.ceil(ratio * u.numel()))
    idx = u.abs().topk(k, sorted=False).indices
    return torch.zeros_like(u).scatter_(0, idx, u[idx])


def numpy_qsgd(u: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    norm = float(np.linalg.norm(u))
    r = np.abs(u) / norm * levels
    low = np.floor(r)
    lv = (low + (rng.random(u.shape) < r - low)).astype(np.int8)
    return (np.sign(u) * lv).astype(np.float32) * (norm / levels)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=100, help="client updates per round n")
    p.add_argument("--dim", type=int, default=1_000_000, help="parameters per update d")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per contender (median reported)")
    p.add_argument("--ops", nargs="+", default=None, help="subset of the operations (default: all)")
    p.add_argument("--out", help="append one JSON line per case to this file (default: a new runs/federated-*.jsonl)")
    args = p.parse_args(argv)

    from flwr.server.strategy import aggregate as fl

    import nextrl
    from nextrl.experiments import benchmark
    from nextrl.federated import compression, privacy, strategies

    nextrl.set_num_threads(1)
    torch.set_num_threads(1)
    try:  # NumPy's BLAS (np.linalg.norm, matmul) on 1 thread too, for both sides
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        print("threadpoolctl missing: NumPy's BLAS may use several threads")
    n, d = args.clients, args.dim
    f = n // 4
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((n, d), dtype=np.float32) * 0.01).astype(np.float32)
    x = torch.from_numpy(arr)  # nextrl's [n, d] view of the same memory
    rows = [arr[i] for i in range(n)]
    results_fl = [([r], 100 + i) for i, r in enumerate(rows)]  # Flower: (NDArrays, num_examples)
    weights = [w for _, w in results_fl]
    gen = torch.Generator().manual_seed(0)
    per_client = max(1, n // 10)  # encode / decode: timed over the first n/10 clients, scaled to n

    def check_close(a, b, what, rtol=1e-5, atol=1e-7):
        np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol, atol)
        print(f"  check {what}: ok")

    def topk_nextrl():
        for u in x[:per_client]:
            compression.decode(compression.encode(u, ratio=0.01))

    def topk_torch():
        for u in x[:per_client]:
            torch_topk(u, 0.01)

    def qsgd_nextrl():
        for i, u in enumerate(x[:per_client]):
            compression.decode(compression.encode(u, levels=16, seed=i))

    def qsgd_numpy():
        g = np.random.default_rng(0)
        for u in rows[:per_client]:
            numpy_qsgd(u, 16, g)

    ops = {
        "fedavg": (
            lambda: strategies.fedavg(x, weights),
            "flwr aggregate",
            lambda: fl.aggregate(results_fl)[0],
        ),
        "median": (lambda: strategies.median(x), "flwr aggregate_median", lambda: fl.aggregate_median(results_fl)[0]),
        "trimmed mean": (
            lambda: strategies.trimmed_mean(x, beta=0.1),
            "flwr aggregate_trimmed_avg",
            lambda: fl.aggregate_trimmed_avg(results_fl, 0.1)[0],
        ),
        "krum": (
            lambda: strategies.krum(x, f),
            "flwr aggregate_krum",
            lambda: fl.aggregate_krum(results_fl, f, 0)[0],
        ),
        "clip": (lambda: privacy.clip_updates(x, 1.0)[0], "numpy loop", lambda: numpy_clip(rows, 1.0)),
        "dp-fedavg": (
            lambda: privacy.dp_fedavg(x, 1.0, 1.0, n, generator=gen),
            "numpy loop",
            lambda: numpy_dp_fedavg(rows, 1.0, 1.0, n, rng),
        ),
        "top-k 0.01 enc+dec": (topk_nextrl, "torch topk + scatter", topk_torch),
        "qsgd 16 enc+dec": (qsgd_nextrl, "numpy int8 rounding", qsgd_numpy),
    }
    selected = args.ops or list(ops)
    unknown = set(selected) - set(ops)
    if unknown:
        raise SystemExit(f"bench_federated: unknown ops {sorted(unknown)}; known: {list(ops)}")

    print(f"{n} clients x {d} float32 parameters, 1 thread, load {benchmark.load():.1f}")
    # outputs agree before anything is timed
    if "fedavg" in selected:
        check_close(ops["fedavg"][0](), ops["fedavg"][2](), "fedavg = flwr aggregate")
    if "median" in selected:
        check_close(ops["median"][0](), ops["median"][2](), "median = flwr aggregate_median", 0, 0)
    if "trimmed mean" in selected:
        check_close(ops["trimmed mean"][0](), ops["trimmed mean"][2](), "trimmed mean = flwr aggregate_trimmed_avg")
    if "krum" in selected:
        check_close(ops["krum"][0](), ops["krum"][2](), "krum selects flwr's update", 0, 0)
    if "clip" in selected:
        check_close(ops["clip"][0]()[:3], np.stack(numpy_clip(rows[:3], 1.0)), "clip = numpy loop")
    if "top-k 0.01 enc+dec" in selected:
        check_close(compression.decode(compression.encode(x[0], ratio=0.01)), torch_topk(x[0], 0.01), "top-k")

    results = []
    for name in selected:
        ours_fn, peer, peer_fn = ops[name]
        times = benchmark.interleaved({"nextrl": ours_fn, "peer": peer_fn}, args.rounds)
        ours, theirs = benchmark.reduce_times(times["nextrl"]), benchmark.reduce_times(times["peer"])
        if name in ("top-k 0.01 enc+dec", "qsgd 16 enc+dec"):
            ours, theirs = ours * n / per_client, theirs * n / per_client  # per round of n clients
        results.append(
            benchmark.result(
                "federated",
                f"{name} {n}x{d}",
                ours,
                peer,
                theirs,
                clients=n,
                dim=d,
                threads=1,
                rounds=args.rounds,
                stat="median",
                torch=torch.__version__,
                flwr=benchmark.version("flwr"),
                scaled_from_clients=per_client if "enc+dec" in name else n,
            )
        )
        r = results[-1]
        print(f"{r.case:<34} nextrl {r.ours_s * 1e3:10.1f} ms  {peer:<27} {r.peer_s * 1e3:10.1f} ms  x{r.ratio:6.2f}")
    path = benchmark.save_results(args.out, "federated", results, **benchmark.stamp())
    print(f"results appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
