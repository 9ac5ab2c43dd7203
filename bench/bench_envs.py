"""Environment benchmark: nextrl's compiled vector envs against Gymnasium and EnvPool, in one run.

    python bench/bench_envs.py                       # every case, 1 thread
    python bench/bench_envs.py --bench frozenlake cartpole --sizes 1024 4096 --threads 1 --out envs.jsonl
    python bench/bench_envs.py --bench grid --grid-ids nextrl/GridWorld-v0 --sizes 4096 65536

Prints a table (steps per second summed over envs; ratio = nextrl / peer, > 1: nextrl faster) and, with
--out, appends one JSON line per case (nextrl.experiments.benchmark: ours_s / peer_s are seconds per env
step, so ratio = peer_s / ours_s is the same ratio). python/nextrl/experiments/envs_bench.py documents each case.
"""

from __future__ import annotations

import argparse

BENCHES = ("grid", "frozenlake", "cartpole", "dataset")
# GridWorld8x8-v0 observes one-hot cells (64 floats written per step), GridWorld-v0 (5x5) coordinates (2 floats)
GRID_IDS = ("nextrl/GridWorld8x8-v0", "nextrl/GridWorld-v0", "nextrl/FrozenLake-v0")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", nargs="+", choices=BENCHES, default=list(BENCHES))
    p.add_argument("--sizes", type=int, nargs="+", help="num_envs values (default per case)")
    p.add_argument("--threads", type=int, default=1, help="nextrl and EnvPool threads (default 1: per-core figures)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per contender, median reported")
    p.add_argument(
        "--grid-ids",
        nargs="+",
        default=list(GRID_IDS),
        help="env ids of the grid case (default: 8x8 one-hot GridWorld, 5x5 coordinates GridWorld, FrozenLake)",
    )
    p.add_argument("--out", help="append one JSON line per case to this file (default: runs/<bench>-<time>.jsonl)")
    args = p.parse_args(argv)

    from nextrl.experiments import benchmark
    from nextrl.experiments import envs_bench as eb

    def progress(msg: str) -> None:
        print(f"  ... {msg}", end="\r", flush=True)

    results = []
    kw = dict(threads=args.threads, rounds=args.rounds, progress=progress)
    if "grid" in args.bench:
        results += eb.bench_grid(args.sizes or (16, 256, 1024, 4096, 16384, 65536), ids=args.grid_ids, **kw)
    if "frozenlake" in args.bench:
        results += eb.bench_frozenlake(args.sizes or (16, 256, 1024, 4096, 16384), **kw)
    if "cartpole" in args.bench:
        results += eb.bench_cartpole(args.sizes or (256, 1024, 4096, 16384), **kw)
    if "dataset" in args.bench:
        results += eb.bench_dataset(threads=args.threads, rounds=3, progress=progress)
    print(" " * 80, end="\r")
    print(f"{'bench':<11} {'case':<34} {'N':>6} {'nextrl steps/s':>15} {'peer':<16} {'peer steps/s':>13} {'ratio':>8}")
    for r in results:
        e = r.extra
        has_peer = r.peer != benchmark.NO_PEER
        peer = f"{e['peer_steps_per_s']:13.3g}" if has_peer else " " * 13
        ratio = f"{r.ratio:8.1f}" if has_peer else ""
        rate = e.get("steps_per_s", e.get("transitions_per_s"))
        print(
            f"{r.bench:<11} {r.case:<34} {e['num_envs']:>6} {rate:15.4g} {r.peer if has_peer else '':<16} {peer} "
            f"{ratio}"
        )
    print("results saved to", benchmark.save_results(args.out, "envs", results, **benchmark.stamp()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
