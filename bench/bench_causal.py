"""PC (Fisher-z, PC-stable) against causal-learn's pc on random linear-Gaussian DAGs, and the KCI test against
causal-learn's KCI_UInd / KCI_CInd on nonlinear data, in one run.

    python bench/bench_causal.py                          # 20 and 50 nodes, 5000 samples; KCI at n = 300
    python bench/bench_causal.py --nodes 20 --out causal.jsonl
    python bench/bench_causal.py --nodes --kci-samples 300 1000   # KCI only

The KCI case answers the same queries (unconditional, |S| = 1 and 2) with both and asserts equal p-values
(rtol 1e-6); nextrl's time includes building its test object (its per-conditioning-set cache included).

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
from nextrl.experiments.benchmark import NO_PEER, result, save_results, stamp


def _cl_marks(g: np.ndarray) -> np.ndarray:
    m = np.zeros(g.shape, np.int8)
    m[g.T == -1] = TAIL
    m[g.T == 1] = ARROW
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, nargs="*", default=[20, 50], help="PC cases (none: skip)")
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--edge-prob", type=float, default=None, help="default 2 / (nodes - 1): mean degree 2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds of nextrl, median reported")
    ap.add_argument("--kci-samples", type=int, nargs="*", default=[300], help="KCI cases (none: skip)")
    ap.add_argument("--out", help="append one JSON line per case to this file (default: runs/<bench>-<time>.jsonl)")
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
    for n in args.kci_samples:
        r = _kci_case(n, args.seed)
        rows.append(r)
        print(f"{r.case:24s} nextrl {r.ours_s:8.3f} s   {r.peer} {r.peer_s:8.3f} s   ratio {r.ratio:6.1f}x")
    print("results saved to", save_results(args.out, "causal", rows, **stamp()))
    return 0


def _kci_case(n: int, seed: int):
    """20 KCI queries on 6 nonlinear variables: 5 unconditional, 10 with |S| = 1, 5 with |S| = 2."""
    from nextrl.causal import KCI

    rng = np.random.default_rng(seed)
    z = rng.uniform(-2, 2, (n, 2))
    x = np.sin(1.5 * z[:, 0]) + 0.3 * rng.standard_normal(n)
    y = np.cos(z[:, 0]) * z[:, 1] + 0.3 * rng.laplace(size=n)
    w = np.tanh(x) + 0.5 * y + 0.3 * rng.standard_normal(n)
    v = x**2 + 0.3 * rng.standard_normal(n)
    d = np.c_[x, y, z, w, v]
    pairs = [(0, 1), (0, 4), (1, 5), (2, 3), (4, 5)]
    queries = [(a, b, ()) for a, b in pairs]
    queries += [(a, b, (c,)) for a, b in pairs for c in (2, 3) if c not in (a, b)]
    queries += [(a, b, (2, 3)) for a, b in pairs if not {a, b} & {2, 3}]
    t = time.perf_counter()
    test = KCI(d)
    ours = [test.pvalues([a], [b], np.array([c], np.int64).reshape(1, len(c)))[0] for a, b, c in queries]
    ours_s = time.perf_counter() - t
    peer, peer_s = NO_PEER, float("nan")
    try:
        from causallearn.utils.KCI.KCI import KCI_CInd, KCI_UInd
    except ImportError:
        print("causal-learn not installed: timing nextrl's KCI only")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            want = [
                KCI_CInd().compute_pvalue(d[:, [a]], d[:, [b]], d[:, list(c)])[0]
                if c
                else KCI_UInd().compute_pvalue(d[:, [a]], d[:, [b]])[0]
                for a, b, c in queries
            ]
            peer_s = time.perf_counter() - t
        peer = "causal-learn"
        np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-12)
    return result("causal_kci", f"kci_n{n}_q{len(queries)}", ours_s, peer, peer_s, samples=n, queries=len(queries))


if __name__ == "__main__":
    raise SystemExit(main())
