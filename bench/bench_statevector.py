"""Statevector benchmark: nextrl against Qiskit Aer, qulacs and the memory-copy floor.

    python bench/bench_statevector.py                 # full run: layered n = 16..26, gate_1q 22..26, small
    python bench/bench_statevector.py --quick         # layered n = 16..22, gate_1q 22..24, small
    python bench/bench_statevector.py --tune          # fusion block size / local buffer sweep at n = 22, 24
    python bench/bench_statevector.py --bench layered --qubits 20 22 --out results.jsonl

Prints a table and, with --out, appends one JSON line per case (the schema of nextrl.experiments.benchmark;
python/nextrl/experiments/statevector_bench.py documents the cases). See bench/README.md for what each case
measures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

BENCHES = ("layered", "gate_1q", "small")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes (layered up to 22 qubits, gate_1q up to 24)")
    p.add_argument("--threads", type=int, default=2, help="threads for nextrl, Aer and qulacs (default 2)")
    p.add_argument("--out", help="append one JSON line per case to this file (default: runs/<bench>-<time>.jsonl)")
    p.add_argument("--qubits", type=int, nargs="+", help="qubit counts for the layered case (or for --tune)")
    p.add_argument("--bench", nargs="+", choices=BENCHES, default=list(BENCHES), help="cases to run (default all)")
    p.add_argument("--layers", type=int, default=4, help="layers of the layered circuit (default 4)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs below 24 qubits, median reported (default 5)")
    p.add_argument(
        "--big-repeats", type=int, default=3, help="timed runs from 24 qubits on, minimum reported (default 3)"
    )
    p.add_argument("--peers", nargs="+", default=["qiskit-aer", "qulacs"], choices=["qiskit-aer", "qulacs"])
    p.add_argument(
        "--tune",
        action="store_true",
        help="instead of the cases: sweep the fusion block size 4..12 and the local buffer size",
    )
    p.add_argument(
        "--markdown",
        metavar="JSONL",
        help="instead of running: print the results in JSONL as the markdown tables of bench/README.md",
    )
    p.add_argument(
        "--local-bits",
        type=int,
        nargs="*",
        default=[10, 11, 13, 14],
        help="local buffer sizes (log2 amplitudes) for --tune (default 10 11 13 14; 12 is the default)",
    )
    return p.parse_args(argv)


def fmt_time(s: float) -> str:
    from nextrl.experiments.benchmark import format_time

    return format_time(s)


def note(r) -> str:
    e = r.extra
    if r.bench in ("layered", "tune") and "fusion" in e and r.case.startswith(("fused", "max_fused")):
        f = e["fusion"]
        per_layer = f["num_blocks"] / e["layers"]
        return f"{f['num_blocks']} blocks ({per_layer:.2f}/layer, {f['mean_block_qubits']:.1f} qubits)"
    if r.bench == "gate_1q":
        return f"gate/copy {e['gate_over_copy']:.2f}, {e['gate_GBps']:.1f} GB/s"
    if r.bench == "small":
        return f"{e['gates']} gates, {e['fusion']['num_blocks']} block(s)"
    return ""


class Table:
    """Rows printed as they arrive: with rich if installed, else plain columns."""

    header = ("bench", "case", "n", "nextrl", "peer", "peer time", "ratio", "stat", "note")

    def __init__(self):
        try:
            from rich.console import Console
        except ImportError:
            self.console = None
            print("  ".join(f"{h:>10}" for h in self.header))
        else:
            self.console = Console()
            if not self.console.is_terminal:  # a log file: do not wrap at 80 columns
                self.console = Console(width=170)
        self.rows = []

    def add(self, r) -> None:
        cells = (
            r.bench,
            r.case,
            str(r.extra["n"]),
            fmt_time(r.ours_s),
            r.peer,
            fmt_time(r.peer_s),
            f"{r.ratio:.2f}",
            f"{r.extra.get('stat', '')} of {r.extra.get('runs', '')}",
            note(r),
        )
        self.rows.append(cells)
        if self.console is None:
            print("  ".join(f"{c:>10}" for c in cells), flush=True)

    def show(self) -> None:
        if self.console is None or not self.rows:
            return
        from rich.table import Table as RichTable

        table = RichTable(title="nextrl statevector benchmark (ratio = peer time / nextrl time; > 1: nextrl faster)")
        for h in self.header:
            table.add_column(h, justify="left" if h in ("bench", "case", "peer", "stat", "note") else "right")
        for cells in self.rows:
            table.add_row(*cells)
        self.console.print(table)


def markdown(path: str) -> str:
    """bench/README.md's tables from a JSON-lines file written by --out (the last row of each key wins). Reads
    the records of nextrl.experiments.benchmark (n in "extra") and the older ones with a top-level "n"."""
    rows = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            r.setdefault("n", r.get("extra", {}).get("n"))
            rows[(r["bench"], r["case"], r["n"], r["peer"])] = r
    out = []
    layered = sorted({k[2] for k in rows if k[0] == "layered"})
    if layered:
        out += [
            "| n | nextrl fused | nextrl unfused | Aer | qulacs | Aer / fused | qulacs / fused | "
            "qulacs / unfused | blocks per layer |",
            "|---" * 9 + "|",
        ]
        for n in layered:
            fu, aer = (
                rows.get(("layered", "fused", n, "nextrl-unfused")),
                rows.get(("layered", "fused", n, "qiskit-aer")),
            )
            ql, qu = rows.get(("layered", "fused", n, "qulacs")), rows.get(("layered", "unfused", n, "qulacs"))
            cell = lambda r, key: "-" if r is None else (fmt_time(r[key]) if key.endswith("_s") else f"{r[key]:.2f}")
            out.append(
                f"| {n} | {cell(fu, 'ours_s')} | {cell(fu, 'peer_s')} | {cell(aer, 'peer_s')} | "
                f"{cell(ql, 'peer_s')} | {cell(aer, 'ratio')} | {cell(ql, 'ratio')} | {cell(qu, 'ratio')} | "
                f"{fu['extra']['fusion']['blocks_per_layer']:.2f} |"
            )
        out.append("")
    gates = [r for k, r in rows.items() if k[0] == "gate_1q"]
    if gates:
        out += ["| n | gate | time per gate | copy floor | gate / copy | gate GB/s |", "|---" * 6 + "|"]
        for r in sorted(gates, key=lambda r: (r["n"], int(r["case"].split("=")[1]))):
            out.append(
                f"| {r['n']} | {r['case']} | {fmt_time(r['ours_s'])} | {fmt_time(r['peer_s'])} | "
                f"{r['extra']['gate_over_copy']:.2f} | {r['extra']['gate_GBps']:.1f} |"
            )
        out.append("")
    small = [r for k, r in rows.items() if k[0] == "small"]
    if small:
        out += ["| n | nextrl case | nextrl per circuit | peer | peer per circuit | peer / nextrl |", "|---" * 6 + "|"]
        for r in sorted(small, key=lambda r: (r["n"], r["case"], r["peer"])):
            out.append(
                f"| {r['n']} | {r['case']} | {fmt_time(r['ours_s'])} | {r['peer']} | {fmt_time(r['peer_s'])} | "
                f"{r['ratio']:.2f} |"
            )
        out.append("")
    tune = [r for k, r in rows.items() if k[0] == "tune"]
    if tune:
        out += ["| n | setting | time | default time | default / setting | blocks |", "|---" * 6 + "|"]
        for r in tune:
            out.append(
                f"| {r['n']} | {r['case']} | {fmt_time(r['ours_s'])} | {fmt_time(r['peer_s'])} | "
                f"{r['ratio']:.2f} | {r['extra']['fusion']['num_blocks']} |"
            )
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    # qulacs (and OpenMP in general) reads OMP_NUM_THREADS when first loaded: set it before any import.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from nextrl.experiments import benchmark
    from nextrl.experiments import statevector_bench as sb

    cfg = sb.BenchConfig(threads=args.threads, layers=args.layers, repeats=args.repeats, big_repeats=args.big_repeats)
    info, stamp = benchmark.machine_info(), benchmark.stamp()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores; nextrl {info['nextrl']} ({info['simd']}, "
        f"{info['compiler']}), {args.threads} threads; commit {stamp['commit']}; {stamp['date']}; "
        f"load {info['loadavg_1m']:.1f}",
        file=sys.stderr,
    )
    table = Table()
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {msg}", file=sys.stderr, flush=True)

    out = args.out or benchmark.default_out("statevector")  # one file for the whole run

    def emit(results) -> None:
        for r in results:
            table.add(r)
        print("results saved to", benchmark.save_results(out, "statevector", results, **stamp))

    if args.tune:
        rows = []
        for n in args.qubits or sb.TUNE_QUBITS:
            res = sb.tune_fusion([n], cfg, local_bits_values=args.local_bits, progress=progress)
            emit(res)
            rows += res
        table.show()
        for n in sorted({r.extra["n"] for r in rows}):
            best = min((r for r in rows if r.extra["n"] == n), key=lambda r: r.ours_s)
            print(
                f"n={n}: fastest {best.case}: {fmt_time(best.ours_s)} vs default {fmt_time(best.peer_s)} "
                f"({best.ratio:.2f}x)"
            )
        return 0
    if "layered" in args.bench:
        for n in args.qubits or (sb.QUICK_QUBITS if args.quick else sb.FULL_QUBITS):
            emit(sb.bench_layered([n], cfg, peers=args.peers, progress=progress))
    if "gate_1q" in args.bench:
        for n in sb.QUICK_GATE_QUBITS if args.quick else sb.GATE_QUBITS:
            emit(sb.bench_gate_1q([n], cfg, progress=progress))
    if "small" in args.bench:
        emit(sb.bench_small(sb.SMALL_QUBITS, cfg, peers=args.peers, progress=progress))
    table.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
