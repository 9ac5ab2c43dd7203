"""Batched variational-circuit benchmark: nextrl against PennyLane and Qiskit Aer, all cases in one run.

    python bench/bench_vqc.py                       # full run: n = 4, 8, 12; threads 1 and 2; B = 4096
    python bench/bench_vqc.py --quick               # fewer rounds, smaller peer batches, n = 4 and 8
    python bench/bench_vqc.py --threads 1 --qubits 4 --bench throughput latency --out vqc.jsonl

Cases: throughput (nextrl forward / vjp against the per-core goals), pennylane (forward + backward through
QuantumLayer against default.qubit backprop with broadcasting, and lightning.qubit adjoint), aer (forward
against Aer's EstimatorV2, exact), latency (B = 1 through QuantumLayer). Times in the table are per sample;
ratio = peer time / nextrl time (> 1: nextrl faster; for "goal" rows >= 1 means the goal is met). Prints a
table and, with --out, appends one JSON line per case (the schema of nextrl.experiments.benchmark;
python/nextrl/experiments/vqc_bench.py documents the cases). See bench/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

BENCHES = ("throughput", "pennylane", "aer", "latency")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 rounds, smaller peer batches, n = 4 and 8")
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts, one table column each (default 1 2; 1 gives the per-core figures)",
    )
    p.add_argument("--out", help="append one JSON line per case to this file (default: runs/<bench>-<time>.jsonl)")
    p.add_argument("--qubits", type=int, nargs="+", help="qubit counts (default 4 8 12; --quick: 4 8)")
    p.add_argument("--bench", nargs="+", choices=BENCHES, default=list(BENCHES), help="cases to run (default all)")
    p.add_argument("--batch", type=int, default=4096, help="batch size (default 4096)")
    p.add_argument("--layers", type=int, default=5, help="re-uploading layers (default 5)")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds, median reported (default 7; --quick 3)")
    p.add_argument("--no-lightning", action="store_true", help="skip PennyLane lightning.qubit")
    return p.parse_args(argv)


def fmt_time(s: float) -> str:
    from nextrl.experiments.benchmark import format_time

    return format_time(s)


def note(r) -> str:
    e = r.extra
    parts = [f"B={e['batch']}"]
    if r.bench == "throughput":
        parts.append(f"{e['samples_per_s']:.3g} samples/s")
        if r.case == "vjp":
            parts.append(f"vjp/fwd {e['vjp_over_forward']:.2f}")
    if r.bench == "latency" and r.case == "forward" and "autograd_function_floor_s" in e:
        parts.append(f"autograd.Function floor {fmt_time(e['autograd_function_floor_s'])}")
    if r.bench == "latency" and r.case == "forward+backward" and "autograd_backward_floor_s" in e:
        parts.append(f"floor with backward {fmt_time(e['autograd_backward_floor_s'])}")
    if isinstance(e.get("max_diff"), dict):
        parts.append(f"|diff| {e['max_diff']['outputs']:.1e}")
    elif isinstance(e.get("max_diff"), float):
        parts.append(f"|diff| {e['max_diff']:.1e}")
    parts.append(f"load {r.machine['loadavg_1m']:.1f}")
    return ", ".join(parts)


class Table:
    """Rows printed as they arrive (plain), and a rich table at the end when rich is installed."""

    header = ("bench", "case", "n", "thr", "nextrl /sample", "peer", "peer /sample", "ratio", "note")

    def __init__(self):
        try:
            from rich.console import Console
        except ImportError:
            self.console = None
        else:
            self.console = Console()
            if not self.console.is_terminal:  # a log file: do not wrap at 80 columns
                self.console = Console(width=180)
        self.rows = []

    def add(self, r) -> None:
        ratio = "-" if math.isnan(r.ratio) else f"{r.ratio:.2f}"
        cells = (
            r.bench,
            r.case,
            str(r.extra["n"]),
            str(r.extra["threads"]),
            fmt_time(r.ours_s),
            r.peer,
            fmt_time(r.peer_s),
            ratio,
            note(r),
        )
        self.rows.append(cells)
        print("  ".join(cells), file=sys.stderr, flush=True)

    def show(self) -> None:
        if not self.rows:
            return
        if self.console is None:
            print("  ".join(self.header))
            for cells in self.rows:
                print("  ".join(cells))
            return
        from rich.table import Table as RichTable

        table = RichTable(
            title="nextrl batched variational circuits, float64 (times per sample; "
            "ratio = peer / nextrl; goal rows: >= 1 means met)"
        )
        for h in self.header:
            table.add_column(h, justify="left" if h in ("bench", "case", "peer", "note") else "right")
        for cells in self.rows:
            table.add_row(*cells)
        self.console.print(table)


def main(argv=None) -> int:
    args = parse_args(argv)
    # lightning.qubit reads OMP_NUM_THREADS when first loaded: pin it to the first thread count
    # (nextrl and torch set theirs per case).
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads[0]))
    from nextrl.experiments import benchmark
    from nextrl.experiments import vqc_bench as vb

    qubits = args.qubits or ((4, 8) if args.quick else vb.QUBITS)
    repeats = 3 if args.quick and args.repeats == 7 else args.repeats
    base = vb.VQCConfig(
        batch=args.batch, layers=args.layers, repeats=repeats, latency_calls=500 if args.quick else 2000
    )
    if args.quick:
        base = vb.replace(
            base,
            peer_batch={k: max(v // 4, 16) for k, v in base.peer_batch.items()}
            | {("default.qubit", 4): 1024, ("lightning.qubit", 4): 256, ("aer", 4): 1024},
        )
    info, stamp = benchmark.machine_info(), benchmark.stamp()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores; nextrl {info['nextrl']} ({info['simd']}, "
        f"{info['compiler']}); threads {args.threads}; commit {stamp['commit']}; {stamp['date']}; "
        f"load {info['loadavg_1m']:.1f}",
        file=sys.stderr,
    )
    table = Table()
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {msg}", file=sys.stderr, flush=True)

    out = args.out or benchmark.default_out("vqc")  # one file for the whole run

    def emit(results) -> None:
        for r in results:
            table.add(r)
        print("results saved to", benchmark.save_results(out, "vqc", results, **stamp))

    devices = ("default.qubit",) if args.no_lightning else ("default.qubit", "lightning.qubit")
    for threads in args.threads:
        cfg = vb.with_threads(base, threads)
        if "throughput" in args.bench:
            emit(vb.bench_throughput(qubits, cfg, progress=progress))
        if "latency" in args.bench:
            emit(vb.bench_latency((4,), cfg, progress=progress))
        for n in qubits:
            if "pennylane" in args.bench:
                emit(vb.bench_pennylane((n,), cfg, devices=devices, progress=progress))
            if "aer" in args.bench:
                emit(vb.bench_aer((n,), cfg, progress=progress))
    table.show()
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
