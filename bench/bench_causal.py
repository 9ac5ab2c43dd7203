"""PC (Fisher-z, PC-stable) against causal-learn's pc on random linear-Gaussian DAGs, in one run.

    python bench/bench_causal.py                          # 20 and 50 nodes, 5000 samples
    python bench/bench_causal.py --nodes 20 --out causal.jsonl

Both run with causal-learn's defaults (alpha 0.05, stable, uc_rule 0, uc_priority 2); nextrl with
cycle_check="causal-learn" so the two CPDAGs are asserted equal mark for mark. Prints a table and, with --out,
appends one JSON line per case (ratio = peer_s / ours_s, > 1: nextrl faster).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from nextrl.causal import pc, random_dag, sample_linear_gaussian
from nextrl.causal.graphs import ARROW, TAIL
from nextrl.experiments.benchmark import NO_PEER, result, write_jsonl


def _cl_marks(g: np.ndarray) -> np.ndarray:
    m = np.zeros(g.shape, np.int8)
    m[g.T == -1] = TAIL
    m[g.T == 1] = ARROW
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--edge-prob", type=float, default=None, help="default 2 / (nodes - 1): mean degree 2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds of nextrl, median reported")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    try:
        from causallearn.search.ConstraintBased.PC import pc as cl_pc
    except ImportError:
        cl_pc = None
        print("causal-learn not installed: timing nextrl only (pip install causal-learn)")
    rows = []
    for p in args.nodes:
        prob = args.edge_prob if args.edge_prob is not None else 2.0 / (p - 1)
        dag = random_dag(p, prob, seed=args.seed)
        x = sample_linear_gaussian(dag, args.samples, seed=args.seed + 1)
        times = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            ours = pc(x, cycle_check="causal-learn")
            times.append(time.perf_counter() - t)
        ours_s = float(np.median(times))
        peer, peer_s, same = NO_PEER, float("nan"), None
        if cl_pc is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                cg = cl_pc(x, 0.05, "fisherz", show_progress=False)
                peer_s = time.perf_counter() - t
            peer = "causal-learn"
            same = bool(np.array_equal(ours.graph.marks, _cl_marks(cg.G.graph)))
            assert same, f"CPDAGs differ on {p} nodes"
        r = result(
            "causal_pc",
            f"fisherz_p{p}_n{args.samples}",
            ours_s,
            peer,
            peer_s,
            nodes=p,
            samples=args.samples,
            edges=len(dag.edges),
            tests=ours.num_tests,
            same_cpdag=same,
        )
        rows.append(r)
        print(
            f"{r.case:24s} nextrl {ours_s:8.3f} s   {peer} {peer_s:8.3f} s   ratio {r.ratio:6.1f}x   same CPDAG: {same}"
        )
    if args.out:
        write_jsonl(args.out, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
