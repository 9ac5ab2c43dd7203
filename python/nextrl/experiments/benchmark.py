"""The measurement every benchmark shares: machine facts and load, timing, and one JSON line per case.

Every number nextrl claims is a ratio against a peer measured in the same run on the same machine
(ARCHITECTURE.md, "Benchmarks"). One case is one `BenchResult`, written as one JSON line:

    {"bench", "case", "ours_s", "peer", "peer_s", "ratio", "machine", "extra"}

- `ours_s`, `peer_s`: seconds for the same unit of work (per circuit, per sample, per env step, ...; the
  bench's docstring names the unit); `ratio = peer_s / ours_s`, so **> 1 means nextrl is faster**. A case
  without a peer has `peer = "none"` and null `peer_s` / `ratio` (NaN in Python).
- `machine`: `machine_info()` taken when the case was measured: CPU, cores, nextrl build, threads and the
  1-minute load average (a shared machine's load changes between cases).
- `extra`: everything else about the case (sizes, thread counts, statistic and number of runs, peer version,
  correctness checks); bench scripts add `commit` and `date` there when they write a file.

Timing: `interleaved` times the contenders of a case round-robin (ours, peer, ours, peer, ...) after
untimed warm-ups, so that all of them see the same load; `reduce_times` turns the runs into the reported
statistic (the median, or the minimum for long runs where the noise is one-sided).

Display: `summary_tables` lays out what `nextrl bench` prints, for an 80-column terminal (short names, the
unit of every time, the rows that compare nextrl with itself or with a goal in an "ablation" table of their
own); `load_warning` says when other processes compete for the cores; `default_out` names the dated file a
run is saved to. Functions here return values and never print.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nextrl

Progress = Callable[[str], None] | None

SCHEMA = ("bench", "case", "ours_s", "peer", "peer_s", "ratio", "machine", "extra")
STATS = ("median", "min")
NO_PEER = "none"


# ----------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class BenchResult:
    bench: str
    """benchmark family: "layered", "frozenlake", "throughput", ..."""
    case: str
    """what nextrl ran in this row: "fused", "FrozenLake 4x4 slippery", "forward", ..."""
    ours_s: float
    """nextrl's seconds for the unit of work of this bench"""
    peer: str
    """what nextrl is compared with: "qiskit-aer", "copy-floor", "goal 2e+05/s/core", ... or NO_PEER ("none")"""
    peer_s: float
    """the peer's seconds for the same work; NaN without a peer"""
    machine: dict
    """machine_info() when the case was measured"""
    extra: dict = field(default_factory=dict)
    """sizes, threads, statistic, runs, versions, checks: everything else about the case"""

    @property
    def ratio(self) -> float:
        """peer_s / ours_s: > 1 means nextrl is faster; NaN without a peer."""
        if self.peer == NO_PEER or not (self.ours_s > 0) or math.isnan(self.peer_s):
            return float("nan")
        return self.peer_s / self.ours_s

    def to_dict(self) -> dict:
        """The JSON-line record (keys in SCHEMA order); NaN and infinities become None (JSON null)."""
        d = {
            "bench": self.bench,
            "case": self.case,
            "ours_s": self.ours_s,
            "peer": self.peer,
            "peer_s": self.peer_s,
            "ratio": self.ratio,
            "machine": self.machine,
            "extra": self.extra,
        }
        return _finite(d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)


def result(
    bench: str,
    case: str,
    ours_s: float,
    peer: str = NO_PEER,
    peer_s: float = float("nan"),
    *,
    machine: dict | None = None,
    **extra: Any,
) -> BenchResult:
    """A BenchResult with `machine_info()` taken now unless given, and the keyword arguments as `extra`."""
    if not isinstance(ours_s, (int, float)) or not ours_s > 0:
        raise ValueError(f"result: ours_s must be a positive number of seconds, got {ours_s!r}")
    if peer != NO_PEER and not (isinstance(peer_s, (int, float)) and (peer_s > 0 or math.isnan(peer_s))):
        raise ValueError(f"result: peer_s must be a positive number of seconds or NaN, got {peer_s!r}")
    return BenchResult(
        bench, case, float(ours_s), peer, float(peer_s), machine_info() if machine is None else machine, dict(extra)
    )


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def write_jsonl(path: str | os.PathLike, results: Iterable[BenchResult], **stamp: Any) -> int:
    """Appends one JSON line per result to `path`; `stamp` (e.g. commit=..., date=...) goes into each
    line's `extra`. Returns the number of lines written."""
    n = 0
    with open(path, "a") as f:
        for r in results:
            d = r.to_dict()
            d["extra"] = {**d["extra"], **_finite(stamp)}
            f.write(json.dumps(d, allow_nan=False) + "\n")
            n += 1
    return n


def save_results(out: str | os.PathLike | None, name: str, results: Iterable[BenchResult], **stamp: Any) -> Path:
    """Appends the results to `out`, or, when it is None, to a new dated file `runs/<name>-<time>.jsonl`
    (default_out): every bench run is kept. Returns the path."""
    path = Path(out) if out else default_out(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, results, **stamp)
    return path


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a file written by write_jsonl (one dict per line, blank lines skipped)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# ----------------------------------------------------------------------------------------- machine
def cpu_model() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return model


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load() -> float:
    """The 1-minute load average (NaN where the OS has none): runnable processes competing for the cores."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def machine_info() -> dict:
    """CPU model, core counts, nextrl's build (version, SIMD level, compiler), nextrl's thread count and the
    current 1-minute load average."""
    build = nextrl.build_info()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "nextrl": build["version"],
        "simd": build["simd"],
        "compiler": build["compiler"],
        "threads": nextrl.get_num_threads(),
        "loadavg_1m": load(),
    }


def version(dist: str) -> str | None:
    """The installed version of distribution `dist`, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """`git describe --always --dirty` of the checkout that holds `path` (default: this file), or None."""
    cwd = Path(path or __file__).resolve()
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            cwd=cwd if cwd.is_dir() else cwd.parent,
            check=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def stamp() -> dict:
    """commit and UTC date-time, for write_jsonl."""
    return {"commit": git_commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


# ----------------------------------------------------------------------------------------- timing
def reduce_times(times: Iterable[float], stat: str = "median") -> float:
    """The reported statistic of timed runs: "median" or "min"."""
    times = list(times)
    if stat not in STATS:
        raise ValueError(f"reduce_times: stat must be one of {', '.join(STATS)}, got {stat!r}")
    if not times:
        raise ValueError("reduce_times: times must not be empty")
    return min(times) if stat == "min" else statistics.median(times)


def time_once(
    run: Callable[[], object],
    setup: Callable[[], object] | None = None,
    sync: Callable[[], object] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds of one call of `run`, after an untimed `setup`; `sync` (e.g. torch.cuda.synchronize) is
    called before the clock starts and before it stops. `clock`: wall time by default; time.process_time
    counts this process's CPU time only (on a shared machine, with one thread: the time others do not take)."""
    if setup is not None:
        setup()
    if sync is not None:
        sync()
    t0 = clock()
    run()
    if sync is not None:
        sync()
    return clock() - t0


def _check_counts(fn: str, rounds: int, warmup: int, name: str = "rounds") -> None:
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"{fn}: {name} must be an int >= 1, got {rounds!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"{fn}: warmup must be an int >= 0, got {warmup!r}")


def interleaved(
    contenders: Mapping[str, Callable[[], object]],
    rounds: int,
    *,
    warmup: int = 1,
    setup: Mapping[str, Callable[[], object] | None] | None = None,
    before_each: Callable[[], object] | None = None,
    sync: Callable[[], object] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    progress: Progress = None,
    label: str = "",
) -> dict[str, list[float]]:
    """Times each contender `rounds` times, round-robin (a, b, a, b, ...), so that all of them see the same
    load, after `warmup` untimed calls each. `setup[name]` runs untimed before each call of that contender;
    `before_each` (e.g. gc.collect) runs untimed before every timed call; `sync` and `clock` as in time_once.
    Returns name -> seconds per run."""
    _check_counts("interleaved", rounds, warmup)
    if not contenders:
        raise ValueError("interleaved: contenders must not be empty")
    setup = dict(setup or {})
    unknown = set(setup) - set(contenders)
    if unknown:
        raise ValueError(f"interleaved: setup names unknown contenders {sorted(unknown)}; known: {sorted(contenders)}")
    for name, run in contenders.items():
        for _ in range(warmup):
            time_once(run, setup.get(name), sync, clock)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(rounds):
        if progress is not None:
            progress(f"{label}: round {r + 1}/{rounds}" if label else f"round {r + 1}/{rounds}")
        for name, run in contenders.items():
            if before_each is not None:
                before_each()
            times[name].append(time_once(run, setup.get(name), sync, clock))
    return times


def measure(
    run: Callable[[], object],
    rounds: int,
    *,
    stat: str = "median",
    warmup: int = 1,
    setup: Callable[[], object] | None = None,
    sync: Callable[[], object] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The `stat` ("median" or "min", i.e. best-of) of `rounds` timed calls of one contender after `warmup`."""
    reduce_times([1.0], stat)  # validates stat before anything runs
    times = interleaved({"run": run}, rounds, warmup=warmup, setup={"run": setup}, sync=sync, clock=clock)
    return reduce_times(times["run"], stat)


def per_call(run: Callable[[], object], calls: int, *, warmup: int = 20) -> float:
    """Median seconds per call over `calls` individually timed calls (for microsecond latencies)."""
    _check_counts("per_call", calls, warmup, "calls")
    for _ in range(warmup):
        run()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ----------------------------------------------------------------------------------------- display
def format_time(s: float | None) -> str:
    """Seconds as "1.23 s", "4.56 ms" or "7.89 us"; "-" for NaN or None."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.2f} us"


def format_ratio(r: float | None) -> str:
    return "-" if r is None or (isinstance(r, float) and math.isnan(r)) else f"{r:.2f}x"


def format_speedup(r: float | None) -> str:
    """A ratio with three significant figures at most: "0.87x", "12.3x", "1450x"; "-" for NaN or None."""
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "-"
    return f"{r:.0f}x" if r >= 100 else (f"{r:.1f}x" if r >= 10 else f"{r:.2f}x")


def format_rate(r: float | None) -> str:
    """Per-second rates as "3.21e+07"; "-" for NaN or None."""
    return "-" if r is None or (isinstance(r, float) and math.isnan(r)) else f"{r:.2e}"


# ----------------------------------------------------------------------------------------- summary
# What `nextrl bench` prints: short names, the unit of every time, and the rows that compare nextrl with
# itself or with a goal apart from those that compare it with another library (the "ablation" table).
WIDTH = 80
"""the terminal width the summary tables are laid out for"""

PEER_NAMES = {
    "qiskit-aer": "Aer",
    "qiskit-aer-estimatorv2": "Aer Estimator",
    "qulacs": "qulacs",
    "pennylane-default.qubit": "PennyLane",
    "pennylane-default.qubit-backprop": "PennyLane",
    "pennylane-lightning.qubit-adjoint": "PL lightning",
    "gymnasium-sync": "Gym sync",
    "gymnasium-numpy": "Gym NumPy",
    "envpool": "EnvPool",
    "nextrl-unfused": "unfused",
    "copy-floor": "copy floor",
}
"""the peers' names in the tables (the JSON lines keep the full ones)"""

UNITS = {
    "layered": "circuit",
    "small": "circuit",
    "tune": "circuit",
    "gate_1q": "gate",
    "throughput": "sample",
    "aer": "sample",
    "pennylane": "sample",
    "latency": "call",
}
"""time per what, for each bench of the quantum table (envs are shown in steps per second)"""

ENV_BENCHES = ("frozenlake", "cartpole", "grid", "dataset")
ENV_NAMES = {"FrozenLake 4x4 slippery": "FrozenLake 4x4", "CartPole-v1": "CartPole"}


def is_ablation(r: BenchResult) -> bool:
    """True for a row that compares nextrl with itself (another nextrl variant, the copy floor) or with a
    goal rather than with another library."""
    return r.peer.startswith(("nextrl", "goal")) or r.peer == "copy-floor"


def short_peer(peer: str) -> str:
    if peer.startswith("goal"):
        return "goal"
    return PEER_NAMES.get(peer, peer)


def short_case(r: BenchResult) -> str:
    """The row's name in a table: what ran, in at most 16 characters for the benches `nextrl bench` runs."""
    circuit = r.extra.get("circuit", "")
    if r.bench in ("layered", "tune"):
        return f"{r.bench} {r.case}"
    if r.bench == "small":
        return {"new-state": "small, new state", "reset": "small, reused"}.get(r.case, f"small {r.case}")
    if r.bench == "gate_1q":
        return f"1q gate {r.case.removeprefix('ry ')}"
    if r.bench in ("aer", "pennylane", "throughput"):
        case = {"forward+backward": "fwd+bwd", "forward": "forward", "vjp": "fwd+grad"}.get(r.case, r.case)
        return f"{circuit} {case}".strip()
    if r.bench == "latency":
        case = {"forward": "fwd", "forward (no_grad)": "no_grad", "forward+backward": "fwd+bwd"}.get(r.case, r.case)
        return f"{circuit} B=1 {case}".strip()
    if r.bench in ENV_BENCHES:
        return ENV_NAMES.get(r.case, r.case)
    return r.case


def unit(r: BenchResult) -> str:
    return UNITS.get(r.bench, "run")


def text_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], width: int = WIDTH, align: str | None = None
) -> str:
    """A plain table: the title wrapped at `width`, a header, a rule and the rows, two spaces between columns.
    `align`: one "l" or "r" per column (default: the first left, the others right). Nothing is cut: a column
    is as wide as its widest cell, so the caller keeps the cells short enough for `width`."""
    rows = [[str(c) for c in r] for r in rows]
    align = align or "l" + "r" * (len(columns) - 1)
    if len(align) != len(columns) or set(align) - {"l", "r"}:
        raise ValueError(f"text_table: align must be one 'l' or 'r' per column, got {align!r}")
    widths = [max(len(r[i]) for r in [list(columns), *rows]) for i in range(len(columns))]

    def line(cells):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    head = textwrap.wrap(title, width, break_on_hyphens=False)
    return "\n".join([*head, line(columns), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def _time_row(r: BenchResult) -> list:
    return [
        short_case(r),
        r.extra.get("n", ""),
        unit(r),
        format_time(r.ours_s),
        short_peer(r.peer),
        format_time(r.peer_s),
        format_speedup(r.ratio),
    ]


def summary_tables(results: Iterable[BenchResult], width: int = WIDTH) -> list[str]:
    """The tables `nextrl bench` prints: nextrl against other simulators, nextrl's vector envs against other env
    libraries, and the ablation (nextrl against itself and against its goals); empty tables are left out."""
    results = list(results)
    envs = [r for r in results if r.bench in ENV_BENCHES]
    quantum = [r for r in results if r.bench not in ENV_BENCHES and r.peer != NO_PEER]
    tables = []
    peers = [r for r in quantum if not is_ablation(r)]
    if peers:
        rows = [_time_row(r) for r in peers]
        tables.append(
            text_table(
                "Simulators: time per circuit, per sample (batched, time / batch size) or per call; "
                "speed-up = peer time / nextrl time (> 1: nextrl is faster)",
                ["case", "n", "per", "nextrl", "peer", "peer time", "speed-up"],
                rows,
                width,
                "lrlrlrr",
            )
        )
    if envs:
        rows = [
            [
                short_case(r),
                r.extra.get("num_envs", ""),
                r.extra.get("threads", ""),
                format_rate(r.extra.get("steps_per_s")),
                short_peer(r.peer),
                format_rate(r.extra.get("peer_steps_per_s")),
                format_speedup(r.ratio),
            ]
            for r in envs
        ]
        tables.append(
            text_table(
                "Vector envs: env steps per second summed over N envs (peers on 1 thread); "
                "speed-up = nextrl rate / peer rate",
                ["env", "N", "threads", "nextrl /s", "peer", "peer /s", "speed-up"],
                rows,
                width,
                "lrrrlrr",
            )
        )
    ablation = [r for r in quantum if is_ablation(r)]
    if ablation:
        rows = [_time_row(r) for r in ablation]
        tables.append(
            text_table(
                "Ablation: nextrl against itself (unfused: fusion off) and against its goals; "
                "ratio = that time / nextrl time (> 1: faster than it, goal met)",
                ["case", "n", "per", "nextrl", "against", "its time", "ratio"],
                rows,
                width,
                "lrlrlrr",
            )
        )
    return tables


# ----------------------------------------------------------------------------------------- load and files
HIGH_LOAD = 0.5
"""runnable processes of others, on average, above which a machine counts as busy (beyond the cores that
this run's threads leave free)"""


def others_load(load_1m: float, threads: int = 0) -> float:
    """The 1-minute load average less this run's own `threads` (busy while it measures), at least 0."""
    return max(load_1m - threads, 0.0)


def load_warning(load_1m: float, cores: int, threads: int = 0, *, own: int = 0) -> str | None:
    """A one-line warning when other processes compete with a measurement that uses `threads` of `cores`
    cores, or None. `load_1m` is the 1-minute load average and `own` the part of it that is this run's own
    (its threads while it was measuring; 0 before it starts). Busy: others' load > free cores + HIGH_LOAD."""
    if math.isnan(load_1m):
        return None
    others = others_load(load_1m, own)
    free = max(cores - threads, 0)
    if others <= free + HIGH_LOAD:
        return None
    return (
        f"the machine is busy: load {others:.1f} from other processes on {cores} cores while this run uses "
        f"{threads} thread{'s' if threads != 1 else ''}; times are slower and noisier than on an idle machine "
        "(ratios, measured round-robin, suffer less)"
    )


def default_out(name: str = "bench", root: str | os.PathLike = "runs") -> Path:
    """Where a run's JSON lines go unless told: `root/<name>-<YYYYmmdd-HHMMSS>.jsonl`, local time."""
    return Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"


__all__ = [
    "NO_PEER",
    "SCHEMA",
    "BenchResult",
    "Progress",
    "cpu_model",
    "default_out",
    "format_rate",
    "format_ratio",
    "format_speedup",
    "format_time",
    "git_commit",
    "interleaved",
    "is_ablation",
    "load",
    "load_warning",
    "machine_info",
    "measure",
    "per_call",
    "read_jsonl",
    "reduce_times",
    "result",
    "save_results",
    "short_case",
    "short_peer",
    "stamp",
    "summary_tables",
    "text_table",
    "time_once",
    "usable_cores",
    "version",
    "write_jsonl",
]
