"""Batched variational-circuit benchmarks: nextrl against PennyLane and Qiskit Aer, and the issue's goals.

Every number is measured in the same process on the same machine (ARCHITECTURE.md, "Benchmarks").
`ours_s` and `peer_s` are **seconds per sample** (batch time / batch size), so rows at different batch
sizes stay comparable; `ratio = peer_s / ours_s` (> 1: nextrl is faster). In every nextrl-vs-peer row
both contenders run the same batch size, timed round-robin (nextrl, peer, nextrl, peer, ...) so that
both see the same load on a shared machine; the median over the rounds is reported. Before a peer is
timed its outputs are checked against nextrl's on the same inputs, weights and scales (`atol`).

Circuit: `skolik_reuploading(n, layers)` ("SK-4" at n = 4: observables Z0 Z1 and Z2 Z3; Z on every
qubit otherwise), float64 / complex128, random inputs, weights in [0, 2 pi) and scales around 1.

Cases (`bench` field):
  throughput  nextrl alone at `batch` (capped by peer_batch[("nextrl", n)]): forward and forward + full
              adjoint gradient (vjp), raw
              VariationalCircuit calls. Peer "goal": the issue's per-core target as seconds per sample,
              so ratio >= 1 means the goal is met (goals are per core: judge them at threads = 1).
  pennylane   forward + backward (loss = outputs.sum(), .backward()) through nextrl's QuantumLayer
              against the same circuit as a PennyLane QNode: default.qubit, torch interface, backprop,
              parameter broadcasting (all samples in one call); and lightning.qubit with the adjoint
              method when installed (PennyLane splits a broadcast batch into one tape per sample).
              Also forward only against default.qubit.
  aer         forward: nextrl VariationalCircuit.forward against qiskit_aer.primitives.EstimatorV2
              (default_precision 0: exact expectation values, no shots) with one PUB
              (circuit, observables [1, A], parameter values [B, 1, P]).
  latency     B = 1 through QuantumLayer (output_scaling=True): forward (autograd on, and under
              torch.no_grad) and forward + backward, median over many calls; peer "goal" (30 us for
              forward) or PennyLane default.qubit at B = 1. `extra.autograd_function_floor_s`: the
              per-call time of a trivial torch.autograd.Function on the same tensors in the same rounds
              (the floor of any autograd-based layer; the no_grad forward does not pay it).

Functions return benchmark.BenchResult records (the qubit count in `extra["n"]`, the thread count in
`extra["threads"]`) and never print; `progress`, when given, is called with a short string before each step.
bench/bench_vqc.py is the CLI. Timing and machine facts come from nextrl.experiments.benchmark.
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

import nextrl
from nextrl.experiments import benchmark
from nextrl.experiments.benchmark import BenchResult, Progress, machine_info

__all__ = [
    "GOALS",
    "VQCConfig",
    "bench_aer",
    "bench_latency",
    "bench_pennylane",
    "bench_throughput",
    "pennylane_qnode",
    "with_threads",
]

QUBITS = (4, 8, 12)
GOALS = {
    "forward_per_core": 2e5,  # samples/s, SK-4, B = 4096, float64, one thread
    "vjp_per_core": 6e4,  # samples/s, forward plus full gradient
    "pennylane_fwd_bwd": 50.0,  # x PennyLane default.qubit, forward + backward
    "aer_forward": 300.0,  # x Qiskit Aer EstimatorV2, forward
    "latency_forward_s": 30e-6,  # B = 1 through the torch layer
}


@dataclass(frozen=True)
class VQCConfig:
    batch: int = 4096
    """samples per call for nextrl's throughput rows and, unless capped below, for the peers"""
    layers: int = 5
    """re-uploading layers of skolik_reuploading"""
    threads: int = 1
    """threads for nextrl (set_num_threads), torch (set_num_threads) and Aer (max_parallel_threads)"""
    repeats: int = 7
    """timed rounds per measurement; the median is reported"""
    peer_batch: dict = field(
        default_factory=lambda: {
            ("nextrl", 12): 512,
            ("default.qubit", 8): 1024,
            ("default.qubit", 12): 64,
            ("lightning.qubit", 4): 256,
            ("lightning.qubit", 8): 128,
            ("lightning.qubit", 12): 32,
            ("aer", 8): 2048,
            ("aer", 12): 256,
        }
    )
    """(peer, n) -> batch size cap (backprop memory and run time); nextrl runs the same batch in that row.
    ("nextrl", n) caps the throughput rows (n = 12: a 4096-sample vjp takes seconds per call)"""
    latency_calls: int = 2000
    """B = 1 calls per latency measurement (median per call)"""
    seed: int = 0
    atol: float = 1e-8
    """max |output difference| allowed between a peer and nextrl (exact simulators)"""
    lightning_atol: float = 1e-6
    """the same for lightning.qubit through PennyLane's torch interface (float32-rounded angles)"""

    def peer_batch_for(self, peer: str, n: int) -> int:
        return min(self.batch, self.peer_batch.get((peer, n), self.batch))


_version = benchmark.version


@contextlib.contextmanager
def _threads(k: int):
    import torch

    prev_ours, prev_torch = nextrl.get_num_threads(), torch.get_num_threads()
    nextrl.set_num_threads(k)
    torch.set_num_threads(k)
    try:
        yield
    finally:
        nextrl.set_num_threads(prev_ours)
        torch.set_num_threads(prev_torch)


def _machine(cfg: VQCConfig) -> dict:
    from nextrl import _core

    m = machine_info()
    m["threads"] = cfg.threads
    with contextlib.suppress(OSError):  # which build of the kernels ran (they change during development)
        m["core_built"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(_core.__file__)))
    return m


def _common(cfg: VQCConfig, **kw) -> dict:
    return {
        "stat": "median",
        "runs": cfg.repeats,
        "threads": cfg.threads,
        "dtype": "float64",
        "layers": cfg.layers,
    } | kw


def _row(
    bench: str, case: str, n: int, ours_s: float, peer: str, peer_s: float, cfg: VQCConfig, extra: dict
) -> BenchResult:
    """One case; the machine facts (load included) are taken now."""
    return benchmark.result(bench, case, ours_s, peer, peer_s, machine=_machine(cfg), n=n, **extra)


# ----------------------------------------------------------------------------------------- timing
@dataclass
class _Engine:
    name: str
    run: Callable[[], object]


def _interleaved(engines: Sequence[_Engine], runs: int, progress: Progress, label: str) -> dict[str, float]:
    """Times every engine `runs` times round-robin (after one untimed warm-up each, gc.collect() before each
    timed run); median seconds."""
    times = benchmark.interleaved(
        {e.name: e.run for e in engines}, runs, warmup=1, before_each=gc.collect, progress=progress, label=label
    )
    return {name: statistics.median(t) for name, t in times.items()}


def _max_diff(a, b, what: str, atol: float) -> float:
    diff = float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
    if not diff <= atol:
        raise AssertionError(f"vqc_bench: {what} differs from nextrl by {diff:.3g} (atol {atol})")
    return diff


# ----------------------------------------------------------------------------------------- problem
@dataclass
class _Problem:
    n: int
    vc: object
    x: np.ndarray  # [batch, F]
    w: np.ndarray  # [W]
    s: np.ndarray  # [S]

    def rows(self, b: int) -> np.ndarray:
        return np.ascontiguousarray(self.x[:b])


def _problem(n: int, cfg: VQCConfig) -> _Problem:
    from nextrl.quantum.ansatz import skolik_reuploading

    vc = skolik_reuploading(n, cfg.layers)
    rng = np.random.default_rng(cfg.seed + n)
    x = rng.uniform(-np.pi, np.pi, size=(cfg.batch, vc.num_features))
    w = rng.uniform(0, 2 * np.pi, size=vc.num_weights)
    s = rng.uniform(0.5, 1.5, size=vc.num_scales)
    return _Problem(n, vc, x, w, s)


def _case_name(n: int) -> str:
    return "SK-4" if n == 4 else f"SK-{n}"


# ----------------------------------------------------------------------------------------- throughput
def bench_throughput(
    qubits: Iterable[int] = QUBITS, cfg: VQCConfig = VQCConfig(), *, progress: Progress = None
) -> list[BenchResult]:
    """nextrl forward and forward + full gradient (vjp) at `cfg.batch`, against the per-core goals."""
    results = []
    with _threads(cfg.threads):
        for n in qubits:
            p = _problem(n, cfg)
            vc, B = p.vc, cfg.peer_batch_for("nextrl", n)
            x, g = p.rows(B), np.ones((B, vc.num_outputs))
            t = _interleaved(
                [_Engine("forward", lambda: vc.forward(x, p.w, p.s)), _Engine("vjp", lambda: vc.vjp(x, p.w, p.s, g))],
                cfg.repeats,
                progress,
                f"throughput n={n} threads={cfg.threads}",
            )
            common = _common(
                cfg,
                batch=B,
                circuit=_case_name(n),
                gates=len(vc.circuit),
                lanes=vc.plan.lanes,
                isa=str(vc.plan.isa),
                vjp_over_forward=t["vjp"] / t["forward"],
            )
            for case, goal in (("forward", GOALS["forward_per_core"]), ("vjp", GOALS["vjp_per_core"])):
                ours = t[case] / B
                goal_s = 1.0 / goal if n == 4 else float("nan")
                results.append(
                    _row(
                        "throughput",
                        case,
                        n,
                        ours,
                        f"goal {goal:.0e}/s/core" if n == 4 else benchmark.NO_PEER,
                        goal_s,
                        cfg,
                        common
                        | {
                            "samples_per_s": 1.0 / ours,
                            "samples_per_s_per_thread": 1.0 / ours / cfg.threads,
                            "batch_s": t[case],
                        },
                    )
                )
    return results


# ----------------------------------------------------------------------------------------- pennylane
def pennylane_qnode(vc, device: str = "default.qubit", diff_method: str = "backprop"):
    """The VariationalCircuit `vc` as a PennyLane QNode f(x [B, F] tensor, w [W], s [S]) -> [B, A]
    (torch interface). Qubit q of nextrl is wire q; Pauli labels are read right to left (Qiskit order),
    so a label's last character acts on wire 0. Supports rx/ry/rz with a single Parameter, cz, cx."""
    import pennylane as qml
    import torch

    from nextrl.quantum.parameters import Parameter
    from nextrl.quantum.variational import Feature, Weight

    n = vc.num_qubits
    rot = {"rx": qml.RX, "ry": qml.RY, "rz": qml.RZ}
    program = []
    for ins in vc.circuit:
        if ins.base in rot and not ins.controls:
            (param,) = ins.params
            if not isinstance(param, Parameter):
                raise ValueError(f"pennylane_qnode: gate {ins.base} needs a plain Parameter, got {param!r}")
            program.append((rot[ins.base], ins.targets[0], vc.sources[param]))
        elif ins.base in ("z", "x") and len(ins.controls) == 1 and len(ins.targets) == 1 and not ins.params:
            program.append((qml.CZ if ins.base == "z" else qml.CNOT, (ins.controls[0], ins.targets[0]), None))
        else:
            raise ValueError(f"pennylane_qnode: unsupported instruction {ins.base} {ins.targets} {ins.controls}")

    paulis = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}
    observables = []
    for o in vc.observables:
        terms = []
        for label, coeff in o.to_sparse_pauli_op().to_list():
            ops = [paulis[ch](n - 1 - i) for i, ch in enumerate(label) if ch != "I"]
            word = qml.prod(*ops) if len(ops) > 1 else (ops[0] if ops else qml.Identity(0))
            terms.append((float(np.real(coeff)), word))
        observables.append(
            terms[0][1]
            if len(terms) == 1 and terms[0][0] == 1.0
            else qml.dot([c for c, _ in terms], [t for _, t in terms])
        )

    dev = qml.device(device, wires=n)

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def circuit(x, w, s):
        for gate, wires, src in program:
            if src is None:
                gate(wires=list(wires))
            elif isinstance(src, Weight):
                gate(w[src.index], wires=wires)
            elif isinstance(src, Feature):
                angle = x[..., src.index] * s[src.scale] if src.scale is not None else x[..., src.index]
                gate(angle, wires=wires)
        return [qml.expval(o) for o in observables]

    def f(x, w, s):
        out = circuit(x, w, s)
        return torch.stack(list(out), dim=-1)

    return f


def _torch_inputs(p: _Problem, b: int, requires_grad: bool):
    import torch

    x = torch.tensor(p.rows(b), dtype=torch.float64, requires_grad=requires_grad)
    w = torch.tensor(p.w, dtype=torch.float64, requires_grad=requires_grad)
    s = torch.tensor(p.s, dtype=torch.float64, requires_grad=requires_grad)
    return x, w, s


def _layer(p: _Problem, output_scaling: bool):
    import torch

    from nextrl.quantum import QuantumLayer

    layer = QuantumLayer(p.vc, output_scaling=output_scaling, dtype=torch.float64)
    with torch.no_grad():
        layer.weights.copy_(torch.from_numpy(p.w))
        layer.scales.copy_(torch.from_numpy(p.s))
    return layer


def _fwd_bwd(layer, x):
    def run():
        x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).sum().backward()

    return run


def _peer_fwd_bwd(f, x, w, s):
    def run():
        for t in (x, w, s):
            t.grad = None
        f(x, w, s).sum().backward()

    return run


def bench_pennylane(
    qubits: Iterable[int] = QUBITS,
    cfg: VQCConfig = VQCConfig(),
    *,
    devices: Sequence[str] = ("default.qubit", "lightning.qubit"),
    forward: bool = True,
    progress: Progress = None,
) -> list[BenchResult]:
    """Forward + backward through nextrl's QuantumLayer against PennyLane QNodes (see module doc);
    checks PennyLane's outputs and gradients against nextrl's before timing. lightning.qubit is
    skipped (no row) when pennylane-lightning is not installed."""
    import torch

    results = []
    with _threads(cfg.threads):
        for n in qubits:
            p = _problem(n, cfg)
            for device in devices:
                if device == "lightning.qubit" and _version("pennylane-lightning") is None:
                    continue
                method = "backprop" if device == "default.qubit" else "adjoint"
                b = cfg.peer_batch_for(device, n)
                f = pennylane_qnode(p.vc, device, method)
                if progress is not None:
                    progress(f"pennylane n={n} {device}: checking B={b}")
                # equal-work check: outputs and all three gradients. lightning.qubit through the torch
                # interface gets its angles rounded to float32 on the way (measured: ~1e-8 errors even for
                # one RX, exact through the numpy interface), so it is checked to `lightning_atol`.
                atol = cfg.atol if device == "default.qubit" else cfg.lightning_atol
                xp, wp, sp = _torch_inputs(p, b, True)
                out_p = f(xp, wp, sp)
                out_p.sum().backward()
                layer = _layer(p, output_scaling=False)
                xo = torch.tensor(p.rows(b), dtype=torch.float64, requires_grad=True)
                out_o = layer(xo)
                out_o.sum().backward()
                diffs = {
                    "outputs": _max_diff(out_p.detach(), out_o.detach(), f"PennyLane {device} outputs", atol),
                    "d_inputs": _max_diff(xp.grad, xo.grad, f"PennyLane {device} d_inputs", 10 * atol),
                    "d_weights": _max_diff(wp.grad, layer.weights.grad, f"PennyLane {device} d_weights", 10 * atol * b),
                    "d_scales": _max_diff(sp.grad, layer.scales.grad, f"PennyLane {device} d_scales", 10 * atol * b),
                }
                del out_p, out_o
                engines = [_Engine("nextrl", _fwd_bwd(layer, xo)), _Engine(device, _peer_fwd_bwd(f, xp, wp, sp))]
                t = _interleaved(
                    engines, cfg.repeats, progress, f"pennylane n={n} {device} fwd+bwd threads={cfg.threads}"
                )
                extra = _common(
                    cfg,
                    batch=b,
                    circuit=_case_name(n),
                    peer_version=_version("pennylane"),
                    diff_method=method,
                    max_diff=diffs,
                    nextrl_batch_s=t["nextrl"],
                    peer_batch_s=t[device],
                    omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
                )
                if device == "lightning.qubit":
                    extra["peer_version"] = _version("pennylane-lightning")
                    extra["note"] = "PennyLane splits the broadcast batch into one tape per sample"
                results.append(
                    _row(
                        "pennylane",
                        "forward+backward",
                        n,
                        t["nextrl"] / b,
                        f"pennylane-{device}-{method}",
                        t[device] / b,
                        cfg,
                        extra,
                    )
                )
                if forward and device == "default.qubit":
                    x0 = torch.tensor(p.rows(b), dtype=torch.float64)
                    w0, s0 = torch.tensor(p.w), torch.tensor(p.s)

                    def ours():
                        with torch.no_grad():
                            layer(x0)

                    def peer():
                        with torch.no_grad():
                            f(x0, w0, s0)

                    t = _interleaved(
                        [_Engine("nextrl", ours), _Engine(device, peer)],
                        cfg.repeats,
                        progress,
                        f"pennylane n={n} {device} forward threads={cfg.threads}",
                    )
                    results.append(
                        _row(
                            "pennylane",
                            "forward",
                            n,
                            t["nextrl"] / b,
                            f"pennylane-{device}",
                            t[device] / b,
                            cfg,
                            extra
                            | {
                                "nextrl_batch_s": t["nextrl"],
                                "peer_batch_s": t[device],
                                "diff_method": "none (torch.no_grad)",
                            },
                        )
                    )
                f = layer = engines = xp = wp = sp = xo = None  # frees them before the next device
                gc.collect()
    return results


# ----------------------------------------------------------------------------------------- aer
def bench_aer(
    qubits: Iterable[int] = QUBITS, cfg: VQCConfig = VQCConfig(), *, progress: Progress = None
) -> list[BenchResult]:
    """Forward: nextrl VariationalCircuit.forward against Aer's EstimatorV2 (exact, one PUB)."""
    from qiskit_aer.primitives import EstimatorV2

    results = []
    with _threads(cfg.threads):
        for n in qubits:
            p = _problem(n, cfg)
            b = cfg.peer_batch_for("aer", n)
            x = p.rows(b)
            qc, observables = p.vc.to_qiskit()
            values = p.vc.qiskit_parameter_values(qc, x, p.w, p.s)[:, None, :]  # [B, 1, P]
            obs = np.empty((1, len(observables)), dtype=object)  # [1, A]
            obs[0, :] = observables
            estimator = EstimatorV2(
                options={
                    "default_precision": 0.0,
                    "backend_options": {
                        "method": "statevector",
                        "precision": "double",
                        "max_parallel_threads": cfg.threads,
                    },
                }
            )
            pub = (qc, obs, values)
            if progress is not None:
                progress(f"aer n={n}: checking B={b}")
            evs = estimator.run([pub]).result()[0].data.evs
            ours = p.vc.forward(x, p.w, p.s)
            diff = _max_diff(evs, ours, "Aer EstimatorV2 expectation values", cfg.atol)
            t = _interleaved(
                [
                    _Engine("nextrl", lambda: p.vc.forward(x, p.w, p.s)),
                    _Engine("aer", lambda: estimator.run([pub]).result()),
                ],
                cfg.repeats,
                progress,
                f"aer n={n} forward threads={cfg.threads}",
            )
            results.append(
                _row(
                    "aer",
                    "forward",
                    n,
                    t["nextrl"] / b,
                    "qiskit-aer-estimatorv2",
                    t["aer"] / b,
                    cfg,
                    _common(
                        cfg,
                        batch=b,
                        circuit=_case_name(n),
                        peer_version=_version("qiskit-aer"),
                        max_diff=diff,
                        precision=0.0,
                        nextrl_batch_s=t["nextrl"],
                        peer_batch_s=t["aer"],
                    ),
                )
            )
            estimator = pub = None  # frees them before the next n
            gc.collect()
    return results


# ----------------------------------------------------------------------------------------- latency
def bench_latency(
    qubits: Iterable[int] = (4,), cfg: VQCConfig = VQCConfig(), *, pennylane: bool = True, progress: Progress = None
) -> list[BenchResult]:
    """B = 1 latency through QuantumLayer(output_scaling=True): forward with autograd on, forward under
    torch.no_grad, forward + backward; against the 30 us goal and (when installed) PennyLane
    default.qubit backprop at B = 1. The contenders of one n alternate in `cfg.repeats` rounds."""
    import torch

    results = []
    with _threads(cfg.threads):
        for n in qubits:
            p = _problem(n, cfg)
            layer = _layer(p, output_scaling=True)
            x1 = torch.tensor(p.rows(1), dtype=torch.float64)
            x1g = x1.clone().requires_grad_(True)

            def fwd():
                layer(x1)

            def fwd_nograd():
                with torch.no_grad():
                    layer(x1)

            class _Floor(torch.autograd.Function):  # what any torch.autograd.Function costs per call
                @staticmethod
                def forward(ctx, a, w, s, o):
                    return a.clone()

                @staticmethod
                def backward(ctx, g):
                    return g, None, None, None

            def floor():
                _Floor.apply(x1, layer.weights, layer.scales, layer.output_scale)

            def floor_backward():  # the same trivial Function, forward + sum + backward into x1g's grad
                x1g.grad = None
                _Floor.apply(x1g, layer.weights, layer.scales, layer.output_scale).sum().backward()

            contenders = {
                "forward": fwd,
                "forward (no_grad)": fwd_nograd,
                "forward+backward": _fwd_bwd(layer, x1g),
                "autograd floor": floor,
                "autograd floor+backward": floor_backward,
            }
            if pennylane and _version("pennylane") is not None:
                f = pennylane_qnode(p.vc, "default.qubit", "backprop")
                xp, wp, sp = _torch_inputs(p, 1, True)
                scale = torch.ones(p.vc.num_outputs, dtype=torch.float64, requires_grad=True)
                _max_diff(f(xp, wp, sp).detach(), layer(x1).detach(), "PennyLane B=1 outputs", cfg.atol)

                def pl_fwd():
                    f(xp, wp, sp) * scale

                def pl_fwd_bwd():
                    for t in (xp, wp, sp, scale):
                        t.grad = None
                    (f(xp, wp, sp) * scale).sum().backward()

                contenders |= {"pl forward": pl_fwd, "pl forward+backward": pl_fwd_bwd}
            calls = max(cfg.latency_calls // cfg.repeats, 1)
            per: dict[str, list[float]] = {k: [] for k in contenders}
            for r in range(cfg.repeats):
                if progress is not None:
                    progress(f"latency n={n} threads={cfg.threads}: round {r + 1}/{cfg.repeats}")
                for name, fn in contenders.items():
                    # PennyLane is ~100x slower per call: fewer calls keep the rounds short
                    k = calls if not name.startswith("pl") else max(calls // 20, 5)
                    per[name].append(benchmark.per_call(fn, k))
            t = {k: statistics.median(v) for k, v in per.items()}
            common = _common(
                cfg,
                batch=1,
                circuit=_case_name(n),
                calls_per_round=calls,
                output_scaling=True,
                unit="seconds per call",
                autograd_function_floor_s=t["autograd floor"],
                autograd_backward_floor_s=t["autograd floor+backward"],
            )
            goal = GOALS["latency_forward_s"]
            for case in ("forward", "forward (no_grad)"):
                results.append(_row("latency", case, n, t[case], "goal 30 us", goal, cfg, common))
            if "pl forward" in t:
                for case in ("forward", "forward+backward"):
                    results.append(
                        _row(
                            "latency",
                            case,
                            n,
                            t[case],
                            "pennylane-default.qubit-backprop",
                            t[f"pl {case}"],
                            cfg,
                            common | {"peer_version": _version("pennylane")},
                        )
                    )
            else:
                results.append(
                    _row(
                        "latency",
                        "forward+backward",
                        n,
                        t["forward+backward"],
                        benchmark.NO_PEER,
                        float("nan"),
                        cfg,
                        common,
                    )
                )
    return results


def with_threads(cfg: VQCConfig, threads: int) -> VQCConfig:
    return replace(cfg, threads=threads)
