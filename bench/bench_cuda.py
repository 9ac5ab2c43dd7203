"""CUDA benchmark: nextrl's device kernels against the same work in PyTorch on the same GPU, all in one run.

    python bench/bench_cuda.py --out cuda.jsonl             # full run (needs a CUDA build and a GPU)
    python bench/bench_cuda.py --quick                      # smaller registers and batches

Cases:
  gate      one 1-qubit gate on a 28..33-qubit complex64 state against the device's measured copy bandwidth
            (a gate reads and writes the state once, as a copy does): ratio = copy floor / gate time (1 = at floor)
  layered   a layered circuit (RY on every qubit, CZ chain; 4 layers) against a reshape-and-einsum simulator in
            PyTorch (one tensordot per gate, the way TorchQuantum and most users write it)
  sk4       SK-4 (Skolik et al. 2022: 4 qubits, 5 re-uploading layers, Z0Z1 / Z2Z3), forward and forward plus full
            gradient, B = 2^16 .. 2^20, against the same circuits batched in PyTorch (per-sample 2x2 einsums, autograd)
  q12       12 qubits, 5 re-uploading layers, B = 2^14: samples per second and the fraction of the shared-memory
            roofline (every op reads and writes each sample's state in shared memory once)
Prints a table; --out appends one JSON line per case (the schema of nextrl.experiments.benchmark: {"bench",
"case", "ours_s", "peer", "peer_s", "ratio", "machine", "extra"}). Times are medians of timed rounds after a
warm-up, with the device synchronized before the clock starts and before it stops (benchmark.measure).
"""

from __future__ import annotations

import argparse
import math
import subprocess

import numpy as np
import torch

from nextrl.experiments import benchmark
from nextrl.quantum import Circuit, Parameter, Statevector
from nextrl.quantum import cuda as qcuda
from nextrl.quantum.ansatz import skolik_reuploading


def timed(fn, repeats: int, warmup: int = 1) -> float:
    """Median seconds of `repeats` calls after `warmup`, the device synchronized around each."""
    return benchmark.measure(fn, repeats, warmup=warmup, sync=torch.cuda.synchronize)


def machine() -> dict:
    """benchmark.machine_info() plus the GPU: name, SMs, memory, max SM clock (nvidia-smi; NaN without it)."""
    p = torch.cuda.get_device_properties(0)
    try:
        clock = float(
            subprocess.run(
                ["nvidia-smi", "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.split()[0]
        )
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        clock = float("nan")
    return benchmark.machine_info() | {
        "gpu": p.name,
        "sms": p.multi_processor_count,
        "memory_gib": round(p.total_memory / 2**30, 1),
        "max_sm_clock_mhz": clock,
        "torch": torch.__version__,
    }


def row(bench: str, case: str, ours_s: float, peer: str, peer_s: float, mach: dict, **extra) -> benchmark.BenchResult:
    return benchmark.BenchResult(bench, case, ours_s, peer, peer_s, mach, extra)


# ----------------------------------------------------------------------------------------- statevector
def copy_bandwidth(nbytes: int, repeats: int) -> float:
    a = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda").uniform_()
    b = torch.empty_like(a)
    return 2 * nbytes / timed(lambda: b.copy_(a), repeats)  # bytes read + written per second


def bench_gate(qubits, repeats, rows, mach):
    bw = copy_bandwidth(1 << 33, repeats)  # 8 GiB: far past the L2
    torch.cuda.empty_cache()
    m = np.array([[0.6, 0.8j], [0.8j, 0.6]], dtype=np.complex128).ravel()

    def one(n):
        sv = Statevector(n, np.complex64, device="cuda")
        for target in (0, n // 2, n - 1):
            t = timed(lambda: sv._state.apply_matrix1(target, m), repeats)
            floor = 2 * sv._state.nbytes / bw
            rows.append(
                row(
                    "cuda_statevector",
                    f"gate_n{n}_q{target}",
                    t,
                    "copy_floor",
                    floor,
                    mach,
                    copy_bytes_per_s=bw,
                    state_bytes=sv._state.nbytes,
                )
            )

    for n in qubits:
        one(n)  # the state is freed on return
        torch.cuda.empty_cache()


def layered_circuit(n: int, layers: int) -> tuple[Circuit, np.ndarray]:
    c = Circuit(n)
    params = []
    for layer in range(layers):
        for q in range(n):
            p = Parameter(f"t{layer}_{q}")
            c.ry(p, q)
            params.append(p)
        for q in range(n - 1):
            c.cz(q, q + 1)
    return c, np.random.default_rng(0).uniform(-np.pi, np.pi, len(params))


class TorchStatevector:
    """The straightforward PyTorch simulator: state [2] * n, one tensordot per gate (TorchQuantum's approach)."""

    def __init__(self, n: int, dtype=torch.complex64):
        self.n = n
        self.state = torch.zeros([2] * n, dtype=dtype, device="cuda")
        self.state.view(-1)[0] = 1

    def gate(self, mat: torch.Tensor, qubits: list[int]):
        k = len(qubits)
        axes = [self.n - 1 - q for q in qubits]  # qubit 0 is the last axis (Qiskit order)
        m = mat.reshape([2] * (2 * k))
        out = torch.tensordot(m, self.state, dims=(list(range(k, 2 * k))[::-1], axes))
        self.state = torch.movedim(out, list(range(k)), axes[::-1]).contiguous()


def run_torch_layered(n: int, layers: int, values: np.ndarray):
    sim = TorchStatevector(n)
    cz = torch.diag(torch.tensor([1, 1, 1, -1], dtype=torch.complex64, device="cuda"))
    i = 0
    for _ in range(layers):
        for q in range(n):
            c, s = math.cos(values[i] / 2), math.sin(values[i] / 2)
            sim.gate(torch.tensor([[c, -s], [s, c]], dtype=torch.complex64, device="cuda"), [q])
            i += 1
        for q in range(n - 1):
            sim.gate(cz, [q, q + 1])
    return sim


def bench_layered(qubits, repeats, rows, mach):
    layers = 4
    for n in qubits:
        c, values = layered_circuit(n, layers)
        sv = Statevector(n, np.complex64, device="cuda")
        check = run_torch_layered(min(n, 16), layers, layered_circuit(min(n, 16), layers)[1])
        small = Statevector(min(n, 16), np.complex64, device="cuda").apply(*layered_circuit(min(n, 16), layers))
        err = float(np.abs(small.cpu().amplitudes - check.state.reshape(-1).cpu().numpy()).max())

        def ours():
            sv.reset().apply(c, values)

        t = timed(ours, repeats)
        del sv
        torch.cuda.empty_cache()
        tp = timed(lambda: run_torch_layered(n, layers, values), max(1, repeats // 2))
        torch.cuda.empty_cache()
        blocks = qcuda.device_circuit(c).num_blocks
        rows.append(
            row(
                "cuda_statevector",
                f"layered_n{n}",
                t,
                "torch_einsum",
                tp,
                mach,
                gates=len(c),
                passes=blocks,
                max_abs_diff_n16=err,
            )
        )
        if n == qubits[0]:  # the fusion limit: one pass per block of k qubits against 4^k work per amplitude
            for k in range(qcuda.MAX_FUSED_QUBITS + 1):
                sv = Statevector(n, np.complex64, device="cuda")
                tk = timed(lambda: sv.reset().apply(c, values, fusion=k), repeats)
                del sv
                rows.append(
                    row(
                        "cuda_statevector",
                        f"layered_n{n}_fusion{k}",
                        tk,
                        "torch_einsum",
                        tp,
                        mach,
                        passes=qcuda.device_circuit(c, k).num_blocks,
                    )
                )


# ----------------------------------------------------------------------------------- variational circuits
class TorchBatchedVQC:
    """The same variational circuit batched in PyTorch: state [B, 2, ..., 2], per-sample 2x2 matrices applied with
    einsum, CZ as a sign flip, Z-product read-outs; gradients by autograd."""

    def __init__(self, vc):
        self.vc = vc
        self.n = vc.num_qubits
        self.ops = list(vc.circuit)
        dim = 1 << self.n
        idx = torch.arange(dim, device="cuda")
        self.obs = []
        for o in vc.observables:
            diag = torch.zeros(dim, device="cuda")
            for label, coeff in zip(o.labels, o.coeffs):
                z = torch.ones(dim, device="cuda")
                for q, ch in enumerate(reversed(label)):
                    if ch == "Z":
                        z = z * (1 - 2 * ((idx >> q) & 1)).float()
                diag = diag + float(np.real(coeff)) * z
            self.obs.append(diag)
        self.obs = torch.stack(self.obs, 1)  # [dim, A]

    def forward(self, x, w, s):
        B, n = x.shape[0], self.n
        state = torch.zeros((B, 1 << n), dtype=torch.complex64, device="cuda")
        state[:, 0] = 1
        state = state.view([B] + [2] * n)
        vc = self.vc
        for ins in self.ops:
            if ins.base == "z":  # CZ: a sign on |11>
                a, b = n - ins.controls[0], n - ins.targets[0]
                idx = [slice(None)] * (n + 1)
                idx[a], idx[b] = 1, 1
                state = state.clone()
                state[tuple(idx)] = -state[tuple(idx)]
                continue
            src = vc.sources[ins.params[0]]
            if hasattr(src, "scale"):
                theta = x[:, src.index] * (s[src.scale] if src.scale is not None else 1.0)
            else:
                theta = w[src.index].expand(B)
            c, sn = torch.cos(theta / 2), torch.sin(theta / 2)
            zero = torch.zeros_like(c)
            if ins.base == "rx":
                m = torch.stack(
                    [
                        torch.complex(c, zero),
                        torch.complex(zero, -sn),
                        torch.complex(zero, -sn),
                        torch.complex(c, zero),
                    ],
                    1,
                )
            elif ins.base == "ry":
                m = torch.stack(
                    [torch.complex(c, zero), torch.complex(-sn, zero), torch.complex(sn, zero), torch.complex(c, zero)],
                    1,
                )
            else:  # rz
                m = torch.stack(
                    [torch.complex(c, -sn), torch.complex(zero, zero), torch.complex(zero, zero), torch.complex(c, sn)],
                    1,
                )
            m = m.view(B, 2, 2)
            axis = n - ins.targets[0]
            state = torch.movedim(torch.einsum("bij,bj...->bi...", m, torch.movedim(state, axis, 1)), 1, axis)
        probs = state.reshape(B, -1).abs() ** 2
        return probs @ self.obs


def bench_vqc(batches, repeats, rows, mach, n=4, layers=5, case="sk4", peer_cap=1 << 20):
    """peer_cap: the PyTorch peer runs at most this many samples (autograd keeps every intermediate state); its
    time is scaled to the batch per sample."""
    vc = skolik_reuploading(n, layers)
    rng = np.random.default_rng(1)
    w = torch.tensor(rng.uniform(-np.pi, np.pi, vc.num_weights), dtype=torch.float32, device="cuda")
    s = torch.ones(vc.num_scales, dtype=torch.float32, device="cuda")
    peer = TorchBatchedVQC(vc)
    plan, _ = qcuda._device_plan(vc, w.device)
    for B in batches:
        x = torch.tensor(rng.normal(size=(B, vc.num_features)), dtype=torch.float32, device="cuda")
        g = torch.ones((B, vc.num_outputs), dtype=torch.float32, device="cuda")
        fwd = timed(lambda: qcuda._run(vc, "float32", x, w, s), repeats)
        vjp = timed(lambda: qcuda._run(vc, "float32", x, w, s, g), repeats)
        out, _ = qcuda._run(vc, "float32", x, w, s)
        ref = peer.forward(x[:256], w, s)
        err = float((out[:256] - ref).abs().max())

        pB = min(B, peer_cap)
        xq = x[:pB].contiguous()

        def peer_fwd():
            with torch.no_grad():
                peer.forward(xq, w, s)

        wp, sp, xp = w.clone().requires_grad_(True), s.clone().requires_grad_(True), xq.clone().requires_grad_(True)

        def peer_vjp():
            out = peer.forward(xp, wp, sp)
            torch.autograd.grad(out.sum(), (xp, wp, sp))

        try:
            tpf = timed(peer_fwd, max(1, repeats // 2)) * B / pB
            tpv = timed(peer_vjp, max(1, repeats // 2)) * B / pB
        except torch.cuda.OutOfMemoryError:
            tpf = tpv = float("nan")
        torch.cuda.empty_cache()
        dim = 1 << n
        smem_bytes = vc.circuit.__len__() * dim * 8 * 2  # every op reads and writes the state once (complex64)
        for kind, t, tp, passes in (("forward", fwd, tpf, 1), ("forward+grad", vjp, tpv, 3)):
            extra = dict(
                batch=B,
                peer_batch=pB,
                samples_per_s=B / t,
                peer_samples_per_s=B / tp,
                max_abs_diff_vs_torch=err,
                shared_bytes_per_block=plan.shared_bytes(True, kind != "forward"),
            )
            clock = mach.get("max_sm_clock_mhz", float("nan"))
            if clock == clock:
                roof = mach["sms"] * 128 * clock * 1e6  # shared memory: 32 banks x 4 B per clock per SM
                extra["smem_roofline_fraction"] = passes * smem_bytes * B / t / roof
            rows.append(row("cuda_vqc", f"{case}_{kind}_B{B}", t, "torch_batched", tp, mach, **extra))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", help="append one JSON line per case to this file (default: runs/<bench>-<time>.jsonl)")
    p.add_argument("--cases", nargs="+", default=["gate", "layered", "sk4", "q12"])
    args = p.parse_args(argv)
    if not qcuda.available():
        raise SystemExit("bench_cuda: needs a CUDA build of nextrl and a visible GPU")
    mach = machine()
    rows: list[benchmark.BenchResult] = []
    repeats = 3 if args.quick else 7
    if "gate" in args.cases:
        bench_gate([26, 28] if args.quick else [28, 30, 32, 33], repeats, rows, mach)
    if "layered" in args.cases:
        bench_layered([24] if args.quick else [28, 30], repeats, rows, mach)
    if "sk4" in args.cases:
        bench_vqc([1 << 14] if args.quick else [1 << 16, 1 << 18, 1 << 20], repeats, rows, mach)
    if "q12" in args.cases:
        bench_vqc([1 << 12] if args.quick else [1 << 14], repeats, rows, mach, n=12, case="q12", peer_cap=1 << 10)
    print(f"{'bench':18s} {'case':26s} {'ours':>11s} {'peer':>14s} {'peer time':>11s} {'ratio':>8s}  notes")
    for r in rows:
        notes = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.extra.items())
        print(
            f"{r.bench:18s} {r.case:26s} {r.ours_s * 1e3:9.3f}ms {r.peer:>14s} "
            f"{r.peer_s * 1e3:9.3f}ms {r.ratio:8.2f}  {notes}"
        )
    print("results saved to", benchmark.save_results(args.out, "cuda", rows, **benchmark.stamp()))


if __name__ == "__main__":
    main()
