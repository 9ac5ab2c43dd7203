"""Statevector benchmarks: nextrl against Qiskit Aer and qulacs, and one gate against the copy floor.

Every number is a ratio measured in the same process on the same machine (ARCHITECTURE.md, "Benchmarks"):
`ratio = peer_s / ours_s`, so a ratio above 1 means nextrl is faster. Peers run the same gates on the same
initial state, and each peer's final state is checked against nextrl's (max |diff| <= `atol`) before it is
timed. Circuits are built and transpiled outside the timers, and the contenders of one case are timed
round-robin (nextrl, peer, nextrl, peer, ...) so that all of them see the same load on a shared machine.

Cases:
  layered    random layers of RY, RZ on every qubit and a CX ladder, complex128; nextrl fused and unfused
             against Aer (its own fusion on) and qulacs (gate by gate).
  gate_1q    one unfused RY against a copy of a state-sized array (the memory-bandwidth floor).
  small      100-gate circuits on 4..12 qubits, one call per circuit, Python overhead included.
  tune       fusion block size (and local buffer size) sweep on the layered circuit.

Functions return benchmark.BenchResult records (the qubit count in `extra["n"]`) and never print;
`progress`, when given, is called with a short string before each step. bench/bench_statevector.py is the CLI.
Timing and machine facts come from nextrl.experiments.benchmark.
qulacs takes its thread count from OMP_NUM_THREADS when it is first imported, so the caller sets that
variable before anything imports qulacs; the functions check it and refuse a mismatched thread count.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

import nextrl
from nextrl.experiments import benchmark
from nextrl.experiments.benchmark import BenchResult, Progress, machine_info
from nextrl.quantum import Circuit, Parameter, Statevector

FULL_QUBITS = tuple(range(16, 27))
QUICK_QUBITS = tuple(range(16, 23))
GATE_QUBITS = (22, 23, 24, 25, 26)
QUICK_GATE_QUBITS = (22, 23, 24)
SMALL_QUBITS = (2, 4, 6, 8, 10, 12)
TUNE_QUBITS = (22, 24)


@dataclass(frozen=True)
class BenchConfig:
    threads: int = 2
    """threads for nextrl, Aer (max_parallel_threads) and qulacs (OMP_NUM_THREADS, set by the caller)"""
    layers: int = 4
    """layers of the layered circuit: RY and RZ on every qubit, then cx(q, q + 1) for every q"""
    repeats: int = 5
    """timed runs per measurement below `big_qubits`; the median is reported"""
    big_qubits: int = 24
    """from this many qubits on, `big_repeats` runs are timed and the minimum is reported"""
    big_repeats: int = 3
    """timed runs per measurement at or above `big_qubits` (minimum reported)"""
    gates_1q: int = 10
    """RY gates per timed run in gate_1q (time per gate = run time / gates_1q)"""
    small_gates: int = 100
    """gates per small circuit (70 % parameterized RX/RY/RZ, 30 % CX)"""
    small_calls: int = 50
    """circuits (fresh parameters each) per timed small-circuit run; time is per circuit"""
    seed: int = 0
    """seed of the random angles and gate choices"""
    atol: float = 1e-8
    """max |amplitude difference| allowed between nextrl's and a peer's final state"""


def _row(bench: str, case: str, n: int, ours_s: float, peer: str, peer_s: float, extra: dict) -> BenchResult:
    """One case; machine_info() is taken now, inside the thread setting of the measurement."""
    return benchmark.result(bench, case, ours_s, peer, peer_s, machine=machine_info(), n=n, **extra)


def _peer_versions() -> dict:
    """Installed versions of the peers, keyed by peer name (None where not installed)."""
    return {peer: benchmark.version(peer) for peer in ("qiskit-aer", "qulacs")}


@dataclass
class _Engine:
    """One contender in an interleaved measurement: `setup` (untimed) then `run` (timed)."""

    name: str
    setup: Callable[[], object] | None
    run: Callable[[], object]
    extra: dict = field(default_factory=dict)
    times: list = field(default_factory=list)


def _interleaved(engines: Sequence[_Engine], runs: int, progress: Progress, label: str, warmup: int = 0) -> None:
    """Times every engine `runs` times, round-robin, so that all of them see the same machine load
    (benchmark.interleaved; the callers warm up and check each engine before)."""
    times = benchmark.interleaved(
        {e.name: e.run for e in engines},
        runs,
        warmup=warmup,
        setup={e.name: e.setup for e in engines},
        progress=progress,
        label=label,
    )
    for e in engines:
        e.times += times[e.name]


def _policy(n: int, cfg: BenchConfig) -> tuple[int, str]:
    return (cfg.big_repeats, "min") if n >= cfg.big_qubits else (cfg.repeats, "median")


_reduce = benchmark.reduce_times


@contextlib.contextmanager
def _threads(k: int):
    previous = nextrl.get_num_threads()
    nextrl.set_num_threads(k)
    try:
        yield
    finally:
        nextrl.set_num_threads(previous)


def _check_qulacs_threads(threads: int) -> None:
    value = os.environ.get("OMP_NUM_THREADS")
    if value != str(threads):
        raise RuntimeError(
            f"statevector_bench: qulacs would run on OMP_NUM_THREADS={value!r}, not {threads}; "
            f"set OMP_NUM_THREADS={threads} before qulacs is imported"
        )


def _zero_state(n: int) -> np.ndarray:
    """|0...0> as a plain [2**n] complex128 array, for the raw plan.run call."""
    state = np.zeros(1 << n, dtype=np.complex128)
    state[0] = 1
    return state


def _reset(state: np.ndarray) -> None:
    state[:] = 0
    state[0] = 1


def _max_diff(a: np.ndarray, b: np.ndarray, what: str, atol: float) -> float:
    diff = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
    if not diff <= atol:
        raise RuntimeError(f"statevector_bench: {what} differs from nextrl by {diff:.3g} (atol {atol})")
    return diff


# ----------------------------------------------------------------------------------------- circuits
def layered_angles(n: int, layers: int, seed: int) -> np.ndarray:
    """[layers, n, 2] RY and RZ angles of the layered circuit."""
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, size=(layers, n, 2))


def layered_circuit(angles: np.ndarray) -> Circuit:
    layers, n, _ = angles.shape
    circ = Circuit(n)
    for layer in range(layers):
        for q in range(n):
            circ.ry(float(angles[layer, q, 0]), q)
            circ.rz(float(angles[layer, q, 1]), q)
        for q in range(n - 1):
            circ.cx(q, q + 1)
    return circ


def _qulacs_layered(angles: np.ndarray):
    from qulacs import QuantumCircuit

    layers, n, _ = angles.shape
    circ = QuantumCircuit(n)
    for layer in range(layers):
        for q in range(n):
            # qulacs rotations are exp(+i theta P / 2): Qiskit's (and nextrl's) R(theta) is qulacs' R(-theta).
            circ.add_RY_gate(q, -float(angles[layer, q, 0]))
            circ.add_RZ_gate(q, -float(angles[layer, q, 1]))
        for q in range(n - 1):
            circ.add_CNOT_gate(q, q + 1)
    return circ


def _aer_backend(threads: int):
    from qiskit_aer import AerSimulator

    return AerSimulator(
        method="statevector",
        precision="double",
        fusion_enable=True,
        max_parallel_threads=threads,
        statevector_parallel_threshold=14,
    )


def _aer_prepare(circ: Circuit, backend):
    from qiskit import transpile

    qc = circ.to_qiskit()
    qc.save_statevector()
    # optimization_level=0 keeps Aer's gates the same as ours; Aer's own fusion still runs.
    return transpile(qc, backend, optimization_level=0)


# ----------------------------------------------------------------------------------------- layered
def bench_layered(
    qubits: Iterable[int] = QUICK_QUBITS,
    cfg: BenchConfig = BenchConfig(),
    *,
    peers: Sequence[str] = ("qiskit-aer", "qulacs"),
    progress: Progress = None,
) -> list[BenchResult]:
    """Layered random circuits, complex128: per n, rows nextrl-fused vs each peer, nextrl-unfused vs
    qulacs (both gate by gate) and nextrl-fused vs nextrl-unfused (what fusion buys). The fused rows
    carry the fusion report (blocks per layer) in `extra`."""
    if "qulacs" in peers:
        _check_qulacs_threads(cfg.threads)
    versions = _peer_versions()
    results: list[BenchResult] = []
    with _threads(cfg.threads):
        for n in qubits:
            results += _layered_one(n, cfg, peers, versions, progress)
            gc.collect()
    return results


def _layered_one(n, cfg, peers, versions, progress) -> list[BenchResult]:
    runs, stat = _policy(n, cfg)
    angles = layered_angles(n, cfg.layers, cfg.seed)
    circ = layered_circuit(angles)
    fused, unfused = circ.compile(True), circ.compile(False)
    report = dict(fused.report)
    report["blocks_per_layer"] = report["num_blocks"] / cfg.layers
    no_params = np.zeros(0)
    state = _zero_state(n)  # timed through the raw call, plan.run: the C++ work alone
    reset = functools.partial(_reset, state)
    if progress is not None:
        progress(f"layered n={n}: preparing and checking {', '.join(('nextrl', *peers))}")

    fused.run(state, no_params)  # first touch of the pages, and the reference state
    reference = state.copy()
    reset()
    unfused.run(state, no_params)
    _max_diff(state, reference, "unfused nextrl", cfg.atol)
    engines = [
        _Engine("fused", reset, lambda: fused.run(state, no_params)),
        _Engine("unfused", reset, lambda: unfused.run(state, no_params)),
    ]
    for peer in peers:
        if peer == "qiskit-aer":
            engines.append(_aer_layered(circ, reference, cfg))
        elif peer == "qulacs":
            engines.append(_qulacs_layered_engine(angles, reference, cfg))
        else:
            raise ValueError(f"bench_layered: unknown peer '{peer}'; known: qiskit-aer, qulacs")
        engines[-1].extra["peer_version"] = versions.get(peer)
        gc.collect()
    del reference
    gc.collect()
    _interleaved(engines, runs, progress, f"layered n={n}")
    t = {e.name: _reduce(e.times, stat) for e in engines}
    common = {"stat": stat, "runs": runs, "layers": cfg.layers, "dtype": "complex128", "gates": len(circ)}
    rows = [_row("layered", "fused", n, t["fused"], "nextrl-unfused", t["unfused"], common | {"fusion": report})]
    for e in engines[2:]:
        extra = common | e.extra
        if e.name == "qiskit-aer":
            extra["peer_internal_s"] = _reduce(e.extra["internal"], stat)
            del extra["internal"]
        rows.append(_row("layered", "fused", n, t["fused"], e.name, t[e.name], extra | {"fusion": report}))
        if e.name == "qulacs":  # both gate by gate: compares the kernels
            rows.append(_row("layered", "unfused", n, t["unfused"], e.name, t[e.name], extra))
    return rows


def _aer_layered(circ, reference, cfg) -> _Engine:
    backend = _aer_backend(cfg.threads)
    tqc = _aer_prepare(circ, backend)
    result = backend.run(tqc).result()  # warm-up and equal-work check
    diff = _max_diff(result.get_statevector().data, reference, "Aer's state", cfg.atol)
    fusion = result.results[0].metadata.get("fusion", {})
    del result
    internal = []

    def run():
        internal.append(backend.run(tqc).result().results[0].time_taken)

    return _Engine(
        "qiskit-aer",
        gc.collect,
        run,
        {
            "max_diff": diff,
            "internal": internal,
            "aer_fusion": {k: fusion.get(k) for k in ("applied", "max_fused_qubits", "threshold")},
        },
    )


def _qulacs_layered_engine(angles, reference, cfg) -> _Engine:
    from qulacs import QuantumState

    qcirc = _qulacs_layered(angles)
    qstate = QuantumState(angles.shape[1])
    qcirc.update_quantum_state(qstate)  # warm-up and equal-work check
    diff = _max_diff(qstate.get_vector(), reference, "qulacs' state", cfg.atol)
    return _Engine("qulacs", qstate.set_zero_state, lambda: qcirc.update_quantum_state(qstate), {"max_diff": diff})


# ----------------------------------------------------------------------------------------- gate_1q
def bench_gate_1q(
    qubits: Iterable[int] = QUICK_GATE_QUBITS, cfg: BenchConfig = BenchConfig(), *, progress: Progress = None
) -> list[BenchResult]:
    """Time per unfused RY (complex128, on qubit 0, n // 2 and n - 1) against the copy floor: np.copyto
    of a state-sized array, which reads and writes the same bytes as one gate. The floor is the faster
    of a single-threaded copy and a `threads`-way split copy (numpy releases the GIL while copying).
    Gates and copies are timed round-robin; each reports its minimum over the runs."""
    results: list[BenchResult] = []
    rng = np.random.default_rng(cfg.seed)
    with _threads(cfg.threads), ThreadPoolExecutor(max_workers=cfg.threads) as pool:
        for n in qubits:
            runs = max(_policy(n, cfg)[0], 3)
            src = np.ones(1 << n, dtype=np.complex128)
            dst = np.empty_like(src)
            np.copyto(dst, src)  # first touch
            cuts = np.linspace(0, src.size, cfg.threads + 1).astype(np.int64)
            chunks = [(dst[lo:hi], src[lo:hi]) for lo, hi in zip(cuts[:-1], cuts[1:])]
            engines = [
                _Engine("copy_1thread", None, lambda: np.copyto(dst, src)),
                _Engine(f"copy_{cfg.threads}threads", None, lambda: list(pool.map(lambda c: np.copyto(*c), chunks))),
            ]
            state = _zero_state(n)
            no_params = np.zeros(0)
            plans = {}
            for q in sorted({0, n // 2, n - 1}):
                circ = Circuit(n)
                for theta in rng.uniform(-np.pi, np.pi, cfg.gates_1q):
                    circ.ry(float(theta), q)
                plan = plans[q] = circ.compile(False)
                if plan.report["num_blocks"] != cfg.gates_1q:
                    raise RuntimeError(f"bench_gate_1q: expected {cfg.gates_1q} passes, plan has {plan.report}")
                plan.run(state, no_params)
                engines.append(_Engine(f"ry q={q}", None, functools.partial(plan.run, state, no_params)))
            _interleaved(engines, runs, progress, f"gate_1q n={n}")
            best = {e.name: min(e.times) for e in engines}
            copy_1, copy_t = best.pop("copy_1thread"), best.pop(f"copy_{cfg.threads}threads")
            floor = min(copy_1, copy_t)
            nbytes = 2 * state.nbytes  # read and write every amplitude once
            for case, run_s in best.items():
                per_gate = run_s / cfg.gates_1q
                results.append(
                    _row(
                        "gate_1q",
                        case,
                        n,
                        per_gate,
                        "copy-floor",
                        floor,
                        {
                            "stat": "min",
                            "runs": runs,
                            "gate_over_copy": per_gate / floor,
                            "copy_1thread_s": copy_1,
                            f"copy_{cfg.threads}threads_s": copy_t,
                            "gate_GBps": nbytes / per_gate / 1e9,
                            "copy_GBps": nbytes / floor / 1e9,
                            "dtype": "complex128",
                        },
                    )
                )
            src = dst = chunks = state = engines = None  # frees the state-sized arrays before the next n
            gc.collect()
    return results


# ----------------------------------------------------------------------------------------- small
def _small_circuit(n: int, num_gates: int, rng: np.random.Generator) -> tuple[Circuit, list]:
    """A random circuit of parameterized RX/RY/RZ (70 %) and CX (30 %); returns it and its gate list."""
    circ = Circuit(n)
    gates = []
    for i in range(num_gates):
        if rng.random() < 0.3:
            c, t = (int(x) for x in rng.choice(n, size=2, replace=False))
            circ.cx(c, t)
            gates.append(("cx", c, t))
        else:
            name, q = ("rx", "ry", "rz")[rng.integers(3)], int(rng.integers(n))
            getattr(circ, name)(Parameter(f"t{i}"), q)
            gates.append((name, q))
    return circ, gates


def _qulacs_bound(n: int, gates: list, values: np.ndarray):
    from qulacs import QuantumCircuit

    circ = QuantumCircuit(n)
    k = 0
    for g in gates:
        if g[0] == "cx":
            circ.add_CNOT_gate(g[1], g[2])
        else:
            getattr(circ, f"add_{g[0].upper()}_gate")(g[1], -float(values[k]))  # qulacs' sign convention
            k += 1
    return circ


def bench_small(
    qubits: Iterable[int] = SMALL_QUBITS,
    cfg: BenchConfig = BenchConfig(),
    *,
    peers: Sequence[str] = ("qiskit-aer", "qulacs"),
    progress: Progress = None,
) -> list[BenchResult]:
    """Time per small circuit, one call per circuit with fresh parameters, Python call included. nextrl
    in two ways: case "new-state", `Statevector(n).apply(circ, params)` (allocation, binding, run; the
    plan is cached), and case "reset", `state.reset().apply(circ, params)` on one reused state.
    Aer gets prebuilt, bound, transpiled circuits and is timed on `backend.run(qc).result()`; qulacs gets
    prebuilt bound circuits and is timed on `QuantumState(n)` plus `update_quantum_state`."""
    if "qulacs" in peers:
        _check_qulacs_threads(cfg.threads)
    versions = _peer_versions()
    rng = np.random.default_rng(cfg.seed)
    results: list[BenchResult] = []
    with _threads(cfg.threads):
        for n in qubits:
            circ, gates = _small_circuit(n, cfg.small_gates, rng)
            values = rng.uniform(-np.pi, np.pi, size=(cfg.small_calls, circ.num_parameters))
            reused = Statevector(n)

            def new_state():
                for v in values:
                    Statevector(n).apply(circ, v)

            def reset():
                for v in values:
                    reused.reset().apply(circ, v)

            new_state()  # compiles and caches the plan
            reference = Statevector(n).apply(circ, values[0]).amplitudes
            engines = [_Engine("new-state", None, new_state), _Engine("reset", None, reset)]
            for peer in peers:
                if peer == "qiskit-aer":
                    engines.append(_aer_small(circ, values, reference, cfg))
                elif peer == "qulacs":
                    engines.append(_qulacs_small(n, gates, values, reference, cfg))
                else:
                    raise ValueError(f"bench_small: unknown peer '{peer}'; known: qiskit-aer, qulacs")
                engines[-1].extra["peer_version"] = versions.get(peer)
                engines[-1].run()  # warm-up
            _interleaved(engines, cfg.repeats, progress, f"small n={n}")
            t = {e.name: _reduce(e.times) / cfg.small_calls for e in engines}
            common = {
                "stat": "median",
                "runs": cfg.repeats,
                "calls": cfg.small_calls,
                "gates": cfg.small_gates,
                "dtype": "complex128",
                "fusion": dict(circ.compile(True).report),
            }
            for case in ("new-state", "reset"):
                for e in engines[2:]:
                    results.append(_row("small", case, n, t[case], e.name, t[e.name], common | e.extra))
    return results


def _aer_small(circ, values, reference, cfg) -> _Engine:
    backend = _aer_backend(cfg.threads)
    template = _aer_prepare(circ, backend)
    qiskit_params = {p.name: p for p in template.parameters}
    bound = [
        template.assign_parameters({qiskit_params[p.name]: float(x) for p, x in zip(circ.parameters, v)})
        for v in values
    ]
    diff = _max_diff(backend.run(bound[0]).result().get_statevector().data, reference, "Aer's state", cfg.atol)

    def run():
        for qc in bound:
            backend.run(qc).result()

    return _Engine("qiskit-aer", None, run, {"max_diff": diff})


def _qulacs_small(n, gates, values, reference, cfg) -> _Engine:
    from qulacs import QuantumState

    bound = [_qulacs_bound(n, gates, v) for v in values]
    check = QuantumState(n)
    bound[0].update_quantum_state(check)
    diff = _max_diff(check.get_vector(), reference, "qulacs' state", cfg.atol)

    def run():
        for qc in bound:
            qc.update_quantum_state(QuantumState(n))

    return _Engine("qulacs", None, run, {"max_diff": diff})


# ----------------------------------------------------------------------------------------- tune
@contextlib.contextmanager
def _local_bits(value: int):
    """Temporarily sets the local buffer size that Circuit.compile passes to the C++ plan."""
    from nextrl.quantum import circuit as circuit_module

    previous = circuit_module.LOCAL_BITS
    circuit_module.LOCAL_BITS = value
    try:
        yield
    finally:
        circuit_module.LOCAL_BITS = previous


def tune_fusion(
    qubits: Iterable[int] = TUNE_QUBITS,
    cfg: BenchConfig = BenchConfig(),
    *,
    fusion_values: Iterable[int] = range(4, 13),
    local_bits_values: Iterable[int] = (),
    progress: Progress = None,
) -> list[BenchResult]:
    """Time of the layered circuit for each fusion block size (at the library's LOCAL_BITS), then for
    each of `local_bits_values` at the library's MAX_FUSED_QUBITS and at the best block size found.
    Each phase times its settings round-robin together with the library default, and each row compares
    a setting (`case`) with that default (`peer`): ratio > 1 means the setting is faster."""
    from nextrl.quantum import circuit as circuit_module

    default = (circuit_module.MAX_FUSED_QUBITS, circuit_module.LOCAL_BITS)
    peer = f"default max_fused={default[0]} local_bits={default[1]}"
    results: list[BenchResult] = []
    with _threads(cfg.threads):
        for n in qubits:
            runs, stat = _policy(n, cfg)
            base = layered_circuit(layered_angles(n, cfg.layers, cfg.seed))
            state = _zero_state(n)
            no_params = np.zeros(0)
            reset = functools.partial(_reset, state)

            def phase(settings: list[tuple[int, int]], label: str) -> list[BenchResult]:
                engines = []
                for k, bits in dict.fromkeys([default, *settings]):
                    with _local_bits(bits):
                        plan = base.copy().compile(k)  # a copy has no cached plans
                    reset()
                    plan.run(state, no_params)  # warm-up
                    engines.append(
                        _Engine(
                            f"max_fused={k} local_bits={bits}",
                            reset,
                            functools.partial(plan.run, state, no_params),
                            {"max_fused": k, "local_bits": bits, "fusion": dict(plan.report)},
                        )
                    )
                _interleaved(engines, runs, progress, f"tune n={n} {label}")
                t_default = _reduce(engines[0].times, stat)
                return [
                    _row(
                        "tune",
                        e.name,
                        n,
                        _reduce(e.times, stat),
                        peer,
                        t_default,
                        {"stat": stat, "runs": runs, "layers": cfg.layers, "phase": label} | e.extra,
                    )
                    for e in engines
                    if (e.extra["max_fused"], e.extra["local_bits"]) in settings
                ]

            sweep = phase([(k, default[1]) for k in fusion_values], "max_fused")
            results += sweep
            bits_values = [b for b in local_bits_values if b != default[1]]
            if bits_values:
                best_k = min(sweep, key=lambda r: r.ours_s).extra["max_fused"]
                results += phase([(k, b) for k in sorted({default[0], best_k}) for b in bits_values], "local_bits")
            state = None  # frees the state before the next n
            gc.collect()
    return results
